//! Vectorized elementary functions shared by the kernels: exp, ln and sin/cos on
//! 4 lanes (AVX2 + FMA) and 2 lanes (NEON), with slice-level entry points that
//! dispatch at run time. The scalar path is the platform libm (`f64::exp`, `ln`,
//! `sin_cos`), which is also what the tests measure the vector paths against. The AVX2
//! module also holds `hsum`, the horizontal sum the AVX2 reductions end with.
//!
//! Accuracy (measured in the tests against libm, which is within 1 ulp itself):
//!
//! | function | range | error |
//! |---|---|---|
//! | `exp` | all f64 (overflow to +∞ above ln(f64::MAX) ≈ 709.78, gradual underflow to 0 below −708.4) | ≤ 2 ulp (relative 4.5e-16) |
//! | `ln` | all f64 (x < 0 or NaN → NaN, 0 → −∞, +∞ → +∞, subnormals exact) | ≤ 2 ulp |
//! | `sin_cos` | all finite f64; |x| ≤ [`TRIG_FAST_MAX`] = 2^40 on the vector path, larger |x| (and non-finite x) per lane through libm | absolute ≤ 2.3e-16 (≈ 1 ulp of 1), relative ≤ 4.5e-16 away from the zeros |
//!
//! How:
//! - **exp**: k = round(x/ln 2), r = x − k·ln 2 with ln 2 split in two doubles (the
//!   first product is exact under FMA), e^r = 1 + r + r²·Q(r) with Q a degree-9
//!   Chebyshev fit of (e^r − 1 − r)/r² on |r| ≤ ln 2/2 + 0.002 (fit error 1.8e-17,
//!   computed with mpmath), then ·2^k built from exponent bits; when any lane needs
//!   k outside [−1022, 1023] the scale is applied as 2^⌊k/2⌋·2^(k−⌊k/2⌋) so that
//!   subnormal results and results just below overflow are right.
//! - **sin/cos**: k = round(x·2/π), r = x − k·π/2 with π/2 in three doubles (Cody–Waite
//!   with FMA: the first step is exact for |k| < 2^50, the residual of the split is
//!   below 1e-49·k), then fdlibm's minimax kernels on |r| ≤ π/4 (sin: 6 terms, cos:
//!   6 terms, each below 4e-18 relative) and the quadrant k mod 4 picks and signs them.
//!   Both come from one reduction, which is why they are computed together.
//! - **ln**: x = 2^e·m with m ∈ [√½, √2), s = (m − 1)/(m + 1), and fdlibm's
//!   log kernel (7-term minimax in s², below 1.3e-18) with ln 2 split so that e·ln2_hi
//!   is exact.

/// Largest |x| for which the vector sin/cos reduce the argument themselves (2^40);
/// beyond it the lane is computed by libm (still accurate, just slower).
pub const TRIG_FAST_MAX: f64 = 1_099_511_627_776.0;

/// ln(f64::MAX): exp overflows to +∞ above it.
pub const EXP_OVERFLOW: f64 = 709.782_712_893_384;

/// exp's input is clamped to [EXP_LO, EXP_HI] (NaN kept): the result is already 0 or
/// +∞ at both ends.
const EXP_LO: f64 = -746.0;
const EXP_HI: f64 = 710.0;

const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 = LN2_HI + LN2_LO (LN2_HI the nearest double).
const LN2_HI: f64 = std::f64::consts::LN_2;
const LN2_LO: f64 = 2.319_046_813_846_299_6e-17;

/// Q(r) ≈ (e^r − 1 − r)/r², coefficients of r^0..r^9 (Chebyshev fit, see the module doc).
const EXP_Q: [f64; 10] = [
    0.500_000_000_000_000_1,
    0.166_666_666_666_666_69,
    0.041_666_666_666_622_16,
    0.008_333_333_333_329_91,
    0.001_388_888_891_819_165,
    0.000_198_412_698_638_056_64,
    2.480_151_978_502_295_4e-5,
    2.755_726_729_807_267_7e-6,
    2.762_080_306_789_032e-7,
    2.510_093_504_703_457e-8,
];

/// 2/π and π/2 = PIO2_1 + PIO2_2 + PIO2_3 (each the nearest double to what is left).
const FRAC_2_PI: f64 = std::f64::consts::FRAC_2_PI;
const PIO2_1: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_2: f64 = 6.123_233_995_736_766e-17;
const PIO2_3: f64 = -1.497_384_904_859_169_8e-33;

#[allow(clippy::excessive_precision)] // fdlibm's published digits, kept as published
/// fdlibm's __kernel_sin: sin(r) ≈ r + r³·(S1 + r²·S2 + … + r^10·S6) on |r| ≤ π/4.
const SIN_S: [f64; 6] = [
    -1.666_666_666_666_663_243_48e-1,
    8.333_333_333_322_489_461_24e-3,
    -1.984_126_982_985_794_931_34e-4,
    2.755_731_370_707_006_767_89e-6,
    -2.505_076_025_340_686_341_95e-8,
    1.589_690_995_211_550_102_21e-10,
];

#[allow(clippy::excessive_precision)]
/// fdlibm's __kernel_cos: cos(r) ≈ 1 − r²/2 + r⁴·(C1 + r²·C2 + … + r^10·C6).
const COS_C: [f64; 6] = [
    4.166_666_666_666_660_190_37e-2,
    -1.388_888_888_887_410_957_49e-3,
    2.480_158_728_947_672_941_78e-5,
    -2.755_731_435_139_066_330_35e-7,
    2.087_572_321_298_174_827_90e-9,
    -1.135_964_755_778_819_482_65e-11,
];

