// The linalg family's core: axpby, dot, sum and the activations (the elementwise kernels the
// nn layers compose, eq. 9), scalar and AVX2+FMA side by side, runtime dispatch, the thread
// pool for large arrays (elementwise.hpp); matmul's engine is gemm.cpp. See linalg.hpp for the
// bit-exactness rule and docs/theory.md for the reasons.
#include "linalg.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu.hpp"
#include "elementwise.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

using detail::for_units;
using detail::kMaxPartials;
using detail::reduce_units;
using detail::unit_partials;
#if CIMM_HAVE_X86_DISPATCH
using detail::load8;
using detail::narrow8;
#endif

double sigma(Activation a, double t) noexcept {
  switch (a) {
    case Activation::kTanh:
      return std::tanh(t);
    case Activation::kSigmoid:
      return 1 / (1 + std::exp(-t));
    case Activation::kRelu:
      return t > 0 ? t : 0;
    case Activation::kIdentity:
      break;
  }
  return t;
}

double sigma_prime_times(Activation a, double y, double g) noexcept {
  switch (a) {
    case Activation::kTanh:
      return g * (1 - y * y);
    case Activation::kSigmoid:
      return g * y * (1 - y);
    case Activation::kRelu:
      return y > 0 ? g : 0;
    case Activation::kIdentity:
      break;
  }
  return g;
}

// ---- scalar references --------------------------------------------------------------------

void axpby_scalar(double alpha, const float* x, double beta, float* y, std::size_t n) noexcept {
  if (beta == 0) {
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(alpha * x[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(alpha * x[i] + beta * y[i]);
  }
}

double dot_scalar(const float* x, const float* y, std::size_t n) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

double sum_scalar(const float* x, std::size_t n) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

void forward_scalar(Activation a, const float* x, double shift, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(sigma(a, x[i] + shift));
}

void backward_scalar(Activation a, const float* y, const float* g, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(sigma_prime_times(a, y[i], g[i]));
}

// ---- AVX2 + FMA ----------------------------------------------------------------------------

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 void axpby_avx2(double alpha, const float* x, double beta, float* y, std::size_t n) noexcept {
  const __m256d a = _mm256_set1_pd(alpha);
  const __m256d b = _mm256_set1_pd(beta);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d x0, x1;
    load8(x + i, x0, x1);
    if (beta == 0) {
      _mm256_storeu_ps(y + i, narrow8(_mm256_mul_pd(a, x0), _mm256_mul_pd(a, x1)));
    } else {
      __m256d y0, y1;
      load8(y + i, y0, y1);
      // α·x and β·y rounded separately, then added: the JS order, no FMA.
      _mm256_storeu_ps(y + i, narrow8(_mm256_add_pd(_mm256_mul_pd(a, x0), _mm256_mul_pd(b, y0)),
                                      _mm256_add_pd(_mm256_mul_pd(a, x1), _mm256_mul_pd(b, y1))));
    }
  }
  axpby_scalar(alpha, x + i, beta, y + i, n - i);
}

CIMM_TARGET_AVX2 double dot_avx2(const float* x, const float* y, std::size_t n) noexcept {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      __m256d x0, x1, y0, y1;
      load8(x + i + 8 * h, x0, x1);
      load8(y + i + 8 * h, y0, y1);
      acc[2 * h] = _mm256_fmadd_pd(x0, y0, acc[2 * h]);
      acc[2 * h + 1] = _mm256_fmadd_pd(x1, y1, acc[2 * h + 1]);
    }
  }
  return detail::lane_sum(_mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]))) +
         dot_scalar(x + i, y + i, n - i);
}

CIMM_TARGET_AVX2 double sum_avx2(const float* x, std::size_t n) noexcept {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      __m256d x0, x1;
      load8(x + i + 8 * h, x0, x1);
      acc[2 * h] = _mm256_add_pd(acc[2 * h], x0);
      acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], x1);
    }
  }
  return detail::lane_sum(_mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]))) +
         sum_scalar(x + i, n - i);
}

// e^x for eight floats (Cephes expf: x = n·ln2 + r, |r| <= ln2/2, a degree-7 polynomial,
// about 1 ulp); x clamped so the result stays finite and normal.
CIMM_TARGET_AVX2 inline __m256 exp8(__m256 x) noexcept {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33655f)), _mm256_set1_ps(88.37626f));
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// tanh: the Cephes tanhf odd polynomial for |t| < 0.625, else sign(t)·(1 − 2/(e^{2|t|} + 1)).
CIMM_TARGET_AVX2 inline __m256 tanh8(__m256 t) noexcept {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 sign = _mm256_and_ps(t, sign_bit);
  const __m256 a = _mm256_andnot_ps(sign_bit, t);
  const __m256 z = _mm256_mul_ps(t, t);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), t, t);
  const __m256 e = exp8(_mm256_add_ps(a, a));
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, sign);
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

