// The energy terms of an optimizer update (balance.hpp): scalar and AVX2 side by side, both
// in the canonical order, split over the pool for large n.
#include "balance.hpp"

#include <cmath>

#include "cpu.hpp"
#include "flow.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace cimm {

namespace detail {

namespace {

// One element's terms w Δ², g Δ, |g Δ|.
inline void terms(const UpdateArrays& u, std::size_t i, double* t) noexcept {
  const double d = static_cast<double>(u.after[i]) - static_cast<double>(u.before[i]);
  const double w = u.metric ? static_cast<double>(std::sqrt(u.metric[i])) * u.metric_scale + u.epsilon : 1.0;
  const double p = static_cast<double>(u.grads[i]) * d;
  t[0] = w * (d * d);
  t[1] = p;
  t[2] = std::fabs(p);
}

// (t_0 + t_2) + (t_1 + t_3), t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}).
inline double combine(const double* a) noexcept {
  double t[4];
  for (int l = 0; l < 4; ++l) t[l] = (a[l] + a[4 + l]) + (a[8 + l] + a[12 + l]);
  return (t[0] + t[2]) + (t[1] + t[3]);
}

// The tail from `from` to n in index order, onto out.
inline void tail(const UpdateArrays& u, std::size_t from, std::size_t n, double* out) noexcept {
  double t[3];
  for (std::size_t i = from; i < n; ++i) {
    terms(u, i, t);
    out[0] += t[0];
    out[1] += t[1];
    out[2] += t[2];
  }
}

}  // namespace

void update_energy_scalar(const UpdateArrays& u, std::size_t n, double* out) noexcept {
  double acc[3][16] = {};
  const std::size_t full = n / 16 * 16;
  double t[3];
  for (std::size_t b = 0; b < full; b += 16) {
    for (std::size_t j = 0; j < 16; ++j) {
      terms(u, b + j, t);
      for (int k = 0; k < 3; ++k) acc[k][j] += t[k];
    }
  }
  for (int k = 0; k < 3; ++k) out[k] = combine(acc[k]);
  tail(u, full, n, out);
}

#if CIMM_HAVE_X86_DISPATCH

namespace {

CIMM_TARGET_AVX2 inline double reduce4(const __m256d* a) noexcept {
  const __m256d t = _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3]));
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

}  // namespace

CIMM_TARGET_AVX2 void update_energy_avx2(const UpdateArrays& u, std::size_t n, double* out) noexcept {
  const std::size_t full = n / 16 * 16;
  const __m256d scale = _mm256_set1_pd(u.metric_scale);
  const __m256d eps = _mm256_set1_pd(u.epsilon);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  __m256d q[4], p[4], a[4];
  for (int r = 0; r < 4; ++r) q[r] = p[r] = a[r] = _mm256_setzero_pd();
  for (std::size_t i = 0; i < full; i += 16) {
    for (int r = 0; r < 4; ++r) {
      const std::size_t at = i + 4 * static_cast<std::size_t>(r);
      const __m256d d =
          _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(u.after + at)), _mm256_cvtps_pd(_mm_loadu_ps(u.before + at)));
      __m256d wdd = _mm256_mul_pd(d, d);
      if (u.metric) {
        // √ in f32 (as Adam's denominator), then widened
        const __m256d s = _mm256_cvtps_pd(_mm_sqrt_ps(_mm_loadu_ps(u.metric + at)));
        wdd = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(s, scale), eps), wdd);
      }
      const __m256d gd = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(u.grads + at)), d);
      q[r] = _mm256_add_pd(q[r], wdd);
      p[r] = _mm256_add_pd(p[r], gd);
      a[r] = _mm256_add_pd(a[r], _mm256_and_pd(gd, abs_mask));
    }
  }
  out[0] = reduce4(q);
  out[1] = reduce4(p);
  out[2] = reduce4(a);
  tail(u, full, n, out);
}

#else

void update_energy_avx2(const UpdateArrays& u, std::size_t n, double* out) noexcept { update_energy_scalar(u, n, out); }

#endif

}  // namespace detail

void update_energy(const UpdateArrays& u, std::size_t n, double* out) {
  const bool v = has_avx2_fma();
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  double partial[kMaxSumUnits][3] = {};
  auto fill = [&](std::size_t r) {
    const std::size_t begin = r * chunk < n ? r * chunk : n;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    const UpdateArrays part{u.before + begin, u.after + begin, u.grads + begin, u.metric ? u.metric + begin : nullptr,
                            u.metric_scale,   u.epsilon};
    v ? detail::update_energy_avx2(part, end - begin, partial[r])
      : detail::update_energy_scalar(part, end - begin, partial[r]);
  };
  if (n >= kReduceParallel) {
    parallel_for(units, fill);
  } else {
    for (std::size_t r = 0; r < units; ++r) fill(r);
  }
  out[0] = out[1] = out[2] = 0;
  for (std::size_t r = 0; r < units; ++r) {
    for (int k = 0; k < 3; ++k) out[k] += partial[r][k];
  }
}

}  // namespace cimm
