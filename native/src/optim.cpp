// Fused optimizer updates: torch.optim.SGD and Adam/AdamW, f32, unfused (see optim.hpp).
// Each element's update touches only that element, so the pool splits the arrays into
// ranges without changing any result.
#include "optim.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu.hpp"
#include "parallel.hpp"
#include "simd.hpp"

// a·b + c must stay two roundings, as in the js reference (GCC: -std=c++17 and
// -ffp-contract=off from CMakeLists.txt; Clang honours this pragma).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {

namespace {

// f32 scalars, rounded once from the double hyperparameters (PyTorch converts its Python
// floats the same way; 1 − τ and 1 − β are formed in double first).
struct SgdScalars {
  float lr, mu, damp, wd;
  bool nesterov, maximize, first;
  explicit SgdScalars(const SgdHyper& h)
      : lr(static_cast<float>(h.learning_rate)),
        mu(static_cast<float>(h.momentum)),
        damp(static_cast<float>(1.0 - h.dampening)),
        wd(static_cast<float>(h.weight_decay)),
        nesterov(h.nesterov),
        maximize(h.maximize),
        first(h.first_step) {}
};

struct AdamScalars {
  float b1, b2, c1, c2, step, bc2, eps, wd, decay;
  bool amsgrad, maximize;
  explicit AdamScalars(const AdamHyper& h)
      : b1(static_cast<float>(h.beta1)),
        b2(static_cast<float>(h.beta2)),
        c1(static_cast<float>(1.0 - h.beta1)),
        c2(static_cast<float>(1.0 - h.beta2)),
        step(static_cast<float>(h.step_size)),
        bc2(static_cast<float>(h.bc2_sqrt)),
        eps(static_cast<float>(h.epsilon)),
        wd(static_cast<float>(h.weight_decay)),
        decay(static_cast<float>(h.decay)),
        amsgrad(h.amsgrad),
        maximize(h.maximize) {}
};

inline bool finite(float x) noexcept { return std::fabs(x) < std::numeric_limits<float>::infinity(); }

bool sgd_scalar_range(float* p, const float* g, float* b, std::size_t begin, std::size_t end,
                      const SgdScalars& s) noexcept {
  bool ok = true;
  for (std::size_t i = begin; i < end; ++i) {
    const float pi = p[i];
    float d = s.maximize ? -g[i] : g[i];
    if (s.wd != 0.0f) {
      const float l2 = s.wd * pi;
      d = d + l2;
    }
    if (s.mu != 0.0f) {
      float bi = d;
      if (!s.first) {
        const float kept = b[i] * s.mu;
        const float added = s.damp * d;
        bi = kept + added;
      }
      b[i] = bi;
      if (s.nesterov) {
        const float look = s.mu * bi;
        d = d + look;
      } else {
        d = bi;
      }
    }
    const float delta = s.lr * d;
    const float next = pi - delta;
    p[i] = next;
    ok = ok && finite(next);
  }
  return ok;
}

bool adam_scalar_range(float* p, const float* g, float* m, float* v, float* w, std::size_t begin, std::size_t end,
                       const AdamScalars& s) noexcept {
  bool ok = true;
  for (std::size_t i = begin; i < end; ++i) {
    float pi = p[i];
    if (s.decay != 1.0f) pi = pi * s.decay;
    float d = s.maximize ? -g[i] : g[i];
    if (s.wd != 0.0f) {
      const float l2 = s.wd * pi;
      d = d + l2;
    }
    const float m_kept = m[i] * s.b1;
    const float m_added = s.c1 * d;
    const float mi = m_kept + m_added;
    const float v_kept = v[i] * s.b2;
    const float cd = s.c2 * d;
    const float v_added = cd * d;
    const float vi = v_kept + v_added;
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (s.amsgrad) {
      second = vi > w[i] ? vi : w[i];
      w[i] = second;
    }
    const float root = std::sqrt(second);
    const float scaled = root / s.bc2;
    const float denom = scaled + s.eps;
    const float num = s.step * mi;
    const float delta = num / denom;
    const float next = pi - delta;
    p[i] = next;
    ok = ok && finite(next);
  }
  return ok;
}

#if CIMM_HAVE_X86_DISPATCH

// All-ones lanes where x is NaN or ±∞: !(|x| < ∞).
CIMM_TARGET_AVX2 inline __m256 non_finite(__m256 x) noexcept {
  const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  return _mm256_cmp_ps(abs, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_NLT_UQ);
}

CIMM_TARGET_AVX2 bool sgd_avx2_range(float* p, const float* g, float* b, std::size_t begin, std::size_t end,
                                     const SgdScalars& s) noexcept {
  const __m256 lr = _mm256_set1_ps(s.lr);
  const __m256 mu = _mm256_set1_ps(s.mu);
  const __m256 damp = _mm256_set1_ps(s.damp);
  const __m256 wd = _mm256_set1_ps(s.wd);
  const __m256 sign = _mm256_set1_ps(s.maximize ? -0.0f : 0.0f);
  __m256 bad = _mm256_setzero_ps();
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 pv = _mm256_loadu_ps(p + i);
    __m256 d = _mm256_xor_ps(_mm256_loadu_ps(g + i), sign);
    if (s.wd != 0.0f) d = _mm256_add_ps(d, _mm256_mul_ps(wd, pv));
    if (s.mu != 0.0f) {
      const __m256 bv = s.first ? d : _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(b + i), mu), _mm256_mul_ps(damp, d));
      _mm256_storeu_ps(b + i, bv);
      d = s.nesterov ? _mm256_add_ps(d, _mm256_mul_ps(mu, bv)) : bv;
    }
    const __m256 next = _mm256_sub_ps(pv, _mm256_mul_ps(lr, d));
    _mm256_storeu_ps(p + i, next);
    bad = _mm256_or_ps(bad, non_finite(next));
  }
  const bool tail = sgd_scalar_range(p, g, b, i, end, s);
  return _mm256_movemask_ps(bad) == 0 && tail;
}

