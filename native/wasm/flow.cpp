// The flow family on wasm (lib/backends/wasm/flow.ts): eqs. 10–11, the energy flow and its grid sums.
#include "flow.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

namespace {

cimm::Boundary boundary_of(int code) noexcept {
  return code == 1 ? cimm::Boundary::kZeroFlux : cimm::Boundary::kPeriodic;
}

}  // namespace

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
