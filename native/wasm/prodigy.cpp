// The prodigy family on wasm (lib/backends/wasm/prodigy.ts): Prodigy's accumulation and update passes.
#include "prodigy.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

namespace {

template <typename T>
void prodigy_accumulate(const T* p, const T* g, const T* p0, T* m, T* v, T* s, size_t n,
                        const cimm::ProdigyAccumulateHyper& h, double* out) {
  const cimm::ProdigySums r = cimm::prodigy_accumulate(p, g, p0, m, v, s, n, h);
  out[0] = r.dot;
  out[1] = r.l1;
}

}  // namespace

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
