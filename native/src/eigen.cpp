// Eigenvalues of a complex Hermitian matrix (design eq. 15: the spectrum of a density
// matrix), the method of crate/src/eigen.rs: the Hermitian part scaled by a power of two,
// Householder reduction to a real symmetric tridiagonal matrix (reflectors I − τvv^H with τ
// real; y = τAv row by row as y += conj(A_j)·v_j, then A ← A − vw^H − wv^H: the two SIMD
// row loops), then Reinsch's rational QL (EISPACK tqlrat), which leaves them sorted.
// Backward stable: errors ~ d·ε·max|a|. Scratch (2d² + 5d doubles) is kept per thread up to
// d = 512.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu.hpp"
#include "qdt.hpp"
#include "simd.hpp"

namespace cimm {

namespace {

constexpr double kTiny = 1e-150;  // a column norm below this (after scaling) is left unreduced
constexpr int kMaxQlIter = 60;
constexpr std::size_t kKeepScratchMax = 512;
constexpr double kEps = std::numeric_limits<double>::epsilon();

struct RowsScalar {
  // y_l += conj(a_l)·v
  static void add_conj_row(const double* ar, const double* ai, double vr, double vi, double* yr, double* yi,
                           std::size_t m) noexcept {
    for (std::size_t l = 0; l < m; ++l) {
      yr[l] += ar[l] * vr + ai[l] * vi;
      yi[l] += ar[l] * vi - ai[l] * vr;
    }
  }
  // a_j −= v_i·conj(w_j) + w_i·conj(v_j)
  static void rank2(double* ar, double* ai, double vri, double vii, double wri, double wii, const double* vr,
                    const double* vi, const double* wr, const double* wi, std::size_t m) noexcept {
    for (std::size_t j = 0; j < m; ++j) {
      ar[j] -= vri * wr[j] + vii * wi[j] + (wri * vr[j] + wii * vi[j]);
      ai[j] -= vii * wr[j] - vri * wi[j] + (wii * vr[j] - wri * vi[j]);
    }
  }
};

// Householder reduction: the diagonal into diag, squared off-diagonals into e2[0..n-1).
template <typename Rows>
inline void tridiagonalize(std::size_t n, double* ar, double* ai, double* diag, double* e2, double* vr, double* vi,
                           double* yr, double* yi) noexcept {
  for (std::size_t k = 0; k + 1 < n; ++k) {
    const std::size_t m = n - k - 1;
    const std::size_t off = k + 1;
    diag[k] = ar[k * n + k];
    // x = A[k+1.., k] = conj(A[k, k+1..]): row k, contiguous
    const std::size_t row = k * n + off;
    double x2 = 0;
    for (std::size_t j = 0; j < m; ++j) {
      vr[j] = ar[row + j];
      vi[j] = -ai[row + j];
      x2 += vr[j] * vr[j] + vi[j] * vi[j];
    }
    const double xnorm = std::sqrt(x2);
    e2[k] = x2;
    if (xnorm <= kTiny) continue;
    const double a0 = std::sqrt(vr[0] * vr[0] + vi[0] * vi[0]);
    const double pr = a0 > 0 ? vr[0] / a0 : 1;
    const double pi = a0 > 0 ? vi[0] / a0 : 0;
    vr[0] += pr * xnorm;
    vi[0] += pi * xnorm;
    const double tau = 1 / (xnorm * (xnorm + a0));
    for (std::size_t l = 0; l < m; ++l) yr[l] = yi[l] = 0;
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t r = (off + j) * n + off;
      Rows::add_conj_row(ar + r, ai + r, vr[j], vi[j], yr, yi, m);
    }
    double vhy = 0;
    for (std::size_t i = 0; i < m; ++i) {
      yr[i] *= tau;
      yi[i] *= tau;
      vhy += vr[i] * yr[i] + vi[i] * yi[i];
    }
    const double kk = 0.5 * tau * vhy;
    for (std::size_t i = 0; i < m; ++i) {
      yr[i] -= kk * vr[i];
      yi[i] -= kk * vi[i];
    }
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t r = (off + i) * n + off;
      Rows::rank2(ar + r, ai + r, vr[i], vi[i], yr[i], yi[i], vr, vi, yr, yi, m);
    }
  }
  diag[n - 1] = ar[n * n - 1];
}

