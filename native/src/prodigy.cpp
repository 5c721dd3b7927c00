// Prodigy's two passes, element operations of the parameters' dtype (one template for f32
// and f64) in prodigyopt's order, f64 sums in
// the fixed order of prodigy.hpp (bit-identical to the Rust kernels and the js reference).
// The loops are written lane-wise so that the compiler vectorizes them; on AVX2 machines a
// second copy compiled for AVX2 runs (built with FP contraction off: no FMA either way).
#include "prodigy.hpp"

#include <cmath>
#include <limits>

#include "cpu.hpp"
#include "optim.hpp"
#include "parallel.hpp"
#include "simd.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {

namespace {

template <typename T>
struct AccScalars {
  T b1, b2, b3, c1, c2, cs, wd;
  explicit AccScalars(const ProdigyAccumulateHyper& h)
      : b1(static_cast<T>(h.beta1)),
        b2(static_cast<T>(h.beta2)),
        b3(static_cast<T>(h.beta3)),
        c1(static_cast<T>(h.moment_scale)),
        c2(static_cast<T>(h.variance_scale)),
        cs(static_cast<T>(h.s_scale)),
        wd(static_cast<T>(h.weight_decay)) {}
};

inline double lanes(const double* a) noexcept {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <typename T, bool WD>
inline __attribute__((always_inline)) void accumulate_one(T pi, T g, T p0, T& m, T& v, T& s, const AccScalars<T>& k,
                                                          double& dot, double& l1) noexcept {
  T gi = g;
  if (WD) {
    const T l2 = k.wd * pi;
    gi = gi + l2;
  }
  const T diff = p0 - pi;
  dot += static_cast<double>(gi) * static_cast<double>(diff);
  const T m_kept = m * k.b1;
  const T m_added = k.c1 * gi;
  m = m_kept + m_added;
  const T v_kept = v * k.b2;
  const T cg = k.c2 * gi;
  const T v_added = cg * gi;
  v = v_kept + v_added;
  const T s_kept = s * k.b3;
  const T s_added = k.cs * gi;
  const T si = s_kept + s_added;
  s = si;
  l1 += static_cast<double>(std::fabs(si));
}

// Groups of 8 with a fixed-length inner loop (vectorized by the compiler), then the tail.
template <typename T, bool WD>
inline __attribute__((always_inline)) ProdigySums accumulate_lanes(const T* __restrict p, const T* __restrict g,
                                                                   const T* __restrict p0, T* __restrict m,
                                                                   T* __restrict v, T* __restrict s, std::size_t begin,
                                                                   std::size_t end, const AccScalars<T>& k) noexcept {
  double dot[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double l1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::size_t full = begin + (end - begin) / 8 * 8;
  for (std::size_t start = begin; start < full; start += 8) {
    for (std::size_t j = 0; j < 8; ++j) {
      const std::size_t i = start + j;
      accumulate_one<T, WD>(p[i], g[i], p0[i], m[i], v[i], s[i], k, dot[j], l1[j]);
    }
  }
  for (std::size_t i = full; i < end; ++i)
    accumulate_one<T, WD>(p[i], g[i], p0[i], m[i], v[i], s[i], k, dot[i - full], l1[i - full]);
  return {lanes(dot), lanes(l1)};
}

template <typename T>
inline __attribute__((always_inline)) ProdigySums accumulate_body(const T* p, const T* g, const T* p0, T* m, T* v, T* s,
                                                                  std::size_t begin, std::size_t end,
                                                                  const AccScalars<T>& k) noexcept {
  if (k.wd != T(0)) return accumulate_lanes<T, true>(p, g, p0, m, v, s, begin, end, k);
  return accumulate_lanes<T, false>(p, g, p0, m, v, s, begin, end, k);
}

template <typename T>
ProdigySums accumulate_scalar(const T* p, const T* g, const T* p0, T* m, T* v, T* s, std::size_t begin, std::size_t end,
                              const AccScalars<T>& k) noexcept {
  return accumulate_body(p, g, p0, m, v, s, begin, end, k);
}

#if CIMM_HAVE_X86_DISPATCH
template <typename T>
CIMM_TARGET_AVX2 ProdigySums accumulate_avx2(const T* p, const T* g, const T* p0, T* m, T* v, T* s, std::size_t begin,
                                             std::size_t end, const AccScalars<T>& k) noexcept {
  return accumulate_body(p, g, p0, m, v, s, begin, end, k);
}
#endif

template <typename T>
struct UpdScalars {
  T step, eps, decay;
  explicit UpdScalars(const ProdigyUpdateHyper& h)
      : step(static_cast<T>(-h.step_size)), eps(static_cast<T>(h.epsilon)), decay(static_cast<T>(h.decay)) {}
};

template <typename T>
inline bool finite(T x) noexcept {
  return std::fabs(x) < std::numeric_limits<T>::infinity();
}

template <typename T, bool DECAY>
inline __attribute__((always_inline)) bool update_lanes(T* __restrict p, const T* __restrict m, const T* __restrict v,
                                                        std::size_t begin, std::size_t end,
                                                        const UpdScalars<T>& k) noexcept {
  int ok = 1;
  for (std::size_t i = begin; i < end; ++i) {
    T pi = p[i];
    if (DECAY) {
      const T shrink = k.decay * pi;
      pi = pi + shrink;
    }
    const T root = std::sqrt(v[i]);
    const T denom = root + k.eps;
    const T num = k.step * m[i];
    const T delta = num / denom;
    const T next = pi + delta;
    p[i] = next;
    ok &= static_cast<int>(finite(next));
  }
  return ok != 0;
}

template <typename T>
inline __attribute__((always_inline)) bool update_body(T* p, const T* m, const T* v, std::size_t begin, std::size_t end,
                                                       const UpdScalars<T>& k) noexcept {
  if (k.decay != T(0)) return update_lanes<T, true>(p, m, v, begin, end, k);
  return update_lanes<T, false>(p, m, v, begin, end, k);
}

template <typename T>
bool update_scalar(T* p, const T* m, const T* v, std::size_t begin, std::size_t end, const UpdScalars<T>& k) noexcept {
  return update_body(p, m, v, begin, end, k);
}

#if CIMM_HAVE_X86_DISPATCH
template <typename T>
CIMM_TARGET_AVX2 bool update_avx2(T* p, const T* m, const T* v, std::size_t begin, std::size_t end,
                                  const UpdScalars<T>& k) noexcept {
  return update_body(p, m, v, begin, end, k);
}
#endif

bool use_avx2() noexcept {
#if CIMM_HAVE_X86_DISPATCH
  static const bool yes = has_avx2_fma();
  return yes;
#else
  return false;
#endif
}

template <typename T>
ProdigySums accumulate_t(const T* p, const T* g, const T* p0, T* m, T* v, T* s, std::size_t n,
                         const ProdigyAccumulateHyper& h) noexcept {
  const AccScalars<T> k(h);
  const std::size_t unit = prodigy_unit(n);
  const std::size_t units = (n + unit - 1) / unit;
  ProdigySums sums[kProdigyMaxUnits];
  const bool avx2 = use_avx2();
  auto body = [&](std::size_t u) {
    const std::size_t begin = u * unit;
    const std::size_t end = begin + unit < n ? begin + unit : n;
#if CIMM_HAVE_X86_DISPATCH
    if (avx2) {
      sums[u] = accumulate_avx2(p, g, p0, m, v, s, begin, end, k);
      return;
    }
#endif
    (void)avx2;
    sums[u] = accumulate_scalar(p, g, p0, m, v, s, begin, end, k);
  };
  if (n < kOptimParallelMin || thread_count() == 1) {
    for (std::size_t u = 0; u < units; ++u) body(u);
  } else {
    parallel_for(units, body);
  }
  // Units added in order from 0, whichever thread computed them.
  ProdigySums total{0.0, 0.0};
  for (std::size_t u = 0; u < units; ++u) {
    total.dot += sums[u].dot;
    total.l1 += sums[u].l1;
  }
  return total;
}

template <typename T>
bool update_t(T* p, const T* m, const T* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept {
  const UpdScalars<T> k(h);
  const bool avx2 = use_avx2();
  auto range = [&](std::size_t begin, std::size_t end) {
#if CIMM_HAVE_X86_DISPATCH
    if (avx2) return update_avx2(p, m, v, begin, end, k);
#endif
    (void)avx2;
    return update_scalar(p, m, v, begin, end, k);
  };
  return detail::all_ranges(n, range);
}

}  // namespace

ProdigySums prodigy_accumulate(const float* p, const float* g, const float* p0, float* m, float* v, float* s,
                               std::size_t n, const ProdigyAccumulateHyper& h) noexcept {
  return accumulate_t(p, g, p0, m, v, s, n, h);
}

ProdigySums prodigy_accumulate(const double* p, const double* g, const double* p0, double* m, double* v, double* s,
                               std::size_t n, const ProdigyAccumulateHyper& h) noexcept {
  return accumulate_t(p, g, p0, m, v, s, n, h);
}

bool prodigy_update(float* p, const float* m, const float* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept {
  return update_t(p, m, v, n, h);
}

bool prodigy_update(double* p, const double* m, const double* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept {
  return update_t(p, m, v, n, h);
}

}  // namespace cimm
