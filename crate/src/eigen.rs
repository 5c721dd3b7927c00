//! Eigenvalues of a complex Hermitian matrix: the spectrum of a density matrix ρ, from
//! which the von Neumann entropy S(ρ) = −Tr ρ log ρ = −Σ λ log λ follows (design.md §2
//! eq. 15, seed 001 §3).
//!
//! Input: the d×d matrix A as separate real and imaginary parts, row-major. The kernel
//! works on the Hermitian part (A + A^H)/2 (so it reads both triangles, and a matrix
//! that is Hermitian up to rounding gives the eigenvalues of its nearest Hermitian
//! matrix). Output: the d eigenvalues in ascending order.
//!
//! Method (the LAPACK zhetrd + dsterf route, unblocked):
//! 1. Scale by a power of two (exact) so the largest |entry| is in [1, 2): no
//!    overflow or underflow for any finite input.
//! 2. Householder reduction to tridiagonal form: for k = 0..d−2, a reflector
//!    H = I − τ v v^H (τ real, H Hermitian and unitary) maps x = A[k+1.., k] to β e₁
//!    with β = −e^{i arg x₀}‖x‖, and the trailing block becomes H A H via
//!    y = τ A v, w = y − ½τ(v^H y) v, A ← A − v w^H − w v^H. The tridiagonal matrix has
//!    complex off-diagonals β_k; a diagonal unitary similarity makes them |β_k| = ‖x‖,
//!    so only the real symmetric tridiagonal (diag, ‖x‖²) is kept. 4d³ real FMAs; the
//!    matrix-vector (as row-wise y += conj(a_j)·v_j updates) and rank-2 row loops
//!    are the SIMD part.
//! 3. Reinsch's rational QL (root-free implicit QL with shifts, EISPACK tqlrat) on the
//!    tridiagonal matrix, eigenvalues only, O(d²), which leaves them sorted.
//! 4. Undo the scaling.
//!
//! Accuracy: backward stable; each eigenvalue is within a few d·ε·‖A‖ of the exact one
//! (absolute, not relative to the eigenvalue). Why not Jacobi: cyclic Jacobi costs
//! about 6–10 sweeps × 8d³ flops, 10× the Householder route, and its better relative
//! accuracy for tiny eigenvalues does not matter for −λ log λ, which is ≤ 4e-15 for
//! λ ≤ 1e-16.
//!
//! Non-finite input gives NaN eigenvalues (the facade validates first). Should QL not
//! converge in 60 iterations per eigenvalue (not seen for any finite input; it takes
//! about 2 per eigenvalue), the output is NaN too, never a hang.
//!
//! Scratch: 2d² + 5d doubles, kept per thread and reused for d ≤ 512 (4 MiB); a larger
//! call allocates its own (negligible next to its O(d³) work).

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use std::cell::RefCell;

/// The largest d accepted (the scratch is 2d² doubles: 256 MiB at 4096).
pub const MAX_DIMENSION: usize = 4096;
/// Scratch up to this d stays allocated per thread between calls.
const KEEP_SCRATCH_MAX: usize = 512;
/// A column below the diagonal with norm under this (after scaling to max |a| ∈ [1, 2))
/// is left as it is: the eigenvalues move by less than that.
const TINY: f64 = 1e-150;
/// QL iterations allowed per eigenvalue.
const MAX_QL_ITER: u32 = 60;

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Writes the d eigenvalues of the Hermitian part of A = re + i·im (d×d, row-major)
/// into `out`, ascending.
pub fn hermitian_eigenvalues(re: &[f64], im: &[f64], d: usize, out: &mut [f64]) -> Result<(), KernelError> {
    hermitian_eigenvalues_on(simd_path(), re, im, d, out)
}

/// Accepts d from JS as a double: a non-negative integer up to MAX_DIMENSION.
pub fn dimension_from_f64(v: f64) -> Result<usize, KernelError> {
    if v.is_finite() && v.fract() == 0.0 && (0.0..=MAX_DIMENSION as f64).contains(&v) {
        Ok(v as usize)
    } else {
        Err(KernelError::new(
            "d",
            format!("an integer in [0, {MAX_DIMENSION}]"),
            crate::primes::format_number(v),
        ))
    }
}

