/**
 * Shared test plumbing: the backends under test (every backend that loads here; one that
 * does not is skipped by name with the reason printed), error measures with the
 * tolerances the suites document, and the fixtures several suites use (deterministic
 * inputs, bit and error checks, f64 reference activations).
 */
import { describe, expect } from 'vitest';
import { BACKEND_NAMES, getBackend } from '../lib/backend.js';
import { CimmArgumentError } from '../lib/errors.js';
import type { TensorMap } from '../lib/index.js';
import {
  type ActivationName,
  type BackendName,
  DECLARED_KERNELS,
  type DeclaredKernel,
  type DeclaredKernelName,
  type Kernels,
} from '../lib/kernels.js';

export interface BackendUnderTest {
  name: BackendName;
  kernels: Kernels;
}

function load(name: BackendName): Kernels | string {
  try {
    return getBackend(name);
  } catch (error) {
    return (error as Error).message.split('\n').slice(0, 2).join(' ');
  }
}

const loaded = BACKEND_NAMES.map((name) => ({ name, result: load(name) }));

/** Backends that load here; CI sets CIMM_REQUIRE_BACKENDS=rust,cpp so a missing one fails. */
export const backends: BackendUnderTest[] = loaded.flatMap(({ name, result }) =>
  typeof result === 'string' ? [] : [{ name, kernels: result }],
);

for (const { name, result } of loaded) {
  if (typeof result === 'string') console.warn(`[cimm tests] skipping backend ${name}: ${result}`);
}

const required = (process.env.CIMM_REQUIRE_BACKENDS ?? '').split(',').filter(Boolean);
for (const name of required) {
  if (!backends.some((b) => b.name === name)) {
    throw new Error(`CIMM_REQUIRE_BACKENDS names ${name}, which did not load`);
  }
}

/** The js reference kernels. */
export const reference = getBackend('js');

/** describe() once per available backend. */
export function describeEachBackend(title: string, body: (b: BackendUnderTest) => void): void {
  describe.each(backends.map((b) => [b.name, b] as const))(`${title} [%s]`, (_name, b) => body(b));
}

/** max_i |a_i − b_i| / scale_i. */
export function maxScaledError(a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number> | number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const s = typeof scale === 'number' ? scale : scale[i];
    const e = Math.abs(a[i] - b[i]) / s;
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

/** |a − b| / max(|a|, |b|, tiny). */
export function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), Number.MIN_VALUE);
}

/** A typed-array view of `values` placed at `offset` elements into a larger buffer. */
export function atOffset<T extends Float32Array | Float64Array>(values: T, offset: number): T {
  const Ctor = values.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;
  const buffer = new ArrayBuffer((values.length + offset + 3) * values.BYTES_PER_ELEMENT);
  const view = new Ctor(buffer, offset * values.BYTES_PER_ELEMENT, values.length);
  view.set(values);
  return view;
}

// ---------------------------------------------------------------------------------------
// Fixtures shared by several suites.

/** Deterministic values with mixed magnitudes (xorshift), in (−scale/2, scale/2). */
export function values(n: number, seed: number, scale: number): Float32Array {
  let x = (seed * 2654435761 + 1) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = ((x >>> 8) / 2 ** 24 - 0.5) * scale * (i % 7 === 0 ? 1e-3 : 1);
  }
  return out;
}

/**
 * Deterministic f64 values with 53-bit mantissas (two xorshift draws), in (−scale/2, scale/2);
 * `mixed` scales every 7th by 10⁻³ as `values` does.
 */
export function values64(n: number, seed: number, scale = 2, mixed = false): Float64Array {
  let x = (seed * 2654435761 + 1) >>> 0;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53; // 53 random bits in [0, 1)
    out[i] = (u - 0.5) * scale * (mixed && i % 7 === 0 ? 1e-3 : 1);
  }
  return out;
}

