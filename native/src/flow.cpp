// Energy flow, design eq. 10: one explicit step on a 2-D grid, its stable step limit, and the
// 5-point Laplacian (also used by eq. 11).
//
// Every cell has four faces: west (i − 1), east (i + 1), south (j − 1), north (j + 1). A
// periodic face wraps; a zero-flux face takes the cell itself as its neighbour, which makes
// E_n − E_i and Ψ_n − Ψ_i exactly 0. Per face, a = γ(Ψ_n − Ψ_i)/h² and the upwind inflow is
// max(a, 0)·E_n + min(a, 0)·E_i, so what leaves a cell enters its neighbour (Σ E is conserved)
// and, within energy_flow_max_step, every weight of the update is >= 0 (monotone).
//
// The scalar cell is the js reference's formula in its order (built without contraction, it
// rounds like JS); the AVX2 path runs 4 cells of a row per vector with fused multiply-adds,
// the last vector shifted back to end at column nx − 2 and columns 0 and nx − 1 scalar.
// Threads split the grid into bands of whole rows; each cell depends only on the inputs.
#include "flow.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "checked.hpp"
#include "cpu.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

inline std::size_t before(std::size_t k, std::size_t n, bool periodic) noexcept {
  return k > 0 ? k - 1 : (periodic ? n - 1 : 0);
}

inline std::size_t after(std::size_t k, std::size_t n, bool periodic) noexcept {
  return k + 1 < n ? k + 1 : (periodic ? 0 : n - 1);
}

// Per-step constants: b = β/h², g = γ/h².
struct Coef {
  double b;
  double g;
  double dt;
  double kappa;
};

Coef coef_of(const FlowParams& p) noexcept { return {p.beta / (p.h * p.h), p.gamma / (p.h * p.h), p.dt, p.kappa}; }

// The rows one output row reads: centre, south (j − 1), north (j + 1).
struct Rows {
  const double* e;
  const double* es;
  const double* en;
  const double* p;
  const double* ps;
  const double* pn;
  const double* src;
};

Rows rows_at(const double* energy, const double* potential, const double* source, std::size_t nx, std::size_t ny,
             std::size_t j, bool periodic) noexcept {
  const std::size_t s = before(j, ny, periodic) * nx;
  const std::size_t n = after(j, ny, periodic) * nx;
  const std::size_t c = j * nx;
  return {energy + c, energy + s, energy + n, potential + c, potential + s, potential + n, source + c};
}

inline double flow_cell(const Rows& r, const Coef& k, std::size_t i, std::size_t w, std::size_t e) noexcept {
  const double ec = r.e[i];
  const double pc = r.p[i];
  const double ew = r.e[w];
  const double ee = r.e[e];
  const double es = r.es[i];
  const double en = r.en[i];
  const double aw = k.g * (r.p[w] - pc);
  const double ae = k.g * (r.p[e] - pc);
  const double as = k.g * (r.ps[i] - pc);
  const double an = k.g * (r.pn[i] - pc);
  const double lap = ew + ee + (es + en) - 4.0 * ec;
  const double inflow =
      std::max(aw, 0.0) * ew + std::max(ae, 0.0) * ee + std::max(as, 0.0) * es + std::max(an, 0.0) * en;
  const double outflow = std::min(aw, 0.0) + std::min(ae, 0.0) + (std::min(as, 0.0) + std::min(an, 0.0));
  return ec + k.dt * (k.kappa * r.src[i] + k.b * lap + (inflow + outflow * ec));
}

void flow_row_scalar(const Rows& r, const Coef& k, std::size_t nx, bool periodic, double* out) noexcept {
  for (std::size_t i = 0; i < nx; ++i) out[i] = flow_cell(r, k, i, before(i, nx, periodic), after(i, nx, periodic));
}

inline double laplacian_cell(const double* c, const double* s, const double* n, double inv_h2, std::size_t i,
                             std::size_t w, std::size_t e) noexcept {
  return (c[w] + c[e] + (s[i] + n[i]) - 4.0 * c[i]) * inv_h2;
}

void laplacian_row_scalar(const double* c, const double* s, const double* n, double inv_h2, std::size_t nx,
                          bool periodic, double* out) noexcept {
  for (std::size_t i = 0; i < nx; ++i) {
    out[i] = laplacian_cell(c, s, n, inv_h2, i, before(i, nx, periodic), after(i, nx, periodic));
  }
}

