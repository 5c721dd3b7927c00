//! Local energy, design.md §2 eq. 3, batched over many r:
//!
//!   out_i = Σ_{n=1}^{N} cos(2π r_i / p_n) / (r_i² + p_n²)
//!
//! The cosine is evaluated without a libm call, the same way on every path:
//! t = r·(1/p_n) is the phase in turns; f = t − round(t) ∈ [−½, ½] removes whole turns
//! (exactly, by Sterbenz); with h = ¼ − |f| ∈ [−¼, ¼], cos(2πf) = sin(2πh), and
//! sin(2πh) = h·P(h²) with the odd Taylor series through h^19 (truncation error
//! ≤ (π/2)^21/21! ≈ 2.5e-16 on that range). P(u) = E(u²) + u·O(u²) (second-order
//! Horner): two independent chains half as long, measured 5–15% faster than plain
//! Horner here (chain latency, not the FMA count, limits the throughput). The SIMD
//! paths use FMA where the scalar path rounds twice, so they agree to about
//! 1e-15 relative per term.
//!
//! Layout of the work: r in blocks (16 values on AVX2 = 4 independent 4-lane vectors,
//! so the polynomial chains interleave), primes in the inner loop (one broadcast of
//! 1/p_n and p_n² serves the whole block), and the sum over n in index order like the
//! JS reference. Each out_i depends only on r_i, so splitting r across threads does
//! not change any result.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::parallel;
use crate::primes::{check_prime_count, prime_table};
use crate::stop::{self, Completion, NEVER};
use std::sync::atomic::AtomicBool;

/// Coefficients c_k = (−1)^k (2π)^{2k+1} / (2k+1)! of sin(2πh) = Σ c_k h^{2k+1},
/// k = 0..9, correctly rounded (checked against a const-evaluated series in tests).
const SIN_TURN: [f64; 10] = [
    std::f64::consts::TAU,
    -41.34170224039976,
    81.60524927607506,
    -76.70585975306139,
    42.058693944897655,
    -15.09464257682299,
    3.819952584848282,
    -0.7181223017785006,
    0.10422916220813984,
    -0.012031585942120627,
];

/// Work (r.len() · N term evaluations) from which helper threads are used.
const PARALLEL_MIN_TERMS: usize = 1 << 18;
/// Terms per parallel work unit.
const UNIT_TERMS: usize = 1 << 14;

/// Computes eq. 3 for every r_i into `out` (same length). `prime_count` = 0 gives zeros.
/// Non-finite r gives NaN in that slot, never a panic.
pub fn local_energy(r: &[f64], prime_count: usize, out: &mut [f64]) -> Result<(), KernelError> {
    local_energy_on(simd_path(), r, prime_count, out, &NEVER).map(|_| ())
}

/// [`local_energy`], checking `stop` before each parallel work unit (about 2^14 terms;
/// a call under 2^18 terms is one serial unit): `Stopped` leaves `out` partly written.
/// Which units run never changes a value, so a completed call is `local_energy`'s result.
pub fn local_energy_until(
    r: &[f64],
    prime_count: usize,
    out: &mut [f64],
    stop: &AtomicBool,
) -> Result<Completion, KernelError> {
    local_energy_on(simd_path(), r, prime_count, out, stop)
}

