// Native unit test of the kernel library (no Node): the AVX2+FMA paths agree with the scalar
// ones on lengths around the SIMD width, the scalar paths agree with plain libm formulas, the
// threaded drivers give bit-identical results to a one-thread run, and the prime table is
// right. Run by ctest; exits non-zero on the first failing group.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "cpu.hpp"
#include "energy.hpp"
#include "flow.hpp"
#include "parallel.hpp"
#include "primes.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what, double got, double want, double bound) {
  if (ok) return;
  ++failures;
  std::printf("FAIL %s: got %.17g want %.17g (bound %.3g)\n", what, got, want, bound);
}

// |got − want| <= tol·scale
void near(const char* what, double got, double want, double tol, double scale) {
  const double bound = tol * scale;
  check(std::fabs(got - want) <= bound, what, got, want, bound);
}

std::uint32_t seed = 12345;
double uniform(double lo, double hi) {
  seed = seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * (seed / 4294967296.0);
}

const std::size_t kLengths[] = {0, 1, 3, 4, 5, 7, 8, 9, 17, 1000};

void test_primes() {
  const auto t = cimm::prime_table(cimm::kMaxPrimeCount);
  check(t->count() >= cimm::kMaxPrimeCount, "prime count", static_cast<double>(t->count()), 1e6, 0);
  const double first[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29};
  for (int i = 0; i < 10; ++i) check(t->p[i] == first[i], "small primes", t->p[i], first[i], 0);
  check(t->p[999999] == 15485863, "p_1e6", t->p[999999], 15485863, 0);
  check(t->sq[999999] == 15485863.0 * 15485863.0, "p_1e6 squared", t->sq[999999], 0, 0);
  check(t->inv[2] == 1.0 / 5, "1/p_3", t->inv[2], 0.2, 0);
}

// Σ_n 1/(r² + p_n²): the magnitude scale of E_loc(r).
double local_scale(double r, const cimm::PrimeTable& t, std::size_t n) {
  double s = 0;
  for (std::size_t k = 0; k < n; ++k) s += 1 / (r * r + t.sq[k]);
  return (1 + std::fabs(r)) * s;
}

void test_local_energy() {
  const auto t = cimm::prime_table(1000);
  const double pi = 3.14159265358979323846;
  for (const std::size_t len : kLengths) {
    std::vector<double> r(len), scalar(len), simd(len), driver(len);
    for (std::size_t i = 0; i < len; ++i) r[i] = i % 5 == 0 ? uniform(-1e3, 1e3) : uniform(-50, 50);
    for (const std::size_t n : {1, 7, 100, 1000}) {
      cimm::detail::local_energy_scalar(r.data(), len, t->inv.data(), t->sq.data(), n, scalar.data());
      cimm::detail::local_energy_avx2(r.data(), len, t->inv.data(), t->sq.data(), n, simd.data());
      cimm::local_energy(r.data(), len, n, driver.data());
      for (std::size_t i = 0; i < len; ++i) {
        double want = 0;
        for (std::size_t k = 0; k < n; ++k) want += std::cos(2 * pi * r[i] / t->p[k]) / (r[i] * r[i] + t->sq[k]);
        const double scale = local_scale(r[i], *t, n);
        near("local energy: avx2 vs scalar", simd[i], scalar[i], 2e-15, scale);
        near("local energy: scalar vs std::cos", scalar[i], want, 1e-14, scale);
        check(driver[i] == (cimm::has_avx2_fma() ? simd[i] : scalar[i]), "local energy: driver = its kernel", driver[i],
              simd[i], 0);
      }
    }
  }
  // a large call goes through the pool: bit-identical to one thread
  std::vector<double> r(20011), one(r.size()), many(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = i * 0.05;
  const auto kernel = cimm::has_avx2_fma() ? cimm::detail::local_energy_avx2 : cimm::detail::local_energy_scalar;
  kernel(r.data(), r.size(), t->inv.data(), t->sq.data(), 100, one.data());
  cimm::local_energy(r.data(), r.size(), 100, many.data());
  for (std::size_t i = 0; i < r.size(); ++i) check(one[i] == many[i], "local energy: threaded", many[i], one[i], 0);
  // E_loc(0) over a million primes is the prime zeta P(2) = 0.45224742004106549850…
  double e0 = 1;
  const double zero = 0;
  cimm::local_energy(&zero, 1, cimm::kMaxPrimeCount, &e0);
  near("local energy: P(2)", e0, 0.4522474200410655, 1e-7, 1);
}

double nonlocal_reference(const std::vector<float>& x, const std::vector<float>& y, const std::vector<float>& z,
                          double ell, double eps) {
  const std::size_t d = x.size();
  const std::size_t m = z.size() / d;
  double sum = 0;
  for (std::size_t j = 0; j < m; ++j) {
    double to_x = 0;
    double to_y = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const double a = static_cast<double>(x[k]) - z[j * d + k];
      const double b = static_cast<double>(z[j * d + k]) - y[k];
      to_x += a * a;
      to_y += b * b;
    }
    sum += std::exp(-std::sqrt(to_x) / ell) / std::sqrt(to_y + eps * eps);
  }
  return sum / m;
}

