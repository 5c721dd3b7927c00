// Measured optimizer steps (measured.hpp): scalar and AVX2 side by side, each range in
// update_energy's canonical order, the ranges of the fixed split over the pool.
#include "measured.hpp"

#include <cstddef>

#include "balance_kernels.hpp"
#include "cpu.hpp"
#include "flow.hpp"
#include "optim_kernels.hpp"
#include "parallel.hpp"
#include "simd.hpp"

// a·b + c must stay two roundings (GCC: -ffp-contract=off from CMakeLists.txt).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {

namespace {

using detail::Acc16;
using detail::AdamScalars;
using detail::SgdScalars;

// The arrays of one call (buf empty without momentum, vmax without amsgrad, q = before).
// (f32 or f64: T, the parameters' dtype.)
template <typename T = float>
struct SgdArrays {
  T* p;
  const T* g;
  T* b;
  T* q;
};

template <typename T = float>
struct AdamArrays {
  T* p;
  const T* g;
  T* m;
  T* v;
  T* w;
  T* q;
};

// Element i of the SGD step: the update, the snapshot, the terms into t; false if not finite.
template <typename T>
inline bool sgd_element(const SgdArrays<T>& a, const detail::SgdScalarsT<T>& s, std::size_t i, double* t) noexcept {
  T unused = 0;
  const T old = a.p[i];
  const T next = detail::sgd_one(s, old, a.g[i], s.mu != T(0) ? a.b + i : &unused);
  a.q[i] = old;
  a.p[i] = next;
  detail::element_terms(old, next, a.g[i], 1.0, t);
  return detail::finite(next);
}

template <typename T>
inline bool adam_element(const AdamArrays<T>& a, const detail::AdamScalarsT<T>& s, const AdamMetric& metric,
                         std::size_t i, double* t) noexcept {
  T unused = 0;
  T root = 0;
  const T old = a.p[i];
  const T next = detail::adam_one(s, old, a.g[i], a.m + i, a.v + i, s.amsgrad ? a.w + i : &unused, &root);
  a.q[i] = old;
  a.p[i] = next;
  detail::element_terms(old, next, a.g[i], detail::metric_weight(root, metric.scale, metric.epsilon), t);
  return detail::finite(next);
}

// One range [0, n) of the arrays (already offset), scalar: full blocks into 16 accumulators,
// the tail in index order.
template <typename Element>
Measured range_scalar(std::size_t n, Element&& element) noexcept {
  Acc16 acc;
  Measured r{true, {0, 0, 0}};
  const std::size_t full = n / 16 * 16;
  double t[3];
  for (std::size_t b = 0; b < full; b += 16) {
    for (std::size_t j = 0; j < 16; ++j) {
      r.finite = element(b + j, t) && r.finite;
      acc.add(j, t);
    }
  }
  acc.combine(r.sums);
  for (std::size_t i = full; i < n; ++i) {
    r.finite = element(i, t) && r.finite;
    detail::add_terms(r.sums, t);
  }
  return r;
}

template <typename T>
Measured sgd_range_scalar(const SgdArrays<T>& a, std::size_t n, const detail::SgdScalarsT<T>& s) noexcept {
  return range_scalar(n, [&](std::size_t i, double* t) { return sgd_element(a, s, i, t); });
}

template <typename T>
Measured adam_range_scalar(const AdamArrays<T>& a, std::size_t n, const detail::AdamScalarsT<T>& s,
                           const AdamMetric& metric) noexcept {
  return range_scalar(n, [&](std::size_t i, double* t) { return adam_element(a, s, metric, i, t); });
}

#if CIMM_HAVE_X86_DISPATCH

// A range's full blocks go tile by tile (kTile elements, a multiple of 16: the tile's arrays
// stay in L1): first the 8-lane step over the tile, keeping the √ of the second moment in a
// stack buffer, then the tile's sums from what the step stored, element 4r + l of each block of
// 16 into register r lane l (as update_energy's AVX2 path reads it); each accumulator receives
// its terms in the canonical order. (Summing each element right after its step was slower: the
// 12 accumulators, the step's constants and its long divide chains do not fit the 16
// registers.) The tail by the scalar code.
constexpr std::size_t kTile = 256;

// Adds the terms of the full blocks [begin, end) to sums: Δ = p − q, the gradient g, the
// metric's √ at roots[i − begin] (or none).
CIMM_TARGET_AVX2 inline void tile_sums(detail::Sums4& sums, const float* q, const float* p, const float* g,
                                       const float* roots, std::size_t begin, std::size_t end) noexcept {
  for (std::size_t i = begin; i < end; i += 16) {
    for (int r = 0; r < 4; ++r) {
      const std::size_t at = i + 4 * static_cast<std::size_t>(r);
      if (roots) {
        const __m128 root = _mm_loadu_ps(roots + (at - begin));
        sums.add(r, _mm_loadu_ps(q + at), _mm_loadu_ps(p + at), _mm_loadu_ps(g + at), &root);
      } else {
        sums.add(r, _mm_loadu_ps(q + at), _mm_loadu_ps(p + at), _mm_loadu_ps(g + at), nullptr);
      }
    }
  }
}

template <bool L2, int MOMENTUM, bool NESTEROV>
CIMM_TARGET_AVX2 Measured sgd_range_avx2_as(const SgdArrays<>& a, std::size_t n, const SgdScalars& s) noexcept {
  const detail::SgdLanes lanes(s);
  detail::Sums4 sums(1.0, 0.0);
  __m256 bad = _mm256_setzero_ps();
  const std::size_t full = n / 16 * 16;
  for (std::size_t begin = 0; begin < full; begin += kTile) {
    const std::size_t end = begin + kTile < full ? begin + kTile : full;
    for (std::size_t i = begin; i < end; i += 8) {
      const __m256 pv = _mm256_loadu_ps(a.p + i);
      const __m256 next =
          lanes.step<L2, MOMENTUM, NESTEROV>(pv, _mm256_loadu_ps(a.g + i), MOMENTUM != 0 ? a.b + i : nullptr);
      _mm256_storeu_ps(a.q + i, pv);
      _mm256_storeu_ps(a.p + i, next);
      bad = _mm256_or_ps(bad, detail::non_finite(next));
    }
    tile_sums(sums, a.q, a.p, a.g, nullptr, begin, end);
  }
  Measured r{_mm256_movemask_ps(bad) == 0, {0, 0, 0}};
  sums.reduce(r.sums);
  double t[3];
  for (std::size_t i = full; i < n; ++i) {
    r.finite = sgd_element(a, s, i, t) && r.finite;
    detail::add_terms(r.sums, t);
  }
  return r;
}

Measured sgd_range_avx2(const SgdArrays<>& a, std::size_t n, const SgdScalars& s) noexcept {
  return detail::sgd_form(s, [&](auto l2, auto momentum, auto nesterov) {
    return sgd_range_avx2_as<decltype(l2)::value, decltype(momentum)::value, decltype(nesterov)::value>(a, n, s);
  });
}

template <bool DECAY, bool L2, bool AMS>
CIMM_TARGET_AVX2 Measured adam_range_avx2_as(const AdamArrays<>& a, std::size_t n, const AdamScalars& s,
                                             const AdamMetric& metric) noexcept {
  const detail::AdamLanes lanes(s);
  detail::Sums4 sums(metric.scale, metric.epsilon);
  alignas(32) float roots[kTile];
  __m256 bad = _mm256_setzero_ps();
  const std::size_t full = n / 16 * 16;
  for (std::size_t begin = 0; begin < full; begin += kTile) {
    const std::size_t end = begin + kTile < full ? begin + kTile : full;
    for (std::size_t i = begin; i < end; i += 8) {
      const __m256 pv = _mm256_loadu_ps(a.p + i);
      __m256 root;
      const __m256 next =
          lanes.step<DECAY, L2, AMS>(pv, _mm256_loadu_ps(a.g + i), a.m + i, a.v + i, AMS ? a.w + i : nullptr, &root);
      _mm256_storeu_ps(a.q + i, pv);
      _mm256_storeu_ps(a.p + i, next);
      _mm256_store_ps(roots + (i - begin), root);
      bad = _mm256_or_ps(bad, detail::non_finite(next));
    }
    tile_sums(sums, a.q, a.p, a.g, roots, begin, end);
  }
  Measured r{_mm256_movemask_ps(bad) == 0, {0, 0, 0}};
  sums.reduce(r.sums);
  double t[3];
  for (std::size_t i = full; i < n; ++i) {
    r.finite = adam_element(a, s, metric, i, t) && r.finite;
    detail::add_terms(r.sums, t);
  }
  return r;
}

Measured adam_range_avx2(const AdamArrays<>& a, std::size_t n, const AdamScalars& s,
                         const AdamMetric& metric) noexcept {
  return detail::adam_form(s, [&](auto decay, auto l2, auto ams) {
    return adam_range_avx2_as<decltype(decay)::value, decltype(l2)::value, decltype(ams)::value>(a, n, s, metric);
  });
}

#endif

// Runs range(begin, end) over the fixed split of n (on the pool from kReduceParallel) and adds
// the ranges' sums in index order.
template <typename Range>
Measured over_split(std::size_t n, Range&& range) noexcept {
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  Measured partial[kMaxSumUnits];
  auto fill = [&](std::size_t r) {
    const std::size_t begin = r * chunk < n ? r * chunk : n;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    partial[r] = range(begin, end);
  };
  if (n >= kReduceParallel) {
    parallel_for(units, fill);
  } else {
    for (std::size_t r = 0; r < units; ++r) fill(r);
  }
  Measured out{true, {0, 0, 0}};
  for (std::size_t r = 0; r < units; ++r) {
    for (int k = 0; k < 3; ++k) out.sums[k] += partial[r].sums[k];
    out.finite = out.finite && partial[r].finite;
  }
  return out;
}

template <typename T>
SgdArrays<T> sgd_arrays(T* p, const T* g, T* buf, T* before, const detail::SgdScalarsT<T>& s, std::size_t at) noexcept {
  return {p + at, g + at, s.mu != T(0) ? buf + at : buf, before + at};
}

template <typename T>
AdamArrays<T> adam_arrays(T* p, const T* g, T* m, T* v, T* vmax, T* before, const detail::AdamScalarsT<T>& s,
                          std::size_t at) noexcept {
  return {p + at, g + at, m + at, v + at, s.amsgrad ? vmax + at : vmax, before + at};
}

}  // namespace

