/**
 * The wasm backend's argument checks: the Node-API binding's (native/src), message for message,
 * since the module trusts its caller. Shared by the family files of lib/backends/wasm/.
 */
import { argumentError } from '../../errors.js';
import { detachedView } from '../../is.js';
import type { ActivationName, FlowBoundary, Real } from '../../kernels.js';
import { type Dtype, overlap } from './core.js';

/**
 * `value` itself, unless its buffer is detached or was shrunk below it (an error naming the
 * parameter: any copy of it would throw an engine TypeError naming nothing).
 */
function attached<T extends Real>(name: string, value: T): T {
  if (detachedView(value)) throw argumentError(name, `a ${value.constructor.name} whose buffer is not detached`, value);
  return value;
}

export function f32(name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) throw argumentError(name, 'a Float32Array', value);
  return attached(name, value);
}

export function f64(name: string, value: unknown): Float64Array {
  if (!(value instanceof Float64Array)) throw argumentError(name, 'a Float64Array', value);
  return attached(name, value);
}

/** The dtype of a call's deciding array (the binding's by_dtype): Float32Array or Float64Array. */
export function dtypeOf(name: string, value: unknown): Dtype {
  if (value instanceof Float64Array || value instanceof Float32Array) {
    attached(name, value);
    return value instanceof Float64Array ? Float64Array : Float32Array;
  }
  throw argumentError(name, 'a Float32Array or Float64Array', value);
}

/**
 * An array of the call's dtype (the binding's real_array): an empty Float32Array or
 * Float64Array stands for an unused array and is taken whatever its dtype.
 */
export function real(name: string, value: unknown, dtype: Dtype): Real {
  if (value instanceof dtype) return attached(name, value);
  if (value instanceof Float32Array || value instanceof Float64Array) {
    if (value.length === 0) return attached(name, value);
    throw argumentError(name, `a ${dtype.name} (the dtype of params)`, value);
  }
  throw argumentError(name, `a ${dtype.name}`, value);
}

/** A number as the dtype's scalar: Math.fround for f32, itself for f64 (the binding's static_cast<T>). */
export const inDtype = (dtype: Dtype, x: number) => (dtype === Float64Array ? x : Math.fround(x));

export function num(name: string, value: unknown): number {
  if (typeof value !== 'number') throw argumentError(name, 'a number', value);
  return value;
}

export function finite(name: string, value: unknown): number {
  if (!Number.isFinite(num(name, value))) throw argumentError(name, 'a finite number', value);
  return value as number;
}

/**
 * The fields `keys` of an options object, each read once, in order, and checked by `check`
 * (a number by default), named `<prefix><key>` in errors; the values in the same order too.
 */
export function fields<K extends string>(
  o: Record<string, unknown>,
  keys: readonly K[],
  prefix: string,
  check: (name: string, value: unknown) => number = num,
): { read: Record<K, number>; values: number[] } {
  const read = {} as Record<K, number>;
  const values: number[] = [];
  for (const key of keys) {
    read[key] = check(`${prefix}${key}`, o[key]);
    values.push(read[key]);
  }
  return { read, values };
}

export function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw argumentError(name, 'a boolean', value);
  return value;
}

/** Booleans as the module's int flags. */
export function bits<T extends readonly boolean[]>(flags: T): { [K in keyof T]: number } {
  return flags.map((f) => (f ? 1 : 0)) as { [K in keyof T]: number };
}

/** Rejects `a` unless it has `length` elements (`what` says why). */
export function lengthIs(name: string, a: Real, length: number, what: string): void {
  if (a.length !== length) throw argumentError(name, what, a);
}

/** `<name>` must have the length of `<other>`, as the binding's same_length_as words it (in the call's dtype). */
export function sameLength(name: string, a: Real, length: number, other: string, dtype: Dtype = Float32Array): void {
  lengthIs(name, a, length, `a ${dtype.name} of length ${length} (the length of ${other})`);
}

/**
 * The arrays of a call on Real arrays beside its deciding one: each in the call's dtype and, unless
 * its `used` flag is false (an optional array the call ignores), of length n (the deciding
 * array's, named `of`). Dtypes first, then lengths, in the order given, as the binding checks.
 */
