// The qdt family on wasm (lib/backends/wasm/qdt.ts): QDT/QBE eqs. 1, 2, 6, 15.
#include "qdt.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

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
