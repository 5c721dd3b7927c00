// Vectorized exp, ln and sin/cos on four doubles (AVX2 + FMA), the same algorithms and
// constants as the Rust crate's vmath.rs (see its module comment and docs/theory.md):
//
// | function | range | error vs libm |
// |---|---|---|
// | exp4 | all doubles (+∞ above 709.78, gradual underflow below −708.4) | < 2 ulp |
// | ln4 | all doubles (x < 0 or NaN → NaN, 0 → −∞, +∞ → +∞, subnormals exact) | < 2 ulp |
// | sin_cos4 | |x| ≤ kTrigFastMax = 2^40 reduced here; larger |x| and non-finite x through libm per lane | ≤ 2.3e-16
// absolute, ≤ 2 ulp relative |
//
// exp: k = round(x/ln2), r = x − k·ln2 (ln2 in two doubles, the first product exact under
// FMA), e^r = 1 + r + r²·Q(r) with Q a degree-9 Chebyshev fit (1.8e-17), times 2^k from the
// exponent bits (two factors when k leaves the normal range). sin/cos: Cody–Waite with π/2
// in three doubles under FMA, fdlibm's kernels on |r| ≤ π/4, quadrant k mod 4. ln: fdlibm's.
// Include only from translation units that use CIMM_TARGET_AVX2 code (needs
// CIMM_HAVE_X86_DISPATCH).
#pragma once

#include <cmath>
#include <cstdint>

#include "simd.hpp"

#if CIMM_HAVE_X86_DISPATCH

namespace cimm {
namespace vmath {

// Largest |x| sin_cos4 reduces itself (2^40).
constexpr double kTrigFastMax = 1099511627776.0;

namespace k {
constexpr double kExpLo = -746.0;
constexpr double kExpHi = 710.0;
constexpr double kLog2E = 1.4426950408889634;
constexpr double kLn2Hi = 0.6931471805599453;
constexpr double kLn2Lo = 2.3190468138462996e-17;
// Q(r) ≈ (e^r − 1 − r)/r², coefficients of r^0 … r^9
constexpr double kExpQ[10] = {0.5000000000000001,     0.16666666666666669,    0.04166666666662216,
                              0.00833333333332991,    0.001388888891819165,   0.00019841269863805664,
                              2.4801519785022954e-05, 2.7557267298072677e-06, 2.762080306789032e-07,
                              2.510093504703457e-08};
constexpr double kFrac2Pi = 0.6366197723675814;
constexpr double kPio2_1 = 1.5707963267948966;
constexpr double kPio2_2 = 6.123233995736766e-17;
constexpr double kPio2_3 = -1.4973849048591698e-33;
// fdlibm's __kernel_sin S1…S6 and __kernel_cos C1…C6
constexpr double kSin[6] = {-1.66666666666666324348e-01, 8.33333333332248946124e-03,  -1.98412698298579493134e-04,
                            2.75573137070700676789e-06,  -2.50507602534068634195e-08, 1.58969099521155010221e-10};
constexpr double kCos[6] = {4.16666666666666019037e-02,  -1.38888888888741095749e-03, 2.48015872894767294178e-05,
                            -2.75573143513906633035e-07, 2.08757232129817482790e-09,  -1.13596475577881948265e-11};
// fdlibm's __ieee754_log Lg1…Lg7 and its ln2 split (e·kLogLn2Hi exact)
constexpr double kLg[7] = {6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
                           2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
                           1.479819860511658591e-01};
constexpr double kLogLn2Hi = 6.93147180369123816490e-01;
constexpr double kLogLn2Lo = 1.90821492927058770002e-10;
// 2^52 + 2^51: an integer-valued double (|k| < 2^51) plus this holds k in its low bits
constexpr double kMagic = 6755399441055744.0;
constexpr double kTwo52 = 4503599627370496.0;
}  // namespace k

CIMM_TARGET_AVX2 inline __m256d splat(double v) noexcept { return _mm256_set1_pd(v); }

// c[0] + c[1]·z + … by Horner.
template <int N>
CIMM_TARGET_AVX2 inline __m256d horner(__m256d z, const double (&c)[N]) noexcept {
  __m256d acc = splat(c[N - 1]);
  for (int i = N - 2; i >= 0; --i) acc = _mm256_fmadd_pd(acc, z, splat(c[i]));
  return acc;
}

CIMM_TARGET_AVX2 inline __m256d abs4(__m256d x) noexcept { return _mm256_andnot_pd(splat(-0.0), x); }

CIMM_TARGET_AVX2 inline bool any(__m256d mask) noexcept { return _mm256_movemask_pd(mask) != 0; }

// The low bits of integer-valued k as int64 lanes.
CIMM_TARGET_AVX2 inline __m256i int_bits(__m256d k) noexcept {
  return _mm256_castpd_si256(_mm256_add_pd(k, splat(k::kMagic)));
}

// 2^k for integer-valued k in [−1022, 1023].
CIMM_TARGET_AVX2 inline __m256d pow2(__m256d k) noexcept {
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(int_bits(k), _mm256_set1_epi64x(1023)), 52));
}

