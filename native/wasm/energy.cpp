// The energy family on wasm (lib/backends/wasm/energy.ts): design eqs. 3–4 and the distance.
#include "energy.hpp"

#include <cstddef>

#include "exports.hpp"

using std::size_t;

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