fn local_energy_on(
    path: SimdPath,
    r: &[f64],
    prime_count: usize,
    out: &mut [f64],
    stop: &AtomicBool,
) -> Result<Completion, KernelError> {
    if out.len() != r.len() {
        return Err(KernelError::new(
            "out",
            format!("an array of length {} (the length of r)", r.len()),
            format!("an array of length {}", out.len()),
        ));
    }
    check_prime_count(prime_count)?;
    if prime_count == 0 {
        out.fill(0.0);
        return Ok(Completion::Done);
    }
    let table = prime_table(prime_count)?;
    let inv_p = &table.inv_p[..prime_count];
    let p_sq = &table.p_sq[..prime_count];

    if r.len().saturating_mul(prime_count) >= PARALLEL_MIN_TERMS {
        // Units of about 2^14 terms (tens of µs), a multiple of the widest block so
        // only the last unit has a partial block.
        let chunk = (UNIT_TERMS / prime_count).div_ceil(BLOCK_MAX).max(1) * BLOCK_MAX;
        parallel::for_each_chunk_mut(out, chunk, |u, oc| {
            if stop::raised(stop) {
                return;
            }
            let start = u * chunk;
            local_energy_serial(path, &r[start..start + oc.len()], inv_p, p_sq, oc);
        });
    } else {
        local_energy_serial(path, r, inv_p, p_sq, out);
    }
    // A flag raised after the last unit also reports Stopped: the caller discards the
    // output either way, having asked to stop.
    Ok(if stop::raised(stop) {
        Completion::Stopped
    } else {
        Completion::Done
    })
}

/// Widest block of r any path processes at once (AVX2: 4 vectors × 4 lanes).
const BLOCK_MAX: usize = 16;

/// Dispatcher: one thread, one contiguous range of r.
fn local_energy_serial(path: SimdPath, r: &[f64], inv_p: &[f64], p_sq: &[f64], out: &mut [f64]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::local_energy(r, inv_p, p_sq, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the Neon path is only chosen when the CPU reports neon.
        SimdPath::Neon => unsafe { neon::local_energy(r, inv_p, p_sq, out) },
        _ => local_energy_scalar(r, inv_p, p_sq, out),
    }
}

// ---------------------------------------------------------------------------------
// Scalar reference.

/// One term of eq. 3: cos(2π r/p) / (r² + p²), given r² and the prime's 1/p and p².
#[inline(always)]
fn term_scalar(r: f64, r_sq: f64, inv_p: f64, p_sq: f64) -> f64 {
    let t = r * inv_p;
    let f = t - t.round_ties_even();
    let h = 0.25 - f.abs();
    let h2 = h * h;
    let h4 = h2 * h2;
    let (mut even, mut odd) = (SIN_TURN[8], SIN_TURN[9]);
    for k in (0..4).rev() {
        even = even * h4 + SIN_TURN[2 * k];
        odd = odd * h4 + SIN_TURN[2 * k + 1];
    }
    h * (odd * h2 + even) / (r_sq + p_sq)
}

/// Scalar path: same math as the SIMD paths, without FMA.
pub fn local_energy_scalar(r: &[f64], inv_p: &[f64], p_sq: &[f64], out: &mut [f64]) {
    for (&ri, o) in r.iter().zip(out.iter_mut()) {
        let r_sq = ri * ri;
        let mut acc = 0.0;
        for (&ip, &ps) in inv_p.iter().zip(p_sq) {
            acc += term_scalar(ri, r_sq, ip, ps);
        }
        *o = acc;
    }
}

