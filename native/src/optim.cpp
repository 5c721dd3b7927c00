// Fused optimizer updates: torch.optim.SGD and Adam/AdamW, f32 or f64, unfused (see optim.hpp).
// Each element's update touches only that element, so the pool splits the arrays into
// ranges without changing any result.
//
// Measured optimizer steps (optim.hpp, "measured steps"): scalar and AVX2 side by side, each range in
// update_energy's canonical order, the ranges of the fixed split over the pool.
#include "optim.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "balance_kernels.hpp"
#include "cpu.hpp"
#include "optim_kernels.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "simd.hpp"

// a·b + c must stay two roundings, as in the js reference (GCC: -std=c++17 and
// -ffp-contract=off from CMakeLists.txt; Clang honours this pragma).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {

namespace {

using detail::AdamScalars;
using detail::finite;
using detail::SgdScalars;

template <typename T>
bool sgd_scalar_range(T* p, const T* g, T* b, std::size_t begin, std::size_t end,
                      const detail::SgdScalarsT<T>& s) noexcept {
  bool ok = true;
  T unused = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const T next = detail::sgd_one(s, p[i], g[i], s.mu != T(0) ? b + i : &unused);
    p[i] = next;
    ok = ok && finite(next);
  }
  return ok;
}

template <typename T>
bool adam_scalar_range(T* p, const T* g, T* m, T* v, T* w, std::size_t begin, std::size_t end,
                       const detail::AdamScalarsT<T>& s) noexcept {
  bool ok = true;
  T unused = 0;
  T root = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const T next = detail::adam_one(s, p[i], g[i], m + i, v + i, s.amsgrad ? w + i : &unused, &root);
    p[i] = next;
    ok = ok && finite(next);
  }
  return ok;
}

#if CIMM_HAVE_X86_DISPATCH

using detail::non_finite;

template <bool L2, int MOMENTUM, bool NESTEROV>
CIMM_TARGET_AVX2 bool sgd_avx2_range_as(float* p, const float* g, float* b, std::size_t begin, std::size_t end,
                                        const SgdScalars& s) noexcept {
  const detail::SgdLanes lanes(s);
  __m256 bad = _mm256_setzero_ps();
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 next = lanes.step<L2, MOMENTUM, NESTEROV>(_mm256_loadu_ps(p + i), _mm256_loadu_ps(g + i),
                                                           MOMENTUM != 0 ? b + i : nullptr);
    _mm256_storeu_ps(p + i, next);
    bad = _mm256_or_ps(bad, non_finite(next));
  }
  const bool tail = sgd_scalar_range(p, g, b, i, end, s);
  return _mm256_movemask_ps(bad) == 0 && tail;
}

bool sgd_avx2_range(float* p, const float* g, float* b, std::size_t begin, std::size_t end,
                    const SgdScalars& s) noexcept {
  return detail::sgd_form(s, [&](auto l2, auto momentum, auto nesterov) {
    return sgd_avx2_range_as<decltype(l2)::value, decltype(momentum)::value, decltype(nesterov)::value>(p, g, b, begin,
                                                                                                        end, s);
  });
}

template <bool DECAY, bool L2, bool AMS>
CIMM_TARGET_AVX2 bool adam_avx2_range_as(float* p, const float* g, float* m, float* v, float* w, std::size_t begin,
                                         std::size_t end, const AdamScalars& s) noexcept {
  const detail::AdamLanes lanes(s);
  __m256 bad = _mm256_setzero_ps();
  __m256 root;
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 next = lanes.step<DECAY, L2, AMS>(_mm256_loadu_ps(p + i), _mm256_loadu_ps(g + i), m + i, v + i,
                                                   AMS ? w + i : nullptr, &root);
    _mm256_storeu_ps(p + i, next);
    bad = _mm256_or_ps(bad, non_finite(next));
  }
  const bool tail = adam_scalar_range(p, g, m, v, w, i, end, s);
  return _mm256_movemask_ps(bad) == 0 && tail;
}

