/**
 * Argument predicates and assertions. Every public entry point validates with these
 * before it crosses into a backend, so native code only ever sees well-formed input.
 */
import { argumentError, CimmArgumentError, describeValue, typeOf } from './errors.js';

export const isNumber = (v: unknown): v is number => typeof v === 'number';
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isInteger = (v: unknown): v is number => Number.isInteger(v);
export const isFloat32Array = (v: unknown): v is Float32Array => v instanceof Float32Array;
export const isFloat64Array = (v: unknown): v is Float64Array => v instanceof Float64Array;

export interface RangeOptions {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound (e.g. `> 0`). */
  above?: number;
  /** Exclusive upper bound (e.g. `< 1`). */
  below?: number;
}

function rangeText(r: RangeOptions): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(' and ');
}

function inRange(v: number, r: RangeOptions): boolean {
  return (
    (r.above === undefined || v > r.above) &&
    (r.min === undefined || v >= r.min) &&
    (r.max === undefined || v <= r.max) &&
    (r.below === undefined || v < r.below)
  );
}

/** A finite number, optionally within a range. */
export function finiteNumber(name: string, value: unknown, range: RangeOptions = {}): number {
  const bounds = rangeText(range);
  const what = bounds ? `a finite number ${bounds}` : 'a finite number';
  if (!isFiniteNumber(value) || !inRange(value, range)) throw argumentError(name, what, value);
  return value;
}

/** An integer, optionally within a range. */
export function integer(name: string, value: unknown, range: RangeOptions = {}): number {
  const bounds = rangeText(range);
  const what = bounds ? `an integer ${bounds}` : 'an integer';
  if (!isInteger(value) || !inRange(value as number, range)) throw argumentError(name, what, value);
  return value as number;
}

/** A boolean. */
export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw argumentError(name, 'a boolean', value);
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw argumentError(name, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
  }
  return value as T;
}

type FloatArray = Float32Array | Float64Array;
type FloatArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor;

function typedArray<A extends FloatArray>(
  name: string,
  value: unknown,
  ctor: FloatArrayCtor,
  length: number | undefined,
): A {
  if (!(value instanceof ctor)) {
    const what = length === undefined ? `a ${ctor.name}` : `a ${ctor.name} of length ${length}`;
    throw argumentError(name, what, value);
  }
  // buffer.byteLength too: optimized code has been seen to report a detached view's old
  // length (Node 20), and a detached buffer's byteLength is 0.
  if (detachedView(value)) {
    throw argumentError(
      name,
      `a ${ctor.name} whose buffer is attached and in bounds (not detached, transferred or shrunk)`,
      value,
    );
  }
  if (length !== undefined && value.length !== length) {
    throw argumentError(name, `a ${ctor.name} of length ${length}`, value);
  }
  return value as A;
}

/**
 * Whether `view`'s buffer is detached (transferred) or was resized below it, so the engine
 * throws on any copy. buffer.byteLength too: optimized code has been seen to report a
 * detached view's old length (Node 20), and a detached buffer's byteLength is 0.
 */
export function detachedView(view: FloatArray): boolean {
  return (view.length === 0 || view.buffer.byteLength === 0) && outOfBounds(view);
}

/**
 * Whether a view reads as length 0 because its buffer was detached (transferred) or resized
 * below it: the engine then throws on any copy. Only asked for length 0 (a view in bounds
 * has its length), so the try costs nothing on the usual path.
 */
function outOfBounds(view: FloatArray): boolean {
  try {
    // Both probes: a detached buffer fails the first (the Uint8Array constructor), a fixed
    // view of a buffer shrunk below it the second. The slice alone was not enough: V8's
    // optimized code (Node 20) let it pass on a detached buffer after many calls.
    new Uint8Array(view.buffer, 0, 0);
    view.slice(0, 0);
    return false;
  } catch {
    return true;
  }
}

/** The index of the first non-finite element, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    // x - x is NaN exactly for NaN and ±Infinity: one branch per element.
    const v = values[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Reject a typed array holding NaN or ±Infinity, naming the first bad index. */
export function allFinite(name: string, values: FloatArray): void {
  const i = firstNonFinite(values);
  if (i >= 0) {
    throw new CimmArgumentError(
      name,
      'finite values',
      `Expected finite values for ${name} but received ${values[i]} at index ${i} of ${describeValue(values)} of type ${typeOf(values)}`,
    );
  }
}

export interface ArrayCheck {
  /** Exact length required. */
  length?: number;
  /** Reject NaN and ±Infinity (scans the array once). */
  finite?: boolean;
}

export function float64Array(name: string, value: unknown, check: ArrayCheck = {}): Float64Array {
  const a = typedArray<Float64Array>(name, value, Float64Array, check.length);
  if (check.finite) allFinite(name, a);
  return a;
}

export function float32Array(name: string, value: unknown, check: ArrayCheck = {}): Float32Array {
  const a = typedArray<Float32Array>(name, value, Float32Array, check.length);
  if (check.finite) allFinite(name, a);
  return a;
}

/** A plain options object (or undefined, read as {}). */
export function options<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw argumentError(name, 'an options object', value);
  }
  return value as Partial<T>;
}

/**
 * An options object read once: each of `fields` is read exactly one time, in order, into a
 * new plain object (absent and undefined fields are left out), so a getter runs now, before
 * any argument is validated, and cannot show a check one value and the kernel another
 * (issue 15 item 3). Callers validate the snapshot, then the typed arrays (which a getter may
 * have detached, shrunk or resized), and only then call a kernel. `name` names the object in
 * errors (`options`, `shape`, `context`).
 */
export function readOptions<T extends object>(
  name: string,
  value: unknown,
  fields: readonly (keyof T & string)[],
): Partial<T> {
  const source = options<T>(name, value);
  const copy: Partial<T> = {};
  for (const field of fields) {
    const v = source[field];
    if (v !== undefined) copy[field] = v;
  }
  return copy;
}
