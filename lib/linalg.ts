/**
 * Dense f32 linear algebra for the fractal layer (design.md §2 eq. 9): a validated GEMM over
 * the active backend (Rust: the `gemm` crate; js: a cache-blocked reference).
 */
import { separate } from './aliasing.js';
import { abortSignal, deliver } from './async.js';
import { kernels } from './backend.js';
import { argumentError, CimmArgumentError } from './errors.js';
import { finiteNumber, firstNonFinite, float32Array, integer, readOptions } from './is.js';
import type { MatmulParams } from './kernels.js';

/** Largest matrix dimension accepted. */
export const MAX_DIMENSION = 2 ** 31 - 1;

export interface MatmulShape {
  /** Rows of op(A) and of C. */
  m: number;
  /** Columns of op(B) and of C. */
  n: number;
  /** Columns of op(A), rows of op(B). */
  k: number;
}

export interface MatmulOptions {
  /** Use Aᵀ: `a` holds a k×m matrix (default false). */
  transA?: boolean;
  /** Use Bᵀ: `b` holds an n×k matrix (default false). */
  transB?: boolean;
  /** α (default 1). */
  alpha?: number;
  /** β (default 0: `out` is overwritten, its old values ignored). */
  beta?: number;
  /** C, an m×n array updated in place; a new array otherwise (then β must be 0). */
  out?: Float32Array;
}

function boolOption(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw argumentError(name, 'a boolean', value);
  return value;
}

/** Reject NaN/±Infinity in a matrix with one native scan (maxAbs is NaN then). */
function finiteMatrix(name: string, values: Float32Array): void {
  if (!Number.isNaN(kernels().maxAbs(values))) return;
  const i = firstNonFinite(values);
  throw new CimmArgumentError(
    name,
    'finite values',
    `Expected finite values for ${name} but received ${values[i]} at index ${i} of Float32Array(${values.length}) of type Float32Array`,
  );
}

/** matmul's arguments, validated: the kernel's parameters and the `out` given, if any. */
function matmulArguments(
  a: Float32Array,
  b: Float32Array,
  shape: MatmulShape,
  opts: MatmulAsyncOptions | undefined,
  async: boolean,
): {
  params: MatmulParams;
  a: Float32Array;
  b: Float32Array;
  out: Float32Array | undefined;
  signal: AbortSignal | undefined;
} {
  // Both objects are read once, first: a getter runs before any array is inspected.
  const s = readOptions<MatmulShape>('shape', shape, ['m', 'n', 'k']);
  const fields = ['transA', 'transB', 'alpha', 'beta', 'out'] as const;
  const o = readOptions<MatmulAsyncOptions>('options', opts, async ? [...fields, 'signal'] : fields);
  const m = integer('m', s.m, { min: 0, max: MAX_DIMENSION });
  const n = integer('n', s.n, { min: 0, max: MAX_DIMENSION });
  const k = integer('k', s.k, { min: 0, max: MAX_DIMENSION });
  const transA = boolOption('transA', o.transA);
  const transB = boolOption('transB', o.transB);
  const alpha = finiteNumber('alpha', o.alpha ?? 1);
  const beta = finiteNumber('beta', o.beta ?? 0);
  const signal = abortSignal('signal', o.signal);
  const [ar, ac] = transA ? [k, m] : [m, k];
  const [br, bc] = transB ? [n, k] : [k, n];
  float32Array('a', a);
  if (a.length !== m * k) throw argumentError('a', `a ${ar}×${ac} matrix (a Float32Array of length ${m * k})`, a);
  float32Array('b', b);
  if (b.length !== k * n) throw argumentError('b', `a ${br}×${bc} matrix (a Float32Array of length ${k * n})`, b);
  let out: Float32Array | undefined;
  if (o.out === undefined) {
    if (beta !== 0) throw argumentError('beta', '0 when no out matrix is given', beta);
  } else {
    out = float32Array('out', o.out);
    if (out.length !== m * n) throw argumentError('out', `a ${m}×${n} matrix (a Float32Array of length ${m * n})`, out);
    if (beta !== 0) finiteMatrix('out', out);
  }
  finiteMatrix('a', a);
  finiteMatrix('b', b);
  // C is written block by block while a and b are read: an out overlapping either is
  // rejected (lib/aliasing.ts; an input that may only be copied is).
  const inputs = separate('matmul', { a, b, c: out }, { names: { c: 'out' } });
  return { params: { transA, transB, m, n, k, alpha, beta }, a: inputs.a, b: inputs.b, out, signal };
}

/**
 * C ← α·op(A)·op(B) + β·C for row-major f32 matrices: op(A) is m×k, op(B) is k×n, C is
 * m×n. Returns C (`out`, or a new array).
 */
export function matmul(a: Float32Array, b: Float32Array, shape: MatmulShape, opts?: MatmulOptions): Float32Array {
  const { params, a: left, b: right, out: given } = matmulArguments(a, b, shape, opts, false);
  const { transA, transB, m, n, k, alpha, beta } = params;
  const out = given ?? new Float32Array(m * n);
  kernels().matmul({ transA, transB, m, n, k, alpha, beta }, left, right, out);
  return out;
}

export interface MatmulAsyncOptions extends MatmulOptions {
  /** Aborts the call: the promise rejects with an AbortError (DOMException). */
  signal?: AbortSignal;
}

/**
 * matmul off the main thread (docs/theory.md, "Async kernels"): the same C, bit for bit.
 * `a`, `b` (and `out` when β ≠ 0) are copied during the call, so the caller may change,
 * transfer or detach them right after it; C is computed into a new array, which the promise
 * resolves to, or is copied into `out` when the promise resolves (`out` must then still be
 * attached and m×n, else the promise rejects naming it). Bad arguments reject before any
 * work is queued.
 */
export async function matmulAsync(
  a: Float32Array,
  b: Float32Array,
  shape: MatmulShape,
  opts?: MatmulAsyncOptions,
): Promise<Float32Array> {
  const { params, out, signal } = matmulArguments(a, b, shape, opts, true);
  const c = await kernels().matmulAsync(params, a, b, params.beta !== 0 ? out : undefined, signal);
  return out === undefined ? c : deliver('out', c, out);
}
