// The canonical-order summation helpers the reduction kernels share (a support module, not a
// family: the kernels themselves are in flow.cpp, optim.cpp and balance.cpp). A sum over n
// elements is split into at most kMaxSumUnits ranges fixed by n (detail::sum_split); the range
// sums are added in index order, so the thread count never changes a result.
#pragma once

#include <cstddef>

#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

constexpr std::size_t kReduceParallel = std::size_t{1} << 18;
constexpr std::size_t kReduceMinUnit = std::size_t{1} << 15;
constexpr std::size_t kMaxSumUnits = 64;

namespace detail {

// The fixed split of a length-n sum: range length (a multiple of 16) and number of ranges.
void sum_split(std::size_t n, std::size_t* chunk, std::size_t* units) noexcept;

// Σ over the fixed split of n elements: part(begin, end, slot) fills K doubles per range.
template <std::size_t K, typename Part>
void split_sum(std::size_t n, Part&& part, double* total) {
  std::size_t chunk = 0;
  std::size_t units = 0;
  sum_split(n, &chunk, &units);
  double partial[kMaxSumUnits][K] = {};
  auto fill = [&](std::size_t u) {
    const std::size_t begin = u * chunk;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    part(begin < n ? begin : n, end, partial[u]);
  };
  if (n >= kReduceParallel) {
    parallel_for(units, fill);
  } else {
    for (std::size_t u = 0; u < units; ++u) fill(u);
  }
  for (std::size_t k = 0; k < K; ++k) total[k] = 0;
  for (std::size_t u = 0; u < units; ++u) {
    for (std::size_t k = 0; k < K; ++k) total[k] += partial[u][k];
  }
}

#if CIMM_HAVE_X86_DISPATCH

// The sum of the four lanes of v.
CIMM_TARGET_AVX2 inline double lane_sum(__m256d v) noexcept {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// The sum of four accumulators' lanes: (a0 + a1) + (a2 + a3), then the lanes.
CIMM_TARGET_AVX2 inline double lane_sum4(const __m256d* a) noexcept {
  return lane_sum(_mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
}

#endif

}  // namespace detail

}  // namespace cimm
