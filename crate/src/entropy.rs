//! Shannon entropy of a mass vector, the first term of the entropy feedback S(t)
//! (design.md §2 eq. 6, seed 002 §2.2), in bits:
//!
//!   H(P) = −Σ_i P_i log₂ P_i,  P_i = p_i / T,  T = Σ_j p_j,  0·log 0 = 0.
//!
//! One pass: with S = Σ p_i ln p_i, H = (ln T − S/T) / ln 2, so p is read once and
//! never normalized into a copy (a second pass at 2^600 scale only when T < 2^-600,
//! where p ln p would be subnormal). The absolute error is about ε·(|ln T| + log₂ n) bits
//! (the two terms are O(ln T) when the masses are large); a result that rounds below
//! 0 is returned as 0.
//!
//! Invalid input (a negative, NaN or infinite mass, a zero total, an empty vector)
//! gives NaN, and so do masses so large that T or S overflows: ln of a negative is NaN, and 0/0 for a zero total. The facade then finds
//! and names the bad entry, so the kernel does not spend a separate validation pass.
//!
//! Determinism: large inputs are summed in units whose boundaries depend only on the
//! length (at most 64 of them), each by one thread, and the unit sums are added in
//! order: the result does not depend on the number of threads.

use crate::cpu::{simd_path, SimdPath};
use crate::parallel;

/// Length from which helper threads are used.
const PARALLEL_MIN: usize = 1 << 16;
/// Smallest work unit, and the most units a call is split into.
const UNIT_MIN: usize = 1 << 14;
const MAX_UNITS: usize = 64;

/// H(p / Σp) in bits; NaN when p is empty or holds a negative or non-finite mass or
/// sums to 0.
pub fn shannon_entropy(p: &[f64]) -> f64 {
    shannon_entropy_on(simd_path(), p)
}

fn shannon_entropy_on(path: SimdPath, p: &[f64]) -> f64 {
    let (mut total, mut s) = pass(path, p, 1.0);
    if total > 0.0 && total < TINY_TOTAL {
        // All masses tiny: p·ln p would be subnormal and lose its bits. H is scale-free,
        // so sum (2^600·p) instead (exact scaling; this rare case reads p twice).
        (total, s) = pass(path, p, RESCALE);
    }
    let h = (total.ln() - s / total) / std::f64::consts::LN_2;
    if !h.is_finite() {
        // Also when S = Σ p ln p overflows (masses near f64::MAX): the facade rescales.
        return f64::NAN;
    }
    // Negative only by rounding.
    h.max(0.0)
}

/// Totals below this are summed again after scaling by RESCALE.
const TINY_TOTAL: f64 = 2.409_919_865_102_884_4e-181; // 2^-600
const RESCALE: f64 = 4.149_515_568_880_993e180; // 2^600

/// (Σ c·p_i, Σ c·p_i ln(c·p_i)), threaded for large inputs.
fn pass(path: SimdPath, p: &[f64], c: f64) -> (f64, f64) {
    if p.len() >= PARALLEL_MIN {
        let unit = p.len().div_ceil(MAX_UNITS).max(UNIT_MIN).next_multiple_of(8);
        let units = p.len().div_ceil(unit);
        let mut parts = [(0.0, 0.0); MAX_UNITS];
        parallel::for_each_chunk_mut(&mut parts[..units], 1, |u, slot| {
            let start = u * unit;
            slot[0] = sums(path, &p[start..(start + unit).min(p.len())], c);
        });
        parts[..units]
            .iter()
            .fold((0.0, 0.0), |(t, s), &(tu, su)| (t + tu, s + su))
    } else {
        sums(path, p, c)
    }
}

