// The linalg family's kernels, plain C++ with no Node types: the GEMM (gemm.cpp is its
// engine) and the elementwise kernels the fractal and nn layers compose (design.md §2 eq. 9).
// The callers (the binding, the native tests) check lengths; these functions assume them.
//
// Bit-exactness with the js reference (lib/backends/js): JS computes Float32Array arithmetic
// in double and rounds once on the store. Every kernel here whose reference is plain
// arithmetic (axpby, the identity/relu activations and every activation backward rule)
// widens to double, performs the same operations in the same order (the build keeps a*b + c
// unfused outside explicit FMA intrinsics) and rounds once to float. tanh/sigmoid use a float
// polynomial exp on the AVX2 path (within 4 ulp).
//
// "In place": an input pointer may equal the output pointer (each element is read before it
// is written); partially overlapping arrays are the binding's business (it copies).
#pragma once

#include <cstddef>

#include "stop.hpp"

namespace cimm {

// y ← α·x + β·y in double, rounded once; β = 0 overwrites y without reading it.
void axpby(double alpha, const float* x, double beta, float* y, std::size_t n);
// Σ x[i]·y[i] and Σ x[i] in double, over fixed chunks (independent of the thread count).
double dot(const float* x, const float* y, std::size_t n);
double sum(const float* x, std::size_t n);

enum class Activation { kIdentity, kTanh, kSigmoid, kRelu };
// out[i] = σ(x[i] + shift), the pre-activation in double.
void activation_forward(Activation a, const float* x, double shift, float* out, std::size_t n);
// grad_pre[i] = grad_out[i]·σ'(pre[i]) through y = σ(pre): tanh 1 − y², sigmoid y(1 − y),
// relu [y > 0], identity 1.
void activation_backward(Activation a, const float* y, const float* grad_out, float* grad_pre, std::size_t n);
// The same on f64 arrays (nn layers in f64): σ and σ' as above in double, not rounded; scalar.
void activation_forward(Activation a, const double* x, double shift, double* out, std::size_t n);
void activation_backward(Activation a, const double* y, const double* grad_out, double* grad_pre, std::size_t n);

// C ← α·op(A)·op(B) + β·C, row-major and dense: op(A) m×k (A stored k×m when trans_a),
// op(B) k×n (B stored n×k when trans_b), C m×n. β = 0 overwrites C. C must not overlap A or
// B. Goto-style blocking (packed panels, a 6×16 AVX2+FMA micro-kernel or its scalar twin),
// on the thread pool from kGemmParallelWork multiply-adds.
void matmul(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
            const float* b, float beta, float* c);
// The same on f64 matrices (nn layers in f64): each entry's products summed in double in
// index order, then α·sum + β·c; a plain loop nest, single-threaded.
void matmul(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
            const double* b, double beta, double* c);

// matmul, checking `stop` (when not null) before each NC×KC slice of the blocking (at most
// m·1024·256 multiply-adds); false when it stopped, C then partly written. With no flag it is
// matmul itself.
bool matmul_until(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                  const float* b, float beta, float* c, const StopFlag* stop);

constexpr std::size_t kGemmParallelWork = std::size_t{1} << 22;  // m·n·k

namespace detail {
// The single-threaded paths, exposed for the native tests.
void matmul_scalar(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                   const float* b, float beta, float* c);
void matmul_avx2(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                 const float* b, float beta, float* c);
}  // namespace detail

}  // namespace cimm
