// The optim family on wasm (lib/backends/wasm/optim.ts): the SGD and Adam steps (f32 on the f32x4 paths
// of optim_simd.cpp, f64 on the core's scalar code), their measured twins, and the probes and
// reductions the optimizers call.
#include "optim.hpp"

#include <cstddef>

#include "exports.hpp"
#include "flow.hpp"
#include "wasm_kernels.hpp"

using std::size_t;

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

void write_measured(const cimm::Measured& r, double* out) noexcept {
  out[0] = r.sums[0];
  out[1] = r.sums[1];
  out[2] = r.sums[2];
}

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

CIMM_EXPORT(cimm_first_non_finite) double cimm_first_non_finite(const float* x, size_t n) {
  return static_cast<double>(cimm::first_non_finite(x, n));
}

CIMM_EXPORT(cimm_first_non_finite_f64) double cimm_first_non_finite_f64(const double* x, size_t n) {
  return static_cast<double>(cimm::first_non_finite(x, n));
}

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