namespace detail {

Measured sgd_measured_scalar(float* p, const float* g, float* buf, float* before, std::size_t n,
                             const SgdHyper& h) noexcept {
  const SgdScalars s(h);
  return sgd_range_scalar(sgd_arrays(p, g, buf, before, s, 0), n, s);
}

Measured adam_measured_scalar(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                              const AdamHyper& h, const AdamMetric& metric) noexcept {
  const AdamScalars s(h);
  return adam_range_scalar(adam_arrays(p, g, m, v, vmax, before, s, 0), n, s, metric);
}

#if CIMM_HAVE_X86_DISPATCH

Measured sgd_measured_avx2(float* p, const float* g, float* buf, float* before, std::size_t n,
                           const SgdHyper& h) noexcept {
  const SgdScalars s(h);
  return sgd_range_avx2(sgd_arrays(p, g, buf, before, s, 0), n, s);
}

Measured adam_measured_avx2(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                            const AdamHyper& h, const AdamMetric& metric) noexcept {
  const AdamScalars s(h);
  return adam_range_avx2(adam_arrays(p, g, m, v, vmax, before, s, 0), n, s, metric);
}

#else

Measured sgd_measured_avx2(float* p, const float* g, float* buf, float* before, std::size_t n,
                           const SgdHyper& h) noexcept {
  return sgd_measured_scalar(p, g, buf, before, n, h);
}

Measured adam_measured_avx2(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                            const AdamHyper& h, const AdamMetric& metric) noexcept {
  return adam_measured_scalar(p, g, m, v, vmax, before, n, h, metric);
}

#endif

}  // namespace detail

