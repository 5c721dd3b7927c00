// Fused optimizer updates (docs/theory.md, "Optimizers"): torch.optim.SGD and Adam/AdamW on
// one f32 or f64 tensor per call, in place, no allocation. Plain C++, no Node types; the callers
// check lengths and that no two arrays overlap.
//
// Precision: the tensor's arithmetic (f32, or f64 for the double overloads: the same template
// code, "Float64 parameters" in docs/theory.md), one IEEE operation at a time in PyTorch's order, never fused
// (optim.cpp is built with FP contraction off), so the scalar path, the AVX2 path, the Rust
// kernels and the js reference agree bit for bit.
#pragma once

#include <cstddef>

#include "parallel.hpp"
#include "reduce.hpp"

namespace cimm {

struct SgdHyper {
  double learning_rate;
  double momentum;
  double dampening;
  double weight_decay;
  bool nesterov;
  bool maximize;
  bool first_step;  // the momentum buffer starts as the gradient (PyTorch: buf is None)
};

struct AdamHyper {
  double beta1;
  double beta2;
  double step_size;  // η / (1 − β₁ᵗ), computed by the caller in double
  double bc2_sqrt;   // √(1 − β₂ᵗ)
  double epsilon;
  double weight_decay;  // Adam's L2 coefficient (0 for AdamW)
  double decay;         // AdamW's decoupled factor 1 − ηλ (1 for Adam)
  bool amsgrad;
  bool maximize;
};

// d = ±g; d += λp if λ ≠ 0; if μ ≠ 0: b = first ? d : bμ + (1 − τ)d, d = nesterov ? d + μb : b;
// p −= ηd. `buf` (n floats) is used only when μ ≠ 0. Returns false when an updated p is NaN
// or ±∞. Calls with n >= kOptimParallelMin use the thread pool (same results).
bool sgd_step(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept;
bool sgd_step(double* p, const double* g, double* buf, std::size_t n, const SgdHyper& h) noexcept;

// p *= decay; d = ±g; d += λp if λ ≠ 0; m = mβ₁ + (1 − β₁)d; v = vβ₂ + ((1 − β₂)d)d;
// s = amsgrad ? (vmax = max(vmax, v)) : v; p −= (stepSize·m) / (√s / bc2Sqrt + ε).
// `vmax` (n floats) is used only with amsgrad. Returns false when an updated p is NaN or ±∞.
bool adam_step(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept;
bool adam_step(double* p, const double* g, double* m, double* v, double* vmax, std::size_t n,
               const AdamHyper& h) noexcept;

// The index of the first NaN or ±∞ among x[0 … n), or -1.
long long first_non_finite(const float* x, std::size_t n) noexcept;
long long first_non_finite(const double* x, std::size_t n) noexcept;

// dst ← src on the pool's threads: the benchmark's copy-bandwidth probe (kept minimal). With
// AVX2 it uses streaming stores, so the destination is not read first.
void memory_copy(const float* src, float* dst, std::size_t n) noexcept;

constexpr std::size_t kOptimParallelMin = std::size_t{1} << 18;

namespace detail {

// The single-threaded kernels, exposed for the native tests (AVX2 = scalar bit for bit).
// Without x86 dispatch the *_avx2 functions forward to the scalar ones.
bool sgd_scalar(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept;
bool sgd_avx2(float* p, const float* g, float* buf, std::size_t n, const SgdHyper& h) noexcept;
bool adam_scalar(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept;
bool adam_avx2(float* p, const float* g, float* m, float* v, float* vmax, std::size_t n, const AdamHyper& h) noexcept;
long long first_non_finite_scalar(const float* x, std::size_t n) noexcept;
long long first_non_finite_avx2(const float* x, std::size_t n) noexcept;

}  // namespace detail

// The parallel driver of the elementwise optimizer passes (optim.cpp, prodigy.cpp). Every
// element's update reads and writes only that element, so the split never changes a result.
namespace detail {

// Ranges of a parallel call: at most kOptimMaxUnits, each at least kOptimUnit elements.
constexpr std::size_t kOptimUnit = std::size_t{1} << 16;
constexpr std::size_t kOptimMaxUnits = 256;

// The range length of a parallel call over n elements.
constexpr std::size_t optim_unit(std::size_t n) noexcept {
  const std::size_t unit = (n + kOptimMaxUnits - 1) / kOptimMaxUnits;
  return unit < kOptimUnit ? kOptimUnit : unit;
}

// Runs body(begin, end) -> bool over [0, n): one call below kOptimParallelMin (or with one
// thread), else disjoint ranges on the pool; returns the AND of the results.
template <typename Body>
bool all_ranges(std::size_t n, Body&& body) noexcept {
  if (n < kOptimParallelMin || thread_count() == 1) return body(std::size_t{0}, n);
  const std::size_t unit = optim_unit(n);
  const std::size_t units = (n + unit - 1) / unit;
  bool results[kOptimMaxUnits];
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * unit;
    const std::size_t end = begin + unit < n ? begin + unit : n;
    results[u] = body(begin, end);
  });
  bool ok = true;
  for (std::size_t u = 0; u < units; ++u) ok = ok && results[u];
  return ok;
}

}  // namespace detail

}  // namespace cimm

// ---- measured steps ----
//
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

// ---- the gradient reductions and in-place updates of the stability controller (eq. 11) ----

namespace cimm {

// ‖x‖₂ with each f32 squared in double; NaN or +∞ when x holds a non-finite value.
double l2_norm(const float* x, std::size_t n);

// Sets NaN and ±∞ entries to 0 (finite entries are not written); returns how many.
std::size_t zero_non_finite(float* x, std::size_t n);

// x_i ← (float)(x_i · s), the product in double (as JS computes it).
void scale_in_place(float* x, std::size_t n, double s);

// The same on f64 gradients (Float64Array parameters): scalar loops, the norm's sum over the
// same fixed split.
double l2_norm(const double* x, std::size_t n);
std::size_t zero_non_finite(double* x, std::size_t n);
void scale_in_place(double* x, std::size_t n, double s);

namespace detail {

// The single-threaded variants, exposed for the native tests (SIMD ≈ scalar). Without x86
// dispatch every *_avx2 function forwards to its scalar twin.
double sum_squares_scalar(const float* x, std::size_t n) noexcept;
double sum_squares_avx2(const float* x, std::size_t n) noexcept;
std::size_t zero_non_finite_scalar(float* x, std::size_t n) noexcept;
std::size_t zero_non_finite_avx2(float* x, std::size_t n) noexcept;
void scale_scalar(float* x, std::size_t n, double s) noexcept;
void scale_avx2(float* x, std::size_t n, double s) noexcept;

}  // namespace detail

}  // namespace cimm
