//! The energy terms of one optimizer update, design.md §2 eq. 13 (seed 000 §3): the
//! meters of the entropy-balanced learning rate measure the work an update Δ = after −
//! before did on the parameters:
//!
//! - `[0]` Σ w_i Δ_i², twice the kinetic energy in the metric w_i = √s_i·scale + ε
//!   (Adam's denominator; the square root in f32, as Adam's), or w_i = 1 without a
//!   metric (SGD);
//! - `[1]` Σ g_i Δ_i, the gradient's work (−[1] is the first-order loss decrease);
//! - `[2]` Σ |g_i Δ_i|, the work counted per coordinate.
//!
//! Determinism: every term and sum is an f64 operation, unfused, in one canonical order
//! shared with the JS reference (lib/backends/js/balance.ts) and the C++ backend, so the
//! sums are bit-identical across backends, SIMD paths and thread counts: the fixed split
//! of [`crate::reduce::split`]; inside a range, element j of each full block of 16 goes
//! to accumulator j mod 16 (the AVX2 path's 4 registers × 4 lanes), combined as
//! t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}), then (t_0 + t_2) + (t_1 + t_3); the tail
//! in index order; the ranges in index order.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::real::Real;
use crate::reduce::split_sum;

/// The update's arrays: `metric` is empty (w = 1) or has the length of `after`.
#[derive(Clone, Copy)]
pub struct Update<'a, T = f32> {
    pub before: &'a [T],
    pub after: &'a [T],
    pub grads: &'a [T],
    pub metric: &'a [T],
    /// w_i = √metric_i (in the dtype) · metric_scale + epsilon.
    pub metric_scale: f64,
    pub epsilon: f64,
}

fn length<T: Real>(param: &'static str, want: usize, got: usize) -> Result<(), KernelError> {
    if want == got {
        return Ok(());
    }
    Err(KernelError::new(
        param,
        format!("a {} of length {want} (the length of before)", T::ARRAY),
        format!("an array of length {got}"),
    ))
}

/// [Σ w Δ², Σ g Δ, Σ |g Δ|] of the update (see the module comment).
pub fn update_energy<T: BalanceReal>(u: &Update<'_, T>) -> Result<[f64; 3], KernelError> {
    update_energy_on(simd_path(), u)
}

pub(crate) fn update_energy_on<T: BalanceReal>(
    path: SimdPath,
    u: &Update<'_, T>,
) -> Result<[f64; 3], KernelError> {
    let n = u.before.len();
    length::<T>("after", n, u.after.len())?;
    length::<T>("grads", n, u.grads.len())?;
    if !u.metric.is_empty() {
        length::<T>("metric", n, u.metric.len())?;
    }
    Ok(split_sum(n, |r| {
        let part = Update {
            before: &u.before[r.clone()],
            after: &u.after[r.clone()],
            grads: &u.grads[r.clone()],
            metric: if u.metric.is_empty() {
                u.metric
            } else {
                &u.metric[r]
            },
            ..*u
        };
        T::range_sums(path, &part)
    }))
}

/// The paths a dtype's update sums take over one range: f32 has AVX2 loops (4 registers ×
/// 4 lanes in the canonical order); f64 runs the scalar code on every path.
pub trait BalanceReal: Real {
    #[doc(hidden)]
    fn range_sums(path: SimdPath, u: &Update<'_, Self>) -> [f64; 3];
    #[doc(hidden)]
    fn range_slope(path: SimdPath, b: &[Self], a: &[Self], g: &[Self]) -> f64;
}

impl BalanceReal for f32 {
    fn range_sums(path: SimdPath, u: &Update<'_>) -> [f64; 3] {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::range_sums(u) },
            _ => scalar::range_sums(u),
        }
    }

    fn range_slope(path: SimdPath, b: &[f32], a: &[f32], g: &[f32]) -> f64 {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::range_slope(b, a, g) },
            _ => scalar::range_slope(b, a, g),
        }
    }
}

impl BalanceReal for f64 {
    fn range_sums(_: SimdPath, u: &Update<'_, f64>) -> [f64; 3] {
        scalar::range_sums(u)
    }

    fn range_slope(_: SimdPath, b: &[f64], a: &[f64], g: &[f64]) -> f64 {
        scalar::range_slope(b, a, g)
    }
}

