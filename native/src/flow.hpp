// The energy flow of seed 002 §4.1 (design.md §2 eq. 10) and the reductions of the
// stability criteria of §4.2 (eq. 11), plain C++ with no Node types. The callers
// (the binding, the native tests) check lengths and coefficients; these functions assume
// them. Scalar and AVX2+FMA variants side by side; the unsuffixed entry points pick one at
// run time and split large calls over the thread pool without changing their results.
#pragma once

#include <cstddef>

#include "reduce.hpp"
#include "stop.hpp"

namespace cimm {

// Boundary condition of the grid: periodic wraps both axes; zero flux closes every
// boundary face (the cell itself is taken as the neighbour across it, so nothing crosses).
enum class Boundary { kPeriodic, kZeroFlux };

// One step's coefficients: spacing h > 0, time step dt >= 0, diffusion β >= 0, drift γ,
// κ(t) at the step's start.
struct FlowParams {
  double h;
  double dt;
  double beta;
  double gamma;
  double kappa;
  Boundary boundary;
};

// Eq. 10, one forward-Euler step on an nx × ny row-major grid (cell (i, j) at j·nx + i):
// out = E + dt·(κ·source + β∇²E + γ∇·(E∇Ψ)), the 5-point Laplacian and the drift in flux
// form with upwind faces: per face to neighbour n, a = γ(Ψ_n − Ψ_i)/h², inflow
// max(a, 0)·E_n + min(a, 0)·E_i. `out` must not overlap the inputs.
void energy_flow_step(const double* energy, const double* potential, const double* source, std::size_t nx,
                      std::size_t ny, const FlowParams& params, double* out);

// steps = kappas.size() calls of energy_flow_step with params (its dt) and κ = kappas[s],
// double-buffered: each step reads `current` and writes `previous`, then the two pointers
// swap, so at the end `current` points at E after the last step and `previous` at E before it. `stop` is
// checked before each step; false when it stopped (both grids then mid-run). Each step is
// energy_flow_step itself, so a run is bit for bit the same steps taken one call at a time.
bool energy_flow_run(double*& current, double*& previous, const double* potential, const double* source, std::size_t nx,
                     std::size_t ny, const FlowParams& params, const double* kappas, std::size_t steps,
                     const StopFlag& stop);

// The largest dt for which the step is monotone: 1 / max_i (4β/h² + Σ_faces max(0, γ(Ψ_i − Ψ_n))/h²),
// +∞ when that maximum is 0. Scalar, in the js reference's order of operations (same bits).
double energy_flow_max_step(const double* potential, std::size_t nx, std::size_t ny, double h, double beta,
                            double gamma, Boundary boundary) noexcept;

// ∇²E by the 5-point stencil, (E_w + E_e + E_s + E_n − 4E)/h², into `out` (not overlapping).
void laplacian(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary, double* out);

// Σ x, Σ |x|, Σ x² into out[0..3]. Sums are split into at most kMaxSumUnits ranges fixed by
// the length and added in order, so they do not depend on the thread count.
void grid_sums(const double* x, std::size_t n, double* out);

constexpr std::size_t kFlowParallelCells = std::size_t{1} << 16;
constexpr std::size_t kFlowUnitCells = std::size_t{1} << 15;

// The single-threaded variants, exposed for the native tests (SIMD ≈ scalar). Without x86
// dispatch every *_avx2 function forwards to its scalar twin.
namespace detail {

void energy_flow_step_scalar(const double* energy, const double* potential, const double* source, std::size_t nx,
                             std::size_t ny, const FlowParams& params, double* out) noexcept;
void energy_flow_step_avx2(const double* energy, const double* potential, const double* source, std::size_t nx,
                           std::size_t ny, const FlowParams& params, double* out) noexcept;
void laplacian_scalar(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary,
                      double* out) noexcept;
void laplacian_avx2(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary,
                    double* out) noexcept;

void grid_sums_scalar(const double* x, std::size_t n, double* out) noexcept;
void grid_sums_avx2(const double* x, std::size_t n, double* out) noexcept;

}  // namespace detail

}  // namespace cimm
