/**
 * The measured optimizer steps (docs/theory.md, "Determinism: the updateEnergy kernel"):
 * sgdStepMeasured and adamStepMeasured make the step and its measurement — the parameters
 * before it and updateEnergy's three sums after it — in one pass. Tolerance: none. On every
 * backend they equal the generic path (a snapshot copy, the plain step, updateEnergy) bit for
 * bit, and the js reference bit for bit: parameters, state, snapshot, finiteness, sums. Swept:
 * lengths 0, around the SIMD width 8, the block 16 and the sums' range split, views at offsets
 * into larger buffers, every optimizer option, several steps; arrays split over threads.
 * updateSlope equals updateEnergy's second sum bit for bit.
 *
 * Above the kernels: Optimizer.measuredStep (fused for SGD, Adam, AdamW; generic for the
 * others) equals the generic path bit for bit, validates before writing (aliasing with the
 * parameters, the gradients or the optimizer's state is rejected naming the argument), and
 * the entropy-balanced trajectory with the fused path equals the generic one and is identical
 * on js, Rust and C++.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { backendInfo, setBackend } from '../lib/backend.js';
import {
  Adam,
  AdamW,
  CimmDivergenceError,
  EntropyBalancedOptimizer,
  Prodigy,
  SGD,
  type TensorMap,
} from '../lib/index.js';
import type { AdamStepMeasuredOptions, BackendName, Kernels, SgdStepOptions } from '../lib/kernels.js';
import type { Optimizer, OptimizerOptions } from '../lib/optim/optimizer.js';
import { atOffset, backends, describeEachBackend, expectError, reference, values } from './helpers.js';

// ---------------------------------------------------------------------------------------
// Helpers.

const EMPTY = new Float32Array(0);
const bits = (a: Float32Array | Float64Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4)];
const sumBits = (a: Float64Array) => [...a].map((x) => (Object.is(x, -0) ? '-0' : x.toString()));
const squares = (n: number, seed: number) => values(n, seed, 2).map((x) => x * x);

/** Around the SIMD width 8, the block 16, a range of the sums' split (2¹⁵). */
const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 255, 257, 1000, 1003, 32_768 + 5];