#if CIMM_HAVE_X86_DISPATCH

constexpr std::size_t kLanes = 4;

CIMM_TARGET_AVX2 void flow_row_avx2(const Rows& r, const Coef& k, std::size_t nx, bool periodic, double* out) noexcept {
  if (nx < kLanes + 2) return flow_row_scalar(r, k, nx, periodic, out);
  out[0] = flow_cell(r, k, 0, before(0, nx, periodic), 1);
  out[nx - 1] = flow_cell(r, k, nx - 1, nx - 2, after(nx - 1, nx, periodic));
  const __m256d zero = _mm256_setzero_pd();
  const __m256d g = _mm256_set1_pd(k.g);
  const __m256d b = _mm256_set1_pd(k.b);
  const __m256d dt = _mm256_set1_pd(k.dt);
  const __m256d kappa = _mm256_set1_pd(k.kappa);
  const __m256d four = _mm256_set1_pd(4.0);
  const std::size_t last = nx - 1 - kLanes;
  for (std::size_t i = 1;; i += kLanes) {
    if (i > last) i = last;  // the last vector ends at column nx − 2
    const __m256d ec = _mm256_loadu_pd(r.e + i);
    const __m256d ew = _mm256_loadu_pd(r.e + i - 1);
    const __m256d ee = _mm256_loadu_pd(r.e + i + 1);
    const __m256d es = _mm256_loadu_pd(r.es + i);
    const __m256d en = _mm256_loadu_pd(r.en + i);
    const __m256d pc = _mm256_loadu_pd(r.p + i);
    const __m256d aw = _mm256_mul_pd(g, _mm256_sub_pd(_mm256_loadu_pd(r.p + i - 1), pc));
    const __m256d ae = _mm256_mul_pd(g, _mm256_sub_pd(_mm256_loadu_pd(r.p + i + 1), pc));
    const __m256d as = _mm256_mul_pd(g, _mm256_sub_pd(_mm256_loadu_pd(r.ps + i), pc));
    const __m256d an = _mm256_mul_pd(g, _mm256_sub_pd(_mm256_loadu_pd(r.pn + i), pc));
    const __m256d lap = _mm256_fnmadd_pd(four, ec, _mm256_add_pd(_mm256_add_pd(ew, ee), _mm256_add_pd(es, en)));
    __m256d inflow = _mm256_mul_pd(_mm256_max_pd(aw, zero), ew);
    inflow = _mm256_fmadd_pd(_mm256_max_pd(ae, zero), ee, inflow);
    inflow = _mm256_fmadd_pd(_mm256_max_pd(as, zero), es, inflow);
    inflow = _mm256_fmadd_pd(_mm256_max_pd(an, zero), en, inflow);
    const __m256d outflow = _mm256_add_pd(_mm256_add_pd(_mm256_min_pd(aw, zero), _mm256_min_pd(ae, zero)),
                                          _mm256_add_pd(_mm256_min_pd(as, zero), _mm256_min_pd(an, zero)));
    const __m256d drift = _mm256_fmadd_pd(outflow, ec, inflow);
    const __m256d rate =
        _mm256_add_pd(_mm256_fmadd_pd(b, lap, _mm256_mul_pd(kappa, _mm256_loadu_pd(r.src + i))), drift);
    _mm256_storeu_pd(out + i, _mm256_fmadd_pd(dt, rate, ec));
    if (i == last) break;
  }
}

CIMM_TARGET_AVX2 void laplacian_row_avx2(const double* c, const double* s, const double* n, double inv_h2,
                                         std::size_t nx, bool periodic, double* out) noexcept {
  if (nx < kLanes + 2) return laplacian_row_scalar(c, s, n, inv_h2, nx, periodic, out);
  out[0] = laplacian_cell(c, s, n, inv_h2, 0, before(0, nx, periodic), 1);
  out[nx - 1] = laplacian_cell(c, s, n, inv_h2, nx - 1, nx - 2, after(nx - 1, nx, periodic));
  const __m256d f = _mm256_set1_pd(inv_h2);
  const __m256d four = _mm256_set1_pd(4.0);
  const std::size_t last = nx - 1 - kLanes;
  for (std::size_t i = 1;; i += kLanes) {
    if (i > last) i = last;
    const __m256d sum = _mm256_add_pd(_mm256_add_pd(_mm256_loadu_pd(c + i - 1), _mm256_loadu_pd(c + i + 1)),
                                      _mm256_add_pd(_mm256_loadu_pd(s + i), _mm256_loadu_pd(n + i)));
    _mm256_storeu_pd(out + i, _mm256_mul_pd(_mm256_fnmadd_pd(four, _mm256_loadu_pd(c + i), sum), f));
    if (i == last) break;
  }
}

