// The energy kernels of seed 002 §2.1 (design.md §2 eqs. 3–4), plain C++ with no Node
// types. The callers (the binding, the native tests) check lengths; these functions assume
// them. Each family has a scalar reference and an AVX2+FMA variant side by side; the
// unsuffixed entry points pick one by the CPU's features at run time and split large calls
// over the thread pool without changing their results.
#pragma once

#include <cstddef>

#include "stop.hpp"

namespace cimm {

// Eq. 3, batched: out[i] = Σ_{n=1}^{N} cos(2π r_i / p_n) / (r_i² + p_n²), N = prime_count
// (at most kMaxPrimeCount). Calls with len·N >= kLocalParallelWork use the thread pool.
void local_energy(const double* r, std::size_t len, std::size_t prime_count, double* out);

// local_energy, checking `stop` before each unit of about kLocalStopUnitWork terms (slices
// of r a multiple of 16 long, so every r_i's sum is the one local_energy gives); false when
// it stopped, `out` then partly written.
bool local_energy_until(const double* r, std::size_t len, std::size_t prime_count, double* out, const StopFlag& stop);

// Eq. 4: (1/M) Σ_j exp(−‖x − z_j‖/ℓ) / sqrt(‖z_j − y‖² + ε²) over the M rows z_j of the
// row-major M×d matrix `points`; squared distances accumulate in double. NaN when a
// non-finite value makes a point's distances non-finite. Per-point values are summed in
// fixed chunks of kNonlocalChunk points and the chunk sums in index order, so the result
// does not depend on the thread count. Calls with M·d >= kNonlocalParallelWork use the pool.
double nonlocal_energy(const float* x, const float* y, std::size_t d, const float* points, std::size_t m,
                       double length_scale, double softening);

// ‖x − y‖₂ over d elements, accumulated in double.
double distance(const float* x, const float* y, std::size_t d);

constexpr std::size_t kLocalParallelWork = std::size_t{1} << 18;
constexpr std::size_t kLocalStopUnitWork = std::size_t{1} << 20;  // terms (a few ms)
constexpr std::size_t kNonlocalParallelWork = std::size_t{1} << 17;
constexpr std::size_t kNonlocalChunk = 32;

// The single-threaded variants, exposed for the native tests (SIMD ≈ scalar).
namespace detail {

// Primes come from the caller: p2 = p², inv = 1/p, n of them.
void local_energy_scalar(const double* r, std::size_t len, const double* inv, const double* p2, std::size_t n,
                         double* out) noexcept;
void local_energy_avx2(const double* r, std::size_t len, const double* inv, const double* p2, std::size_t n,
                       double* out) noexcept;

// The sum, in row order, of the per-point values of rows [begin, end) of `points` (no 1/M);
// NaN when a row's distances are not finite. x and y come converted to double; the driver
// calls this once per chunk of kNonlocalChunk rows.
double nonlocal_sum_scalar(const double* x, const double* y, std::size_t d, const float* points, std::size_t begin,
                           std::size_t end, double length_scale, double softening) noexcept;
double nonlocal_sum_avx2(const double* x, const double* y, std::size_t d, const float* points, std::size_t begin,
                         std::size_t end, double length_scale, double softening) noexcept;

double distance_scalar(const float* x, const float* y, std::size_t d) noexcept;
double distance_avx2(const float* x, const float* y, std::size_t d) noexcept;

// exp(v) for four values through the vector routine of nonlocal_sum_avx2 (for the tests).
// Without x86 dispatch every *_avx2 function forwards to its scalar twin.
void exp4_avx2(const double* v, double* out) noexcept;

}  // namespace detail

}  // namespace cimm
