//! Elementwise f32 kernels that the fractal layer (design.md §2 eq. 9) composes with
//! the fractal step and the GEMM.
//!
//! Bit-exactness with the JS reference: JS evaluates `Float32Array` arithmetic in f64
//! and rounds once on the store. Every kernel here whose JS reference is plain
//! arithmetic (`axpby`, the identity/relu activations and all activation backward
//! rules) widens to f64, does the same operations in the same order (no FMA
//! contraction), and rounds once to f32, so its results are bit-for-bit the reference's.
//! tanh and sigmoid use an f32 polynomial exp on the AVX2 path (JS calls Math.tanh /
//! Math.exp): they agree to a few f32 ulps (see the tests). Reductions (`dot`, `sum`,
//! `max_abs`) accumulate in f64 over fixed chunks, so they do not depend on the thread
//! count.
//!
//! Inputs may be the output itself ([`Input::Out`], in place): every kernel reads
//! element i before it writes element i and never touches another element in between.

use crate::cpu::simd_path;
#[cfg(target_arch = "x86_64")]
use crate::cpu::SimdPath;
use crate::error::KernelError;
use crate::parallel;

/// Elements from which helper threads are used (1 MB of f32: tens of µs at memory speed,
/// well above the cost of claiming a unit when the helpers are asleep).
pub(crate) const PARALLEL_MIN: usize = 1 << 18;
/// Elements per parallel work unit (256 KB of f32).
pub(crate) const UNIT: usize = 1 << 16;
/// Elements from which an out-of-place fractal step writes with non-temporal stores:
/// two arrays of 16 MB or more, beyond this VM's 32 MB L3 (see crate::fractal).
pub(crate) const STREAM_MIN: usize = 1 << 22;
/// Reductions keep one partial per unit on the stack: at most this many units.
const MAX_PARTIALS: usize = 256;

/// An input operand of an elementwise kernel: a separate array, or the output array
/// itself (the kernel then runs in place).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Slice(&'a [f32]),
    Out,
}

impl Input<'_> {
    /// A separate input must have the output's length.
    pub(crate) fn check(&self, name: &'static str, out_name: &str, len: usize) -> Result<(), KernelError> {
        match self {
            Input::Slice(v) if v.len() != len => Err(KernelError::new(
                name,
                format!("an array of length {len} (the length of {out_name})"),
                format!("an array of length {}", v.len()),
            )),
            _ => Ok(()),
        }
    }

    /// Pointer to element `start` of this operand, `out` being the output's chunk that
    /// starts at `start`.
    #[inline]
    pub(crate) fn at(&self, start: usize, out: &mut [f32]) -> *const f32 {
        match self {
            Input::Slice(v) => v[start..].as_ptr(),
            Input::Out => out.as_mut_ptr().cast_const(),
        }
    }
}

/// Runs `body(start, chunk)` over `out` in chunks of [`UNIT`] elements, on the helper
/// threads when `out` is large.
pub(crate) fn for_chunks(out: &mut [f32], body: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(out, UNIT, |u, c| body(u * UNIT, c));
    } else if !out.is_empty() {
        body(0, out);
    }
}

/// Σ over fixed chunks of `len` elements of `part(start, end)` (f64), the chunk sums
/// added in index order: the same value whatever the number of threads.
pub(crate) fn reduce_chunks(
    len: usize,
    part: impl Fn(usize, usize) -> f64 + Sync,
    join: fn(f64, f64) -> f64,
) -> f64 {
    let unit = UNIT.max(len.div_ceil(MAX_PARTIALS));
    let units = len.div_ceil(unit);
    let mut partials = [0.0f64; MAX_PARTIALS];
    let slots = &mut partials[..units];
    let fill = |u: usize, s: &mut [f64]| {
        for (k, slot) in s.iter_mut().enumerate() {
            let start = (u + k) * unit;
            *slot = part(start, (start + unit).min(len));
        }
    };
    if len >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(slots, 1, fill);
    } else {
        fill(0, slots);
    }
    slots.iter().copied().reduce(join).unwrap_or(0.0)
}