fn hermitian_eigenvalues_on(
    path: SimdPath,
    re: &[f64],
    im: &[f64],
    d: usize,
    out: &mut [f64],
) -> Result<(), KernelError> {
    if d > MAX_DIMENSION {
        return Err(KernelError::new(
            "d",
            format!("an integer in [0, {MAX_DIMENSION}]"),
            d.to_string(),
        ));
    }
    let dd = d * d;
    for (name, a) in [("re", re), ("im", im)] {
        if a.len() != dd {
            return Err(KernelError::new(
                name,
                format!("a d×d matrix of length {dd} (d = {d})"),
                format!("an array of length {}", a.len()),
            ));
        }
    }
    if out.len() != d {
        return Err(KernelError::new(
            "out",
            format!("an array of length {d} (d)"),
            format!("an array of length {}", out.len()),
        ));
    }
    if d == 0 {
        return Ok(());
    }
    let need = 2 * dd + 5 * d;
    if d <= KEEP_SCRATCH_MAX {
        SCRATCH.with(|cell| {
            let mut buf = cell.borrow_mut();
            if buf.len() < need {
                buf.resize(need, 0.0);
            }
            solve(path, re, im, d, out, &mut buf[..need]);
        });
    } else {
        let mut buf = Vec::new();
        buf.try_reserve_exact(need).map_err(|_| {
            KernelError::new(
                "d",
                format!("a dimension whose {need}-double scratch can be allocated"),
                d.to_string(),
            )
        })?;
        buf.resize(need, 0.0);
        solve(path, re, im, d, out, &mut buf);
    }
    Ok(())
}

fn solve(path: SimdPath, re: &[f64], im: &[f64], n: usize, out: &mut [f64], scratch: &mut [f64]) {
    let dd = n * n;
    // Scale: the largest |entry|, also the finiteness check.
    let max = re.iter().chain(im).fold(0.0f64, |m, v| m.max(v.abs()));
    if max == f64::INFINITY || re.iter().chain(im).any(|v| v.is_nan()) {
        out.fill(f64::NAN);
        return;
    }
    if max == 0.0 {
        out.fill(0.0);
        return;
    }
    let exponent = (max.log2().floor() as i32).clamp(-1000, 1000);
    let scale = 2f64.powi(-exponent);
    let half = 0.5 * scale;

    let (ar, rest) = scratch.split_at_mut(dd);
    let (ai, rest) = rest.split_at_mut(dd);
    let (vr, rest) = rest.split_at_mut(n);
    let (vi, rest) = rest.split_at_mut(n);
    let (yr, rest) = rest.split_at_mut(n);
    let (yi, e2) = rest.split_at_mut(n);

    // The Hermitian part, scaled (products by a power of two are exact).
    for i in 0..n {
        for j in 0..n {
            let (ij, ji) = (i * n + j, j * n + i);
            ar[ij] = re[ij] * half + re[ji] * half;
            ai[ij] = im[ij] * half - im[ji] * half;
        }
    }

    let diag = out;
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::tridiagonalize(n, ar, ai, diag, e2, vr, vi, yr, yi) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the Neon path is only chosen when the CPU reports neon.
        SimdPath::Neon => unsafe { neon::tridiagonalize(n, ar, ai, diag, e2, vr, vi, yr, yi) },
        // SAFETY: the scalar row operations need no CPU feature.
        _ => unsafe { tridiagonalize::<Scalar>(n, ar, ai, diag, e2, vr, vi, yr, yi) },
    }
    e2[n - 1] = 0.0;
    if !tridiagonal_eigenvalues(diag, e2) {
        diag.fill(f64::NAN);
        return;
    }
    let back = 2f64.powi(exponent);
    diag.iter_mut().for_each(|v| *v *= back);
}

/// The two row operations of the reduction, one implementation per path.
trait RowOps {
    /// y_l += conj(a_l)·v for every l: one row's share of y = A v (A Hermitian, so
    /// column j of A is conj(row j)). Accumulating whole rows into y needs no
    /// horizontal sums and has no long dependency chain, unlike a dot product per row.
    ///
    /// # Safety
    /// The path's CPU features must be present; all slices have one length.
    unsafe fn add_conj_row(ar: &[f64], ai: &[f64], v: (f64, f64), yr: &mut [f64], yi: &mut [f64]);

    /// a_j −= v_i·conj(w_j) + w_i·conj(v_j) for every j.
    ///
    /// # Safety
    /// As for `dot`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn rank2(
        ar: &mut [f64],
        ai: &mut [f64],
        v_i: (f64, f64),
        w_i: (f64, f64),
        vr: &[f64],
        vi: &[f64],
        wr: &[f64],
        wi: &[f64],
    );
}

