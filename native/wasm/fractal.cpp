// The fractal family on wasm (lib/backends/wasm/fractal.ts): eq. 8, its backward rule, the bound check.
#include "fractal.hpp"

#include <cstddef>

#include "exports.hpp"
#include "wasm_kernels.hpp"

using std::size_t;

CIMM_EXPORT(cimm_fractal_step) void cimm_fractal_step(const float* z, double offset, float* out, size_t n) {
  cimm::wasm::fractal_step(z, offset, out, n);
}

CIMM_EXPORT(cimm_fractal_step_backward)
void cimm_fractal_step_backward(const float* z, const float* grad_out, float* grad_z, size_t n) {
  cimm::fractal_step_backward(z, grad_out, grad_z, n);
}

CIMM_EXPORT(cimm_max_abs) double cimm_max_abs(const float* x, size_t n) { return cimm::max_abs(x, n); }
