/**
 * Shared test plumbing: the backends under test (every backend that loads here; one that
 * does not is skipped by name with the reason printed) and error measures with the
 * tolerances the suites document.
 */
import { describe } from 'vitest';
import { BACKEND_NAMES, getBackend } from '../lib/backend.js';
import type { BackendName, Kernels } from '../lib/kernels.js';

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
