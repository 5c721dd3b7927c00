//! Dense f32 (or f64: nn layers in f64, docs/theory.md "Float64 parameters") matrix multiply
//! for the fractal layer (design.md §2 eq. 9) and the dense layers, BLAS-style:
//!
//!   C ← α·op(A)·op(B) + β·C,   op(X) = X or Xᵀ,
//!
//! every matrix row-major and densely packed: op(A) is m×k (A stored m×k, or k×m when
//! transposed), op(B) is k×n, C is m×n. β = 0 overwrites C without reading it (BLAS
//! convention: NaN in C is not propagated).
//!
//! The work is done by the `gemm` crate (sarah-quinones): packed panels, AVX2/FMA (or
//! AVX-512, NEON) micro-kernels chosen at run time, and rayon threads for large
//! products. Measured here against `matrixmultiply` 0.3 (threading feature) before
//! choosing: single thread 64³/256³/512³ about 80/85/88 GFLOP/s against 67/75/80, two
//! threads at 512³ about 160 against 140 (this VM's peak is 102 GFLOP/s per core).
//! Transposes cost nothing: they are expressed as strides.
//!
//! Accuracy: f32 products summed in f32 in a blocked order, so each entry is within
//! about k·2^-24·(|A|·|B|)_ij of the exact value (the tests use 2k·2^-24).

use crate::error::KernelError;
use crate::parallel::thread_count;
use crate::primes::format_number;
use crate::real::Real;
use crate::stop::{self, Completion, NEVER};
use std::sync::atomic::AtomicBool;

/// Products (m·n·k) from which the multiply runs on several threads (≈ 160³; about
/// 0.1 ms on one core, above the cost of waking the pool).
const PARALLEL_MIN_WORK: usize = 1 << 22;

/// Products (m·n·k) per row panel: a larger multiply runs as row panels of C, one `gemm`
/// call each, so that a stop flag can be checked between them (about 1–3 ms each here).
/// One panel for anything up to 512³, so those products are one `gemm` call as before.
const PANEL_WORK: usize = 1 << 27;
/// Fewest rows in a panel: each panel packs op(B) again, which costs about k·n loads and
/// stores against rows·k·n multiply-adds, under 2% of the time from 256 rows on.
const PANEL_MIN_ROWS: usize = 256;

/// Rows of C per panel for an m×n×k product (m when it is one panel). It depends on the
/// shape only, so every call of a shape (sync or async) sums each entry in one order.
fn panel_rows(m: usize, n: usize, k: usize) -> usize {
    let nk = n.saturating_mul(k).max(1);
    if m.saturating_mul(nk) <= PANEL_WORK {
        return m.max(1);
    }
    PANEL_WORK.div_ceil(nk).max(PANEL_MIN_ROWS).min(m)
}

/// The shape and scalars of one multiply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gemm<T = f32> {
    pub trans_a: bool,
    pub trans_b: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub beta: T,
}

fn length_error(name: &'static str, rows: usize, cols: usize, got: usize) -> KernelError {
    KernelError::new(
        name,
        format!("a {rows}×{cols} matrix (an array of length {})", rows * cols),
        format!("an array of length {got}"),
    )
}

impl<T: Real> Gemm<T> {
    /// Checks the scalars and that each array holds exactly its matrix.
    pub fn check(&self, a: &[T], b: &[T], c: &[T]) -> Result<(), KernelError> {
        self.check_inputs(a, b)?;
        if c.len() != self.m * self.n {
            return Err(length_error("c", self.m, self.n, c.len()));
        }
        Ok(())
    }

    /// [`Gemm::check`] less C: the scalars, that m·n, m·k and k·n elements fit in memory,
    /// and that `a` and `b` hold their matrices.
    pub fn check_inputs(&self, a: &[T], b: &[T]) -> Result<(), KernelError> {
        for (name, v) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !v.is_finite() {
                return Err(KernelError::new(
                    name,
                    "a finite number",
                    format_number(v.to_f64()),
                ));
            }
        }
        let Gemm { m, n, k, .. } = *self;
        let too_big = |x: usize, y: usize| x.checked_mul(y).is_none_or(|p| p > isize::MAX as usize / 4);
        if too_big(m, k) || too_big(k, n) || too_big(m, n) {
            return Err(KernelError::new(
                "m",
                "dimensions whose products fit in memory",
                format!("m={m}, n={n}, k={k}"),
            ));
        }
        let (ar, ac) = if self.trans_a { (k, m) } else { (m, k) };
        let (br, bc) = if self.trans_b { (n, k) } else { (k, n) };
        if a.len() != m * k {
            return Err(length_error("a", ar, ac, a.len()));
        }
        if b.len() != k * n {
            return Err(length_error("b", br, bc, b.len()));
        }
        Ok(())
    }
}