void test_nonlocal_energy() {
  for (const std::size_t d : kLengths) {
    if (d == 0) continue;
    for (const std::size_t m : {1, 2, 3, 4, 5, 31, 32, 33, 257}) {
      std::vector<float> x(d), y(d), z(m * d);
      for (auto& v : x) v = static_cast<float>(uniform(-1, 1));
      for (auto& v : y) v = static_cast<float>(uniform(-1, 1));
      for (auto& v : z) v = static_cast<float>(uniform(-1, 1));
      std::vector<double> xd(x.begin(), x.end()), yd(y.begin(), y.end());
      const double ell = std::sqrt(static_cast<double>(d));
      const double scalar = cimm::detail::nonlocal_sum_scalar(xd.data(), yd.data(), d, z.data(), 0, m, ell, 1e-3) / m;
      const double simd = cimm::detail::nonlocal_sum_avx2(xd.data(), yd.data(), d, z.data(), 0, m, ell, 1e-3) / m;
      const double driver = cimm::nonlocal_energy(x.data(), y.data(), d, z.data(), m, ell, 1e-3);
      const double want = nonlocal_reference(x, y, z, ell, 1e-3);
      near("nonlocal: avx2 vs scalar", simd, scalar, 1e-14, std::fabs(scalar));
      near("nonlocal: driver vs reference", driver, want, 1e-14, std::fabs(want));
      near("distance: avx2 vs scalar", cimm::detail::distance_avx2(x.data(), y.data(), d),
           cimm::detail::distance_scalar(x.data(), y.data(), d), 1e-14,
           cimm::detail::distance_scalar(x.data(), y.data(), d));
    }
  }
  // a non-finite coordinate anywhere makes the result NaN, on both paths
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::size_t d = 5;
    const std::size_t m = 70;
    std::vector<float> x(d, 0.f), z(m * d, 0.5f);
    std::vector<double> xd(d, 0.0);
    z[m * d - 2] = bad;
    check(std::isnan(cimm::nonlocal_energy(x.data(), x.data(), d, z.data(), m, 1, 0.1)), "nonlocal: NaN", 0, 0, 0);
    check(std::isnan(cimm::detail::nonlocal_sum_scalar(xd.data(), xd.data(), d, z.data(), 64, m, 1, 0.1)),
          "nonlocal scalar: NaN", 0, 0, 0);
    check(std::isnan(cimm::detail::nonlocal_sum_avx2(xd.data(), xd.data(), d, z.data(), 64, m, 1, 0.1)),
          "nonlocal avx2: NaN", 0, 0, 0);
  }
  // a large call goes through the pool: bit-identical to the chunked one-thread sum
  const std::size_t d = 256;
  const std::size_t m = 1000;
  std::vector<float> x(d), y(d), z(m * d);
  for (auto& v : x) v = static_cast<float>(uniform(-1, 1));
  for (auto& v : y) v = static_cast<float>(uniform(-1, 1));
  for (auto& v : z) v = static_cast<float>(uniform(-1, 1));
  std::vector<double> xd(x.begin(), x.end()), yd(y.begin(), y.end());
  const auto kernel = cimm::has_avx2_fma() ? cimm::detail::nonlocal_sum_avx2 : cimm::detail::nonlocal_sum_scalar;
  double total = 0;
  for (std::size_t begin = 0; begin < m; begin += cimm::kNonlocalChunk) {
    total += kernel(xd.data(), yd.data(), d, z.data(), begin, std::min(m, begin + cimm::kNonlocalChunk), 16, 1e-3);
  }
  const double many = cimm::nonlocal_energy(x.data(), y.data(), d, z.data(), m, 16, 1e-3);
  check(many == total / m, "nonlocal: threaded", many, total / m, 0);
}

