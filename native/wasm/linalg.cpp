// The linalg family on wasm (lib/backends/wasm/linalg.ts): the GEMM (its own f32x4 micro-kernel in the
// core's wasm path), axpby, dot, sum and the activations of eq. 9.
#include "linalg.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

namespace {

cimm::Activation activation_of(int code) noexcept {
  switch (code) {
    case 1:
      return cimm::Activation::kTanh;
    case 2:
      return cimm::Activation::kSigmoid;
    case 3:
      return cimm::Activation::kRelu;
    default:
      return cimm::Activation::kIdentity;
  }
}

}  // namespace

CIMM_EXPORT(cimm_matmul)
void cimm_matmul(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const float* a, const float* b,
                 double beta, float* c) {
  cimm::matmul(trans_a != 0, trans_b != 0, m, n, k, static_cast<float>(alpha), a, b, static_cast<float>(beta), c);
}

CIMM_EXPORT(cimm_matmul_f64)
void cimm_matmul_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const double* a,
                     const double* b, double beta, double* c) {
  cimm::matmul(trans_a != 0, trans_b != 0, m, n, k, alpha, a, b, beta, c);
}

CIMM_EXPORT(cimm_axpby) void cimm_axpby(double alpha, const float* x, double beta, float* y, size_t n) {
  cimm::axpby(alpha, x, beta, y, n);
}

CIMM_EXPORT(cimm_dot) double cimm_dot(const float* x, const float* y, size_t n) { return cimm::dot(x, y, n); }

CIMM_EXPORT(cimm_sum) double cimm_sum(const float* x, size_t n) { return cimm::sum(x, n); }

CIMM_EXPORT(cimm_activation_forward)
void cimm_activation_forward(int activation, const float* x, double shift, float* out, size_t n) {
  cimm::activation_forward(activation_of(activation), x, shift, out, n);
}

CIMM_EXPORT(cimm_activation_forward_f64)
void cimm_activation_forward_f64(int activation, const double* x, double shift, double* out, size_t n) {
  cimm::activation_forward(activation_of(activation), x, shift, out, n);
}

CIMM_EXPORT(cimm_activation_backward)
void cimm_activation_backward(int activation, const float* y, const float* grad_out, float* grad_pre, size_t n) {
  cimm::activation_backward(activation_of(activation), y, grad_out, grad_pre, n);
}

CIMM_EXPORT(cimm_activation_backward_f64)
void cimm_activation_backward_f64(int activation, const double* y, const double* grad_out, double* grad_pre, size_t n) {
  cimm::activation_backward(activation_of(activation), y, grad_out, grad_pre, n);
}
