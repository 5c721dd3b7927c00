// The WebAssembly entry points of the kernels (the `wasm` backend, lib/backends/wasm.ts): the
// C++ core of native/src behind a C ABI of pointers into linear memory, lengths and numbers.
// The JS glue checks every argument (types, lengths, overlaps, the same messages as the
// Node-API binding) and copies the typed arrays into a scratch arena in linear memory before
// the call, so nothing here validates again; a call here never reads or writes outside the
// arena regions the glue handed it. The kernels whose tensors are f32 or f64 (lib/kernels.ts,
// Real) have a second entry point with the suffix _f64 on the core's double overloads; the glue
// picks one by the dtype of the call's deciding array, as the binding's by_dtype does.
// Compiled without exceptions: an allocation failure
// traps (abort), which the glue turns into an Error and answers by starting a new instance.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "balance.hpp"
#include "energy.hpp"
#include "flow.hpp"
#include "fractal.hpp"
#include "linalg.hpp"
#include "optim.hpp"
#include "prodigy.hpp"
#include "qdt.hpp"
#include "wasm_kernels.hpp"

#define CIMM_EXPORT(name) extern "C" __attribute__((export_name(#name)))

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

cimm::Boundary boundary_of(int code) noexcept {
  return code == 1 ? cimm::Boundary::kZeroFlux : cimm::Boundary::kPeriodic;
}

void write_measured(const cimm::Measured& r, double* out) noexcept {
  out[0] = r.sums[0];
  out[1] = r.sums[1];
  out[2] = r.sums[2];
}

}  // namespace

// ---- the scratch arena: one block, regrown by the glue when a call needs more ----

CIMM_EXPORT(cimm_alloc) void* cimm_alloc(size_t bytes) { return std::aligned_alloc(16, (bytes + 15) / 16 * 16); }
CIMM_EXPORT(cimm_free) void cimm_free(void* p) { std::free(p); }

// ---- design eqs. 3–4 ----

CIMM_EXPORT(cimm_local_energy) void cimm_local_energy(const double* r, size_t len, size_t prime_count, double* out) {
  cimm::local_energy(r, len, prime_count, out);
}

CIMM_EXPORT(cimm_nonlocal_energy)
double cimm_nonlocal_energy(const float* x, const float* y, size_t d, const float* points, size_t m,
                            double length_scale, double softening) {
  return cimm::nonlocal_energy(x, y, d, points, m, length_scale, softening);
}

CIMM_EXPORT(cimm_distance) double cimm_distance(const float* x, const float* y, size_t d) {
  return cimm::distance(x, y, d);
}

// ---- eqs. 8–9: the fractal network ----

CIMM_EXPORT(cimm_fractal_step) void cimm_fractal_step(const float* z, double offset, float* out, size_t n) {
  cimm::fractal_step(z, offset, out, n);
}

CIMM_EXPORT(cimm_fractal_step_backward)
void cimm_fractal_step_backward(const float* z, const float* grad_out, float* grad_z, size_t n) {
  cimm::fractal_step_backward(z, grad_out, grad_z, n);
}

CIMM_EXPORT(cimm_max_abs) double cimm_max_abs(const float* x, size_t n) { return cimm::max_abs(x, n); }

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

// ---- optimizers ----

CIMM_EXPORT(cimm_sgd_step)
int cimm_sgd_step(float* p, const float* g, float* buf, size_t n, double learning_rate, double momentum,
                  double dampening, double weight_decay, int nesterov, int maximize, int first_step) {
  const cimm::SgdHyper h{learning_rate, momentum,      dampening,      weight_decay,
                         nesterov != 0, maximize != 0, first_step != 0};
  return cimm::wasm::sgd_step(p, g, buf, n, h) ? 1 : 0;
}

