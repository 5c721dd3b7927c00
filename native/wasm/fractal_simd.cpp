// The fractal step (design eq. 8) of the WebAssembly build in f32x4 lanes: z is widened to
// f64x2, z·z + c computed in double (z·z is exact in double, so with the separate add this is
// JS's single double rounding, as the native FMA path), then narrowed to f32 once: the bits of
// detail::fractal_step_scalar and of the js reference. clang 14 vectorizes the scalar loop but
// narrows lane by lane (extract/replace); f32x4.demote_f64x2_zero narrows two lanes at once.
#include <wasm_simd128.h>

#include <cstddef>

#include "fractal.hpp"
#include "wasm_kernels.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace cimm::wasm {

void fractal_step(const float* z, double offset, float* out, std::size_t n) noexcept {
  const double c = static_cast<float>(offset);
  const v128_t cv = wasm_f64x2_splat(c);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t zv = wasm_v128_load(z + i);
    const v128_t lo = wasm_f64x2_promote_low_f32x4(zv);
    const v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(zv, zv, 2, 3, 0, 1));
    const v128_t rlo = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_add(wasm_f64x2_mul(lo, lo), cv));
    const v128_t rhi = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_add(wasm_f64x2_mul(hi, hi), cv));
    wasm_v128_store(out + i, wasm_i32x4_shuffle(rlo, rhi, 0, 1, 4, 5));
  }
  detail::fractal_step_scalar(z + i, c, out + i, n - i);
}

}  // namespace cimm::wasm
