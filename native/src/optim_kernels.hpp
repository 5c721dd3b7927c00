// The per-element compute of the SGD and Adam/AdamW steps, shared by optim.cpp (the plain
// steps) and the measured steps of optim.cpp (the steps that also measure their update): the f32 scalars, one
// element, and (with x86 dispatch) 8 lanes. Operations of the parameters' dtype (float or
// double: the scalar code is one template for both; the 8-lane code is f32's) one at a time
// in PyTorch's order, never fused (the including files are built with FP contraction off),
// so every path gives the same bits. Internal: not part of the kernels' interface.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "optim.hpp"
#include "simd.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm {
namespace detail {

// Scalars in the dtype T, rounded once from the double hyperparameters (PyTorch converts its
// Python floats the same way; 1 − τ and 1 − β are formed in double first).
template <typename T>
struct SgdScalarsT {
  T lr, mu, damp, wd;
  bool nesterov, maximize, first;
  explicit SgdScalarsT(const SgdHyper& h)
      : lr(static_cast<T>(h.learning_rate)),
        mu(static_cast<T>(h.momentum)),
        damp(static_cast<T>(1.0 - h.dampening)),
        wd(static_cast<T>(h.weight_decay)),
        nesterov(h.nesterov),
        maximize(h.maximize),
        first(h.first_step) {}
};

template <typename T>
struct AdamScalarsT {
  T b1, b2, c1, c2, step, bc2, eps, wd, decay;
  bool amsgrad, maximize;
  explicit AdamScalarsT(const AdamHyper& h)
      : b1(static_cast<T>(h.beta1)),
        b2(static_cast<T>(h.beta2)),
        c1(static_cast<T>(1.0 - h.beta1)),
        c2(static_cast<T>(1.0 - h.beta2)),
        step(static_cast<T>(h.step_size)),
        bc2(static_cast<T>(h.bc2_sqrt)),
        eps(static_cast<T>(h.epsilon)),
        wd(static_cast<T>(h.weight_decay)),
        decay(static_cast<T>(h.decay)),
        amsgrad(h.amsgrad),
        maximize(h.maximize) {}
};

using SgdScalars = SgdScalarsT<float>;
using AdamScalars = AdamScalarsT<float>;

// f(std::bool_constant<b>{}): a run-time flag as a compile-time one.
template <typename F>
decltype(auto) with_flag(bool b, F&& f) {
  return b ? f(std::true_type{}) : f(std::false_type{});
}

// f(L2, MOMENTUM, NESTEROV) as integral constants: the SGD step's options (MOMENTUM 0: none,
// 1: the first step's b = d, 2: heavy ball), so that the loops of f have no branch on them.
template <typename T, typename F>
decltype(auto) sgd_form(const SgdScalarsT<T>& s, F&& f) {
  using M0 = std::integral_constant<int, 0>;
  using M1 = std::integral_constant<int, 1>;
  using M2 = std::integral_constant<int, 2>;
  return with_flag(s.wd != T(0), [&](auto l2) {
    if (s.mu == T(0)) return f(l2, M0{}, std::false_type{});
    return with_flag(s.nesterov,
                     [&](auto nesterov) { return s.first ? f(l2, M1{}, nesterov) : f(l2, M2{}, nesterov); });
  });
}

// f(DECAY, L2, AMS) as integral constants: the Adam step's options.
template <typename T, typename F>
decltype(auto) adam_form(const AdamScalarsT<T>& s, F&& f) {
  return with_flag(s.decay != T(1), [&](auto decay) {
    return with_flag(s.wd != T(0),
                     [&](auto l2) { return with_flag(s.amsgrad, [&](auto ams) { return f(decay, l2, ams); }); });
  });
}

template <typename T>
inline bool finite(T x) noexcept {
  return std::fabs(x) < std::numeric_limits<T>::infinity();
}

// One element of the SGD step: p's new value; *b (the element's momentum buffer) is read and
// written only when μ ≠ 0.
template <typename T>
inline T sgd_one(const SgdScalarsT<T>& s, T p, T g, T* b) noexcept {
  T d = s.maximize ? -g : g;
  if (s.wd != T(0)) {
    const T l2 = s.wd * p;
    d = d + l2;
  }
  if (s.mu != T(0)) {
    T bi = d;
    if (!s.first) {
      const T kept = *b * s.mu;
      const T added = s.damp * d;
      bi = kept + added;
    }
    *b = bi;
    if (s.nesterov) {
      const T look = s.mu * bi;
      d = d + look;
    } else {
      d = bi;
    }
  }
  const T delta = s.lr * d;
  return p - delta;
}

// One element of the Adam step: p's new value; *root receives the f32 √ of the second moment
// used (v, or v̂ with amsgrad). m, v and, with amsgrad, *w (v̂) are written.
template <typename T>
inline T adam_one(const AdamScalarsT<T>& s, T p, T g, T* m, T* v, T* w, T* root) noexcept {
  T pi = p;
  if (s.decay != T(1)) pi = pi * s.decay;
  T d = s.maximize ? -g : g;
  if (s.wd != T(0)) {
    const T l2 = s.wd * pi;
    d = d + l2;
  }
  const T m_kept = *m * s.b1;
  const T m_added = s.c1 * d;
  const T mi = m_kept + m_added;
  const T v_kept = *v * s.b2;
  const T cd = s.c2 * d;
  const T v_added = cd * d;
  const T vi = v_kept + v_added;
  *m = mi;
  *v = vi;
  T second = vi;
  if (s.amsgrad) {
    second = vi > *w ? vi : *w;
    *w = second;
  }
  const T r = std::sqrt(second);
  *root = r;
  const T scaled = r / s.bc2;
  const T denom = scaled + s.eps;
  const T num = s.step * mi;
  const T delta = num / denom;
  return pi - delta;
}

#if CIMM_HAVE_X86_DISPATCH

// All-ones lanes where x is NaN or ±∞: !(|x| < ∞).
CIMM_TARGET_AVX2 inline __m256 non_finite(__m256 x) noexcept {
  const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  return _mm256_cmp_ps(abs, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_NLT_UQ);
}

// The SGD scalars in 8 lanes, and 8 elements of the step (the scalar path's operations).
struct SgdLanes {
  __m256 lr, mu, damp, wd, sign;