// f64 tensors: the core's scalar f64 code (the f32x4 paths of optim_simd.cpp are f32 only)
CIMM_EXPORT(cimm_sgd_step_f64)
int cimm_sgd_step_f64(double* p, const double* g, double* buf, size_t n, double learning_rate, double momentum,
                      double dampening, double weight_decay, int nesterov, int maximize, int first_step) {
  const cimm::SgdHyper h{learning_rate, momentum,      dampening,      weight_decay,
                         nesterov != 0, maximize != 0, first_step != 0};
  return cimm::sgd_step(p, g, buf, n, h) ? 1 : 0;
}

CIMM_EXPORT(cimm_adam_step)
int cimm_adam_step(float* p, const float* g, float* m, float* v, float* vmax, size_t n, double beta1, double beta2,
                   double step_size, double bc2_sqrt, double epsilon, double weight_decay, double decay, int amsgrad,
                   int maximize) {
  const cimm::AdamHyper h{beta1, beta2, step_size, bc2_sqrt, epsilon, weight_decay, decay, amsgrad != 0, maximize != 0};
  return cimm::wasm::adam_step(p, g, m, v, vmax, n, h) ? 1 : 0;
}

CIMM_EXPORT(cimm_adam_step_f64)
int cimm_adam_step_f64(double* p, const double* g, double* m, double* v, double* vmax, size_t n, double beta1,
                       double beta2, double step_size, double bc2_sqrt, double epsilon, double weight_decay,
                       double decay, int amsgrad, int maximize) {
  const cimm::AdamHyper h{beta1, beta2, step_size, bc2_sqrt, epsilon, weight_decay, decay, amsgrad != 0, maximize != 0};
  return cimm::adam_step(p, g, m, v, vmax, n, h) ? 1 : 0;
}

namespace {

// The bodies shared by the f32 and f64 entry points below (T: the tensors' dtype).

template <typename T>
int sgd_step_measured(T* p, const T* g, T* buf, T* before, size_t n, const cimm::SgdHyper& h, double* out) {
  const cimm::Measured r = cimm::sgd_step_measured(p, g, buf, before, n, h);
  write_measured(r, out);
  return r.finite ? 1 : 0;
}

template <typename T>
int adam_step_measured(T* p, const T* g, T* m, T* v, T* vmax, T* before, size_t n, const cimm::AdamHyper& h,
                       const cimm::AdamMetric& metric, double* out) {
  const cimm::Measured r = cimm::adam_step_measured(p, g, m, v, vmax, before, n, h, metric);
  write_measured(r, out);
  return r.finite ? 1 : 0;
}

template <typename T>
void prodigy_accumulate(const T* p, const T* g, const T* p0, T* m, T* v, T* s, size_t n,
                        const cimm::ProdigyAccumulateHyper& h, double* out) {
  const cimm::ProdigySums r = cimm::prodigy_accumulate(p, g, p0, m, v, s, n, h);
  out[0] = r.dot;
  out[1] = r.l1;
}

}  // namespace

CIMM_EXPORT(cimm_sgd_step_measured)
int cimm_sgd_step_measured(float* p, const float* g, float* buf, float* before, size_t n, double learning_rate,
                           double momentum, double dampening, double weight_decay, int nesterov, int maximize,
                           int first_step, double* out) {
  const cimm::SgdHyper h{learning_rate, momentum,      dampening,      weight_decay,
                         nesterov != 0, maximize != 0, first_step != 0};
  return sgd_step_measured(p, g, buf, before, n, h, out);
}

CIMM_EXPORT(cimm_sgd_step_measured_f64)
int cimm_sgd_step_measured_f64(double* p, const double* g, double* buf, double* before, size_t n, double learning_rate,
                               double momentum, double dampening, double weight_decay, int nesterov, int maximize,
                               int first_step, double* out) {
  const cimm::SgdHyper h{learning_rate, momentum,      dampening,      weight_decay,
                         nesterov != 0, maximize != 0, first_step != 0};
  return sgd_step_measured(p, g, buf, before, n, h, out);
}

