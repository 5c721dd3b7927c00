// The energy terms of one optimizer update, design eq. 13 (seed 000 §3): the meters of the
// entropy-balanced learning rate (lib/optim/meters.ts) measure the work an update
// Δ = after − before did on the parameters. Plain C++, no Node types; the binding checks
// the lengths.
//
// Determinism: every term and sum is a double operation, unfused (balance.cpp is built with
// FP contraction off), in the canonical order of the js reference
// (lib/backends/js/balance.ts): the fixed split of detail::sum_split; inside a range,
// element j of each full block of 16 goes to accumulator j mod 16, combined as
// t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}) then (t_0 + t_2) + (t_1 + t_3); the tail in
// index order; the ranges in index order. So the sums are bit-identical to the js and Rust
// backends on every path and thread count.
#pragma once

#include <cstddef>

namespace cimm {

// The arrays of one update, f32 or f64 (T, the parameters' dtype).
template <typename T>
struct UpdateArraysT {
  const T* before;
  const T* after;
  const T* grads;
  const T* metric;      // nullptr: w = 1
  double metric_scale;  // w_i = √metric_i (in T) · metric_scale + epsilon
  double epsilon;
};
using UpdateArrays = UpdateArraysT<float>;

// out[0] = Σ w Δ², out[1] = Σ g Δ, out[2] = Σ |g Δ| over n elements.
void update_energy(const UpdateArrays& u, std::size_t n, double* out);
// The same on f64 arrays (the scalar code on every path, in the same canonical order).
void update_energy(const UpdateArraysT<double>& u, std::size_t n, double* out);

// Σ g Δ alone over n elements: update_energy's out[1] bit for bit (the same terms in the same
// canonical order), at about two thirds of its cost; u.metric is not read.
double update_slope(const UpdateArrays& u, std::size_t n);
double update_slope(const UpdateArraysT<double>& u, std::size_t n);

namespace detail {

// One range's Σ g Δ in the canonical order (exposed for the native tests).
double update_slope_scalar(const UpdateArrays& u, std::size_t n) noexcept;
double update_slope_avx2(const UpdateArrays& u, std::size_t n) noexcept;

// One range's sums in the canonical order (exposed for the native tests).
void update_energy_scalar(const UpdateArrays& u, std::size_t n, double* out) noexcept;
void update_energy_avx2(const UpdateArrays& u, std::size_t n, double* out) noexcept;

}  // namespace detail

}  // namespace cimm
