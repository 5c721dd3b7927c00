// The GEMM of the fractal layer (design eq. 9): C ← α·op(A)·op(B) + β·C, row-major f32.
//
// Goto-style blocking: C is first scaled by β (cleared when β = 0), then for each NC-wide
// column panel and KC-long slice of k, op(B) is packed into NR-wide strips (KC×NR = 16 KB,
// one strip stays in L1) and, per MC-row block, α·op(A) into MR-row strips (MC×KC = 72 KB, in
// L2); a 6×16 micro-kernel (12 AVX2 accumulators, 12 FMAs per loaded pair of B vectors)
// adds each tile into C. Transposes only change how the panels are packed. Large products
// split the MC-row blocks over the thread pool (each block writes its own rows of C). The
// scalar micro-kernel is the same loop nest without intrinsics (the compiler vectorizes it).
#include <algorithm>
#include <vector>

#include "checked.hpp"
#include "cpu.hpp"
#include "linalg.hpp"
#include "parallel.hpp"
#include "simd.hpp"
#include "stop.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace cimm {

namespace {

#if defined(__wasm_simd128__)
// WebAssembly (kernel_wasm): a 4×8 tile, 8 accumulators in f32x4 lanes
constexpr std::size_t kMR = 4;
constexpr std::size_t kNR = 8;
#else
constexpr std::size_t kMR = 6;
constexpr std::size_t kNR = 16;
#endif
constexpr std::size_t kKC = 256;
constexpr std::size_t kMC = 72;
constexpr std::size_t kNC = 1024;

using MicroKernel = void (*)(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, std::size_t mr,
                             std::size_t nr) noexcept;

// op(B)[p0 .. p0+kc, j0 .. j0+nc] as strips of kNR columns (zero-padded): strip s at s·kc.
void pack_b(bool trans_b, std::size_t n, std::size_t k, const float* b, std::size_t p0, std::size_t kc, std::size_t j0,
            std::size_t nc, float* out) noexcept {
  for (std::size_t s = 0; s < nc; s += kNR) {
    const std::size_t w = std::min(kNR, nc - s);
    float* strip = out + s * kc;
    for (std::size_t p = 0; p < kc; ++p) {
      float* dst = strip + p * kNR;
      if (trans_b) {
        for (std::size_t j = 0; j < w; ++j) dst[j] = b[(j0 + s + j) * k + p0 + p];
      } else {
        const float* src = b + (p0 + p) * n + j0 + s;
        for (std::size_t j = 0; j < w; ++j) dst[j] = src[j];
      }
      for (std::size_t j = w; j < kNR; ++j) dst[j] = 0;
    }
  }
}

// α·op(A)[i0 .. i0+mc, p0 .. p0+kc] as strips of kMR rows (zero-padded): strip r at r·kc.
void pack_a(bool trans_a, std::size_t m, std::size_t k, float alpha, const float* a, std::size_t i0, std::size_t mc,
            std::size_t p0, std::size_t kc, float* out) noexcept {
  for (std::size_t r = 0; r < mc; r += kMR) {
    const std::size_t h = std::min(kMR, mc - r);
    float* strip = out + r * kc;
    for (std::size_t p = 0; p < kc; ++p) {
      float* dst = strip + p * kMR;
      for (std::size_t i = 0; i < h; ++i) {
        const std::size_t row = i0 + r + i;
        dst[i] = alpha * (trans_a ? a[(p0 + p) * m + row] : a[row * k + p0 + p]);
      }
      for (std::size_t i = h; i < kMR; ++i) dst[i] = 0;
    }
  }
}

// C[0..mr, 0..nr] += Σ_p a[p][·]·b[p][·] over the packed strips.
void kernel_scalar(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, std::size_t mr,
                   std::size_t nr) noexcept {
  float acc[kMR][kNR] = {};
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t i = 0; i < kMR; ++i) {
      const float ai = a[p * kMR + i];
      for (std::size_t j = 0; j < kNR; ++j) acc[i][j] += ai * b[p * kNR + j];
    }
  }
  for (std::size_t i = 0; i < mr; ++i) {
    for (std::size_t j = 0; j < nr; ++j) c[i * ldc + j] += acc[i][j];
  }
}