void test_exp() {
  std::vector<double> v = {0,   -0.0,    1e-300, -1e-10, 0.3,  -0.35,  0.35,
                           1,   -1,      -2.5,   10,     -50,  -700.5, -708,
                           708, -708.01, 708.01, -745,   -800, 800,    -std::numeric_limits<double>::infinity()};
  for (int i = 0; i < 2000; ++i) v.push_back(uniform(-710, 710));
  while (v.size() % 4) v.push_back(0);
  for (std::size_t i = 0; i < v.size(); i += 4) {
    double out[4];
    cimm::detail::exp4_avx2(&v[i], out);
    for (int k = 0; k < 4; ++k) {
      const double want = std::exp(v[i + k]);
      if (std::isinf(want) || want == 0) {
        check(out[k] == want, "exp4: overflow/underflow", out[k], want, 0);
      } else {
        near("exp4 vs std::exp", out[k], want, 4.5e-16, want);
      }
    }
  }
  double nan4[4] = {std::numeric_limits<double>::quiet_NaN(), 0, 0, 0};
  double out[4];
  cimm::detail::exp4_avx2(nan4, out);
  check(std::isnan(out[0]) && out[1] == 1, "exp4: NaN lane", out[0], 0, 0);
}

void test_parallel_for() {
  std::vector<int> hits(1000, 0);
  cimm::parallel_for(hits.size(), [&](std::size_t task) { hits[task] += 1; });
  for (const int h : hits) check(h == 1, "parallel_for: every task once", h, 1, 0);
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::fabs(x));
  return m;
}