CIMM_TARGET_AVX2 bool adam_avx2_range(float* p, const float* g, float* m, float* v, float* w, std::size_t begin,
                                      std::size_t end, const AdamScalars& s) noexcept {
  const __m256 b1 = _mm256_set1_ps(s.b1);
  const __m256 b2 = _mm256_set1_ps(s.b2);
  const __m256 c1 = _mm256_set1_ps(s.c1);
  const __m256 c2 = _mm256_set1_ps(s.c2);
  const __m256 step = _mm256_set1_ps(s.step);
  const __m256 bc2 = _mm256_set1_ps(s.bc2);
  const __m256 eps = _mm256_set1_ps(s.eps);
  const __m256 wd = _mm256_set1_ps(s.wd);
  const __m256 decay = _mm256_set1_ps(s.decay);
  const __m256 sign = _mm256_set1_ps(s.maximize ? -0.0f : 0.0f);
  __m256 bad = _mm256_setzero_ps();
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 pv = _mm256_loadu_ps(p + i);
    if (s.decay != 1.0f) pv = _mm256_mul_ps(pv, decay);
    __m256 d = _mm256_xor_ps(_mm256_loadu_ps(g + i), sign);
    if (s.wd != 0.0f) d = _mm256_add_ps(d, _mm256_mul_ps(wd, pv));
    const __m256 mv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), b1), _mm256_mul_ps(c1, d));
    const __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(c2, d), d));
    _mm256_storeu_ps(m + i, mv);
    _mm256_storeu_ps(v + i, vv);
    __m256 second = vv;
    if (s.amsgrad) {
      second = _mm256_max_ps(vv, _mm256_loadu_ps(w + i));  // vv > w ? vv : w, as the scalar path
      _mm256_storeu_ps(w + i, second);
    }
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(second), bc2), eps);
    const __m256 next = _mm256_sub_ps(pv, _mm256_div_ps(_mm256_mul_ps(step, mv), denom));
    _mm256_storeu_ps(p + i, next);
    bad = _mm256_or_ps(bad, non_finite(next));
  }
  const bool tail = adam_scalar_range(p, g, m, v, w, i, end, s);
  return _mm256_movemask_ps(bad) == 0 && tail;
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

long long first_non_finite_scalar_range(const float* x, std::size_t begin, std::size_t end) noexcept {
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

long long first_non_finite(const float* x, std::size_t n) noexcept {
  const auto scan = has_avx2_fma() ? detail::first_non_finite_avx2 : detail::first_non_finite_scalar;
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
