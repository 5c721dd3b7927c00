// The pieces of updateEnergy's canonical order (balance.hpp), shared by balance.cpp (the
// kernel) and the measured steps of optim.cpp (the optimizer steps that sum the same terms in the same pass):
// one element's terms, the 16 accumulators of a range's full blocks and their combine, and
// (with x86 dispatch) the same accumulators as 4 registers × 4 lanes. Every term and sum is
// one double operation, unfused (the including files are built with FP contraction off).
// Internal: not part of the kernels' interface.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "simd.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {
namespace detail {

// w = root · scale + ε for an element whose f32 √ of the metric is `root`.
template <typename T>
inline double metric_weight(T root, double scale, double epsilon) noexcept {
  return static_cast<double>(root) * scale + epsilon;
}

// One element's terms t = [w Δ², g Δ, |g Δ|], Δ = after − before in double.
template <typename T>
inline void element_terms(T before, T after, T grad, double w, double* t) noexcept {
  const double d = static_cast<double>(after) - static_cast<double>(before);
  const double p = static_cast<double>(grad) * d;
  t[0] = w * (d * d);
  t[1] = p;
  t[2] = std::fabs(p);
}

// The 16 accumulators per sum of one range's full blocks: element j of a block into j.
struct Acc16 {
  double a[3][16] = {};

  void add(std::size_t j, const double* t) noexcept {
    for (int k = 0; k < 3; ++k) a[k][j] += t[k];
  }

  // Each sum's (t_0 + t_2) + (t_1 + t_3), t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}).
  void combine(double* out) const noexcept {
    for (int k = 0; k < 3; ++k) {
      double t[4];
      for (int l = 0; l < 4; ++l) t[l] = (a[k][l] + a[k][4 + l]) + (a[k][8 + l] + a[k][12 + l]);
      out[k] = (t[0] + t[2]) + (t[1] + t[3]);
    }
  }
};

// Adds a tail element's terms onto out (the tail is summed in index order).
inline void add_terms(double* out, const double* t) noexcept {
  out[0] += t[0];
  out[1] += t[1];
  out[2] += t[2];
}

#if CIMM_HAVE_X86_DISPATCH

// The accumulators of one range's full blocks as registers: register r of each sum holds
// elements 4r … 4r + 3 of every block of 16 (lane l = element 4r + l), combined at the end as
// Acc16 combines its 16.
struct Sums4 {
  __m256d q[4], p[4], a[4];
  __m256d scale, eps, abs_mask;

  CIMM_TARGET_AVX2 Sums4(double metric_scale, double epsilon) noexcept
      : scale(_mm256_set1_pd(metric_scale)),
        eps(_mm256_set1_pd(epsilon)),
        abs_mask(_mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX))) {
    for (int r = 0; r < 4; ++r) q[r] = p[r] = a[r] = _mm256_setzero_pd();
  }

  // Adds 4 elements' terms to register r: Δ = after − before, w = root·scale + ε (root the f32
  // √ of the metric), or w = 1 when root is null.
  CIMM_TARGET_AVX2 void add(int r, __m128 before, __m128 after, __m128 grads, const __m128* root) noexcept {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(after), _mm256_cvtps_pd(before));
    __m256d wdd = _mm256_mul_pd(d, d);
    if (root) wdd = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(*root), scale), eps), wdd);
    const __m256d gd = _mm256_mul_pd(_mm256_cvtps_pd(grads), d);
    q[r] = _mm256_add_pd(q[r], wdd);
    p[r] = _mm256_add_pd(p[r], gd);
    a[r] = _mm256_add_pd(a[r], _mm256_and_pd(gd, abs_mask));
  }

  // out[0..3]: each sum's (t_0 + t_2) + (t_1 + t_3) of t = (x_0 + x_1) + (x_2 + x_3).
  CIMM_TARGET_AVX2 void reduce(double* out) const noexcept {
    out[0] = reduce4(q);
    out[1] = reduce4(p);
    out[2] = reduce4(a);
  }

  CIMM_TARGET_AVX2 static double reduce4(const __m256d* x) noexcept {
    const __m256d t = _mm256_add_pd(_mm256_add_pd(x[0], x[1]), _mm256_add_pd(x[2], x[3]));
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

#endif

}  // namespace detail
}  // namespace cimm
