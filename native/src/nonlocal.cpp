// Nonlocal energy, design eq. 4, and the Euclidean distance: squared distances between f32
// vectors accumulated in double (each f32 is widened first, so x − z is exact).
//
// Per point z_j: toX = ‖x − z_j‖², toY = ‖z_j − y‖², value = exp(−sqrt(toX)/ℓ) / sqrt(toY + ε²).
// The AVX2 path accumulates the squares in eight independent lanes and a different order
// than the scalar path (relative differences near 1e-16), then takes four points at a time
// through a vector exp (within about 2 ulp of libm's) and IEEE sqrt and division.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu.hpp"
#include "energy.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

namespace detail {

double nonlocal_sum_scalar(const double* x, const double* y, std::size_t d, const float* points, std::size_t begin,
                           std::size_t end, double length_scale, double softening) noexcept {
  const double eps2 = softening * softening;
  double sum = 0;
  for (std::size_t j = begin; j < end; ++j) {
    const float* row = points + j * d;
    double to_x = 0;
    double to_y = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const double z = row[k];
      const double a = x[k] - z;
      const double b = z - y[k];
      to_x += a * a;
      to_y += b * b;
    }
    if (!(to_x + to_y < kInf)) return kNaN;
    sum += std::exp(-std::sqrt(to_x) / length_scale) / std::sqrt(to_y + eps2);
  }
  return sum;
}

double distance_scalar(const float* x, const float* y, std::size_t d) noexcept {
  double s = 0;
  for (std::size_t k = 0; k < d; ++k) {
    const double a = static_cast<double>(x[k]) - static_cast<double>(y[k]);
    s += a * a;
  }
  return std::sqrt(s);
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

CIMM_TARGET_AVX2 inline double hsum(__m256d v) noexcept {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// ‖x − z‖² and ‖z − y‖² for one row z of d floats.
CIMM_TARGET_AVX2 inline void row_distances(const double* x, const double* y, const float* z, std::size_t d,
                                           double& to_x, double& to_y) noexcept {
  double sx = 0;
  double sy = 0;
  std::size_t k = 0;
  if (d >= 4) {
    __m256d ax[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    __m256d ay[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    for (; k + 16 <= d; k += 16) {
      for (std::size_t q = 0; q < 4; ++q) {
        const __m256d zq = _mm256_cvtps_pd(_mm_loadu_ps(z + k + 4 * q));
        const __m256d a = _mm256_sub_pd(_mm256_loadu_pd(x + k + 4 * q), zq);
        const __m256d b = _mm256_sub_pd(zq, _mm256_loadu_pd(y + k + 4 * q));
        ax[q] = _mm256_fmadd_pd(a, a, ax[q]);
        ay[q] = _mm256_fmadd_pd(b, b, ay[q]);
      }
    }
    for (; k + 4 <= d; k += 4) {
      const __m256d zq = _mm256_cvtps_pd(_mm_loadu_ps(z + k));
      const __m256d a = _mm256_sub_pd(_mm256_loadu_pd(x + k), zq);
      const __m256d b = _mm256_sub_pd(zq, _mm256_loadu_pd(y + k));
      ax[0] = _mm256_fmadd_pd(a, a, ax[0]);
      ay[0] = _mm256_fmadd_pd(b, b, ay[0]);
    }
    sx = hsum(_mm256_add_pd(_mm256_add_pd(ax[0], ax[1]), _mm256_add_pd(ax[2], ax[3])));
    sy = hsum(_mm256_add_pd(_mm256_add_pd(ay[0], ay[1]), _mm256_add_pd(ay[2], ay[3])));
  }
  for (; k < d; ++k) {
    const double zk = z[k];
    const double a = x[k] - zk;
    const double b = zk - y[k];
    sx += a * a;
    sy += b * b;
  }
  to_x = sx;
  to_y = sy;
}

// 1/k!, k = 0 … 13: the Taylor series of e^r, truncation below 5e-18 on |r| <= ln2/2
constexpr double kExp[14] = {
    1.0,        1.0,         1.0 / 2,      1.0 / 6,       1.0 / 24,       1.0 / 120,       1.0 / 720,
    1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};

// e^v lane by lane: v = n·ln2 + r with n = round(v/ln2) and |r| <= ln2/2 (ln2 split in two
// for an exact n·ln2_hi), e^v = 2^n·e^r. Lanes outside [−708, 708], where 2^n would leave
// the normal range, and NaN lanes go through std::exp.
CIMM_TARGET_AVX2 inline __m256d exp4(__m256d v) noexcept {
  const __m256d in_range = _mm256_and_pd(_mm256_cmp_pd(v, _mm256_set1_pd(-708.0), _CMP_GE_OQ),
                                         _mm256_cmp_pd(v, _mm256_set1_pd(708.0), _CMP_LE_OQ));
  const __m256d w = _mm256_blendv_pd(_mm256_setzero_pd(), v, in_range);
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(w, _mm256_set1_pd(0x1.71547652b82fep+0)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(0x1.62e42p-1), w);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(0x1.fdf473de6af28p-22), r);
  __m256d p = _mm256_set1_pd(kExp[13]);
  for (int k = 12; k >= 0; --k) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kExp[k]));
  const __m256i bits =
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n)), _mm256_set1_epi64x(1023)), 52);
  __m256d out = _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
  if (_mm256_movemask_pd(in_range) != 0xF) {
    alignas(32) double lanes[4];
    alignas(32) double values[4];
    _mm256_store_pd(lanes, out);
    _mm256_store_pd(values, v);
    const int ok = _mm256_movemask_pd(in_range);
    for (int i = 0; i < 4; ++i) {
      if (!(ok & (1 << i))) lanes[i] = std::exp(values[i]);
    }
    out = _mm256_load_pd(lanes);
  }
  return out;
}

}  // namespace

