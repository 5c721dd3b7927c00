// The energy terms of an optimizer update (balance.hpp): scalar and AVX2 side by side, both
// in the canonical order, split over the pool for large n.
#include "balance.hpp"

#include <cmath>

#include "balance_kernels.hpp"
#include "cpu.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "simd.hpp"

namespace cimm {

namespace detail {

namespace {

// One element's terms w Δ², g Δ, |g Δ|.
template <typename T>
inline void terms(const UpdateArraysT<T>& u, std::size_t i, double* t) noexcept {
  const double w = u.metric ? metric_weight(std::sqrt(u.metric[i]), u.metric_scale, u.epsilon) : 1.0;
  element_terms(u.before[i], u.after[i], u.grads[i], w, t);
}

// The tail from `from` to n in index order, onto out.
template <typename T>
inline void tail(const UpdateArraysT<T>& u, std::size_t from, std::size_t n, double* out) noexcept {
  double t[3];
  for (std::size_t i = from; i < n; ++i) {
    terms(u, i, t);
    add_terms(out, t);
  }
}

template <typename T>
double slope_scalar(const UpdateArraysT<T>& u, std::size_t n) noexcept {
  double acc[16] = {};
  const std::size_t full = n / 16 * 16;
  for (std::size_t i = 0; i < full; ++i) {
    acc[i % 16] +=
        static_cast<double>(u.grads[i]) * (static_cast<double>(u.after[i]) - static_cast<double>(u.before[i]));
  }
  double t[4];
  for (int l = 0; l < 4; ++l) t[l] = (acc[l] + acc[4 + l]) + (acc[8 + l] + acc[12 + l]);
  double out = (t[0] + t[2]) + (t[1] + t[3]);
  for (std::size_t i = full; i < n; ++i) {
    out += static_cast<double>(u.grads[i]) * (static_cast<double>(u.after[i]) - static_cast<double>(u.before[i]));
  }
  return out;
}

template <typename T>
void energy_scalar(const UpdateArraysT<T>& u, std::size_t n, double* out) noexcept {
  Acc16 acc;
  const std::size_t full = n / 16 * 16;
  double t[3];
  for (std::size_t b = 0; b < full; b += 16) {
    for (std::size_t j = 0; j < 16; ++j) {
      terms(u, b + j, t);
      acc.add(j, t);
    }
  }
  acc.combine(out);
  tail(u, full, n, out);
}

}  // namespace

double update_slope_scalar(const UpdateArrays& u, std::size_t n) noexcept { return slope_scalar(u, n); }

void update_energy_scalar(const UpdateArrays& u, std::size_t n, double* out) noexcept { energy_scalar(u, n, out); }

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 void update_energy_avx2(const UpdateArrays& u, std::size_t n, double* out) noexcept {
  const std::size_t full = n / 16 * 16;
  Sums4 sums(u.metric_scale, u.epsilon);
  for (std::size_t i = 0; i < full; i += 16) {
    for (int r = 0; r < 4; ++r) {
      const std::size_t at = i + 4 * static_cast<std::size_t>(r);
      if (u.metric) {
        // √ in f32 (as Adam's denominator), then widened
        const __m128 root = _mm_sqrt_ps(_mm_loadu_ps(u.metric + at));
        sums.add(r, _mm_loadu_ps(u.before + at), _mm_loadu_ps(u.after + at), _mm_loadu_ps(u.grads + at), &root);
      } else {
        sums.add(r, _mm_loadu_ps(u.before + at), _mm_loadu_ps(u.after + at), _mm_loadu_ps(u.grads + at), nullptr);
      }
    }
  }
  sums.reduce(out);
  tail(u, full, n, out);
}

CIMM_TARGET_AVX2 double update_slope_avx2(const UpdateArrays& u, std::size_t n) noexcept {
  const std::size_t full = n / 16 * 16;
  __m256d acc[4];
  for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_pd();
  for (std::size_t i = 0; i < full; i += 16) {
    for (int r = 0; r < 4; ++r) {
      const std::size_t at = i + 4 * static_cast<std::size_t>(r);
      const __m256d d =
          _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(u.after + at)), _mm256_cvtps_pd(_mm_loadu_ps(u.before + at)));
      acc[r] = _mm256_add_pd(acc[r], _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(u.grads + at)), d));
    }
  }
  double out = Sums4::reduce4(acc);
  for (std::size_t i = full; i < n; ++i) {
    out += static_cast<double>(u.grads[i]) * (static_cast<double>(u.after[i]) - static_cast<double>(u.before[i]));
  }
  return out;
}

#else

void update_energy_avx2(const UpdateArrays& u, std::size_t n, double* out) noexcept { update_energy_scalar(u, n, out); }

double update_slope_avx2(const UpdateArrays& u, std::size_t n) noexcept { return update_slope_scalar(u, n); }

#endif

}  // namespace detail

namespace {

// The sums over the fixed split of n (on the pool from kReduceParallel), each range by
// range(part, length, out), added in index order.
template <typename T, typename Range>
void energy_split(const UpdateArraysT<T>& u, std::size_t n, double* out, Range&& range) {
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  double partial[kMaxSumUnits][3] = {};
  auto fill = [&](std::size_t r) {
    const std::size_t begin = r * chunk < n ? r * chunk : n;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    const UpdateArraysT<T> part{u.before + begin, u.after + begin,
                                u.grads + begin,  u.metric ? u.metric + begin : nullptr,
                                u.metric_scale,   u.epsilon};
    range(part, end - begin, partial[r]);
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

template <typename T, typename Range>
double slope_split(const UpdateArraysT<T>& u, std::size_t n, Range&& range) {
  std::size_t chunk = 0;
  std::size_t units = 0;
  detail::sum_split(n, &chunk, &units);
  double partial[kMaxSumUnits] = {};
  auto fill = [&](std::size_t r) {
    const std::size_t begin = r * chunk < n ? r * chunk : n;
    const std::size_t end = begin + chunk < n ? begin + chunk : n;
    const UpdateArraysT<T> part{u.before + begin, u.after + begin, u.grads + begin, nullptr, 1, 0};
    partial[r] = range(part, end - begin);
  };
  if (n >= kReduceParallel) {
    parallel_for(units, fill);
  } else {
    for (std::size_t r = 0; r < units; ++r) fill(r);
  }
  double out = 0;
  for (std::size_t r = 0; r < units; ++r) out += partial[r];
  return out;
}

}  // namespace

void update_energy(const UpdateArrays& u, std::size_t n, double* out) {
  const bool v = has_avx2_fma();
  energy_split(u, n, out, [&](const UpdateArrays& part, std::size_t len, double* o) {
    v ? detail::update_energy_avx2(part, len, o) : detail::update_energy_scalar(part, len, o);
  });
}

void update_energy(const UpdateArraysT<double>& u, std::size_t n, double* out) {
  energy_split(u, n, out, [](const UpdateArraysT<double>& part, std::size_t len, double* o) {
    detail::energy_scalar(part, len, o);
  });
}

double update_slope(const UpdateArrays& u, std::size_t n) {
  const bool v = has_avx2_fma();
  return slope_split(u, n, [&](const UpdateArrays& part, std::size_t len) {
    return v ? detail::update_slope_avx2(part, len) : detail::update_slope_scalar(part, len);
  });
}

double update_slope(const UpdateArraysT<double>& u, std::size_t n) {
  return slope_split(
      u, n, [](const UpdateArraysT<double>& part, std::size_t len) { return detail::slope_scalar(part, len); });
}

}  // namespace cimm