void test_energy_flow() {
  const cimm::Boundary boundaries[] = {cimm::Boundary::kPeriodic, cimm::Boundary::kZeroFlux};
  const std::size_t sizes[][2] = {{1, 1}, {1, 7}, {5, 3}, {6, 2}, {7, 7}, {9, 4}, {10, 3}, {33, 17}, {64, 5}};
  for (const auto boundary : boundaries) {
    for (const auto& size : sizes) {
      const std::size_t nx = size[0];
      const std::size_t ny = size[1];
      const std::size_t n = nx * ny;
      std::vector<double> e(n), p(n), s(n), a(n), b(n), c(n), la(n), lb(n);
      for (std::size_t i = 0; i < n; ++i) {
        e[i] = uniform(0, 2);
        p[i] = uniform(-1, 1);
        s[i] = uniform(-1, 1);
      }
      const double dt = cimm::energy_flow_max_step(p.data(), nx, ny, 0.5, 0.25, 0.35, boundary);
      const cimm::FlowParams params{0.5, dt, 0.25, 0.35, 0.7, boundary};
      cimm::detail::energy_flow_step_scalar(e.data(), p.data(), s.data(), nx, ny, params, a.data());
      cimm::detail::energy_flow_step_avx2(e.data(), p.data(), s.data(), nx, ny, params, b.data());
      cimm::energy_flow_step(e.data(), p.data(), s.data(), nx, ny, params, c.data());
      // 1e-14·(max|E| + dt·|κ|·max|S|): the paths differ by fused roundings only
      const double scale = max_abs(e) + dt * 0.7 * max_abs(s);
      for (std::size_t i = 0; i < n; ++i) {
        near("energy flow: avx2 vs scalar", b[i], a[i], 1e-14, scale);
        check(c[i] == (cimm::has_avx2_fma() ? b[i] : a[i]), "energy flow: driver = its kernel", c[i], b[i], 0);
      }
      cimm::detail::laplacian_scalar(e.data(), nx, ny, 0.5, boundary, la.data());
      cimm::detail::laplacian_avx2(e.data(), nx, ny, 0.5, boundary, lb.data());
      for (std::size_t i = 0; i < n; ++i) near("laplacian: avx2 vs scalar", lb[i], la[i], 1e-14, 16 * max_abs(e));
    }
  }
  // large grids go through the pool, bit-identical to one thread; Σ E is conserved without a source
  const std::size_t nx = 301;
  const std::size_t ny = 257;
  const std::size_t n = nx * ny;
  std::vector<double> e(n), p(n), zero(n, 0.0), one(n), many(n);
  for (std::size_t i = 0; i < n; ++i) {
    e[i] = uniform(0, 1);
    p[i] = uniform(-2, 2);
  }
  for (const auto boundary : boundaries) {
    const double dt = cimm::energy_flow_max_step(p.data(), nx, ny, 1, 0.25, 0.35, boundary);
    const cimm::FlowParams params{1, dt, 0.25, 0.35, 1, boundary};
    const auto kernel =
        cimm::has_avx2_fma() ? cimm::detail::energy_flow_step_avx2 : cimm::detail::energy_flow_step_scalar;
    kernel(e.data(), p.data(), zero.data(), nx, ny, params, one.data());
    cimm::energy_flow_step(e.data(), p.data(), zero.data(), nx, ny, params, many.data());
    double before = 0;
    double after = 0;
    double lowest = 1;
    for (std::size_t i = 0; i < n; ++i) {
      check(one[i] == many[i], "energy flow: threaded", many[i], one[i], 0);
      before += e[i];
      after += many[i];
      lowest = std::min(lowest, many[i]);
    }
    near("energy flow: conserves the total", after, before, 1e-13, before);
    check(lowest >= 0, "energy flow: positivity at the limit", lowest, 0, 0);
  }
  // the limit without drift is h²/(4β); with β = 0 and Ψ flat nothing limits the step
  check(cimm::energy_flow_max_step(zero.data(), 4, 3, 0.5, 0.25, 1, cimm::Boundary::kPeriodic) == 0.25,
        "energy flow: diffusion limit", 0, 0.25, 0);
  check(std::isinf(cimm::energy_flow_max_step(zero.data(), 4, 3, 0.5, 0, 1, cimm::Boundary::kZeroFlux)),
        "energy flow: no limit", 0, 0, 0);
}

