//! Reductions and in-place updates for the stability controller, design.md §2 eq. 11
//! (seed 002 §4.2): the gradient norm ‖∇L‖ of an f32 gradient, the grid sums behind
//! ∫E dΩ, ∫|E| dΩ and ‖·‖_{L2(Ω)}, zeroing non-finite gradient entries, and scaling a
//! gradient in place.
//!
//! Sums are accumulated in f64. Determinism: a sum is split into at most `MAX_UNITS`
//! fixed ranges that depend only on the length, the range sums are added in index
//! order, so the value does not depend on the number of threads (only on the SIMD path,
//! through the order inside a range). An f32 squared in f64 is exact, so l2 norms differ
//! from the JS reference only by the order of the additions.
//!
//! The gradient functions also take f64 gradients (Float64Array parameters, docs/theory.md
//! "Float64 parameters"): the same code generic over [`Real`]; the AVX2 loops are f32's, f64
//! runs the scalar code ([`ReduceReal`]).

use crate::cpu::{simd_path, SimdPath};
use crate::parallel;
use crate::real::Real;

/// Elements from which helper threads are used.
const PARALLEL_MIN: usize = 1 << 18;
/// Smallest range of a split sum.
const MIN_UNIT: usize = 1 << 15;
/// Most ranges a sum is split into (their partial sums live on the stack).
const MAX_UNITS: usize = 64;

/// The fixed split of a length-n sum: (range length, number of ranges), a multiple of 16.
pub(crate) fn split(n: usize) -> (usize, usize) {
    let units = n.div_ceil(MIN_UNIT).clamp(1, MAX_UNITS);
    let chunk = n.div_ceil(units).next_multiple_of(16).max(16);
    (chunk, n.div_ceil(chunk).max(1))
}

/// Σ f(range) over the fixed split of `n` elements, ranges added in order.
pub(crate) fn split_sum<const K: usize>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
) -> [f64; K] {
    let (chunk, units) = split(n);
    let mut partial = [[0.0; K]; MAX_UNITS];
    let slots = &mut partial[..units];
    let fill = |u: usize, slot: &mut [[f64; K]]| {
        slot[0] = f(u * chunk..((u + 1) * chunk).min(n));
    };
    if n >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(slots, 1, fill);
    } else {
        for u in 0..units {
            fill(u, &mut slots[u..u + 1]);
        }
    }
    let mut total = [0.0; K];
    for p in slots.iter() {
        for k in 0..K {
            total[k] += p[k];
        }
    }
    total
}

/// [Σ x, Σ |x|, Σ x²].
pub fn grid_sums(x: &[f64]) -> [f64; 3] {
    grid_sums_on(simd_path(), x)
}

fn grid_sums_on(path: SimdPath, x: &[f64]) -> [f64; 3] {
    split_sum(x.len(), |r| match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::grid_sums(&x[r]) },
        _ => scalar::grid_sums(&x[r]),
    })
}

/// ‖x‖₂ accumulated in f64; NaN or +∞ when x holds a non-finite value.
pub fn l2_norm<T: ReduceReal>(x: &[T]) -> f64 {
    l2_norm_on(simd_path(), x)
}

fn l2_norm_on<T: ReduceReal>(path: SimdPath, x: &[T]) -> f64 {
    let [s] = split_sum(x.len(), |r| [T::sum_squares(path, &x[r])]);
    s.sqrt()
}

/// The paths a dtype's gradient reductions take: f32 has AVX2 loops; f64 runs the scalar
/// code on every path.
pub trait ReduceReal: Real {
    #[doc(hidden)]
    fn sum_squares(path: SimdPath, x: &[Self]) -> f64;
    #[doc(hidden)]
    fn zero_non_finite_range(path: SimdPath, x: &mut [Self]) -> usize;
    #[doc(hidden)]
    fn scale_range(path: SimdPath, x: &mut [Self], s: f64);
}