  CIMM_TARGET_AVX2 explicit SgdLanes(const SgdScalars& sc) noexcept
      : lr(_mm256_set1_ps(sc.lr)),
        mu(_mm256_set1_ps(sc.mu)),
        damp(_mm256_set1_ps(sc.damp)),
        wd(_mm256_set1_ps(sc.wd)),
        sign(_mm256_set1_ps(sc.maximize ? -0.0f : 0.0f)) {}

  // p's new values; b (8 floats) is written when MOMENTUM ≠ 0 and read when it is 2. The
  // options are template parameters (sgd_form), so that a loop over it has no branch.
  template <bool L2, int MOMENTUM, bool NESTEROV>
  CIMM_TARGET_AVX2 __m256 step(__m256 pv, __m256 gv, float* b) const noexcept {
    __m256 d = _mm256_xor_ps(gv, sign);
    if (L2) d = _mm256_add_ps(d, _mm256_mul_ps(wd, pv));
    if (MOMENTUM != 0) {
      const __m256 bv =
          MOMENTUM == 1 ? d : _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(b), mu), _mm256_mul_ps(damp, d));
      _mm256_storeu_ps(b, bv);
      d = NESTEROV ? _mm256_add_ps(d, _mm256_mul_ps(mu, bv)) : bv;
    }
    return _mm256_sub_ps(pv, _mm256_mul_ps(lr, d));
  }
};

// The Adam scalars in 8 lanes, and 8 elements of the step (the scalar path's operations).
struct AdamLanes {
  __m256 b1, b2, c1, c2, step_size, bc2, eps, wd, decay, sign;

  CIMM_TARGET_AVX2 explicit AdamLanes(const AdamScalars& sc) noexcept
      : b1(_mm256_set1_ps(sc.b1)),
        b2(_mm256_set1_ps(sc.b2)),
        c1(_mm256_set1_ps(sc.c1)),
        c2(_mm256_set1_ps(sc.c2)),
        step_size(_mm256_set1_ps(sc.step)),
        bc2(_mm256_set1_ps(sc.bc2)),
        eps(_mm256_set1_ps(sc.eps)),
        wd(_mm256_set1_ps(sc.wd)),
        decay(_mm256_set1_ps(sc.decay)),
        sign(_mm256_set1_ps(sc.maximize ? -0.0f : 0.0f)) {}

  // p's new values; *root receives the f32 √ of the second moment used. m, v (8 floats each)
  // and, with AMS, w are read and written. The options are template parameters (adam_form).
  template <bool DECAY, bool L2, bool AMS>
  CIMM_TARGET_AVX2 __m256 step(__m256 pv, __m256 gv, float* m, float* v, float* w, __m256* root) const noexcept {
    if (DECAY) pv = _mm256_mul_ps(pv, decay);
    __m256 d = _mm256_xor_ps(gv, sign);
    if (L2) d = _mm256_add_ps(d, _mm256_mul_ps(wd, pv));
    const __m256 mv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m), b1), _mm256_mul_ps(c1, d));
    const __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v), b2), _mm256_mul_ps(_mm256_mul_ps(c2, d), d));
    _mm256_storeu_ps(m, mv);
    _mm256_storeu_ps(v, vv);
    __m256 second = vv;
    if (AMS) {
      second = _mm256_max_ps(vv, _mm256_loadu_ps(w));  // vv > w ? vv : w, as the scalar path
      _mm256_storeu_ps(w, second);
    }
    *root = _mm256_sqrt_ps(second);
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(*root, bc2), eps);
    return _mm256_sub_ps(pv, _mm256_div_ps(_mm256_mul_ps(step_size, mv), denom));
  }
};

#endif

}  // namespace detail
}  // namespace cimm
