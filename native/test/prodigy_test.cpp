// Native unit test of Prodigy's kernels (no Node): the sums and updates equal a plain
// serial re-statement of the fixed reduction order (prodigy.hpp) bit for bit, on lengths
// around the lane width and the unit and on arrays split over threads. Run by ctest.
#include "prodigy.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what, std::size_t n) {
  if (ok) return;
  ++failures;
  std::printf("FAIL %s (n = %zu)\n", what, n);
}

std::uint32_t seed = 7;
std::vector<float> values(std::size_t n, float scale) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    out[i] = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * scale;
  }
  return out;
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The reference: one element at a time, lanes and units as prodigy.hpp states them.
cimm::ProdigySums reference(const std::vector<float>& p, const std::vector<float>& g, const std::vector<float>& p0,
                            std::vector<float>& m, std::vector<float>& v, std::vector<float>& s,
                            const cimm::ProdigyAccumulateHyper& h) {
  const float b1 = static_cast<float>(h.beta1), b2 = static_cast<float>(h.beta2), b3 = static_cast<float>(h.beta3);
  const float c1 = static_cast<float>(h.moment_scale), c2 = static_cast<float>(h.variance_scale);
  const float cs = static_cast<float>(h.s_scale), wd = static_cast<float>(h.weight_decay);
  const std::size_t n = p.size(), unit = cimm::prodigy_unit(n);
  cimm::ProdigySums total{0.0, 0.0};
  for (std::size_t start = 0; start < n; start += unit) {
    volatile double dot[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    volatile double l1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (std::size_t i = start; i < n && i < start + unit; ++i) {
      volatile float gi = g[i];
      if (wd != 0.0f) {
        volatile float l2 = wd * p[i];
        gi = gi + l2;
      }
      volatile float diff = p0[i] - p[i];
      dot[(i - start) % 8] = dot[(i - start) % 8] + static_cast<double>(gi) * static_cast<double>(diff);
      volatile float a = m[i] * b1, b = c1 * gi;
      m[i] = a + b;
      volatile float c = v[i] * b2, e = c2 * gi;
      volatile float f = e * gi;
      v[i] = c + f;
      volatile float x = s[i] * b3, y = cs * gi;
      s[i] = x + y;
      l1[(i - start) % 8] = l1[(i - start) % 8] + std::fabs(static_cast<double>(s[i]));
    }
    total.dot += ((dot[0] + dot[1]) + (dot[2] + dot[3])) + ((dot[4] + dot[5]) + (dot[6] + dot[7]));
    total.l1 += ((l1[0] + l1[1]) + (l1[2] + l1[3])) + ((l1[4] + l1[5]) + (l1[6] + l1[7]));
  }
  return total;
}

}  // namespace

int main() {
  const cimm::ProdigyAccumulateHyper h{0.9, 0.999, 0.99, 0.01, 1e-4, 0.5, 0.05};
  for (std::size_t n : {0, 1, 7, 8, 9, 17, 8191, 8193, 300007, 600011}) {
    const auto p = values(n, 2), g = values(n, 2), p0 = values(n, 2);
    auto m = values(n, 0.1f), v = values(n, 0.1f), s = values(n, 0.1f);
    for (auto& x : v) x = x * x;
    auto m2 = m, v2 = v, s2 = s;
    const cimm::ProdigySums want = reference(p, g, p0, m, v, s, h);
    const cimm::ProdigySums got =
        cimm::prodigy_accumulate(p.data(), g.data(), p0.data(), m2.data(), v2.data(), s2.data(), n, h);
    check(got.dot == want.dot, "dot", n);
    check(got.l1 == want.l1, "l1", n);
    check(same(m, m2) && same(v, v2) && same(s, s2), "m, v, s", n);
    auto q = p;
    const bool ok = cimm::prodigy_update(q.data(), m2.data(), v2.data(), n, {0.1, 1e-9, -0.01});
    check(ok, "finite", n);
    bool match = true;
    for (std::size_t i = 0; i < n; ++i) {
      volatile float shrink = -0.01f * p[i];
      volatile float pi = p[i] + shrink;
      volatile float root = std::sqrt(v2[i]);
      volatile float denom = root + static_cast<float>(1e-9);
      volatile float num = -0.1f * m2[i];
      volatile float delta = num / denom;
      volatile float next = pi + delta;
      match = match && std::memcmp(const_cast<float*>(&next), &q[i], sizeof(float)) == 0;
    }
    check(match, "update", n);
  }
  if (failures == 0) std::printf("prodigy_test: all passed\n");
  return failures == 0 ? 0 : 1;
}
