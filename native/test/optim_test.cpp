// Native unit test of the optimizer kernels (no Node): the AVX2 path equals the scalar path
// bit for bit on lengths around the SIMD width, the threaded drivers equal one range bit for
// bit, a hand-computed SGD step, the non-finite checks. Run by ctest; exits non-zero on any
// failure.
#include "optim.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "balance.hpp"
#include "cpu.hpp"
#include "flow.hpp"
#include "parallel.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what, std::size_t n) {
  if (ok) return;
  ++failures;
  std::printf("FAIL %s (n = %zu)\n", what, n);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::uint32_t seed = 2024;
std::vector<float> values(std::size_t n, float scale) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const float u = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
    out[i] = u * scale * (i % 7 == 0 ? 1e-3f : 1.0f);
  }
  return out;
}

const std::size_t kLengths[] = {0, 1, 3, 7, 8, 9, 15, 17, 1000, 1003};

std::vector<cimm::SgdHyper> sgd_variants() {
  const cimm::SgdHyper base{0.05, 0, 0, 0, false, false, false};
  std::vector<cimm::SgdHyper> out(6, base);
  out[1].momentum = 0.9;
  out[2].momentum = 0.9;
  out[2].first_step = true;
  out[3].momentum = 0.9;
  out[3].dampening = 0.1;
  out[3].weight_decay = 1e-2;
  out[4].momentum = 0.9;
  out[4].nesterov = true;
  out[4].maximize = true;
  out[5].weight_decay = 0.3;
  out[5].maximize = true;
  return out;
}

std::vector<cimm::AdamHyper> adam_variants() {
  const double t = 3;
  const cimm::AdamHyper base{0.9,   0.999, 1e-3 / (1 - std::pow(0.9, t)), std::sqrt(1 - std::pow(0.999, t)), 1e-8, 0, 1,
                             false, false};
  std::vector<cimm::AdamHyper> out(4, base);
  out[1].weight_decay = 0.1;
  out[2].amsgrad = true;
  out[3].decay = 1 - 1e-3 * 1e-2;
  out[3].amsgrad = true;
  out[3].maximize = true;
  return out;
}

void test_simd_equals_scalar() {
  for (const std::size_t n : kLengths) {
    for (const auto& h : sgd_variants()) {
      const auto g = values(n, 4);
      auto p1 = values(n, 4);
      auto b1 = values(n, 1);
      auto p2 = p1;
      auto b2 = b1;
      const bool f1 = cimm::detail::sgd_scalar(p1.data(), g.data(), b1.data(), n, h);
      const bool f2 = cimm::detail::sgd_avx2(p2.data(), g.data(), b2.data(), n, h);
      check(same_bits(p1, p2) && same_bits(b1, b2) && f1 == f2, "sgd: avx2 = scalar", n);
    }
    for (const auto& h : adam_variants()) {
      const auto g = values(n, 4);
      auto p1 = values(n, 4);
      auto m1 = values(n, 0.5f);
      auto v1 = values(n, 1);
      auto w1 = values(n, 1);
      for (auto& x : v1) x *= x;
      for (auto& x : w1) x *= x;
      auto p2 = p1;
      auto m2 = m1;
      auto v2 = v1;
      auto w2 = w1;
      const bool f1 = cimm::detail::adam_scalar(p1.data(), g.data(), m1.data(), v1.data(), w1.data(), n, h);
      const bool f2 = cimm::detail::adam_avx2(p2.data(), g.data(), m2.data(), v2.data(), w2.data(), n, h);
      check(same_bits(p1, p2) && same_bits(m1, m2) && same_bits(v1, v2) && same_bits(w1, w2) && f1 == f2,
            "adam: avx2 = scalar", n);
    }
  }
}

