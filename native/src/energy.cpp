// Local energy, design eq. 3: E_loc(r) = Σ_{n=1}^{N} cos(2π r / p_n) / (r² + p_n²).
//
// Both paths reduce the phase in turns: t = r·(1/p), f = t − round(t) ∈ [−½, ½], and with
// g = |f|, h = ¼ − g ∈ [−¼, ¼], cos(2πf) = cos(2πg) = sin(2πh) = h·P(h²), P the odd Taylor
// series of sin(2πh)/h through the h^19 term (truncation below 3e-16 on |h| <= ¼). Each
// lane sums its terms in prime order, as the js reference does.
//
// Nonlocal energy, design eq. 4, and the Euclidean distance: squared distances between f32
// vectors accumulated in double (each f32 is widened first, so x − z is exact).
//
// Per point z_j: toX = ‖x − z_j‖², toY = ‖z_j − y‖², value = exp(−sqrt(toX)/ℓ) / sqrt(toY + ε²).
// The AVX2 path accumulates the squares in eight independent lanes and a different order
// than the scalar path (relative differences near 1e-16), then takes four points at a time
// through a vector exp (within about 2 ulp of libm's) and IEEE sqrt and division.
#include "energy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "checked.hpp"
#include "cpu.hpp"
#include "declared.hpp"
#include "parallel.hpp"
#include "primes.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

// (−1)^k (2π)^(2k+1) / (2k+1)!, k = 0 … 9
constexpr double kS0 = 0x1.921fb54442d18p+2;
constexpr double kS1 = -0x1.4abbce625be53p+5;
constexpr double kS2 = 0x1.466bc6775aae2p+6;
constexpr double kS3 = -0x1.32d2cce62bd86p+6;
constexpr double kS4 = 0x1.50783487ee782p+5;
constexpr double kS5 = -0x1.e3074fde8871fp+3;
constexpr double kS6 = 0x1.e8f434d018d63p+1;
constexpr double kS7 = -0x1.6fadb9f155744p-1;
constexpr double kS8 = 0x1.aaec32af93359p-4;
constexpr double kS9 = -0x1.8a404211f9547p-7;

// round-to-nearest-even of t without libm or a branch (SSE2 has no rounding instruction,
// and a select vectorizes): adding and subtracting ±2^52 rounds any |t| < 2^52 exactly;
// larger t are integers already.
inline double round_even(double t) noexcept {
  const double m = std::fabs(t) < 0x1p52 ? std::copysign(0x1p52, t) : 0.0;
  return (t + m) - m;
}

// cos(2π t) for t in turns; P by Estrin's scheme, whose short dependency chains made this
// path 1.2× faster than Horner's here (the AVX2 path, with four vectors in flight, was not).
inline double cos_turns(double t) noexcept {
  const double h = 0.25 - std::fabs(t - round_even(t));
  const double u = h * h;
  const double u2 = u * u;
  const double u4 = u2 * u2;
  const double p = ((kS0 + u * kS1) + u2 * (kS2 + u * kS3)) + u4 * ((kS4 + u * kS5) + u2 * (kS6 + u * kS7)) +
                   u4 * u4 * (kS8 + u * kS9);
  return h * p;
}

// Four r values per pass over the primes, in plain C++ the compiler may vectorize (SSE2,
// NEON) without changing any lane's arithmetic.
constexpr std::size_t kScalarBlock = 4;

inline void scalar_block(const double* r, const double* inv, const double* p2, std::size_t n, double* out) noexcept {
  double r2[kScalarBlock];
  double sum[kScalarBlock];
  for (std::size_t v = 0; v < kScalarBlock; ++v) {
    r2[v] = r[v] * r[v];
    sum[v] = 0;
  }
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t v = 0; v < kScalarBlock; ++v) sum[v] += cos_turns(r[v] * inv[k]) / (r2[v] + p2[k]);
  }
  for (std::size_t v = 0; v < kScalarBlock; ++v) out[v] = sum[v];
}

}  // namespace

namespace detail {

void local_energy_scalar(const double* r, std::size_t len, const double* inv, const double* p2, std::size_t n,
                         double* out) noexcept {
  std::size_t i = 0;
  for (; i + kScalarBlock <= len; i += kScalarBlock) scalar_block(r + i, inv, p2, n, out + i);
  if (i < len) {
    double rt[kScalarBlock] = {};
    double ot[kScalarBlock];
    std::copy(r + i, r + len, rt);
    scalar_block(rt, inv, p2, n, ot);
    std::copy(ot, ot + (len - i), out + i);
  }
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

// Vectors of four r values handled together per prime: independent chains for the FMA units.
// (Measured here: 2 to 8 vectors, and Estrin's scheme instead of Horner's, all within 3%.)
constexpr std::size_t kVectors = 4;

CIMM_TARGET_AVX2 inline __m256d cos_turns4(__m256d t) noexcept {
  const __m256d sign = _mm256_set1_pd(-0.0);
  const __m256d f = _mm256_sub_pd(t, _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256d h = _mm256_sub_pd(_mm256_set1_pd(0.25), _mm256_andnot_pd(sign, f));
  const __m256d u = _mm256_mul_pd(h, h);
  __m256d p = _mm256_fmadd_pd(u, _mm256_set1_pd(kS9), _mm256_set1_pd(kS8));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS7));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS6));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS5));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS4));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS3));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS2));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS1));
  p = _mm256_fmadd_pd(u, p, _mm256_set1_pd(kS0));
  return _mm256_mul_pd(h, p);
}