bool adam_avx2_range(float* p, const float* g, float* m, float* v, float* w, std::size_t begin, std::size_t end,
                     const AdamScalars& s) noexcept {
  return detail::adam_form(s, [&](auto decay, auto l2, auto ams) {
    return adam_avx2_range_as<decltype(decay)::value, decltype(l2)::value, decltype(ams)::value>(p, g, m, v, w, begin,
                                                                                                 end, s);
  });
}

CIMM_TARGET_AVX2 long long first_non_finite_avx2_range(const float* x, std::size_t begin, std::size_t end) noexcept {
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const int mask = _mm256_movemask_ps(non_finite(_mm256_loadu_ps(x + i)));
    if (mask != 0) return static_cast<long long>(i) + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < end; ++i) {
    if (!finite(x[i])) return static_cast<long long>(i);
  }
  return -1;
}

// dst ← src over [begin, end) with streaming stores (the destination's lines are not read
// first): the copy bandwidth probe, 8 bytes of traffic per element as counted.
CIMM_TARGET_AVX2 void stream_copy_avx2(const float* src, float* dst, std::size_t begin, std::size_t end) noexcept {
  std::size_t i = begin;
  for (; i < end && reinterpret_cast<std::uintptr_t>(dst + i) % 32 != 0; ++i) dst[i] = src[i];
  for (; i + 8 <= end; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < end; ++i) dst[i] = src[i];
  _mm_sfence();
}

#endif

template <typename T>
long long first_non_finite_scalar_range(const T* x, std::size_t begin, std::size_t end) noexcept {
  for (std::size_t i = begin; i < end; ++i) {
    if (!finite(x[i])) return static_cast<long long>(i);
  }
  return -1;
}

}  // namespace

