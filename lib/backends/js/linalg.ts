/**
 * Pure-TS GEMM, the reference for the native `matmul` (and the js backend's hot path of the
 * fractal layer, design.md §2 eq. 9): C ← α·op(A)·op(B) + β·C, row-major.
 *
 * Cache-blocked: C is computed in MB×NB tiles accumulated in f64 (a 64 KB scratch), with
 * the k dimension in KB-long panels, so one KB×NB panel of op(B) (128 KB) stays in L2 while
 * every row block of A streams past it; the inner loop runs along a contiguous row of
 * op(B). op(B) = Bᵀ is first transposed into a scratch buffer (kept between calls, so a
 * steady-state call allocates nothing). Sums are exact-product f64 accumulations, so this
 * reference is at least as accurate as the native f32 kernels it checks.
 */

import { sameDtype } from './dtype.js';

/** Rows of C per tile (exported: the async variant chunks whole tiles). */
export const MB = 32;
const NB = 256;
const KB = 128;

const acc = new Float64Array(MB * NB);
let packed = new Float32Array(0);
let packed64 = new Float64Array(0);

/** op(B) as a row-major k×n array: B itself, or Bᵀ (B stored n×k) transposed into scratch. */
function rowsOfOpB(transB: boolean, n: number, k: number, b: Float32Array | Float64Array): Float32Array | Float64Array {
  if (!transB) return b;
  // op(B) packed in b's dtype (an f64 B must not be rounded through an f32 buffer)
  let bt: Float32Array | Float64Array;
  if (b instanceof Float64Array) {
    if (packed64.length < k * n) packed64 = new Float64Array(k * n);
    bt = packed64;
  } else {
    if (packed.length < k * n) packed = new Float32Array(k * n);
    bt = packed;
  }
  const T = 32;
  for (let j0 = 0; j0 < n; j0 += T) {
    for (let p0 = 0; p0 < k; p0 += T) {
      const jEnd = Math.min(j0 + T, n);
      const pEnd = Math.min(p0 + T, k);
      for (let j = j0; j < jEnd; j++) for (let p = p0; p < pEnd; p++) bt[p * n + j] = b[j * k + p];
    }
  }
  return bt;
}

export function matmul(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  beta: number,
  c: Float32Array | Float64Array,
): void {
  sameDtype(c, { a, b });
  const bk = rowsOfOpB(transB, n, k, b);
  for (let j0 = 0; j0 < n; j0 += NB) {
    const nb = Math.min(NB, n - j0);
    for (let i0 = 0; i0 < m; i0 += MB) {
      const mb = Math.min(MB, m - i0);
      acc.fill(0);
      for (let p0 = 0; p0 < k; p0 += KB) {
        const pEnd = Math.min(p0 + KB, k);
        for (let i = 0; i < mb; i++) {
          const row = i * NB;
          for (let p = p0; p < pEnd; p++) {
            const aip = transA ? a[p * m + i0 + i] : a[(i0 + i) * k + p];
            const q = p * n + j0;
            for (let j = 0; j < nb; j++) acc[row + j] += aip * bk[q + j];
          }
        }
      }
      for (let i = 0; i < mb; i++) {
        const row = i * NB;
        const ci = (i0 + i) * n + j0;
        if (beta === 0) {
          for (let j = 0; j < nb; j++) c[ci + j] = alpha * acc[row + j];
        } else {
          for (let j = 0; j < nb; j++) c[ci + j] = alpha * acc[row + j] + beta * c[ci + j];
        }
      }
    }
  }
}