#[allow(clippy::excessive_precision)]
/// fdlibm's __ieee754_log: Lg1..Lg7.
const LOG_LG: [f64; 7] = [
    6.666_666_666_666_735_130e-1,
    3.999_999_999_940_941_908e-1,
    2.857_142_874_366_239_149e-1,
    2.222_219_843_214_978_396e-1,
    1.818_357_216_161_805_012e-1,
    1.531_383_769_920_937_332e-1,
    1.479_819_860_511_658_591e-1,
];
#[allow(clippy::excessive_precision)]
/// fdlibm's ln 2 split: LOG_LN2_HI has 21 trailing zero bits, so e·LOG_LN2_HI is exact.
const LOG_LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
#[allow(clippy::excessive_precision)]
const LOG_LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// 2^52 + 2^51: adding it to an integer-valued double (|k| < 2^51) leaves k in the low
/// mantissa bits, two's complement.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// 2^52 as a multiplier for subnormal inputs of ln.
const TWO_52: f64 = 4_503_599_627_370_496.0;

use crate::cpu::{simd_path, SimdPath};

/// out[i] = e^{x[i]}. Panics if the lengths differ (an internal misuse).
pub fn exp(x: &[f64], out: &mut [f64]) {
    assert_eq!(x.len(), out.len(), "vmath::exp: x and out differ in length");
    exp_on(simd_path(), x, out);
}

/// out[i] = ln x[i]. Panics if the lengths differ.
pub fn ln(x: &[f64], out: &mut [f64]) {
    assert_eq!(x.len(), out.len(), "vmath::ln: x and out differ in length");
    ln_on(simd_path(), x, out);
}

/// sin_out[i] = sin x[i], cos_out[i] = cos x[i]. Panics if the lengths differ.
pub fn sin_cos(x: &[f64], sin_out: &mut [f64], cos_out: &mut [f64]) {
    assert!(
        x.len() == sin_out.len() && x.len() == cos_out.len(),
        "vmath::sin_cos: x, sin_out and cos_out differ in length"
    );
    sin_cos_on(simd_path(), x, sin_out, cos_out);
}

pub(crate) fn exp_on(path: SimdPath, x: &[f64], out: &mut [f64]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::exp_slice(x, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the Neon path is only chosen when the CPU reports neon.
        SimdPath::Neon => unsafe { neon::exp_slice(x, out) },
        _ => x.iter().zip(out).for_each(|(&v, o)| *o = v.exp()),
    }
}