#endif

using FlowRow = void (*)(const Rows&, const Coef&, std::size_t, bool, double*) noexcept;
using LaplacianRow = void (*)(const double*, const double*, const double*, double, std::size_t, bool, double*) noexcept;

void flow_rows(FlowRow row, const double* energy, const double* potential, const double* source, std::size_t nx,
               std::size_t ny, const FlowParams& params, double* out, std::size_t j0, std::size_t j1) noexcept {
  const Coef k = coef_of(params);
  const bool periodic = params.boundary == Boundary::kPeriodic;
  for (std::size_t j = j0; j < j1; ++j) {
    row(rows_at(energy, potential, source, nx, ny, j, periodic), k, nx, periodic, out + j * nx);
  }
}

void laplacian_rows(LaplacianRow row, const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary,
                    double* out, std::size_t j0, std::size_t j1) noexcept {
  const bool periodic = boundary == Boundary::kPeriodic;
  const double inv_h2 = 1.0 / (h * h);
  for (std::size_t j = j0; j < j1; ++j) {
    row(energy + j * nx, energy + before(j, ny, periodic) * nx, energy + after(j, ny, periodic) * nx, inv_h2, nx,
        periodic, out + j * nx);
  }
}

FlowRow flow_row() noexcept {
#if CIMM_HAVE_X86_DISPATCH
  if (has_avx2_fma()) return flow_row_avx2;
#endif
  return flow_row_scalar;
}

LaplacianRow laplacian_row() noexcept {
#if CIMM_HAVE_X86_DISPATCH
  if (has_avx2_fma()) return laplacian_row_avx2;
#endif
  return laplacian_row_scalar;
}

// Run body(j0, j1) over bands of whole rows, on the pool when the grid is large.
template <typename Body>
void over_bands(std::size_t nx, std::size_t ny, Body&& body) {
  if (nx * ny < kFlowParallelCells) return body(std::size_t{0}, ny);
  const std::size_t rows = std::max<std::size_t>(1, kFlowUnitCells / nx);
  const std::size_t bands = (ny + rows - 1) / rows;
  parallel_for(bands, [&](std::size_t u) { body(u * rows, std::min(ny, (u + 1) * rows)); });
}

}  // namespace

namespace detail {

void energy_flow_step_scalar(const double* energy, const double* potential, const double* source, std::size_t nx,
                             std::size_t ny, const FlowParams& params, double* out) noexcept {
  flow_rows(flow_row_scalar, energy, potential, source, nx, ny, params, out, 0, ny);
}

void energy_flow_step_avx2(const double* energy, const double* potential, const double* source, std::size_t nx,
                           std::size_t ny, const FlowParams& params, double* out) noexcept {
#if CIMM_HAVE_X86_DISPATCH
  flow_rows(flow_row_avx2, energy, potential, source, nx, ny, params, out, 0, ny);
#else
  energy_flow_step_scalar(energy, potential, source, nx, ny, params, out);
#endif
}

void laplacian_scalar(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary,
                      double* out) noexcept {
  laplacian_rows(laplacian_row_scalar, energy, nx, ny, h, boundary, out, 0, ny);
}

void laplacian_avx2(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary,
                    double* out) noexcept {
#if CIMM_HAVE_X86_DISPATCH
  laplacian_rows(laplacian_row_avx2, energy, nx, ny, h, boundary, out, 0, ny);
#else
  laplacian_scalar(energy, nx, ny, h, boundary, out);
#endif
}

}  // namespace detail

void energy_flow_step(const double* energy, const double* potential, const double* source, std::size_t nx,
                      std::size_t ny, const FlowParams& params, double* out) {
  if (!product_fits(nx, ny, sizeof(double))) return;  // no such grid (checked.hpp)
  const FlowRow row = flow_row();
  over_bands(nx, ny, [&](std::size_t j0, std::size_t j1) {
    flow_rows(row, energy, potential, source, nx, ny, params, out, j0, j1);
  });
}