namespace detail {

bool sgd_scalar(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept {
  return sgd_scalar_range(p, g, buf, 0, n, SgdScalars(h));
}

bool adam_scalar(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n,
                 const AdamHyper& h) noexcept {
  return adam_scalar_range(p, g, m, v, vmax, 0, n, AdamScalars(h));
}

long long first_non_finite_scalar(const float* x, std::size_t n) noexcept {
  return first_non_finite_scalar_range(x, 0, n);
}

#if CIMM_HAVE_X86_DISPATCH

bool sgd_avx2(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept {
  return sgd_avx2_range(p, g, buf, 0, n, SgdScalars(h));
}

bool adam_avx2(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept {
  return adam_avx2_range(p, g, m, v, vmax, 0, n, AdamScalars(h));
}

long long first_non_finite_avx2(const float* x, std::size_t n) noexcept { return first_non_finite_avx2_range(x, 0, n); }

#else

bool sgd_avx2(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept {
  return sgd_scalar(p, g, buf, n, h);
}

bool adam_avx2(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept {
  return adam_scalar(p, g, m, v, vmax, n, h);
}

long long first_non_finite_avx2(const float* x, std::size_t n) noexcept { return first_non_finite_scalar(x, n); }

#endif

}  // namespace detail

bool sgd_step(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept {
  const SgdScalars s(h);
  const bool simd = has_avx2_fma();
  return detail::all_ranges(n, [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (simd) return sgd_avx2_range(p, g, buf, begin, end, s);
#endif
    (void)simd;
    return sgd_scalar_range(p, g, buf, begin, end, s);
  });
}

bool adam_step(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept {
  const AdamScalars s(h);
  const bool simd = has_avx2_fma();
  return detail::all_ranges(n, [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (simd) return adam_avx2_range(p, g, m, v, vmax, begin, end, s);
#endif
    (void)simd;
    return adam_scalar_range(p, g, m, v, vmax, begin, end, s);
  });
}

#if CIMM_HAVE_X86_DISPATCH
namespace {

// f64 on AVX2: the scalar code's per-element functions (sgd_one, adam_one) in loops whose
// options are template flags (sgd_form, adam_form) and with no per-element branch, compiled
// for AVX2 so that the compiler vectorizes them (4 lanes of f64); no contraction (this file is
// built with -ffp-contract=off), so every path gives the scalar path's bits.
template <bool L2, int MOMENTUM, bool NESTEROV>
CIMM_TARGET_AVX2 bool sgd_f64_avx2_as(double* __restrict p, const double* __restrict g, double* __restrict b,
                                      std::size_t begin, std::size_t end,
                                      const detail::SgdScalarsT<double>& s) noexcept {
  unsigned bad = 0;
  double unused = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const double next = detail::sgd_one(s, p[i], g[i], MOMENTUM != 0 ? b + i : &unused);
    p[i] = next;
    bad |= static_cast<unsigned>(!(std::fabs(next) < std::numeric_limits<double>::infinity()));
  }
  return bad == 0;
}

template <bool DECAY, bool L2, bool AMS>
CIMM_TARGET_AVX2 bool adam_f64_avx2_as(double* __restrict p, const double* __restrict g, double* __restrict m,
                                       double* __restrict v, double* __restrict w, std::size_t begin, std::size_t end,
                                       const detail::AdamScalarsT<double>& s) noexcept {
  unsigned bad = 0;
  double unused = 0;
  double root = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const double next = detail::adam_one(s, p[i], g[i], m + i, v + i, AMS ? w + i : &unused, &root);
    p[i] = next;
    bad |= static_cast<unsigned>(!(std::fabs(next) < std::numeric_limits<double>::infinity()));
  }
  return bad == 0;
}

}  // namespace
#endif

// f64: the AVX2 loops above where the CPU has AVX2, else the scalar code.
bool sgd_step(double* p, const double* g, double* buf, std::size_t n, const SgdHyper& h) noexcept {
  const detail::SgdScalarsT<double> s(h);
  const bool simd = has_avx2_fma();
  return detail::all_ranges(n, [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (simd) {
      return detail::sgd_form(s, [&](auto l2, auto momentum, auto nesterov) {
        return sgd_f64_avx2_as<decltype(l2)::value, decltype(momentum)::value, decltype(nesterov)::value>(
            p, g, buf, begin, end, s);
      });
    }
#endif
    (void)simd;
    return sgd_scalar_range(p, g, buf, begin, end, s);
  });
}

bool adam_step(double* p, const double* g, double* m, double* v, double* vmax, std::size_t n,
               const AdamHyper& h) noexcept {
  const detail::AdamScalarsT<double> s(h);
  const bool simd = has_avx2_fma();
  return detail::all_ranges(n, [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (simd) {
      return detail::adam_form(s, [&](auto decay, auto l2, auto ams) {
        return adam_f64_avx2_as<decltype(decay)::value, decltype(l2)::value, decltype(ams)::value>(p, g, m, v, vmax,
                                                                                                   begin, end, s);
      });
    }
#endif
    (void)simd;
    return adam_scalar_range(p, g, m, v, vmax, begin, end, s);
  });
}

namespace {

// The first non-finite index of x[0 … n), the ranges scanned by `scan` on the pool.
template <typename T, typename Scan>
long long first_non_finite_on(const T* x, std::size_t n, Scan scan) noexcept {
  if (n < kOptimParallelMin || thread_count() == 1) return scan(x, n);
  const std::size_t unit = detail::optim_unit(n);
  const std::size_t units = (n + unit - 1) / unit;
  long long found[detail::kOptimMaxUnits];
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * unit;
    const std::size_t end = begin + unit < n ? begin + unit : n;
    const long long i = scan(x + begin, end - begin);
    found[u] = i < 0 ? -1 : static_cast<long long>(begin) + i;
  });
  for (std::size_t u = 0; u < units; ++u) {
    if (found[u] >= 0) return found[u];
  }
  return -1;
}

}  // namespace

long long first_non_finite(const float* x, std::size_t n) noexcept {
  return first_non_finite_on(x, n, has_avx2_fma() ? detail::first_non_finite_avx2 : detail::first_non_finite_scalar);
}

long long first_non_finite(const double* x, std::size_t n) noexcept {
  return first_non_finite_on(
      x, n, [](const double* y, std::size_t m) { return first_non_finite_scalar_range(y, std::size_t{0}, m); });
}

void memory_copy(const float* src, float* dst, std::size_t n) noexcept {
  const bool simd = has_avx2_fma();
  detail::all_ranges(n, [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (simd) {
      stream_copy_avx2(src, dst, begin, end);
      return true;
    }
#endif
    (void)simd;
    if (end > begin) std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
    return true;
  });
}

}  // namespace cimm

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

// ---- the gradient reductions and in-place updates of the stability controller (eq. 11) ----

namespace detail {

double sum_squares_scalar(const float* x, std::size_t n) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

std::size_t zero_non_finite_scalar(float* x, std::size_t n) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      x[i] = 0;
      ++count;
    }
  }
  return count;
}