fn check_len(name: &'static str, want_name: &str, want: usize, got: usize) -> Result<(), KernelError> {
    if got != want {
        return Err(KernelError::new(
            name,
            format!("an array of length {want} (the length of {want_name})"),
            format!("an array of length {got}"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// y ← αx + βy.

/// y ← α·x + β·y, each element computed in f64 and rounded once (as JS does). β = 0
/// overwrites y without reading it (BLAS convention: NaN in y is not propagated).
pub fn axpby(alpha: f64, x: Input, beta: f64, y: &mut [f32]) -> Result<(), KernelError> {
    x.check("x", "y", y.len())?;
    let path = simd_path();
    for_chunks(y, |s, c| {
        let xp = x.at(s, c);
        let (yp, n) = (c.as_mut_ptr(), c.len());
        // SAFETY: xp and yp are valid for n elements (xp may equal yp: read before write).
        unsafe {
            match path {
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma => avx2::axpby(alpha, xp, beta, yp, n),
                _ => scalar_axpby(alpha, xp, beta, yp, n),
            }
        }
    });
    Ok(())
}

/// # Safety
/// `x` and `y` valid for `n` elements; they may be equal.
unsafe fn scalar_axpby(alpha: f64, x: *const f32, beta: f64, y: *mut f32, n: usize) {
    for i in 0..n {
        let xi = *x.add(i) as f64;
        *y.add(i) = if beta == 0.0 {
            (alpha * xi) as f32
        } else {
            (alpha * xi + beta * *y.add(i) as f64) as f32
        };
    }
}

// ---------------------------------------------------------------------------------
// Reductions in f64.

/// Σ x_i y_i accumulated in f64 (fixed chunk order; independent of the thread count).
pub fn dot(x: &[f32], y: &[f32]) -> Result<f64, KernelError> {
    check_len("y", "x", x.len(), y.len())?;
    let path = simd_path();
    Ok(reduce_chunks(
        x.len(),
        |s, e| match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::dot(&x[s..e], &y[s..e]) },
            _ => x[s..e]
                .iter()
                .zip(&y[s..e])
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum(),
        },
        |a, b| a + b,
    ))
}

/// Σ x_i accumulated in f64.
pub fn sum(x: &[f32]) -> f64 {
    let path = simd_path();
    reduce_chunks(
        x.len(),
        |s, e| match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::sum(&x[s..e]) },
            _ => x[s..e].iter().map(|&a| a as f64).sum(),
        },
        |a, b| a + b,
    )
}

// ---------------------------------------------------------------------------------
// Activations σ of eq. 9.

/// The activation σ of the fractal layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Tanh,
    Sigmoid,
    Relu,
}

impl Activation {
    /// The activation named as in the TS interface: "identity", "tanh", "sigmoid", "relu".
    pub fn from_name(name: &str) -> Result<Self, KernelError> {
        Ok(match name {
            "identity" => Activation::Identity,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "relu" => Activation::Relu,
            _ => {
                return Err(KernelError::new(
                    "activation",
                    r#"one of "identity", "tanh", "sigmoid", "relu""#,
                    format!("{name:?}"),
                ))
            }
        })
    }
}

/// out_i = σ(x_i + shift), the pre-activation x_i + shift computed in f64.
pub fn activation_forward(
    activation: Activation,
    x: Input,
    shift: f64,
    out: &mut [f32],
) -> Result<(), KernelError> {
    x.check("x", "out", out.len())?;
    let path = simd_path();
    for_chunks(out, |s, c| {
        let xp = x.at(s, c);
        let (op, n) = (c.as_mut_ptr(), c.len());
        // SAFETY: xp and op are valid for n elements (they may be equal).
        unsafe {
            match path {
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma => avx2::activation_forward(activation, xp, shift, op, n),
                _ => scalar_activation_forward(activation, xp, shift, op, n),
            }
        }
    });
    Ok(())
}

/// The scalar σ in f64 (the JS reference's formulas).
#[inline]
fn sigma(activation: Activation, t: f64) -> f64 {
    match activation {
        Activation::Identity => t,
        Activation::Tanh => t.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-t).exp()),
        Activation::Relu => {
            if t > 0.0 {
                t
            } else {
                0.0
            }
        }
    }
}

/// # Safety
/// `x` and `out` valid for `n` elements; they may be equal.
unsafe fn scalar_activation_forward(
    activation: Activation,
    x: *const f32,
    shift: f64,
    out: *mut f32,
    n: usize,
) {
    for i in 0..n {
        *out.add(i) = sigma(activation, *x.add(i) as f64 + shift) as f32;
    }
}

