// Fused optimizer updates: torch.optim.SGD and Adam/AdamW, f32 or f64, unfused (see optim.hpp).
// Each element's update touches only that element, so the pool splits the arrays into
// ranges without changing any result.
#include "optim.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu.hpp"
#include "optim_kernels.hpp"
#include "parallel.hpp"
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