export function alongside(
  dtype: Dtype,
  n: number,
  of: string,
  arrays: readonly [name: string, value: unknown, used?: boolean][],
): void {
  for (const [name, value] of arrays) real(name, value, dtype);
  for (const [name, value, used = true] of arrays) if (used) sameLength(name, value as Real, n, of, dtype);
}

/** Rejects the later of any two arrays that share memory, naming the earlier (the call's dtype in the message). */
export function disjoint(arrays: readonly [string, Real][], dtype: Dtype = Float32Array): void {
  for (let i = 0; i < arrays.length; i++) {
    for (let j = i + 1; j < arrays.length; j++) {
      if (overlap(arrays[i][1], arrays[j][1])) {
        throw argumentError(arrays[j][0], `a ${dtype.name} that does not overlap ${arrays[i][0]}`, arrays[j][1]);
      }
    }
  }
}

/** A Float64Array(3) of sums sharing no memory with the call's float arrays. */
export function sumsOut(value: unknown, arrays: readonly [string, Real][]): Float64Array {
  const out = f64('out', value);
  lengthIs('out', out, 3, 'a Float64Array of length 3');
  for (const [name, a] of arrays) {
    if (overlap(out, a)) throw argumentError('out', `a Float64Array that does not overlap ${name}`, out);
  }
  return out;
}

export function optionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw argumentError(name, 'an options object', value);
  }
  return value as Record<string, unknown>;
}

export const ACTIVATIONS: readonly ActivationName[] = ['identity', 'tanh', 'sigmoid', 'relu'];
export const BOUNDARIES: readonly FlowBoundary[] = ['periodic', 'zeroFlux'];

/** The index of a string choice (the module's enum code). */
export function code<T extends string>(name: string, value: unknown, choices: readonly T[]): number {
  const i = typeof value === 'string' ? choices.indexOf(value as T) : -1;
  if (i < 0) throw argumentError(name, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
  return i;
}

/** A grid dimension nx or ny. */
export function gridDim(name: string, value: unknown): number {
  const v = num(name, value);
  if (!(v >= 1 && v <= 4294967296 && Number.isInteger(v))) throw argumentError(name, 'an integer >= 1', value);
  return v;
}

/** A finite field of a params object, optionally > 0 or >= 0, named `<prefix><name>` in errors. */
export function field(
  params: Record<string, unknown>,
  key: string,
  sign: 'any' | 'positive' | 'nonNegative' = 'any',
  prefix = '',
): number {
  const value = params[key];
  const name = `${prefix}${key}`;
  const v = num(name, value);
  if (sign === 'positive' && !(Number.isFinite(v) && v > 0)) throw argumentError(name, 'a finite number > 0', value);
  if (sign === 'nonNegative' && !(Number.isFinite(v) && v >= 0)) {
    throw argumentError(name, 'a finite number >= 0', value);
  }
  if (!Number.isFinite(v)) throw argumentError(name, 'a finite number', value);
  return v;
}

/** A grid of exactly `cells` values. */
export function grid(name: string, value: unknown, cells: number): Float64Array {
  const a = f64(name, value);
  lengthIs(name, a, cells, `a Float64Array of length ${cells}`);
  return a;
}

/** An output grid of `cells` values sharing no memory with the inputs (the stencil reads neighbours). */
export function outputGrid(value: unknown, cells: number, inputs: readonly [string, Float64Array][]): Float64Array {
  const out = grid('out', value, cells);
  for (const [name, a] of inputs) {
    if (overlap(out, a)) throw argumentError('out', `a Float64Array that does not overlap ${name}`, out);
  }
  return out;
}

/** A matrix dimension m, n or k. */
export function dimension(name: string, value: unknown): number {
  const v = num(name, value);
  if (!(v >= 0 && v <= 2147483647 && Number.isInteger(v))) {
    throw argumentError(name, 'an integer >= 0 and <= 2147483647', value);
  }
  return v;
}

/** `v` must hold a rows × cols matrix (the binding's wording, in the call's dtype). */
export function matrixOf(name: string, v: Real, rows: number, cols: number, dtype: Dtype = Float32Array): void {
  lengthIs(name, v, rows * cols, `a ${rows}×${cols} matrix (a ${dtype.name} of length ${rows * cols})`);
}

export const EMPTY32 = new Float32Array(0);
