// The quantum–classical coupling Ψ(t) (design eq. 1) and the scale transition 𝒮(t) (eq. 2),
// batched over t: the scalar path on libm, the AVX2 path on vmath.hpp's exp4 and sin_cos4.
// Each out[i] depends on t[i] only, so splitting t over threads never changes a value. See
// crate/src/coupling.rs for the derivation and accuracy (J ~1e-15 relative everywhere).
//
// The Shannon term of the entropy feedback (design eq. 6), in bits, in one pass:
// H = (ln T − S/T)/ln 2, T = Σp, S = Σ p ln p (0·ln 0 = 0). Invalid masses make it NaN (ln of a
// negative, 0/0), so validation costs no extra pass; the facade then names the bad entry.
// Large inputs are summed in at most kEntropyMaxUnits ranges fixed by the length, added in
// order: the thread count never changes the result. See crate/src/entropy.rs.
#include "qdt.hpp"

#include <cmath>
#include <limits>

#include "cpu.hpp"
#include "parallel.hpp"
#include "simd.hpp"
#include "vmath.hpp"

namespace cimm {

namespace {

// Below |w| = |t|·hypot(β, γ) = 1, J is summed from its series.
constexpr double kSeriesMaxW = 1.0;

// 1/(k+1)!, k = 0 … 18, correctly rounded: φ₁(w) = (e^w − 1)/w = Σ w^k/(k+1)!.
constexpr double kPhi1[19] = {1.0,
                              0.5,
                              0.16666666666666666,
                              0.041666666666666664,
                              0.008333333333333333,
                              0.001388888888888889,
                              0.0001984126984126984,
                              2.48015873015873e-05,
                              2.7557319223985893e-06,
                              2.755731922398589e-07,
                              2.505210838544172e-08,
                              2.08767569878681e-09,
                              1.6059043836821613e-10,
                              1.1470745597729725e-11,
                              7.647163731819816e-13,
                              4.779477332387385e-14,
                              2.8114572543455206e-15,
                              1.5619206968586225e-16,
                              8.22063524662433e-18};

// Eq. 1's constants, derived once per call.
struct Coupling {
  double alpha, neg_beta, gamma, lambda, h, inv_h, b, g;
  explicit Coupling(const CouplingParams& p) noexcept
      : alpha(p.alpha),
        neg_beta(-p.beta),
        gamma(p.gamma),
        lambda(p.lambda_cosmo),
        h(std::hypot(p.beta, p.gamma)),
        inv_h(1.0 / h),
        b(h > 0 ? p.beta / h : 0),
        g(h > 0 ? p.gamma / h : 0) {}
};

// J(t) = t·Im φ₁(w), w = (−βt, γt), by complex Horner (the js reference's order).
double j_series(double t, const Coupling& c) noexcept {
  const double wr = c.neg_beta * t;
  const double wi = c.gamma * t;
  double pr = kPhi1[18];
  double pi = 0;
  for (int k = 17; k >= 0; --k) {
    const double nr = pr * wr - pi * wi + kPhi1[k];
    pi = pr * wi + pi * wr;
    pr = nr;
  }
  return t * pi;
}

double psi(double t, const Coupling& c) noexcept {
  const double e = std::exp(c.neg_beta * t);
  const double s = std::sin(c.gamma * t);
  const double co = std::cos(c.gamma * t);
  const double j = c.h * std::fabs(t) < kSeriesMaxW ? j_series(t, c) : (c.g - e * (c.b * s + c.g * co)) * c.inv_h;
  return c.alpha * (e * co) + c.lambda * j;
}

double scale(double t, double lambda, double tc) noexcept {
  const double u = lambda * (t - tc);
  const double e = std::exp(-std::fabs(u));
  return (u < 0 ? e : 1.0) / (1.0 + e);
}

bool simd() noexcept { return has_avx2_fma(); }

// Splits [0, n) into kQdtUnit pieces over the pool when n is large.
template <typename Run>
void split(std::size_t n, Run&& run) {
  if (n < kQdtParallel) return run(0, n);
  const std::size_t units = (n + kQdtUnit - 1) / kQdtUnit;
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * kQdtUnit;
    run(begin, begin + kQdtUnit < n ? begin + kQdtUnit : n);
  });
}

}  // namespace

