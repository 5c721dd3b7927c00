/**
 * Aliasing decided once (lib/aliasing.ts, docs/notes-alias.md): the overlap test of two
 * views; the table against the kernels' parameter lists; and, for every kernel and every
 * pair the table names, a partial overlap, an exact alias and a disjoint pair on every
 * backend that loads, through `separate` as the facade calls it — the same result on every
 * backend (bit for bit against the same backend on private copies of the inputs, and
 * against the js reference within the kernel's tolerance, 0 where it is bit-identical) —
 * and the facade functions themselves, the coupling case of issue 15 on js too.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  type AliasedKernel,
  type AliasRule,
  KERNEL_ALIASING,
  type KernelAliasing,
  overlapOf,
  separate,
} from '../lib/aliasing.js';
import { kernels as activeKernels, registerBackend, setBackend } from '../lib/backend.js';
import { jsKernels } from '../lib/backends/js/index.js';
import { coupling, scaleTransition } from '../lib/coupling.js';
import { localEnergy } from '../lib/energy.js';
import { CimmArgumentError } from '../lib/errors.js';
import { energyFlowStep, laplacian } from '../lib/flow.js';
import { fractalStep, fractalTransform } from '../lib/fractal.js';
import {
  ASYNC_KERNEL_NAMES,
  BOUNDARY_OPTIONS,
  DECLARED_KERNELS,
  type DeclaredKernelName,
  KERNEL_NAMES,
  type Kernels,
} from '../lib/kernels.js';
import { matmul } from '../lib/linalg.js';
import { FractalLayer } from '../lib/nn/fractal-layer.js';
import { Activation, Dense } from '../lib/nn/layers.js';
import { MeanSquaredError } from '../lib/nn/losses.js';
import { Sequential } from '../lib/nn/sequential.js';
import { Adam, Prodigy, SGD } from '../lib/optim/index.js';
import { hermitianEigenvalues } from '../lib/quantum.js';
import { backends, declaredSample, reference } from './helpers.js';

const initialBackend = activeKernels().name;
afterAll(() => {
  setBackend(initialBackend);
});

// ---------------------------------------------------------------------------------------
// overlapOf

/** A resizable ArrayBuffer (ES2024; Node 20 has it, the TS lib this project targets does not). */
interface Resizable extends ArrayBuffer {
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => Resizable;

describe('overlapOf', () => {
  test('views of one buffer: disjoint, partial, the same view; byte ranges across dtypes', () => {
    const buffer = new ArrayBuffer(64);
    const a = new Float64Array(buffer, 0, 4); // bytes 0..32
    expect(overlapOf(a, new Float64Array(buffer, 32, 4))).toBe('disjoint');
    expect(overlapOf(a, new Float64Array(buffer, 24, 4))).toBe('partial');
    expect(overlapOf(a, new Float64Array(buffer, 0, 3))).toBe('partial');
    expect(overlapOf(a, a)).toBe('same');
    expect(overlapOf(a, new Float64Array(buffer, 0, 4))).toBe('same');
    // the same bytes seen as another dtype are not the same array
    expect(overlapOf(a, new Float32Array(buffer, 0, 8))).toBe('partial');
    // an f32 view ending at byte 33 reaches into a later f64 view; one ending at 32 does not
    expect(overlapOf(new Float32Array(buffer, 4, 7), new Float64Array(buffer, 32, 1))).toBe('disjoint');
    expect(overlapOf(new Float32Array(buffer, 4, 8), new Float64Array(buffer, 32, 1))).toBe('partial');
    expect(overlapOf(new Uint8Array(buffer, 31, 1), a)).toBe('partial');
    expect(overlapOf(new DataView(buffer, 30, 4), new Float64Array(buffer, 32, 1))).toBe('partial');
    // different buffers never overlap
    expect(overlapOf(a, new Float64Array(4))).toBe('disjoint');
  });

  test('zero-length views overlap nothing, wherever they sit', () => {
    const buffer = new ArrayBuffer(64);
    const a = new Float64Array(buffer, 0, 8);
    expect(overlapOf(a, new Float64Array(buffer, 8, 0))).toBe('disjoint');
    expect(overlapOf(new Float64Array(buffer, 8, 0), new Float64Array(buffer, 8, 0))).toBe('disjoint');
    expect(overlapOf(new Float32Array(0), new Float32Array(0))).toBe('disjoint');
  });

  test('a detached buffer and a resizable buffer are judged by their bytes now', () => {
    const buffer = new ArrayBuffer(32);
    const a = new Float64Array(buffer);
    const b = new Float64Array(buffer, 8, 2);
    expect(overlapOf(a, b)).toBe('partial');
    structuredClone(buffer, { transfer: [buffer] }); // detaches
    expect(overlapOf(a, b)).toBe('disjoint');

    const rab = new ResizableArrayBuffer(32, { maxByteLength: 64 });
    const tracking = new Float64Array(rab); // follows the buffer's length
    const later = new Float64Array(rab, 16, 2);
    expect(overlapOf(tracking, later)).toBe('partial');
    rab.resize(16); // `later` is out of bounds: it views no bytes
    expect(later.byteLength).toBe(0);
    expect(overlapOf(tracking, later)).toBe('disjoint');
    rab.resize(48); // back in bounds
    expect(tracking.length).toBe(6);
    expect(overlapOf(tracking, later)).toBe('partial');
    expect(overlapOf(new Float64Array(rab, 0, 2), later)).toBe('disjoint');
    rab.resize(8); // `later` is out of bounds again: it views no bytes
    expect(overlapOf(tracking, later)).toBe('disjoint');
  });

  test('SharedArrayBuffer: one object compares by bytes; two objects of one length may be one memory', () => {
    const sab = new SharedArrayBuffer(64);
    const a = new Float64Array(sab, 0, 4);
    expect(overlapOf(a, new Float64Array(sab, 16, 4))).toBe('partial');
    expect(overlapOf(a, new Float64Array(sab, 32, 4))).toBe('disjoint');
    expect(overlapOf(a, new Float64Array(sab, 0, 4))).toBe('same');
    const clone = structuredClone(sab); // another object, the same memory
    const c = new Float64Array(clone, 16, 4);
    a[2] = 7;
    expect(c[0]).toBe(7);
    expect(overlapOf(a, c)).toBe('possible');
    expect(overlapOf(a, new Float64Array(clone, 32, 4))).toBe('disjoint');
    // a shared buffer of another length is another memory
    expect(overlapOf(a, new Float64Array(new SharedArrayBuffer(72), 0, 4))).toBe('disjoint');
    // a shared and a plain buffer never share memory
    expect(overlapOf(a, new Float64Array(new ArrayBuffer(64), 0, 4))).toBe('disjoint');
  });
});

// ---------------------------------------------------------------------------------------
// The table against the kernels

/** A function's parameter names, from its source (the js reference keeps plain parameter lists). */
function parameterNames(f: unknown): string[] {
  const source = String(f);
  const list = /^[^(]*\(([^)]*)\)/.exec(source)?.[1] ?? '';
  return list
    .split(',')
    .map((p) => p.trim().split(/[\s=:]/)[0])
    .filter(Boolean);
}

const ENTRIES = Object.entries(KERNEL_ALIASING) as [AliasedKernel, KernelAliasing][];

describe('the aliasing table', () => {
  test('has one entry per kernel of lib/kernels.ts, sync and async', () => {
    expect(Object.keys(KERNEL_ALIASING).sort()).toEqual([...KERNEL_NAMES, ...ASYNC_KERNEL_NAMES].sort());
  });

  test.each(ENTRIES)('%s: names the kernel’s parameters, and every pair with a written array', (name, entry) => {
    const parameters = parameterNames((reference as unknown as Record<string, unknown>)[name]);
    const arrays = [...entry.reads, ...entry.writes];
    for (const p of arrays) expect(parameters).toContain(p);
    expect(new Set(arrays).size).toBe(arrays.length);
    const listed = new Set(entry.pairs.map(([a, b]) => [a, b].sort().join('|')));
    expect(listed.size).toBe(entry.pairs.length);
    for (const w of entry.writes) {
      for (const p of arrays) if (p !== w) expect(listed).toContain([p, w].sort().join('|'));
    }
    for (const [a, b, rule] of entry.pairs) {
      expect(arrays).toContain(a);
      expect(arrays).toContain(b);
      // what is copied is an input; what is in place is an output
      if (rule !== 'reject') {
        expect(entry.reads as string[]).toContain(a);
        expect(entry.writes as string[]).toContain(b);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// Every kernel, every pair, every backend

type Dtype = Float32ArrayConstructor | Float64ArrayConstructor;
type Real = Float32Array | Float64Array;

interface ArraySpec {
  dtype: Dtype;
  length: number;
  /** Values in (−scale, scale), or [0, scale) when `positive`. */
  scale?: number;
  positive?: boolean;
}

interface KernelCase {
  arrays: Record<string, ArraySpec>;
  /** The kernel's other arguments by parameter name. */
  scalars: Record<string, unknown>;
  /** Tolerance against the js reference, relative to max(1, |value|); 0: bit for bit. */
  tolerance: number;
  /** Fixed values for an array (overrides the random fill). */
  fixed?: Record<string, number[]>;
}

const f32 = (length: number, more: Partial<ArraySpec> = {}): ArraySpec => ({ dtype: Float32Array, length, ...more });
const f64 = (length: number, more: Partial<ArraySpec> = {}): ArraySpec => ({ dtype: Float64Array, length, ...more });

const N = 16;
const SGD_OPTIONS = {
  learningRate: 0.1,
  momentum: 0.9,
  dampening: 0,
  weightDecay: 0.01,
  nesterov: false,
  maximize: false,
  firstStep: false,
};
const ADAM = {
  beta1: 0.9,
  beta2: 0.999,
  stepSize: 0.01,
  bc2Sqrt: 0.5,
  epsilon: 1e-8,
  weightDecay: 0.01,
  decay: 1,
  amsgrad: true,
  maximize: false,
};
const PRODIGY_ACCUMULATE = {
  beta1: 0.9,
  beta2: 0.999,
  beta3: 0.99,
  momentScale: 0.1,
  varianceScale: 0.01,
  sScale: 0.1,
  weightDecay: 0.01,
};
const FLOW_STEP = { h: 1, dt: 0.05, beta: 0.25, gamma: 0.35, kappa: 0.5, boundary: 'periodic' };

/** A declared kernel's case, from its declaration (test/helpers.ts `declaredSample`, N elements). */
function declaredCase(name: DeclaredKernelName): KernelCase {
  const { arrays, options } = declaredSample(name, N);
  const object = (BOUNDARY_OPTIONS as Partial<Record<string, { name: string }>>)[name];
  return {
    arrays: Object.fromEntries(arrays.map(([array, type, length]) => [array, (type === 'f32' ? f32 : f64)(length)])),
    scalars: object ? { [object.name]: options } : {},
    tolerance: 1e-12,
  };
}

/** Every kernel the table gives a pair: its arrays and other arguments. */
const CASES: Partial<Record<AliasedKernel, KernelCase>> = {
  ...Object.fromEntries(Object.keys(DECLARED_KERNELS).map((k) => [k, declaredCase(k as DeclaredKernelName)])),
  localEnergy: { arrays: { r: f64(N, { scale: 5 }), out: f64(N) }, scalars: { primeCount: 10 }, tolerance: 1e-12 },
  fractalStep: { arrays: { z: f32(N), out: f32(N) }, scalars: { offset: 0.2 }, tolerance: 0 },
  fractalStepBackward: { arrays: { z: f32(N), gradOut: f32(N), gradZ: f32(N) }, scalars: {}, tolerance: 0 },
  matmul: {
    arrays: { a: f32(15), b: f32(20), c: f32(12) },
    scalars: { params: { transA: false, transB: false, m: 3, n: 4, k: 5, alpha: 1.5, beta: 0.5 } },
    tolerance: 1e-6,
  },
  axpby: { arrays: { x: f32(N), y: f32(N) }, scalars: { alpha: 1.75, beta: -0.5 }, tolerance: 0 },
  activationForward: {
    arrays: { x: f32(N), out: f32(N) },
    scalars: { activation: 'tanh', shift: 0.125 },
    tolerance: 1e-6,
  },
  activationBackward: {
    arrays: { y: f32(N), gradOut: f32(N), gradPre: f32(N) },
    scalars: { activation: 'sigmoid' },
    tolerance: 1e-6,
  },
  coupling: {
    arrays: { t: f64(N, { scale: 3 }), out: f64(N) },
    scalars: { params: { alpha: 0.5, beta: 0.25, gamma: 0.35, lambdaCosmo: 1.2 } },
    tolerance: 1e-12,
  },
  scaleTransition: {
    arrays: { t: f64(N, { scale: 3 }), out: f64(N) },
    scalars: { params: { scaleCoupling: 1.5, criticalTime: 0.3 } },
    tolerance: 1e-12,
  },
  hermitianEigenvalues: {
    arrays: { re: f64(9), im: f64(9), out: f64(3) },
    scalars: { d: 3 },
    fixed: { re: [2, 0.5, -0.25, 0.5, 1, 0.125, -0.25, 0.125, -1], im: [0, 0.3, -0.1, -0.3, 0, 0.2, 0.1, -0.2, 0] },
    tolerance: 1e-12,
  },
  energyFlowStep: {
    arrays: { energy: f64(12, { positive: true }), potential: f64(12), source: f64(12), out: f64(12) },
    scalars: { nx: 4, ny: 3, params: FLOW_STEP },
    tolerance: 1e-14,
  },
  laplacian: {
    arrays: { energy: f64(12), out: f64(12) },
    scalars: { nx: 4, ny: 3, params: { h: 1, boundary: 'zeroFlux' } },
    tolerance: 1e-14,
  },
  gridSums: { arrays: { x: f64(12), out: f64(3) }, scalars: {}, tolerance: 0 },
  sgdStep: {
    arrays: { params: f32(N), grads: f32(N), momentumBuffer: f32(N) },
    scalars: { options: SGD_OPTIONS },
    tolerance: 0,
  },
  adamStep: {
    arrays: {
      params: f32(N),
      grads: f32(N),
      m: f32(N),
      v: f32(N, { positive: true }),
      vMax: f32(N, { positive: true }),
    },
    scalars: { options: ADAM },
    tolerance: 0,
  },
  sgdStepMeasured: {
    arrays: { params: f32(N), grads: f32(N), momentumBuffer: f32(N), before: f32(N), out: f64(3) },
    scalars: { o: SGD_OPTIONS },
    tolerance: 0,
  },
  adamStepMeasured: {
    arrays: {
      params: f32(N),
      grads: f32(N),
      m: f32(N),
      v: f32(N, { positive: true }),
      vMax: f32(N, { positive: true }),
      before: f32(N),
      out: f64(3),
    },
    scalars: { o: { ...ADAM, metricScale: 2, metricEpsilon: 1e-8 } },
    tolerance: 0,
  },
  memoryCopy: { arrays: { src: f32(N), dst: f32(N) }, scalars: {}, tolerance: 0 },
  prodigyAccumulate: {
    arrays: {
      params: f32(N),
      grads: f32(N),
      p0: f32(N),
      m: f32(N),
      v: f32(N, { positive: true }),
      s: f32(N),
    },
    scalars: { options: PRODIGY_ACCUMULATE },
    tolerance: 0,
  },
  prodigyUpdate: {
    arrays: { params: f32(N), m: f32(N), v: f32(N, { positive: true }) },
    scalars: { options: { stepSize: 0.01, epsilon: 1e-8, decay: -0.001 } },
    tolerance: 0,
  },
  updateEnergy: {
    arrays: { before: f32(N), after: f32(N), grads: f32(N), metric: f32(N, { positive: true }), out: f64(3) },
    scalars: { params: { metricScale: 2, epsilon: 1e-8 } },
    tolerance: 0,
  },
};

/** Deterministic values for an array, by a seed. */
function fill(view: Real, spec: ArraySpec, seed: number, fixed?: number[]): void {
  if (fixed) {
    view.set(fixed);
    return;
  }
  let s = (seed * 2654435761 + 12345) >>> 0;
  const scale = spec.scale ?? 1;
  for (let i = 0; i < view.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    view[i] = spec.positive ? u * scale : (2 * u - 1) * scale;
  }
}

type Placement = 'partial' | 'exact' | 'disjoint';
const PLACEMENTS: readonly Placement[] = ['partial', 'exact', 'disjoint'];

const roundUp8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * The arrays of one call: `first` and `second` in one buffer, placed as asked (partial: the
 * second starts in the middle of the first; exact: at the same byte, the same view when the
 * two have one dtype and length; disjoint: right after it), every other array in a buffer
 * of its own. Also returns the shared buffer.
 */
function arraysFor(c: KernelCase, first: string, second: string, placement: Placement) {
  const a = c.arrays[first];
  const b = c.arrays[second];
  const aBytes = a.length * a.dtype.BYTES_PER_ELEMENT;
  const bBytes = b.length * b.dtype.BYTES_PER_ELEMENT;
  const offset = placement === 'exact' ? 0 : placement === 'partial' ? roundUp8(aBytes / 2) : roundUp8(aBytes);
  const shared = new ArrayBuffer(roundUp8(aBytes) + bBytes + 16);
  const arrays: Record<string, Real> = {};
  arrays[first] = new a.dtype(shared, 0, a.length);
  arrays[second] =
    placement === 'exact' && a.dtype === b.dtype && a.length === b.length
      ? arrays[first]
      : new b.dtype(shared, offset, b.length);
  // the second's values first, the first's over them: the first holds its own values
  fill(arrays[second], b, 2, c.fixed?.[second]);
  fill(arrays[first], a, 1, c.fixed?.[first]);
  let seed = 3;
  for (const [name, spec] of Object.entries(c.arrays)) {
    if (name === first || name === second) continue;
    arrays[name] = new spec.dtype(spec.length);
    fill(arrays[name], spec, seed++, c.fixed?.[name]);
  }
  return { arrays, shared };
}

/** Calls kernel `name` of `k` with arrays and scalars by parameter name (the js reference's order). */
function call(k: Kernels, name: AliasedKernel, c: KernelCase, arrays: Record<string, Real>): unknown {
  const parameters = parameterNames((reference as unknown as Record<string, unknown>)[name]);
  for (const key of Object.keys(c.scalars)) expect(parameters, `${name} takes ${key}`).toContain(key);
  const args = parameters.map((p) => (p in arrays ? arrays[p] : c.scalars[p]));
  return (k as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
}

/** Private copies of the arrays (the inputs as they are before the call). */
function snapshot(arrays: Record<string, Real>): Record<string, Real> {
  return Object.fromEntries(Object.entries(arrays).map(([n, a]) => [n, a.slice()]));
}

const bits = (a: Real) => [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (tolerance === 0) {
      expect(
        Object.is(got[i], want[i]) || (got[i] === 0 && want[i] === 0),
        `${what}[${i}]: ${got[i]} vs ${want[i]}`,
      ).toBe(true);
    } else {
      const error = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
      expect(error, `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tolerance);
    }
  }
}

function resultNumbers(r: unknown): number[] {
  if (r === undefined) return [];
  if (typeof r === 'number' || typeof r === 'boolean') return [Number(r)];
  return [...(r as number[])];
}

const PAIR_CASES = ENTRIES.flatMap(([name, entry]) =>
  entry.pairs.flatMap(([first, second, rule]) =>
    PLACEMENTS.map((placement) => [name, first, second, rule, placement] as const),
  ),
);

describe.each(backends.map((b) => [b.name, b.kernels] as const))('every kernel and pair [%s]', (_backend, k) => {
  test('every kernel with a pair has a case here', () => {
    for (const [name, entry] of ENTRIES) if (entry.pairs.length > 0) expect(CASES[name], name).toBeDefined();
  });

  test.each(PAIR_CASES)(
    '%s: %s and %s (%s), %s',
    (name: AliasedKernel, first: string, second: string, rule: AliasRule, placement: Placement) => {
      const c = CASES[name]!;
      const { arrays, shared } = arraysFor(c, first, second, placement);
      const entry: KernelAliasing = KERNEL_ALIASING[name];
      const written = entry.writes as readonly string[];
      const overlapping = placement !== 'disjoint';
      const allowed = !overlapping || rule !== 'reject';

      if (!allowed) {
        const before = [...new Uint8Array(shared)];
        let thrown: unknown;
        try {
          separate(name, arrays);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(CimmArgumentError);
        expect((thrown as CimmArgumentError).parameter).toBe(second);
        expect((thrown as Error).message).toMatch(new RegExp(`does not overlap ${first}\\b`));
        expect([...new Uint8Array(shared)]).toEqual(before);
        return;
      }

      const inputs = snapshot(arrays);
      // this backend on private copies: what the call must give, bit for bit
      const privateCopies = snapshot(inputs);
      const wantResult = call(k, name, c, privateCopies);
      // the js reference on private copies: the same within the kernel's tolerance
      const referenceCopies = snapshot(inputs);
      const referenceResult = call(reference, name, c, referenceCopies);

      const separated = separate(name, arrays);
      if (placement === 'exact' && rule === 'inPlace') expect(separated).toBe(arrays); // in place, no copy
      const sameView = placement === 'exact' && arrays[first] === arrays[second];
      if (overlapping && rule !== 'reject' && !(sameView && rule === 'inPlace')) {
        expect(separated[first]).not.toBe(arrays[first]);
      }
      const gotResult = call(k, name, c, separated);

      expect(resultNumbers(gotResult)).toEqual(resultNumbers(wantResult));
      expectClose(resultNumbers(gotResult), resultNumbers(referenceResult), c.tolerance, `${name} result`);
      for (const w of written) {
        expect(bits(arrays[w]), `${w} against this backend on copies`).toEqual(bits(privateCopies[w]));
        expectClose(arrays[w], referenceCopies[w], c.tolerance, w);
      }
      // an input that is not written keeps its values, except where a written array covers it
      if (!written.includes(first) && placement === 'disjoint')
        expect(bits(arrays[first])).toEqual(bits(inputs[first]));
    },
  );
});

// ---------------------------------------------------------------------------------------
// The facade functions, on every backend

describe.each(backends.map((b) => [b.name] as const))('the facade [%s]', (backend) => {
  const use = () => setBackend(backend);

  test('coupling(buf.subarray(0, 6), { out: buf.subarray(3, 9) }) reads t as it was (issue 15)', () => {
    use();
    const buffer = Float64Array.from({ length: 9 }, (_, i) => i * 0.5);
    const t = buffer.slice(0, 6);
    const want = coupling(t);
    const got = coupling(buffer.subarray(0, 6), { out: buffer.subarray(3, 9) });
    expect(got).toEqual(buffer.subarray(3, 9));
    expect([...got]).toEqual([...want]);
    expect(got[3]).toBeCloseTo(0.629091, 6);
    expect([...buffer.subarray(0, 3)]).toEqual([0, 0.5, 1]);
    // against the js reference on the same times
    setBackend('js');
    const js = coupling(t);
    use();
    expectClose(got, js, 1e-12, 'coupling');
  });

  test('coupling and scaleTransition: in place, partial overlap, disjoint', () => {
    use();
    for (const f of [coupling, scaleTransition] as ((t: Float64Array, o?: { out?: Float64Array }) => Float64Array)[]) {
      const times = Float64Array.from({ length: 10 }, (_, i) => i * 0.3 - 1);
      const want = f(times.slice());
      const inPlace = times.slice();
      expect(f(inPlace, { out: inPlace })).toBe(inPlace);
      expect([...inPlace]).toEqual([...want]);
      for (const shift of [-3, 3]) {
        const buffer = new Float64Array(16);
        const at = shift < 0 ? 3 : 0;
        buffer.set(times, at);
        const t = buffer.subarray(at, at + 10);
        const out = buffer.subarray(at + shift, at + shift + 10);
        f(t, { out });
        expect([...out]).toEqual([...want]);
      }
      const out = new Float64Array(10);
      f(times, { out });
      expect([...out]).toEqual([...want]);
    }
  });

  test('localEnergy, fractalStep and fractalTransform: an out overlapping the input reads it as it was', () => {
    use();
    const r = Float64Array.from({ length: 12 }, (_, i) => 0.25 + i * 0.4);
    const wantE = localEnergy(r);
    const bufferE = new Float64Array(20);
    bufferE.set(r, 0);
    expect([...localEnergy(bufferE.subarray(0, 12), { out: bufferE.subarray(5, 17) })]).toEqual([...wantE]);
    const sameE = r.slice();
    expect([...localEnergy(sameE, { out: sameE })]).toEqual([...wantE]);

    const z = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 8);
    const wantZ = fractalStep(z, 0.2);
    const bufferZ = new Float32Array(20);
    bufferZ.set(z, 4);
    expect([...fractalStep(bufferZ.subarray(4, 16), 0.2, { out: bufferZ.subarray(0, 12) })]).toEqual([...wantZ]);

    const big = Float32Array.from({ length: 12 }, (_, i) => (i - 6) * 0.4); // rescaled first
    for (const zIn of [z, big]) {
      const wantT = fractalTransform(zIn, { steps: 3 });
      const buffer = new Float32Array(20);
      buffer.set(zIn, 0);
      const got = fractalTransform(buffer.subarray(0, 12), { steps: 3, out: buffer.subarray(7, 19) });
      expect([...got]).toEqual([...wantT]);
      const same = zIn.slice();
      expect([...fractalTransform(same, { steps: 3, out: same })]).toEqual([...wantT]);
    }
  });

  test('hermitianEigenvalues: an out inside the matrix is computed from a copy of it', () => {
    use();
    const re = Float64Array.of(2, 0.5, -0.25, 0.5, 1, 0.125, -0.25, 0.125, -1);
    const im = Float64Array.of(0, 0.3, -0.1, -0.3, 0, 0.2, 0.1, -0.2, 0);
    const want = hermitianEigenvalues(re, im);
    const buffer = new Float64Array(9);
    buffer.set(re);
    expect([...hermitianEigenvalues(buffer, im, { out: buffer.subarray(3, 6) })]).toEqual([...want]);
    const imBuffer = im.slice();
    expect([...hermitianEigenvalues(re, imBuffer, { out: imBuffer.subarray(0, 3) })]).toEqual([...want]);
  });

  test('matmul, energyFlowStep, laplacian: an overlapping out is rejected naming both, nothing written', () => {
    use();
    const a = new Float32Array(12).fill(1);
    const buffer = new Float32Array(24);
    const check = (f: () => unknown, parameter: string, other: string) => {
      const snapshot = buffer.slice();
      expect(f).toThrow(CimmArgumentError);
      expect(f).toThrow(expect.objectContaining({ parameter }));
      expect(f).toThrow(new RegExp(`that does not overlap ${other} for ${parameter}`));
      expect([...buffer]).toEqual([...snapshot]);
    };
    const b = buffer.subarray(0, 12);
    b.fill(0.5);
    check(() => matmul(a, b, { m: 3, n: 3, k: 4 }, { out: buffer.subarray(8, 17) }), 'out', 'b');
    check(() => matmul(b, a, { m: 3, n: 3, k: 4 }, { out: buffer.subarray(0, 9) }), 'out', 'a');
    const disjoint = matmul(b, a, { m: 3, n: 3, k: 4 }, { out: buffer.subarray(12, 21) });
    expect([...disjoint]).toEqual(new Array(9).fill(2));

    const grid = new Float64Array(40);
    const energy = grid.subarray(0, 12).fill(1);
    const zeros = new Float64Array(12);
    const opts = { nx: 4, ny: 3, dt: 0.1 };
    expect(() => energyFlowStep(energy, zeros, zeros, { ...opts, out: grid.subarray(6, 18) })).toThrow(
      'Expected a Float64Array that does not overlap energy for out but received Float64Array(12)',
    );
    expect(() => energyFlowStep(zeros, energy, zeros, { ...opts, out: energy })).toThrow(
      'does not overlap potential for out',
    );
    expect(() => laplacian(energy, { nx: 4, ny: 3, out: energy })).toThrow(
      expect.objectContaining({ parameter: 'out', message: expect.stringMatching(/does not overlap energy for out/) }),
    );
    expect([...laplacian(energy, { nx: 4, ny: 3, out: grid.subarray(12, 24) })]).toEqual(new Array(12).fill(0));
  });

  test('views of one SharedArrayBuffer through two objects: copied where the input may be copied', () => {
    use();
    const sab = new SharedArrayBuffer(9 * 8);
    const buffer = new Float64Array(sab);
    buffer.set(Array.from({ length: 9 }, (_, i) => i * 0.5));
    const want = coupling(buffer.slice(0, 6));
    const clone = new Float64Array(structuredClone(sab)); // the same memory, another object
    const got = coupling(buffer.subarray(0, 6), { out: clone.subarray(3, 9) });
    expect([...got]).toEqual([...want]);
    expect([...buffer.subarray(3, 9)]).toEqual([...want]);
    // matmul's a may be copied: computed, not refused
    const m = new Float32Array(new SharedArrayBuffer(16 * 4));
    m.set([1, 2, 3, 4]);
    const m2 = new Float32Array(structuredClone(m.buffer as SharedArrayBuffer));
    const c = matmul(m.subarray(0, 4), Float32Array.of(1, 0, 0, 1), { m: 2, n: 2, k: 2 }, { out: m2.subarray(2, 6) });
    expect([...c]).toEqual([1, 2, 3, 4]);
  });
});

describe.each(backends.map((b) => [b.name, b.kernels] as const))('the nn layers [%s]', (_backend, k) => {
  test('Dense: its own output as its input is rejected naming input; gradients from its own buffer work', () => {
    for (const activation of ['tanh', 'identity'] as const) {
      const layer = new Dense({ inputSize: 4, outputSize: 4, activation, seed: 1, kernels: k });
      const x = Float32Array.from({ length: 8 }, (_, i) => (i - 4) / 5);
      const y = layer.forward(x, 2);
      const before = y.slice();
      expect(() => layer.forward(y, 2)).toThrow(
        expect.objectContaining({
          parameter: 'input',
          message: expect.stringMatching(/does not overlap the layer output/),
        }),
      );
      expect([...y]).toEqual([...before]);
      // backward with a gradient that lives in the layer's own input-gradient buffer
      const twin = new Dense({ inputSize: 4, outputSize: 4, activation, seed: 1, kernels: k });
      twin.forward(x, 2);
      const g = Float32Array.from({ length: 8 }, (_, i) => (i % 3) - 1);
      const want = twin.backward(g).slice();
      const wantWeight = twin.gradWeight.slice();
      const first = layer.backward(g); // the layer's gradIn buffer
      first.set(g);
      if (activation === 'identity') {
        expect(() => layer.backward(first)).toThrow(expect.objectContaining({ parameter: 'gradOutput' }));
      } else {
        // read through gradPre first: no matmul reads it, so it is allowed, and gives the plain result
        const got = layer.backward(first);
        expect([...got]).toEqual([...want]);
        expect([...layer.gradWeight]).toEqual([...wantWeight]);
      }
    }
  });

  test('Activation: in place on its own output, a partial overlap reads a copy', () => {
    const layer = new Activation({ size: 6, activation: 'tanh', kernels: k });
    const x = Float32Array.from({ length: 6 }, (_, i) => i / 3 - 1);
    const once = layer.forward(x, 1).slice();
    const twice = new Activation({ size: 6, activation: 'tanh', kernels: k }).forward(once, 1).slice();
    const out = layer.forward(x, 1);
    expect([...layer.forward(out, 1)]).toEqual([...twice]); // its own output, in place
    const buffer = new Float32Array(12);
    buffer.set(x, 3);
    const partial = new Activation({ size: 6, activation: 'tanh', kernels: k });
    expect([...partial.forward(buffer.subarray(3, 9), 1)]).toEqual([...once]);
  });

  test('FractalLayer: its own output as its input is rejected naming input', () => {
    const layer = new FractalLayer({ inputSize: 4, outputSize: 4, seed: 2, kernels: k });
    const x = Float32Array.from({ length: 8 }, (_, i) => (i - 4) / 5);
    const y = layer.forward(x, 2);
    expect(() => layer.forward(y, 2)).toThrow(expect.objectContaining({ parameter: 'input' }));
  });
});

describe('separate', () => {
  test('names the caller’s parameters, returns the same object when nothing is copied', () => {
    const buffer = new Float32Array(8);
    const arrays = { a: buffer.subarray(0, 4), b: new Float32Array(4), c: buffer.subarray(2, 6) };
    expect(() => separate('matmul', arrays, { names: { c: 'out' } })).toThrow(
      'Expected a Float32Array that does not overlap a for out but received Float32Array(4)',
    );
    const apart = { a: buffer.subarray(0, 4), b: new Float32Array(4), c: buffer.subarray(4, 8) };
    expect(separate('matmul', apart)).toBe(apart);
    const t = new Float64Array(4);
    const same = { t, out: t };
    expect(separate('coupling', same)).toBe(same);
    expect(separate('coupling', { t, out: undefined }).t).toBe(t);
  });

  test('a write/write pair that may be one SharedArrayBuffer is refused, saying why', () => {
    const sab = new SharedArrayBuffer(64);
    const params = new Float32Array(sab, 0, 8);
    const momentumBuffer = new Float32Array(structuredClone(sab), 0, 8);
    expect(() => separate('sgdStep', { params, grads: new Float32Array(8), momentumBuffer })).toThrow(
      /does not overlap params \(another SharedArrayBuffer object of its length, maybe the same memory\)/,
    );
    // a read-only one is copied instead
    const grads = new Float32Array(structuredClone(sab), 0, 8);
    const r = separate('sgdStep', { params, grads, momentumBuffer: new Float32Array(8) });
    expect(r.grads).not.toBe(grads);
    expect(r.grads!.buffer).toBeInstanceOf(ArrayBuffer);
  });
});

// ---------------------------------------------------------------------------------------
// What a backend sees

describe('a backend sees only what the table allows', () => {
  const violations: string[] = [];
  /** The js kernels, each call checked against the table before it runs. */
  const watched = Object.fromEntries(
    Object.entries(jsKernels).map(([name, f]) => {
      if (typeof f !== 'function' || !(name in KERNEL_ALIASING)) return [name, f];
      const parameters = parameterNames(f);
      const pairs = KERNEL_ALIASING[name as AliasedKernel].pairs as readonly (readonly [string, string, AliasRule])[];
      return [
        name,
        (...args: unknown[]) => {
          for (const [first, second, rule] of pairs) {
            const a = args[parameters.indexOf(first)];
            const b = args[parameters.indexOf(second)];
            if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) continue;
            const how = overlapOf(a, b);
            if (how !== 'disjoint' && !(how === 'same' && rule === 'inPlace')) {
              violations.push(`${name}: ${first} and ${second} (${how})`);
            }
          }
          return (f as (...a: unknown[]) => unknown)(...args);
        },
      ];
    }),
  ) as unknown as Kernels;

  beforeAll(() => {
    registerBackend({ name: 'js', priority: 1, load: () => watched, remedy: '' });
    setBackend('js');
  });
  beforeEach(() => {
    violations.length = 0;
  });
  afterAll(() => {
    registerBackend({ name: 'js', priority: 1, load: () => jsKernels, remedy: '' });
    setBackend(initialBackend);
  });

  test('the watcher sees a forbidden call', () => {
    const buffer = new Float64Array(9);
    activeKernels().coupling(
      buffer.subarray(0, 6),
      { alpha: 1, beta: 0, gamma: 1, lambdaCosmo: 0 },
      buffer.subarray(3, 9),
    );
    expect(violations).toEqual(['coupling: t and out (partial)']);
  });

  test('the facade functions, with every overlap of their arrays', () => {
    expect(activeKernels()).toBe(watched);
    const attempt = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        if (!(error instanceof CimmArgumentError)) throw error;
      }
    };
    for (const shift of [-3, 0, 3, 12]) {
      const f64 = new Float64Array(40).map((_, i) => 0.5 + i * 0.1);
      const f32 = new Float32Array(40).map((_, i) => (i - 20) / 50);
      const at = 12;
      const t = f64.subarray(at, at + 9);
      const out64 = f64.subarray(at + shift, at + shift + 9);
      attempt(() => coupling(t, { out: out64 }));
      attempt(() => scaleTransition(t, { out: out64 }));
      attempt(() => localEnergy(t, { out: out64 }));
      attempt(() => laplacian(t, { nx: 3, ny: 3, out: out64 }));
      attempt(() => energyFlowStep(t, t, t, { nx: 3, ny: 3, dt: 0.01, out: out64 }));
      attempt(() =>
        energyFlowStep(new Float64Array(9), t, new Float64Array(9), { nx: 3, ny: 3, dt: 0.01, out: out64 }),
      );
      const re = Float64Array.of(2, 0.5, 0.5, 1, 0, 0, 0, 0, 0);
      const sym = f64.subarray(at, at + 4);
      sym.set(re.subarray(0, 4));
      attempt(() => hermitianEigenvalues(sym, null, { out: f64.subarray(at + shift, at + shift + 2) }));
      const z = f32.subarray(at, at + 9);
      const out32 = f32.subarray(at + shift, at + shift + 9);
      attempt(() => fractalStep(z, 0.2, { out: out32 }));
      attempt(() => fractalTransform(z, { steps: 2, out: out32 }));
      z.set(new Float32Array(9).fill(3)); // rescaled first
      attempt(() => fractalTransform(z, { steps: 2, out: out32 }));
      attempt(() => matmul(z, z, { m: 3, n: 3, k: 3 }, { out: out32 }));
    }
    expect(violations).toEqual([]);
  });

  test('nn layers and optimizers over a few training steps, and layers fed their own buffers', () => {
    const model = new Sequential([
      new Dense({ inputSize: 4, outputSize: 6, activation: 'tanh', seed: 1 }),
      new Activation({ size: 6, activation: 'relu' }),
      new FractalLayer({ inputSize: 6, outputSize: 5, seed: 2 }),
      new Dense({ inputSize: 5, outputSize: 2, seed: 3 }),
    ]);
    const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const target = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i) / 2);
    const mse = new MeanSquaredError();
    const g = new Float32Array(16);
    for (const opt of [
      new Adam({ learningRate: 0.01, amsgrad: true }),
      new SGD({ learningRate: 0.01, momentum: 0.9 }),
      new Prodigy(),
    ]) {
      for (let i = 0; i < 3; i++) {
        mse.evaluate(model.forward(x, 8), target, 8, g);
        model.backward(g);
        opt.step(model.params, model.grads);
        model.afterUpdate();
      }
    }
    const square = new Dense({ inputSize: 4, outputSize: 4, activation: 'sigmoid', seed: 4 });
    const y = square.forward(x.subarray(0, 8), 2);
    expect(() => square.forward(y, 2)).toThrow(CimmArgumentError);
    square.backward(square.backward(y));
    const act = new Activation({ size: 8, activation: 'tanh' });
    const out = act.forward(x.subarray(0, 8), 1);
    act.forward(out, 1);
    act.backward(act.backward(out));
    expect(violations).toEqual([]);
  });
});