/// Step 2 of the method (module doc): writes the diagonal into `diag` and the squared
/// off-diagonals ‖x‖² into `e2[..n−1]`; destroys `ar`, `ai`.
///
/// # Safety
/// K's CPU features must be present.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tridiagonalize<K: RowOps>(
    n: usize,
    ar: &mut [f64],
    ai: &mut [f64],
    diag: &mut [f64],
    e2: &mut [f64],
    vr: &mut [f64],
    vi: &mut [f64],
    yr: &mut [f64],
    yi: &mut [f64],
) {
    for k in 0..n - 1 {
        let m = n - k - 1;
        let off = k + 1;
        diag[k] = ar[k * n + k];
        // x = A[k+1.., k] = conj(A[k, k+1..]) (Hermitian): read row k, contiguous.
        let row = k * n + off;
        let mut x2 = 0.0;
        for j in 0..m {
            vr[j] = ar[row + j];
            vi[j] = -ai[row + j];
            x2 += vr[j] * vr[j] + vi[j] * vi[j];
        }
        let xnorm = x2.sqrt();
        e2[k] = x2;
        if xnorm <= TINY {
            continue;
        }
        // (sqrt, not hypot: entries are scaled to max |a| ∈ [1, 2); an underflowing a0
        // only drops the phase of an x₀ that is negligible next to ‖x‖ > TINY.)
        let a0 = (vr[0] * vr[0] + vi[0] * vi[0]).sqrt();
        let (pr, pi) = if a0 > 0.0 {
            (vr[0] / a0, vi[0] / a0)
        } else {
            (1.0, 0.0)
        };
        vr[0] += pr * xnorm;
        vi[0] += pi * xnorm;
        let tau = 1.0 / (xnorm * (xnorm + a0));
        // y = τ A v over the trailing block (row by row into y), and Re(v^H y).
        yr[..m].fill(0.0);
        yi[..m].fill(0.0);
        for j in 0..m {
            let r = (off + j) * n + off;
            // SAFETY: forwarded from the caller.
            unsafe {
                K::add_conj_row(
                    &ar[r..r + m],
                    &ai[r..r + m],
                    (vr[j], vi[j]),
                    &mut yr[..m],
                    &mut yi[..m],
                )
            };
        }
        let mut vhy = 0.0;
        for i in 0..m {
            yr[i] *= tau;
            yi[i] *= tau;
            vhy += vr[i] * yr[i] + vi[i] * yi[i];
        }
        // w = y − ½τ(v^H y)v, in y.
        let kk = 0.5 * tau * vhy;
        for i in 0..m {
            yr[i] -= kk * vr[i];
            yi[i] -= kk * vi[i];
        }
        for i in 0..m {
            let r = (off + i) * n + off;
            // SAFETY: forwarded from the caller.
            unsafe {
                K::rank2(
                    &mut ar[r..r + m],
                    &mut ai[r..r + m],
                    (vr[i], vi[i]),
                    (yr[i], yi[i]),
                    &vr[..m],
                    &vi[..m],
                    &yr[..m],
                    &yi[..m],
                )
            };
        }
    }
    diag[n - 1] = ar[n * n - 1];
}