namespace detail {

void coupling_scalar(const double* t, std::size_t n, const CouplingParams& params, double* out) noexcept {
  const Coupling c(params);
  for (std::size_t i = 0; i < n; ++i) out[i] = psi(t[i], c);
}

void scale_transition_scalar(const double* t, std::size_t n, double scale_coupling, double critical_time,
                             double* out) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = scale(t[i], scale_coupling, critical_time);
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

using vmath::splat;

// Out of line: only vectors holding a small |t| need it, and inlined it would crowd the
// main loop's registers.
CIMM_TARGET_AVX2 __attribute__((noinline)) __m256d j_series4(__m256d t, const Coupling& c) noexcept {
  const __m256d wr = _mm256_mul_pd(splat(c.neg_beta), t);
  const __m256d wi = _mm256_mul_pd(splat(c.gamma), t);
  __m256d pr = splat(kPhi1[18]);
  __m256d pi = _mm256_setzero_pd();
  for (int k = 17; k >= 0; --k) {
    const __m256d nr = _mm256_fmadd_pd(pr, wr, _mm256_fnmadd_pd(pi, wi, splat(kPhi1[k])));
    pi = _mm256_fmadd_pd(pr, wi, _mm256_mul_pd(pi, wr));
    pr = nr;
  }
  return _mm256_mul_pd(t, pi);
}

CIMM_TARGET_AVX2 inline __m256d psi4(__m256d t, const Coupling& c) noexcept {
  const __m256d e = vmath::exp4(_mm256_mul_pd(splat(c.neg_beta), t));
  __m256d s;
  __m256d co;
  vmath::sin_cos4(_mm256_mul_pd(splat(c.gamma), t), &s, &co);
  const __m256d mix = _mm256_fmadd_pd(splat(c.b), s, _mm256_mul_pd(splat(c.g), co));
  const __m256d closed = _mm256_mul_pd(_mm256_fnmadd_pd(e, mix, splat(c.g)), splat(c.inv_h));
  const __m256d small = _mm256_cmp_pd(_mm256_mul_pd(splat(c.h), vmath::abs4(t)), splat(kSeriesMaxW), _CMP_LT_OQ);
  const __m256d j = vmath::any(small) ? _mm256_blendv_pd(closed, j_series4(t, c), small) : closed;
  return _mm256_fmadd_pd(splat(c.alpha), _mm256_mul_pd(e, co), _mm256_mul_pd(splat(c.lambda), j));
}

CIMM_TARGET_AVX2 inline __m256d scale4(__m256d t, double lambda, double tc) noexcept {
  const __m256d u = _mm256_mul_pd(splat(lambda), _mm256_sub_pd(t, splat(tc)));
  const __m256d e = vmath::exp4(_mm256_or_pd(u, splat(-0.0)));  // e^{−|u|}
  const __m256d num = _mm256_blendv_pd(splat(1.0), e, _mm256_cmp_pd(u, _mm256_setzero_pd(), _CMP_LT_OQ));
  return _mm256_div_pd(num, _mm256_add_pd(splat(1.0), e));
}

// out[i] = f(t[i]), four at a time, the tail through a padded block (t may equal out).
template <typename F>
CIMM_TARGET_AVX2 inline void map4(const double* t, std::size_t n, double* out, F f) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, f(_mm256_loadu_pd(t + i)));
  if (i < n) {
    alignas(32) double pad[4] = {0, 0, 0, 0};
    for (std::size_t k = i; k < n; ++k) pad[k - i] = t[k];
    _mm256_store_pd(pad, f(_mm256_load_pd(pad)));
    for (std::size_t k = i; k < n; ++k) out[k] = pad[k - i];
  }
}

}  // namespace

CIMM_TARGET_AVX2 void coupling_avx2(const double* t, std::size_t n, const CouplingParams& params,
                                    double* out) noexcept {
  const Coupling c(params);
  map4(t, n, out, [&](__m256d v) CIMM_TARGET_AVX2 { return psi4(v, c); });
}

CIMM_TARGET_AVX2 void scale_transition_avx2(const double* t, std::size_t n, double scale_coupling, double critical_time,
                                            double* out) noexcept {
  map4(t, n, out, [&](__m256d v) CIMM_TARGET_AVX2 { return scale4(v, scale_coupling, critical_time); });
}

CIMM_TARGET_AVX2 void exp4_vmath(const double* v, double* out) noexcept {
  _mm256_storeu_pd(out, vmath::exp4(_mm256_loadu_pd(v)));
}

CIMM_TARGET_AVX2 void ln4_vmath(const double* v, double* out) noexcept {
  _mm256_storeu_pd(out, vmath::ln4(_mm256_loadu_pd(v)));
}

CIMM_TARGET_AVX2 void sin_cos4_vmath(const double* v, double* s, double* c) noexcept {
  __m256d sv;
  __m256d cv;
  vmath::sin_cos4(_mm256_loadu_pd(v), &sv, &cv);
  _mm256_storeu_pd(s, sv);
  _mm256_storeu_pd(c, cv);
}

#else

void coupling_avx2(const double* t, std::size_t n, const CouplingParams& params, double* out) noexcept {
  coupling_scalar(t, n, params, out);
}
void scale_transition_avx2(const double* t, std::size_t n, double scale_coupling, double critical_time,
                           double* out) noexcept {
  scale_transition_scalar(t, n, scale_coupling, critical_time, out);
}
void exp4_vmath(const double* v, double* out) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = std::exp(v[i]);
}
void ln4_vmath(const double* v, double* out) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = std::log(v[i]);
}
void sin_cos4_vmath(const double* v, double* s, double* c) noexcept {
  for (int i = 0; i < 4; ++i) {
    s[i] = std::sin(v[i]);
    c[i] = std::cos(v[i]);
  }
}