CIMM_TARGET_AVX2 inline __m256d exp4(__m256d x) noexcept {
  // min/max return their second operand when either is NaN: NaN survives the clamp.
  x = _mm256_min_pd(splat(k::kExpHi), _mm256_max_pd(splat(k::kExpLo), x));
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, splat(k::kLog2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, splat(k::kLn2Hi), x);
  r = _mm256_fnmadd_pd(n, splat(k::kLn2Lo), r);
  const __m256d r2 = _mm256_mul_pd(r, r);
  const double even_c[5] = {k::kExpQ[0], k::kExpQ[2], k::kExpQ[4], k::kExpQ[6], k::kExpQ[8]};
  const double odd_c[5] = {k::kExpQ[1], k::kExpQ[3], k::kExpQ[5], k::kExpQ[7], k::kExpQ[9]};
  const __m256d q = _mm256_fmadd_pd(horner(r2, odd_c), r, horner(r2, even_c));
  const __m256d p = _mm256_add_pd(splat(1.0), _mm256_fmadd_pd(r2, q, r));
  const __m256d outside =
      _mm256_or_pd(_mm256_cmp_pd(n, splat(-1022.0), _CMP_LT_OQ), _mm256_cmp_pd(n, splat(1023.0), _CMP_GT_OQ));
  if (!any(outside)) return _mm256_mul_pd(p, pow2(n));
  const __m256d n1 = _mm256_round_pd(_mm256_mul_pd(n, splat(0.5)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  return _mm256_mul_pd(_mm256_mul_pd(p, pow2(n1)), pow2(_mm256_sub_pd(n, n1)));
}

// The lanes sin_cos4 does not reduce itself, through libm.
CIMM_TARGET_AVX2 inline void sin_cos_far(__m256d x, __m256d far, __m256d* s, __m256d* c) noexcept {
  alignas(32) double xs[4];
  alignas(32) double ss[4];
  alignas(32) double cs[4];
  _mm256_store_pd(xs, x);
  _mm256_store_pd(ss, *s);
  _mm256_store_pd(cs, *c);
  const int mask = _mm256_movemask_pd(far);
  for (int lane = 0; lane < 4; ++lane) {
    if (mask & (1 << lane)) {
      ss[lane] = std::sin(xs[lane]);
      cs[lane] = std::cos(xs[lane]);
    }
  }
  *s = _mm256_load_pd(ss);
  *c = _mm256_load_pd(cs);
}

CIMM_TARGET_AVX2 inline void sin_cos4(__m256d x, __m256d* s_out, __m256d* c_out) noexcept {
  const __m256d n =
      _mm256_round_pd(_mm256_mul_pd(x, splat(k::kFrac2Pi)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, splat(k::kPio2_1), x);  // exact for |n| < 2^50
  r = _mm256_fnmadd_pd(n, splat(k::kPio2_2), r);
  r = _mm256_fnmadd_pd(n, splat(k::kPio2_3), r);
  const __m256d z = _mm256_mul_pd(r, r);
  const __m256d sin_r = _mm256_fmadd_pd(_mm256_mul_pd(r, z), horner(z, k::kSin), r);
  const __m256d cos_r = _mm256_fmadd_pd(z, _mm256_fmadd_pd(z, horner(z, k::kCos), splat(-0.5)), splat(1.0));
  // quadrant q = n mod 4: odd q swaps sin and cos; bit 1 of q (of q + 1) flips sin (cos)
  const __m256i q = int_bits(n);
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256d swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, one), one));
  const __m256d sign = splat(-0.0);
  const __m256d sin_sign = _mm256_and_pd(_mm256_castsi256_pd(_mm256_slli_epi64(q, 62)), sign);
  const __m256d cos_sign = _mm256_and_pd(_mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(q, one), 62)), sign);
  __m256d s = _mm256_xor_pd(_mm256_blendv_pd(sin_r, cos_r, swap), sin_sign);
  __m256d c = _mm256_xor_pd(_mm256_blendv_pd(cos_r, sin_r, swap), cos_sign);
  const __m256d far = _mm256_cmp_pd(abs4(x), splat(kTrigFastMax), _CMP_NLE_UQ);  // also NaN
  if (any(far)) sin_cos_far(x, far, &s, &c);
  *s_out = s;
  *c_out = c;
}

