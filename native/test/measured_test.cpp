// Native unit test of the measured optimizer steps (no Node): on every path (scalar, AVX2,
// the threaded driver) they equal the three-pass path — a snapshot copy, the plain step,
// update_energy — bit for bit: parameters, state, snapshot, finiteness and the three sums.
// Lengths around the SIMD width 8, the block width 16 and the split's ranges; every SGD and
// Adam option. Run by ctest; exits non-zero on any failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "balance.hpp"
#include "cpu.hpp"
#include "flow.hpp"
#include "optim.hpp"
#include "parallel.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what, std::size_t n, int variant) {
  if (ok) return;
  ++failures;
  std::printf("FAIL %s (n = %zu, variant %d)\n", what, n, variant);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool same_sums(const double* a, const double* b) { return std::memcmp(a, b, 3 * sizeof(double)) == 0; }

std::uint32_t seed = 77;
std::vector<float> values(std::size_t n, float scale) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const float u = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
    out[i] = u * scale * (i % 7 == 0 ? 1e-3f : 1.0f);
  }
  return out;
}

std::vector<float> squares(std::size_t n) {
  auto v = values(n, 1.f);
  for (auto& x : v) x *= x;
  return v;
}

// Around the SIMD width 8, the block 16, a range of the split (2¹⁵), the threaded driver (2¹⁸).
const std::size_t kLengths[] = {
    0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 1003, 32768 + 5, 100003, (std::size_t{1} << 18) + 17};

std::vector<cimm::SgdHyper> sgd_variants() {
  const cimm::SgdHyper base{0.05, 0, 0, 0, false, false, false};
  std::vector<cimm::SgdHyper> out(5, base);
  out[1].momentum = 0.9;
  out[1].first_step = true;
  out[2].momentum = 0.9;
  out[2].dampening = 0.1;
  out[2].weight_decay = 1e-2;
  out[3].momentum = 0.9;
  out[3].nesterov = true;
  out[3].maximize = true;
  out[4].weight_decay = 0.3;
  out[4].maximize = true;
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

void test_sgd() {
  for (const std::size_t n : kLengths) {
    int variant = 0;
    for (const auto& h : sgd_variants()) {
      ++variant;
      const auto g = values(n, 4);
      const auto p0 = values(n, 4);
      const auto b0 = values(n, 1);
      // the three-pass path: copy, step, update_energy
      auto p = p0;
      auto b = b0;
      const bool finite = cimm::sgd_step(p.data(), g.data(), b.data(), n, h);
      double want[3];
      cimm::update_energy({p0.data(), p.data(), g.data(), nullptr, 1, 0}, n, want);
      const bool single = n < std::size_t{1} << 15;  // one range of the split: the detail paths apply
      for (int path = 0; path < 3; ++path) {
        if (path < 2 && !single) continue;
        auto p2 = p0;
        auto b2 = b0;
        std::vector<float> q(n, std::numeric_limits<float>::quiet_NaN());
        const cimm::Measured r =
            path == 0   ? cimm::detail::sgd_measured_scalar(p2.data(), g.data(), b2.data(), q.data(), n, h)
            : path == 1 ? cimm::detail::sgd_measured_avx2(p2.data(), g.data(), b2.data(), q.data(), n, h)
                        : cimm::sgd_step_measured(p2.data(), g.data(), b2.data(), q.data(), n, h);
        const char* what[] = {"sgd measured (scalar)", "sgd measured (avx2)", "sgd measured (threaded)"};
        check(same_bits(p2, p) && same_bits(b2, b) && same_bits(q, p0), what[path], n, variant);
        check(r.finite == finite && same_sums(r.sums, want), what[path], n, variant);
      }
    }
  }
}

void test_adam() {
  const cimm::AdamMetric metric{1 / std::sqrt(1 - std::pow(0.999, 3)), 1e-8};
  for (const std::size_t n : kLengths) {
    int variant = 0;
    for (const auto& h : adam_variants()) {
      ++variant;
      const auto g = values(n, 4);
      const auto p0 = values(n, 4);
      const auto m0 = values(n, 0.5f);
      const auto v0 = squares(n);
      const auto w0 = squares(n);
      auto p = p0;
      auto m = m0;
      auto v = v0;
      auto w = w0;
      const bool finite = cimm::adam_step(p.data(), g.data(), m.data(), v.data(), w.data(), n, h);
      double want[3];
      const float* second = h.amsgrad ? w.data() : v.data();
      cimm::update_energy({p0.data(), p.data(), g.data(), second, metric.scale, metric.epsilon}, n, want);
      const bool single = n < std::size_t{1} << 15;
      for (int path = 0; path < 3; ++path) {
        if (path < 2 && !single) continue;
        auto p2 = p0;
        auto m2 = m0;
        auto v2 = v0;
        auto w2 = w0;
        std::vector<float> q(n, std::numeric_limits<float>::quiet_NaN());
        float* a[] = {p2.data(), m2.data(), v2.data(), w2.data(), q.data()};
        const cimm::Measured r =
            path == 0   ? cimm::detail::adam_measured_scalar(a[0], g.data(), a[1], a[2], a[3], a[4], n, h, metric)
            : path == 1 ? cimm::detail::adam_measured_avx2(a[0], g.data(), a[1], a[2], a[3], a[4], n, h, metric)
                        : cimm::adam_step_measured(a[0], g.data(), a[1], a[2], a[3], a[4], n, h, metric);
        const char* what[] = {"adam measured (scalar)", "adam measured (avx2)", "adam measured (threaded)"};
        check(same_bits(p2, p) && same_bits(m2, m) && same_bits(v2, v) && same_bits(w2, w) && same_bits(q, p0),
              what[path], n, variant);
        check(r.finite == finite && same_sums(r.sums, want), what[path], n, variant);
      }
    }
  }
}

// An update that overflows completes and is reported, on every path.
void test_non_finite() {
  const cimm::SgdHyper h{1e30, 0, 0, 0, false, false, true};
  for (const std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{17}, std::size_t{40}}) {
    for (int path = 0; path < 2; ++path) {
      std::vector<float> p(n, 1.0f), g(n, 0.0f), q(n, 0.0f);
      p[n - 1] = std::numeric_limits<float>::max();
      g[n - 1] = -1e10f;
      const cimm::Measured r = path == 0
                                   ? cimm::detail::sgd_measured_scalar(p.data(), g.data(), nullptr, q.data(), n, h)
                                   : cimm::detail::sgd_measured_avx2(p.data(), g.data(), nullptr, q.data(), n, h);
      check(!r.finite && std::isinf(p[n - 1]) && q[n - 1] == std::numeric_limits<float>::max(), "overflow reported", n,
            path);
    }
  }
}

}  // namespace

int main() {
  std::printf("cimm measured optimizer steps: simd path %s, %zu threads\n", cimm::simd_path(), cimm::thread_count());
  test_sgd();
  test_adam();
  test_non_finite();
  if (failures) {
    std::printf("%d failure(s)\n", failures);
    return 1;
  }
  std::printf("all passed\n");
  return 0;
}