#endif

}  // namespace detail

void coupling(const double* t, std::size_t n, const CouplingParams& params, double* out) {
  const bool v = simd();
  split(n, [&](std::size_t b, std::size_t e) {
    v ? detail::coupling_avx2(t + b, e - b, params, out + b) : detail::coupling_scalar(t + b, e - b, params, out + b);
  });
}

void scale_transition(const double* t, std::size_t n, double scale_coupling, double critical_time, double* out) {
  if (scale_coupling == 0) {
    for (std::size_t i = 0; i < n; ++i) out[i] = 0.5;
    return;
  }
  const bool v = simd();
  split(n, [&](std::size_t b, std::size_t e) {
    v ? detail::scale_transition_avx2(t + b, e - b, scale_coupling, critical_time, out + b)
      : detail::scale_transition_scalar(t + b, e - b, scale_coupling, critical_time, out + b);
  });
}

}  // namespace cimm

namespace cimm {

namespace {

// Totals below 2^-600 are summed again at 2^600 scale (p ln p would be subnormal).
const double kTinyTotal = std::ldexp(1.0, -600);
const double kRescale = std::ldexp(1.0, 600);

}  // namespace

namespace detail {

void entropy_sums_scalar(const double* p, std::size_t n, double c, double* total, double* s) noexcept {
  double t = 0;
  double a = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = p[i] * c;
    t += v;
    if (v != 0) a += v * std::log(v);
  }
  *total = t;
  *s = a;
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

CIMM_TARGET_AVX2 inline double hsum(__m256d v) noexcept {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// p·ln p, 0 where p = 0 (NaN for p < 0 stays)
CIMM_TARGET_AVX2 inline __m256d term(__m256d p) noexcept {
  const __m256d zero = _mm256_setzero_pd();
  return _mm256_blendv_pd(_mm256_mul_pd(p, vmath::ln4(p)), zero, _mm256_cmp_pd(p, zero, _CMP_EQ_OQ));
}

}  // namespace

CIMM_TARGET_AVX2 void entropy_sums_avx2(const double* p, std::size_t n, double c, double* total, double* s) noexcept {
  const __m256d cv = _mm256_set1_pd(c);
  __m256d t[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  __m256d a[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d x = _mm256_mul_pd(_mm256_loadu_pd(p + i), cv);
    const __m256d y = _mm256_mul_pd(_mm256_loadu_pd(p + i + 4), cv);
    t[0] = _mm256_add_pd(t[0], x);
    t[1] = _mm256_add_pd(t[1], y);
    a[0] = _mm256_add_pd(a[0], term(x));
    a[1] = _mm256_add_pd(a[1], term(y));
  }
  if (i + 4 <= n) {
    const __m256d x = _mm256_mul_pd(_mm256_loadu_pd(p + i), cv);
    t[0] = _mm256_add_pd(t[0], x);
    a[0] = _mm256_add_pd(a[0], term(x));
    i += 4;
  }
  double tt = 0;
  double st = 0;
  entropy_sums_scalar(p + i, n - i, c, &tt, &st);
  *total = hsum(_mm256_add_pd(t[0], t[1])) + tt;
  *s = hsum(_mm256_add_pd(a[0], a[1])) + st;
}

#else

void entropy_sums_avx2(const double* p, std::size_t n, double c, double* total, double* s) noexcept {
  entropy_sums_scalar(p, n, c, total, s);
}

#endif

}  // namespace detail

namespace {

void pass(const double* p, std::size_t n, double c, double* total, double* s) {
  const bool v = has_avx2_fma();
  auto run = [v, c](const double* q, std::size_t len, double* t, double* a) {
    v ? detail::entropy_sums_avx2(q, len, c, t, a) : detail::entropy_sums_scalar(q, len, c, t, a);
  };
  if (n < kEntropyParallel) return run(p, n, total, s);
  std::size_t unit = (n + kEntropyMaxUnits - 1) / kEntropyMaxUnits;
  if (unit < kEntropyUnitMin) unit = kEntropyUnitMin;
  unit = (unit + 7) / 8 * 8;
  const std::size_t units = (n + unit - 1) / unit;
  double parts[kEntropyMaxUnits][2] = {};
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * unit;
    const std::size_t end = begin + unit < n ? begin + unit : n;
    run(p + begin, end - begin, &parts[u][0], &parts[u][1]);
  });
  *total = 0;
  *s = 0;
  for (std::size_t u = 0; u < units; ++u) {
    *total += parts[u][0];
    *s += parts[u][1];
  }
}

}  // namespace

double shannon_entropy(const double* p, std::size_t n) {
  double total = 0;
  double s = 0;
  pass(p, n, 1.0, &total, &s);
  if (total > 0 && total < kTinyTotal) pass(p, n, kRescale, &total, &s);
  const double h = (std::log(total) - s / total) / 0.6931471805599453;
  if (!std::isfinite(h)) return std::numeric_limits<double>::quiet_NaN();
  return h < 0 ? 0.0 : h;
}

}  // namespace cimm
