//! The quantum–classical coupling Ψ(t) (design.md §2 eq. 1, seed 002 §1.1) and the
//! scale transition 𝒮(t) (eq. 2, seed 002 §1.2), batched over t.
//!
//!   Ψ(t) = α e^{−βt} cos(γt) + Λ J(t),   J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ
//!   𝒮(t) = 1 / (1 + e^{−λ(t − t_c)})
//!
//! J in closed form is J = Im[(e^{zt} − 1)/z] with z = −β + iγ:
//!
//!   J(t) = (γ − e^{−βt}(β sin γt + γ cos γt)) / (β² + γ²).
//!
//! Written as (g − e^{−βt}(b sin γt + g cos γt))/h with h = hypot(β, γ), b = β/h,
//! g = γ/h, so β² + γ² cannot overflow. For small |w| = |t|·h the closed form cancels
//! (J ≈ γt²/2 while its terms are O(γ)): its relative error grows like ε/|w|². There,
//! J = t·Im φ₁(w), w = zt, φ₁(w) = (e^w − 1)/w = Σ_k w^k/(k+1)!, summed by complex
//! Horner with 19 terms (truncation below 2e-17 relative for |w| < 1). That branch
//! is also the β = γ = 0 limit: w = 0 gives J = 0 exactly, and β, γ → 0 is continuous.
//! So J is accurate to about 1e-15 relative for every t, and Ψ to about
//! 1e-15·(1 + |βt| + |γt|) of |α|e^{−βt} + |Λ||J| (the factor is the rounding of the
//! products βt and γt themselves, inherent to evaluating at a double t).
//!
//! 𝒮 is evaluated from e = e^{−|u|}, u = λ(t − t_c): 1/(1 + e) for u ≥ 0 and
//! e/(1 + e) for u < 0. e ≤ 1 never overflows, so any |u| (up to ±∞) gives a value in
//! [0, 1], exactly 1 for u ≥ 37.5 and exactly 0 for u ≤ −745; λ = 0 gives ½ (even
//! where t − t_c overflows).
//!
//! Paths: the scalar path uses libm; AVX2 and NEON use `vmath` (exp, sin/cos within
//! 2 ulp). Each out_i depends on t_i only, so the thread split never changes a value.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::parallel;
use crate::primes::format_number;

/// The parameters of eq. 1 (seed 002 §1.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CouplingParams {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub lambda_cosmo: f64,
}

/// Below |w| = |t|·hypot(β, γ) = SERIES_MAX_W, J(t) is summed from its series.
pub const SERIES_MAX_W: f64 = 1.0;

/// 1/(k+1)!, k = 0..=18 (correctly rounded): φ₁(w) = Σ_k w^k/(k+1)!.
const PHI1: [f64; 19] = [
    1.0,
    0.5,
    0.166_666_666_666_666_66,
    0.041_666_666_666_666_664,
    0.008_333_333_333_333_333,
    0.001_388_888_888_888_889,
    0.000_198_412_698_412_698_4,
    2.480_158_730_158_73e-5,
    2.755_731_922_398_589_3e-6,
    2.755_731_922_398_589e-7,
    2.505_210_838_544_172e-8,
    2.087_675_698_786_81e-9,
    1.605_904_383_682_161_3e-10,
    1.147_074_559_772_972_5e-11,
    7.647_163_731_819_816e-13,
    4.779_477_332_387_385e-14,
    2.811_457_254_345_520_6e-15,
    1.561_920_696_858_622_5e-16,
    8.220_635_246_624_33e-18,
];

/// Elements from which helper threads are used, and elements per work unit.
const PARALLEL_MIN: usize = 1 << 14;
const UNIT: usize = 1 << 13;

/// Eq. 1's constants, derived once per call.
#[derive(Debug, Clone, Copy)]
struct Coupling {
    alpha: f64,
    neg_beta: f64,
    gamma: f64,
    lambda: f64,
    /// hypot(β, γ), 1/h, and (b, g) = (β, γ)/h (0 when h = 0). A multiplication by 1/h
    /// instead of a division keeps a ~13-cycle divide off every element's path (1/h only
    /// overflows for h < 5.6e-309, where |t|·h < 1 for every finite t: the series path).
    h: f64,
    inv_h: f64,
    b: f64,
    g: f64,
}

