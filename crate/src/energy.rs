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

// ---------------------------------------------------------------------------------
// Eq. 4, the nonlocal energy, and eq. 5's distance

// Eq. 4, the nonlocal energy, and eq. 5's distance (the former `nonlocal` module, kept as one inline module so that its SIMD
// paths and tests keep their names)
mod nonlocal {
    //! Nonlocal energy, design.md §2 eq. 4, as a mean over M quadrature points z_j:
    //!
    //!   E_nl(x, y) = (1/M) Σ_j exp(−‖x − z_j‖ / ℓ) / sqrt(‖z_j − y‖² + ε²)
    //!
    //! and the distance r = ‖x − y‖ that eq. 3 is evaluated at (eq. 5).
    //!
    //! Inputs are f32 (parameters), sums are f64: each coordinate is widened, then
    //! subtracted, so results match an f64 JS reference up to summation order. One pass
    //! over z_j yields both squared distances. SIMD runs over the d coordinates (several
    //! accumulators to hide FMA latency), with x and y widened once per call. The SIMD
    //! paths then take the exp/sqrt/division of a whole chunk at once, 4 (AVX2) or 2 (NEON)
    //! points per vector, with `vmath`'s exp (≤ 2 ulp from libm's): as the C++ kernel does,
    //! and the reason the two are about as fast (docs/theory.md, "Nonlocal energy"). The
    //! scalar path, the reference, calls libm once per point.
    //!
    //! Determinism: per-point terms are summed in fixed chunks of `CHUNK_POINTS` points
    //! and the chunk sums added in index order, so the value does not depend on the
    //! number of threads (only on the SIMD path, through the order within a point).

    use crate::cpu::{simd_path, SimdPath};
    use crate::error::KernelError;
    use crate::parallel;
    use crate::primes::format_number;

    /// Points per chunk: the unit of the fixed summation order and of parallel work.
    const CHUNK_POINTS: usize = 32;
    // The SIMD paths pad a partial chunk to whole vectors of 4 (AVX2) or 2 (NEON) points.
    const _: () = assert!(CHUNK_POINTS.is_multiple_of(4));
    /// Work (M · d coordinates) from which helper threads are used.
    const PARALLEL_MIN_COORDS: usize = 1 << 17;
    /// Coordinates per parallel work unit (rounded to whole chunks).
    const UNIT_COORDS: usize = 1 << 15;

    /// ‖x − y‖₂ in f64 (0 for empty vectors).
    pub fn distance(x: &[f32], y: &[f32]) -> Result<f64, KernelError> {
        distance_on(simd_path(), x, y)
    }