/// C ← α·op(A)·op(B) + β·C (see the module comment).
pub fn matmul<T: Real>(g: &Gemm<T>, a: &[T], b: &[T], c: &mut [T]) -> Result<(), KernelError> {
    matmul_until(g, a, b, c, &NEVER).map(|_| ())
}

/// [`matmul`], checking `stop` before each row panel of C ([`PANEL_WORK`] products):
/// `Stopped` leaves C partly written. With a flag never raised it is `matmul` itself.
pub fn matmul_until<T: Real>(
    g: &Gemm<T>,
    a: &[T],
    b: &[T],
    c: &mut [T],
    stop: &AtomicBool,
) -> Result<Completion, KernelError> {
    matmul_in_panels(g, a, b, c, stop, panel_rows(g.m, g.n, g.k))
}

/// [`matmul_until`] with `rows` rows of C per panel (tests force small panels).
fn matmul_in_panels<T: Real>(
    g: &Gemm<T>,
    a: &[T],
    b: &[T],
    c: &mut [T],
    stop: &AtomicBool,
    rows: usize,
) -> Result<Completion, KernelError> {
    g.check(a, b, c)?;
    let Gemm {
        m, n, k, alpha, beta, ..
    } = *g;
    if m == 0 || n == 0 {
        return Ok(Completion::Done);
    }
    if k == 0 || alpha == T::ZERO {
        // No product to add: C ← β·C (β = 0 clears it).
        for v in c.iter_mut() {
            *v = if beta == T::ZERO { T::ZERO } else { beta * *v };
        }
        return Ok(Completion::Done);
    }
    // Strides (in elements) of op(A)(i, p) and op(B)(p, j) in row-major storage.
    let (a_rs, a_cs) = if g.trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if g.trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let parallelism = if thread_count() > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_WORK {
        gemm::Parallelism::Rayon(thread_count())
    } else {
        gemm::Parallelism::None
    };
    let rows = rows.max(1);
    let mut i0 = 0;
    while i0 < m {
        if stop::raised(stop) {
            return Ok(Completion::Stopped);
        }
        let mr = rows.min(m - i0);
        // Row i0 of op(A): element i0·a_rs of `a`; row i0 of C: element i0·n.
        let a_start = i0 * a_rs as usize;
        // SAFETY: `check` proved each array holds its matrix under these strides, and rows
        // i0 .. i0 + mr of op(A) and C lie inside them (i0 + mr ≤ m); `c` is borrowed
        // mutably, so it cannot alias `a` or `b`. The crate's naming is swapped relative to
        // BLAS: dst ← alpha·dst + beta·lhs·rhs, with dst read only if asked.
        unsafe {
            gemm::gemm(
                mr,
                n,
                k,
                c.as_mut_ptr().add(i0 * n),
                1,
                n as isize,
                beta != T::ZERO,
                a.as_ptr().add(a_start),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                beta,
                alpha,
                false,
                false,
                false,
                parallelism,
            );
        }
        i0 += mr;
    }
    Ok(Completion::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// f64 reference and the |A|·|B| scale of the error bound.
    fn reference(g: &Gemm, a: &[f32], b: &[f32], c: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let Gemm { m, n, k, .. } = *g;
        let at = |i: usize, p: usize| if g.trans_a { a[p * m + i] } else { a[i * k + p] } as f64;
        let bt = |p: usize, j: usize| if g.trans_b { b[j * k + p] } else { b[p * n + j] } as f64;
        let mut out = vec![0.0; m * n];
        let mut scale = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut t) = (0.0, 0.0);
                for p in 0..k {
                    s += at(i, p) * bt(p, j);
                    t += (at(i, p) * bt(p, j)).abs();
                }
                let prior = if g.beta == 0.0 {
                    0.0
                } else {
                    g.beta as f64 * c[i * n + j] as f64
                };
                out[i * n + j] = g.alpha as f64 * s + prior;
                scale[i * n + j] = (g.alpha as f64).abs() * t + prior.abs();
            }
        }
        (out, scale)
    }

    #[test]
    fn agrees_with_f64_reference_for_every_transpose() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 9, 33),
            (64, 64, 64),
            (65, 130, 47),
            (200, 180, 170),
        ] {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                    let g = Gemm {
                        trans_a,
                        trans_b,
                        m,
                        n,
                        k,
                        alpha,
                        beta,
                    };
                    let a = data(m * k, 1);
                    let b = data(k * n, 2);
                    let c0 = data(m * n, 3);
                    let mut c = c0.clone();
                    matmul(&g, &a, &b, &mut c).unwrap();
                    let (want, scale) = reference(&g, &a, &b, &c0);
                    let tol = 2.0 * k as f64 * f32::EPSILON as f64 / 2.0;
                    for i in 0..m * n {
                        assert!(
                            (c[i] as f64 - want[i]).abs() <= tol * scale[i] + 1e-30,
                            "{g:?} at {i}: {} vs {}",
                            c[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn beta_zero_ignores_c_and_empty_shapes() {
        let g = Gemm {
            trans_a: false,
            trans_b: false,
            m: 2,
            n: 2,
            k: 1,
            alpha: 1.0,
            beta: 0.0,
        };
        let mut c = [f32::NAN; 4];
        matmul(&g, &[1.0, 2.0], &[3.0, 4.0], &mut c).unwrap();
        assert_eq!(c, [3.0, 4.0, 6.0, 8.0]);
        let g = Gemm { k: 0, beta: 2.0, ..g };
        matmul(&g, &[], &[], &mut c).unwrap();
        assert_eq!(c, [6.0, 8.0, 12.0, 16.0]);
        let g = Gemm { m: 0, ..g };
        matmul(&g, &[], &[], &mut []).unwrap();
    }

    #[test]
    fn errors_name_the_parameter() {
        let g = Gemm {
            trans_a: true,
            trans_b: false,
            m: 2,
            n: 3,
            k: 4,
            alpha: 1.0,
            beta: 0.0,
        };
        let (a, b, mut c) = (vec![0.0; 8], vec![0.0; 12], vec![0.0; 6]);
        assert!(matmul(&g, &a, &b, &mut c).is_ok());
        let e = matmul(&g, &a[..7], &b, &mut c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected a 4×2 matrix (an array of length 8) for a but received an array of length 7"
        );
        assert_eq!(matmul(&g, &a, &b[..11], &mut c).unwrap_err().param, "b");
        assert_eq!(matmul(&g, &a, &b, &mut c[..5]).unwrap_err().param, "c");
        let bad = Gemm { alpha: f32::NAN, ..g };
        assert_eq!(matmul(&bad, &a, &b, &mut c).unwrap_err().param, "alpha");
        let huge = Gemm {
            m: usize::MAX / 2,
            ..g
        };
        assert_eq!(matmul(&huge, &a, &b, &mut c).unwrap_err().param, "m");
    }

    #[test]
    fn panels_agree_with_the_reference_and_a_raised_flag_stops_before_any() {
        let (m, n, k) = (23, 9, 17);
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let g = Gemm {
                trans_a,
                trans_b,
                m,
                n,
                k,
                alpha: 0.5,
                beta: 0.25,
            };
            let (a, b, c0) = (data(m * k, 4), data(k * n, 5), data(m * n, 6));
            let (want, scale) = reference(&g, &a, &b, &c0);
            let tol = k as f64 * f32::EPSILON as f64;
            for rows in [1, 5, 7, 23, 40] {
                let mut c = c0.clone();
                let done = matmul_in_panels(&g, &a, &b, &mut c, &NEVER, rows).unwrap();
                assert_eq!(done, Completion::Done);
                for i in 0..m * n {
                    assert!(
                        (c[i] as f64 - want[i]).abs() <= tol * scale[i] + 1e-30,
                        "{g:?} rows {rows} at {i}"
                    );
                }
            }
            let raised = AtomicBool::new(true);
            let mut c = c0.clone();
            assert_eq!(
                matmul_until(&g, &a, &b, &mut c, &raised).unwrap(),
                Completion::Stopped
            );
            assert_eq!(c, c0, "no panel ran");
        }
    }

    #[test]
    fn panel_rows_split_only_large_products() {
        assert_eq!(panel_rows(512, 512, 512), 512);
        assert_eq!(panel_rows(0, 5, 5), 1);
        assert_eq!(panel_rows(1024, 1024, 1024), 256);
        assert_eq!(panel_rows(8192, 512, 512), 512);
        assert_eq!(panel_rows(300, 1 << 20, 1 << 10), 256);
        assert_eq!(panel_rows(100, 1 << 20, 1 << 10), 100);
    }
}
