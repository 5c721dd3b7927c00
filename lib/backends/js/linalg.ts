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
import type { ActivationName, MatmulParams, Real } from '../../kernels.js';
import { sameDtype } from './dtype.js';
import { separateFrom } from './overlap.js';

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

export function matmul(params: MatmulParams, a: Real, b: Real, c: Real): void {
  const { transA, transB, m, n, k, alpha, beta } = params;
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

/**
 * `input`, or a private copy when it partially overlaps `out` (or is `out` itself and
 * `always` is set), so a kernel never reads an element it already overwrote. An input that
 * is exactly `out` is returned as is: each kernel reads element i before writing it.
 */
/** y ← α·x + β·y; β = 0 overwrites y without reading it. `x` may be `y`. */
export function axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void {
  x = separateFrom(x, y);
  if (beta === 0) {
    for (let i = 0; i < y.length; i++) y[i] = alpha * x[i];
  } else {
    for (let i = 0; i < y.length; i++) y[i] = alpha * x[i] + beta * y[i];
  }
}

/** Σ x[i]·y[i] in f64. */
export function dot(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Σ x[i] in f64. */
export function sum(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

/** out[i] = σ(x[i] + shift). `x` may be `out`. */
export function activationForward(
  activation: ActivationName,
  x: Float32Array | Float64Array,
  shift: number,
  out: Float32Array | Float64Array,
): void {
  sameDtype(out, { x });
  x = separateFrom(x, out);
  const n = out.length;
  switch (activation) {
    case 'identity':
      for (let i = 0; i < n; i++) out[i] = x[i] + shift;
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i] + shift);
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-(x[i] + shift)));
      break;
    case 'relu':
      for (let i = 0; i < n; i++) {
        const t = x[i] + shift;
        // biome-ignore lint/complexity/useMathMinMax: NaN must map to 0 like the native kernels, not to NaN
        out[i] = t > 0 ? t : 0;
      }
      break;
  }
}

/**
 * gradPre[i] = gradOut[i]·σ'(pre[i]) with σ' through the output y = σ(pre): tanh 1 − y²,
 * sigmoid y(1 − y), relu [y > 0], identity 1. `y` or `gradOut` may be `gradPre`.
 */
export function activationBackward(
  activation: ActivationName,
  y: Float32Array | Float64Array,
  gradOut: Float32Array | Float64Array,
  gradPre: Float32Array | Float64Array,
): void {
  sameDtype(gradPre, { y, gradOut });
  y = separateFrom(y, gradPre);
  const g = separateFrom(gradOut, gradPre);
  const n = gradPre.length;
  switch (activation) {
    case 'identity':
      for (let i = 0; i < n; i++) gradPre[i] = g[i];
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) gradPre[i] = g[i] * (1 - y[i] * y[i]);
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) gradPre[i] = g[i] * y[i] * (1 - y[i]);
      break;
    case 'relu':
      for (let i = 0; i < n; i++) gradPre[i] = y[i] > 0 ? g[i] : 0;
      break;
  }
}
