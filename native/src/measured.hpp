// Measured optimizer steps (docs/theory.md, "Determinism: the updateEnergy kernel"): the SGD
// and Adam/AdamW steps of optim.hpp that, in the same pass, write each parameter's value
// before the update into `before` and sum the update's energy terms — one pass instead of a
// snapshot copy, the step and update_energy (Adam: 32 bytes per parameter instead of
// 8 + 28 + 16). Plain C++, no Node types; the callers check lengths and that no two arrays
// overlap.
//
// The results equal that three-pass path bit for bit: parameters and state are the plain
// step's (the same per-element code, optim_kernels.hpp), and the sums are
// update_energy(before, params, grads, metric, scale, ε) over the stored floats, the metric
// being the second moment the step used (v, or v̂ with amsgrad) and its f32 √ the one the step
// computed, in update_energy's canonical order (balance.hpp): the fixed split of
// detail::sum_split (also the threads' split here), 16 accumulators per sum over each range's
// full blocks (4 registers × 4 lanes with AVX2), the tail in index order, the ranges in
// index order. SGD's sums have no metric (w = 1).
#pragma once

#include <cstddef>

#include "optim.hpp"

namespace cimm {

// The metric of Adam's reading: w_i = f32 √s_i · scale + epsilon, s the second moment used.
struct AdamMetric {
  double scale;
  double epsilon;
};

struct Measured {
  bool finite;     // every updated parameter is finite
  double sums[3];  // Σ w Δ², Σ g Δ, Σ |g Δ| over Δ = after − before
};

// sgd_step's update of p[0 … n), with before ← p (the values before the step) and the sums.
Measured sgd_step_measured(float* p, const float* g, float* buf, float* before, std::size_t n,
                           const SgdHyper& h) noexcept;

// adam_step's update of p[0 … n), with before ← p and the sums in `metric`.
Measured adam_step_measured(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                            const AdamHyper& h, const AdamMetric& metric) noexcept;

// The same on f64 tensors (the same template code in f64; the metric's √ in f64).
Measured sgd_step_measured(double* p, const double* g, double* buf, double* before, std::size_t n,
                           const SgdHyper& h) noexcept;
Measured adam_step_measured(double* p, const double* g, double* m, double* v, double* vmax, double* before,
                            std::size_t n, const AdamHyper& h, const AdamMetric& metric) noexcept;

namespace detail {

// One range of the split, single-threaded, exposed for the native tests (AVX2 = scalar bit for
// bit). Without x86 dispatch the *_avx2 functions forward to the scalar ones.
Measured sgd_measured_scalar(float* p, const float* g, float* buf, float* before, std::size_t n,
                             const SgdHyper& h) noexcept;
Measured sgd_measured_avx2(float* p, const float* g, float* buf, float* before, std::size_t n,
                           const SgdHyper& h) noexcept;
Measured adam_measured_scalar(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                              const AdamHyper& h, const AdamMetric& metric) noexcept;
Measured adam_measured_avx2(float* p, const float* g, float* m, float* v, float* vmax, float* before, std::size_t n,
                            const AdamHyper& h, const AdamMetric& metric) noexcept;

}  // namespace detail

}  // namespace cimm