impl ReduceReal for f32 {
    fn sum_squares(path: SimdPath, x: &[f32]) -> f64 {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::sum_squares(x) },
            _ => scalar::sum_squares(x),
        }
    }

    fn zero_non_finite_range(path: SimdPath, x: &mut [f32]) -> usize {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::zero_non_finite(x) },
            _ => scalar::zero_non_finite(x),
        }
    }

    fn scale_range(path: SimdPath, x: &mut [f32], s: f64) {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::scale(x, s) },
            _ => scalar::scale(x, s),
        }
    }
}

impl ReduceReal for f64 {
    fn sum_squares(_: SimdPath, x: &[f64]) -> f64 {
        scalar::sum_squares(x)
    }

    fn zero_non_finite_range(_: SimdPath, x: &mut [f64]) -> usize {
        scalar::zero_non_finite(x)
    }

    fn scale_range(_: SimdPath, x: &mut [f64], s: f64) {
        scalar::scale(x, s)
    }
}

/// Sets every NaN and ±∞ to 0; returns how many were set. Finite values are not written,
/// so the usual (all finite) call only reads.
pub fn zero_non_finite<T: ReduceReal>(x: &mut [T]) -> usize {
    zero_non_finite_on(simd_path(), x)
}

fn zero_non_finite_on<T: ReduceReal>(path: SimdPath, x: &mut [T]) -> usize {
    let run = |c: &mut [T]| T::zero_non_finite_range(path, c);
    if x.len() < PARALLEL_MIN {
        return run(x);
    }
    let (chunk, units) = split(x.len());
    let mut counts = [0usize; MAX_UNITS];
    let base = SyncPtr(x.as_mut_ptr());
    let len = x.len();
    parallel::for_each_chunk_mut(&mut counts[..units], 1, |u, slot| {
        let start = u * chunk;
        let n = chunk.min(len - start);
        // SAFETY: each unit u is run once, ranges [u·chunk, u·chunk + n) are disjoint and
        // inside x, which stays mutably borrowed until for_each_chunk_mut returns.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
        slot[0] = run(piece);
    });
    counts[..units].iter().sum()
}

struct SyncPtr<T>(*mut T);
// SAFETY: only used to hand disjoint ranges of a `&mut [T]` to other threads.
unsafe impl<T> Sync for SyncPtr<T> {}
impl<T> SyncPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// x_i ← (x_i · s) rounded to x's dtype (the product in f64, as JS computes it).
pub fn scale_in_place<T: ReduceReal>(x: &mut [T], s: f64) {
    scale_in_place_on(simd_path(), x, s)
}

fn scale_in_place_on<T: ReduceReal>(path: SimdPath, x: &mut [T], s: f64) {
    let run = |c: &mut [T]| T::scale_range(path, c, s);
    if x.len() >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(x, MIN_UNIT, |_, c| run(c));
    } else {
        run(x);
    }
}

// ---------------------------------------------------------------------------------
// Scalar reference: index order, as the JS reference.

mod scalar {
    pub fn grid_sums(x: &[f64]) -> [f64; 3] {
        let (mut s, mut a, mut q) = (0.0, 0.0, 0.0);
        for &v in x {
            s += v;
            a += v.abs();
            q += v * v;
        }
        [s, a, q]
    }

    use crate::real::Real;

    pub fn sum_squares<T: Real>(x: &[T]) -> f64 {
        x.iter().map(|&v| v.to_f64() * v.to_f64()).sum()
    }

    pub fn zero_non_finite<T: Real>(x: &mut [T]) -> usize {
        let mut count = 0;
        for v in x.iter_mut().filter(|v| !v.is_finite()) {
            *v = T::ZERO;
            count += 1;
        }
        count
    }