CIMM_TARGET_AVX2 double nonlocal_sum_avx2(const double* x, const double* y, std::size_t d, const float* points,
                                          std::size_t begin, std::size_t end, double length_scale,
                                          double softening) noexcept {
  const __m256d ell = _mm256_set1_pd(length_scale);
  const __m256d eps2 = _mm256_set1_pd(softening * softening);
  const __m256d sign = _mm256_set1_pd(-0.0);
  constexpr std::size_t kBatch = 32;
  double sum = 0;
  // Batches of up to 32 points: all their distances first, then the exp/sqrt/division four
  // points at a time (independent iterations the CPU overlaps), then the sum in row order.
  for (std::size_t j = begin; j < end; j += kBatch) {
    const std::size_t count = end - j < kBatch ? end - j : kBatch;
    alignas(32) double to_x[kBatch];
    alignas(32) double to_y[kBatch];
    alignas(32) double value[kBatch];
    for (std::size_t i = 0; i < count; ++i) {
      row_distances(x, y, points + (j + i) * d, d, to_x[i], to_y[i]);
      if (!(to_x[i] + to_y[i] < kInf)) return kNaN;
    }
    for (std::size_t i = count; i % 4 != 0; ++i) to_x[i] = to_y[i] = 0;
    for (std::size_t i = 0; i < count; i += 4) {
      const __m256d e = exp4(_mm256_xor_pd(sign, _mm256_div_pd(_mm256_sqrt_pd(_mm256_load_pd(to_x + i)), ell)));
      _mm256_store_pd(value + i, _mm256_div_pd(e, _mm256_sqrt_pd(_mm256_add_pd(_mm256_load_pd(to_y + i), eps2))));
    }
    for (std::size_t i = 0; i < count; ++i) sum += value[i];
  }
  return sum;
}

CIMM_TARGET_AVX2 double distance_avx2(const float* x, const float* y, std::size_t d) noexcept {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  std::size_t k = 0;
  for (; k + 16 <= d; k += 16) {
    for (std::size_t q = 0; q < 4; ++q) {
      const __m256d a =
          _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k + 4 * q)), _mm256_cvtps_pd(_mm_loadu_ps(y + k + 4 * q)));
      acc[q] = _mm256_fmadd_pd(a, a, acc[q]);
    }
  }
  for (; k + 4 <= d; k += 4) {
    const __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + k)), _mm256_cvtps_pd(_mm_loadu_ps(y + k)));
    acc[0] = _mm256_fmadd_pd(a, a, acc[0]);
  }
  double s = hsum(_mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3])));
  for (; k < d; ++k) {
    const double a = static_cast<double>(x[k]) - static_cast<double>(y[k]);
    s += a * a;
  }
  return std::sqrt(s);
}

CIMM_TARGET_AVX2 void exp4_avx2(const double* v, double* out) noexcept {
  _mm256_storeu_pd(out, exp4(_mm256_loadu_pd(v)));
}

#else

double nonlocal_sum_avx2(const double* x, const double* y, std::size_t d, const float* points, std::size_t begin,
                         std::size_t end, double length_scale, double softening) noexcept {
  return nonlocal_sum_scalar(x, y, d, points, begin, end, length_scale, softening);
}

double distance_avx2(const float* x, const float* y, std::size_t d) noexcept { return distance_scalar(x, y, d); }

void exp4_avx2(const double* v, double* out) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = std::exp(v[i]);
}

#endif

}  // namespace detail

double nonlocal_energy(const float* x, const float* y, std::size_t d, const float* points, std::size_t m,
                       double length_scale, double softening) {
  // x and y widened once; reused across calls on this thread (per-call heap is dear here).
  thread_local std::vector<double> widened;
  widened.resize(2 * d);
  double* xd = widened.data();
  double* yd = xd + d;
  for (std::size_t k = 0; k < d; ++k) {
    xd[k] = x[k];
    yd[k] = y[k];
  }
  const auto kernel = has_avx2_fma() ? detail::nonlocal_sum_avx2 : detail::nonlocal_sum_scalar;
  const std::size_t chunks = (m + kNonlocalChunk - 1) / kNonlocalChunk;
  const auto chunk_sum = [&](std::size_t c) {
    const std::size_t begin = c * kNonlocalChunk;
    const std::size_t end = begin + kNonlocalChunk < m ? begin + kNonlocalChunk : m;
    return kernel(xd, yd, d, points, begin, end, length_scale, softening);
  };

  double total = 0;
  const std::size_t threads = thread_count();
  if (threads == 1 || chunks < 2 || static_cast<double>(m) * static_cast<double>(d) < kNonlocalParallelWork) {
    for (std::size_t c = 0; c < chunks; ++c) total += chunk_sum(c);
    return total / static_cast<double>(m);
  }
  thread_local std::vector<double> sums;
  sums.resize(chunks);
  const std::size_t tasks = threads < chunks ? threads : chunks;
  const std::size_t per = (chunks + tasks - 1) / tasks;
  double* slot = sums.data();
  parallel_for(tasks, [&](std::size_t task) {
    const std::size_t first = task * per;
    const std::size_t last = first + per < chunks ? first + per : chunks;
    for (std::size_t c = first; c < last; ++c) slot[c] = chunk_sum(c);
  });
  for (std::size_t c = 0; c < chunks; ++c) total += sums[c];
  return total / static_cast<double>(m);
}

double distance(const float* x, const float* y, std::size_t d) {
  return has_avx2_fma() ? detail::distance_avx2(x, y, d) : detail::distance_scalar(x, y, d);
}

}  // namespace cimm