/** Deterministic uniform f32 values in [−scale, scale) (an LCG). */
export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** Two interleaved spirals-ish clusters: 3 classes in 2-D, deterministic. */
export function classes(n: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const a = (2 * Math.PI * c) / 3 + 0.3 * Math.sin(i * 12.9898);
    const r = 1 + 0.2 * Math.cos(i * 78.233);
    x[2 * i] = r * Math.cos(a);
    x[2 * i + 1] = r * Math.sin(a);
    y[i] = c;
  }
  return { x, y };
}

/** The activations in f64, for reference forward passes. */
export const sigma: Record<ActivationName, (t: number) => number> = {
  identity: (t) => t,
  tanh: Math.tanh,
  sigmoid: (t) => 1 / (1 + Math.exp(-t)),
  relu: (t) => Math.max(t, 0),
};

/**
 * A quadratic over the tensors of `params` (updated in place by an optimizer):
 * L = ½ Σ s_i (p_i − cos i)² with s_i = 1 + (i mod 5), so curvature up to 5. `evaluate()`
 * returns L and writes ∂L/∂p into `grads`.
 */
export function quadraticProblem(params: TensorMap) {
  const grads: TensorMap = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
  const evaluate = () => {
    let loss = 0;
    for (const k of Object.keys(params)) {
      for (let i = 0; i < params[k].length; i++) {
        const s = 1 + (i % 5);
        const d = params[k][i] - Math.cos(i);
        grads[k][i] = s * d;
        loss += 0.5 * s * d * d;
      }
    }
    return loss;
  };
  return { params, grads, evaluate };
}

/** Throws at the first element whose bits differ. */
export function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}[${i}]: ${got[i]} vs reference ${want[i]}`);
  }
}

/**
 * `call` throws a CimmArgumentError naming `parameter`; when `message` is given, the
 * message is that string exactly, or matches that pattern.
 */
export function expectError(call: () => unknown, parameter: string, message?: string | RegExp): void {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error, `expected an error naming ${parameter}`).toBeInstanceOf(CimmArgumentError);
  expect((error as CimmArgumentError).parameter).toBe(parameter);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else if (message) expect((error as Error).message).toMatch(message);
}

/** Two tensors with lengths off the SIMD width; L = ½ Σ s (p − t)², gradients written in place. */
export function twoTensors() {
  const params: TensorMap = { w: values(37, 11, 2), b: values(5, 12, 2) };
  const target: TensorMap = { w: values(37, 13, 1), b: values(5, 14, 1) };
  const scale: TensorMap = { w: values(37, 15, 4).map((v) => 0.2 + Math.abs(v)), b: Float32Array.of(1, 2, 3, 4, 5) };
  const grads: TensorMap = { w: new Float32Array(37), b: new Float32Array(5) };
  const evaluate = () => {
    let loss = 0;
    for (const k of ['w', 'b']) {
      for (let i = 0; i < params[k].length; i++) {
        const d = params[k][i] - target[k][i];
        grads[k][i] = scale[k][i] * d;
        loss += 0.5 * scale[k][i] * d * d;
      }
    }
    return loss;
  };
  return { params, grads, evaluate };
}

/**
 * A valid call of a declared kernel (lib/kernels.ts DECLARED_KERNELS), from its declaration:
 * each array's length (`n` unless the declaration fixes it: a number, another array's length,
 * or two rows of another), and its sample options. The generic tests of the declared kernels
 * (aliasing, the options reader) need one call that must succeed.
 */
export function declaredSample(
  name: DeclaredKernelName,
  n = 4,
): { arrays: [name: string, type: 'f32' | 'f64', length: number][]; options: Record<string, number | boolean> } {
  const d: DeclaredKernel = DECLARED_KERNELS[name];
  const lengths: Record<string, number> = {};
  const lengthOf = (array: string): number => {
    if (lengths[array] === undefined) {
      const rule = d.arrays[array].length;
      lengths[array] =
        rule === undefined
          ? n
          : typeof rule === 'number'
            ? rule
            : typeof rule === 'string'
              ? lengthOf(rule)
              : 2 * lengthOf(rule.multipleOf);
    }
    return lengths[array];
  };
  return {
    arrays: Object.entries(d.arrays).map(([array, a]) => [array, a.type, lengthOf(array)]),
    options: { ...d.sample },
  };
}