#if CIMM_HAVE_X86_DISPATCH

struct RowsAvx2 {
  CIMM_TARGET_AVX2 static void add_conj_row(const double* ar, const double* ai, double vr, double vi, double* yr,
                                            double* yi, std::size_t m) noexcept {
    const __m256d svr = _mm256_set1_pd(vr);
    const __m256d svi = _mm256_set1_pd(vi);
    std::size_t l = 0;
    for (; l + 4 <= m; l += 4) {
      const __m256d a_r = _mm256_loadu_pd(ar + l);
      const __m256d a_i = _mm256_loadu_pd(ai + l);
      _mm256_storeu_pd(yr + l, _mm256_fmadd_pd(a_i, svi, _mm256_fmadd_pd(a_r, svr, _mm256_loadu_pd(yr + l))));
      _mm256_storeu_pd(yi + l, _mm256_fnmadd_pd(a_i, svr, _mm256_fmadd_pd(a_r, svi, _mm256_loadu_pd(yi + l))));
    }
    RowsScalar::add_conj_row(ar + l, ai + l, vr, vi, yr + l, yi + l, m - l);
  }
  CIMM_TARGET_AVX2 static void rank2(double* ar, double* ai, double vri, double vii, double wri, double wii,
                                     const double* vr, const double* vi, const double* wr, const double* wi,
                                     std::size_t m) noexcept {
    const __m256d svr = _mm256_set1_pd(vri);
    const __m256d svi = _mm256_set1_pd(vii);
    const __m256d swr = _mm256_set1_pd(wri);
    const __m256d swi = _mm256_set1_pd(wii);
    std::size_t j = 0;
    for (; j + 4 <= m; j += 4) {
      const __m256d v_r = _mm256_loadu_pd(vr + j);
      const __m256d v_i = _mm256_loadu_pd(vi + j);
      const __m256d w_r = _mm256_loadu_pd(wr + j);
      const __m256d w_i = _mm256_loadu_pd(wi + j);
      __m256d x = _mm256_loadu_pd(ar + j);
      x = _mm256_fnmadd_pd(svr, w_r, x);
      x = _mm256_fnmadd_pd(svi, w_i, x);
      x = _mm256_fnmadd_pd(swr, v_r, x);
      x = _mm256_fnmadd_pd(swi, v_i, x);
      _mm256_storeu_pd(ar + j, x);
      __m256d y = _mm256_loadu_pd(ai + j);
      y = _mm256_fnmadd_pd(svi, w_r, y);
      y = _mm256_fmadd_pd(svr, w_i, y);
      y = _mm256_fnmadd_pd(swi, v_r, y);
      y = _mm256_fmadd_pd(swr, v_i, y);
      _mm256_storeu_pd(ai + j, y);
    }
    RowsScalar::rank2(ar + j, ai + j, vri, vii, wri, wii, vr + j, vi + j, wr + j, wi + j, m - j);
  }
};

CIMM_TARGET_AVX2 void tridiagonalize_avx2(std::size_t n, double* ar, double* ai, double* diag, double* e2, double* vr,
                                          double* vi, double* yr, double* yi) noexcept {
  tridiagonalize<RowsAvx2>(n, ar, ai, diag, e2, vr, vi, yr, yi);
}

#else

void tridiagonalize_avx2(std::size_t n, double* ar, double* ai, double* diag, double* e2, double* vr, double* vi,
                         double* yr, double* yi) noexcept {
  tridiagonalize<RowsScalar>(n, ar, ai, diag, e2, vr, vi, yr, yi);
}

#endif