/// gradPre_i = gradOut_i · σ'(pre_i), with σ' written through the output y = σ(pre):
/// tanh 1 − y², sigmoid y(1 − y), relu [y > 0], identity 1. Computed in f64 in the JS
/// reference's order and rounded once: bit-exact on every path.
pub fn activation_backward(
    activation: Activation,
    y: Input,
    grad_out: Input,
    grad_pre: &mut [f32],
) -> Result<(), KernelError> {
    y.check("y", "gradPre", grad_pre.len())?;
    grad_out.check("gradOut", "gradPre", grad_pre.len())?;
    let path = simd_path();
    for_chunks(grad_pre, |s, c| {
        let yp = y.at(s, c);
        let gp = grad_out.at(s, c);
        let (op, n) = (c.as_mut_ptr(), c.len());
        // SAFETY: all pointers are valid for n elements (inputs may equal the output).
        unsafe {
            match path {
                #[cfg(target_arch = "x86_64")]
                SimdPath::Avx2Fma => avx2::activation_backward(activation, yp, gp, op, n),
                _ => scalar_activation_backward(activation, yp, gp, op, n),
            }
        }
    });
    Ok(())
}

/// activation_forward on f64 arrays (nn layers in f64, docs/theory.md "Float64 parameters"):
/// out_i = σ(x_i + shift) with the f32 path's σ in f64, not rounded. `x` is None when it is
/// `out` itself (in place). Scalar and single-threaded.
pub fn activation_forward_f64(
    activation: Activation,
    x: Option<&[f64]>,
    shift: f64,
    out: &mut [f64],
) -> Result<(), KernelError> {
    match x {
        Some(x) => {
            check_len("x", "out", out.len(), x.len())?;
            for (o, &v) in out.iter_mut().zip(x) {
                *o = sigma(activation, v + shift);
            }
        }
        None => {
            for o in out.iter_mut() {
                *o = sigma(activation, *o + shift);
            }
        }
    }
    Ok(())
}

/// activation_backward on f64 arrays: gradPre_i = gradOut_i · σ'(pre_i) through y, the f32
/// path's formula in f64. An input is None when it is `grad_pre` itself.
pub fn activation_backward_f64(
    activation: Activation,
    y: Option<&[f64]>,
    grad_out: Option<&[f64]>,
    grad_pre: &mut [f64],
) -> Result<(), KernelError> {
    let n = grad_pre.len();
    if let Some(y) = y {
        check_len("y", "gradPre", n, y.len())?;
    }
    if let Some(g) = grad_out {
        check_len("gradOut", "gradPre", n, g.len())?;
    }
    for i in 0..n {
        let yi = y.map_or(grad_pre[i], |y| y[i]);
        let gi = grad_out.map_or(grad_pre[i], |g| g[i]);
        grad_pre[i] = sigma_prime_times(activation, yi, gi);
    }
    Ok(())
}

#[inline(always)]
fn sigma_prime_times(activation: Activation, y: f64, g: f64) -> f64 {
    match activation {
        Activation::Identity => g,
        Activation::Tanh => g * (1.0 - y * y),
        Activation::Sigmoid => g * y * (1.0 - y),
        Activation::Relu => {
            if y > 0.0 {
                g
            } else {
                0.0
            }
        }
    }
}