/// Rational QL (Reinsch's root-free variant of implicit QL with shifts, CACM Algorithm
/// 464, 1973; EISPACK tqlrat): the eigenvalues of the symmetric tridiagonal matrix with
/// diagonal `d` and squared off-diagonals `e2` (e2[i] = T[i][i+1]², e2[n−1] = 0), left
/// in `d` in ascending order; `e2` is destroyed. False if an eigenvalue needed more than
/// MAX_QL_ITER iterations.
///
/// Working on the squares takes the square root out of the inner loop: each rotation
/// is three divisions on a short dependency chain (about 20 cycles), where the QL with
/// explicit rotations (tql1) chains a square root and two divisions (about 75 cycles
/// measured here). It is the QL part, O(d²) but scalar, that dominates at small d.
/// An off-diagonal is negligible when e2[m] ≤ (ε·t)², t the running max of
/// |d_l| + |e_l| (EISPACK's test, absolute at the scale of the matrix).
pub(crate) fn tridiagonal_eigenvalues(d: &mut [f64], e2: &mut [f64]) -> bool {
    let n = d.len();
    let (mut f, mut t, mut b, mut c) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for l in 0..n {
        let h = d[l].abs() + e2[l].sqrt();
        if t <= h {
            t = h;
            b = f64::EPSILON * t;
            c = b * b;
        }
        // The first negligible off-diagonal at or below l (e2[n−1] = 0 ends the search).
        let mut m = l;
        while e2[m] > c {
            m += 1;
        }
        let mut iter = 0;
        // (m == l: d[l] is already an eigenvalue.)
        if m != l {
            loop {
                if iter == MAX_QL_ITER {
                    return false;
                }
                iter += 1;
                // Shift by the eigenvalue of the leading 2×2 block nearer d[l].
                let s = e2[l].sqrt();
                let g = d[l];
                let p = (d[l + 1] - g) / (2.0 * s);
                let r = (p * p + 1.0).sqrt();
                d[l] = s / (p + r.copysign(p));
                let h = g - d[l];
                d[l + 1..].iter_mut().for_each(|v| *v -= h);
                f += h;
                // The rational QL sweep from m up to l.
                let mut g = if d[m] == 0.0 { b } else { d[m] };
                let mut h = g;
                let mut s = 0.0;
                for i in (l..m).rev() {
                    let p = g * h;
                    let r = p + e2[i];
                    e2[i + 1] = s * r;
                    s = e2[i] / r;
                    d[i + 1] = h + s * (h + d[i]);
                    g = d[i] - e2[i] / g;
                    if g == 0.0 {
                        g = b;
                    }
                    h = g * p / r;
                }
                e2[l] = s * g;
                d[l] = h;
                // Converged (with a guard against underflow in the test)?
                // (|e2|·|h| ≤ c rather than EISPACK's |e2| ≤ |c/h|: no division, and no
                // overflow at the scale the matrix was brought to.)
                if h == 0.0 || e2[l].abs() * h.abs() <= c {
                    break;
                }
                e2[l] *= h;
                if e2[l] == 0.0 {
                    break;
                }
            }
        }
        // d[..l] holds the eigenvalues found so far, sorted: insert this one.
        let p = d[l] + f;
        let mut i = l;
        while i > 0 && p < d[i - 1] {
            d[i] = d[i - 1];
            i -= 1;
        }
        d[i] = p;
    }
    true
}

// ---------------------------------------------------------------------------------
// Scalar reference row operations (the JS reference's order).

struct Scalar;

impl RowOps for Scalar {
    unsafe fn add_conj_row(ar: &[f64], ai: &[f64], v: (f64, f64), yr: &mut [f64], yi: &mut [f64]) {
        add_conj_row_scalar(ar, ai, v, yr, yi);
    }

    unsafe fn rank2(
        ar: &mut [f64],
        ai: &mut [f64],
        v_i: (f64, f64),
        w_i: (f64, f64),
        vr: &[f64],
        vi: &[f64],
        wr: &[f64],
        wi: &[f64],
    ) {
        rank2_scalar(ar, ai, v_i, w_i, vr, vi, wr, wi);
    }
}

// The scalar loops are also the SIMD paths' tails (the last m mod lanes elements), so a
// tail rounds exactly as the reference does. `#[inline(always)]`: inlined into the
// `#[target_feature]` callers, as the loops they replace were.

/// [`RowOps::add_conj_row`], element by element.
#[inline(always)]
fn add_conj_row_scalar(ar: &[f64], ai: &[f64], (vr, vi): (f64, f64), yr: &mut [f64], yi: &mut [f64]) {
    for l in 0..ar.len() {
        yr[l] += ar[l] * vr + ai[l] * vi;
        yi[l] += ar[l] * vi - ai[l] * vr;
    }
}