/// Runs `block` over r and out in BLOCK-long pieces; the tail is padded with zeros on
/// the stack so it runs the same code as full blocks (same results). Shared by the SIMD paths.
#[allow(dead_code)] // unused on targets with no SIMD path
#[inline]
fn for_each_block<const BLOCK: usize>(
    r: &[f64],
    out: &mut [f64],
    mut block: impl FnMut(&[f64; BLOCK], &mut [f64; BLOCK]),
) {
    let mut rc = r.chunks_exact(BLOCK);
    let mut oc = out.chunks_exact_mut(BLOCK);
    for (rb, ob) in (&mut rc).zip(&mut oc) {
        block(rb.try_into().unwrap(), ob.try_into().unwrap());
    }
    let (rt, ot) = (rc.remainder(), oc.into_remainder());
    if !rt.is_empty() {
        let mut rb = [0.0; BLOCK];
        let mut ob = [0.0; BLOCK];
        rb[..rt.len()].copy_from_slice(rt);
        block(&rb, &mut ob);
        ot.copy_from_slice(&ob[..rt.len()]);
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 lanes × 4 independent vectors per block.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::SIN_TURN;
    use std::arch::x86_64::*;

    const LANES: usize = 4;
    const VECS: usize = 4;
    const BLOCK: usize = LANES * VECS;

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn local_energy(r: &[f64], inv_p: &[f64], p_sq: &[f64], out: &mut [f64]) {
        // the closure inherits this function's target features, so `block` is safe to call
        super::for_each_block::<BLOCK>(r, out, |rb, ob| block(rb, inv_p, p_sq, ob));
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn block(r: &[f64; BLOCK], inv_p: &[f64], p_sq: &[f64], out: &mut [f64; BLOCK]) {
        // SAFETY: each load reads LANES values inside the BLOCK-long array.
        let rv: [__m256d; VECS] =
            std::array::from_fn(|v| unsafe { _mm256_loadu_pd(r.as_ptr().add(v * LANES)) });
        let r_sq: [__m256d; VECS] = std::array::from_fn(|v| _mm256_mul_pd(rv[v], rv[v]));
        let mut acc = [_mm256_setzero_pd(); VECS];
        for (&ip, &ps) in inv_p.iter().zip(p_sq) {
            let ip = _mm256_set1_pd(ip);
            let ps = _mm256_set1_pd(ps);
            for v in 0..VECS {
                acc[v] = _mm256_add_pd(acc[v], term(rv[v], r_sq[v], ip, ps));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            // SAFETY: each store writes LANES values inside the BLOCK-long array.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(v * LANES), *a) };
        }
    }

    /// Four terms of eq. 3 (see the module comment for the reduction).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn term(r: __m256d, r_sq: __m256d, inv_p: __m256d, p_sq: __m256d) -> __m256d {
        let t = _mm256_mul_pd(r, inv_p);
        let f = _mm256_sub_pd(
            t,
            _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t),
        );
        let g = _mm256_andnot_pd(_mm256_set1_pd(-0.0), f); // |f|
        let h = _mm256_sub_pd(_mm256_set1_pd(0.25), g);
        let h2 = _mm256_mul_pd(h, h);
        let h4 = _mm256_mul_pd(h2, h2);
        let c = |k: usize| _mm256_set1_pd(SIN_TURN[k]);
        let (mut even, mut odd) = (c(8), c(9));
        for k in (0..4).rev() {
            even = _mm256_fmadd_pd(even, h4, c(2 * k));
            odd = _mm256_fmadd_pd(odd, h4, c(2 * k + 1));
        }
        let s = _mm256_mul_pd(h, _mm256_fmadd_pd(odd, h2, even));
        _mm256_div_pd(s, _mm256_add_pd(r_sq, p_sq))
    }
}

// ---------------------------------------------------------------------------------
// NEON: 2 lanes × 4 independent vectors per block (same math as AVX2).

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::SIN_TURN;
    use std::arch::aarch64::*;

    const LANES: usize = 2;
    const VECS: usize = 4;
    const BLOCK: usize = LANES * VECS;

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn local_energy(r: &[f64], inv_p: &[f64], p_sq: &[f64], out: &mut [f64]) {
        // the closure inherits this function's target features, so `block` is safe to call
        super::for_each_block::<BLOCK>(r, out, |rb, ob| block(rb, inv_p, p_sq, ob));
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn block(r: &[f64; BLOCK], inv_p: &[f64], p_sq: &[f64], out: &mut [f64; BLOCK]) {
        // SAFETY: each load reads LANES values inside the BLOCK-long array.
        let rv: [float64x2_t; VECS] =
            std::array::from_fn(|v| unsafe { vld1q_f64(r.as_ptr().add(v * LANES)) });
        let r_sq: [float64x2_t; VECS] = std::array::from_fn(|v| vmulq_f64(rv[v], rv[v]));
        let mut acc = [vdupq_n_f64(0.0); VECS];
        for (&ip, &ps) in inv_p.iter().zip(p_sq) {
            let ip = vdupq_n_f64(ip);
            let ps = vdupq_n_f64(ps);
            for v in 0..VECS {
                acc[v] = vaddq_f64(acc[v], term(rv[v], r_sq[v], ip, ps));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            // SAFETY: each store writes LANES values inside the BLOCK-long array.
            unsafe { vst1q_f64(out.as_mut_ptr().add(v * LANES), *a) };
        }
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn term(r: float64x2_t, r_sq: float64x2_t, inv_p: float64x2_t, p_sq: float64x2_t) -> float64x2_t {
        let t = vmulq_f64(r, inv_p);
        let f = vsubq_f64(t, vrndnq_f64(t));
        let h = vsubq_f64(vdupq_n_f64(0.25), vabsq_f64(f));
        let h2 = vmulq_f64(h, h);
        let h4 = vmulq_f64(h2, h2);
        let c = |k: usize| vdupq_n_f64(SIN_TURN[k]);
        let (mut even, mut odd) = (c(8), c(9));
        for k in (0..4).rev() {
            even = vfmaq_f64(c(2 * k), even, h4); // c + even·h4
            odd = vfmaq_f64(c(2 * k + 1), odd, h4);
        }
        let s = vmulq_f64(h, vfmaq_f64(even, odd, h2));
        vdivq_f64(s, vaddq_f64(r_sq, p_sq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// Reference with libm's cos, in the JS reference's form, and an error scale:
    /// both reductions of the phase r/p_n are exact to about one ulp of r/p_n, so the
    /// cosines may differ by ~2π·ε·(1 + |r|/p_n); the scale sums that over the terms.
    fn reference(r: f64, n: usize) -> (f64, f64) {
        let table = prime_table(n).unwrap();
        let (mut sum, mut scale) = (0.0, 0.0);
        for &p in &table.p[..n] {
            sum += (2.0 * std::f64::consts::PI * r / p).cos() / (r * r + p * p);
            scale += (1.0 + r.abs() / p) / (r * r + p * p);
        }
        (sum, scale)
    }

    fn inputs(len: usize) -> Vec<f64> {
        // Deterministic spread over small, medium and large r, both signs.
        (0..len)
            .map(|i| ((i as f64 * 0.618_033_988_749_895).fract() - 0.3) * 10f64.powi((i % 7) as i32 - 2))
            .collect()
    }

    #[test]
    fn coefficients_match_the_series() {
        // Const-context evaluation of (−1)^k (2π)^{2k+1}/(2k+1)!.
        const fn coef(k: usize) -> f64 {
            let tau = std::f64::consts::TAU;
            let mut c = tau;
            let mut j = 1;
            while j <= k {
                c = -c * tau * tau / ((2 * j) as f64 * (2 * j + 1) as f64);
                j += 1;
            }
            c
        }
        for (k, &c) in SIN_TURN.iter().enumerate() {
            // The recurrence rounds 4 times per step: allow 4k ulp (catches typos).
            assert!(
                (c - coef(k)).abs() <= (4 * k + 1) as f64 * f64::EPSILON * c.abs(),
                "k={k}"
            );
        }
    }

    #[test]
    fn scalar_matches_libm_cos() {
        // Tolerance: 1e-14 × Σ (1 + |r|/p_n)/(r² + p_n²) (see `reference`).
        for n in [1, 2, 10, 100, 1000] {
            let r = inputs(200);
            let mut out = vec![0.0; r.len()];
            local_energy_on(SimdPath::Scalar, &r, n, &mut out, &NEVER).unwrap();
            for (&ri, &o) in r.iter().zip(&out) {
                let (sum, scale) = reference(ri, n);
                assert!((o - sum).abs() <= 1e-14 * scale, "r={ri} n={n}: {o} vs {sum}");
            }
        }
    }

    #[test]
    fn simd_matches_scalar() {
        // Tolerance: 1e-14 of Σ|terms| per element (observed ~1e-16).
        let path = best_path();
        for len in [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 100, 1027] {
            for n in [0, 1, 3, 100] {
                let r = inputs(len);
                let mut a = vec![f64::NAN; len];
                let mut b = vec![f64::NAN; len];
                local_energy_on(SimdPath::Scalar, &r, n, &mut a, &NEVER).unwrap();
                local_energy_on(path, &r, n, &mut b, &NEVER).unwrap();
                let t = prime_table(n.max(1)).unwrap();
                for i in 0..len {
                    let abs: f64 = (0..n).map(|k| 1.0 / (r[i] * r[i] + t.p_sq[k])).sum();
                    assert!(
                        (a[i] - b[i]).abs() <= 1e-14 * abs,
                        "len={len} n={n} i={i}: {} vs {}",
                        a[i],
                        b[i]
                    );
                }
            }
        }
    }

    #[test]
    fn parallel_matches_serial_bitwise() {
        // Above the threshold (rayon when more than one thread); each out_i is computed
        // by the same code whatever the split, so results are identical.
        let r = inputs(5000);
        let n = 100;
        let mut par = vec![0.0; r.len()];
        local_energy(&r, n, &mut par).unwrap();
        let t = prime_table(n).unwrap();
        let mut ser = vec![0.0; r.len()];
        local_energy_serial(simd_path(), &r, &t.inv_p[..n], &t.p_sq[..n], &mut ser);
        assert_eq!(par, ser);
    }

    #[test]
    fn until_is_local_energy_and_a_raised_flag_stops() {
        let r = inputs(5000);
        let mut whole = vec![0.0; r.len()];
        local_energy(&r, 100, &mut whole).unwrap();
        let mut until = vec![0.0; r.len()];
        assert_eq!(
            local_energy_until(&r, 100, &mut until, &NEVER).unwrap(),
            Completion::Done
        );
        assert_eq!(until, whole);
        let raised = AtomicBool::new(true);
        let mut stopped = vec![0.0; r.len()];
        assert_eq!(
            local_energy_until(&r, 100, &mut stopped, &raised).unwrap(),
            Completion::Stopped
        );
        assert!(stopped.iter().all(|&v| v == 0.0), "no unit ran");
    }

    #[test]
    fn edge_values() {
        let r = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
        ];
        for path in [SimdPath::Scalar, best_path()] {
            let mut out = [0.0; 8];
            local_energy_on(path, &r, 5, &mut out, &NEVER).unwrap();
            let zero: f64 = [4.0, 9.0, 25.0, 49.0, 121.0].iter().map(|p| 1.0 / p).sum();
            assert!((out[0] - zero).abs() < 1e-15 && (out[1] - zero).abs() < 1e-15);
            assert!((out[2] - out[3]).abs() < 1e-15, "cos is even");
            assert_eq!(out[4], 0.0, "r² overflows: every term is 0");
            assert!(out[5].is_nan() && out[6].is_nan() && out[7].is_nan());
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut out = [0.0; 2];
        let e = local_energy(&[1.0, 2.0, 3.0], 10, &mut out).unwrap_err();
        assert_eq!(e.param, "out");
        assert_eq!(
            e.to_string(),
            "Expected an array of length 3 (the length of r) for out but received an array of length 2"
        );
        let mut out = [0.0; 3];
        assert_eq!(
            local_energy(&[1.0, 2.0, 3.0], 1_000_001, &mut out)
                .unwrap_err()
                .param,
            "primeCount"
        );
        let mut none: [f64; 0] = [];
        local_energy(&[], 100, &mut none).unwrap();
        let mut z = [7.0; 3];
        local_energy(&[1.0, 2.0, 3.0], 0, &mut z).unwrap();
        assert_eq!(z, [0.0; 3]);
    }
}
