// The Adam/AdamW and SGD steps of the WebAssembly build in f32x4 lanes: the operations of
// detail::adam_one and detail::sgd_one (optim_kernels.hpp), one f32 operation at a time in
// PyTorch's order, so the same bits as the scalar path and the js reference (wasm's f32x4
// sqrt and div are correctly rounded, and wasm has no fused multiply-add). The native build's
// equivalent is the AVX2 path of optim.cpp; the wasm build would otherwise run the scalar
// loop, which clang does not vectorize (a pointer per element for the optional arrays).
#include <wasm_simd128.h>

#include <cstddef>
#include <limits>

#include "optim.hpp"
#include "optim_kernels.hpp"
#include "wasm_kernels.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm::wasm {

namespace {

using detail::AdamScalars;
using detail::SgdScalars;

// All-ones lanes where x is NaN or ±∞: !(|x| < ∞).
inline v128_t non_finite(v128_t x) noexcept {
  return wasm_v128_not(wasm_f32x4_lt(wasm_f32x4_abs(x), wasm_f32x4_splat(std::numeric_limits<float>::infinity())));
}

template <bool DECAY, bool L2, bool AMS>
bool adam_as(float* p, const float* g, float* m, float* v, float* w, std::size_t n, const AdamScalars& s) noexcept {
  const v128_t b1 = wasm_f32x4_splat(s.b1), b2 = wasm_f32x4_splat(s.b2), c1 = wasm_f32x4_splat(s.c1),
               c2 = wasm_f32x4_splat(s.c2), step = wasm_f32x4_splat(s.step), bc2 = wasm_f32x4_splat(s.bc2),
               eps = wasm_f32x4_splat(s.eps), wd = wasm_f32x4_splat(s.wd), decay = wasm_f32x4_splat(s.decay),
               sign = wasm_f32x4_splat(s.maximize ? -0.0f : 0.0f);
  v128_t bad = wasm_i32x4_splat(0);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t pv = wasm_v128_load(p + i);
    if (DECAY) pv = wasm_f32x4_mul(pv, decay);
    v128_t d = wasm_v128_xor(wasm_v128_load(g + i), sign);
    if (L2) d = wasm_f32x4_add(d, wasm_f32x4_mul(wd, pv));
    const v128_t mv = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), b1), wasm_f32x4_mul(c1, d));
    const v128_t vv =
        wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), b2), wasm_f32x4_mul(wasm_f32x4_mul(c2, d), d));
    wasm_v128_store(m + i, mv);
    wasm_v128_store(v + i, vv);
    v128_t second = vv;
    if (AMS) {
      second = wasm_f32x4_pmax(wasm_v128_load(w + i), vv);  // w < vv ? vv : w, as the scalar path
      wasm_v128_store(w + i, second);
    }
    const v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(second), bc2), eps);
    const v128_t next = wasm_f32x4_sub(pv, wasm_f32x4_div(wasm_f32x4_mul(step, mv), denom));
    wasm_v128_store(p + i, next);
    bad = wasm_v128_or(bad, non_finite(next));
  }
  bool ok = !wasm_v128_any_true(bad);
  float unused = 0.0f, root = 0.0f;
  for (; i < n; ++i) {
    const float next = detail::adam_one(s, p[i], g[i], m + i, v + i, AMS ? w + i : &unused, &root);
    p[i] = next;
    ok = ok && detail::finite(next);
  }
  return ok;
}

template <bool L2, int MOMENTUM, bool NESTEROV>
bool sgd_as(float* p, const float* g, float* b, std::size_t n, const SgdScalars& s) noexcept {
  const v128_t lr = wasm_f32x4_splat(s.lr), mu = wasm_f32x4_splat(s.mu), damp = wasm_f32x4_splat(s.damp),
               wd = wasm_f32x4_splat(s.wd), sign = wasm_f32x4_splat(s.maximize ? -0.0f : 0.0f);
  v128_t bad = wasm_i32x4_splat(0);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t pv = wasm_v128_load(p + i);
    v128_t d = wasm_v128_xor(wasm_v128_load(g + i), sign);
    if (L2) d = wasm_f32x4_add(d, wasm_f32x4_mul(wd, pv));
    if (MOMENTUM != 0) {
      const v128_t bv =
          MOMENTUM == 1 ? d : wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(b + i), mu), wasm_f32x4_mul(damp, d));
      wasm_v128_store(b + i, bv);
      d = NESTEROV ? wasm_f32x4_add(d, wasm_f32x4_mul(mu, bv)) : bv;
    }
    const v128_t next = wasm_f32x4_sub(pv, wasm_f32x4_mul(lr, d));
    wasm_v128_store(p + i, next);
    bad = wasm_v128_or(bad, non_finite(next));
  }
  bool ok = !wasm_v128_any_true(bad);
  float unused = 0.0f;
  for (; i < n; ++i) {
    const float next = detail::sgd_one(s, p[i], g[i], MOMENTUM != 0 ? b + i : &unused);
    p[i] = next;
    ok = ok && detail::finite(next);
  }
  return ok;
}

}  // namespace

bool adam_step(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept {
  const AdamScalars s(h);
  return detail::adam_form(s, [&](auto decay, auto l2, auto ams) {
    return adam_as<decltype(decay)::value, decltype(l2)::value, decltype(ams)::value>(p, g, m, v, vmax, n, s);
  });
}

bool sgd_step(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept {
  const SgdScalars s(h);
  return detail::sgd_form(s, [&](auto l2, auto momentum, auto nesterov) {
    return sgd_as<decltype(l2)::value, decltype(momentum)::value, decltype(nesterov)::value>(p, g, buf, n, s);
  });
}

}  // namespace cimm::wasm