void test_threads_do_not_change_results() {
  const std::size_t n = cimm::kOptimParallelMin * 2 + 13;
  const auto h = adam_variants()[3];
  const auto g = values(n, 2);
  auto p1 = values(n, 2);
  std::vector<float> m1(n, 0.f), v1(n, 0.f), w1(n, 0.f);
  auto p2 = p1;
  auto m2 = m1;
  auto v2 = v1;
  auto w2 = w1;
  cimm::adam_step(p1.data(), g.data(), m1.data(), v1.data(), w1.data(), n, h);
  const auto one = cimm::has_avx2_fma() ? cimm::detail::adam_avx2 : cimm::detail::adam_scalar;
  one(p2.data(), g.data(), m2.data(), v2.data(), w2.data(), n, h);
  check(same_bits(p1, p2) && same_bits(m1, m2) && same_bits(v1, v2) && same_bits(w1, w2), "adam: threaded", n);

  const auto s = sgd_variants()[3];
  auto q1 = values(n, 2);
  auto b1 = values(n, 1);
  auto q2 = q1;
  auto b2 = b1;
  cimm::sgd_step(q1.data(), g.data(), b1.data(), n, s);
  const auto sone = cimm::has_avx2_fma() ? cimm::detail::sgd_avx2 : cimm::detail::sgd_scalar;
  sone(q2.data(), g.data(), b2.data(), n, s);
  check(same_bits(q1, q2) && same_bits(b1, b2), "sgd: threaded", n);

  for (const std::size_t len : {std::size_t{0}, std::size_t{5}, std::size_t{33}, n}) {
    for (std::size_t offset = 0; offset < 4; ++offset) {
      std::vector<float> dst(len + offset, 0.f);
      cimm::memory_copy(g.data(), dst.data() + offset, len);
      check(len == 0 || std::memcmp(dst.data() + offset, g.data(), len * sizeof(float)) == 0, "memory copy", len);
    }
  }
}

void test_by_hand() {
  // Nesterov, μ = ½, η = ½: step 1 b = 2, d = 3, p = 1 − 1.5 = −0.5;
  // step 2 b = ½·2 + 4 = 5, d = 4 + 2.5 = 6.5, p = −0.5 − 3.25 = −3.75 (exact in f32).
  cimm::SgdHyper h{0.5, 0.5, 0, 0, true, false, true};
  float p = 1, b = 0, g = 2;
  cimm::sgd_step(&p, &g, &b, 1, h);
  check(p == -0.5f && b == 2.0f, "sgd by hand: step 1", 1);
  h.first_step = false;
  g = 4;
  cimm::sgd_step(&p, &g, &b, 1, h);
  check(p == -3.75f && b == 5.0f, "sgd by hand: step 2", 1);
}

void test_non_finite() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::size_t n : {1, 7, 8, 9, 100, 1003}) {
    auto x = values(n, 1e30f);
    check(cimm::detail::first_non_finite_scalar(x.data(), n) == -1, "first non-finite: none (scalar)", n);
    check(cimm::detail::first_non_finite_avx2(x.data(), n) == -1, "first non-finite: none (avx2)", n);
    x[n / 2] = nan;
    x[n - 1] = -inf;
    const auto want = static_cast<long long>(n / 2);
    check(cimm::detail::first_non_finite_scalar(x.data(), n) == want, "first non-finite (scalar)", n);
    check(cimm::detail::first_non_finite_avx2(x.data(), n) == want, "first non-finite (avx2)", n);
  }
  std::vector<float> big(cimm::kOptimParallelMin * 3, 0.f);
  big[cimm::kOptimParallelMin * 2 + 5] = inf;
  big.back() = nan;
  check(cimm::first_non_finite(big.data(), big.size()) == static_cast<long long>(cimm::kOptimParallelMin * 2 + 5),
        "first non-finite: threaded", big.size());
  // a step that overflows a parameter reports it, on both paths
  for (const std::size_t n : {1, 8, 9, 20}) {
    std::vector<float> p(n, 1.f), g(n, 0.f);
    p[n - 1] = std::numeric_limits<float>::max();
    g[n - 1] = -1e10f;
    const cimm::SgdHyper h{1e30, 0, 0, 0, false, false, true};
    auto p2 = p;
    check(!cimm::detail::sgd_scalar(p.data(), g.data(), nullptr, n, h), "overflow reported (scalar)", n);
    check(!cimm::detail::sgd_avx2(p2.data(), g.data(), nullptr, n, h), "overflow reported (avx2)", n);
    check(std::isinf(p[n - 1]) && same_bits(p, p2), "overflow: p = +inf", n);
  }
}

