/**
 * Pure-TS elementwise kernels that the fractal layer (design.md §2 eq. 9) composes.
 * Arithmetic is f64 with one rounding on each Float32Array store (none on a Float64Array:
 * the activations also take f64 arrays, for nn layers in f64);
 * reductions accumulate in f64.
 */
import type { ActivationName } from '../../kernels.js';
import { sameDtype } from './dtype.js';

/**
 * `input`, or a private copy when it partially overlaps `out` (or is `out` itself and
 * `always` is set), so a kernel never reads an element it already overwrote. An input that
 * is exactly `out` is returned as is: each kernel reads element i before writing it.
 */
export function separateFrom<T extends Float32Array | Float64Array>(
  input: T,
  out: Float32Array | Float64Array,
  always = false,
): T {
  if (input.buffer !== out.buffer || input.length === 0 || out.length === 0) return input;
  const [a, b] = [input.byteOffset, out.byteOffset];
  const overlap = a < b + out.byteLength && b < a + input.byteLength;
  if (!overlap || (a === b && input.length === out.length && !always)) return input;
  return input.slice() as T;
}

/** max |x[i]| (0 when empty); NaN when any element is NaN or ±Infinity. */
export function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) return Number.NaN; // NaN or ±Infinity
    const a = v < 0 ? -v : v;
    if (a > m) m = a;
  }
  return m;
}

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