    pub fn scale<T: Real>(x: &mut [T], s: f64) {
        for v in x {
            *v = T::from_f64(v.to_f64() * s);
        }
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 independent accumulators (16 values per step) to hide add latency.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::vmath::avx2::hsum;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce(a: [__m256d; 4]) -> f64 {
        hsum(_mm256_add_pd(
            _mm256_add_pd(a[0], a[1]),
            _mm256_add_pd(a[2], a[3]),
        ))
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn grid_sums(x: &[f64]) -> [f64; 3] {
        let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
        let (mut s, mut a, mut q) = (
            [_mm256_setzero_pd(); 4],
            [_mm256_setzero_pd(); 4],
            [_mm256_setzero_pd(); 4],
        );
        let mut blocks = x.chunks_exact(16);
        for b in &mut blocks {
            for u in 0..4 {
                // SAFETY: b has 16 values; this reads 4 of them.
                let v = _mm256_loadu_pd(b.as_ptr().add(4 * u));
                s[u] = _mm256_add_pd(s[u], v);
                a[u] = _mm256_add_pd(a[u], _mm256_and_pd(v, abs_mask));
                q[u] = _mm256_fmadd_pd(v, v, q[u]);
            }
        }
        let mut out = [reduce(s), reduce(a), reduce(q)];
        for &v in blocks.remainder() {
            out[0] += v;
            out[1] += v.abs();
            out[2] += v * v;
        }
        out
    }

    /// Σ x² with each f32 widened to f64.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sum_squares(x: &[f32]) -> f64 {
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut blocks = x.chunks_exact(16);
        for b in &mut blocks {
            for h in 0..2 {
                // SAFETY: b has 16 values; this reads 8 of them.
                let v = _mm256_loadu_ps(b.as_ptr().add(8 * h));
                let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
                acc[2 * h] = _mm256_fmadd_pd(lo, lo, acc[2 * h]);
                acc[2 * h + 1] = _mm256_fmadd_pd(hi, hi, acc[2 * h + 1]);
            }
        }
        let mut s = reduce(acc);
        for &v in blocks.remainder() {
            s += v as f64 * v as f64;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn zero_non_finite(x: &mut [f32]) -> usize {
        // Non-finite ⟺ all exponent bits set.
        let exp = _mm256_set1_epi32(0x7f80_0000);
        let mut count = 0usize;
        let mut blocks = x.chunks_exact_mut(8);
        for b in &mut blocks {
            // SAFETY: b has 8 values.
            let v = _mm256_loadu_si256(b.as_ptr() as *const __m256i);
            let bad = _mm256_cmpeq_epi32(_mm256_and_si256(v, exp), exp);
            let mask = _mm256_movemask_ps(_mm256_castsi256_ps(bad));
            if mask != 0 {
                count += mask.count_ones() as usize;
                _mm256_storeu_si256(b.as_mut_ptr() as *mut __m256i, _mm256_andnot_si256(bad, v));
            }
        }
        count + super::scalar::zero_non_finite(blocks.into_remainder())
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scale(x: &mut [f32], s: f64) {
        let sv = _mm256_set1_pd(s);
        let mut blocks = x.chunks_exact_mut(8);
        for b in &mut blocks {
            let p = b.as_mut_ptr();
            // SAFETY: b has 8 values.
            let v = _mm256_loadu_ps(p);
            let lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), sv));
            let hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)), sv));
            _mm256_storeu_ps(p, _mm256_set_m128(hi, lo));
        }
        super::scalar::scale(blocks.into_remainder(), s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s as f32 / u32::MAX as f32) * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn split_depends_only_on_length() {
        for n in [
            0,
            1,
            15,
            16,
            17,
            MIN_UNIT,
            MIN_UNIT + 1,
            1_000_000,
            64 * MIN_UNIT + 3,
            10_000_000,
        ] {
            let (chunk, units) = split(n);
            assert!((1..=MAX_UNITS).contains(&units) && chunk % 16 == 0, "n={n}");
            assert!(chunk * units >= n && (n == 0 || chunk * (units - 1) < n), "n={n}");
        }
    }

    /// Σ values with Neumaier's compensation: the "exact" sum the paths are held to.
    fn exact_sum(v: impl Iterator<Item = f64>) -> f64 {
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for x in v {
            let t = s + x;
            c += if s.abs() >= x.abs() {
                (s - t) + x
            } else {
                (x - t) + s
            };
            s = t;
        }
        s + c
    }

    #[test]
    fn simd_matches_scalar_and_the_definition() {
        // Tolerance: a sum of n positive terms in any order is within (n − 1)·ε relative
        // of the exact sum; Σ x is held to n·ε·Σ|x|.
        for n in [0, 1, 7, 15, 16, 17, 33, 1000, 100_003, 300_001] {
            let x = values(n, n as u32);
            let tol = (n.max(1) as f64) * f64::EPSILON;
            let exact = exact_sum(x.iter().map(|&v| v as f64 * v as f64));
            for path in [SimdPath::Scalar, best_path()] {
                let got = l2_norm_on(path, &x);
                assert!((got * got - exact).abs() <= (tol + 4e-16) * exact, "n={n}");
            }
            let g: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let abs = exact_sum(g.iter().map(|v| v.abs()));
            let sum = exact_sum(g.iter().copied());
            for path in [SimdPath::Scalar, best_path()] {
                let [s, a, q] = grid_sums_on(path, &g);
                assert!((s - sum).abs() <= tol * abs, "n={n}");
                assert!(
                    (a - abs).abs() <= tol * abs && (q - exact).abs() <= tol * exact,
                    "n={n}"
                );
            }
        }
    }

    #[test]
    fn non_finite_values() {
        let mut x = values(37, 3);
        x[0] = f32::NAN;
        x[9] = f32::INFINITY;
        x[36] = f32::NEG_INFINITY;
        assert!(l2_norm(&x).is_nan());
        x[0] = 1.0;
        assert_eq!(l2_norm(&x), f64::INFINITY);
        for path in [SimdPath::Scalar, best_path()] {
            let mut y = x.clone();
            y[20] = f32::NAN;
            assert_eq!(zero_non_finite_on(path, &mut y), 3);
            assert!(y.iter().all(|v| v.is_finite()));
            assert_eq!((y[9], y[20], y[36]), (0.0, 0.0, 0.0));
            assert_eq!(y[1], x[1]);
            assert_eq!(zero_non_finite_on(path, &mut y), 0);
        }
        let mut big = values(1_000_001, 4);
        for i in (0..big.len()).step_by(9999) {
            big[i] = f32::NAN;
        }
        assert_eq!(zero_non_finite(&mut big), 1_000_001usize.div_ceil(9999));
    }

    #[test]
    fn scale_matches_the_js_rounding_bitwise() {
        for n in [0, 1, 7, 8, 9, 1000, 300_001] {
            let x = values(n, 9);
            for s in [0.5, -1.0, 0.1, 1.0 / 3.0, 1e-30] {
                let want: Vec<f32> = x.iter().map(|&v| (v as f64 * s) as f32).collect();
                for path in [SimdPath::Scalar, best_path()] {
                    let mut y = x.clone();
                    scale_in_place_on(path, &mut y, s);
                    assert_eq!(y, want, "n={n} s={s}");
                }
            }
        }
    }

    #[test]
    fn sums_do_not_depend_on_threads() {
        // The split is fixed by the length; the parallel path must give the serial bits.
        let x = values(1_000_003, 5);
        let (chunk, units) = split(x.len());
        let serial: f64 = (0..units)
            .map(|u| {
                let r = u * chunk..((u + 1) * chunk).min(x.len());
                match simd_path() {
                    #[cfg(target_arch = "x86_64")]
                    SimdPath::Avx2Fma => unsafe { avx2::sum_squares(&x[r]) },
                    _ => scalar::sum_squares(&x[r]),
                }
            })
            .sum();
        assert_eq!(l2_norm(&x), serial.sqrt());
    }
}