bool energy_flow_run(double*& current, double*& previous, const double* potential, const double* source, std::size_t nx,
                     std::size_t ny, const FlowParams& params, const double* kappas, std::size_t steps,
                     const StopFlag& stop) {
  if (!product_fits(nx, ny, sizeof(double))) return false;  // no such grid (checked.hpp)
  FlowParams step = params;
  for (std::size_t s = 0; s < steps; ++s) {
    if (raised(&stop)) return false;
    step.kappa = kappas[s];
    energy_flow_step(current, potential, source, nx, ny, step, previous);
    std::swap(current, previous);
  }
  return true;
}

void laplacian(const double* energy, std::size_t nx, std::size_t ny, double h, Boundary boundary, double* out) {
  if (!product_fits(nx, ny, sizeof(double))) return;  // no such grid (checked.hpp)
  const LaplacianRow row = laplacian_row();
  over_bands(nx, ny,
             [&](std::size_t j0, std::size_t j1) { laplacian_rows(row, energy, nx, ny, h, boundary, out, j0, j1); });
}

double energy_flow_max_step(const double* potential, std::size_t nx, std::size_t ny, double h, double beta,
                            double gamma, Boundary boundary) noexcept {
  if (!product_fits(nx, ny, sizeof(double))) return std::numeric_limits<double>::quiet_NaN();  // checked.hpp
  const bool periodic = boundary == Boundary::kPeriodic;
  const double diffusion = (4.0 * beta) / (h * h);
  const double g = gamma / (h * h);
  double worst = 0;
  for (std::size_t j = 0; j < ny; ++j) {
    const double* row = potential + j * nx;
    const double* south = potential + before(j, ny, periodic) * nx;
    const double* north = potential + after(j, ny, periodic) * nx;
    for (std::size_t i = 0; i < nx; ++i) {
      const double psi = row[i];
      const double leaving = std::max(g * (psi - row[before(i, nx, periodic)]), 0.0) +
                             std::max(g * (psi - row[after(i, nx, periodic)]), 0.0) +
                             (std::max(g * (psi - south[i]), 0.0) + std::max(g * (psi - north[i]), 0.0));
      const double rate = diffusion + leaving;
      if (rate > worst) worst = rate;
    }
  }
  return worst > 0 ? 1.0 / worst : std::numeric_limits<double>::infinity();
}

// ---- the grid sums of eq. 11 (∫E, ∫|E|, L2(Ω)) ----

namespace detail {

void grid_sums_scalar(const double* x, std::size_t n, double* out) noexcept {
  double s = 0;
  double a = 0;
  double q = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s += x[i];
    a += std::fabs(x[i]);
    q += x[i] * x[i];
  }
  out[0] = s;
  out[1] = a;
  out[2] = q;
}

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 void grid_sums_avx2(const double* x, std::size_t n, double* out) noexcept {
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  __m256d s[4], a[4], q[4];
  for (int u = 0; u < 4; ++u) s[u] = a[u] = q[u] = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int u = 0; u < 4; ++u) {
      const __m256d v = _mm256_loadu_pd(x + i + 4 * u);
      s[u] = _mm256_add_pd(s[u], v);
      a[u] = _mm256_add_pd(a[u], _mm256_and_pd(v, abs_mask));
      q[u] = _mm256_fmadd_pd(v, v, q[u]);
    }
  }
  out[0] = detail::lane_sum4(s);
  out[1] = detail::lane_sum4(a);
  out[2] = detail::lane_sum4(q);
  for (; i < n; ++i) {
    out[0] += x[i];
    out[1] += std::fabs(x[i]);
    out[2] += x[i] * x[i];
  }
}

#else

void grid_sums_avx2(const double* x, std::size_t n, double* out) noexcept { grid_sums_scalar(x, n, out); }

#endif

}  // namespace detail

void grid_sums(const double* x, std::size_t n, double* out) {
  const bool v = has_avx2_fma();
  detail::split_sum<3>(
      n,
      [&](std::size_t b, std::size_t e, double* slot) {
        v ? detail::grid_sums_avx2(x + b, e - b, slot) : detail::grid_sums_scalar(x + b, e - b, slot);
      },
      out);
}

}  // namespace cimm