    fn distance_on(path: SimdPath, x: &[f32], y: &[f32]) -> Result<f64, KernelError> {
        check_same_length(x, y)?;
        let s = match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::sq_dist(x, y) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: the Neon path is only chosen when the CPU reports neon.
            SimdPath::Neon => unsafe { neon::sq_dist(x, y) },
            _ => scalar::sq_dist(x, y),
        };
        Ok(s.sqrt())
    }

    fn check_same_length(x: &[f32], y: &[f32]) -> Result<(), KernelError> {
        if y.len() != x.len() {
            return Err(KernelError::new(
                "y",
                format!("a vector of length {} (the length of x)", x.len()),
                format!("a vector of length {}", y.len()),
            ));
        }
        Ok(())
    }

    /// Eq. 4 with caller-supplied points (`points` is M×d row-major, d = x.len()).
    /// With ε = 0 and some z_j equal to y the result is +∞ (the facade asks for ε > 0);
    /// a non-finite coordinate in x, y or a point gives NaN.
    pub fn nonlocal_energy(
        x: &[f32],
        y: &[f32],
        points: &[f32],
        length_scale: f64,
        softening: f64,
    ) -> Result<f64, KernelError> {
        nonlocal_energy_on(simd_path(), x, y, points, length_scale, softening)
    }

    fn nonlocal_energy_on(
        path: SimdPath,
        x: &[f32],
        y: &[f32],
        points: &[f32],
        length_scale: f64,
        softening: f64,
    ) -> Result<f64, KernelError> {
        let d = x.len();
        if d == 0 {
            return Err(KernelError::new(
                "x",
                "a non-empty vector",
                "a vector of length 0",
            ));
        }
        check_same_length(x, y)?;
        if points.is_empty() || !points.len().is_multiple_of(d) {
            return Err(KernelError::new(
                "points",
                format!("an M×d matrix with M ≥ 1 and d = {d} (a length that is a positive multiple of {d})"),
                format!("an array of length {}", points.len()),
            ));
        }
        if !(length_scale.is_finite() && length_scale > 0.0) {
            return Err(KernelError::new(
                "lengthScale",
                "a positive finite number",
                format_number(length_scale),
            ));
        }
        if !(softening.is_finite() && softening >= 0.0) {
            return Err(KernelError::new(
                "softening",
                "a non-negative finite number",
                format_number(softening),
            ));
        }
        let m = points.len() / d;
        let eps_sq = softening * softening;
        // x then y widened to f64 once per call, for the SIMD paths (exact, so the sums are
        // unchanged): per coordinate they convert only z. The buffer is kept per thread, as
        // in the C++ kernel, so that small calls do not pay for an allocation.
        let mut wide = WIDE.take();
        wide.clear();
        wide.extend(x.iter().chain(y).map(|&v| v as f64));
        let chunk = |z: &[f32]| chunk_sum(path, x, y, &wide, z, length_scale, eps_sq);

        let total = if points.len() >= PARALLEL_MIN_COORDS {
            // One slot per chunk, filled in parallel in units of whole chunks, then added
            // in index order (a small allocation: M/32 values).
            let stride = CHUNK_POINTS * d;
            let mut sums = vec![0.0; m.div_ceil(CHUNK_POINTS)];
            let per_unit = (UNIT_COORDS / stride).max(1);
            parallel::for_each_chunk_mut(&mut sums, per_unit, |u, slots| {
                for (k, slot) in slots.iter_mut().enumerate() {
                    let start = (u * per_unit + k) * stride;
                    *slot = chunk(&points[start..(start + stride).min(points.len())]);
                }
            });
            sums.iter().sum::<f64>()
        } else {
            points.chunks(CHUNK_POINTS * d).map(chunk).sum::<f64>()
        };
        WIDE.set(wide);
        Ok(total / m as f64)
    }

    thread_local! {
        /// The widened x and y of the last call on this thread (reused, see above).
        static WIDE: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
    }

    /// Dispatcher: Σ of eq. 4's terms over the points of one chunk, in order. `wide` is x
    /// then y as f64 (what the SIMD paths read; the scalar reference reads x and y).
    fn chunk_sum(
        path: SimdPath,
        x: &[f32],
        y: &[f32],
        wide: &[f64],
        z: &[f32],
        length_scale: f64,
        eps_sq: f64,
    ) -> f64 {
        assert_eq!(wide.len(), 2 * x.len());
        match path {
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2Fma => {
                let (xd, yd) = wide.split_at(x.len());
                // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
                unsafe { avx2::chunk_sum(xd, yd, z, length_scale, eps_sq) }
            }
            #[cfg(target_arch = "aarch64")]
            SimdPath::Neon => {
                let (xd, yd) = wide.split_at(x.len());
                // SAFETY: the Neon path is only chosen when the CPU reports neon.
                unsafe { neon::chunk_sum(xd, yd, z, length_scale, eps_sq) }
            }
            _ => scalar::chunk_sum(x, y, z, length_scale, eps_sq),
        }
    }

    /// One term of eq. 4 from the two squared distances. A non-finite coordinate makes
    /// the term NaN (and so the whole mean), as in the JS reference: otherwise an infinite
    /// distance would give exp(−∞) = 0 and hide the bad input. (Finite f32 inputs cannot
    /// overflow an f64 sum of squares.)
    #[inline(always)]
    fn term(sq_xz: f64, sq_zy: f64, length_scale: f64, eps_sq: f64) -> f64 {
        if !(sq_xz + sq_zy).is_finite() {
            return f64::NAN;
        }
        (-sq_xz.sqrt() / length_scale).exp() / (sq_zy + eps_sq).sqrt()
    }

    // ---------------------------------------------------------------------------------
    // Scalar reference: coordinates in index order.

    mod scalar {
        use super::term;

        pub fn sq_dist(x: &[f32], y: &[f32]) -> f64 {
            x.iter()
                .zip(y)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum()
        }

        /// (‖x − z‖², ‖z − y‖²) in one pass over z.
        pub fn two_sq_dists(x: &[f32], y: &[f32], z: &[f32]) -> (f64, f64) {
            let (mut a, mut b) = (0.0, 0.0);
            for ((&xk, &yk), &zk) in x.iter().zip(y).zip(z) {
                let (xk, yk, zk) = (xk as f64, yk as f64, zk as f64);
                a += (xk - zk) * (xk - zk);
                b += (zk - yk) * (zk - yk);
            }
            (a, b)
        }

        pub fn chunk_sum(x: &[f32], y: &[f32], z: &[f32], length_scale: f64, eps_sq: f64) -> f64 {
            z.chunks_exact(x.len())
                .map(|zj| {
                    let (a, b) = two_sq_dists(x, y, zj);
                    term(a, b, length_scale, eps_sq)
                })
                .sum()
        }
    }

    // ---------------------------------------------------------------------------------
    // AVX2 + FMA: 4 f64 lanes, 4 accumulators per sum (16 coordinates per step).

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use super::CHUNK_POINTS;
        use crate::vmath;
        use std::arch::x86_64::*;

        const ACC: usize = 4;
        const STEP: usize = 4 * ACC;

        /// Four f32 at `p`, widened to f64.
        ///
        /// # Safety
        /// `p` must be valid for reading 4 f32.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load4(p: *const f32) -> __m256d {
            _mm256_cvtps_pd(_mm_loadu_ps(p))
        }

        /// Sum of the 4 lanes, in a fixed order.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn hsum(v: __m256d) -> f64 {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn reduce(acc: [__m256d; ACC]) -> f64 {
            hsum(_mm256_add_pd(
                _mm256_add_pd(acc[0], acc[1]),
                _mm256_add_pd(acc[2], acc[3]),
            ))
        }

        /// ‖x − y‖².
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn sq_dist(x: &[f32], y: &[f32]) -> f64 {
            let d = x.len().min(y.len());
            let (xp, yp) = (x.as_ptr(), y.as_ptr());
            let mut acc = [_mm256_setzero_pd(); ACC];
            let mut k = 0;
            // SAFETY (all loads): k + 4 ≤ d inside each loop.
            while k + STEP <= d {
                for (u, a) in acc.iter_mut().enumerate() {
                    let i = k + 4 * u;
                    let dv = _mm256_sub_pd(load4(xp.add(i)), load4(yp.add(i)));
                    *a = _mm256_fmadd_pd(dv, dv, *a);
                }
                k += STEP;
            }
            while k + 4 <= d {
                let dv = _mm256_sub_pd(load4(xp.add(k)), load4(yp.add(k)));
                acc[0] = _mm256_fmadd_pd(dv, dv, acc[0]);
                k += 4;
            }
            let mut s = reduce(acc);
            for i in k..d {
                let t = x[i] as f64 - y[i] as f64;
                s += t * t;
            }
            s
        }

        /// (‖x − z‖², ‖z − y‖²) in one pass over z (x and y already widened).
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA; x, y, z have the same length.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn two_sq_dists(x: &[f64], y: &[f64], z: &[f32]) -> (f64, f64) {
            let d = x.len();
            debug_assert!(y.len() == d && z.len() == d);
            let (xp, yp, zp) = (x.as_ptr(), y.as_ptr(), z.as_ptr());
            let mut a = [_mm256_setzero_pd(); ACC];
            let mut b = [_mm256_setzero_pd(); ACC];
            let mut k = 0;
            // SAFETY (all loads): k + 4 ≤ d inside each loop.
            while k + STEP <= d {
                for u in 0..ACC {
                    let i = k + 4 * u;
                    let zv = load4(zp.add(i));
                    let dx = _mm256_sub_pd(_mm256_loadu_pd(xp.add(i)), zv);
                    let dy = _mm256_sub_pd(zv, _mm256_loadu_pd(yp.add(i)));
                    a[u] = _mm256_fmadd_pd(dx, dx, a[u]);
                    b[u] = _mm256_fmadd_pd(dy, dy, b[u]);
                }
                k += STEP;
            }
            while k + 4 <= d {
                let zv = load4(zp.add(k));
                let dx = _mm256_sub_pd(_mm256_loadu_pd(xp.add(k)), zv);
                let dy = _mm256_sub_pd(zv, _mm256_loadu_pd(yp.add(k)));
                a[0] = _mm256_fmadd_pd(dx, dx, a[0]);
                b[0] = _mm256_fmadd_pd(dy, dy, b[0]);
                k += 4;
            }
            let (mut sa, mut sb) = (reduce(a), reduce(b));
            for i in k..d {
                let (xk, yk, zk) = (x[i], y[i], z[i] as f64);
                sa += (xk - zk) * (xk - zk);
                sb += (zk - yk) * (zk - yk);
            }
            (sa, sb)
        }

        /// Σ of eq. 4's terms over one chunk (at most `CHUNK_POINTS` points), in point order.
        /// The squared distances of all points come first (the same per-point order as
        /// `two_sq_dists` always had), then the exp/sqrt/division four points at a time with
        /// the vector exp (independent iterations the CPU overlaps, where one libm call per
        /// point serialized them), then the sum in point order.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA; y.len() == x.len() > 0, and z holds at most
        /// `CHUNK_POINTS` rows of x.len().
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn chunk_sum(x: &[f64], y: &[f64], z: &[f32], length_scale: f64, eps_sq: f64) -> f64 {
            let n = z.len() / x.len();
            assert!(n <= CHUNK_POINTS);
            // Padding lanes stay 0 (their values are computed and never added).
            let mut to_x = [0.0; CHUNK_POINTS];
            let mut to_y = [0.0; CHUNK_POINTS];
            for (i, zj) in z.chunks_exact(x.len()).enumerate() {
                let (a, b) = two_sq_dists(x, y, zj);
                if !(a + b).is_finite() {
                    return f64::NAN; // as `term` does: a non-finite coordinate gives NaN
                }
                to_x[i] = a;
                to_y[i] = b;
            }
            let mut value = [0.0; CHUNK_POINTS];
            let ell = _mm256_set1_pd(length_scale);
            let eps = _mm256_set1_pd(eps_sq);
            let sign = _mm256_set1_pd(-0.0);
            let mut i = 0;
            // SAFETY (loads and stores): i + 4 ≤ CHUNK_POINTS (a multiple of 4) inside the loop.
            while i < n {
                let a = _mm256_loadu_pd(to_x.as_ptr().add(i));
                let b = _mm256_loadu_pd(to_y.as_ptr().add(i));
                let e = vmath::avx2::exp(_mm256_xor_pd(sign, _mm256_div_pd(_mm256_sqrt_pd(a), ell)));
                let v = _mm256_div_pd(e, _mm256_sqrt_pd(_mm256_add_pd(b, eps)));
                _mm256_storeu_pd(value.as_mut_ptr().add(i), v);
                i += 4;
            }
            let mut s = 0.0;
            for &v in &value[..n] {
                s += v;
            }
            s
        }
    }

    // ---------------------------------------------------------------------------------
    // NEON: 2 f64 lanes, 4 accumulators per sum (8 coordinates per step).

    #[cfg(target_arch = "aarch64")]
    mod neon {
        use super::CHUNK_POINTS;
        use crate::vmath;
        use std::arch::aarch64::*;

        const ACC: usize = 4;
        const STEP: usize = 2 * ACC;

        /// # Safety
        /// `p` must be valid for reading 2 f32.
        #[inline]
        #[target_feature(enable = "neon")]
        unsafe fn load2(p: *const f32) -> float64x2_t {
            vcvt_f64_f32(vld1_f32(p))
        }

        #[inline]
        #[target_feature(enable = "neon")]
        fn reduce(acc: [float64x2_t; ACC]) -> f64 {
            vaddvq_f64(vaddq_f64(vaddq_f64(acc[0], acc[1]), vaddq_f64(acc[2], acc[3])))
        }

        /// # Safety
        /// The CPU must support NEON.
        #[target_feature(enable = "neon")]
        pub unsafe fn sq_dist(x: &[f32], y: &[f32]) -> f64 {
            let d = x.len().min(y.len());
            let (xp, yp) = (x.as_ptr(), y.as_ptr());
            let mut acc = [vdupq_n_f64(0.0); ACC];
            let mut k = 0;
            // SAFETY (all loads): k + 2 ≤ d inside each loop.
            while k + STEP <= d {
                for (u, a) in acc.iter_mut().enumerate() {
                    let i = k + 2 * u;
                    let dv = vsubq_f64(load2(xp.add(i)), load2(yp.add(i)));
                    *a = vfmaq_f64(*a, dv, dv);
                }
                k += STEP;
            }
            while k + 2 <= d {
                let dv = vsubq_f64(load2(xp.add(k)), load2(yp.add(k)));
                acc[0] = vfmaq_f64(acc[0], dv, dv);
                k += 2;
            }
            let mut s = reduce(acc);
            for i in k..d {
                let t = x[i] as f64 - y[i] as f64;
                s += t * t;
            }
            s
        }

        /// (‖x − z‖², ‖z − y‖²) in one pass over z (x and y already widened).
        ///
        /// # Safety
        /// The CPU must support NEON; x, y, z have the same length.
        #[inline]
        #[target_feature(enable = "neon")]
        unsafe fn two_sq_dists(x: &[f64], y: &[f64], z: &[f32]) -> (f64, f64) {
            let d = x.len();
            debug_assert!(y.len() == d && z.len() == d);
            let (xp, yp, zp) = (x.as_ptr(), y.as_ptr(), z.as_ptr());
            let mut a = [vdupq_n_f64(0.0); ACC];
            let mut b = [vdupq_n_f64(0.0); ACC];
            let mut k = 0;
            // SAFETY (all loads): k + 2 ≤ d inside each loop.
            while k + STEP <= d {
                for u in 0..ACC {
                    let i = k + 2 * u;
                    let zv = load2(zp.add(i));
                    let dx = vsubq_f64(vld1q_f64(xp.add(i)), zv);
                    let dy = vsubq_f64(zv, vld1q_f64(yp.add(i)));
                    a[u] = vfmaq_f64(a[u], dx, dx);
                    b[u] = vfmaq_f64(b[u], dy, dy);
                }
                k += STEP;
            }
            while k + 2 <= d {
                let zv = load2(zp.add(k));
                let dx = vsubq_f64(vld1q_f64(xp.add(k)), zv);
                let dy = vsubq_f64(zv, vld1q_f64(yp.add(k)));
                a[0] = vfmaq_f64(a[0], dx, dx);
                b[0] = vfmaq_f64(b[0], dy, dy);
                k += 2;
            }
            let (mut sa, mut sb) = (reduce(a), reduce(b));
            for i in k..d {
                let (xk, yk, zk) = (x[i], y[i], z[i] as f64);
                sa += (xk - zk) * (xk - zk);
                sb += (zk - yk) * (zk - yk);
            }
            (sa, sb)
        }

        /// As the AVX2 `chunk_sum`: the squared distances of the chunk first, then exp/sqrt/
        /// division two points at a time with the vector exp, then the sum in point order.
        ///
        /// # Safety
        /// The CPU must support NEON; y.len() == x.len() > 0, and z holds at most
        /// `CHUNK_POINTS` rows of x.len().
        #[target_feature(enable = "neon")]
        pub unsafe fn chunk_sum(x: &[f64], y: &[f64], z: &[f32], length_scale: f64, eps_sq: f64) -> f64 {
            let n = z.len() / x.len();
            assert!(n <= CHUNK_POINTS);
            let mut to_x = [0.0; CHUNK_POINTS];
            let mut to_y = [0.0; CHUNK_POINTS];
            for (i, zj) in z.chunks_exact(x.len()).enumerate() {
                let (a, b) = two_sq_dists(x, y, zj);
                if !(a + b).is_finite() {
                    return f64::NAN;
                }
                to_x[i] = a;
                to_y[i] = b;
            }
            let mut value = [0.0; CHUNK_POINTS];
            let ell = vdupq_n_f64(length_scale);
            let eps = vdupq_n_f64(eps_sq);
            let mut i = 0;
            // SAFETY (loads and stores): i + 2 ≤ CHUNK_POINTS (even) inside the loop.
            while i < n {
                let a = vld1q_f64(to_x.as_ptr().add(i));
                let b = vld1q_f64(to_y.as_ptr().add(i));
                let e = vmath::neon::exp(vnegq_f64(vdivq_f64(vsqrtq_f64(a), ell)));
                let v = vdivq_f64(e, vsqrtq_f64(vaddq_f64(b, eps)));
                vst1q_f64(value.as_mut_ptr().add(i), v);
                i += 2;
            }
            let mut s = 0.0;
            for &v in &value[..n] {
                s += v;
            }
            s
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::cpu::best_path;

        /// Deterministic values in [−1, 1) (a small LCG; no dependency needed).
        fn values(len: usize, seed: u64) -> Vec<f32> {
            let mut s = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (0..len)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
                })
                .collect()
        }

        /// f64 reference in the JS form: one point at a time, coordinates in order.
        fn reference(x: &[f32], y: &[f32], points: &[f32], l: f64, eps: f64) -> f64 {
            let d = x.len();
            let m = points.len() / d;
            let mut s = 0.0;
            for j in 0..m {
                let (mut a, mut b) = (0.0, 0.0);
                for k in 0..d {
                    let z = points[j * d + k] as f64;
                    a += (x[k] as f64 - z).powi(2);
                    b += (z - y[k] as f64).powi(2);
                }
                s += (-a.sqrt() / l).exp() / (b + eps * eps).sqrt();
            }
            s / m as f64
        }

        #[test]
        fn distance_simd_matches_scalar() {
            // Tolerance 1e-14 relative: only the summation order differs.
            for d in [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 33, 1000, 1027] {
                let (x, y) = (values(d, 1), values(d, 2));
                let s = distance_on(SimdPath::Scalar, &x, &y).unwrap();
                let v = distance_on(best_path(), &x, &y).unwrap();
                assert!((s - v).abs() <= 1e-14 * s, "d={d}: {s} vs {v}");
                let want: f64 = x
                    .iter()
                    .zip(&y)
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!((s - want).abs() <= 1e-15 * want);
            }
            assert_eq!(distance(&[], &[]).unwrap(), 0.0);
            assert_eq!(distance(&[3.0], &[-1.0]).unwrap(), 4.0);
        }

        #[test]
        fn nonlocal_simd_matches_scalar_and_reference() {
            // Tolerance 1e-13 relative (summation order; exp/sqrt of the same inputs).
            for d in [1, 2, 3, 4, 5, 7, 16, 17, 31, 100] {
                for m in [1, 2, 31, 32, 33, 100] {
                    let (x, y, z) = (values(d, 3), values(d, 4), values(m * d, 5));
                    for (l, eps) in [(1.0, 1e-3), (30.0, 0.0), (0.5, 2.0)] {
                        let want = reference(&x, &y, &z, l, eps);
                        for path in [SimdPath::Scalar, best_path()] {
                            let got = nonlocal_energy_on(path, &x, &y, &z, l, eps).unwrap();
                            assert!(
                                (got - want).abs() <= 1e-13 * want.abs(),
                                "{path:?} d={d} m={m}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }

        #[test]
        fn nonlocal_is_deterministic_across_threading() {
            // Above the parallel threshold: the pooled result equals the serial chunked sum.
            let (d, m) = (1024, 300);
            let (x, y, z) = (values(d, 6), values(d, 7), values(m * d, 8));
            let par = nonlocal_energy(&x, &y, &z, 30.0, 1e-3).unwrap();
            let wide: Vec<f64> = x.iter().chain(&y).map(|&v| v as f64).collect();
            let ser: f64 = z
                .chunks(CHUNK_POINTS * d)
                .map(|c| chunk_sum(simd_path(), &x, &y, &wide, c, 30.0, 1e-6))
                .sum();
            assert_eq!(par, ser / m as f64);
        }

        #[test]
        fn terms_that_underflow_inside_a_chunk() {
            // exp(−‖x − z‖/ℓ) from e^−25 down to 0 (subnormal and zero terms among normal
            // ones in the same vector of the batched exp): finite, and as the reference.
            let (x, y) = ([0.0f32], [3.0f32]);
            let z: Vec<f32> = (1..=40).map(|j| 25.0 * j as f32).collect();
            let want = reference(&x, &y, &z, 1.0, 1e-3);
            assert!(want > 0.0 && want.is_finite());
            for path in [SimdPath::Scalar, best_path()] {
                let got = nonlocal_energy_on(path, &x, &y, &z, 1.0, 1e-3).unwrap();
                assert!((got - want).abs() <= 1e-13 * want, "{path:?}: {got} vs {want}");
            }
        }

        #[test]
        fn singular_point_without_softening_is_infinite() {
            let x = [0.5f32, 0.5];
            let y = [0.25f32, -0.25];
            let z = [1.0f32, 1.0, 0.25, -0.25];
            assert_eq!(nonlocal_energy(&x, &y, &z, 1.0, 0.0).unwrap(), f64::INFINITY);
            assert!(nonlocal_energy(&x, &y, &z, 1.0, 1e-3).unwrap().is_finite());
        }

        #[test]
        fn non_finite_coordinates_give_nan() {
            let (x, y) = (values(5, 1), values(5, 2));
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for path in [SimdPath::Scalar, best_path()] {
                    let mut z = values(5 * 40, 3);
                    z[5 * 33 + 4] = bad;
                    assert!(nonlocal_energy_on(path, &x, &y, &z, 1.0, 0.1).unwrap().is_nan());
                    let mut xb = x.clone();
                    xb[0] = bad;
                    assert!(nonlocal_energy_on(path, &xb, &y, &z[..5], 1.0, 0.1)
                        .unwrap()
                        .is_nan());
                }
            }
        }

        #[test]
        fn errors_name_the_parameter() {
            let p = |r: Result<f64, KernelError>| r.unwrap_err().param;
            assert_eq!(p(nonlocal_energy(&[], &[], &[], 1.0, 0.1)), "x");
            assert_eq!(
                p(nonlocal_energy(&[1.0, 2.0], &[1.0], &[0.0, 0.0], 1.0, 0.1)),
                "y"
            );
            assert_eq!(
                p(nonlocal_energy(&[1.0, 2.0], &[1.0, 2.0], &[0.0; 3], 1.0, 0.1)),
                "points"
            );
            assert_eq!(
                p(nonlocal_energy(&[1.0, 2.0], &[1.0, 2.0], &[], 1.0, 0.1)),
                "points"
            );
            for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
                assert_eq!(
                    p(nonlocal_energy(&[1.0], &[1.0], &[0.0], bad, 0.1)),
                    "lengthScale"
                );
            }
            for bad in [-1e-9, f64::NAN, f64::INFINITY] {
                assert_eq!(p(nonlocal_energy(&[1.0], &[1.0], &[0.0], 1.0, bad)), "softening");
            }
            assert_eq!(p(distance(&[1.0], &[])), "y");
            assert_eq!(
            nonlocal_energy(&[1.0, 2.0], &[1.0, 2.0], &[0.0; 3], 1.0, 0.1).unwrap_err().to_string(),
            "Expected an M×d matrix with M ≥ 1 and d = 2 (a length that is a positive multiple of 2) for points but received an array of length 3"
        );
            assert_eq!(
                nonlocal_energy(&[1.0], &[1.0], &[0.0], -1.0, 0.1)
                    .unwrap_err()
                    .to_string(),
                "Expected a positive finite number for lengthScale but received -1"
            );
        }
    }
}
pub use nonlocal::{distance, nonlocal_energy};

/// Eq. 5 with its terms, one call (a declared kernel: lib/kernels.ts `energyTerms`):
/// `out = [r, E_loc(r), E_nl(x, y), E_loc + Λ·E_nl]`, r = ‖x − y‖, each term the value of
/// [`distance`], [`local_energy`] and [`nonlocal_energy`] bit for bit, the sum in f64.
pub fn energy_terms(
    params: &crate::declared::EnergyTermsParams,
    x: &[f32],
    y: &[f32],
    points: &[f32],
    out: &mut [f64],
) -> Result<(), KernelError> {
    if out.len() != 4 {
        return Err(KernelError::new(
            "out",
            "an array of length 4",
            format!("an array of length {}", out.len()),
        ));
    }
    let nonlocal = nonlocal_energy(x, y, points, params.length_scale, params.softening)?;
    let r = distance(x, y)?;
    let mut local = [0.0];
    local_energy(&[r], params.prime_count, &mut local)?;
    out.copy_from_slice(&[r, local[0], nonlocal, local[0] + params.lambda_cosmo * nonlocal]);
    Ok(())
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

    #[test]
    fn energy_terms_is_the_three_kernels_composed() {
        let params = crate::declared::EnergyTermsParams {
            prime_count: 25,
            length_scale: 0.8,
            softening: 0.05,
            lambda_cosmo: 1.2,
        };
        let x = [0.3f32, -0.7, 1.5];
        let y = [-0.2f32, 0.4, 0.9];
        let points: Vec<f32> = (0..21).map(|i| ((i as f32) * 0.37).sin()).collect();
        let mut out = [0.0; 4];
        energy_terms(&params, &x, &y, &points, &mut out).unwrap();
        let r = distance(&x, &y).unwrap();
        let mut local = [0.0];
        local_energy(&[r], 25, &mut local).unwrap();
        let nonlocal = nonlocal_energy(&x, &y, &points, 0.8, 0.05).unwrap();
        assert_eq!(out, [r, local[0], nonlocal, local[0] + 1.2 * nonlocal]);
        let mut short = [0.0; 3];
        assert_eq!(
            energy_terms(&params, &x, &y, &points, &mut short)
                .unwrap_err()
                .param,
            "out"
        );
        assert_eq!(
            energy_terms(&params, &x, &y[..2], &points, &mut out)
                .unwrap_err()
                .param,
            "y"
        );
    }
}