CIMM_TARGET_AVX2 inline __m256 sigmoid8(__m256 t) noexcept {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), t))));
}

CIMM_TARGET_AVX2 void forward_avx2(Activation a, const float* x, double shift, float* out, std::size_t n) noexcept {
  const __m256d s = _mm256_set1_pd(shift);
  const __m256d zero = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d x0, x1;
    load8(x + i, x0, x1);
    const __m256d t0 = _mm256_add_pd(x0, s);
    const __m256d t1 = _mm256_add_pd(x1, s);
    switch (a) {
      case Activation::kIdentity:
        _mm256_storeu_ps(out + i, narrow8(t0, t1));
        break;
      case Activation::kRelu:  // t > 0 ? t : 0, NaN → 0 like the scalar rule
        _mm256_storeu_ps(out + i, narrow8(_mm256_and_pd(t0, _mm256_cmp_pd(t0, zero, _CMP_GT_OQ)),
                                          _mm256_and_pd(t1, _mm256_cmp_pd(t1, zero, _CMP_GT_OQ))));
        break;
      case Activation::kTanh:
        _mm256_storeu_ps(out + i, tanh8(narrow8(t0, t1)));
        break;
      case Activation::kSigmoid:
        _mm256_storeu_ps(out + i, sigmoid8(narrow8(t0, t1)));
        break;
    }
  }
  forward_scalar(a, x + i, shift, out + i, n - i);
}

CIMM_TARGET_AVX2 inline __m256d rule(Activation a, __m256d y, __m256d g) noexcept {
  const __m256d one = _mm256_set1_pd(1.0);
  switch (a) {
    case Activation::kTanh:
      return _mm256_mul_pd(g, _mm256_sub_pd(one, _mm256_mul_pd(y, y)));
    case Activation::kSigmoid:
      return _mm256_mul_pd(_mm256_mul_pd(g, y), _mm256_sub_pd(one, y));
    case Activation::kRelu:
      return _mm256_and_pd(g, _mm256_cmp_pd(y, _mm256_setzero_pd(), _CMP_GT_OQ));
    case Activation::kIdentity:
      break;
  }
  return g;
}

CIMM_TARGET_AVX2 void backward_avx2(Activation a, const float* y, const float* g, float* out, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d y0, y1, g0, g1;
    load8(y + i, y0, y1);
    load8(g + i, g0, g1);
    _mm256_storeu_ps(out + i, narrow8(rule(a, y0, g0), rule(a, y1, g1)));
  }
  backward_scalar(a, y + i, g + i, out + i, n - i);
}

#endif

}  // namespace

void axpby(double alpha, const float* x, double beta, float* y, std::size_t n) {
  const auto kernel = CIMM_PICK(axpby_avx2, axpby_scalar);
  for_units(n, [&](std::size_t b, std::size_t e) { kernel(alpha, x + b, beta, y + b, e - b); });
}

double dot(const float* x, const float* y, std::size_t n) {
  const auto kernel = CIMM_PICK(dot_avx2, dot_scalar);
  return reduce_units(n, [&](std::size_t b, std::size_t e) { return kernel(x + b, y + b, e - b); });
}

double sum(const float* x, std::size_t n) {
  const auto kernel = CIMM_PICK(sum_avx2, sum_scalar);
  return reduce_units(n, [&](std::size_t b, std::size_t e) { return kernel(x + b, e - b); });
}

void activation_forward(Activation a, const float* x, double shift, float* out, std::size_t n) {
  const auto kernel = CIMM_PICK(forward_avx2, forward_scalar);
  for_units(n, [&](std::size_t b, std::size_t e) { kernel(a, x + b, shift, out + b, e - b); });
}

void activation_backward(Activation a, const float* y, const float* grad_out, float* grad_pre, std::size_t n) {
  const auto kernel = CIMM_PICK(backward_avx2, backward_scalar);
  for_units(n, [&](std::size_t b, std::size_t e) { kernel(a, y + b, grad_out + b, grad_pre + b, e - b); });
}

void activation_forward(Activation a, const double* x, double shift, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = sigma(a, x[i] + shift);
}

void activation_backward(Activation a, const double* y, const double* grad_out, double* grad_pre, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_pre[i] = sigma_prime_times(a, y[i], grad_out[i]);
}

}  // namespace cimm
