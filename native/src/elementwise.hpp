// What the elementwise kernels of the fractal and linalg families share (a support module, not
// a family): the fixed units over which a large array is split onto the thread pool (each
// element depends only on itself, and reductions add fixed-unit partial sums in index order,
// so no result depends on the thread count), the runtime pick of the AVX2 or scalar path, and
// the f32 ↔ f64 widening of the AVX2 paths.
#pragma once

#include <cstddef>

#include "cpu.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

constexpr std::size_t kElementwiseParallel = std::size_t{1} << 18;  // elements
constexpr std::size_t kElementwiseUnit = std::size_t{1} << 16;      // elements per task

namespace detail {

// Runs body(begin, end) over [0, n) in units, on the pool when n is large.
template <typename Body>
void for_units(std::size_t n, Body&& body) {
  if (n < kElementwiseParallel || thread_count() == 1) {
    if (n > 0) body(std::size_t{0}, n);
    return;
  }
  const std::size_t units = (n + kElementwiseUnit - 1) / kElementwiseUnit;
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * kElementwiseUnit;
    body(begin, begin + kElementwiseUnit < n ? begin + kElementwiseUnit : n);
  });
}

constexpr std::size_t kMaxPartials = 256;

// partial[u] = part(begin, end) over the fixed units of [0, n) (at most kMaxPartials, each at
// least kElementwiseUnit long), on the pool when n is large; returns the number of units. The
// caller combines the partials in index order.
template <typename Part>
std::size_t unit_partials(std::size_t n, Part&& part, double (&partial)[kMaxPartials]) {
  std::size_t unit = (n + kMaxPartials - 1) / kMaxPartials;
  if (unit < kElementwiseUnit) unit = kElementwiseUnit;
  const std::size_t units = (n + unit - 1) / unit;
  const auto fill = [&](std::size_t u) {
    const std::size_t begin = u * unit;
    partial[u] = part(begin, begin + unit < n ? begin + unit : n);
  };
  if (n >= kElementwiseParallel && thread_count() > 1) {
    parallel_for(units, fill);
  } else {
    for (std::size_t u = 0; u < units; ++u) fill(u);
  }
  return units;
}

// Σ of part(begin, end) over fixed units of [0, n), added in index order.
template <typename Part>
double reduce_units(std::size_t n, Part&& part) {
  double partial[kMaxPartials];
  const std::size_t units = unit_partials(n, part, partial);
  double total = 0;
  for (std::size_t u = 0; u < units; ++u) total += partial[u];
  return total;
}

#if CIMM_HAVE_X86_DISPATCH

// Eight floats widened to two double vectors, and back (rounded to nearest, as a JS store).
CIMM_TARGET_AVX2 inline void load8(const float* p, __m256d& lo, __m256d& hi) noexcept {
  lo = _mm256_cvtps_pd(_mm_loadu_ps(p));
  hi = _mm256_cvtps_pd(_mm_loadu_ps(p + 4));
}
CIMM_TARGET_AVX2 inline __m256 narrow8(__m256d lo, __m256d hi) noexcept {
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

#endif

}  // namespace detail

}  // namespace cimm

#if CIMM_HAVE_X86_DISPATCH
#define CIMM_PICK(avx2, scalar) (has_avx2_fma() ? (avx2) : (scalar))
#else
#define CIMM_PICK(avx2, scalar) (scalar)
#endif
