// Local energy, design eq. 3: E_loc(r) = Σ_{n=1}^{N} cos(2π r / p_n) / (r² + p_n²).
//
// Both paths reduce the phase in turns: t = r·(1/p), f = t − round(t) ∈ [−½, ½], and with
// g = |f|, h = ¼ − g ∈ [−¼, ¼], cos(2πf) = cos(2πg) = sin(2πh) = h·P(h²), P the odd Taylor
// series of sin(2πh)/h through the h^19 term (truncation below 3e-16 on |h| <= ¼). Each
// lane sums its terms in prime order, as the js reference does.
#include <algorithm>
#include <cmath>
#include <memory>

#include "cpu.hpp"
#include "energy.hpp"
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