#if CIMM_HAVE_X86_DISPATCH

CIMM_TARGET_AVX2 void kernel_avx2(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
                                  std::size_t mr, std::size_t nr) noexcept {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b + p * kNR);
    const __m256 b1 = _mm256_loadu_ps(b + p * kNR + 8);
    const float* ap = a + p * kMR;
    __m256 x = _mm256_broadcast_ss(ap);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == kMR && nr == kNR) {
    for (std::size_t i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]));
    }
    return;
  }
  float tile[kMR][kNR];
  for (std::size_t i = 0; i < kMR; ++i) {
    _mm256_storeu_ps(tile[i], acc[i][0]);
    _mm256_storeu_ps(tile[i] + 8, acc[i][1]);
  }
  for (std::size_t i = 0; i < mr; ++i) {
    for (std::size_t j = 0; j < nr; ++j) c[i * ldc + j] += tile[i][j];
  }
}

#endif

#if defined(__wasm_simd128__)

// The WebAssembly build's micro-kernel (scripts/build-wasm.mjs, -msimd128): the scalar kernel's
// operations (f32 multiply, then add: wasm has no fused multiply-add), so the same bits, in
// f32x4 lanes. A 4×8 tile: 8 accumulators, 2 B vectors and a broadcast stay within the 16
// vector registers an x86-64 engine maps them to (a 6×16 tile spills).
void kernel_wasm(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, std::size_t mr,
                 std::size_t nr) noexcept {
  v128_t acc[kMR][2];
  for (std::size_t i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = wasm_f32x4_splat(0.0f);
  for (std::size_t p = 0; p < kc; ++p) {
    const v128_t b0 = wasm_v128_load(b + p * kNR);
    const v128_t b1 = wasm_v128_load(b + p * kNR + 4);
    const float* ap = a + p * kMR;
    for (std::size_t i = 0; i < kMR; ++i) {
      const v128_t x = wasm_v128_load32_splat(ap + i);
      acc[i][0] = wasm_f32x4_add(acc[i][0], wasm_f32x4_mul(x, b0));
      acc[i][1] = wasm_f32x4_add(acc[i][1], wasm_f32x4_mul(x, b1));
    }
  }
  if (mr == kMR && nr == kNR) {
    for (std::size_t i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
      wasm_v128_store(row, wasm_f32x4_add(wasm_v128_load(row), acc[i][0]));
      wasm_v128_store(row + 4, wasm_f32x4_add(wasm_v128_load(row + 4), acc[i][1]));
    }
    return;
  }
  float tile[kMR][kNR];
  for (std::size_t i = 0; i < kMR; ++i) {
    wasm_v128_store(tile[i], acc[i][0]);
    wasm_v128_store(tile[i] + 4, acc[i][1]);
  }
  for (std::size_t i = 0; i < mr; ++i) {
    for (std::size_t j = 0; j < nr; ++j) c[i * ldc + j] += tile[i][j];
  }
}

#endif

// Returns false when `stop` was raised before one of the NC×KC slices (C partly written).
bool gemm_blocked(MicroKernel kernel, bool parallel, bool trans_a, bool trans_b, std::size_t m, std::size_t n,
                  std::size_t k, float alpha, const float* a, const float* b, float beta, float* c,
                  const StopFlag* stop = nullptr) {
  // no such matrices (checked.hpp): sizes whose products wrap touch no memory
  if (!product_fits(m, k, sizeof(float)) || !product_fits(k, n, sizeof(float)) || !product_fits(m, n, sizeof(float))) {
    return false;
  }
  if (beta == 0) {
    std::fill(c, c + m * n, 0.0f);
  } else if (beta != 1) {
    for (std::size_t i = 0; i < m * n; ++i) c[i] *= beta;
  }
  if (m == 0 || n == 0 || k == 0 || alpha == 0) return true;
  // Packing buffers are kept per thread (per-call heap scratch is dear on these VMs).
  thread_local std::vector<float> packed_b;
  for (std::size_t j0 = 0; j0 < n; j0 += kNC) {
    const std::size_t nc = std::min(kNC, n - j0);
    for (std::size_t p0 = 0; p0 < k; p0 += kKC) {
      if (raised(stop)) return false;
      const std::size_t kc = std::min(kKC, k - p0);
      packed_b.resize(((nc + kNR - 1) / kNR) * kNR * kc);
      pack_b(trans_b, n, k, b, p0, kc, j0, nc, packed_b.data());
      const float* pb = packed_b.data();
      const auto block = [&](std::size_t ib) {
        thread_local std::vector<float> packed_a;
        const std::size_t i0 = ib * kMC;
        const std::size_t mc = std::min(kMC, m - i0);
        packed_a.resize(((mc + kMR - 1) / kMR) * kMR * kc);
        pack_a(trans_a, m, k, alpha, a, i0, mc, p0, kc, packed_a.data());
        const float* pa = packed_a.data();
        for (std::size_t jr = 0; jr < nc; jr += kNR) {
          for (std::size_t ir = 0; ir < mc; ir += kMR) {
            kernel(kc, pa + ir * kc, pb + jr * kc, c + (i0 + ir) * n + j0 + jr, n, std::min(kMR, mc - ir),
                   std::min(kNR, nc - jr));
          }
        }
      };
      const std::size_t blocks = (m + kMC - 1) / kMC;
      if (parallel && blocks > 1) {
        parallel_for(blocks, block);
      } else {
        for (std::size_t ib = 0; ib < blocks; ++ib) block(ib);
      }
    }
  }
  return true;
}

}  // namespace