Measured sgd_step_measured(float* p, const float* g, float* buf, float* before, std::size_t n,
                           const SgdHyper& h) noexcept {
  const SgdScalars s(h);
  const bool simd = has_avx2_fma();
  return over_split(n, [&](std::size_t begin, std::size_t end) {
    const SgdArrays<> a = sgd_arrays(p, g, buf, before, s, begin);
#if CIMM_HAVE_X86_DISPATCH
    if (simd) return sgd_range_avx2(a, end - begin, s);
#endif
    (void)simd;
    return sgd_range_scalar(a, end - begin, s);
  });
}

Measured adam_step_measured(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                            const AdamHyper& h, const AdamMetric& metric) noexcept {
  const AdamScalars s(h);
  const bool simd = has_avx2_fma();
  return over_split(n, [&](std::size_t begin, std::size_t end) {
    const AdamArrays<> a = adam_arrays(p, g, m, v, vmax, before, s, begin);
#if CIMM_HAVE_X86_DISPATCH
    if (simd) return adam_range_avx2(a, end - begin, s, metric);
#endif
    (void)simd;
    return adam_range_scalar(a, end - begin, s, metric);
  });
}

// f64: the scalar code on every path (the AVX2 tiles are f32's), in the same canonical order.
Measured sgd_step_measured(double* p, const double* g, double* buf, double* before, std::size_t n,
                           const SgdHyper& h) noexcept {
  const detail::SgdScalarsT<double> s(h);
  return over_split(n, [&](std::size_t begin, std::size_t end) {
    return sgd_range_scalar(sgd_arrays(p, g, buf, before, s, begin), end - begin, s);
  });
}

Measured adam_step_measured(double* p, const double* g, double* m, double* v, double* vmax, double* before,
                            std::size_t n, const AdamHyper& h, const AdamMetric& metric) noexcept {
  const detail::AdamScalarsT<double> s(h);
  return over_split(n, [&](std::size_t begin, std::size_t end) {
    return adam_range_scalar(adam_arrays(p, g, m, v, vmax, before, s, begin), end - begin, s, metric);
  });
}

}  // namespace cimm
