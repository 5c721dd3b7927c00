// Reductions and in-place updates of the stability controller, design eq. 11: the gradient
// norm ‖∇L‖ (f32 squared in double), grid sums for ∫E, ∫|E| and L2(Ω) norms, zeroing
// non-finite gradient entries, scaling a gradient.
//
// A sum is split into at most kMaxSumUnits ranges fixed by its length (detail::sum_split);
// the range sums are added in index order, so threads never change a result.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu.hpp"
#include "flow.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

namespace detail {

void sum_split(std::size_t n, std::size_t* chunk, std::size_t* units) noexcept {
  std::size_t u = (n + kReduceMinUnit - 1) / kReduceMinUnit;
  u = u < 1 ? 1 : (u > kMaxSumUnits ? kMaxSumUnits : u);
  std::size_t c = (n + u - 1) / u;
  c = (c + 15) / 16 * 16;
  if (c < 16) c = 16;
  *chunk = c;
  *units = n == 0 ? 1 : (n + c - 1) / c;
}

void grid_sums_scalar(const double* x, std::size_t n, double* out) noexcept {
  double s = 0;
  double a = 0;
  double q = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s += x[i];
    a += std::fabs(x[i]);
    q += x[i] * x[i];
  }
  out[0] = s;
  out[1] = a;
  out[2] = q;
}

double sum_squares_scalar(const float* x, std::size_t n) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

std::size_t zero_non_finite_scalar(float* x, std::size_t n) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      x[i] = 0;
      ++count;
    }
  }
  return count;
}

void scale_scalar(float* x, std::size_t n, double s) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<double>(x[i]) * s);
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

CIMM_TARGET_AVX2 inline double hsum(__m256d v) noexcept {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

CIMM_TARGET_AVX2 inline double reduce4(const __m256d* a) noexcept {
  return hsum(_mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
}

}  // namespace

CIMM_TARGET_AVX2 void grid_sums_avx2(const double* x, std::size_t n, double* out) noexcept {
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  __m256d s[4], a[4], q[4];
  for (int u = 0; u < 4; ++u) s[u] = a[u] = q[u] = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int u = 0; u < 4; ++u) {
      const __m256d v = _mm256_loadu_pd(x + i + 4 * u);
      s[u] = _mm256_add_pd(s[u], v);
      a[u] = _mm256_add_pd(a[u], _mm256_and_pd(v, abs_mask));
      q[u] = _mm256_fmadd_pd(v, v, q[u]);
    }
  }
  out[0] = reduce4(s);
  out[1] = reduce4(a);
  out[2] = reduce4(q);
  for (; i < n; ++i) {
    out[0] += x[i];
    out[1] += std::fabs(x[i]);
    out[2] += x[i] * x[i];
  }
}

CIMM_TARGET_AVX2 double sum_squares_avx2(const float* x, std::size_t n) noexcept {
  __m256d acc[4];
  for (auto& v : acc) v = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int u = 0; u < 4; ++u) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * u));
      acc[u] = _mm256_fmadd_pd(v, v, acc[u]);
    }
  }
  double s = reduce4(acc);
  for (; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

CIMM_TARGET_AVX2 std::size_t zero_non_finite_avx2(float* x, std::size_t n) noexcept {
  // non-finite ⟺ every exponent bit set
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i bad = _mm256_cmpeq_epi32(_mm256_and_si256(v, exponent), exponent);
    const int mask = _mm256_movemask_ps(_mm256_castsi256_ps(bad));
    if (mask != 0) {
      count += static_cast<std::size_t>(__builtin_popcount(static_cast<unsigned>(mask)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + i), _mm256_andnot_si256(bad, v));
    }
  }
  return count + zero_non_finite_scalar(x + i, n - i);
}

CIMM_TARGET_AVX2 void scale_avx2(float* x, std::size_t n, double s) noexcept {
  const __m256d sv = _mm256_set1_pd(s);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), sv));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), sv));
    _mm_storeu_ps(x + i, lo);
    _mm_storeu_ps(x + i + 4, hi);
  }
  scale_scalar(x + i, n - i, s);
}

#else

void grid_sums_avx2(const double* x, std::size_t n, double* out) noexcept { grid_sums_scalar(x, n, out); }
double sum_squares_avx2(const float* x, std::size_t n) noexcept { return sum_squares_scalar(x, n); }
std::size_t zero_non_finite_avx2(float* x, std::size_t n) noexcept { return zero_non_finite_scalar(x, n); }
void scale_avx2(float* x, std::size_t n, double s) noexcept { scale_scalar(x, n, s); }

#endif

}  // namespace detail

namespace {

bool simd() noexcept { return has_avx2_fma(); }

// Σ over the fixed split of n elements: part(begin, end, slot) fills K doubles per range.
template <std::size_t K, typename Part>
void split_sum(std::size_t n, Part&& part, double* total) {
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
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

}  // namespace

void grid_sums(const double* x, std::size_t n, double* out) {
  const bool v = simd();
  split_sum<3>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        v ? detail::grid_sums_avx2(x + b, e - b, slot) : detail::grid_sums_scalar(x + b, e - b, slot);
      },
      out);
}

double l2_norm(const float* x, std::size_t n) {
  const bool v = simd();
  double total = 0;
  split_sum<1>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        slot[0] = v ? detail::sum_squares_avx2(x + b, e - b) : detail::sum_squares_scalar(x + b, e - b);
      },
      &total);
  return std::sqrt(total);
}

std::size_t zero_non_finite(float* x, std::size_t n) {
  const bool v = simd();
  auto run = [v](float* p, std::size_t len) {
    return v ? detail::zero_non_finite_avx2(p, len) : detail::zero_non_finite_scalar(p, len);
  };
  if (n < kReduceParallel) return run(x, n);
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  std::size_t counts[kMaxSumUnits] = {};
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * chunk;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    counts[u] = run(x + begin, end - begin);
  });
  std::size_t total = 0;
  for (std::size_t u = 0; u < units; ++u) total += counts[u];
  return total;
}

void scale_in_place(float* x, std::size_t n, double s) {
  const bool v = simd();
  auto run = [v, s](float* p, std::size_t len) { v ? detail::scale_avx2(p, len, s) : detail::scale_scalar(p, len, s); };
  if (n < kReduceParallel) return run(x, n);
  const std::size_t units = (n + kReduceMinUnit - 1) / kReduceMinUnit;
  parallel_for(units, [&](std::size_t u) {
    const std::size_t begin = u * kReduceMinUnit;
    run(x + begin, (begin + kReduceMinUnit < n ? begin + kReduceMinUnit : n) - begin);
  });
}

double l2_norm(const double* x, std::size_t n) {
  double total = 0;
  split_sum<1>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        double sum = 0;
        for (std::size_t i = b; i < e; ++i) sum += x[i] * x[i];
        slot[0] = sum;
      },
      &total);
  return std::sqrt(total);
}

std::size_t zero_non_finite(double* x, std::size_t n) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) < std::numeric_limits<double>::infinity())) {
      x[i] = 0;
      ++count;
    }
  }
  return count;
}

void scale_in_place(double* x, std::size_t n, double s) {
  for (std::size_t i = 0; i < n; ++i) x[i] = x[i] * s;
}

}  // namespace cimm