pub(crate) fn ln_on(path: SimdPath, x: &[f64], out: &mut [f64]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdPath::Avx2Fma => unsafe { avx2::ln_slice(x, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        SimdPath::Neon => unsafe { neon::ln_slice(x, out) },
        _ => x.iter().zip(out).for_each(|(&v, o)| *o = v.ln()),
    }
}

pub(crate) fn sin_cos_on(path: SimdPath, x: &[f64], sin_out: &mut [f64], cos_out: &mut [f64]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        SimdPath::Avx2Fma => unsafe { avx2::sin_cos_slice(x, sin_out, cos_out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        SimdPath::Neon => unsafe { neon::sin_cos_slice(x, sin_out, cos_out) },
        _ => {
            for ((&v, s), c) in x.iter().zip(sin_out).zip(cos_out) {
                (*s, *c) = v.sin_cos();
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 lanes. The functions on `__m256d` are safe `#[target_feature]`
// functions: kernels compiled with the same features call (and inline) them.

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn splat(v: f64) -> __m256d {
        _mm256_set1_pd(v)
    }

    /// |x| (clears the sign bit).
    ///
    /// # Safety
    /// Call only from code compiled with AVX2 and FMA enabled (a `#[target_feature]`
    /// function reached after the run-time check); safe there.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn abs(x: __m256d) -> __m256d {
        _mm256_andnot_pd(splat(-0.0), x)
    }

    /// Sum of the 4 lanes in a fixed order, (v₀ + v₂) + (v₁ + v₃): the last step of the
    /// AVX2 reductions (reduce, entropy, elementwise).
    ///
    /// # Safety
    /// As for `abs`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn hsum(v: __m256d) -> f64 {
        let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
    }

    /// True when any lane of a comparison mask is set.
    ///
    /// # Safety
    /// Call only from code compiled with AVX2 and FMA enabled (a `#[target_feature]`
    /// function reached after the run-time check); safe there.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn any(mask: __m256d) -> bool {
        _mm256_movemask_pd(mask) != 0
    }

    /// Round to nearest, ties to even.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn round(x: __m256d) -> __m256d {
        _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }

    /// c[0] + c[1]·z + … by Horner.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn horner<const N: usize>(z: __m256d, c: &[__m256d; N]) -> __m256d {
        let mut acc = c[N - 1];
        for k in (0..N - 1).rev() {
            acc = _mm256_fmadd_pd(acc, z, c[k]);
        }
        acc
    }

    /// Every constant of exp, sin_cos and ln as a 4-lane vector.
    ///
    /// Why a value and not literals: the three functions use about 50 constants, more
    /// than the 16 vector registers, and LLVM re-broadcasts spilled splat constants
    /// (`vbroadcastsd`, one extra µop each) on every iteration of a kernel's loop. A
    /// kernel that builds one `Constants` per call and hides it from constant folding
    /// (`std::hint::black_box`) gets them as memory operands folded into the arithmetic
    /// instead, as GCC does for the C++ twin: 8–16% less CPU time per call here. The
    /// plain `exp`/`sin_cos`/`ln` build one inline (fine outside loops).
    #[derive(Clone, Copy)]
    pub struct Constants {
        exp_lo: __m256d,
        exp_hi: __m256d,
        log2_e: __m256d,
        ln2_hi: __m256d,
        ln2_lo: __m256d,
        exp_even: [__m256d; 5],
        exp_odd: [__m256d; 5],
        one: __m256d,
        half: __m256d,
        min_k: __m256d,
        max_k: __m256d,
        magic: __m256d,
        frac_2_pi: __m256d,
        pio2: [__m256d; 3],
        sin: [__m256d; 6],
        cos: [__m256d; 6],
        minus_half: __m256d,
        sign: __m256d,
        trig_max: __m256d,
        min_positive: __m256d,
        two_52: __m256d,
        sqrt_2: __m256d,
        two: __m256d,
        lg_odd: [__m256d; 3],
        lg_even: [__m256d; 4],
        exponent_normal: __m256d,
        exponent_high: __m256d,
        exponent_tiny: __m256d,
        log_ln2_hi: __m256d,
        log_ln2_lo: __m256d,
        inf: __m256d,
        neg_inf: __m256d,
        nan: __m256d,
    }

    impl Constants {
        /// # Safety
        /// Call only from code compiled with AVX2 and FMA enabled; safe there.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn new() -> Self {
            let v = |x: f64| _mm256_set1_pd(x);
            Self {
                exp_lo: v(EXP_LO),
                exp_hi: v(EXP_HI),
                log2_e: v(LOG2_E),
                ln2_hi: v(LN2_HI),
                ln2_lo: v(LN2_LO),
                exp_even: [EXP_Q[0], EXP_Q[2], EXP_Q[4], EXP_Q[6], EXP_Q[8]].map(v),
                exp_odd: [EXP_Q[1], EXP_Q[3], EXP_Q[5], EXP_Q[7], EXP_Q[9]].map(v),
                one: v(1.0),
                half: v(0.5),
                min_k: v(-1022.0),
                max_k: v(1023.0),
                magic: v(MAGIC),
                frac_2_pi: v(FRAC_2_PI),
                pio2: [PIO2_1, PIO2_2, PIO2_3].map(v),
                sin: SIN_S.map(v),
                cos: COS_C.map(v),
                minus_half: v(-0.5),
                sign: v(-0.0),
                trig_max: v(TRIG_FAST_MAX),
                min_positive: v(f64::MIN_POSITIVE),
                two_52: v(TWO_52),
                sqrt_2: v(std::f64::consts::SQRT_2),
                two: v(2.0),
                lg_odd: [LOG_LG[1], LOG_LG[3], LOG_LG[5]].map(v),
                lg_even: [LOG_LG[0], LOG_LG[2], LOG_LG[4], LOG_LG[6]].map(v),
                exponent_normal: v(-1023.0),
                exponent_high: v(-1022.0),
                exponent_tiny: v(-52.0),
                log_ln2_hi: v(LOG_LN2_HI),
                log_ln2_lo: v(LOG_LN2_LO),
                inf: v(f64::INFINITY),
                neg_inf: v(f64::NEG_INFINITY),
                nan: v(f64::NAN),
            }
        }
    }

    /// The low bits of integer-valued k (|k| < 2^51) as i64 lanes, two's complement.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn int_bits_k(k: __m256d, c: &Constants) -> __m256i {
        _mm256_castpd_si256(_mm256_add_pd(k, c.magic))
    }

    /// 2^k for integer-valued k in [−1022, 1023]: the exponent field built directly (the
    /// low 12 bits of bits + 1023 are (k + 1023) mod 4096; the shift drops the rest).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn pow2_k(k: __m256d, c: &Constants) -> __m256d {
        let biased = _mm256_add_epi64(int_bits_k(k, c), _mm256_set1_epi64x(1023));
        _mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased))
    }

    /// e^x on 4 lanes.
    ///
    /// # Safety
    /// Call only from code compiled with AVX2 and FMA enabled (a `#[target_feature]`
    /// function reached after the run-time check); safe there.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn exp(x: __m256d) -> __m256d {
        exp_with(x, &Constants::new())
    }

    /// `exp` with the constants given (see [`Constants`]).
    ///
    /// # Safety
    /// As for `exp`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn exp_with(x: __m256d, c: &Constants) -> __m256d {
        // max/min return their second operand when either is NaN: NaN survives the clamp.
        let x = _mm256_min_pd(c.exp_hi, _mm256_max_pd(c.exp_lo, x));
        let k = round(_mm256_mul_pd(x, c.log2_e));
        let r = _mm256_fnmadd_pd(k, c.ln2_hi, x); // exact
        let r = _mm256_fnmadd_pd(k, c.ln2_lo, r);
        // Q(r) as two interleaved chains in r² (even and odd coefficients).
        let r2 = _mm256_mul_pd(r, r);
        let even = horner(r2, &c.exp_even);
        let odd = horner(r2, &c.exp_odd);
        let q = _mm256_fmadd_pd(odd, r, even);
        let p = _mm256_add_pd(c.one, _mm256_fmadd_pd(r2, q, r));
        let outside = _mm256_or_pd(
            _mm256_cmp_pd::<_CMP_LT_OQ>(k, c.min_k),
            _mm256_cmp_pd::<_CMP_GT_OQ>(k, c.max_k),
        );
        if !any(outside) {
            return _mm256_mul_pd(p, pow2_k(k, c));
        }
        let k1 = _mm256_round_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm256_mul_pd(k, c.half));
        let k2 = _mm256_sub_pd(k, k1);
        _mm256_mul_pd(_mm256_mul_pd(p, pow2_k(k1, c)), pow2_k(k2, c))
    }

    /// (sin x, cos x) on 4 lanes; lanes with |x| > TRIG_FAST_MAX or non-finite x go
    /// through libm.
    ///
    /// # Safety
    /// Call only from code compiled with AVX2 and FMA enabled (a `#[target_feature]`
    /// function reached after the run-time check); safe there.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn sin_cos(x: __m256d) -> (__m256d, __m256d) {
        sin_cos_with(x, &Constants::new())
    }

    /// `sin_cos` with the constants given (see [`Constants`]).
    ///
    /// # Safety
    /// As for `sin_cos`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn sin_cos_with(x: __m256d, c: &Constants) -> (__m256d, __m256d) {
        let k = round(_mm256_mul_pd(x, c.frac_2_pi));
        let r = _mm256_fnmadd_pd(k, c.pio2[0], x); // exact for |k| < 2^50
        let r = _mm256_fnmadd_pd(k, c.pio2[1], r);
        let r = _mm256_fnmadd_pd(k, c.pio2[2], r);
        let z = _mm256_mul_pd(r, r);
        let sin_r = _mm256_fmadd_pd(_mm256_mul_pd(r, z), horner(z, &c.sin), r);
        let cos_r = _mm256_fmadd_pd(z, _mm256_fmadd_pd(z, horner(z, &c.cos), c.minus_half), c.one);
        // Quadrant q = k mod 4: odd q swaps sin and cos; bit 1 of q (of q + 1) flips
        // the sign of sin (of cos).
        let q = int_bits_k(k, c);
        let one = _mm256_set1_epi64x(1);
        let swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, one), one));
        let sin_sign = _mm256_and_pd(_mm256_castsi256_pd(_mm256_slli_epi64::<62>(q)), c.sign);
        let cos_sign = _mm256_and_pd(
            _mm256_castsi256_pd(_mm256_slli_epi64::<62>(_mm256_add_epi64(q, one))),
            c.sign,
        );
        let s = _mm256_xor_pd(_mm256_blendv_pd(sin_r, cos_r, swap), sin_sign);
        let co = _mm256_xor_pd(_mm256_blendv_pd(cos_r, sin_r, swap), cos_sign);
        // Not (|x| ≤ max): also true for NaN.
        let far = _mm256_cmp_pd::<_CMP_NLE_UQ>(_mm256_andnot_pd(c.sign, x), c.trig_max);
        if any(far) {
            return sin_cos_far(x, s, co, far);
        }
        (s, co)
    }

    /// The rare lanes sin_cos does not reduce itself, through libm.
    #[cold]
    #[target_feature(enable = "avx2,fma")]
    fn sin_cos_far(x: __m256d, s: __m256d, c: __m256d, far: __m256d) -> (__m256d, __m256d) {
        let (mut xs, mut ss, mut cs) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        // SAFETY: each store writes 4 values into a 4-long array.
        unsafe {
            _mm256_storeu_pd(xs.as_mut_ptr(), x);
            _mm256_storeu_pd(ss.as_mut_ptr(), s);
            _mm256_storeu_pd(cs.as_mut_ptr(), c);
        }
        let mask = _mm256_movemask_pd(far);
        for lane in 0..4 {
            if mask & (1 << lane) != 0 {
                (ss[lane], cs[lane]) = xs[lane].sin_cos();
            }
        }
        // SAFETY: each load reads 4 values from a 4-long array.
        unsafe { (_mm256_loadu_pd(ss.as_ptr()), _mm256_loadu_pd(cs.as_ptr())) }
    }

    /// ln x on 4 lanes (x < 0 or NaN → NaN, 0 → −∞, +∞ → +∞).
    ///
    /// # Safety
    /// Call only from code compiled with AVX2 and FMA enabled (a `#[target_feature]`
    /// function reached after the run-time check); safe there.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn ln(x: __m256d) -> __m256d {
        ln_with(x, &Constants::new())
    }

    /// `ln` with the constants given (see [`Constants`]).
    ///
    /// # Safety
    /// As for `ln`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn ln_with(x: __m256d, c: &Constants) -> __m256d {
        // Subnormals (and 0, negatives, handled at the end) are scaled by 2^52 first.
        let tiny = _mm256_cmp_pd::<_CMP_LT_OQ>(x, c.min_positive);
        let xs = _mm256_blendv_pd(x, _mm256_mul_pd(x, c.two_52), tiny);
        let bits = _mm256_castpd_si256(xs);
        let mantissa = _mm256_and_si256(bits, _mm256_set1_epi64x(0x000f_ffff_ffff_ffff));
        let m = _mm256_castsi256_pd(_mm256_or_si256(mantissa, _mm256_castpd_si256(c.one)));
        let high = _mm256_cmp_pd::<_CMP_GT_OQ>(m, c.sqrt_2);
        let m = _mm256_blendv_pd(m, _mm256_mul_pd(m, c.half), high);
        // Biased exponent as a double: its bits under 2^52's exponent, minus 2^52.
        let biased = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(
                _mm256_srli_epi64::<52>(bits),
                _mm256_castpd_si256(c.two_52),
            )),
            c.two_52,
        );
        let e = _mm256_add_pd(
            biased,
            _mm256_add_pd(
                _mm256_blendv_pd(c.exponent_normal, c.exponent_high, high),
                _mm256_and_pd(tiny, c.exponent_tiny),
            ),
        );
        let f = _mm256_sub_pd(m, c.one);
        let s = _mm256_div_pd(f, _mm256_add_pd(c.two, f));
        let z = _mm256_mul_pd(s, s);
        let w = _mm256_mul_pd(z, z);
        let t1 = _mm256_mul_pd(w, horner(w, &c.lg_odd));
        let t2 = _mm256_mul_pd(z, horner(w, &c.lg_even));
        let r = _mm256_add_pd(t1, t2);
        let hfsq = _mm256_mul_pd(c.half, _mm256_mul_pd(f, f));
        // e·ln2_hi − ((hfsq − (s·(hfsq + R) + e·ln2_lo)) − f), as fdlibm.
        let inner = _mm256_fmadd_pd(e, c.log_ln2_lo, _mm256_mul_pd(s, _mm256_add_pd(hfsq, r)));
        let y = _mm256_sub_pd(
            _mm256_mul_pd(e, c.log_ln2_hi),
            _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f),
        );
        let zero = _mm256_cmp_pd::<_CMP_EQ_OQ>(x, _mm256_setzero_pd());
        let inf = _mm256_cmp_pd::<_CMP_EQ_OQ>(x, c.inf);
        let invalid = _mm256_cmp_pd::<_CMP_NGE_UQ>(x, _mm256_setzero_pd()); // x < 0 or NaN
        let y = _mm256_blendv_pd(y, c.neg_inf, zero);
        let y = _mm256_blendv_pd(y, c.inf, inf);
        _mm256_blendv_pd(y, c.nan, invalid)
    }

    /// Applies `f` to 4 values at a time; the tail goes through a zero-padded block.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn map(x: &[f64], out: &mut [f64], f: impl Fn(__m256d) -> __m256d) {
        let n = x.len().min(out.len());
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: i + 4 ≤ n for both slices.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(i), f(_mm256_loadu_pd(x.as_ptr().add(i)))) };
            i += 4;
        }
        if i < n {
            let mut b = [0.0; 4];
            b[..n - i].copy_from_slice(&x[i..n]);
            // SAFETY: 4 values in and out of a 4-long array.
            unsafe { _mm256_storeu_pd(b.as_mut_ptr(), f(_mm256_loadu_pd(b.as_ptr()))) };
            out[i..n].copy_from_slice(&b[..n - i]);
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_slice(x: &[f64], out: &mut [f64]) {
        let c = std::hint::black_box(Constants::new());
        map(x, out, |v| exp_with(v, &c));
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn ln_slice(x: &[f64], out: &mut [f64]) {
        let c = std::hint::black_box(Constants::new());
        map(x, out, |v| ln_with(v, &c));
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sin_cos_slice(x: &[f64], sin_out: &mut [f64], cos_out: &mut [f64]) {
        let c = std::hint::black_box(Constants::new());
        map(x, sin_out, |v| sin_cos_with(v, &c).0);
        map(x, cos_out, |v| sin_cos_with(v, &c).1);
    }
}

// ---------------------------------------------------------------------------------
// NEON: 2 lanes, the same algorithms.

#[cfg(target_arch = "aarch64")]
pub mod neon {
    use super::*;
    use std::arch::aarch64::*;

    #[inline]
    #[target_feature(enable = "neon")]
    fn splat(v: f64) -> float64x2_t {
        vdupq_n_f64(v)
    }

    /// True when any lane of a comparison mask is set.
    ///
    /// # Safety
    /// Call only from code compiled with NEON enabled; safe there.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn any(mask: uint64x2_t) -> bool {
        vmaxvq_u32(vreinterpretq_u32_u64(mask)) != 0
    }

    /// c[0] + c[1]·z + … by Horner.
    #[inline]
    #[target_feature(enable = "neon")]
    fn horner<const N: usize>(z: float64x2_t, c: &[f64; N]) -> float64x2_t {
        let mut acc = splat(c[N - 1]);
        for k in (0..N - 1).rev() {
            acc = vfmaq_f64(splat(c[k]), acc, z);
        }
        acc
    }

    /// 2^k for integer-valued k in [−1022, 1023].
    #[inline]
    #[target_feature(enable = "neon")]
    fn pow2(k: float64x2_t) -> float64x2_t {
        let biased = vaddq_s64(vcvtq_s64_f64(k), vdupq_n_s64(1023));
        vreinterpretq_f64_s64(vshlq_n_s64::<52>(biased))
    }

    /// e^x on 2 lanes.
    ///
    /// # Safety
    /// Call only from code compiled with NEON enabled; safe there.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn exp(x: float64x2_t) -> float64x2_t {
        // vmaxq/vminq propagate NaN.
        let x = vminq_f64(splat(EXP_HI), vmaxq_f64(splat(EXP_LO), x));
        let k = vrndnq_f64(vmulq_f64(x, splat(LOG2_E)));
        let r = vfmsq_f64(x, k, splat(LN2_HI));
        let r = vfmsq_f64(r, k, splat(LN2_LO));
        let r2 = vmulq_f64(r, r);
        let even = horner(r2, &[EXP_Q[0], EXP_Q[2], EXP_Q[4], EXP_Q[6], EXP_Q[8]]);
        let odd = horner(r2, &[EXP_Q[1], EXP_Q[3], EXP_Q[5], EXP_Q[7], EXP_Q[9]]);
        let q = vfmaq_f64(even, odd, r);
        let p = vaddq_f64(splat(1.0), vfmaq_f64(r, r2, q));
        let outside = vorrq_u64(vcltq_f64(k, splat(-1022.0)), vcgtq_f64(k, splat(1023.0)));
        // A NaN lane converts to 0 here; p is NaN there, so the product stays NaN.
        if !any(outside) {
            return vmulq_f64(p, pow2(k));
        }
        let k1 = vrndmq_f64(vmulq_f64(k, splat(0.5)));
        let k2 = vsubq_f64(k, k1);
        vmulq_f64(vmulq_f64(p, pow2(k1)), pow2(k2))
    }

    /// (sin x, cos x) on 2 lanes; |x| > TRIG_FAST_MAX or non-finite lanes through libm.
    ///
    /// # Safety
    /// Call only from code compiled with NEON enabled; safe there.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn sin_cos(x: float64x2_t) -> (float64x2_t, float64x2_t) {
        let k = vrndnq_f64(vmulq_f64(x, splat(FRAC_2_PI)));
        let r = vfmsq_f64(x, k, splat(PIO2_1));
        let r = vfmsq_f64(r, k, splat(PIO2_2));
        let r = vfmsq_f64(r, k, splat(PIO2_3));
        let z = vmulq_f64(r, r);
        let sin_r = vfmaq_f64(r, vmulq_f64(r, z), horner(z, &SIN_S));
        let cos_r = vfmaq_f64(splat(1.0), z, vfmaq_f64(splat(-0.5), z, horner(z, &COS_C)));
        let q = vcvtq_s64_f64(k);
        let one = vdupq_n_s64(1);
        let swap = vceqq_s64(vandq_s64(q, one), one);
        let sign = vdupq_n_u64(1 << 63);
        let sin_sign = vandq_u64(vreinterpretq_u64_s64(vshlq_n_s64::<62>(q)), sign);
        let cos_sign = vandq_u64(vreinterpretq_u64_s64(vshlq_n_s64::<62>(vaddq_s64(q, one))), sign);
        let s = vbslq_f64(swap, cos_r, sin_r);
        let c = vbslq_f64(swap, sin_r, cos_r);
        let s = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(s), sin_sign));
        let c = vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(c), cos_sign));
        let near = vcleq_f64(vabsq_f64(x), splat(TRIG_FAST_MAX)); // false for NaN
        if vminvq_u32(vreinterpretq_u32_u64(near)) == 0 {
            return sin_cos_far(x, s, c, near);
        }
        (s, c)
    }

    #[cold]
    #[target_feature(enable = "neon")]
    fn sin_cos_far(
        x: float64x2_t,
        s: float64x2_t,
        c: float64x2_t,
        near: uint64x2_t,
    ) -> (float64x2_t, float64x2_t) {
        let (mut xs, mut ss, mut cs, mut ns) = ([0.0; 2], [0.0; 2], [0.0; 2], [0u64; 2]);
        // SAFETY: each store writes 2 values into a 2-long array.
        unsafe {
            vst1q_f64(xs.as_mut_ptr(), x);
            vst1q_f64(ss.as_mut_ptr(), s);
            vst1q_f64(cs.as_mut_ptr(), c);
            vst1q_u64(ns.as_mut_ptr(), near);
        }
        for lane in 0..2 {
            if ns[lane] == 0 {
                (ss[lane], cs[lane]) = xs[lane].sin_cos();
            }
        }
        // SAFETY: each load reads 2 values from a 2-long array.
        unsafe { (vld1q_f64(ss.as_ptr()), vld1q_f64(cs.as_ptr())) }
    }

    /// ln x on 2 lanes (x < 0 or NaN → NaN, 0 → −∞, +∞ → +∞).
    ///
    /// # Safety
    /// Call only from code compiled with NEON enabled; safe there.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn ln(x: float64x2_t) -> float64x2_t {
        let tiny = vcltq_f64(x, splat(f64::MIN_POSITIVE));
        let xs = vbslq_f64(tiny, vmulq_f64(x, splat(TWO_52)), x);
        let bits = vreinterpretq_u64_f64(xs);
        let mantissa = vandq_u64(bits, vdupq_n_u64(0x000f_ffff_ffff_ffff));
        let m = vreinterpretq_f64_u64(vorrq_u64(mantissa, vdupq_n_u64(0x3ff0_0000_0000_0000)));
        let high = vcgtq_f64(m, splat(std::f64::consts::SQRT_2));
        let m = vbslq_f64(high, vmulq_f64(m, splat(0.5)), m);
        let biased = vcvtq_f64_u64(vshrq_n_u64::<52>(bits));
        let e = vaddq_f64(
            biased,
            vaddq_f64(
                vbslq_f64(high, splat(-1022.0), splat(-1023.0)),
                vbslq_f64(tiny, splat(-52.0), splat(0.0)),
            ),
        );
        let f = vsubq_f64(m, splat(1.0));
        let s = vdivq_f64(f, vaddq_f64(splat(2.0), f));
        let z = vmulq_f64(s, s);
        let w = vmulq_f64(z, z);
        let t1 = vmulq_f64(w, horner(w, &[LOG_LG[1], LOG_LG[3], LOG_LG[5]]));
        let t2 = vmulq_f64(z, horner(w, &[LOG_LG[0], LOG_LG[2], LOG_LG[4], LOG_LG[6]]));
        let r = vaddq_f64(t1, t2);
        let hfsq = vmulq_f64(splat(0.5), vmulq_f64(f, f));
        let inner = vfmaq_f64(vmulq_f64(s, vaddq_f64(hfsq, r)), e, splat(LOG_LN2_LO));
        let y = vsubq_f64(
            vmulq_f64(e, splat(LOG_LN2_HI)),
            vsubq_f64(vsubq_f64(hfsq, inner), f),
        );
        let zero = vceqq_f64(x, splat(0.0));
        let inf = vceqq_f64(x, splat(f64::INFINITY));
        let valid = vcgeq_f64(x, splat(0.0)); // false for x < 0 and NaN
        let y = vbslq_f64(zero, splat(f64::NEG_INFINITY), y);
        let y = vbslq_f64(inf, splat(f64::INFINITY), y);
        vbslq_f64(valid, y, splat(f64::NAN))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn map(x: &[f64], out: &mut [f64], f: impl Fn(float64x2_t) -> float64x2_t) {
        let n = x.len().min(out.len());
        let mut i = 0;
        while i + 2 <= n {
            // SAFETY: i + 2 ≤ n for both slices.
            unsafe { vst1q_f64(out.as_mut_ptr().add(i), f(vld1q_f64(x.as_ptr().add(i)))) };
            i += 2;
        }
        if i < n {
            let mut b = [0.0; 2];
            b[0] = x[i];
            // SAFETY: 2 values in and out of a 2-long array.
            unsafe { vst1q_f64(b.as_mut_ptr(), f(vld1q_f64(b.as_ptr()))) };
            out[i] = b[0];
        }
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn exp_slice(x: &[f64], out: &mut [f64]) {
        map(x, out, |v| exp(v));
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn ln_slice(x: &[f64], out: &mut [f64]) {
        map(x, out, |v| ln(v));
    }

    /// # Safety
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn sin_cos_slice(x: &[f64], sin_out: &mut [f64], cos_out: &mut [f64]) {
        map(x, sin_out, |v| sin_cos(v).0);
        map(x, cos_out, |v| sin_cos(v).1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// Deterministic uniform values in [lo, hi).
    fn uniform(len: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    /// Max error in units of the reference's ulp-scale: |got − want| / (ε·|want|).
    fn worst_ulps(got: &[f64], want: &[f64]) -> f64 {
        got.iter()
            .zip(want)
            .map(|(&g, &w)| {
                if g == w {
                    0.0
                } else {
                    (g - w).abs() / (f64::EPSILON * w.abs().max(f64::MIN_POSITIVE))
                }
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_matches_libm() {
        let path = best_path();
        for (lo, hi) in [
            (-1.0, 1.0),
            (-50.0, 50.0),
            (-708.0, 709.7),
            (-745.0, -700.0),
            (700.0, 709.78),
        ] {
            let x = uniform(20_011, 1, lo, hi);
            let mut got = vec![0.0; x.len()];
            exp_on(path, &x, &mut got);
            let want: Vec<f64> = x.iter().map(|v| v.exp()).collect();
            // Subnormal results carry fewer bits: compare them in absolute terms.
            for ((&g, &w), &v) in got.iter().zip(&want).zip(&x) {
                if w < f64::MIN_POSITIVE {
                    assert!((g - w).abs() <= 2.0 * 4.9e-324, "x={v}: {g} vs {w}");
                }
            }
            let normal: Vec<(f64, f64)> = got
                .iter()
                .zip(&want)
                .filter(|(_, &w)| w >= f64::MIN_POSITIVE)
                .map(|(&g, &w)| (g, w))
                .collect();
            let (g, w): (Vec<f64>, Vec<f64>) = normal.into_iter().unzip();
            let u = worst_ulps(&g, &w);
            assert!(u <= 2.0, "[{lo}, {hi}]: {u} ulp");
        }
    }

    #[test]
    fn exp_special_values() {
        let path = best_path();
        let x = [
            0.0,
            -0.0,
            1.0,
            709.78,
            709.79,
            710.0,
            1e300,
            f64::INFINITY,
            -745.2,
            -1e300,
            f64::NEG_INFINITY,
            f64::NAN,
            -708.5,
            -744.4,
        ];
        let mut got = [0.0; 14];
        exp_on(path, &x, &mut got);
        assert_eq!(got[0], 1.0);
        assert_eq!(got[1], 1.0);
        assert!((got[2] - std::f64::consts::E).abs() <= f64::EPSILON * 3.0);
        assert!(got[3].is_finite() && (got[3] / 709.78f64.exp() - 1.0).abs() < 1e-15);
        for i in 4..8 {
            assert_eq!(got[i], f64::INFINITY, "x={}", x[i]);
        }
        for i in 8..11 {
            assert_eq!(got[i], 0.0, "x={}", x[i]);
        }
        assert!(got[11].is_nan());
        assert!(
            (got[12] / (-708.5f64).exp() - 1.0).abs() < 1e-14,
            "subnormal range start"
        );
        assert!((got[13] - (-744.4f64).exp()).abs() <= 4.9e-324);
    }

    #[test]
    fn ln_matches_libm() {
        let path = best_path();
        for (lo, hi) in [
            (0.5, 2.0),
            (1e-3, 1e3),
            (0.0, 1e-300),
            (1e300, f64::MAX),
            (0.999, 1.001),
        ] {
            let x = uniform(20_011, 2, lo, hi);
            let mut got = vec![0.0; x.len()];
            ln_on(path, &x, &mut got);
            let want: Vec<f64> = x.iter().map(|v| v.ln()).collect();
            let u = worst_ulps(&got, &want);
            assert!(u <= 2.0, "[{lo}, {hi}]: {u} ulp");
        }
        let x = [
            0.0,
            -0.0,
            -1.0,
            f64::INFINITY,
            f64::NAN,
            1.0,
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            -f64::INFINITY,
        ];
        let mut got = [0.0; 10];
        ln_on(path, &x, &mut got);
        assert_eq!(got[0], f64::NEG_INFINITY);
        assert_eq!(got[1], f64::NEG_INFINITY);
        assert!(got[2].is_nan() && got[4].is_nan() && got[9].is_nan());
        assert_eq!(got[3], f64::INFINITY);
        assert_eq!(got[5], 0.0);
        for i in [6, 7, 8] {
            assert!(
                (got[i] - x[i].ln()).abs() <= 2.0 * f64::EPSILON * x[i].ln().abs(),
                "x={}",
                x[i]
            );
        }
    }

    #[test]
    fn sin_cos_match_libm() {
        let path = best_path();
        for (lo, hi) in [
            (-4.0, 4.0),
            (-100.0, 100.0),
            (-1e6, 1e6),
            (-TRIG_FAST_MAX, TRIG_FAST_MAX),
            (1e13, 1e15),
        ] {
            let x = uniform(20_011, 3, lo, hi);
            let (mut s, mut c) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            sin_cos_on(path, &x, &mut s, &mut c);
            for ((&v, &sv), &cv) in x.iter().zip(&s).zip(&c) {
                let (ws, wc) = v.sin_cos();
                // Absolute 1 ulp of 1, and relative 2 ulp where the value is not tiny.
                assert!((sv - ws).abs() <= 2.3e-16 && (cv - wc).abs() <= 2.3e-16, "x={v}");
                assert!(
                    (sv - ws).abs() <= 2.0 * f64::EPSILON * ws.abs().max(1e-3),
                    "sin x={v}: {sv} vs {ws}"
                );
                assert!(
                    (cv - wc).abs() <= 2.0 * f64::EPSILON * wc.abs().max(1e-3),
                    "cos x={v}: {cv} vs {wc}"
                );
            }
        }
    }

    #[test]
    fn sin_cos_near_multiples_of_half_pi_and_specials() {
        // Doubles next to k·π/2 (the hardest reductions): the relative error must stay
        // small even where the value is tiny.
        let path = best_path();
        let mut x = Vec::new();
        for k in [
            1.0f64,
            2.0,
            3.0,
            4.0,
            7.0,
            100.0,
            12345.0,
            1e6,
            6381956970095103.0 / 4096.0,
        ] {
            let base = k * std::f64::consts::FRAC_PI_2;
            let mut v = base;
            for _ in 0..3 {
                x.push(v);
                x.push(-v);
                v = f64::from_bits(v.to_bits() + 1);
            }
        }
        let (mut s, mut c) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        sin_cos_on(path, &x, &mut s, &mut c);
        for ((&v, &sv), &cv) in x.iter().zip(&s).zip(&c) {
            let (ws, wc) = v.sin_cos();
            assert!(
                (sv - ws).abs() <= 4.0 * f64::EPSILON * ws.abs().max(1e-300),
                "sin x={v}: {sv} vs {ws}"
            );
            assert!(
                (cv - wc).abs() <= 4.0 * f64::EPSILON * wc.abs().max(1e-300),
                "cos x={v}: {cv} vs {wc}"
            );
        }
        let x = [0.0, -0.0, f64::INFINITY, f64::NAN, -f64::INFINITY, 3e300];
        let (mut s, mut c) = ([9.0; 6], [9.0; 6]);
        sin_cos_on(path, &x, &mut s, &mut c);
        assert_eq!((s[0], c[0]), (0.0, 1.0));
        // (the sign of sin(−0) is not kept: no kernel depends on it)
        assert!(s[1] == 0.0 && c[1] == 1.0);
        for i in 2..5 {
            assert!(s[i].is_nan() && c[i].is_nan());
        }
        assert_eq!((s[5], c[5]), 3e300f64.sin_cos());
    }

    #[test]
    fn slice_entry_points_handle_tails() {
        for len in [0, 1, 2, 3, 4, 5, 7, 9] {
            let x = uniform(len, 4, -3.0, 3.0);
            let mut e = vec![0.0; len];
            exp(&x, &mut e);
            let mut l = vec![0.0; len];
            let ax: Vec<f64> = x.iter().map(|v| v.abs() + 0.1).collect();
            ln(&ax, &mut l);
            let (mut s, mut c) = (vec![0.0; len], vec![0.0; len]);
            sin_cos(&x, &mut s, &mut c);
            for i in 0..len {
                assert!((e[i] / x[i].exp() - 1.0).abs() < 1e-15);
                assert!((l[i] - ax[i].ln()).abs() < 1e-15);
                assert!((s[i] - x[i].sin()).abs() < 3e-16 && (c[i] - x[i].cos()).abs() < 3e-16);
            }
        }
    }
}