CIMM_TARGET_AVX2 inline __m256d ln4(__m256d x) noexcept {
  const __m256d tiny = _mm256_cmp_pd(x, splat(2.2250738585072014e-308), _CMP_LT_OQ);
  const __m256d xs = _mm256_blendv_pd(x, _mm256_mul_pd(x, splat(k::kTwo52)), tiny);
  const __m256i bits = _mm256_castpd_si256(xs);
  const __m256i mantissa = _mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL));
  __m256d m = _mm256_castsi256_pd(_mm256_or_si256(mantissa, _mm256_set1_epi64x(0x3ff0000000000000LL)));
  const __m256d high = _mm256_cmp_pd(m, splat(1.4142135623730951), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, splat(0.5)), high);
  const __m256d biased = _mm256_sub_pd(
      _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), _mm256_castpd_si256(splat(k::kTwo52)))),
      splat(k::kTwo52));
  const __m256d e = _mm256_add_pd(
      biased, _mm256_add_pd(_mm256_blendv_pd(splat(-1023.0), splat(-1022.0), high), _mm256_and_pd(tiny, splat(-52.0))));
  const __m256d f = _mm256_sub_pd(m, splat(1.0));
  const __m256d s = _mm256_div_pd(f, _mm256_add_pd(splat(2.0), f));
  const __m256d z = _mm256_mul_pd(s, s);
  const __m256d w = _mm256_mul_pd(z, z);
  const double odd_c[3] = {k::kLg[1], k::kLg[3], k::kLg[5]};
  const double even_c[4] = {k::kLg[0], k::kLg[2], k::kLg[4], k::kLg[6]};
  const __m256d r = _mm256_add_pd(_mm256_mul_pd(w, horner(w, odd_c)), _mm256_mul_pd(z, horner(w, even_c)));
  const __m256d hfsq = _mm256_mul_pd(splat(0.5), _mm256_mul_pd(f, f));
  // e·ln2_hi − ((hfsq − (s·(hfsq + R) + e·ln2_lo)) − f), as fdlibm
  const __m256d inner = _mm256_fmadd_pd(e, splat(k::kLogLn2Lo), _mm256_mul_pd(s, _mm256_add_pd(hfsq, r)));
  __m256d y = _mm256_sub_pd(_mm256_mul_pd(e, splat(k::kLogLn2Hi)), _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
  const __m256d zero = _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_EQ_OQ);
  const __m256d inf = _mm256_cmp_pd(x, splat(INFINITY), _CMP_EQ_OQ);
  const __m256d invalid = _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_NGE_UQ);  // x < 0 or NaN
  y = _mm256_blendv_pd(y, splat(-INFINITY), zero);
  y = _mm256_blendv_pd(y, splat(INFINITY), inf);
  return _mm256_blendv_pd(y, splat(NAN), invalid);
}

}  // namespace vmath
}  // namespace cimm

#endif