const SGD_OPTIONS: Omit<SgdStepOptions, 'firstStep'>[] = [
  { learningRate: 0.05, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
  { learningRate: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
  { learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false, maximize: false },
  { learningRate: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, maximize: true },
  { learningRate: 0.05, momentum: 0.5, dampening: 0, weightDecay: 0.3, nesterov: true, maximize: false },
  { learningRate: 0.05, momentum: 0, dampening: 0, weightDecay: 0.3, nesterov: false, maximize: true },
];

/** Adam's options at step t (bias corrections and metric in f64, as lib/optim/adam.ts forms them). */
function adamOptions(o: { weightDecay?: number; decay?: number; amsgrad?: boolean; maximize?: boolean }, t: number) {
  const [lr, b1, b2, eps] = [1e-2, 0.9, 0.999, 1e-8];
  return {
    beta1: b1,
    beta2: b2,
    stepSize: lr / (1 - b1 ** t),
    bc2Sqrt: Math.sqrt(1 - b2 ** t),
    epsilon: eps,
    weightDecay: o.weightDecay ?? 0,
    decay: o.decay ?? 1,
    amsgrad: o.amsgrad ?? false,
    maximize: o.maximize ?? false,
    metricScale: 1 / Math.sqrt(1 - b2 ** t),
    metricEpsilon: eps,
  } satisfies AdamStepMeasuredOptions;
}

const ADAM_FORMS = [
  {},
  { weightDecay: 0.1 },
  { amsgrad: true },
  { decay: 1 - 1e-2 * 1e-2 },
  { decay: 1 - 1e-3, amsgrad: true, maximize: true },
  { weightDecay: 0.05, amsgrad: true, maximize: true },
];

/** The generic path on kernels k: copy, the plain step, updateEnergy. */
function genericSgd(
  k: Kernels,
  p: Float32Array,
  g: Float32Array,
  b: Float32Array,
  before: Float32Array,
  o: SgdStepOptions,
  out: Float64Array,
): boolean {
  before.set(p);
  const buffer = o.momentum !== 0 ? b : EMPTY;
  const { learningRate, momentum, dampening, weightDecay, nesterov, maximize, firstStep } = o;
  const ok = k.sgdStep(p, g, buffer, { learningRate, momentum, dampening, weightDecay, nesterov, maximize, firstStep });
  k.updateEnergy(before, p, g, EMPTY, { metricScale: 1, epsilon: 0 }, out);
  return ok;
}

function genericAdam(
  k: Kernels,
  p: Float32Array,
  g: Float32Array,
  s: { m: Float32Array; v: Float32Array; w: Float32Array },
  before: Float32Array,
  o: AdamStepMeasuredOptions,
  out: Float64Array,
): boolean {
  before.set(p);
  const w = o.amsgrad ? s.w : EMPTY;
  const { beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize } = o;
  const ok = k.adamStep(p, g, s.m, s.v, w, {
    beta1,
    beta2,
    stepSize,
    bc2Sqrt,
    epsilon,
    weightDecay,
    decay,
    amsgrad,
    maximize,
  });
  k.updateEnergy(before, p, g, amsgrad ? s.w : s.v, { metricScale: o.metricScale, epsilon: o.metricEpsilon }, out);
  return ok;
}

/** One SGD run (3 steps, the first initializing the buffer) on kernels k, views at `offset`. */
function sgdRun(k: Kernels, n: number, o: (typeof SGD_OPTIONS)[number], measured: boolean, offset = 0) {
  const place = (a: Float32Array) => (offset ? atOffset(a, offset) : a);
  const p = place(values(n, 1, 4));
  const b = place(values(n, 2, 1));
  const before = place(new Float32Array(n).fill(Number.NaN));
  const record: (string | boolean)[][] = [];
  for (let t = 1; t <= 3; t++) {
    const g = place(values(n, 10 + t, 4));
    const out = new Float64Array(3);
    const options = { ...o, firstStep: t === 1 };
    const ok = measured
      ? k.sgdStepMeasured(p, g, o.momentum !== 0 ? b : EMPTY, before, options, out)
      : genericSgd(k, p, g, b, before, options, out);
    record.push([ok, ...sumBits(out)]);
  }
  return { p: bits(p), b: bits(b), before: bits(before), record };
}

function adamRun(k: Kernels, n: number, form: (typeof ADAM_FORMS)[number], measured: boolean, offset = 0) {
  const place = (a: Float32Array) => (offset ? atOffset(a, offset) : a);
  const p = place(values(n, 3, 4));
  const s = { m: place(values(n, 4, 0.5)), v: place(squares(n, 5)), w: place(squares(n, 6)) };
  const before = place(new Float32Array(n).fill(Number.NaN));
  const record: (string | boolean)[][] = [];
  for (let t = 1; t <= 3; t++) {
    const g = place(values(n, 20 + t, 4));
    const out = new Float64Array(3);
    const o = adamOptions(form, t);
    const ok = measured
      ? k.adamStepMeasured(p, g, s.m, s.v, o.amsgrad ? s.w : EMPTY, before, o, out)
      : genericAdam(k, p, g, s, before, o, out);
    record.push([ok, ...sumBits(out)]);
  }
  return { p: bits(p), m: bits(s.m), v: bits(s.v), w: bits(s.w), before: bits(before), record };
}

/** An optimizer forced onto the generic path (copy, step, updateEnergy) of measuredStep. */
function generic<T extends Optimizer<OptimizerOptions>>(opt: T): T {
  Object.defineProperty(opt, 'fusesMeasurement', { get: () => false });
  return opt;
}

// ---------------------------------------------------------------------------------------
// The kernels.

describe('updateSlope and the measured kernels: the js reference', () => {
  test('updateSlope is updateEnergy’s second sum, bit for bit (fast-check)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e15), max: Math.fround(1e15) });
    fc.assert(
      fc.property(fc.array(fc.tuple(f32, f32, f32), { maxLength: 300 }), (rows) => {
        const col = (j: number) => Float32Array.from(rows, (r) => r[j]);
        const out = new Float64Array(3);
        reference.updateEnergy(col(0), col(1), col(2), EMPTY, { metricScale: 1, epsilon: 0 }, out);
        expect(Object.is(reference.updateSlope(col(0), col(1), col(2)), out[1])).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('by hand: one SGD step and its sums', () => {
    // p = (1, 2), g = (2, −4), η = 0.5: Δ = (−1, 2), Σ Δ² = 5, Σ gΔ = −2 − 8 = −10, Σ |gΔ| = 10
    const p = Float32Array.of(1, 2);
    const before = new Float32Array(2);
    const out = new Float64Array(3);
    const o = { learningRate: 0.5, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    expect(reference.sgdStepMeasured(p, Float32Array.of(2, -4), EMPTY, before, { ...o, firstStep: true }, out)).toBe(
      true,
    );
    expect([...p, ...before, ...out]).toEqual([0, 4, 1, 2, 5, -10, 10]);
  });
});

describeEachBackend('measured optimizer kernels', ({ name, kernels: k }) => {
  test('sgdStepMeasured = snapshot + sgdStep + updateEnergy, bit for bit (every option, 3 steps, at offsets)', () => {
    for (const n of LENGTHS) {
      for (const o of SGD_OPTIONS) {
        const want = sgdRun(k, n, o, false);
        expect(sgdRun(k, n, o, true), `n=${n} ${JSON.stringify(o)}`).toEqual(want);
        expect(sgdRun(reference, n, o, true), `js n=${n}`).toEqual(want);
        if (n % 16 === 1) expect(sgdRun(k, n, o, true, 3), `n=${n} at an offset`).toEqual(want);
      }
    }
  });

  test('adamStepMeasured = snapshot + adamStep + updateEnergy in its metric, bit for bit (Adam, L2, AdamW, AMSGrad, maximize)', () => {
    for (const n of LENGTHS) {
      for (const form of ADAM_FORMS) {
        const want = adamRun(k, n, form, false);
        expect(adamRun(k, n, form, true), `n=${n} ${JSON.stringify(form)}`).toEqual(want);
        expect(adamRun(reference, n, form, true), `js n=${n}`).toEqual(want);
        if (n % 16 === 1) expect(adamRun(k, n, form, true, 5), `n=${n} at an offset`).toEqual(want);
      }
    }
  });

  test('arrays split over threads (n = 2^18 + 17 and 10^6 + 3) give the js reference’s bits', () => {
    for (const n of [(1 << 18) + 17, 1_000_003]) {
      expect(adamRun(k, n, ADAM_FORMS[4], true)).toEqual(adamRun(reference, n, ADAM_FORMS[4], true));
      expect(sgdRun(k, n, SGD_OPTIONS[2], true)).toEqual(sgdRun(reference, n, SGD_OPTIONS[2], true));
      const [b, a, g] = [values(n, 1, 4), values(n, 2, 4), values(n, 3, 4)];
      expect(Object.is(k.updateSlope(b, a, g), reference.updateSlope(b, a, g))).toBe(true);
    }
  });

  test('updateSlope = updateEnergy’s second sum, bit for bit, around the SIMD width and at offsets', () => {
    for (const n of LENGTHS) {
      const [b, a, g] = [values(n, 7, 4), values(n, 8, 4), values(n, 9, 10)];
      const out = new Float64Array(3);
      k.updateEnergy(b, a, g, EMPTY, { metricScale: 1, epsilon: 0 }, out);
      expect(Object.is(k.updateSlope(b, a, g), out[1]), `n=${n}`).toBe(true);
      expect(Object.is(k.updateSlope(atOffset(b, 1), atOffset(a, 2), atOffset(g, 3)), out[1])).toBe(true);
      expect(Object.is(reference.updateSlope(b, a, g), out[1])).toBe(true);
    }
  });

  test('random steps (fast-check): subnormal, huge and signed-zero values', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(f32, f32, f32), { maxLength: 70 }),
        fc.integer({ min: 0, max: ADAM_FORMS.length - 1 }),
        fc.integer({ min: 0, max: SGD_OPTIONS.length - 1 }),
        (rows, ai, si) => {
          const col = (j: number) => Float32Array.from(rows, (r) => r[j]);
          const run = (kk: Kernels) => {
            const [p, g, m] = [col(0), col(1), col(2)];
            const [v, w, q, out] = [
              m.map(Math.abs),
              m.map((x) => x * x),
              new Float32Array(p.length),
              new Float64Array(3),
            ];
            const o = adamOptions(ADAM_FORMS[ai], 2);
            const okA = kk.adamStepMeasured(p, g, m, v, o.amsgrad ? w : EMPTY, q, o, out);
            const first = [okA, ...bits(p), ...bits(m), ...bits(v), ...bits(w), ...bits(q), ...sumBits(out)];
            const [p2, b2, q2, out2] = [col(0), col(2), new Float32Array(p.length), new Float64Array(3)];
            const so = { ...SGD_OPTIONS[si], firstStep: false };
            const okS = kk.sgdStepMeasured(p2, g, so.momentum ? b2 : EMPTY, q2, so, out2);
            return [...first, okS, ...bits(p2), ...bits(b2), ...bits(q2), ...sumBits(out2)];
          };
          expect(run(k)).toEqual(run(reference));
        },
      ),
      { numRuns: 100 },
    );
  });

  test('an update that overflows completes and returns false', () => {
    const p = Float32Array.from({ length: 20 }, (_, i) => (i === 19 ? 3e38 : 1));
    const g = Float32Array.from({ length: 20 }, (_, i) => (i === 19 ? -1e10 : 0));
    const before = new Float32Array(20);
    const o = { learningRate: 1e30, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    expect(k.sgdStepMeasured(p, g, EMPTY, before, { ...o, firstStep: true }, new Float64Array(3))).toBe(false);
    expect(p[19]).toBe(Number.POSITIVE_INFINITY);
    expect(before[19]).toBe(Math.fround(3e38));
  });

  if (name !== 'js') {
    test('native argument errors name the parameter; the options are read once each, first', () => {
      const n = 4;
      const [p, g, m, v, q] = [1, 2, 3, 4, 5].map(() => new Float32Array(n));
      const out = new Float64Array(3);
      const o = adamOptions({}, 1);
      expectError(() => k.adamStepMeasured(p, g, m, v, EMPTY, new Float32Array(3), o, out), 'before');
      expectError(() => k.adamStepMeasured(p, g, m, v, EMPTY, q, { ...o, beta1: 'x' } as never, out), 'options.beta1');
      expectError(
        () => k.adamStepMeasured(p, g, m, v, EMPTY, q, { ...o, amsgrad: 1 } as never, out),
        'options.amsgrad',
      );
      expectError(() => k.adamStepMeasured(p, g, m, v, EMPTY, q, null as never, out), 'options');
      expectError(() => k.adamStepMeasured(p, g, m, v, EMPTY, q, o, new Float64Array(2)), 'out');
      expectError(() => k.adamStepMeasured(p, g, m, v, EMPTY, p, o, out), 'before');
      const shared = new Float32Array(2 * n);
      expectError(
        () => k.adamStepMeasured(shared.subarray(0, n), g, m, v, EMPTY, shared.subarray(2, 2 + n), o, out),
        'before',
      );
      const bytes = new ArrayBuffer(64);
      expectError(
        () => k.adamStepMeasured(new Float32Array(bytes, 0, n), g, m, v, EMPTY, q, o, new Float64Array(bytes, 8, 3)),
        'out',
      );
      const s = { learningRate: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
      expectError(() => k.sgdStepMeasured(p, g, EMPTY, q, { ...s, firstStep: true }, out), 'momentumBuffer');
      expectError(() => k.sgdStepMeasured(p, g, m, q, { ...s, firstStep: 'no' } as never, out), 'options.firstStep');
      expectError(
        () => k.sgdStepMeasured(p, g, m, new Float64Array(n) as never, { ...s, firstStep: true }, out),
        'before',
      );
      expectError(() => k.updateSlope(p, g, new Float32Array(3)), 'grads');
      // every field read exactly once, before any array is used; a getter's exception propagates
      const reads = new Map<string, number>();
      const counted = new Proxy(o, {
        get: (target, key) => {
          reads.set(String(key), (reads.get(String(key)) ?? 0) + 1);
          return target[key as keyof typeof target];
        },
      });
      expect(k.adamStepMeasured(p, g, m, v, EMPTY, q, counted, out)).toBe(true);
      expect([...reads.values()].every((c) => c === 1)).toBe(true);
      expect(reads.size).toBe(Object.keys(o).length);
      const throwing = Object.defineProperty({ ...o }, 'beta2', {
        get: () => {
          throw new RangeError('from a getter');
        },
      });
      expect(() => k.adamStepMeasured(p, g, m, v, EMPTY, q, throwing, out)).toThrow('from a getter');
    });
  }
});

// ---------------------------------------------------------------------------------------
// Optimizer.measuredStep.

/** Three tensors (lengths off the SIMD width), their gradients and snapshot buffers. */
function problem() {
  const params: TensorMap = { w: values(37, 31, 2), b: values(5, 32, 2), big: values(1003, 33, 2) };
  const zeros = () => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
  return { params, grads: zeros() as TensorMap, before: zeros() as TensorMap };
}

function measuredRun(make: () => Optimizer<OptimizerOptions>, steps: number, force = false) {
  const opt = force ? generic(make()) : make();
  const { params, grads, before } = problem();
  const sums = new Float64Array(9);
  const record: string[][] = [];
  for (let t = 1; t <= steps; t++) {
    for (const k of Object.keys(params)) {
      for (let i = 0; i < params[k].length; i++) grads[k][i] = params[k][i] * (1 + (i % 3)) + Math.sin(i + t);
    }
    opt.measuredStep(params, grads, before, sums);
    record.push(sumBits(sums));
  }
  const tensors = Object.values(opt.state().tensors).map(bits);
  return { params: Object.values(params).map(bits), before: Object.values(before).map(bits), tensors, record };
}

const OPTIMIZERS: [string, () => Optimizer<OptimizerOptions>][] = [
  ['SGD', () => new SGD({ learningRate: 0.02 })],
  ['SGD momentum', () => new SGD({ learningRate: 0.02, momentum: 0.9, dampening: 0.2, weightDecay: 1e-3 })],
  ['SGD Nesterov maximize', () => new SGD({ learningRate: 0.01, momentum: 0.9, nesterov: true, maximize: true })],
  ['Adam', () => new Adam({ learningRate: 0.01 })],
  ['Adam L2 AMSGrad', () => new Adam({ learningRate: 0.01, weightDecay: 0.1, amsgrad: true })],
  ['AdamW maximize', () => new AdamW({ learningRate: 0.01, maximize: true })],
  [
    'Adam groups',
    () => new Adam({ learningRate: 0.01, groups: [{ params: ['b'], amsgrad: true, beta2: 0.9, epsilon: 1e-3 }] }),
  ],
  ['Prodigy (generic)', () => new Prodigy({ learningRate: 1 })],
];

describe('Optimizer.measuredStep', () => {
  const original = backendInfo().name;
  afterEach(() => setBackend(original));

  test('the fused path equals the generic path bit for bit, on every backend (params, state, snapshot, sums)', () => {
    for (const [label, make] of OPTIMIZERS) {
      setBackend('js');
      const want = measuredRun(make, 4, true);
      for (const { name } of backends) {
        setBackend(name as BackendName);
        expect(measuredRun(make, 4), `${label} on ${name}`).toEqual(want);
        expect(measuredRun(make, 4, true), `${label} on ${name} (generic)`).toEqual(want);
      }
    }
  });

  test('the sums are updateEnergy’s in stepMetric() (weight not applied), in params order', () => {
    const opt = new SGD({ learningRate: 0.1, momentum: 0.5 });
    const params: TensorMap = { a: Float32Array.of(1, 2), c: Float32Array.of(-1) };
    const grads: TensorMap = { a: Float32Array.of(1, -2), c: Float32Array.of(4) };
    const before: TensorMap = { a: new Float32Array(2), c: new Float32Array(1) };
    const sums = new Float64Array(6);
    opt.measuredStep(params, grads, before, sums);
    const out = new Float64Array(3);
    reference.updateEnergy(before.a, params.a, grads.a, EMPTY, { metricScale: 1, epsilon: 0 }, out);
    expect([...sums.subarray(0, 3)]).toEqual([...out]);
    reference.updateEnergy(before.c, params.c, grads.c, EMPTY, { metricScale: 1, epsilon: 0 }, out);
    expect([...sums.subarray(3, 6)]).toEqual([...out]);
    expect(opt.stepMetric('a').weight).toBe(0.5); // the caller applies it
  });

  test('bad arguments and aliasing are rejected naming the argument, before anything changes', () => {
    const opt = new Adam({ learningRate: 0.01 });
    const { params, grads, before } = problem();
    const sums = new Float64Array(9);
    opt.measuredStep(params, grads, before, sums); // state exists now
    const snapshot = () =>
      JSON.stringify([Object.values(params).map(bits), Object.values(opt.state().tensors).map(bits)]);
    const was = snapshot();
    const without = { w: before.w, b: before.b };
    expectError(() => opt.measuredStep(params, grads, without as TensorMap, sums), 'before["big"]');
    expectError(() => opt.measuredStep(params, grads, { ...before, b: new Float32Array(4) }, sums), 'before["b"]');
    expectError(() => opt.measuredStep(params, grads, before, new Float64Array(8)), 'sums');
    expectError(() => opt.measuredStep(params, grads, before, new Float32Array(9) as never), 'sums');
    expectError(
      () => opt.measuredStep(params, grads, { ...before, w: params.w }, sums),
      'before["w"]',
      /does not share memory with params\["w"\]/,
    );
    expectError(() => opt.measuredStep(params, grads, { ...before, b: grads.b }, sums), 'before["b"]');
    const m = opt.slotView('w')!.slots.m;
    expectError(
      () => opt.measuredStep(params, grads, { ...before, w: m }, sums),
      'before["w"]',
      /does not share memory with the optimizer's state tensor "w\/m"/,
    );
    const bytes = new ArrayBuffer(params.big.length * 4 + 72);
    const p = new Float32Array(bytes, 0, params.big.length);
    p.set(params.big);
    const overlapping = new Float64Array(bytes, 4000, 9); // over the last three floats of p
    expectError(() => opt.measuredStep({ ...params, big: p }, grads, before, overlapping), 'sums');
    const bad = { ...grads, w: grads.w.slice() };
    bad.w[3] = Number.NaN;
    expectError(() => opt.measuredStep(params, bad, before, sums), 'grads["w"]');
    expect(snapshot()).toBe(was);
    expect(opt.iterations).toBe(1);
  });

  test('a divergence completes the step, writes the snapshot and sums, and throws', () => {
    for (const force of [false, true]) {
      const opt = new SGD({ learningRate: 1e30 });
      if (force) generic(opt);
      const params: TensorMap = { w: Float32Array.of(1, 3e38) };
      const before: TensorMap = { w: new Float32Array(2) };
      const sums = new Float64Array(3).fill(Number.NaN);
      expect(() => opt.measuredStep(params, { w: Float32Array.of(0, -1e10) }, before, sums)).toThrow(
        CimmDivergenceError,
      );
      expect([...before.w]).toEqual([1, Math.fround(3e38)]);
      expect(params.w[1]).toBe(Number.POSITIVE_INFINITY);
      expect(sums[0]).toBe(Number.POSITIVE_INFINITY);
      expect(opt.iterations).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The entropy-balanced trajectory.

function balancedRun(config: object, backend: BackendName, force: boolean, steps = 25) {
  setBackend(backend);
  const opt = new EntropyBalancedOptimizer(config);
  if (force) generic(opt.inner);
  const params: TensorMap = { w: values(37, 41, 2), b: values(5, 42, 2), big: values(300, 43, 2) };
  const grads: TensorMap = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
  const reports: string[] = [];
  for (let t = 0; t < steps; t++) {
    let loss = 0;
    for (const k of Object.keys(params)) {
      for (let i = 0; i < params[k].length; i++) {
        const s = 0.2 + (i % 5);
        const d = params[k][i] - Math.cos(i);
        grads[k][i] = s * d;
        loss += 0.5 * s * d * d;
      }
    }
    reports.push(JSON.stringify(opt.step(params, grads, { loss })));
  }
  return { reports, params: Object.values(params).map(bits), state: [...opt.serializeState()] };
}

describe('EntropyBalancedOptimizer over the measured steps', () => {
  const original = backendInfo().name;
  afterEach(() => setBackend(original));
  // computeMeter: null, so that the reports hold no CPU-time readings (they differ run to run)
  const configs = [
    { learningRate: 0.01 },
    { base: 'sgd', baseOptions: { momentum: 0.9, dampening: 0.1 }, learningRate: 0.01 },
    { base: 'adam', learningRate: 0.01 },
    { base: 'adamw', baseOptions: { amsgrad: true, beta1: 0 }, learningRate: 0.01 },
    { base: 'adam', energyMeter: 'gradient-work', learningRate: 0.01 },
  ].map((c) => ({ ...c, computeMeter: null }));

  test('the fused trajectory equals the generic one bit for bit, and is the same on js, Rust and C++', () => {
    for (const config of configs) {
      const want = balancedRun(config, 'js', true);
      for (const { name } of backends) {
        expect(balancedRun(config, name, false), `${name} ${JSON.stringify(config)}`).toEqual(want);
        expect(balancedRun(config, name, true), `${name} generic ${JSON.stringify(config)}`).toEqual(want);
      }
    }
  });
});
