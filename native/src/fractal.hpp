// The fractal family's kernels of seed 002 §3 (design.md §2 eq. 8), plain C++ with no Node
// types: one step of the fractal transform, its backward rule, and maxAbs (the bound check).
// The elementwise kernels the fractal layer composes (axpby, dot, sum, the activations) and
// the GEMM are the linalg family's (linalg.hpp). The callers (the binding, the native tests)
// check lengths; these functions assume them.
//
// Bit-exactness with the js reference (lib/backends/js): JS computes Float32Array arithmetic
// in double and rounds once on the store. fractal_step and fractal_step_backward widen to
// double, perform the same operations in the same order (the build keeps a*b + c unfused
// outside explicit FMA intrinsics; the one FMA used, z·z + c, rounds exactly like JS because
// z² of a float is exact in double) and round once to float.
//
// "In place": an input pointer may equal the output pointer (each element is read before it
// is written); partially overlapping arrays are the binding's business (it copies).
#pragma once

#include <cstddef>

namespace cimm {

// Eq. 8, one step: out[i] = z[i]² + c with c = (float)offset, computed in double.
void fractal_step(const float* z, double offset, float* out, std::size_t n);
// Its backward rule: grad_z[i] = 2·z[i]·grad_out[i] (exact in double, rounded once).
void fractal_step_backward(const float* z, const float* grad_out, float* grad_z, std::size_t n);

// max |x[i]| (0 when n = 0), NaN when any element is NaN or ±Inf.
double max_abs(const float* x, std::size_t n);

constexpr std::size_t kStreamMin = std::size_t{1} << 22;  // out-of-place steps stream from here

namespace detail {
// The single-threaded paths, exposed for the native tests.
void fractal_step_scalar(const float* z, double c, float* out, std::size_t n) noexcept;
void fractal_step_avx2(const float* z, double c, float* out, std::size_t n, bool stream) noexcept;
}  // namespace detail

}  // namespace cimm
