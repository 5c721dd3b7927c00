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

#include "checked.hpp"
#include "cpu.hpp"
#include "elementwise.hpp"
#include "energy.hpp"
#include "flow.hpp"
#include "fractal.hpp"
#include "linalg.hpp"
#include "optim.hpp"
#include "parallel.hpp"
#include "primes.hpp"
#include "qdt.hpp"

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

// Eq. 8: every path is bit-exact with JS's rule (double arithmetic, one rounding to float),
// including inputs where a float FMA would round differently, with and without streaming
// stores, in place, and through the threaded driver.
void test_fractal_step() {
  const double offsets[] = {0.2252, 6.4e-8, 0.5};
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17},
                              std::size_t{1000}, cimm::kElementwiseParallel + 5, cimm::kStreamMin + 3}) {
    std::vector<float> z(n), a(n), b(n), c(n), in_place(n);
    for (auto& v : z) v = static_cast<float>(uniform(-2, 2));
    const float specials[] = {32776.0f, 67125250.0f, 4195328.0f, -0.0f, 3e19f};
    for (std::size_t i = 0; i < n && i < 5; ++i) z[i] = specials[i];
    for (const double offset : offsets) {
      const double cf = static_cast<float>(offset);
      cimm::detail::fractal_step_scalar(z.data(), cf, a.data(), n);
      cimm::detail::fractal_step_avx2(z.data(), cf, b.data(), n, n > 40);
      cimm::fractal_step(z.data(), offset, c.data(), n);
      in_place = z;
      cimm::fractal_step(in_place.data(), offset, in_place.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const float want = static_cast<float>(static_cast<double>(z[i]) * z[i] + cf);
        check(a[i] == want, "fractal step: scalar = JS rule", a[i], want, 0);
        check(b[i] == want, "fractal step: avx2 = JS rule", b[i], want, 0);
        check(c[i] == want, "fractal step: driver = JS rule", c[i], want, 0);
        check(in_place[i] == want, "fractal step: in place", in_place[i], want, 0);
      }
    }
  }
}

// The GEMM: the AVX2 and scalar micro-kernels and the threaded driver against a double
// reference, |Δ| <= 2k·2^-24·(|α||A||B| + |βC|), every transpose.
void test_matmul() {
  const std::size_t shapes[][3] = {{1, 1, 1}, {5, 17, 3}, {7, 33, 300}, {73, 31, 257}, {200, 180, 170}};
  for (const auto& s : shapes) {
    const std::size_t m = s[0], n = s[1], k = s[2];
    std::vector<float> a(m * k), b(k * n), c0(m * n);
    for (auto& v : a) v = static_cast<float>(uniform(-1, 1));
    for (auto& v : b) v = static_cast<float>(uniform(-1, 1));
    for (auto& v : c0) v = static_cast<float>(uniform(-1, 1));
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const float alpha = t == 3 ? -0.5f : 1.0f;
      const float beta = t >= 2 ? 0.25f : 0.0f;
      std::vector<float> c1 = c0, c2 = c0, c3 = c0;
      cimm::detail::matmul_scalar(ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c1.data());
      cimm::detail::matmul_avx2(ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c2.data());
      cimm::matmul(ta, tb, m, n, k, alpha, a.data(), b.data(), beta, c3.data());
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          double want = 0, scale = 0;
          for (std::size_t p = 0; p < k; ++p) {
            const double x = ta ? a[p * m + i] : a[i * k + p];
            const double y = tb ? b[j * k + p] : b[p * n + j];
            want += x * y;
            scale += std::fabs(x * y);
          }
          const double prior = beta == 0 ? 0 : beta * static_cast<double>(c0[i * n + j]);
          want = alpha * want + prior;
          scale = std::fabs(alpha) * scale + std::fabs(prior);
          const double tol = 2.0 * static_cast<double>(k) * std::ldexp(1.0, -24);
          near("matmul: scalar vs double", c1[i * n + j], want, tol, scale);
          near("matmul: avx2 vs double", c2[i * n + j], want, tol, scale);
          near("matmul: driver vs double", c3[i * n + j], want, tol, scale);
        }
      }
    }
  }
}

