// Prodigy's two passes (docs/theory.md, "Prodigy"; crate/src/prodigy.rs is the same code):
// prodigy_accumulate updates m, v, s and returns Σ g·(p0 − p) and Σ |s| in f64, summed in
// the fixed order every backend uses (units of prodigy_unit(n) elements, 8 lanes each,
// lanes combined ((0+1)+(2+3))+((4+5)+(6+7)), units in order); prodigy_update moves p.
// Plain C++, no Node types; the callers check lengths and that no two arrays overlap.
#pragma once

#include <cstddef>

namespace cimm {

constexpr std::size_t kProdigyBlock = 8192;
constexpr std::size_t kProdigyMaxUnits = 64;

inline std::size_t prodigy_unit(std::size_t n) noexcept {
  std::size_t blocks = (n + kProdigyBlock * kProdigyMaxUnits - 1) / (kProdigyBlock * kProdigyMaxUnits);
  return kProdigyBlock * (blocks < 1 ? 1 : blocks);
}

struct ProdigyAccumulateHyper {
  double beta1, beta2, beta3;
  double moment_scale;    // d(1 − β₁)
  double variance_scale;  // d²(1 − β₂)
  double s_scale;         // (d/d₀)·dlr, or (d/d₀)·d with the safeguard
  double weight_decay;    // coupled λ, 0 when decoupled
};

struct ProdigyUpdateHyper {
  double step_size;  // dlr
  double epsilon;    // d·ε
  double decay;      // −λ·dlr, or 0
};

struct ProdigySums {
  double dot;  // Σ g·(p0 − p)
  double l1;   // Σ |s|
};

// f32 and f64 tensors: the same template code in the tensor's dtype.
ProdigySums prodigy_accumulate(const float* p, const float* g, const float* p0, float* m, float* v, float* s,
                               std::size_t n, const ProdigyAccumulateHyper& h) noexcept;
ProdigySums prodigy_accumulate(const double* p, const double* g, const double* p0, double* m, double* v, double* s,
                               std::size_t n, const ProdigyAccumulateHyper& h) noexcept;

// Returns false when an updated parameter is NaN or ±∞.
bool prodigy_update(float* p, const float* m, const float* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept;
bool prodigy_update(double* p, const double* m, const double* v, std::size_t n, const ProdigyUpdateHyper& h) noexcept;

}  // namespace cimm
