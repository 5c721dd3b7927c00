// The balance family on wasm (lib/backends/wasm/balance.ts): the update energy and slope of a step.
#include "balance.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

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