CIMM_EXPORT(cimm_adam_step_measured)
int cimm_adam_step_measured(float* p, const float* g, float* m, float* v, float* vmax, float* before, size_t n,
                            double beta1, double beta2, double step_size, double bc2_sqrt, double epsilon,
                            double weight_decay, double decay, int amsgrad, int maximize, double metric_scale,
                            double metric_epsilon, double* out) {
  const cimm::AdamHyper h{beta1, beta2, step_size, bc2_sqrt, epsilon, weight_decay, decay, amsgrad != 0, maximize != 0};
  return adam_step_measured(p, g, m, v, vmax, before, n, h, cimm::AdamMetric{metric_scale, metric_epsilon}, out);
}

CIMM_EXPORT(cimm_adam_step_measured_f64)
int cimm_adam_step_measured_f64(double* p, const double* g, double* m, double* v, double* vmax, double* before,
                                size_t n, double beta1, double beta2, double step_size, double bc2_sqrt, double epsilon,
                                double weight_decay, double decay, int amsgrad, int maximize, double metric_scale,
                                double metric_epsilon, double* out) {
  const cimm::AdamHyper h{beta1, beta2, step_size, bc2_sqrt, epsilon, weight_decay, decay, amsgrad != 0, maximize != 0};
  return adam_step_measured(p, g, m, v, vmax, before, n, h, cimm::AdamMetric{metric_scale, metric_epsilon}, out);
}

CIMM_EXPORT(cimm_prodigy_accumulate)
void cimm_prodigy_accumulate(const float* p, const float* g, const float* p0, float* m, float* v, float* s, size_t n,
                             double beta1, double beta2, double beta3, double moment_scale, double variance_scale,
                             double s_scale, double weight_decay, double* out) {
  const cimm::ProdigyAccumulateHyper h{beta1, beta2, beta3, moment_scale, variance_scale, s_scale, weight_decay};
  prodigy_accumulate(p, g, p0, m, v, s, n, h, out);
}

CIMM_EXPORT(cimm_prodigy_accumulate_f64)
void cimm_prodigy_accumulate_f64(const double* p, const double* g, const double* p0, double* m, double* v, double* s,
                                 size_t n, double beta1, double beta2, double beta3, double moment_scale,
                                 double variance_scale, double s_scale, double weight_decay, double* out) {
  const cimm::ProdigyAccumulateHyper h{beta1, beta2, beta3, moment_scale, variance_scale, s_scale, weight_decay};
  prodigy_accumulate(p, g, p0, m, v, s, n, h, out);
}

CIMM_EXPORT(cimm_prodigy_update)
int cimm_prodigy_update(float* p, const float* m, const float* v, size_t n, double step_size, double epsilon,
                        double decay) {
  return cimm::prodigy_update(p, m, v, n, cimm::ProdigyUpdateHyper{step_size, epsilon, decay}) ? 1 : 0;
}

CIMM_EXPORT(cimm_prodigy_update_f64)
int cimm_prodigy_update_f64(double* p, const double* m, const double* v, size_t n, double step_size, double epsilon,
                            double decay) {
  return cimm::prodigy_update(p, m, v, n, cimm::ProdigyUpdateHyper{step_size, epsilon, decay}) ? 1 : 0;
}

CIMM_EXPORT(cimm_first_non_finite) double cimm_first_non_finite(const float* x, size_t n) {
  return static_cast<double>(cimm::first_non_finite(x, n));
}

CIMM_EXPORT(cimm_first_non_finite_f64) double cimm_first_non_finite_f64(const double* x, size_t n) {
  return static_cast<double>(cimm::first_non_finite(x, n));
}

CIMM_EXPORT(cimm_update_energy)
void cimm_update_energy(const float* before, const float* after, const float* grads, const float* metric, size_t n,
                        double metric_scale, double epsilon, double* out) {
  cimm::update_energy(cimm::UpdateArraysT<float>{before, after, grads, metric, metric_scale, epsilon}, n, out);
}

CIMM_EXPORT(cimm_update_energy_f64)
void cimm_update_energy_f64(const double* before, const double* after, const double* grads, const double* metric,
                            size_t n, double metric_scale, double epsilon, double* out) {
  cimm::update_energy(cimm::UpdateArraysT<double>{before, after, grads, metric, metric_scale, epsilon}, n, out);
}