// The stoppable variants the async entry points run: with a flag never raised they are the
// sync kernels bit for bit; with a raised flag they stop before their first unit.
void test_stoppable() {
  const cimm::StopFlag never(false);
  const cimm::StopFlag raised(true);
  const std::size_t m = 37, n = 29, k = 600;  // three KC slices of k
  std::vector<float> a(m * k), b(k * n), c0(m * n);
  for (auto& v : a) v = static_cast<float>(uniform(-1, 1));
  for (auto& v : b) v = static_cast<float>(uniform(-1, 1));
  for (auto& v : c0) v = static_cast<float>(uniform(-1, 1));
  std::vector<float> c1 = c0, c2 = c0, c3 = c0;
  cimm::matmul(true, false, m, n, k, 0.5f, a.data(), b.data(), 0.25f, c1.data());
  const bool done = cimm::matmul_until(true, false, m, n, k, 0.5f, a.data(), b.data(), 0.25f, c2.data(), &never);
  check(done && c1 == c2, "matmul_until: never raised is matmul", done, 1, 0);
  const bool stopped = !cimm::matmul_until(true, false, m, n, k, 0.5f, a.data(), b.data(), 0.25f, c3.data(), &raised);
  check(stopped, "matmul_until: a raised flag stops", stopped, 1, 0);

  std::vector<double> r(70001), e1(r.size()), e2(r.size()), e3(r.size(), -1.0);
  for (auto& v : r) v = uniform(0, 100);
  cimm::local_energy(r.data(), r.size(), 40, e1.data());
  const bool le = cimm::local_energy_until(r.data(), r.size(), 40, e2.data(), never);
  check(le && e1 == e2, "local_energy_until: never raised is local_energy", le, 1, 0);
  const bool le_stopped = !cimm::local_energy_until(r.data(), r.size(), 40, e3.data(), raised);
  check(le_stopped && e3[0] == -1.0, "local_energy_until: a raised flag stops before a unit", e3[0], -1, 0);

  const std::size_t nx = 19, ny = 11, cells = nx * ny;
  std::vector<double> e(cells), psi(cells), src(cells), grid_a(cells), grid_b(cells), step_in(cells), step_out(cells);
  for (std::size_t i = 0; i < cells; ++i) {
    e[i] = uniform(0, 1);
    psi[i] = uniform(-1, 1);
    src[i] = uniform(-0.5, 0.5);
  }
  const double kappas[] = {0.3, -0.7, 0.1, 0.9};
  cimm::FlowParams params{0.5, 0.05, 0.25, 0.35, 0, cimm::Boundary::kPeriodic};
  grid_a = e;
  double* current = grid_a.data();
  double* previous = grid_b.data();
  const bool ran = cimm::energy_flow_run(current, previous, psi.data(), src.data(), nx, ny, params, kappas, 4, never);
  step_in = e;
  for (const double kappa : kappas) {
    params.kappa = kappa;
    cimm::energy_flow_step(step_in.data(), psi.data(), src.data(), nx, ny, params, step_out.data());
    step_in.swap(step_out);
  }
  check(ran && std::equal(step_in.begin(), step_in.end(), current) &&
            std::equal(step_out.begin(), step_out.end(), previous),
        "energy_flow_run: its steps, one call at a time", ran, 1, 0);
  double* again = grid_a.data();
  double* other = grid_b.data();
  check(!cimm::energy_flow_run(again, other, psi.data(), src.data(), nx, ny, params, kappas, 4, raised) &&
            again == grid_a.data(),
        "energy_flow_run: a raised flag stops before a step", 0, 1, 0);
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

// ---- QDT/QBE kernels (design eqs. 1, 2, 6, 15) ----

void test_vmath() {
  std::vector<double> v = {0, -0.0, 1, -1, 709.78, 709.79, -708.5, -744.4, -745.2, 800, -800, 1e-300};
  for (int i = 0; i < 4000; ++i) v.push_back(uniform(-745, 709.7));
  while (v.size() % 4) v.push_back(0);
  for (std::size_t i = 0; i < v.size(); i += 4) {
    double out[4];
    cimm::detail::exp4_vmath(&v[i], out);
    for (int k = 0; k < 4; ++k) {
      const double want = std::exp(v[i + k]);
      if (std::isinf(want)) {
        check(out[k] == want, "vmath exp: overflow", out[k], want, 0);
      } else if (want < 2.2250738585072014e-308) {
        near("vmath exp: subnormal results within 2 of their ulps", out[k], want, 2 * 4.9406564584124654e-324, 1);
      } else {
        near("vmath exp vs std::exp", out[k], want, 4.5e-16, want);
      }
    }
  }
  std::vector<double> x;
  for (int i = 0; i < 4000; ++i) x.push_back(std::exp(uniform(-700, 700)));
  for (double s : {5e-324, 2.2250738585072014e-308, 1.0, 0.999, 1.0001}) x.push_back(s);
  while (x.size() % 4) x.push_back(1);
  for (std::size_t i = 0; i < x.size(); i += 4) {
    double out[4];
    cimm::detail::ln4_vmath(&x[i], out);
    for (int k = 0; k < 4; ++k)
      near("vmath ln vs std::log", out[k], std::log(x[i + k]), 4.5e-16, std::fabs(std::log(x[i + k])));
  }
  const double special[4] = {0, -1, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()};
  double out[4];
  cimm::detail::ln4_vmath(special, out);
  check(out[0] == -std::numeric_limits<double>::infinity() && std::isnan(out[1]) && std::isinf(out[2]) &&
            std::isnan(out[3]),
        "vmath ln: specials", out[0], 0, 0);
  std::vector<double> a;
  for (int i = 0; i < 4000; ++i) a.push_back(uniform(-1e6, 1e6));
  for (int i = 0; i < 400; ++i) a.push_back(uniform(-1e13, 1e13));  // past 2^40: libm lanes
  for (double k : {1.0, 2.0, 3.0, 100.0, 12345.0}) a.push_back(k * 1.5707963267948966);
  while (a.size() % 4) a.push_back(0);
  for (std::size_t i = 0; i < a.size(); i += 4) {
    double sv[4];
    double cv[4];
    cimm::detail::sin_cos4_vmath(&a[i], sv, cv);
    for (int k = 0; k < 4; ++k) {
      near("vmath sin vs std::sin", sv[k], std::sin(a[i + k]), 2.3e-16, 1);
      near("vmath cos vs std::cos", cv[k], std::cos(a[i + k]), 2.3e-16, 1);
    }
  }
}

// (α, β, γ, Λ) and (t, Ψ(t)) from the closed form in 60-digit arithmetic (mpmath).
struct CouplingReference {
  cimm::CouplingParams p;
  double t;
  double psi;
};

double coupling_scale(double t, const cimm::CouplingParams& p) {
  const double e = std::exp(-p.beta * t);
  const double h = std::hypot(p.beta, p.gamma);
  const double jb = h * std::fabs(t) < 1 ? std::fabs(t) * std::max(1.0, e) : (std::fabs(p.gamma) / h + e) / h;
  return std::fabs(p.alpha) * e + std::fabs(p.lambda_cosmo) * jb;
}

void test_coupling() {
  const cimm::CouplingParams seed_p{0.45, 0.25, 0.35, 1.2};
  const CouplingReference refs[] = {
      {seed_p, 0.0, 0.45},
      {seed_p, 1e-9, 0.4499999998875},
      {seed_p, 0.5, 0.4392604339849633},
      {seed_p, 2.3, 0.9025798870906128},
      {seed_p, 100.0, 2.2702702703027584},
      {seed_p, -3.0, 3.330714683594622},
      {{0.45, 0.0, 0.35, 1.2}, 1000.0, 4.273393410135516},
      {{0.45, 0.0, 0.0, 1.2}, 1e5, 0.45},
      {{0.0, 1e-8, 1e-8, 1.0}, 1e5, 49.96667499999945},
      {{0.0, 1e-8, 1e-8, 1.0}, 0.001, 4.999999999966667e-15},
      {{0.0, -0.1, 2.0, 1.0}, 100.0, -5831.324344878949},
      {{1.0, 3.0, 1e-6, -2.0}, 10.0, -2.222221286453232e-07},
  };
  for (const auto& r : refs) {
    double scalar = 0;
    double simd = 0;
    cimm::detail::coupling_scalar(&r.t, 1, r.p, &scalar);
    cimm::detail::coupling_avx2(&r.t, 1, r.p, &simd);
    const double cond = 1 + std::fabs(r.p.beta * r.t) + std::fabs(r.p.gamma * r.t);
    const double scale = std::max(coupling_scale(r.t, r.p), std::fabs(r.psi));
    near("coupling scalar vs 60-digit reference", scalar, r.psi, 3e-15 * cond, scale);
    near("coupling avx2 vs 60-digit reference", simd, r.psi, 3e-15 * cond, scale);
  }
  const cimm::CouplingParams params[] = {seed_p, {0.45, 0, 0.35, 1.2}, {1, -0.05, 3, -0.7}, {0.3, 0, 0, 2}};
  for (const auto& p : params) {
    for (const std::size_t n : kLengths) {
      std::vector<double> t(n);
      for (auto& v : t) v = uniform(-10, 50);
      std::vector<double> a(n);
      std::vector<double> b(n);
      cimm::detail::coupling_scalar(t.data(), n, p, a.data());
      cimm::detail::coupling_avx2(t.data(), n, p, b.data());
      for (std::size_t i = 0; i < n; ++i) near("coupling: avx2 vs scalar", b[i], a[i], 1e-14, coupling_scale(t[i], p));
    }
  }
  // threaded = one thread, bit for bit; in place = out of place
  std::vector<double> t(50003);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<double>(i) * 1e-3 - 5;
  std::vector<double> one(t.size());
  std::vector<double> many(t.size());
  (cimm::has_avx2_fma() ? cimm::detail::coupling_avx2 : cimm::detail::coupling_scalar)(t.data(), t.size(), seed_p,
                                                                                       one.data());
  cimm::coupling(t.data(), t.size(), seed_p, many.data());
  std::vector<double> in_place = t;
  cimm::coupling(in_place.data(), in_place.size(), seed_p, in_place.data());
  for (std::size_t i = 0; i < t.size(); ++i) {
    check(one[i] == many[i] && many[i] == in_place[i], "coupling: threaded and in place", many[i], one[i], 0);
  }
}

void test_scale_transition() {
  const double t[] = {1e4, -1e4, 0, -0.0, 40, -750, 1e308, -1e308};
  const double want[] = {1, 0, 0.5, 0.5, 1, 0, 1, 0};
  double a[8];
  double b[8];
  cimm::detail::scale_transition_scalar(t, 8, 1, 0, a);
  cimm::detail::scale_transition_avx2(t, 8, 1, 0, b);
  for (int i = 0; i < 8; ++i)
    check(a[i] == want[i] && b[i] == want[i], "scale transition: exact extremes", b[i], want[i], 0);
  cimm::scale_transition(t, 8, 0, 3, a);
  for (int i = 0; i < 8; ++i) check(a[i] == 0.5, "scale transition: λ = 0", a[i], 0.5, 0);
  std::vector<double> u(4001);
  std::vector<double> neg(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    u[i] = (static_cast<double>(i) - 2000) * 0.37;
    neg[i] = -u[i];
  }
  std::vector<double> s(u.size());
  std::vector<double> r(u.size());
  cimm::scale_transition(u.data(), u.size(), 1, 0, s.data());
  cimm::scale_transition(neg.data(), neg.size(), 1, 0, r.data());
  for (std::size_t i = 0; i < u.size(); ++i) {
    near("scale transition: S(u) + S(−u) = 1", s[i] + r[i], 1, 2.3e-16, 1);
    const double e = std::exp(-std::fabs(u[i]));  // (1/(1 + e^{−u}) itself underflows wrongly for u < −709)
    near("scale transition vs the logistic", s[i], (u[i] < 0 ? e : 1) / (1 + e), 4 * 2.220446049250313e-16, s[i]);
  }
}

void test_entropy() {
  const double one[] = {1};
  const double two[] = {1, 1};
  const double third[] = {2, 1, 1};
  const double tiny[] = {3e-323, 0};
  check(cimm::shannon_entropy(one, 1) == 0, "entropy: one mass", 0, 0, 0);
  near("entropy: two equal masses", cimm::shannon_entropy(two, 2), 1, 1e-15, 1);
  near("entropy: (½, ¼, ¼)", cimm::shannon_entropy(third, 3), 1.5, 1e-15, 1);
  check(cimm::shannon_entropy(tiny, 2) == 0, "entropy: a subnormal mass", 0, 0, 0);
  const double bad[][3] = {{1, -1, 1},
                           {1, std::numeric_limits<double>::quiet_NaN(), 1},
                           {0, 0, 0},
                           {1, std::numeric_limits<double>::infinity(), 1}};
  for (const auto& p : bad) check(std::isnan(cimm::shannon_entropy(p, 3)), "entropy: NaN for invalid masses", 0, 0, 0);
  check(std::isnan(cimm::shannon_entropy(nullptr, 0)), "entropy: empty", 0, 0, 0);
  for (const std::size_t n : kLengths) {
    std::vector<double> p(n);
    for (auto& v : p) v = uniform(0, 10);
    double ta = 0, sa = 0, tb = 0, sb = 0;
    cimm::detail::entropy_sums_scalar(p.data(), n, 1, &ta, &sa);
    cimm::detail::entropy_sums_avx2(p.data(), n, 1, &tb, &sb);
    near("entropy sums: avx2 vs scalar (Σp)", tb, ta, 1e-14, std::max(ta, 1.0));
    near("entropy sums: avx2 vs scalar (Σ p ln p)", sb, sa, 1e-14, std::max(std::fabs(sa), 1.0) * 3);
  }
  std::vector<double> p(300001);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<double>(i % 97) + 0.5;
  const double h = cimm::shannon_entropy(p.data(), p.size());
  check(h == cimm::shannon_entropy(p.data(), p.size()), "entropy: threaded is deterministic", h, h, 0);
  double total = 0, s = 0;
  cimm::detail::entropy_sums_scalar(p.data(), p.size(), 1, &total, &s);
  // (two summation orders over 3e5 terms: about √n·ε·|ln T| apart)
  near("entropy: threaded vs one pass", h, (std::log(total) - s / total) / std::log(2.0), 1e-11, 1);
}

void test_eigen() {
  // [[2, 1 − i], [1 + i, 3]]: 1 and 4; Pauli Y: ±1; diagonal; zero
  const double re2[] = {2, 1, 1, 3};
  const double im2[] = {0, -1, 1, 0};
  double ev[3];
  for (const bool simd : {false, true}) {
    cimm::detail::hermitian_eigenvalues_path(re2, im2, 2, ev, simd);
    near("eigen: 2×2 by hand", ev[0], 1, 1e-15, 4);
    near("eigen: 2×2 by hand", ev[1], 4, 1e-15, 4);
    const double re3[] = {3, 0, 0, 0, -1, 0, 0, 0, 2};
    const double im3[9] = {};
    cimm::detail::hermitian_eigenvalues_path(re3, im3, 3, ev, simd);
    check(ev[0] == -1 && ev[1] == 2 && ev[2] == 3, "eigen: diagonal, sorted", ev[0], -1, 0);
  }
  // tridiag(−1, 2, −1): 2 − 2cos(kπ/(n+1))
  const std::size_t n = 50;
  std::vector<double> d(n, 2);
  std::vector<double> e2(n, 1);
  e2[n - 1] = 0;
  check(cimm::detail::tridiagonal_eigenvalues(d.data(), e2.data(), n), "rational QL converges", 0, 0, 0);
  for (std::size_t k = 0; k < n; ++k) {
    near("rational QL: Toeplitz spectrum", d[k], 2 - 2 * std::cos((k + 1) * 3.141592653589793 / (n + 1)), 1e-14, 8);
  }
  // a random Hermitian matrix: the two paths agree, the trace is kept, scaling by 2^600 is exact
  for (const std::size_t m : {1, 2, 5, 16, 17, 64}) {
    std::vector<double> re(m * m);
    std::vector<double> im(m * m);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j <= i; ++j) {
        const double x = uniform(-1, 1);
        const double y = i == j ? 0 : uniform(-1, 1);
        re[i * m + j] = re[j * m + i] = x;
        im[i * m + j] = y;
        im[j * m + i] = -y;
      }
    }
    std::vector<double> a(m);
    std::vector<double> b(m);
    cimm::detail::hermitian_eigenvalues_path(re.data(), im.data(), m, a.data(), false);
    cimm::detail::hermitian_eigenvalues_path(re.data(), im.data(), m, b.data(), true);
    double trace = 0;
    double sum = 0;
    for (std::size_t i = 0; i < m; ++i) {
      trace += re[i * m + i];
      sum += b[i];
      near("eigen: avx2 vs scalar", b[i], a[i], 1e-13 * static_cast<double>(m), 1);
      if (i > 0) check(b[i] >= b[i - 1], "eigen: ascending", b[i], b[i - 1], 0);
    }
    near("eigen: Σλ = trace", sum, trace, 1e-13 * static_cast<double>(m), 1);
    for (auto& v : re) v = std::ldexp(v, 600);
    for (auto& v : im) v = std::ldexp(v, 600);
    std::vector<double> c(m);
    cimm::detail::hermitian_eigenvalues_path(re.data(), im.data(), m, c.data(), true);
    for (std::size_t i = 0; i < m; ++i) check(c[i] == std::ldexp(b[i], 600), "eigen: exact scaling", c[i], b[i], 0);
  }
  const double nan_re[] = {1, std::numeric_limits<double>::quiet_NaN(), 0, 1};
  const double zero_im[4] = {};
  cimm::hermitian_eigenvalues(nan_re, zero_im, 2, ev);
  check(std::isnan(ev[0]) && std::isnan(ev[1]), "eigen: NaN input", ev[0], 0, 0);
}