/// (Σ c·p_i, Σ c·p_i ln(c·p_i)) with 0·ln 0 = 0 (c = 1 skips the scaling).
fn sums(path: SimdPath, p: &[f64], c: f64) -> (f64, f64) {
    match (path, c == 1.0) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        (SimdPath::Avx2Fma, true) => unsafe { avx2::sums::<false>(p, 1.0) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (SimdPath::Avx2Fma, false) => unsafe { avx2::sums::<true>(p, c) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the Neon path is only chosen when the CPU reports neon.
        (SimdPath::Neon, _) => unsafe { neon::sums(p, c) },
        _ => sums_scalar(p, c),
    }
}

fn sums_scalar(p: &[f64], c: f64) -> (f64, f64) {
    let (mut total, mut s) = (0.0, 0.0);
    for &v in p {
        let v = v * c;
        total += v;
        if v != 0.0 {
            s += v * v.ln();
        }
    }
    (total, s)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::sums_scalar;
    use crate::vmath::avx2::{hsum, ln_with, Constants};
    use std::arch::x86_64::*;

    /// p·ln p with 0 where p = 0 (NaN for p < 0 stays).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn term(p: __m256d, k: &Constants) -> __m256d {
        let zero = _mm256_setzero_pd();
        let t = _mm256_mul_pd(p, ln_with(p, k));
        _mm256_blendv_pd(t, zero, _mm256_cmp_pd::<_CMP_EQ_OQ>(p, zero))
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sums<const SCALED: bool>(p: &[f64], c: f64) -> (f64, f64) {
        let n = p.len();
        let ptr = p.as_ptr();
        let cv = _mm256_set1_pd(c);
        // One set of vmath constants per call, kept in memory (see vmath::avx2::Constants).
        let k = std::hint::black_box(Constants::new());
        let load = |i: usize| {
            // SAFETY: callers pass i + 4 ≤ n.
            let v = unsafe { _mm256_loadu_pd(ptr.add(i)) };
            if SCALED {
                _mm256_mul_pd(v, cv)
            } else {
                v
            }
        };
        let mut t = [_mm256_setzero_pd(); 2];
        let mut s = [_mm256_setzero_pd(); 2];
        let mut i = 0;
        // Two independent vectors per step (the ln chains interleave).
        while i + 8 <= n {
            let (a, b) = (load(i), load(i + 4));
            t[0] = _mm256_add_pd(t[0], a);
            t[1] = _mm256_add_pd(t[1], b);
            s[0] = _mm256_add_pd(s[0], term(a, &k));
            s[1] = _mm256_add_pd(s[1], term(b, &k));
            i += 8;
        }
        if i + 4 <= n {
            let a = load(i);
            t[0] = _mm256_add_pd(t[0], a);
            s[0] = _mm256_add_pd(s[0], term(a, &k));
            i += 4;
        }
        let (tt, st) = sums_scalar(&p[i..], c);
        (
            hsum(_mm256_add_pd(t[0], t[1])) + tt,
            hsum(_mm256_add_pd(s[0], s[1])) + st,
        )
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::sums_scalar;
    use crate::vmath::neon::ln;
    use std::arch::aarch64::*;

    #[inline]
    #[target_feature(enable = "neon")]
    fn term(p: float64x2_t) -> float64x2_t {
        let zero = vdupq_n_f64(0.0);
        vbslq_f64(vceqq_f64(p, zero), zero, vmulq_f64(p, ln(p)))
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn sums(p: &[f64], c: f64) -> (f64, f64) {
        let n = p.len();
        let ptr = p.as_ptr();
        let cv = vdupq_n_f64(c);
        let mut t = [vdupq_n_f64(0.0); 2];
        let mut s = [vdupq_n_f64(0.0); 2];
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: i + 4 ≤ n.
            let (a, b) = unsafe {
                (
                    vmulq_f64(vld1q_f64(ptr.add(i)), cv),
                    vmulq_f64(vld1q_f64(ptr.add(i + 2)), cv),
                )
            };
            t[0] = vaddq_f64(t[0], a);
            t[1] = vaddq_f64(t[1], b);
            s[0] = vaddq_f64(s[0], term(a));
            s[1] = vaddq_f64(s[1], term(b));
            i += 4;
        }
        let (tt, st) = sums_scalar(&p[i..], c);
        (
            vaddvq_f64(vaddq_f64(t[0], t[1])) + tt,
            vaddvq_f64(vaddq_f64(s[0], s[1])) + st,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// Two-pass reference in the textbook form: −Σ q ln q / ln 2 with q = p/T.
    fn reference(p: &[f64]) -> f64 {
        let total: f64 = p.iter().sum();
        -p.iter()
            .filter(|&&v| v > 0.0)
            .map(|&v| (v / total) * (v / total).ln())
            .sum::<f64>()
            / std::f64::consts::LN_2
    }

    fn masses(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Some exact zeros, a spread of magnitudes.
                if i % 7 == 3 {
                    0.0
                } else {
                    ((s >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi((i % 5) as i32 - 2)
                }
            })
            .collect()
    }

    #[test]
    fn known_values() {
        for path in [SimdPath::Scalar, best_path()] {
            let h = |p: &[f64]| shannon_entropy_on(path, p);
            assert_eq!(h(&[1.0]), 0.0);
            assert_eq!(h(&[0.0, 5.0, 0.0]), 0.0);
            assert!((h(&[1.0, 1.0]) - 1.0).abs() < 1e-15);
            assert!((h(&[3.0; 8]) - 3.0).abs() < 1e-15, "uniform over 8 = 3 bits");
            assert!((h(&vec![0.25; 1 << 20]) - 20.0).abs() < 1e-12);
            // (½, ¼, ¼): 1.5 bits; scale does not matter.
            assert!((h(&[2.0, 1.0, 1.0]) - 1.5).abs() < 1e-15);
            // Masses far from 1 cost ε·|ln T| (ln T and S/T are both ≈ ±690 here).
            assert!((h(&[2e300, 1e300, 1e300]) - 1.5).abs() < 4.0 * f64::EPSILON * 692.0);
            assert!((h(&[2e-300, 1e-300, 1e-300]) - 1.5).abs() < 4.0 * f64::EPSILON * 692.0);
            // Subnormal masses: summed again at 2^600 scale, so still exact to ε.
            assert!(
                (h(&[2e-320, 1e-320, 1e-320]) - 1.5).abs() < 1e-3,
                "subnormal masses"
            );
            assert_eq!(h(&[3e-323, 0.0]), 0.0);
            // (ε·|ln T| at the rescaled total 2^600·8e-310 ≈ 3e-129: ≈ 7e-14 bits)
            assert!((h(&[4e-310, 4e-310]) - 1.0).abs() < 4.0 * f64::EPSILON * 296.0);
        }
    }

    #[test]
    fn simd_matches_scalar_and_reference() {
        // Tolerance: 1e-13 bits (summation order; ln within 2 ulp).
        let path = best_path();
        for len in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 1000, 70_001, 300_000] {
            let p = masses(len, len as u64);
            let a = shannon_entropy_on(SimdPath::Scalar, &p);
            let b = shannon_entropy_on(path, &p);
            let want = reference(&p);
            assert!(
                (a - want).abs() <= 1e-13 * want.max(1.0),
                "len={len}: {a} vs {want}"
            );
            assert!(
                (b - want).abs() <= 1e-13 * want.max(1.0),
                "len={len}: {b} vs {want}"
            );
        }
    }

    #[test]
    fn invalid_masses_give_nan() {
        for path in [SimdPath::Scalar, best_path()] {
            for bad in [-1.0, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in [0, 5, 12] {
                    let mut p = masses(13, 1);
                    p[at] = bad;
                    assert!(shannon_entropy_on(path, &p).is_nan(), "{bad} at {at}");
                }
            }
            assert!(shannon_entropy_on(path, &[]).is_nan());
            assert!(shannon_entropy_on(path, &[0.0; 9]).is_nan());
            assert_eq!(shannon_entropy_on(path, &[-0.0, 1.0]), 0.0);
            // S overflows (1e306·ln 1e306 > f64::MAX) while T does not: NaN, not −∞ or 0.
            assert!(shannon_entropy_on(path, &[1e306, 1.0]).is_nan());
        }
    }

    #[test]
    fn threaded_split_is_deterministic() {
        let p = masses(1 << 18, 9);
        let units_sum = {
            let unit = p.len().div_ceil(MAX_UNITS).max(UNIT_MIN).next_multiple_of(8);
            let (t, s) = p
                .chunks(unit)
                .map(|c| sums(simd_path(), c, 1.0))
                .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d));
            (t.ln() - s / t) / std::f64::consts::LN_2
        };
        assert_eq!(shannon_entropy(&p), units_sum);
    }
}