// Σ with Neumaier's compensation: the "exact" sum the reductions are held to.
double exact_sum(const std::vector<double>& v) {
  double s = 0;
  double c = 0;
  for (const double x : v) {
    const double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  return s + c;
}

void test_reductions() {
  const double eps = std::numeric_limits<double>::epsilon();
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15}, std::size_t{16},
                              std::size_t{17}, std::size_t{33}, std::size_t{1000}, std::size_t{300001}}) {
    std::vector<float> x(n);
    std::vector<double> g(n), sq(n), ab(n);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = static_cast<float>(uniform(-2, 2));
      g[i] = x[i];
      sq[i] = g[i] * g[i];
      ab[i] = std::fabs(g[i]);
    }
    // a sum of n non-negative terms in any order is within (n − 1)·ε of the exact sum
    const double tol = static_cast<double>(n > 0 ? n : 1) * eps;
    const double squares = exact_sum(sq);
    near("l2 norm: scalar", cimm::detail::sum_squares_scalar(x.data(), n), squares, tol, squares);
    near("l2 norm: avx2", cimm::detail::sum_squares_avx2(x.data(), n), squares, tol, squares);
    const double norm = cimm::l2_norm(x.data(), n);
    near("l2 norm: driver", norm * norm, squares, tol + 4.5e-16, squares);
    double sums[3];
    cimm::grid_sums(g.data(), n, sums);
    const double abs_sum = exact_sum(ab);
    near("grid sums: Σx", sums[0], exact_sum(g), tol, abs_sum);
    near("grid sums: Σ|x|", sums[1], abs_sum, tol, abs_sum);
    near("grid sums: Σx²", sums[2], squares, tol, squares);
    // scaling: one rounding of the double product, on every path
    for (const double s : {0.5, -1.0, 0.1, 1.0 / 3}) {
      std::vector<float> a(x), b(x), c(x);
      cimm::detail::scale_scalar(a.data(), n, s);
      cimm::detail::scale_avx2(b.data(), n, s);
      cimm::scale_in_place(c.data(), n, s);
      for (std::size_t i = 0; i < n; ++i) {
        const float want = static_cast<float>(static_cast<double>(x[i]) * s);
        check(a[i] == want && b[i] == want && c[i] == want, "scale: bit for bit", c[i], want, 0);
      }
    }
  }
  // the split depends only on the length: the pooled sum equals the ranges added in order
  std::vector<float> x(1000003);
  for (auto& v : x) v = static_cast<float>(uniform(-1, 1));
  std::size_t chunk = 0;
  std::size_t units = 0;
  cimm::detail::sum_split(x.size(), &chunk, &units);
  check(units >= 1 && units <= cimm::kMaxSumUnits && chunk % 16 == 0 && chunk * units >= x.size(), "sum split",
        static_cast<double>(units), 0, 0);
  const auto kernel = cimm::has_avx2_fma() ? cimm::detail::sum_squares_avx2 : cimm::detail::sum_squares_scalar;
  double total = 0;
  for (std::size_t u = 0; u < units; ++u) {
    const std::size_t begin = u * chunk;
    total += kernel(x.data() + begin, std::min(x.size(), begin + chunk) - begin);
  }
  check(cimm::l2_norm(x.data(), x.size()) == std::sqrt(total), "l2 norm: threaded", 0, 0, 0);
  // non-finite entries: counted and zeroed, finite ones untouched
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::size_t n : {std::size_t{37}, std::size_t{1000001}}) {
    std::vector<float> y(n);
    for (auto& v : y) v = static_cast<float>(uniform(-1, 1));
    std::size_t bad = 0;
    for (std::size_t i = 3; i < n; i += 7) {
      y[i] = (bad % 3 == 0) ? nan : (bad % 3 == 1 ? inf : -inf);
      ++bad;
    }
    std::vector<float> a(y), b(y);
    check(!std::isfinite(cimm::l2_norm(y.data(), n)), "l2 norm: non-finite", 0, 0, 0);
    check(cimm::detail::zero_non_finite_scalar(a.data(), n) == bad, "zero non-finite: scalar count", 0, 0, 0);
    check(cimm::zero_non_finite(b.data(), n) == bad, "zero non-finite: driver count", 0, 0, 0);
    for (std::size_t i = 0; i < n; ++i) {
      check(a[i] == b[i] && std::isfinite(b[i]), "zero non-finite: values", b[i], a[i], 0);
      if (std::isfinite(y[i])) check(b[i] == y[i], "zero non-finite: finite untouched", b[i], y[i], 0);
    }
  }
}

}  // namespace

int main() {
  std::printf("cimm native kernels: simd path %s, %zu threads\n", cimm::simd_path(), cimm::thread_count());
  test_primes();
  test_local_energy();
  test_nonlocal_energy();
  test_exp();
  test_energy_flow();
  test_reductions();
  test_parallel_for();
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
