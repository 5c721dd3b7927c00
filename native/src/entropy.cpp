// The Shannon term of the entropy feedback (design eq. 6), in bits, in one pass:
// H = (ln T − S/T)/ln 2, T = Σp, S = Σ p ln p (0·ln 0 = 0). Invalid masses make it NaN (ln of a
// negative, 0/0), so validation costs no extra pass; the facade then names the bad entry.
// Large inputs are summed in at most kEntropyMaxUnits ranges fixed by the length, added in
// order: the thread count never changes the result. See crate/src/entropy.rs.
#include <cmath>
#include <limits>

#include "cpu.hpp"
#include "parallel.hpp"
#include "qdt.hpp"
#include "simd.hpp"
#include "vmath.hpp"

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