impl Coupling {
    fn new(p: &CouplingParams) -> Result<Self, KernelError> {
        for (name, v) in [
            ("alpha", p.alpha),
            ("beta", p.beta),
            ("gamma", p.gamma),
            ("lambdaCosmo", p.lambda_cosmo),
        ] {
            if !v.is_finite() {
                return Err(KernelError::new(name, "a finite number", format_number(v)));
            }
        }
        let h = p.beta.hypot(p.gamma);
        let (b, g) = if h > 0.0 {
            (p.beta / h, p.gamma / h)
        } else {
            (0.0, 0.0)
        };
        Ok(Self {
            alpha: p.alpha,
            neg_beta: -p.beta,
            gamma: p.gamma,
            lambda: p.lambda_cosmo,
            h,
            inv_h: 1.0 / h,
            b,
            g,
        })
    }
}

/// Eq. 2's constants.
#[derive(Debug, Clone, Copy)]
struct Scale {
    lambda: f64,
    critical_time: f64,
}

impl Scale {
    fn new(lambda: f64, critical_time: f64) -> Result<Self, KernelError> {
        if !lambda.is_finite() {
            return Err(KernelError::new(
                "scaleCoupling",
                "a finite number",
                format_number(lambda),
            ));
        }
        if !critical_time.is_finite() {
            return Err(KernelError::new(
                "criticalTime",
                "a finite number",
                format_number(critical_time),
            ));
        }
        Ok(Self {
            lambda,
            critical_time,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Coupling(Coupling),
    Scale(Scale),
}

/// out[i] = Ψ(t[i]) (eq. 1). Non-finite t gives NaN in that slot, never a panic.
pub fn coupling(t: &[f64], out: &mut [f64], p: &CouplingParams) -> Result<(), KernelError> {
    check_out(t.len(), out.len(), "t")?;
    run(simd_path(), Some(t), out, Op::Coupling(Coupling::new(p)?));
    Ok(())
}

/// values[i] = Ψ(values[i]).
pub fn coupling_in_place(values: &mut [f64], p: &CouplingParams) -> Result<(), KernelError> {
    run(simd_path(), None, values, Op::Coupling(Coupling::new(p)?));
    Ok(())
}

/// out[i] = 𝒮(t[i]; λ, t_c) (eq. 2).
pub fn scale_transition(
    t: &[f64],
    out: &mut [f64],
    scale_coupling: f64,
    critical_time: f64,
) -> Result<(), KernelError> {
    check_out(t.len(), out.len(), "t")?;
    run(
        simd_path(),
        Some(t),
        out,
        Op::Scale(Scale::new(scale_coupling, critical_time)?),
    );
    Ok(())
}

/// values[i] = 𝒮(values[i]; λ, t_c).
pub fn scale_transition_in_place(
    values: &mut [f64],
    scale_coupling: f64,
    critical_time: f64,
) -> Result<(), KernelError> {
    run(
        simd_path(),
        None,
        values,
        Op::Scale(Scale::new(scale_coupling, critical_time)?),
    );
    Ok(())
}

fn check_out(n: usize, out: usize, input: &str) -> Result<(), KernelError> {
    if out != n {
        return Err(KernelError::new(
            "out",
            format!("an array of length {n} (the length of {input})"),
            format!("an array of length {out}"),
        ));
    }
    Ok(())
}

/// Splits large calls across threads; `src` None means in place (out holds the input).
fn run(path: SimdPath, src: Option<&[f64]>, out: &mut [f64], op: Op) {
    if let Op::Scale(s) = op {
        if s.lambda == 0.0 {
            out.fill(0.5);
            return;
        }
    }
    if out.len() >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(out, UNIT, |u, oc| {
            let s = src.map(|s| &s[u * UNIT..u * UNIT + oc.len()]);
            serial(path, s, oc, op);
        });
    } else {
        serial(path, src, out, op);
    }
}

/// Dispatcher: one thread, one contiguous range.
fn serial(path: SimdPath, src: Option<&[f64]>, out: &mut [f64], op: Op) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::apply(src, out, op) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the Neon path is only chosen when the CPU reports neon.
        SimdPath::Neon => unsafe { neon::apply(src, out, op) },
        _ => {
            let f = |t: f64| match op {
                Op::Coupling(c) => psi_scalar(t, &c),
                Op::Scale(s) => scale_scalar(t, &s),
            };
            match src {
                Some(s) => s.iter().zip(out.iter_mut()).for_each(|(&t, o)| *o = f(t)),
                None => out.iter_mut().for_each(|o| *o = f(*o)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Scalar reference (libm), in the same operation order as the JS reference.

/// J(t) = t·Im φ₁(w), w = (−βt, γt), by complex Horner.
fn j_series_scalar(t: f64, c: &Coupling) -> f64 {
    let (wr, wi) = (c.neg_beta * t, c.gamma * t);
    let (mut pr, mut pi) = (PHI1[18], 0.0);
    for &ck in PHI1[..18].iter().rev() {
        let nr = pr * wr - pi * wi + ck;
        pi = pr * wi + pi * wr;
        pr = nr;
    }
    t * pi
}

fn psi_scalar(t: f64, c: &Coupling) -> f64 {
    let e = (c.neg_beta * t).exp();
    let (s, co) = (c.gamma * t).sin_cos();
    let j = if c.h * t.abs() < SERIES_MAX_W {
        j_series_scalar(t, c)
    } else {
        (c.g - e * (c.b * s + c.g * co)) * c.inv_h
    };
    c.alpha * (e * co) + c.lambda * j
}

fn scale_scalar(t: f64, s: &Scale) -> f64 {
    let u = s.lambda * (t - s.critical_time);
    let e = (-u.abs()).exp();
    (if u < 0.0 { e } else { 1.0 }) / (1.0 + e)
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 lanes.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Coupling, Op, Scale, PHI1, SERIES_MAX_W};
    use crate::vmath::avx2::{abs, any, exp_with, sin_cos_with, Constants};
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn splat(v: f64) -> __m256d {
        _mm256_set1_pd(v)
    }

    /// Out of line: it runs only for vectors holding a small |t|, and inlined it would
    /// make the main loop too big to inline (its constants would then be reloaded
    /// every iteration).
    #[inline(never)]
    #[target_feature(enable = "avx2,fma")]
    fn j_series(t: __m256d, c: &Coupling) -> __m256d {
        let (wr, wi) = (
            _mm256_mul_pd(splat(c.neg_beta), t),
            _mm256_mul_pd(splat(c.gamma), t),
        );
        let (mut pr, mut pi) = (splat(PHI1[18]), _mm256_setzero_pd());
        for &ck in PHI1[..18].iter().rev() {
            let nr = _mm256_fmadd_pd(pr, wr, _mm256_fnmadd_pd(pi, wi, splat(ck)));
            pi = _mm256_fmadd_pd(pr, wi, _mm256_mul_pd(pi, wr));
            pr = nr;
        }
        _mm256_mul_pd(t, pi)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn psi(t: __m256d, c: &Coupling, k: &Constants) -> __m256d {
        let e = exp_with(_mm256_mul_pd(splat(c.neg_beta), t), k);
        let (s, co) = sin_cos_with(_mm256_mul_pd(splat(c.gamma), t), k);
        let mix = _mm256_fmadd_pd(splat(c.b), s, _mm256_mul_pd(splat(c.g), co));
        let closed = _mm256_mul_pd(_mm256_fnmadd_pd(e, mix, splat(c.g)), splat(c.inv_h));
        let small = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_mul_pd(splat(c.h), abs(t)), splat(SERIES_MAX_W));
        let j = if any(small) {
            _mm256_blendv_pd(closed, j_series(t, c), small)
        } else {
            closed
        };
        _mm256_fmadd_pd(
            splat(c.alpha),
            _mm256_mul_pd(e, co),
            _mm256_mul_pd(splat(c.lambda), j),
        )
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn scale(t: __m256d, s: &Scale, k: &Constants) -> __m256d {
        let u = _mm256_mul_pd(splat(s.lambda), _mm256_sub_pd(t, splat(s.critical_time)));
        let e = exp_with(_mm256_or_pd(u, splat(-0.0)), k); // e^{−|u|}
        let num = _mm256_blendv_pd(splat(1.0), e, _mm256_cmp_pd::<_CMP_LT_OQ>(u, _mm256_setzero_pd()));
        _mm256_div_pd(num, _mm256_add_pd(splat(1.0), e))
    }

    /// out[i] = f(src[i]) (src None: in place), 4 at a time, the tail zero-padded.
    /// One call site of `f` (the tail goes through the same loop body), so LLVM inlines
    /// it and keeps its constants in registers across iterations.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn map(src: Option<&[f64]>, out: &mut [f64], f: impl Fn(__m256d) -> __m256d) {
        let n = out.len();
        let dst = out.as_mut_ptr();
        // In place, reads and writes go through the same raw pointer.
        let from = src.map_or(dst as *const f64, |s| s.as_ptr());
        let mut pad = [0.0; 4];
        let mut i = 0;
        while i < n {
            let full = i + 4 <= n;
            let x = if full {
                // SAFETY: i + 4 ≤ n, and src (when given) has length n.
                unsafe { _mm256_loadu_pd(from.add(i)) }
            } else {
                // SAFETY: n − i < 4 values inside both ranges, into a 4-long array.
                unsafe {
                    std::ptr::copy_nonoverlapping(from.add(i), pad.as_mut_ptr(), n - i);
                    _mm256_loadu_pd(pad.as_ptr())
                }
            };
            let y = f(x);
            if full {
                // SAFETY: as for the load.
                unsafe { _mm256_storeu_pd(dst.add(i), y) };
            } else {
                // SAFETY: 4 values into a 4-long array, then n − i of them out.
                unsafe {
                    _mm256_storeu_pd(pad.as_mut_ptr(), y);
                    std::ptr::copy_nonoverlapping(pad.as_ptr(), dst.add(i), n - i);
                }
            }
            i += 4;
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; src (when given) has out's length.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn apply(src: Option<&[f64]>, out: &mut [f64], op: Op) {
        // One set of vmath constants per call, kept in memory (see vmath::avx2::Constants).
        let k = std::hint::black_box(Constants::new());
        match op {
            Op::Coupling(c) => map(src, out, |t| psi(t, &c, &k)),
            Op::Scale(s) => map(src, out, |t| scale(t, &s, &k)),
        }
    }
}

// ---------------------------------------------------------------------------------
// NEON: 2 lanes, the same math.

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{Coupling, Op, Scale, PHI1, SERIES_MAX_W};
    use crate::vmath::neon::{any, exp, sin_cos};
    use std::arch::aarch64::*;

    #[inline]
    #[target_feature(enable = "neon")]
    fn splat(v: f64) -> float64x2_t {
        vdupq_n_f64(v)
    }

    /// Out of line, as on AVX2.
    #[inline(never)]
    #[target_feature(enable = "neon")]
    fn j_series(t: float64x2_t, c: &Coupling) -> float64x2_t {
        let (wr, wi) = (vmulq_f64(splat(c.neg_beta), t), vmulq_f64(splat(c.gamma), t));
        let (mut pr, mut pi) = (splat(PHI1[18]), splat(0.0));
        for &ck in PHI1[..18].iter().rev() {
            let nr = vfmaq_f64(vfmsq_f64(splat(ck), pi, wi), pr, wr);
            pi = vfmaq_f64(vmulq_f64(pi, wr), pr, wi);
            pr = nr;
        }
        vmulq_f64(t, pi)
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn psi(t: float64x2_t, c: &Coupling) -> float64x2_t {
        let e = exp(vmulq_f64(splat(c.neg_beta), t));
        let (s, co) = sin_cos(vmulq_f64(splat(c.gamma), t));
        let mix = vfmaq_f64(vmulq_f64(splat(c.g), co), splat(c.b), s);
        let closed = vmulq_f64(vfmsq_f64(splat(c.g), e, mix), splat(c.inv_h));
        let small = vcltq_f64(vmulq_f64(splat(c.h), vabsq_f64(t)), splat(SERIES_MAX_W));
        let j = if any(small) {
            vbslq_f64(small, j_series(t, c), closed)
        } else {
            closed
        };
        vfmaq_f64(vmulq_f64(splat(c.lambda), j), splat(c.alpha), vmulq_f64(e, co))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn scale(t: float64x2_t, s: &Scale) -> float64x2_t {
        let u = vmulq_f64(splat(s.lambda), vsubq_f64(t, splat(s.critical_time)));
        let e = exp(vnegq_f64(vabsq_f64(u)));
        let num = vbslq_f64(vcltq_f64(u, splat(0.0)), e, splat(1.0));
        vdivq_f64(num, vaddq_f64(splat(1.0), e))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn map(src: Option<&[f64]>, out: &mut [f64], f: impl Fn(float64x2_t) -> float64x2_t) {
        let n = out.len();
        let dst = out.as_mut_ptr();
        let from = src.map_or(dst as *const f64, |s| s.as_ptr());
        let mut i = 0;
        while i + 2 <= n {
            // SAFETY: i + 2 ≤ n, and src (when given) has length n.
            unsafe { vst1q_f64(dst.add(i), f(vld1q_f64(from.add(i)))) };
            i += 2;
        }
        if i < n {
            // SAFETY: index i < n in both ranges.
            let mut b = [unsafe { *from.add(i) }, 0.0];
            // SAFETY: 2 values in and out of a 2-long array.
            unsafe { vst1q_f64(b.as_mut_ptr(), f(vld1q_f64(b.as_ptr()))) };
            out[i] = b[0];
        }
    }

    /// # Safety
    /// The CPU must support NEON; src (when given) has out's length.
    #[target_feature(enable = "neon")]
    pub unsafe fn apply(src: Option<&[f64]>, out: &mut [f64], op: Op) {
        match op {
            Op::Coupling(c) => map(src, out, |t| psi(t, &c)),
            Op::Scale(s) => map(src, out, |t| scale(t, &s)),
        }
    }
}

// ---------------------------------------------------------------------------------
// Eq. 6's Shannon term

// Eq. 6's Shannon term (the former `entropy` module, kept as one inline module so that its SIMD
// paths and tests keep their names)
mod entropy {
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
}
pub use entropy::shannon_entropy;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    const DEFAULTS: CouplingParams = CouplingParams {
        alpha: 0.45,
        beta: 0.25,
        gamma: 0.35,
        lambda_cosmo: 1.2,
    };

    fn params(alpha: f64, beta: f64, gamma: f64, lambda_cosmo: f64) -> CouplingParams {
        CouplingParams {
            alpha,
            beta,
            gamma,
            lambda_cosmo,
        }
    }

    /// (α, β, γ, Λ, [(t, Ψ(t), J(t))]) from the closed form in 60-digit arithmetic
    /// (mpmath), with the double inputs taken exactly.
    type Reference = (f64, f64, f64, f64, &'static [(f64, f64, f64)]);
    const REFERENCE: &[Reference] = &[
        (
            0.45,
            0.25,
            0.35,
            1.2,
            &[
                (0.0, 0.45, 0.0),
                (1e-09, 0.4499999998875, 1.7499999997083334e-19),
                (0.001, 0.4498876964707194, 1.7497083428142497e-07),
                (0.5, 0.4392604339849633, 0.04016856647546621),
                (1.0, 0.5055367291532442, 0.14693653099216022),
                (2.3, 0.9025798870906128, 0.6058935059444962),
                (10.0, 2.4568857482773407, 2.0762306824389696),
                (100.0, 2.2702702703027584, 1.8918918919236718),
                (-3.0, 3.330714683594622, 2.3805863509173957),
                (1000.0, 2.27027027027027, 1.8918918918918919),
                (100000.0, 2.27027027027027, 1.8918918918918919),
            ],
        ),
        (
            0.45,
            0.0,
            0.35,
            1.2,
            &[
                (0.0, 0.45, 0.0),
                (1e-09, 0.45, 1.75e-19),
                (0.001, 0.4500001824374982, 1.7499999821354168e-07),
                (0.5, 0.49549309483316245, 0.04363846027161864),
                (1.0, 0.6305827053045928, 0.1732208204360602),
                (2.3, 1.3640901071135065, 0.8768250427947306),
                (10.0, 6.217874561430444, 5.532733392259419),
                (100.0, 6.120283210879705, 5.439120585975736),
                (-3.0, 1.9465205216367845, 1.435511291737923),
                (1000.0, 4.273393410135516, 3.667523654806251),
                (100000.0, 6.065367642042532, 5.386443781335762),
            ],
        ),
        (
            0.45,
            0.25,
            0.0,
            1.2,
            &[
                (0.0, 0.45, 0.0),
                (1e-09, 0.4499999998875, 0.0),
                (0.001, 0.4498875140613282, 0.0),
                (0.5, 0.39712360616306797, 0.0),
                (1.0, 0.3504603523821322, 0.0),
                (2.3, 0.25321719096313006, 0.0),
                (10.0, 0.03693824938075446, 0.0),
                (100.0, 6.249574739233809e-12, 0.0),
                (-3.0, 0.9526500074757036, 0.0),
                (1000.0, 1.2011355969935744e-109, 0.0),
                (100000.0, 0.0, 0.0),
            ],
        ),
        (
            0.45,
            0.0,
            0.0,
            1.2,
            &[
                (0.0, 0.45, 0.0),
                (1e-09, 0.45, 0.0),
                (0.5, 0.45, 0.0),
                (100000.0, 0.45, 0.0),
                (-3.0, 0.45, 0.0),
            ],
        ),
        (
            0.0,
            -0.1,
            2.0,
            1.0,
            &[
                (0.0, 0.0, 0.0),
                (1e-09, 1.0000000000666667e-18, 1.0000000000666667e-18),
                (0.001, 1.0000663358067768e-06, 1.0000663358067768e-06),
                (0.5, 0.23751945574757474, 0.23751945574757474),
                (1.0, 0.7531969251877905, 0.7531969251877905),
                (2.3, 0.537966182624479, 0.537966182624479),
                (10.0, 0.007381581608030186, 0.007381581608030186),
                (100.0, -5831.324344878949, -5831.324344878949),
                (-3.0, 0.1491462151134923, 0.1491462151134923),
                (1000.0, 5.550010322101441e+42, 5.550010322101441e+42),
            ],
        ),
        (
            0.0,
            1e-08,
            1e-08,
            1.0,
            &[
                (0.0, 0.0, 0.0),
                (1e-09, 5.000000000000001e-27, 5.000000000000001e-27),
                (0.001, 4.999999999966667e-15, 4.999999999966667e-15),
                (0.5, 1.2499999958333333e-09, 1.2499999958333333e-09),
                (1.0, 4.999999966666667e-09, 4.999999966666667e-09),
                (2.3, 2.644999959443333e-08, 2.644999959443333e-08),
                (10.0, 4.999999666666675e-07, 4.999999666666675e-07),
                (100.0, 4.9999966666675004e-05, 4.9999966666675004e-05),
                (-3.0, 4.500000090000001e-08, 4.500000090000001e-08),
                (1000.0, 0.0049999666667500005, 0.0049999666667500005),
                (100000.0, 49.96667499999945, 49.96667499999945),
            ],
        ),
        (
            1.0,
            3.0,
            1e-06,
            -2.0,
            &[
                (0.0, 1.0, 0.0),
                (1e-09, 0.999999997, 4.99999999e-25),
                (0.001, 0.997004495502375, 4.990011241005622e-13),
                (0.5, 0.2231300618873798, 4.913051106987979e-08),
                (1.0, 0.04978689040078871, 8.898352516983389e-08),
                (2.3, 0.0010075649760469324, 1.1022649945671281e-07),
                (10.0, -2.222221286453232e-07, 1.1111111111077644e-07),
                (100.0, -2.2222222222219752e-07, 1.1111111111109876e-07),
                (-3.0, 8103.06952183416, 0.007202852380058104),
                (1000.0, -2.2222222222219752e-07, 1.1111111111109876e-07),
                (100000.0, -2.2222222222219752e-07, 1.1111111111109876e-07),
            ],
        ),
    ];

    /// The magnitude scale of Ψ(t): |α|e^{−βt} + |Λ|·|J(t)|-bound.
    fn scale_of(t: f64, p: &CouplingParams) -> f64 {
        let e = (-p.beta * t).exp();
        let h = p.beta.hypot(p.gamma);
        let jb = if h * t.abs() < 1.0 {
            t.abs() * e.max(1.0)
        } else {
            (p.gamma.abs() / h + e) / h
        };
        p.alpha.abs() * e + p.lambda_cosmo.abs() * jb
    }

    #[test]
    fn matches_the_high_precision_reference() {
        // Tolerance: 3e-15·(1 + |βt| + |γt|) of the magnitude scale. The factor is the
        // rounding of the products βt and γt (half an ulp of each, which moves e^{−βt}
        // and the phase by that much); the reference takes them exactly. The J-only
        // cases (α = 0) are thus held to the relative accuracy of J, small t included.
        for &(a, b, g, l, rows) in REFERENCE {
            let p = params(a, b, g, l);
            let t: Vec<f64> = rows.iter().map(|r| r.0).collect();
            for path in [SimdPath::Scalar, best_path()] {
                let mut out = vec![f64::NAN; t.len()];
                run(path, Some(&t), &mut out, Op::Coupling(Coupling::new(&p).unwrap()));
                for (&(ti, want, _), &got) in rows.iter().zip(&out) {
                    let cond = 1.0 + (b * ti).abs() + (g * ti).abs();
                    let tol = 3e-15 * cond * scale_of(ti, &p).max(want.abs());
                    assert!(
                        (got - want).abs() <= tol,
                        "{path:?} {p:?} t={ti}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn series_and_closed_form_agree_near_the_switch() {
        // Just below and above |w| = 1 both forms are accurate: evaluate J both ways.
        for &(b, g) in &[(0.25, 0.35), (0.0, 1.0), (1.0, 0.0), (1.0, 1e-6), (-0.3, 0.5)] {
            let c = Coupling::new(&params(0.0, b, g, 1.0)).unwrap();
            for w in [0.5, 0.9, 0.999, 1.001, 1.5] {
                for sign in [1.0, -1.0] {
                    let t = sign * w / c.h;
                    let series = j_series_scalar(t, &c);
                    let e = (c.neg_beta * t).exp();
                    let (s, co) = (c.gamma * t).sin_cos();
                    let closed = (c.g - e * (c.b * s + c.g * co)) / c.h;
                    let tol = 2e-14 * (t.abs() * e.max(1.0));
                    assert!(
                        (series - closed).abs() <= tol,
                        "β={b} γ={g} t={t}: {series} vs {closed}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_matches_scalar() {
        // Tolerance: 1e-14 of the magnitude scale (exp and sin/cos within 2 ulp each).
        let path = best_path();
        for p in [
            DEFAULTS,
            params(0.45, 0.0, 0.35, 1.2),
            params(1.0, -0.05, 3.0, -0.7),
            params(0.3, 0.0, 0.0, 2.0),
        ] {
            for len in [0, 1, 2, 3, 4, 5, 7, 8, 9, 33, 1000] {
                let t: Vec<f64> = (0..len)
                    .map(|i| (i as f64 * 0.7548776662466927).fract() * 60.0 - 10.0)
                    .collect();
                let c = Coupling::new(&p).unwrap();
                let (mut a, mut b) = (vec![f64::NAN; len], vec![f64::NAN; len]);
                run(SimdPath::Scalar, Some(&t), &mut a, Op::Coupling(c));
                run(path, Some(&t), &mut b, Op::Coupling(c));
                for i in 0..len {
                    assert!(
                        (a[i] - b[i]).abs() <= 1e-14 * scale_of(t[i], &p),
                        "{p:?} t={}: {} vs {}",
                        t[i],
                        a[i],
                        b[i]
                    );
                }
            }
        }
    }

    #[test]
    fn in_place_and_threaded_match_the_serial_result() {
        let t: Vec<f64> = (0..50_003).map(|i| i as f64 * 1e-3 - 5.0).collect();
        let mut out = vec![0.0; t.len()];
        coupling(&t, &mut out, &DEFAULTS).unwrap();
        let mut serial_out = vec![0.0; t.len()];
        serial(
            simd_path(),
            Some(&t),
            &mut serial_out,
            Op::Coupling(Coupling::new(&DEFAULTS).unwrap()),
        );
        assert_eq!(out, serial_out);
        let mut inplace = t.clone();
        coupling_in_place(&mut inplace, &DEFAULTS).unwrap();
        assert_eq!(inplace, out);

        let mut s = vec![0.0; t.len()];
        scale_transition(&t, &mut s, 2.0, 1.0).unwrap();
        let mut s_in = t.clone();
        scale_transition_in_place(&mut s_in, 2.0, 1.0).unwrap();
        assert_eq!(s, s_in);
    }

    #[test]
    fn coupling_edges() {
        for path in [SimdPath::Scalar, best_path()] {
            let t = [0.0, f64::NAN, f64::INFINITY, -0.0, 1e-300];
            let mut out = [0.0; 5];
            run(
                path,
                Some(&t),
                &mut out,
                Op::Coupling(Coupling::new(&DEFAULTS).unwrap()),
            );
            assert_eq!(out[0], 0.45, "Ψ(0) = α");
            assert!(out[1].is_nan() && out[2].is_nan());
            assert_eq!(out[3], 0.45);
            assert_eq!(out[4], 0.45);
        }
    }

    #[test]
    fn scale_transition_extremes_are_exact() {
        for path in [SimdPath::Scalar, best_path()] {
            let s = Scale::new(1.0, 0.0).unwrap();
            let t = [1e4, -1e4, 0.0, -0.0, 40.0, -750.0, f64::MAX, -f64::MAX, 1e308];
            let mut out = [9.0; 9];
            run(path, Some(&t), &mut out, Op::Scale(s));
            assert_eq!(out, [1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 1.0, 0.0, 1.0], "{path:?}");
            // λ(t − t_c) overflowing to ±∞ still gives 0 or 1; λ = 0 gives ½.
            let mut out = [9.0; 2];
            run(
                path,
                Some(&[f64::MAX, -f64::MAX]),
                &mut out,
                Op::Scale(Scale::new(1e300, -f64::MAX).unwrap()),
            );
            assert_eq!(out, [1.0, 0.5]);
            run(
                path,
                Some(&[f64::MAX, -f64::MAX]),
                &mut out,
                Op::Scale(Scale::new(0.0, -f64::MAX).unwrap()),
            );
            assert_eq!(out, [0.5, 0.5]);
        }
    }

    #[test]
    fn scale_transition_symmetry_and_accuracy() {
        // 𝒮(u) + 𝒮(−u) = 1 to one rounding each; relative accuracy 2e-16·few against libm.
        let path = best_path();
        let u: Vec<f64> = (0..4001).map(|i| (i as f64 - 2000.0) * 0.37).collect();
        let neg: Vec<f64> = u.iter().map(|v| -v).collect();
        let (mut a, mut b) = (vec![0.0; u.len()], vec![0.0; u.len()]);
        let s = Op::Scale(Scale::new(1.0, 0.0).unwrap());
        run(path, Some(&u), &mut a, s);
        run(path, Some(&neg), &mut b, s);
        for i in 0..u.len() {
            assert!((a[i] + b[i] - 1.0).abs() <= 2.3e-16, "u={}", u[i]);
            let want = scale_scalar(u[i], &Scale::new(1.0, 0.0).unwrap());
            assert!(
                (a[i] - want).abs() <= 4.0 * f64::EPSILON * want,
                "u={}: {} vs {want}",
                u[i],
                a[i]
            );
            if i > 0 {
                assert!(a[i] >= a[i - 1], "monotone at u={}", u[i]);
            }
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut out = [0.0; 2];
        let e = coupling(&[1.0, 2.0, 3.0], &mut out, &DEFAULTS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected an array of length 3 (the length of t) for out but received an array of length 2"
        );
        let bad = |p: CouplingParams| coupling(&[1.0], &mut [0.0], &p).unwrap_err().param;
        assert_eq!(bad(params(f64::NAN, 0.0, 0.0, 0.0)), "alpha");
        assert_eq!(bad(params(0.0, f64::INFINITY, 0.0, 0.0)), "beta");
        assert_eq!(bad(params(0.0, 0.0, f64::NAN, 0.0)), "gamma");
        assert_eq!(bad(params(0.0, 0.0, 0.0, f64::NEG_INFINITY)), "lambdaCosmo");
        assert_eq!(
            scale_transition(&[1.0], &mut [0.0], f64::NAN, 0.0)
                .unwrap_err()
                .param,
            "scaleCoupling"
        );
        assert_eq!(
            scale_transition(&[1.0], &mut [0.0], 1.0, f64::NAN)
                .unwrap_err()
                .param,
            "criticalTime"
        );
    }
}
