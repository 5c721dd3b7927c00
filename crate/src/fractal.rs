//! The multi-scale fractal transform, design.md §2 eq. 8 (seed 002 §3.1), one step:
//!
//!   Z_{n+1} = Z_n ⊙ Z_n + c_n,   c_n = 1/p_n + Σ_{k=1}^{K} ω_k / p_{n+k}
//!
//! The scalar offset c_n is computed once per step by the caller (lib/fractal.ts); this
//! kernel is the elementwise part, out_i = z_i² + c, and its backward rule
//! gradZ_i = 2 z_i · gradOut_i (used by the fractal layer, eq. 9).
//!
//! Bit-exactness: the JS reference computes `z[i] * z[i] + c` in f64 (z² of an f32 is
//! exact in f64) and rounds once to f32 on the store, with c = Math.fround(offset).
//! Every path here does exactly that: widen to f64, fused z·z + c (the same single f64
//! rounding, since z² is exact), round to f32. A plain f32 FMA would round once, from
//! the exact value, and differs from JS's double rounding for about 3·10⁴ of the 2^31
//! non-negative f32 inputs (all with |z| ≥ 3·10⁴, far outside the bounded iterates;
//! checked exhaustively while writing this). The widening costs nothing measurable:
//! at sizes beyond the caches the kernel runs at memory speed.
//!
//! Stores: out of place on arrays of at least `STREAM_MIN` elements (two arrays of 16 MB
//! or more: beyond this VM's 32 MB L3), the AVX2 path writes with non-temporal stores.
//! A normal store first reads the destination line (read-for-ownership), so a
//! streaming kernel would move 12 bytes per element instead of 8; a result that large
//! would leave the cache before anyone reads it anyway. (glibc's memcpy does the same
//! above a similar size, and so does the bench's bandwidth probe, `memoryCopy`.)
//!
//! Threads: above `elementwise::PARALLEL_MIN` elements the array is split into units
//! of 256 KB; each element depends only on itself, so results do not depend on the
//! thread count.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::linalg::{for_chunks, reduce_chunks, Input, STREAM_MIN};
use crate::primes::format_number;

/// out_i = z_i² + c with c = `offset` rounded to f32 (as Math.fround does), computed
/// in f64 and rounded once. `z` may be the output itself ([`Input::Out`]).
pub fn fractal_step(z: Input, offset: f64, out: &mut [f32]) -> Result<(), KernelError> {
    fractal_step_on(simd_path(), z, offset, out)
}

fn fractal_step_on(path: SimdPath, z: Input, offset: f64, out: &mut [f32]) -> Result<(), KernelError> {
    z.check("z", "out", out.len())?;
    if !offset.is_finite() {
        return Err(KernelError::new(
            "offset",
            "a finite number",
            format_number(offset),
        ));
    }
    let c = offset as f32 as f64;
    // (only the AVX2 path streams; elsewhere the flag is unused)
    let stream = matches!(z, Input::Slice(_)) && out.len() >= STREAM_MIN;
    let _ = stream;
    for_chunks(out, |s, chunk| {
        let zp = z.at(s, chunk);
        let (op, n) = (chunk.as_mut_ptr(), chunk.len());
        // SAFETY: zp and op are valid for n elements (zp may equal op: each element is
        // read before it is written).
        unsafe {
            match path {
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma if stream => avx2::step_streaming(zp, c, op, n),
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma => avx2::step(zp, c, op, n),
                _ => scalar_step(zp, c, op, n),
            }
        }
    });
    Ok(())
}

/// # Safety
/// `z` and `out` valid for `n` elements; they may be equal.
unsafe fn scalar_step(z: *const f32, c: f64, out: *mut f32, n: usize) {
    for i in 0..n {
        let v = *z.add(i) as f64;
        *out.add(i) = (v * v + c) as f32;
    }
}

/// Backward rule of one step: gradZ_i = 2·z_i·gradOut_i (exact in f64, rounded once).
/// `gradOut` may be the output itself (in place); `z` must be a separate array.
pub fn fractal_step_backward(z: &[f32], grad_out: Input, grad_z: &mut [f32]) -> Result<(), KernelError> {
    Input::Slice(z).check("z", "gradZ", grad_z.len())?;
    grad_out.check("gradOut", "gradZ", grad_z.len())?;
    let path = simd_path();
    for_chunks(grad_z, |s, chunk| {
        let gp = grad_out.at(s, chunk);
        let zp = z[s..].as_ptr();
        let (op, n) = (chunk.as_mut_ptr(), chunk.len());
        // SAFETY: all pointers valid for n elements; gp may equal op.
        unsafe {
            match path {
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma => avx2::step_backward(zp, gp, op, n),
                _ => scalar_step_backward(zp, gp, op, n),
            }
        }
    });
    Ok(())
}