/// [`RowOps::rank2`], element by element.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rank2_scalar(
    ar: &mut [f64],
    ai: &mut [f64],
    (vri, vii): (f64, f64),
    (wri, wii): (f64, f64),
    vr: &[f64],
    vi: &[f64],
    wr: &[f64],
    wi: &[f64],
) {
    for j in 0..ar.len() {
        ar[j] -= vri * wr[j] + vii * wi[j] + (wri * vr[j] + wii * vi[j]);
        ai[j] -= vii * wr[j] - vri * wi[j] + (wii * vr[j] - wri * vi[j]);
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 lanes per row step.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::RowOps;
    use std::arch::x86_64::*;

    pub struct Avx2;

    impl RowOps for Avx2 {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn add_conj_row(ar: &[f64], ai: &[f64], (vr, vi): (f64, f64), yr: &mut [f64], yi: &mut [f64]) {
            let m = ar.len();
            let (par, pai, pyr, pyi) = (ar.as_ptr(), ai.as_ptr(), yr.as_mut_ptr(), yi.as_mut_ptr());
            let (svr, svi) = (_mm256_set1_pd(vr), _mm256_set1_pd(vi));
            let mut l = 0;
            while l + 4 <= m {
                // SAFETY: l + 4 ≤ m for all four slices (same length).
                unsafe {
                    let (a_r, a_i) = (_mm256_loadu_pd(par.add(l)), _mm256_loadu_pd(pai.add(l)));
                    let y_r =
                        _mm256_fmadd_pd(a_i, svi, _mm256_fmadd_pd(a_r, svr, _mm256_loadu_pd(pyr.add(l))));
                    let y_i =
                        _mm256_fnmadd_pd(a_i, svr, _mm256_fmadd_pd(a_r, svi, _mm256_loadu_pd(pyi.add(l))));
                    _mm256_storeu_pd(pyr.add(l), y_r);
                    _mm256_storeu_pd(pyi.add(l), y_i);
                }
                l += 4;
            }
            super::add_conj_row_scalar(&ar[l..], &ai[l..], (vr, vi), &mut yr[l..], &mut yi[l..]);
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn rank2(
            ar: &mut [f64],
            ai: &mut [f64],
            (vri, vii): (f64, f64),
            (wri, wii): (f64, f64),
            vr: &[f64],
            vi: &[f64],
            wr: &[f64],
            wi: &[f64],
        ) {
            let m = ar.len();
            let (par, pai) = (ar.as_mut_ptr(), ai.as_mut_ptr());
            let (pvr, pvi, pwr, pwi) = (vr.as_ptr(), vi.as_ptr(), wr.as_ptr(), wi.as_ptr());
            let (svr, svi, swr, swi) = (
                _mm256_set1_pd(vri),
                _mm256_set1_pd(vii),
                _mm256_set1_pd(wri),
                _mm256_set1_pd(wii),
            );
            let mut j = 0;
            while j + 4 <= m {
                // SAFETY: j + 4 ≤ m for all slices (same length).
                unsafe {
                    let (v_r, v_i, w_r, w_i) = (
                        _mm256_loadu_pd(pvr.add(j)),
                        _mm256_loadu_pd(pvi.add(j)),
                        _mm256_loadu_pd(pwr.add(j)),
                        _mm256_loadu_pd(pwi.add(j)),
                    );
                    let mut x = _mm256_loadu_pd(par.add(j));
                    x = _mm256_fnmadd_pd(svr, w_r, x);
                    x = _mm256_fnmadd_pd(svi, w_i, x);
                    x = _mm256_fnmadd_pd(swr, v_r, x);
                    x = _mm256_fnmadd_pd(swi, v_i, x);
                    _mm256_storeu_pd(par.add(j), x);
                    let mut y = _mm256_loadu_pd(pai.add(j));
                    y = _mm256_fnmadd_pd(svi, w_r, y);
                    y = _mm256_fmadd_pd(svr, w_i, y);
                    y = _mm256_fnmadd_pd(swi, v_r, y);
                    y = _mm256_fmadd_pd(swr, v_i, y);
                    _mm256_storeu_pd(pai.add(j), y);
                }
                j += 4;
            }
            super::rank2_scalar(
                &mut ar[j..],
                &mut ai[j..],
                (vri, vii),
                (wri, wii),
                &vr[j..],
                &vi[j..],
                &wr[j..],
                &wi[j..],
            );
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tridiagonalize(
        n: usize,
        ar: &mut [f64],
        ai: &mut [f64],
        diag: &mut [f64],
        e2: &mut [f64],
        vr: &mut [f64],
        vi: &mut [f64],
        yr: &mut [f64],
        yi: &mut [f64],
    ) {
        // SAFETY: this function's features are Avx2's.
        unsafe { super::tridiagonalize::<Avx2>(n, ar, ai, diag, e2, vr, vi, yr, yi) }
    }
}

// ---------------------------------------------------------------------------------
// NEON: 2 lanes per row step.

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::RowOps;
    use std::arch::aarch64::*;

    pub struct Neon;

    impl RowOps for Neon {
        #[inline]
        #[target_feature(enable = "neon")]
        unsafe fn add_conj_row(ar: &[f64], ai: &[f64], (vr, vi): (f64, f64), yr: &mut [f64], yi: &mut [f64]) {
            let m = ar.len();
            let (par, pai, pyr, pyi) = (ar.as_ptr(), ai.as_ptr(), yr.as_mut_ptr(), yi.as_mut_ptr());
            let (svr, svi) = (vdupq_n_f64(vr), vdupq_n_f64(vi));
            let mut l = 0;
            while l + 2 <= m {
                // SAFETY: l + 2 ≤ m for all four slices (same length).
                unsafe {
                    let (a_r, a_i) = (vld1q_f64(par.add(l)), vld1q_f64(pai.add(l)));
                    let y_r = vfmaq_f64(vfmaq_f64(vld1q_f64(pyr.add(l)), a_r, svr), a_i, svi);
                    let y_i = vfmsq_f64(vfmaq_f64(vld1q_f64(pyi.add(l)), a_r, svi), a_i, svr);
                    vst1q_f64(pyr.add(l), y_r);
                    vst1q_f64(pyi.add(l), y_i);
                }
                l += 2;
            }
            super::add_conj_row_scalar(&ar[l..], &ai[l..], (vr, vi), &mut yr[l..], &mut yi[l..]);
        }

        #[inline]
        #[target_feature(enable = "neon")]
        unsafe fn rank2(
            ar: &mut [f64],
            ai: &mut [f64],
            (vri, vii): (f64, f64),
            (wri, wii): (f64, f64),
            vr: &[f64],
            vi: &[f64],
            wr: &[f64],
            wi: &[f64],
        ) {
            let m = ar.len();
            let (par, pai) = (ar.as_mut_ptr(), ai.as_mut_ptr());
            let (pvr, pvi, pwr, pwi) = (vr.as_ptr(), vi.as_ptr(), wr.as_ptr(), wi.as_ptr());
            let (svr, svi, swr, swi) = (
                vdupq_n_f64(vri),
                vdupq_n_f64(vii),
                vdupq_n_f64(wri),
                vdupq_n_f64(wii),
            );
            let mut j = 0;
            while j + 2 <= m {
                // SAFETY: j + 2 ≤ m for all slices (same length).
                unsafe {
                    let (v_r, v_i, w_r, w_i) = (
                        vld1q_f64(pvr.add(j)),
                        vld1q_f64(pvi.add(j)),
                        vld1q_f64(pwr.add(j)),
                        vld1q_f64(pwi.add(j)),
                    );
                    let mut x = vld1q_f64(par.add(j));
                    x = vfmsq_f64(x, svr, w_r);
                    x = vfmsq_f64(x, svi, w_i);
                    x = vfmsq_f64(x, swr, v_r);
                    x = vfmsq_f64(x, swi, v_i);
                    vst1q_f64(par.add(j), x);
                    let mut y = vld1q_f64(pai.add(j));
                    y = vfmsq_f64(y, svi, w_r);
                    y = vfmaq_f64(y, svr, w_i);
                    y = vfmsq_f64(y, swi, v_r);
                    y = vfmaq_f64(y, swr, v_i);
                    vst1q_f64(pai.add(j), y);
                }
                j += 2;
            }
            super::rank2_scalar(
                &mut ar[j..],
                &mut ai[j..],
                (vri, vii),
                (wri, wii),
                &vr[j..],
                &vi[j..],
                &wr[j..],
                &wi[j..],
            );
        }
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tridiagonalize(
        n: usize,
        ar: &mut [f64],
        ai: &mut [f64],
        diag: &mut [f64],
        e2: &mut [f64],
        vr: &mut [f64],
        vi: &mut [f64],
        yr: &mut [f64],
        yi: &mut [f64],
    ) {
        // SAFETY: this function's features are Neon's.
        unsafe { super::tridiagonalize::<Neon>(n, ar, ai, diag, e2, vr, vi, yr, yi) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// Deterministic standard-normal-ish values (sum of uniforms), for test matrices.
    fn normals(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..len)
            .map(|_| (0..12).map(|_| uniform()).sum::<f64>() - 6.0)
            .collect()
    }

    /// A random Hermitian matrix (G + G^H)/2.
    fn hermitian(d: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let (gr, gi) = (normals(d * d, seed), normals(d * d, seed + 1));
        let mut re = vec![0.0; d * d];
        let mut im = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                re[i * d + j] = 0.5 * (gr[i * d + j] + gr[j * d + i]);
                im[i * d + j] = 0.5 * (gi[i * d + j] - gi[j * d + i]);
            }
        }
        (re, im)
    }

    /// Independent check: cyclic Jacobi on the real symmetric 2d×2d embedding
    /// [[A_r, −A_i], [A_i, A_r]], whose eigenvalues are A's, each twice.
    fn jacobi_embedding(re: &[f64], im: &[f64], d: usize) -> Vec<f64> {
        let n = 2 * d;
        let mut a = vec![0.0; n * n];
        for i in 0..d {
            for j in 0..d {
                let (r, m) = (re[i * d + j], im[i * d + j]);
                a[i * n + j] = r;
                a[(i + d) * n + j + d] = r;
                a[i * n + j + d] = -m;
                a[(i + d) * n + j] = m;
            }
        }
        for _sweep in 0..100 {
            let off: f64 = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| a[i * n + j].powi(2))
                .sum();
            if off < 1e-30 {
                break;
            }
            for p in 0..n {
                for q in p + 1..n {
                    let apq = a[p * n + q];
                    if apq == 0.0 {
                        continue;
                    }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let t = if theta == 0.0 { 1.0 } else { t };
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q]);
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for k in 0..n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                }
            }
        }
        let mut ev: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
        ev.sort_by(f64::total_cmp);
        (0..d).map(|i| 0.5 * (ev[2 * i] + ev[2 * i + 1])).collect()
    }

    fn eig(path: SimdPath, re: &[f64], im: &[f64], d: usize) -> Vec<f64> {
        let mut out = vec![f64::NAN; d];
        hermitian_eigenvalues_on(path, re, im, d, &mut out).unwrap();
        out
    }

    #[test]
    fn known_spectra() {
        for path in [SimdPath::Scalar, best_path()] {
            // Pauli Y: eigenvalues ±1.
            let ev = eig(path, &[0.0, 0.0, 0.0, 0.0], &[0.0, -1.0, 1.0, 0.0], 2);
            assert!(
                (ev[0] + 1.0).abs() < 4e-16 && (ev[1] - 1.0).abs() < 4e-16,
                "{ev:?}"
            );
            // Diagonal, unsorted.
            let ev = eig(
                path,
                &[3.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 2.0],
                &[0.0; 9],
                3,
            );
            assert_eq!(ev, [-1.0, 2.0, 3.0]);
            // [[2, 1 − i], [1 + i, 3]]: trace 5, det 4 → 1 and 4.
            let ev = eig(path, &[2.0, 1.0, 1.0, 3.0], &[0.0, -1.0, 1.0, 0.0], 2);
            assert!(
                (ev[0] - 1.0).abs() < 1e-15 && (ev[1] - 4.0).abs() < 1e-15,
                "{ev:?}"
            );
            assert_eq!(eig(path, &[5.0], &[0.0], 1), [5.0]);
            assert_eq!(eig(path, &[0.0; 16], &[0.0; 16], 4), [0.0; 4]);
            // Maximally mixed state I/d.
            let d = 7;
            let mut re = vec![0.0; d * d];
            (0..d).for_each(|i| re[i * d + i] = 1.0 / d as f64);
            for v in eig(path, &re, &vec![0.0; d * d], d) {
                assert!((v - 1.0 / d as f64).abs() < 1e-16);
            }
        }
    }

    #[test]
    fn matches_jacobi_on_the_real_embedding() {
        // Tolerance: 1e-13·‖A‖_max·d (backward stable, absolute).
        for path in [SimdPath::Scalar, best_path()] {
            for d in [2, 3, 4, 5, 7, 8, 9, 16, 17, 33] {
                let (re, im) = hermitian(d, d as u64);
                let want = jacobi_embedding(&re, &im, d);
                let got = eig(path, &re, &im, d);
                let norm = re.iter().chain(&im).fold(0.0f64, |m, v| m.max(v.abs()));
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-13 * norm * d as f64,
                        "{path:?} d={d}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_matches_scalar_and_scaling_is_exact() {
        let path = best_path();
        for d in [1, 2, 5, 16, 64, 100] {
            let (re, im) = hermitian(d, 100 + d as u64);
            let a = eig(SimdPath::Scalar, &re, &im, d);
            let b = eig(path, &re, &im, d);
            let norm = re.iter().chain(&im).fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-13 * norm * d as f64, "d={d}: {x} vs {y}");
            }
            // Scaling by 2^±900 scales the spectrum exactly (the kernel rescales by
            // powers of two itself), so no overflow or underflow.
            for k in [900, -900] {
                let s = 2f64.powi(k);
                let (rs, is): (Vec<f64>, Vec<f64>) = (
                    re.iter().map(|v| v * s).collect(),
                    im.iter().map(|v| v * s).collect(),
                );
                let c = eig(path, &rs, &is, d);
                for (x, y) in b.iter().zip(&c) {
                    assert_eq!(x * s, *y, "d={d} k={k}");
                }
            }
        }
    }

    #[test]
    fn rational_ql_on_known_tridiagonal_spectra() {
        // T = tridiag(−1, 2, −1): λ_k = 2 − 2cos(kπ/(n+1)).
        for n in [1, 2, 3, 10, 100] {
            let mut d = vec![2.0; n];
            let mut e2 = vec![1.0; n];
            e2[n - 1] = 0.0;
            assert!(tridiagonal_eigenvalues(&mut d, &mut e2));
            for (k, &v) in d.iter().enumerate() {
                let want = 2.0 - 2.0 * ((k + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
                assert!(
                    (v - want).abs() < 1e-14 * 4.0 * n as f64,
                    "n={n} k={k}: {v} vs {want}"
                );
            }
        }
        // Wilkinson's W21+ (d = |10 − i|, e = 1): its two largest eigenvalues agree to
        // 14 digits (10.746194182903393 and …322), a test of close pairs.
        let mut d: Vec<f64> = (0..21).map(|i| (10.0 - i as f64).abs()).collect();
        let mut e2 = vec![1.0; 21];
        e2[20] = 0.0;
        assert!(tridiagonal_eigenvalues(&mut d, &mut e2));
        assert!(
            (d[20] - 10.746_194_182_903_393).abs() < 1e-13 && (d[19] - 10.746_194_182_903_322).abs() < 1e-13,
            "{d:?}"
        );
        assert!(d.windows(2).all(|w| w[0] <= w[1]));
        // Already diagonal (e = 0), unsorted input and repeated values come out sorted.
        let mut d = vec![3.0, -1.0, 3.0, 0.0, -5.0];
        let mut e2 = vec![0.0; 5];
        assert!(tridiagonal_eigenvalues(&mut d, &mut e2));
        assert_eq!(d, [-5.0, -1.0, 0.0, 3.0, 3.0]);
    }

    #[test]
    fn uses_the_hermitian_part() {
        // A non-Hermitian input is read as (A + A^H)/2.
        let path = best_path();
        let ev = eig(path, &[1.0, 4.0, 0.0, 1.0], &[0.5, 0.0, 0.0, -0.5], 2);
        // (A + A^H)/2 = [[1, 2], [2, 1]]: eigenvalues −1 and 3.
        assert!(
            (ev[0] + 1.0).abs() < 1e-15 && (ev[1] - 3.0).abs() < 1e-15,
            "{ev:?}"
        );
    }

    #[test]
    fn non_finite_input_gives_nan_and_scratch_is_reused() {
        for path in [SimdPath::Scalar, best_path()] {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let (mut re, im) = hermitian(4, 5);
                re[6] = bad;
                assert!(eig(path, &re, &im, 4).iter().all(|v| v.is_nan()));
                let (re, mut im) = hermitian(4, 5);
                im[3] = bad;
                assert!(eig(path, &re, &im, 4).iter().all(|v| v.is_nan()));
            }
        }
        // A larger then a smaller call on the same thread: the kept scratch is reused.
        let (re, im) = hermitian(40, 1);
        let first = eig(best_path(), &re, &im, 40);
        let (r2, i2) = hermitian(3, 2);
        eig(best_path(), &r2, &i2, 3);
        assert_eq!(eig(best_path(), &re, &im, 40), first);
    }

    #[test]
    fn large_dimension_uses_its_own_scratch() {
        let d = KEEP_SCRATCH_MAX + 3;
        let mut re = vec![0.0; d * d];
        (0..d).for_each(|i| re[i * d + i] = i as f64);
        let ev = eig(best_path(), &re, &vec![0.0; d * d], d);
        assert!(ev.iter().enumerate().all(|(i, &v)| v == i as f64));
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut out = [0.0; 2];
        let e = hermitian_eigenvalues(&[0.0; 3], &[0.0; 4], 2, &mut out).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected a d×d matrix of length 4 (d = 2) for re but received an array of length 3"
        );
        assert_eq!(
            hermitian_eigenvalues(&[0.0; 4], &[0.0; 5], 2, &mut out)
                .unwrap_err()
                .param,
            "im"
        );
        assert_eq!(
            hermitian_eigenvalues(&[0.0; 4], &[0.0; 4], 2, &mut [0.0; 3])
                .unwrap_err()
                .param,
            "out"
        );
        assert_eq!(dimension_from_f64(2.5).unwrap_err().param, "d");
        assert_eq!(dimension_from_f64(-1.0).unwrap_err().param, "d");
        assert_eq!(dimension_from_f64(4097.0).unwrap_err().param, "d");
        assert_eq!(dimension_from_f64(16.0).unwrap(), 16);
        hermitian_eigenvalues(&[], &[], 0, &mut []).unwrap();
    }
}