// Sizes whose products wrap (issue 15): checked_mul says so, and the kernels that compute a
// product of sizes touch no memory for them (null arrays would crash at the first access).
void test_checked_sizes() {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  std::size_t out = 7;
  check(cimm::checked_mul(3, 5, &out) && out == 15, "checked_mul: 3·5", static_cast<double>(out), 15, 0);
  check(cimm::checked_mul(kMax, 1, &out) && out == kMax, "checked_mul: max·1", 0, 0, 0);
  check(cimm::checked_mul(0, kMax, &out) && out == 0, "checked_mul: 0·max", 0, 0, 0);
  out = 7;
  check(!cimm::checked_mul(kMax / 2 + 1, 2, &out) && out == 7, "checked_mul: (max/2 + 1)·2 wraps", 0, 0, 0);
  check(!cimm::product_fits(kMax / 4 + 1, 1, sizeof(float)), "product_fits: bytes wrap", 0, 0, 0);
  check(cimm::product_fits(kMax / 8, 1, sizeof(double)), "product_fits: bytes fit", 0, 0, 0);
  // nx = ny = 2^32 (the fuzz run's case): nx·ny wraps to 0 on a 64-bit size_t
  const std::size_t big = std::size_t{1} << (sizeof(std::size_t) * 4);
  const cimm::FlowParams params{1, 0.1, 0.25, 0.35, 0.5, cimm::Boundary::kPeriodic};
  cimm::laplacian(nullptr, big, big, 1, cimm::Boundary::kPeriodic, nullptr);
  cimm::energy_flow_step(nullptr, nullptr, nullptr, big, big, params, nullptr);
  const double dt = cimm::energy_flow_max_step(nullptr, big, big, 1, 0.25, 0.35, cimm::Boundary::kZeroFlux);
  check(std::isnan(dt), "energy_flow_max_step: nx·ny wraps → NaN", dt, 0, 0);
  double* current = nullptr;
  double* previous = nullptr;
  const double kappa = 0;
  const cimm::StopFlag never{false};
  check(!cimm::energy_flow_run(current, previous, nullptr, nullptr, big, big, params, &kappa, 1, never),
        "energy_flow_run: nx·ny wraps → false", 0, 0, 0);
  // m·n, m·k, k·n: each product's wrap stops the GEMM before it writes C
  check(!cimm::matmul_until(false, false, big, big, 1, 1.0f, nullptr, nullptr, 0.0f, nullptr, nullptr),
        "matmul_until: m·n wraps → false", 0, 0, 0);
  cimm::matmul(false, false, 1, big, big, 1.0f, nullptr, nullptr, 0.0f, nullptr);
  cimm::matmul(true, true, big, 1, big, 1.0, static_cast<const double*>(nullptr), nullptr, 0.0,
               static_cast<double*>(nullptr));
  const double e = cimm::nonlocal_energy(nullptr, nullptr, big, nullptr, big, 1, 0.1);
  check(std::isnan(e), "nonlocal_energy: m·d wraps → NaN", e, 0, 0);
}

}  // namespace

int main() {
  std::printf("cimm native kernels: simd path %s, %zu threads\n", cimm::simd_path(), cimm::thread_count());
  test_primes();
  test_local_energy();
  test_nonlocal_energy();
  test_exp();
  test_fractal_step();
  test_matmul();
  test_energy_flow();
  test_reductions();
  test_vmath();
  test_coupling();
  test_scale_transition();
  test_entropy();
  test_eigen();
  test_parallel_for();
  test_stoppable();
  test_checked_sizes();
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
