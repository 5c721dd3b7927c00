// Prodigy's two passes, f32 element operations unfused in prodigyopt's order, f64 sums in
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

struct AccScalars {
  float b1, b2, b3, c1, c2, cs, wd;
  explicit AccScalars(const ProdigyAccumulateHyper& h)
      : b1(static_cast<float>(h.beta1)),
        b2(static_cast<float>(h.beta2)),
        b3(static_cast<float>(h.beta3)),
        c1(static_cast<float>(h.moment_scale)),
        c2(static_cast<float>(h.variance_scale)),
        cs(static_cast<float>(h.s_scale)),
        wd(static_cast<float>(h.weight_decay)) {}
};

inline double lanes(const double* a) noexcept {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <bool WD>
inline __attribute__((always_inline)) void accumulate_one(float pi, float g, float p0, float& m, float& v, float& s,
                                                          const AccScalars& k, double& dot, double& l1) noexcept {
  float gi = g;
  if (WD) {
    const float l2 = k.wd * pi;
    gi = gi + l2;
  }
  const float diff = p0 - pi;
  dot += static_cast<double>(gi) * static_cast<double>(diff);
  const float m_kept = m * k.b1;
  const float m_added = k.c1 * gi;
  m = m_kept + m_added;
  const float v_kept = v * k.b2;
  const float cg = k.c2 * gi;
  const float v_added = cg * gi;
  v = v_kept + v_added;
  const float s_kept = s * k.b3;
  const float s_added = k.cs * gi;
  const float si = s_kept + s_added;
  s = si;
  l1 += static_cast<double>(std::fabs(si));
}

// Groups of 8 with a fixed-length inner loop (vectorized by the compiler), then the tail.
template <bool WD>
inline __attribute__((always_inline)) ProdigySums accumulate_lanes(const float* __restrict p, const float* __restrict g,
                                                                   const float* __restrict p0, float* __restrict m,
                                                                   float* __restrict v, float* __restrict s,
                                                                   std::size_t begin, std::size_t end,
                                                                   const AccScalars& k) noexcept {
  double dot[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double l1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::size_t full = begin + (end - begin) / 8 * 8;
  for (std::size_t start = begin; start < full; start += 8) {
    for (std::size_t j = 0; j < 8; ++j) {
      const std::size_t i = start + j;
      accumulate_one<WD>(p[i], g[i], p0[i], m[i], v[i], s[i], k, dot[j], l1[j]);
    }
  }
  for (std::size_t i = full; i < end; ++i)
    accumulate_one<WD>(p[i], g[i], p0[i], m[i], v[i], s[i], k, dot[i - full], l1[i - full]);
  return {lanes(dot), lanes(l1)};
}

inline __attribute__((always_inline)) ProdigySums accumulate_body(const float* p, const float* g, const float* p0,
                                                                  float* m, float* v, float* s, std::size_t begin,
                                                                  std::size_t end, const AccScalars& k) noexcept {
  if (k.wd != 0.0f) return accumulate_lanes<true>(p, g, p0, m, v, s, begin, end, k);
  return accumulate_lanes<false>(p, g, p0, m, v, s, begin, end, k);
}

ProdigySums accumulate_scalar(const float* p, const float* g, const float* p0, float* m, float* v, float* s,
                              std::size_t begin, std::size_t end, const AccScalars& k) noexcept {
  return accumulate_body(p, g, p0, m, v, s, begin, end, k);
}

#if CIMM_HAVE_X86_DISPATCH
CIMM_TARGET_AVX2 ProdigySums accumulate_avx2(const float* p, const float* g, const float* p0, float* m, float* v,
                                             float* s, std::size_t begin, std::size_t end,
                                             const AccScalars& k) noexcept {
  return accumulate_body(p, g, p0, m, v, s, begin, end, k);
}
#endif

struct UpdScalars {
  float step, eps, decay;
  explicit UpdScalars(const ProdigyUpdateHyper& h)
      : step(static_cast<float>(-h.step_size)),
        eps(static_cast<float>(h.epsilon)),
        decay(static_cast<float>(h.decay)) {}
};

inline bool finite(float x) noexcept { return std::fabs(x) < std::numeric_limits<float>::infinity(); }

template <bool DECAY>
inline __attribute__((always_inline)) bool update_lanes(float* __restrict p, const float* __restrict m,
                                                        const float* __restrict v, std::size_t begin, std::size_t end,
                                                        const UpdScalars& k) noexcept {
  int ok = 1;
  for (std::size_t i = begin; i < end; ++i) {
    float pi = p[i];
    if (DECAY) {
      const float shrink = k.decay * pi;
      pi = pi + shrink;
    }
    const float root = std::sqrt(v[i]);
    const float denom = root + k.eps;
    const float num = k.step * m[i];
    const float delta = num / denom;
    const float next = pi + delta;
    p[i] = next;
    ok &= static_cast<int>(finite(next));
  }
  return ok != 0;
}

inline __attribute__((always_inline)) bool update_body(float* p, const float* m, const float* v, std::size_t begin,
                                                       std::size_t end, const UpdScalars& k) noexcept {
  if (k.decay != 0.0f) return update_lanes<true>(p, m, v, begin, end, k);
  return update_lanes<false>(p, m, v, begin, end, k);
}

bool update_scalar(float* p, const float* m, const float* v, std::size_t begin, std::size_t end,
                   const UpdScalars& k) noexcept {
  return update_body(p, m, v, begin, end, k);
}

#if CIMM_HAVE_X86_DISPATCH
CIMM_TARGET_AVX2 bool update_avx2(float* p, const float* m, const float* v, std::size_t begin, std::size_t end,
                                  const UpdScalars& k) noexcept {
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

}  // namespace

ProdigySums prodigy_accumulate(const float* p, const float* g, const float* p0, float* m, float* v, float* s,
                               std::size_t n, const ProdigyAccumulateHyper& h) noexcept {
  const AccScalars k(h);
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

bool prodigy_update(float* p, const float* m, const float* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept {
  const UpdScalars k(h);
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

}  // namespace cimm