void scale_scalar(float* x, std::size_t n, double s) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<double>(x[i]) * s);
}

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 double sum_squares_avx2(const float* x, std::size_t n) noexcept {
  __m256d acc[4];
  for (auto& v : acc) v = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int u = 0; u < 4; ++u) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * u));
      acc[u] = _mm256_fmadd_pd(v, v, acc[u]);
    }
  }
  double s = detail::lane_sum4(acc);
  for (; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

CIMM_TARGET_AVX2 std::size_t zero_non_finite_avx2(float* x, std::size_t n) noexcept {
  // non-finite ⟺ every exponent bit set
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i bad = _mm256_cmpeq_epi32(_mm256_and_si256(v, exponent), exponent);
    const int mask = _mm256_movemask_ps(_mm256_castsi256_ps(bad));
    if (mask != 0) {
      count += static_cast<std::size_t>(__builtin_popcount(static_cast<unsigned>(mask)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + i), _mm256_andnot_si256(bad, v));
    }
  }
  return count + zero_non_finite_scalar(x + i, n - i);
}

CIMM_TARGET_AVX2 void scale_avx2(float* x, std::size_t n, double s) noexcept {
  const __m256d sv = _mm256_set1_pd(s);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), sv));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), sv));
    _mm_storeu_ps(x + i, lo);
    _mm_storeu_ps(x + i + 4, hi);
  }
  scale_scalar(x + i, n - i, s);
}

#else

double sum_squares_avx2(const float* x, std::size_t n) noexcept { return sum_squares_scalar(x, n); }
std::size_t zero_non_finite_avx2(float* x, std::size_t n) noexcept { return zero_non_finite_scalar(x, n); }
void scale_avx2(float* x, std::size_t n, double s) noexcept { scale_scalar(x, n, s); }

#endif

}  // namespace detail

double l2_norm(const float* x, std::size_t n) {
  const bool v = has_avx2_fma();
  double total = 0;
  detail::split_sum<1>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        slot[0] = v ? detail::sum_squares_avx2(x + b, e - b) : detail::sum_squares_scalar(x + b, e - b);
      },
      &total);
  return std::sqrt(total);
}

std::size_t zero_non_finite(float* x, std::size_t n) {
  const bool v = has_avx2_fma();
  auto run = [v](float* p, std::size_t len) {
    return v ? detail::zero_non_finite_avx2(p, len) : detail::zero_non_finite_scalar(p, len);
  };
  if (n < kReduceParallel) return run(x, n);
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  std::size_t counts[kMaxSumUnits] = {};
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * chunk;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    counts[u] = run(x + begin, end - begin);
  });
  std::size_t total = 0;
  for (std::size_t u = 0; u < units; ++u) total += counts[u];
  return total;
}

void scale_in_place(float* x, std::size_t n, double s) {
  const bool v = has_avx2_fma();
  auto run = [v, s](float* p, std::size_t len) { v ? detail::scale_avx2(p, len, s) : detail::scale_scalar(p, len, s); };
  if (n < kReduceParallel) return run(x, n);
  const std::size_t units = (n + kReduceMinUnit - 1) / kReduceMinUnit;
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * kReduceMinUnit;
    run(x + begin, (begin + kReduceMinUnit < n ? begin + kReduceMinUnit : n) - begin);
  });
}

double l2_norm(const double* x, std::size_t n) {
  double total = 0;
  detail::split_sum<1>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        double sum = 0;
        for (std::size_t i = b; i < e; ++i) sum += x[i] * x[i];
        slot[0] = sum;
      },
      &total);
  return std::sqrt(total);
}

std::size_t zero_non_finite(double* x, std::size_t n) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) < std::numeric_limits<double>::infinity())) {
      x[i] = 0;
      ++count;
    }
  }
  return count;
}

void scale_in_place(double* x, std::size_t n, double s) {
  for (std::size_t i = 0; i < n; ++i) x[i] = x[i] * s;
}

}  // namespace cimm