// The update-energy sums: AVX2 = scalar bit for bit per range, and the threaded driver equals
// the canonical order written out (one range at a time, ranges added in order).
void test_update_energy() {
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17},
                              std::size_t{33}, std::size_t{1003}, cimm::kReduceParallel + 17}) {
    const auto before = values(n, 4.f);
    auto after = values(n, 1e-2f);
    for (std::size_t i = 0; i < n; ++i) after[i] += before[i];
    const auto g = values(n, 10.f);
    auto v = values(n, 2.f);
    for (auto& x : v) x *= x;
    for (const bool weighted : {false, true}) {
      const cimm::UpdateArrays u{before.data(), after.data(), g.data(), weighted ? v.data() : nullptr, 1 / 0.3, 1e-8};
      double s[3], a[3], got[3];
      cimm::detail::update_energy_scalar(u, n, s);
      cimm::detail::update_energy_avx2(u, n, a);
      check(std::memcmp(s, a, sizeof s) == 0, "update energy: avx2 = scalar", n);
      std::size_t chunk = 0, units = 0;
      cimm::detail::sum_split(n, &chunk, &units);
      double want[3] = {0, 0, 0};
      for (std::size_t r = 0; r < units; ++r) {
        const std::size_t b = r * chunk < n ? r * chunk : n;
        const std::size_t e = b + chunk < n ? b + chunk : n;
        const cimm::UpdateArrays part{u.before + b,   u.after + b, u.grads + b, weighted ? u.metric + b : nullptr,
                                      u.metric_scale, u.epsilon};
        double p[3];
        cimm::detail::update_energy_scalar(part, e - b, p);
        for (int k = 0; k < 3; ++k) want[k] += p[k];
      }
      cimm::update_energy(u, n, got);
      check(std::memcmp(want, got, sizeof got) == 0, "update energy: threaded = canonical", n);
      // the slope alone is the second sum, bit for bit, on every path
      const double slopes[] = {cimm::detail::update_slope_scalar(u, n), cimm::detail::update_slope_avx2(u, n)};
      check(std::memcmp(&slopes[0], &s[1], sizeof(double)) == 0, "update slope (scalar) = sum 1", n);
      check(std::memcmp(&slopes[1], &s[1], sizeof(double)) == 0, "update slope (avx2) = sum 1", n);
      const double slope = cimm::update_slope(u, n);
      check(std::memcmp(&slope, &want[1], sizeof(double)) == 0, "update slope: threaded = canonical", n);
    }
  }
  // by hand: Δ = (0.5, −1, 0), g = (2, 4, 7): Σ Δ² = 1.25, Σ gΔ = −3, Σ |gΔ| = 5;
  // w = √(4, 0, 9)·0.5 + 0.5 = (1.5, 0.5, 2): Σ wΔ² = 0.875
  const float before[] = {1, 2, -3}, after[] = {1.5f, 1, -3}, g[] = {2, 4, 7}, m[] = {4, 0, 9};
  double out[3];
  cimm::update_energy({before, after, g, nullptr, 1, 0}, 3, out);
  check(out[0] == 1.25 && out[1] == -3 && out[2] == 5, "update energy by hand", 3);
  cimm::update_energy({before, after, g, m, 0.5, 0.5}, 3, out);
  check(out[0] == 0.875, "update energy by hand (metric)", 3);
}

}  // namespace

int main() {
  std::printf("cimm optimizer kernels: simd path %s, %zu threads\n", cimm::simd_path(), cimm::thread_count());
  test_simd_equals_scalar();
  test_threads_do_not_change_results();
  test_by_hand();
  test_non_finite();
  test_update_energy();
  if (failures) {
    std::printf("%d failure(s)\n", failures);
    return 1;
  }
  std::printf("all optimizer kernel checks passed\n");
  return 0;
}