/// # Safety
/// Pointers valid for `n` elements; `g` may equal `out`.
unsafe fn scalar_step_backward(z: *const f32, g: *const f32, out: *mut f32, n: usize) {
    for i in 0..n {
        *out.add(i) = (2.0 * *z.add(i) as f64 * *g.add(i) as f64) as f32;
    }
}

// ---------------------------------------------------------------------------------
// max |x|.

/// max_i |x_i| (0 for an empty array); NaN when any element is NaN or ±∞, so one call
/// both bounds and validates an array (design.md §3: the fractal iterates' bound).
pub fn max_abs(x: &[f32]) -> f64 {
    let path = simd_path();
    reduce_chunks(
        x.len(),
        |s, e| match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::max_abs(&x[s..e]) },
            _ => scalar_max_abs(&x[s..e]),
        },
        |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        },
    )
}

fn scalar_max_abs(x: &[f32]) -> f64 {
    let mut m = 0.0f32;
    let mut bad = 0.0f32;
    for &v in x {
        m = m.max(v.abs());
        bad += v * 0.0; // NaN for NaN and ±∞, else 0
    }
    (m + bad) as f64
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::linalg::avx2::{load8_pd, store8_pd};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2 and FMA; z, out valid for n elements (may be equal).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn step(z: *const f32, c: f64, out: *mut f32, n: usize) {
        let cv = _mm256_set1_pd(c);
        let mut i = 0;
        // 16 elements per iteration: four independent f64 vectors.
        while i + 16 <= n {
            let (a0, a1) = load8_pd(z.add(i));
            let (b0, b1) = load8_pd(z.add(i + 8));
            store8_pd(
                out.add(i),
                _mm256_fmadd_pd(a0, a0, cv),
                _mm256_fmadd_pd(a1, a1, cv),
            );
            store8_pd(
                out.add(i + 8),
                _mm256_fmadd_pd(b0, b0, cv),
                _mm256_fmadd_pd(b1, b1, cv),
            );
            i += 16;
        }
        super::scalar_step(z.add(i), c, out.add(i), n - i);
    }

    /// As [`step`], writing with non-temporal stores (see the module comment).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; z, out valid for n elements and not overlapping.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn step_streaming(z: *const f32, c: f64, out: *mut f32, n: usize) {
        // Scalar head up to the first 32-byte boundary of out (streaming stores need it).
        let head = ((32 - (out as usize & 31)) & 31) / 4;
        let head = head.min(n);
        super::scalar_step(z, c, out, head);
        let cv = _mm256_set1_pd(c);
        let narrow = |a: __m256d, b: __m256d| _mm256_set_m128(_mm256_cvtpd_ps(b), _mm256_cvtpd_ps(a));
        let mut i = head;
        while i + 16 <= n {
            let (a0, a1) = load8_pd(z.add(i));
            let (b0, b1) = load8_pd(z.add(i + 8));
            let ra = narrow(_mm256_fmadd_pd(a0, a0, cv), _mm256_fmadd_pd(a1, a1, cv));
            let rb = narrow(_mm256_fmadd_pd(b0, b0, cv), _mm256_fmadd_pd(b1, b1, cv));
            _mm256_stream_ps(out.add(i), ra);
            _mm256_stream_ps(out.add(i + 8), rb);
            i += 16;
        }
        // Order the streaming stores before anything this thread does next.
        _mm_sfence();
        super::scalar_step(z.add(i), c, out.add(i), n - i);
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; pointers valid for n elements (g may equal out).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn step_backward(z: *const f32, g: *const f32, out: *mut f32, n: usize) {
        let two = _mm256_set1_pd(2.0);
        let mut i = 0;
        while i + 8 <= n {
            let (z0, z1) = load8_pd(z.add(i));
            let (g0, g1) = load8_pd(g.add(i));
            store8_pd(
                out.add(i),
                _mm256_mul_pd(_mm256_mul_pd(two, z0), g0),
                _mm256_mul_pd(_mm256_mul_pd(two, z1), g1),
            );
            i += 8;
        }
        super::scalar_step_backward(z.add(i), g.add(i), out.add(i), n - i);
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn max_abs(x: &[f32]) -> f64 {
        let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        let zero = _mm256_setzero_ps();
        let (mut m0, mut m1) = (zero, zero);
        let (mut b0, mut b1) = (zero, zero);
        let p = x.as_ptr();
        let mut i = 0;
        // SAFETY (loads): i + 16 ≤ len.
        while i + 16 <= x.len() {
            let (v0, v1) = (_mm256_loadu_ps(p.add(i)), _mm256_loadu_ps(p.add(i + 8)));
            m0 = _mm256_max_ps(m0, _mm256_and_ps(v0, abs));
            m1 = _mm256_max_ps(m1, _mm256_and_ps(v1, abs));
            // v·0 is NaN exactly for NaN and ±∞; the sum keeps a NaN once it appears.
            b0 = _mm256_add_ps(b0, _mm256_mul_ps(v0, zero));
            b1 = _mm256_add_ps(b1, _mm256_mul_ps(v1, zero));
            i += 16;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(
            lanes.as_mut_ptr(),
            _mm256_add_ps(_mm256_max_ps(m0, m1), _mm256_add_ps(b0, b1)),
        );
        let mut m = 0.0f32;
        let mut bad = 0.0f32;
        for &l in &lanes {
            m = m.max(l);
            bad += l * 0.0;
        }
        for &v in &x[i..] {
            m = m.max(v.abs());
            bad += v * 0.0;
        }
        (m + bad) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;
    use crate::linalg::{PARALLEL_MIN, STREAM_MIN};

    fn data(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    /// The JS reference: f64 arithmetic, one rounding on the store.
    fn js(z: f32, offset: f64) -> f32 {
        let c = offset as f32 as f64;
        (z as f64 * z as f64 + c) as f32
    }

    #[test]
    fn every_path_is_bit_exact_with_the_js_rule() {
        // Includes |z| ≥ 3·10⁴, where an f32 FMA would differ from JS's double rounding
        // (e.g. z = 32776, c = 6.4e-8), and lengths around the vector width.
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            32776.0,
            67_125_250.0,
            4_195_328.0,
            1e-20,
            3e19,
        ];
        for path in [SimdPath::Scalar, best_path()] {
            for n in [0, 1, 7, 8, 15, 16, 17, 31, 100, PARALLEL_MIN + 9, STREAM_MIN + 3] {
                let mut z = data(n, n as u32 + 1, 2.0);
                for (k, &v) in specials.iter().enumerate().take(n) {
                    z[k] = v;
                }
                for offset in [0.2207, 6.4e-8, 0.5, 1.0 / 3.0] {
                    let mut out = vec![f32::NAN; n];
                    fractal_step_on(path, Input::Slice(&z), offset, &mut out).unwrap();
                    let mut in_place = z.clone();
                    fractal_step_on(path, Input::Out, offset, &mut in_place).unwrap();
                    for i in 0..n {
                        let want = js(z[i], offset);
                        assert_eq!(out[i].to_bits(), want.to_bits(), "{path:?} z={} c={offset}", z[i]);
                        assert_eq!(in_place[i].to_bits(), want.to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn iterates_stay_below_the_repelling_fixed_point() {
        // c ≤ 1/4: [−z₊, z₊] with z₊ = (1 + √(1 − 4c))/2 is invariant under z² + c.
        let c: f64 = 0.2207;
        let zp = (1.0 + (1.0 - 4.0 * c).sqrt()) / 2.0;
        let mut z: Vec<f32> = data(10_000, 9, 1.0)
            .iter()
            .map(|&v| v * (zp as f32) * 0.999)
            .collect();
        for _ in 0..200 {
            fractal_step(Input::Out, c, &mut z).unwrap();
        }
        assert!(z.iter().all(|&v| v > 0.0 && (v as f64) <= zp), "bounded");
        // …and they approach the attracting fixed point z₋ = (1 − √(1 − 4c))/2.
        let zm = (1.0 - (1.0 - 4.0 * c).sqrt()) / 2.0;
        assert!(z.iter().all(|&v| (v as f64 - zm).abs() < 1e-3));
    }

    #[test]
    fn backward_is_two_z_times_g() {
        for n in [0, 3, 8, 19, PARALLEL_MIN + 1] {
            let z = data(n, 10, 3.0);
            let g = data(n, 11, 3.0);
            let mut out = vec![0.0; n];
            fractal_step_backward(&z, Input::Slice(&g), &mut out).unwrap();
            let mut in_place = g.clone();
            fractal_step_backward(&z, Input::Out, &mut in_place).unwrap();
            for i in 0..n {
                let want = (2.0 * z[i] as f64 * g[i] as f64) as f32;
                assert_eq!(out[i].to_bits(), want.to_bits());
                assert_eq!(in_place[i].to_bits(), want.to_bits());
            }
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut out = [0.0; 2];
        let e = fractal_step(Input::Slice(&[1.0, 2.0, 3.0]), 0.1, &mut out).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected an array of length 2 (the length of out) for z but received an array of length 3"
        );
        assert_eq!(
            fractal_step(Input::Out, f64::NAN, &mut out).unwrap_err().param,
            "offset"
        );
        assert_eq!(
            fractal_step_backward(&[1.0], Input::Out, &mut out)
                .unwrap_err()
                .param,
            "z"
        );
    }

    #[test]
    fn max_abs_bounds_and_flags_non_finite() {
        for n in [0, 1, 7, 16, 17, 100, PARALLEL_MIN + 3] {
            let mut x = data(n, 1, 3.0);
            let want = x.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
            assert_eq!(max_abs(&x), want, "n={n}");
            assert_eq!(scalar_max_abs(&x), want);
            if n > 0 {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let k = n * 2 / 3;
                    let keep = x[k];
                    x[k] = bad;
                    assert!(max_abs(&x).is_nan(), "n={n} bad={bad}");
                    x[k] = keep;
                }
            }
        }
    }
}