/// Σ g Δ alone, over Δ = after − before: [`update_energy`]'s second sum bit for bit (the same
/// terms in the same canonical order), at about two thirds of its cost. The learning-rate
/// rules' end slope (lib/optim/rule.ts) reads only this sum. `metric`, `metric_scale` and
/// `epsilon` are not used.
pub fn update_slope<T: BalanceReal>(u: &Update<'_, T>) -> Result<f64, KernelError> {
    update_slope_on(simd_path(), u)
}

pub(crate) fn update_slope_on<T: BalanceReal>(path: SimdPath, u: &Update<'_, T>) -> Result<f64, KernelError> {
    let n = u.before.len();
    length::<T>("after", n, u.after.len())?;
    length::<T>("grads", n, u.grads.len())?;
    let [sum] = split_sum(n, |r| {
        let (b, a, g) = (&u.before[r.clone()], &u.after[r.clone()], &u.grads[r]);
        [T::range_slope(path, b, a, g)]
    });
    Ok(sum)
}

// ---------------------------------------------------------------------------------
// Scalar: the canonical order written out (16 accumulators per sum).

/// One element's terms [w Δ², g Δ, |g Δ|], Δ = after − before in f64.
#[inline]
pub(crate) fn element_terms<T: Real>(before: T, after: T, grad: T, w: f64) -> [f64; 3] {
    let d = after.to_f64() - before.to_f64();
    let p = grad.to_f64() * d;
    [w * (d * d), p, p.abs()]
}

/// The metric weight w = root · scale + ε of an element whose √ of the metric (in the dtype)
/// is `root`.
#[inline]
pub(crate) fn weight<T: Real>(root: T, scale: f64, epsilon: f64) -> f64 {
    root.to_f64() * scale + epsilon
}

/// The 16 accumulators per sum of one range's full blocks (element j of a block into j).
pub(crate) struct Acc16([[f64; 16]; 3]);

impl Acc16 {
    pub(crate) fn new() -> Self {
        Acc16([[0.0; 16]; 3])
    }

    #[inline]
    pub(crate) fn add(&mut self, j: usize, t: [f64; 3]) {
        for (a, t) in self.0.iter_mut().zip(t) {
            a[j] += t;
        }
    }

    /// Each sum's (t_0 + t_2) + (t_1 + t_3), t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}).
    pub(crate) fn combine(&self) -> [f64; 3] {
        self.0.map(|a| scalar::combine(&a))
    }
}

/// Adds one tail element's terms onto `out` (the tail is summed in index order).
#[inline]
pub(crate) fn add_terms(out: &mut [f64], t: [f64; 3]) {
    for (o, t) in out.iter_mut().zip(t) {
        *o += t;
    }
}

mod scalar {
    use super::{add_terms, element_terms, weight, Acc16, Update};
    use crate::real::Real;

    /// One element's terms [w Δ², g Δ, |g Δ|].
    #[inline]
    pub fn terms<T: Real>(u: &Update<'_, T>, i: usize) -> [f64; 3] {
        let w = if u.metric.is_empty() {
            1.0
        } else {
            weight(u.metric[i].sqrt(), u.metric_scale, u.epsilon)
        };
        element_terms(u.before[i], u.after[i], u.grads[i], w)
    }

    /// (t_0 + t_2) + (t_1 + t_3), t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}).
    pub fn combine(a: &[f64; 16]) -> f64 {
        let t = |l: usize| (a[l] + a[4 + l]) + (a[8 + l] + a[12 + l]);
        (t(0) + t(2)) + (t(1) + t(3))
    }

    /// The tail after the full blocks, in index order, onto `out`.
    pub fn tail<T: Real>(u: &Update<'_, T>, from: usize, out: &mut [f64; 3]) {
        for i in from..u.before.len() {
            add_terms(out, terms(u, i));
        }
    }

    /// One range's Σ g Δ in the canonical order (the second of range_sums' sums).
    pub fn range_slope<T: Real>(b: &[T], a: &[T], g: &[T]) -> f64 {
        let mut acc = [0.0f64; 16];
        let full = b.len() / 16 * 16;
        for i in 0..full {
            acc[i % 16] += g[i].to_f64() * (a[i].to_f64() - b[i].to_f64());
        }
        let mut out = combine(&acc);
        for i in full..b.len() {
            out += g[i].to_f64() * (a[i].to_f64() - b[i].to_f64());
        }
        out
    }

    pub fn range_sums<T: Real>(u: &Update<'_, T>) -> [f64; 3] {
        let mut acc = Acc16::new();
        let full = u.before.len() / 16 * 16;
        for b in (0..full).step_by(16) {
            for j in 0..16 {
                acc.add(j, terms(u, b + j));
            }
        }
        let mut out = acc.combine();
        tail(u, full, &mut out);
        out
    }
}

