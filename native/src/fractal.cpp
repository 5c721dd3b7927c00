// Eq. 8 (one fractal step and its backward rule) and maxAbs, the fractal family's core:
// scalar and AVX2+FMA side by side, runtime dispatch, the thread pool for large arrays
// (elementwise.hpp). See fractal.hpp for the bit-exactness rule and docs/theory.md for the
// reasons.
#include "fractal.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu.hpp"
#include "elementwise.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using detail::for_units;
using detail::kMaxPartials;
using detail::reduce_units;
using detail::unit_partials;
#if CIMM_HAVE_X86_DISPATCH
using detail::load8;
using detail::narrow8;
#endif

// ---- scalar references --------------------------------------------------------------------

void step_backward_scalar(const float* z, const float* g, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(2.0 * z[i] * static_cast<double>(g[i]));
}

double max_abs_scalar(const float* x, std::size_t n) noexcept {
  float m = 0;
  float bad = 0;  // x·0 is NaN exactly for NaN and ±Inf
  for (std::size_t i = 0; i < n; ++i) {
    m = std::fabs(x[i]) > m ? std::fabs(x[i]) : m;
    bad += x[i] * 0.0f;
  }
  return static_cast<double>(m + bad);
}

// ---- AVX2 + FMA ----------------------------------------------------------------------------

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 void step_backward_avx2(const float* z, const float* g, float* out, std::size_t n) noexcept {
  const __m256d two = _mm256_set1_pd(2.0);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d z0, z1, g0, g1;
    load8(z + i, z0, z1);
    load8(g + i, g0, g1);
    _mm256_storeu_ps(out + i,
                     narrow8(_mm256_mul_pd(_mm256_mul_pd(two, z0), g0), _mm256_mul_pd(_mm256_mul_pd(two, z1), g1)));
  }
  step_backward_scalar(z + i, g + i, out + i, n - i);
}

CIMM_TARGET_AVX2 double max_abs_avx2(const float* x, std::size_t n) noexcept {
  const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 zero = _mm256_setzero_ps();
  __m256 m0 = zero, m1 = zero, b0 = zero, b1 = zero;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + i);
    const __m256 v1 = _mm256_loadu_ps(x + i + 8);
    m0 = _mm256_max_ps(m0, _mm256_and_ps(v0, abs));
    m1 = _mm256_max_ps(m1, _mm256_and_ps(v1, abs));
    b0 = _mm256_add_ps(b0, _mm256_mul_ps(v0, zero));
    b1 = _mm256_add_ps(b1, _mm256_mul_ps(v1, zero));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_max_ps(m0, m1), _mm256_add_ps(b0, b1)));
  const double head = max_abs_scalar(lanes, 8);
  const double tail = max_abs_scalar(x + i, n - i);
  if (std::isnan(head) || std::isnan(tail)) return kNaN;
  return head > tail ? head : tail;
}

#endif

}  // namespace

namespace detail {

void fractal_step_scalar(const float* z, double c, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const double v = z[i];
    out[i] = static_cast<float>(v * v + c);
  }
}

#if CIMM_HAVE_X86_DISPATCH

// z² + c with a fused double FMA: z² is exact in double, so this is JS's single double
// rounding; then one rounding to float. With `stream`, 32-byte aligned non-temporal stores.
CIMM_TARGET_AVX2 void fractal_step_avx2(const float* z, double c, float* out, std::size_t n, bool stream) noexcept {
  const __m256d cv = _mm256_set1_pd(c);
  std::size_t i = 0;
  if (stream) {
    std::size_t head = ((32 - (reinterpret_cast<std::uintptr_t>(out) & 31)) & 31) / 4;
    i = head < n ? head : n;
    fractal_step_scalar(z, c, out, i);
  }
  for (; i + 16 <= n; i += 16) {
    __m256d a0, a1, b0, b1;
    load8(z + i, a0, a1);
    load8(z + i + 8, b0, b1);
    const __m256 ra = narrow8(_mm256_fmadd_pd(a0, a0, cv), _mm256_fmadd_pd(a1, a1, cv));
    const __m256 rb = narrow8(_mm256_fmadd_pd(b0, b0, cv), _mm256_fmadd_pd(b1, b1, cv));
    if (stream) {
      _mm256_stream_ps(out + i, ra);
      _mm256_stream_ps(out + i + 8, rb);
    } else {
      _mm256_storeu_ps(out + i, ra);
      _mm256_storeu_ps(out + i + 8, rb);
    }
  }
  if (stream) _mm_sfence();
  fractal_step_scalar(z + i, c, out + i, n - i);
}

#else

void fractal_step_avx2(const float* z, double c, float* out, std::size_t n, bool) noexcept {
  fractal_step_scalar(z, c, out, n);
}

#endif

}  // namespace detail

void fractal_step(const float* z, double offset, float* out, std::size_t n) {
  const double c = static_cast<float>(offset);
  const bool stream = z != out && n >= kStreamMin;
  const bool simd = has_avx2_fma();
  for_units(n, [&](std::size_t b, std::size_t e) {
    if (simd) {
      detail::fractal_step_avx2(z + b, c, out + b, e - b, stream);
    } else {
      detail::fractal_step_scalar(z + b, c, out + b, e - b);
    }
  });
}

void fractal_step_backward(const float* z, const float* grad_out, float* grad_z, std::size_t n) {
  const auto kernel = CIMM_PICK(step_backward_avx2, step_backward_scalar);
  for_units(n, [&](std::size_t b, std::size_t e) { kernel(z + b, grad_out + b, grad_z + b, e - b); });
}

double max_abs(const float* x, std::size_t n) {
  const auto kernel = CIMM_PICK(max_abs_avx2, max_abs_scalar);
  // NaN-propagating max over the units: a NaN partial is returned as NaN at once.
  double partial[kMaxPartials];
  const std::size_t units = unit_partials(
      n, [&](std::size_t b, std::size_t e) { return kernel(x + b, e - b); }, partial);
  double m = 0;
  for (std::size_t u = 0; u < units; ++u) {
    if (std::isnan(partial[u])) return kNaN;
    m = partial[u] > m ? partial[u] : m;
  }
  return m;
}

}  // namespace cimm