void solve(const double* re, const double* im, std::size_t n, double* out, bool simd, double* scratch) noexcept {
  const std::size_t dd = n * n;
  double max = 0;
  for (std::size_t k = 0; k < dd; ++k) {
    const double a = std::fabs(re[k]);
    const double b = std::fabs(im[k]);
    if (!(a <= std::numeric_limits<double>::max() && b <= std::numeric_limits<double>::max())) {
      for (std::size_t i = 0; i < n; ++i) out[i] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    if (a > max) max = a;
    if (b > max) max = b;
  }
  if (max == 0) {
    for (std::size_t i = 0; i < n; ++i) out[i] = 0;
    return;
  }
  int exponent = static_cast<int>(std::floor(std::log2(max)));
  exponent = exponent < -1000 ? -1000 : (exponent > 1000 ? 1000 : exponent);
  const double half = 0.5 * std::ldexp(1.0, -exponent);
  double* ar = scratch;
  double* ai = ar + dd;
  double* vr = ai + dd;
  double* vi = vr + n;
  double* yr = vi + n;
  double* yi = yr + n;
  double* e2 = yi + n;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t ij = i * n + j;
      const std::size_t ji = j * n + i;
      ar[ij] = re[ij] * half + re[ji] * half;
      ai[ij] = im[ij] * half - im[ji] * half;
    }
  }
  if (simd) {
    tridiagonalize_avx2(n, ar, ai, out, e2, vr, vi, yr, yi);
  } else {
    tridiagonalize<RowsScalar>(n, ar, ai, out, e2, vr, vi, yr, yi);
  }
  e2[n - 1] = 0;
  if (!detail::tridiagonal_eigenvalues(out, e2, n)) {
    for (std::size_t i = 0; i < n; ++i) out[i] = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const double back = std::ldexp(1.0, exponent);
  for (std::size_t i = 0; i < n; ++i) out[i] *= back;
}

}  // namespace

namespace detail {

bool tridiagonal_eigenvalues(double* d, double* e2, std::size_t n) noexcept {
  double f = 0;
  double t = 0;
  double b = 0;
  double c = 0;
  for (std::size_t l = 0; l < n; ++l) {
    const double h0 = std::fabs(d[l]) + std::sqrt(e2[l]);
    if (t <= h0) {
      t = h0;
      b = kEps * t;
      c = b * b;
    }
    std::size_t m = l;
    while (e2[m] > c) ++m;  // e2[n-1] = 0 ends the search
    if (m != l) {
      for (int iter = 0;; ++iter) {
        if (iter == kMaxQlIter) return false;
        // shift by the eigenvalue of the leading 2×2 block nearer d[l]
        const double s0 = std::sqrt(e2[l]);
        const double g0 = d[l];
        const double p0 = (d[l + 1] - g0) / (2 * s0);
        const double r0 = std::sqrt(p0 * p0 + 1);
        d[l] = s0 / (p0 + std::copysign(r0, p0));
        const double shift = g0 - d[l];
        for (std::size_t i = l + 1; i < n; ++i) d[i] -= shift;
        f += shift;
        // the rational QL sweep from m up to l
        double g = d[m] == 0 ? b : d[m];
        double h = g;
        double s = 0;
        for (std::size_t i = m; i-- > l;) {
          const double p = g * h;
          const double r = p + e2[i];
          e2[i + 1] = s * r;
          s = e2[i] / r;
          d[i + 1] = h + s * (h + d[i]);
          g = d[i] - e2[i] / g;
          if (g == 0) g = b;
          h = g * p / r;
        }
        e2[l] = s * g;
        d[l] = h;
        if (h == 0 || std::fabs(e2[l]) * std::fabs(h) <= c) break;
        e2[l] *= h;
        if (e2[l] == 0) break;
      }
    }
    // d[0..l) holds the eigenvalues found so far, sorted: insert this one
    const double p = d[l] + f;
    std::size_t i = l;
    while (i > 0 && p < d[i - 1]) {
      d[i] = d[i - 1];
      --i;
    }
    d[i] = p;
  }
  return true;
}

void hermitian_eigenvalues_path(const double* re, const double* im, std::size_t d, double* out, bool simd) {
  if (d == 0 || d > kMaxDimension) return;  // the binding allows d <= kMaxDimension: 2d² + 5d cannot wrap
  const std::size_t need = 2 * d * d + 5 * d;
  if (d <= kKeepScratchMax) {
    thread_local std::vector<double> scratch;
    if (scratch.size() < need) scratch.resize(need);
    solve(re, im, d, out, simd, scratch.data());
  } else {
    std::vector<double> scratch(need);  // std::bad_alloc becomes a JS error in the binding
    solve(re, im, d, out, simd, scratch.data());
  }
}

}  // namespace detail

void hermitian_eigenvalues(const double* re, const double* im, std::size_t d, double* out) {
  detail::hermitian_eigenvalues_path(re, im, d, out, has_avx2_fma());
}

}  // namespace cimm