// ---------------------------------------------------------------------------------
// AVX2: 4 registers × 4 lanes per sum, element 4r + l of a block in register r lane l;
// separate multiplies and adds (no FMA) so the terms round as the scalar path's do.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{scalar, Update};
    use std::arch::x86_64::*;

    /// The accumulators of one range's full blocks: register r of each sum holds elements
    /// 4r … 4r + 3 of every block of 16.
    pub(crate) struct Sums4 {
        q: [__m256d; 4],
        p: [__m256d; 4],
        a: [__m256d; 4],
        scale: __m256d,
        eps: __m256d,
        abs_mask: __m256d,
    }

    impl Sums4 {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn new(metric_scale: f64, epsilon: f64) -> Self {
            Sums4 {
                q: [_mm256_setzero_pd(); 4],
                p: [_mm256_setzero_pd(); 4],
                a: [_mm256_setzero_pd(); 4],
                scale: _mm256_set1_pd(metric_scale),
                eps: _mm256_set1_pd(epsilon),
                abs_mask: _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)),
            }
        }

        /// Adds 4 elements' terms to register r: Δ = after − before, w = root·scale + ε
        /// (`root` the f32 √ of the metric) or 1 without one.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn add(
            &mut self,
            r: usize,
            before: __m128,
            after: __m128,
            grads: __m128,
            root: Option<__m128>,
        ) {
            let d = _mm256_sub_pd(_mm256_cvtps_pd(after), _mm256_cvtps_pd(before));
            let dd = _mm256_mul_pd(d, d);
            let wdd = match root {
                Some(s) => {
                    let w = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(s), self.scale), self.eps);
                    _mm256_mul_pd(w, dd)
                }
                None => dd,
            };
            let gd = _mm256_mul_pd(_mm256_cvtps_pd(grads), d);
            self.q[r] = _mm256_add_pd(self.q[r], wdd);
            self.p[r] = _mm256_add_pd(self.p[r], gd);
            self.a[r] = _mm256_add_pd(self.a[r], _mm256_and_pd(gd, self.abs_mask));
        }

        /// The three sums, each combined as the scalar path's 16 accumulators are.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn reduce(&self) -> [f64; 3] {
            [reduce(self.q), reduce(self.p), reduce(self.a)]
        }
    }

    /// (t_0 + t_2) + (t_1 + t_3) of t = (a_0 + a_1) + (a_2 + a_3).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce(a: [__m256d; 4]) -> f64 {
        let t = _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3]));
        let s = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd::<1>(t));
        _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
    }

    /// One range's Σ g Δ: the second sum of range_sums alone (the same registers and order).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; the arrays have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn range_slope(b: &[f32], a: &[f32], g: &[f32]) -> f64 {
        let n = b.len();
        let full = n / 16 * 16;
        let mut acc = [_mm256_setzero_pd(); 4];
        let (bp, ap, gp) = (b.as_ptr(), a.as_ptr(), g.as_ptr());
        let mut i = 0;
        while i < full {
            for (r, x) in acc.iter_mut().enumerate() {
                let at = i + 4 * r;
                // SAFETY: at + 4 <= full <= n for the three arrays.
                unsafe {
                    let d = _mm256_sub_pd(
                        _mm256_cvtps_pd(_mm_loadu_ps(ap.add(at))),
                        _mm256_cvtps_pd(_mm_loadu_ps(bp.add(at))),
                    );
                    *x = _mm256_add_pd(*x, _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(gp.add(at))), d));
                }
            }
            i += 16;
        }
        let mut out = reduce(acc);
        for i in full..n {
            out += g[i] as f64 * (a[i] as f64 - b[i] as f64);
        }
        out
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; the arrays have the lengths update_energy checks.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn range_sums(u: &Update<'_>) -> [f64; 3] {
        let n = u.before.len();
        let full = n / 16 * 16;
        let weighted = !u.metric.is_empty();
        let mut sums = Sums4::new(u.metric_scale, u.epsilon);
        let (bp, ap, gp, mp) = (
            u.before.as_ptr(),
            u.after.as_ptr(),
            u.grads.as_ptr(),
            u.metric.as_ptr(),
        );
        let mut i = 0;
        while i < full {
            for r in 0..4 {
                let at = i + 4 * r;
                // SAFETY: at + 4 <= full <= n for every array read (metric only when non-empty).
                unsafe {
                    // √ in f32 (4 lanes at a time: cheaper than f64's), then widened
                    let root = if weighted {
                        Some(_mm_sqrt_ps(_mm_loadu_ps(mp.add(at))))
                    } else {
                        None
                    };
                    sums.add(
                        r,
                        _mm_loadu_ps(bp.add(at)),
                        _mm_loadu_ps(ap.add(at)),
                        _mm_loadu_ps(gp.add(at)),
                        root,
                    );
                }
            }
            i += 16;
        }
        let mut out = sums.reduce();
        scalar::tail(u, full, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    fn values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                ((s as f32 / u32::MAX as f32) - 0.5) * scale
            })
            .collect()
    }

    /// The canonical order over a whole vector, written the plainest way: per range,
    /// 16 accumulators, combine, tail; ranges in order.
    fn canonical(u: &Update<'_>) -> [f64; 3] {
        let n = u.before.len();
        let (chunk, units) = crate::reduce::split(n);
        let mut total = [0.0; 3];
        for r in 0..units {
            let (s, e) = ((r * chunk).min(n), ((r + 1) * chunk).min(n));
            let mut acc = [[0.0f64; 16]; 3];
            let full = s + (e - s) / 16 * 16;
            for i in s..full {
                for (a, t) in acc.iter_mut().zip(scalar::terms(u, i)) {
                    a[(i - s) % 16] += t;
                }
            }
            let mut part = acc.map(|a| scalar::combine(&a));
            for i in full..e {
                for (p, t) in part.iter_mut().zip(scalar::terms(u, i)) {
                    *p += t;
                }
            }
            for (t, p) in total.iter_mut().zip(part) {
                *t += p;
            }
        }
        total
    }

    #[test]
    fn every_path_follows_the_canonical_order_bit_for_bit() {
        for n in [0, 1, 15, 16, 17, 31, 33, 1000, 40_001, 300_017] {
            let before = values(n, 1, 4.0);
            let after: Vec<f32> = before
                .iter()
                .zip(values(n, 2, 1e-2))
                .map(|(b, d)| b + d)
                .collect();
            let grads = values(n, 3, 10.0);
            let v: Vec<f32> = values(n, 4, 2.0).iter().map(|x| x * x).collect();
            for metric in [&[][..], &v[..]] {
                let u = Update {
                    before: &before,
                    after: &after,
                    grads: &grads,
                    metric,
                    metric_scale: 1.0 / 0.3,
                    epsilon: 1e-8,
                };
                let want = canonical(&u);
                for path in [SimdPath::Scalar, best_path()] {
                    let got = update_energy_on(path, &u).unwrap();
                    assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "n={n} {path:?}");
                    // the slope alone is the second sum, bit for bit
                    let slope = update_slope_on(path, &u).unwrap();
                    assert_eq!(slope.to_bits(), want[1].to_bits(), "slope n={n} {path:?}");
                }
            }
        }
    }

    #[test]
    fn sums_match_the_definition() {
        let before = [1.0f32, 2.0, -3.0];
        let after = [1.5f32, 1.0, -3.0];
        let grads = [2.0f32, 4.0, 7.0];
        let metric = [4.0f32, 0.0, 9.0];
        let u = Update {
            before: &before,
            after: &after,
            grads: &grads,
            metric: &[],
            metric_scale: 1.0,
            epsilon: 0.0,
        };
        // Δ = (0.5, −1, 0): Σ Δ² = 1.25, Σ gΔ = 1 − 4 = −3, Σ |gΔ| = 5
        assert_eq!(update_energy(&u).unwrap(), [1.25, -3.0, 5.0]);
        // w = (√4/2 + 0.5, 0 + 0.5, …) = (1.5, 0.5): Σ wΔ² = 0.375 + 0.5
        let w = Update {
            metric: &metric,
            metric_scale: 0.5,
            epsilon: 0.5,
            ..u
        };
        assert_eq!(update_energy(&w).unwrap(), [0.875, -3.0, 5.0]);
    }

    #[test]
    fn lengths_are_checked() {
        let x = [0.0f32; 4];
        let short = [0.0f32; 3];
        let u = Update {
            before: &x,
            after: &x,
            grads: &short,
            metric: &[],
            metric_scale: 1.0,
            epsilon: 0.0,
        };
        assert_eq!(update_slope(&u).unwrap_err().param, "grads");
        let e = update_energy(&u).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected a Float32Array of length 4 (the length of before) for grads but received an array of length 3"
        );
        let m = Update {
            grads: &x,
            metric: &short,
            ..u
        };
        assert_eq!(update_energy(&m).unwrap_err().param, "metric");
    }
}