namespace detail {

void matmul_scalar(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                   const float* b, float beta, float* c) {
  gemm_blocked(kernel_scalar, false, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void matmul_avx2(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                 const float* b, float beta, float* c) {
#if CIMM_HAVE_X86_DISPATCH
  gemm_blocked(kernel_avx2, false, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
#else
  matmul_scalar(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
#endif
}

}  // namespace detail

void matmul(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
            const float* b, float beta, float* c) {
  matmul_until(trans_a, trans_b, m, n, k, alpha, a, b, beta, c, nullptr);
}

bool matmul_until(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                  const float* b, float beta, float* c, const StopFlag* stop) {
  const bool parallel =
      thread_count() > 1 && static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >=
                                static_cast<double>(kGemmParallelWork);
#if CIMM_HAVE_X86_DISPATCH
  const MicroKernel kernel = has_avx2_fma() ? kernel_avx2 : kernel_scalar;
#elif defined(__wasm_simd128__)
  const MicroKernel kernel = kernel_wasm;
#else
  const MicroKernel kernel = kernel_scalar;
#endif
  return gemm_blocked(kernel, parallel, trans_a, trans_b, m, n, k, alpha, a, b, beta, c, stop);
}

void matmul(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
            const double* b, double beta, double* c) {
  if (!product_fits(m, k, sizeof(double)) || !product_fits(k, n, sizeof(double)) ||
      !product_fits(m, n, sizeof(double))) {
    return;  // no such matrices (checked.hpp)
  }
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::size_t p = 0; p < k; ++p) {
        const double x = trans_a ? a[p * m + i] : a[i * k + p];
        const double y = trans_b ? b[j * k + p] : b[p * n + j];
        sum += x * y;
      }
      double& out = c[i * n + j];
      out = beta == 0 ? alpha * sum : alpha * sum + beta * out;
    }
  }
}

}  // namespace cimm