CIMM_EXPORT(cimm_update_slope)
double cimm_update_slope(const float* before, const float* after, const float* grads, size_t n) {
  return cimm::update_slope(cimm::UpdateArraysT<float>{before, after, grads, nullptr, 1, 0}, n);
}

CIMM_EXPORT(cimm_update_slope_f64)
double cimm_update_slope_f64(const double* before, const double* after, const double* grads, size_t n) {
  return cimm::update_slope(cimm::UpdateArraysT<double>{before, after, grads, nullptr, 1, 0}, n);
}

// ---- eqs. 10–11: energy flow and the stability reductions ----

CIMM_EXPORT(cimm_energy_flow_step)
void cimm_energy_flow_step(const double* energy, const double* potential, const double* source, size_t nx, size_t ny,
                           double h, double dt, double beta, double gamma, double kappa, int boundary, double* out) {
  const cimm::FlowParams params{h, dt, beta, gamma, kappa, boundary_of(boundary)};
  cimm::energy_flow_step(energy, potential, source, nx, ny, params, out);
}

CIMM_EXPORT(cimm_energy_flow_max_step)
double cimm_energy_flow_max_step(const double* potential, size_t nx, size_t ny, double h, double beta, double gamma,
                                 int boundary) {
  return cimm::energy_flow_max_step(potential, nx, ny, h, beta, gamma, boundary_of(boundary));
}

CIMM_EXPORT(cimm_laplacian)
void cimm_laplacian(const double* energy, size_t nx, size_t ny, double h, int boundary, double* out) {
  cimm::laplacian(energy, nx, ny, h, boundary_of(boundary), out);
}

CIMM_EXPORT(cimm_grid_sums) void cimm_grid_sums(const double* x, size_t n, double* out) { cimm::grid_sums(x, n, out); }

CIMM_EXPORT(cimm_l2_norm) double cimm_l2_norm(const float* x, size_t n) { return cimm::l2_norm(x, n); }

CIMM_EXPORT(cimm_l2_norm_f64) double cimm_l2_norm_f64(const double* x, size_t n) { return cimm::l2_norm(x, n); }

CIMM_EXPORT(cimm_zero_non_finite) double cimm_zero_non_finite(float* x, size_t n) {
  return static_cast<double>(cimm::zero_non_finite(x, n));
}

CIMM_EXPORT(cimm_zero_non_finite_f64) double cimm_zero_non_finite_f64(double* x, size_t n) {
  return static_cast<double>(cimm::zero_non_finite(x, n));
}

CIMM_EXPORT(cimm_scale_in_place) void cimm_scale_in_place(float* x, size_t n, double s) {
  cimm::scale_in_place(x, n, s);
}

CIMM_EXPORT(cimm_scale_in_place_f64) void cimm_scale_in_place_f64(double* x, size_t n, double s) {
  cimm::scale_in_place(x, n, s);
}

// ---- QDT/QBE: eqs. 1, 2, 6, 15 ----

CIMM_EXPORT(cimm_coupling)
void cimm_coupling(const double* t, size_t n, double alpha, double beta, double gamma, double lambda_cosmo,
                   double* out) {
  cimm::coupling(t, n, cimm::CouplingParams{alpha, beta, gamma, lambda_cosmo}, out);
}

CIMM_EXPORT(cimm_scale_transition)
void cimm_scale_transition(const double* t, size_t n, double scale_coupling, double critical_time, double* out) {
  cimm::scale_transition(t, n, scale_coupling, critical_time, out);
}

CIMM_EXPORT(cimm_shannon_entropy) double cimm_shannon_entropy(const double* p, size_t n) {
  return cimm::shannon_entropy(p, n);
}

CIMM_EXPORT(cimm_hermitian_eigenvalues)
void cimm_hermitian_eigenvalues(const double* re, const double* im, size_t d, double* out) {
  cimm::hermitian_eigenvalues(re, im, d, out);
}
