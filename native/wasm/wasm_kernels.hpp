// Kernels of the WebAssembly build that take f32x4 paths of their own (the native build's
// equivalents are the AVX2 paths of native/src). Same contracts and bits as the cimm:: kernels
// of the same names; the family files (native/wasm/<family>.cpp) call these instead.
#pragma once

#include <cstddef>

#include "optim.hpp"

namespace cimm::wasm {

bool adam_step(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept;

bool sgd_step(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept;

// fractal_simd.cpp: eq. 8's step, z and out equal or disjoint.
void fractal_step(const float* z, double offset, float* out, std::size_t n) noexcept;

}  // namespace cimm::wasm