// 4·V r values starting at r (all readable), results to out (all writable).
template <std::size_t V>
CIMM_TARGET_AVX2 inline void block(const double* r, const double* inv, const double* p2, std::size_t n,
                                   double* out) noexcept {
  __m256d rv[V], r2[V], acc[V];
  for (std::size_t v = 0; v < V; ++v) {
    rv[v] = _mm256_loadu_pd(r + 4 * v);
    r2[v] = _mm256_mul_pd(rv[v], rv[v]);
    acc[v] = _mm256_setzero_pd();
  }
  for (std::size_t k = 0; k < n; ++k) {
    const __m256d ik = _mm256_broadcast_sd(inv + k);
    const __m256d qk = _mm256_broadcast_sd(p2 + k);
    for (std::size_t v = 0; v < V; ++v) {
      const __m256d c = cos_turns4(_mm256_mul_pd(rv[v], ik));
      acc[v] = _mm256_add_pd(acc[v], _mm256_div_pd(c, _mm256_add_pd(r2[v], qk)));
    }
  }
  for (std::size_t v = 0; v < V; ++v) _mm256_storeu_pd(out + 4 * v, acc[v]);
}

}  // namespace

CIMM_TARGET_AVX2 void local_energy_avx2(const double* r, std::size_t len, const double* inv, const double* p2,
                                        std::size_t n, double* out) noexcept {
  std::size_t i = 0;
  for (; i + 4 * kVectors <= len; i += 4 * kVectors) block<kVectors>(r + i, inv, p2, n, out + i);
  for (; i + 4 <= len; i += 4) block<1>(r + i, inv, p2, n, out + i);
  if (i < len) {
    // the last 1–3 values, padded with zeros: a lane's result does not depend on its neighbours
    double rt[4] = {0, 0, 0, 0};
    double ot[4];
    std::copy(r + i, r + len, rt);
    block<1>(rt, inv, p2, n, ot);
    std::copy(ot, ot + (len - i), out + i);
  }
}

#else

void local_energy_avx2(const double* r, std::size_t len, const double* inv, const double* p2, std::size_t n,
                       double* out) noexcept {
  local_energy_scalar(r, len, inv, p2, n, out);
}

#endif

}  // namespace detail

namespace {

// This thread's reference to the shared table of at least `prime_count` primes: no lock
// unless the table must grow.
const PrimeTable& table_of(std::size_t prime_count) {
  thread_local std::shared_ptr<const PrimeTable> table;
  if (!table || table->count() < prime_count) table = prime_table(prime_count);
  return *table;
}

}  // namespace

bool local_energy_until(const double* r, std::size_t len, std::size_t prime_count, double* out, const StopFlag& stop) {
  if (len == 0 || prime_count == 0) {
    local_energy(r, len, prime_count, out);
    return !raised(&stop);
  }
  // Units a multiple of 16 long (the widest block), so each r_i's sum is local_energy's.
  const std::size_t unit = std::max<std::size_t>(16, (kLocalStopUnitWork / prime_count + 15) / 16 * 16);
  for (std::size_t begin = 0; begin < len; begin += unit) {
    if (raised(&stop)) return false;
    local_energy(r + begin, std::min(unit, len - begin), prime_count, out + begin);
  }
  return !raised(&stop);
}

void local_energy(const double* r, std::size_t len, std::size_t prime_count, double* out) {
  if (len == 0) return;
  if (prime_count == 0) {
    std::fill(out, out + len, 0.0);
    return;
  }
  const PrimeTable& table = table_of(prime_count);
  const double* inv = table.inv.data();
  const double* p2 = table.sq.data();
  const auto kernel = has_avx2_fma() ? detail::local_energy_avx2 : detail::local_energy_scalar;

  const std::size_t threads = thread_count();
  if (threads == 1 || len < 2 || static_cast<double>(len) * static_cast<double>(prime_count) < kLocalParallelWork) {
    kernel(r, len, inv, p2, prime_count, out);
    return;
  }
  // Contiguous slices of r, a multiple of 16 long; each r_i's sum does not depend on its slice.
  const std::size_t tasks = std::min(threads, (len + 15) / 16);
  const std::size_t per = ((len + tasks - 1) / tasks + 15) / 16 * 16;
  parallel_for(tasks, [&](std::size_t task) {
    const std::size_t begin = std::min(len, task * per);
    const std::size_t end = std::min(len, begin + per);
    if (begin < end) kernel(r + begin, end - begin, inv, p2, prime_count, out + begin);
  });
}

}  // namespace cimm

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
  // points holds m·d floats: no such array when the product wraps (checked.hpp)
  if (!product_fits(m, d, sizeof(float))) return std::numeric_limits<double>::quiet_NaN();
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

// Eq. 5 with its terms (declared kernel energyTerms; the binding has checked the lengths:
// d = x_length >= 1, y of length d, points M×d, out of length 4): each term is the value of
// distance, local_energy and nonlocal_energy bit for bit, the sum in double.
void energy_terms(const EnergyTermsParams& params, const float* x, std::size_t x_length, const float* y,
                  std::size_t /*y_length*/, const float* points, std::size_t points_length, double* out,
                  std::size_t /*out_length*/) {
  const std::size_t d = x_length;
  const double nonlocal = nonlocal_energy(x, y, d, points, points_length / d, params.length_scale, params.softening);
  const double r = distance(x, y, d);
  double local = 0;
  local_energy(&r, 1, params.prime_count, &local);
  out[0] = r;
  out[1] = local;
  out[2] = nonlocal;
  out[3] = local + params.lambda_cosmo * nonlocal;
}

}  // namespace cimm