/// # Safety
/// All pointers valid for `n` elements; inputs may equal the output.
unsafe fn scalar_activation_backward(
    activation: Activation,
    y: *const f32,
    g: *const f32,
    out: *mut f32,
    n: usize,
) {
    for i in 0..n {
        *out.add(i) = sigma_prime_times(activation, *y.add(i) as f64, *g.add(i) as f64) as f32;
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{sigma, sigma_prime_times, Activation};
    use crate::vmath::avx2::hsum;
    use std::arch::x86_64::*;

    /// Eight f32 at `p` widened to two f64 vectors (low, high).
    ///
    /// # Safety
    /// `p` valid for reading 8 f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn load8_pd(p: *const f32) -> (__m256d, __m256d) {
        (
            _mm256_cvtps_pd(_mm_loadu_ps(p)),
            _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
        )
    }

    /// Rounds two f64 vectors to f32 (nearest, as a JS store does) and stores 8 f32.
    ///
    /// # Safety
    /// `p` valid for writing 8 f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn store8_pd(p: *mut f32, lo: __m256d, hi: __m256d) {
        _mm256_storeu_ps(p, _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)));
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; x, y valid for n elements (may be equal).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpby(alpha: f64, x: *const f32, beta: f64, y: *mut f32, n: usize) {
        let (a, b) = (_mm256_set1_pd(alpha), _mm256_set1_pd(beta));
        let mut i = 0;
        while i + 8 <= n {
            let (x0, x1) = load8_pd(x.add(i));
            let (r0, r1) = if beta == 0.0 {
                (_mm256_mul_pd(a, x0), _mm256_mul_pd(a, x1))
            } else {
                let (y0, y1) = load8_pd(y.add(i));
                // α·x and β·y rounded separately, then added: the JS order, no FMA.
                (
                    _mm256_add_pd(_mm256_mul_pd(a, x0), _mm256_mul_pd(b, y0)),
                    _mm256_add_pd(_mm256_mul_pd(a, x1), _mm256_mul_pd(b, y1)),
                )
            };
            store8_pd(y.add(i), r0, r1);
            i += 8;
        }
        super::scalar_axpby(alpha, x.add(i), beta, y.add(i), n - i);
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; x.len() == y.len().
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(x: &[f32], y: &[f32]) -> f64 {
        let n = x.len().min(y.len());
        let (xp, yp) = (x.as_ptr(), y.as_ptr());
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        while i + 16 <= n {
            for h in 0..2 {
                let (x0, x1) = load8_pd(xp.add(i + 8 * h));
                let (y0, y1) = load8_pd(yp.add(i + 8 * h));
                acc[2 * h] = _mm256_fmadd_pd(x0, y0, acc[2 * h]);
                acc[2 * h + 1] = _mm256_fmadd_pd(x1, y1, acc[2 * h + 1]);
            }
            i += 16;
        }
        let mut s = hsum(_mm256_add_pd(
            _mm256_add_pd(acc[0], acc[1]),
            _mm256_add_pd(acc[2], acc[3]),
        ));
        for k in i..n {
            s += x[k] as f64 * y[k] as f64;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sum(x: &[f32]) -> f64 {
        let p = x.as_ptr();
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        while i + 16 <= x.len() {
            for h in 0..2 {
                let (x0, x1) = load8_pd(p.add(i + 8 * h));
                acc[2 * h] = _mm256_add_pd(x0, acc[2 * h]);
                acc[2 * h + 1] = _mm256_add_pd(x1, acc[2 * h + 1]);
            }
            i += 16;
        }
        let mut s = hsum(_mm256_add_pd(
            _mm256_add_pd(acc[0], acc[1]),
            _mm256_add_pd(acc[2], acc[3]),
        ));
        for &v in &x[i..] {
            s += v as f64;
        }
        s
    }

    /// e^x for 8 f32 (Cephes expf: x = n ln2 + r, |r| ≤ ln2/2, degree-7 polynomial,
    /// about 1 ulp); x is clamped to ±88.376 so the result stays finite and normal.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp_ps(x: __m256) -> __m256 {
        let c = _mm256_set1_ps;
        let x = _mm256_min_ps(_mm256_max_ps(x, c(-87.336_55)), c(88.376_26));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
            x,
            c(std::f32::consts::LOG2_E),
        ));
        // r = x − n·ln2 in two steps (ln2 = 0.693359375 − 2.12194440e−4, the first exact).
        let r = _mm256_fnmadd_ps(n, c(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, c(-2.121_944_4e-4), r);
        let mut p = c(1.987_569_1e-4);
        for k in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            p = _mm256_fmadd_ps(p, r, c(k));
        }
        let r2 = _mm256_mul_ps(r, r);
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), c(1.0));
        // 2^n through the exponent bits (n ∈ [−126, 127] after the clamp).
        let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        )));
        _mm256_mul_ps(y, pow2n)
    }

    /// tanh for 8 f32: the Cephes tanhf odd polynomial for |t| < 0.625, else
    /// sign(t)·(1 − 2/(e^{2|t|} + 1)).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn tanh_ps(t: __m256) -> __m256 {
        let c = _mm256_set1_ps;
        let sign = _mm256_and_ps(t, c(-0.0));
        let a = _mm256_andnot_ps(c(-0.0), t);
        let z = _mm256_mul_ps(t, t);
        let mut p = c(-5.704_988_7e-3);
        for k in [2.063_909e-2, -5.373_971_6e-2, 0.133_314_42, -0.333_332_8] {
            p = _mm256_fmadd_ps(p, z, c(k));
        }
        let small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), t, t);
        let e = exp_ps(_mm256_add_ps(a, a));
        let large = _mm256_sub_ps(c(1.0), _mm256_div_ps(c(2.0), _mm256_add_ps(e, c(1.0))));
        let large = _mm256_or_ps(large, sign);
        _mm256_blendv_ps(large, small, _mm256_cmp_ps::<_CMP_LT_OQ>(a, c(0.625)))
    }

    /// 1/(1 + e^{−t}) for 8 f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sigmoid_ps(t: __m256) -> __m256 {
        let one = _mm256_set1_ps(1.0);
        _mm256_div_ps(
            one,
            _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), t))),
        )
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; x, out valid for n elements (may be equal).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn activation_forward(
        activation: Activation,
        x: *const f32,
        shift: f64,
        out: *mut f32,
        n: usize,
    ) {
        let s = _mm256_set1_pd(shift);
        let zero = _mm256_setzero_pd();
        let mut i = 0;
        while i + 8 <= n {
            let (x0, x1) = load8_pd(x.add(i));
            let (t0, t1) = (_mm256_add_pd(x0, s), _mm256_add_pd(x1, s));
            match activation {
                Activation::Identity => store8_pd(out.add(i), t0, t1),
                // max(t, 0) is exact; NaN propagates like the reference's `t > 0 ? t : 0`
                // would not, so compare explicitly: NaN > 0 is false → 0.
                Activation::Relu => store8_pd(
                    out.add(i),
                    _mm256_and_pd(t0, _mm256_cmp_pd::<_CMP_GT_OQ>(t0, zero)),
                    _mm256_and_pd(t1, _mm256_cmp_pd::<_CMP_GT_OQ>(t1, zero)),
                ),
                Activation::Tanh | Activation::Sigmoid => {
                    let t = _mm256_set_m128(_mm256_cvtpd_ps(t1), _mm256_cvtpd_ps(t0));
                    let y = if activation == Activation::Tanh {
                        tanh_ps(t)
                    } else {
                        sigmoid_ps(t)
                    };
                    _mm256_storeu_ps(out.add(i), y);
                }
            }
            i += 8;
        }
        for k in i..n {
            *out.add(k) = sigma(activation, *x.add(k) as f64 + shift) as f32;
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; pointers valid for n elements (may be equal).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn activation_backward(
        activation: Activation,
        y: *const f32,
        g: *const f32,
        out: *mut f32,
        n: usize,
    ) {
        let one = _mm256_set1_pd(1.0);
        let zero = _mm256_setzero_pd();
        let rule = |y: __m256d, g: __m256d| match activation {
            Activation::Identity => g,
            Activation::Tanh => _mm256_mul_pd(g, _mm256_sub_pd(one, _mm256_mul_pd(y, y))),
            Activation::Sigmoid => _mm256_mul_pd(_mm256_mul_pd(g, y), _mm256_sub_pd(one, y)),
            Activation::Relu => _mm256_and_pd(g, _mm256_cmp_pd::<_CMP_GT_OQ>(y, zero)),
        };
        let mut i = 0;
        while i + 8 <= n {
            let (y0, y1) = load8_pd(y.add(i));
            let (g0, g1) = load8_pd(g.add(i));
            store8_pd(out.add(i), rule(y0, g0), rule(y1, g1));
            i += 8;
        }
        for k in i..n {
            *out.add(k) = sigma_prime_times(activation, *y.add(k) as f64, *g.add(k) as f64) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    #[test]
    fn axpby_is_bit_exact_with_f64_then_round() {
        for n in [0, 1, 9, 33, PARALLEL_MIN + 5] {
            let x = data(n, 2, 5.0);
            let y0 = data(n, 3, 5.0);
            for (alpha, beta) in [(0.3, 0.7), (-1.5, 0.0), (1.0, 1.0)] {
                let mut y = y0.clone();
                axpby(alpha, Input::Slice(&x), beta, &mut y).unwrap();
                for i in 0..n {
                    let want = if beta == 0.0 {
                        (alpha * x[i] as f64) as f32
                    } else {
                        (alpha * x[i] as f64 + beta * y0[i] as f64) as f32
                    };
                    assert_eq!(y[i].to_bits(), want.to_bits(), "n={n} i={i}");
                }
            }
            // In place: y ← (α + β)·y computed as α·y + β·y.
            let mut y = y0.clone();
            axpby(2.0, Input::Out, 0.5, &mut y).unwrap();
            for i in 0..n {
                assert_eq!(y[i], (2.0 * y0[i] as f64 + 0.5 * y0[i] as f64) as f32);
            }
        }
        let mut y = [f32::NAN; 3];
        axpby(2.0, Input::Slice(&[1.0, 2.0, 3.0]), 0.0, &mut y).unwrap();
        assert_eq!(y, [2.0, 4.0, 6.0], "β = 0 ignores y");
        assert_eq!(
            axpby(1.0, Input::Slice(&[1.0]), 1.0, &mut y).unwrap_err().param,
            "x"
        );
    }

    #[test]
    fn reductions_match_f64_sums() {
        for n in [0, 1, 15, 16, 17, 1000, PARALLEL_MIN + 7] {
            let x = data(n, 4, 1.0);
            let y = data(n, 5, 1.0);
            let want_dot: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
            let abs: f64 = x.iter().zip(&y).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
            assert!(
                (dot(&x, &y).unwrap() - want_dot).abs() <= 1e-14 * abs.max(1e-300),
                "n={n}"
            );
            let want_sum: f64 = x.iter().map(|&a| a as f64).sum();
            let abs: f64 = x.iter().map(|&a| (a as f64).abs()).sum();
            assert!((sum(&x) - want_sum).abs() <= 1e-14 * abs.max(1e-300), "n={n}");
        }
        assert_eq!(dot(&[1.0], &[1.0, 2.0]).unwrap_err().param, "y");
    }

    #[test]
    fn activations_match_the_f64_reference() {
        // identity and relu and every backward rule: bit-exact. tanh and sigmoid on the
        // AVX2 path: |Δ| ≤ 4 ulp of the f32 result, plus 2^-40 absolute near 0.
        let n = 4099;
        let x = data(n, 6, 12.0);
        for act in [
            Activation::Identity,
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
        ] {
            for shift in [0.0, 0.3] {
                let mut out = vec![0.0; n];
                activation_forward(act, Input::Slice(&x), shift, &mut out).unwrap();
                for i in 0..n {
                    let want = sigma(act, x[i] as f64 + shift) as f32;
                    let tol = match act {
                        Activation::Identity | Activation::Relu => 0.0,
                        _ => 4.0 * f32::EPSILON * want.abs() + 2f32.powi(-40),
                    };
                    assert!(
                        (out[i] - want).abs() <= tol,
                        "{act:?} x={} {} vs {want}",
                        x[i],
                        out[i]
                    );
                }
                let g = data(n, 7, 2.0);
                let mut gp = vec![0.0; n];
                activation_backward(act, Input::Slice(&out), Input::Slice(&g), &mut gp).unwrap();
                let mut in_place = g.clone();
                activation_backward(act, Input::Slice(&out), Input::Out, &mut in_place).unwrap();
                for i in 0..n {
                    let want = sigma_prime_times(act, out[i] as f64, g[i] as f64) as f32;
                    assert_eq!(gp[i].to_bits(), want.to_bits(), "{act:?}");
                    assert_eq!(in_place[i].to_bits(), want.to_bits(), "{act:?} in place");
                }
            }
        }
        // Extremes stay finite and in range.
        let x = [-1e30f32, -100.0, -20.0, 20.0, 100.0, 1e30, 0.0, -0.0];
        let mut out = [0.0; 8];
        activation_forward(Activation::Tanh, Input::Slice(&x), 0.0, &mut out).unwrap();
        assert_eq!(out[..6], [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]);
        activation_forward(Activation::Sigmoid, Input::Slice(&x), 0.0, &mut out).unwrap();
        assert!(out.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(Activation::from_name("gelu").unwrap_err().param, "activation");
        assert_eq!(Activation::from_name("relu").unwrap(), Activation::Relu);
    }
}
