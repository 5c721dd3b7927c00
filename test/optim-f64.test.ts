/**
 * Float64 parameters in the optimizer kernels (docs/theory.md, "Float64 parameters"): every
 * kernel an optimizer calls on parameters, gradients or state — sgdStep, adamStep (Adam and
 * AdamW), the measured steps, Prodigy's two passes, updateEnergy, updateSlope,
 * firstNonFinite, l2Norm, zeroNonFinite, scaleInPlace — takes Float64Array arrays and does
 * the f32 path's operations in f64.
 *
 * Tolerance: none, except l2Norm (the natives sum over a fixed split of ranges, the js
 * reference in index order, as for f32: 1e-14 relative). On every backend the f64 results
 * equal the js reference bit for bit
 * (parameters, state, snapshots, sums, finiteness), as the f32 path does: random inputs and
 * options (fast-check), lengths around the SIMD width and the sums' block, views at offsets,
 * arrays split over threads. The f64 path is really f64 (its results are not f32 values),
 * and a call that mixes dtypes is an error naming the first array of the other dtype.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AdamStepMeasuredOptions, Kernels, SgdStepOptions } from '../lib/kernels.js';
import { atOffset, backends, describeEachBackend, expectError, reference, values64 } from './helpers.js';

/** The suite's inputs: mixed magnitudes, as the f32 suites' `values`. */
const mixed64 = (n: number, seed: number, scale: number) => values64(n, seed, scale, true);

const bits = (a: Float64Array) => [...a].map((x) => (Object.is(x, -0) ? '-0' : x.toString()));

const squares = (n: number, seed: number) => mixed64(n, seed, 2).map((x) => x * x);
const EMPTY = new Float64Array(0);

const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 33, 257, 1003, 32_768 + 5];

const SGD: Omit<SgdStepOptions, 'firstStep'>[] = [
  { learningRate: 0.05, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
  { learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false, maximize: false },
  { learningRate: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, maximize: true },
  { learningRate: 0.05, momentum: 0, dampening: 0, weightDecay: 0.3, nesterov: false, maximize: true },
];

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

const ADAM = [{}, { weightDecay: 0.1 }, { decay: 1 - 1e-2 * 0.01, amsgrad: true }, { maximize: true, amsgrad: true }];

interface State {
  p: Float64Array;
  b: Float64Array;
  m: Float64Array;
  v: Float64Array;
  w: Float64Array;
  q: Float64Array;
  s: Float64Array;
  p0: Float64Array;
  out: Float64Array;
  results: unknown[];
}

function state(n: number, seed: number, offset = 0): State {
  const at = (a: Float64Array) => (offset === 0 ? a : atOffset(a, offset));
  return {
    p: at(mixed64(n, seed, 2)),
    b: at(mixed64(n, seed + 1, 1)),
    m: at(mixed64(n, seed + 2, 0.1)),
    v: at(squares(n, seed + 3)),
    w: at(squares(n, seed + 4)),
    q: at(new Float64Array(n)),
    s: at(mixed64(n, seed + 5, 0.1)),
    p0: at(mixed64(n, seed + 6, 2)),
    out: new Float64Array(3),
    results: [],
  };
}

const snapshot = (s: State) => ({
  p: bits(s.p),
  b: bits(s.b),
  m: bits(s.m),
  v: bits(s.v),
  w: bits(s.w),
  q: bits(s.q),
  s: bits(s.s),
  results: s.results.map((r) => (Array.isArray(r) ? r.map(String) : String(r))),
});

/** Every f64 kernel an optimizer calls, several steps, on one backend; the state records everything. */
function run(k: Kernels, s: State, gradSeed: number, steps = 3): void {
  const n = s.p.length;
  for (let t = 1; t <= steps; t++) {
    const g = mixed64(n, gradSeed + t, 2);
    for (const o of SGD) {
      s.results.push(k.sgdStep(s.p, g, o.momentum !== 0 ? s.b : EMPTY, { ...o, firstStep: t === 1 }));
      s.results.push(
        k.sgdStepMeasured(s.p, g, o.momentum !== 0 ? s.b : EMPTY, s.q, { ...o, firstStep: t === 1 }, s.out),
      );
      s.results.push([...s.out]);
    }
    for (const o of ADAM) {
      const a = adamOptions(o, t);
      const w = a.amsgrad ? s.w : EMPTY;
      s.results.push(k.adamStep(s.p, g, s.m, s.v, w, a));
      s.results.push(k.adamStepMeasured(s.p, g, s.m, s.v, w, s.q, a, s.out));
      s.results.push([...s.out]);
    }
    s.results.push(
      k.prodigyAccumulate(s.p, g, s.p0, s.m, s.v, s.s, {
        beta1: 0.9,
        beta2: 0.999,
        beta3: 0.999,
        momentScale: 0.1,
        varianceScale: 0.01,
        sScale: 0.03,
        weightDecay: t === 2 ? 0.1 : 0,
      }),
    );
    s.results.push(k.prodigyUpdate(s.p, s.m, s.v, { stepSize: 0.05, epsilon: 1e-8, decay: t === 3 ? -1e-3 : 0 }));
    k.updateEnergy(s.q, s.p, g, s.v, { metricScale: 1.5, epsilon: 1e-8 }, s.out);
    s.results.push([...s.out]);
    k.updateEnergy(s.q, s.p, g, EMPTY, { metricScale: 1, epsilon: 0 }, s.out);
    s.results.push([...s.out]);
    s.results.push(k.updateSlope(s.q, s.p, g));
    s.results.push(k.firstNonFinite(s.p));
    k.scaleInPlace(g, 0.3);
    s.results.push(bits(g).join());
  }
}

describe('the js reference computes in f64 on Float64Arrays', () => {
  test('an Adam step on f64 leaves values that are not f32 values, and agrees with the same step on f32 to f32 precision', () => {
    const s64 = state(257, 3);
    const p32 = Float32Array.from(s64.p);
    const g = mixed64(257, 9, 2);
    const a = adamOptions({}, 1);
    reference.adamStep(s64.p, g, s64.m.fill(0), s64.v.fill(0), EMPTY, a);
    reference.adamStep(p32, Float32Array.from(g), new Float32Array(257), new Float32Array(257), new Float32Array(0), a);
    expect(s64.p.some((x) => Math.fround(x) !== x)).toBe(true);
    for (let i = 0; i < 257; i++)
      expect(Math.abs(s64.p[i] - p32[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(p32[i])));
  });

  test('SGD on f64 is the f64 formula exactly: p − lr·(g + λp)', () => {
    const p = Float64Array.of(0.1, -0.3, 1e-7);
    const g = Float64Array.of(0.7, 0.2, -3);
    const want = [...p].map((x, i) => x - 0.05 * (g[i] + 0.01 * x));
    reference.sgdStep(p, g, EMPTY, {
      learningRate: 0.05,
      momentum: 0,
      dampening: 0,
      weightDecay: 0.01,
      nesterov: false,
      maximize: false,
      firstStep: true,
    });
    expect([...p]).toEqual(want);
  });
});

describeEachBackend('f64 kernels equal the js reference bit for bit', ({ name, kernels }) => {
  test.skipIf(name === 'js')('every length around the SIMD width and the sums block, several steps', () => {
    for (const n of LENGTHS) {
      const [a, b] = [state(n, n + 1), state(n, n + 1)];
      run(reference, a, 100 + n);
      run(kernels, b, 100 + n);
      expect(snapshot(b), `n=${n}`).toEqual(snapshot(a));
    }
  });

  test.skipIf(name === 'js')('views at an offset into a larger buffer', () => {
    for (const n of [9, 33, 1003]) {
      const [a, b] = [state(n, 7), state(n, 7, 3)];
      run(reference, a, 5);
      run(kernels, b, 5);
      expect(snapshot(b)).toEqual(snapshot(a));
    }
  });

  test.skipIf(name === 'js')('random inputs and options (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 1e6 }),
        fc.double({ min: 1e-6, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        (n, seed, lr, momentum, weightDecay, nesterov, amsgrad) => {
          const [a, b] = [state(n, seed), state(n, seed)];
          const g = mixed64(n, seed + 11, 4);
          const sgd = {
            learningRate: lr,
            momentum,
            dampening: 0,
            weightDecay,
            nesterov: nesterov && momentum > 0,
            maximize: false,
            firstStep: false,
          };
          for (const [k, s] of [
            [reference, a],
            [kernels, b],
          ] as const) {
            s.results.push(k.sgdStep(s.p, g, s.b, sgd));
            const o = { ...adamOptions({ weightDecay, amsgrad }, 2), stepSize: lr };
            s.results.push(k.adamStepMeasured(s.p, g, s.m, s.v, amsgrad ? s.w : EMPTY, s.q, o, s.out));
            s.results.push([...s.out], k.updateSlope(s.q, s.p, g));
          }
          expect(snapshot(b)).toEqual(snapshot(a));
        },
      ),
      { numRuns: 60 },
    );
  });

  test.skipIf(name === 'js')('arrays split over threads (n = 2^18 + 17)', () => {
    const n = 2 ** 18 + 17;
    const [a, b] = [state(n, 1), state(n, 1)];
    run(reference, a, 2, 1);
    run(kernels, b, 2, 1);
    expect(snapshot(b)).toEqual(snapshot(a));
  });

  test('l2Norm of an f64 vector within 1e-14 relative of the js reference', () => {
    for (const n of [0, 1, 17, 1003, 2 ** 18 + 5]) {
      const x = mixed64(n, n + 3, 3);
      const [want, got] = [reference.l2Norm(x), kernels.l2Norm(x)];
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-14 * want);
    }
  });

  test('a non-finite update is reported (and the step completes)', () => {
    const p = Float64Array.of(1, 2, 3);
    expect(
      kernels.sgdStep(p, Float64Array.of(0, Number.POSITIVE_INFINITY, 0), EMPTY, {
        learningRate: 1,
        momentum: 0,
        dampening: 0,
        weightDecay: 0,
        nesterov: false,
        maximize: false,
        firstStep: true,
      }),
    ).toBe(false);
    expect(kernels.firstNonFinite(p)).toBe(1);
    expect(p[2]).toBe(3);
    const x = Float64Array.of(1, Number.NaN, -Infinity, 2);
    expect(kernels.zeroNonFinite(x)).toBe(2);
    expect([...x]).toEqual([1, 0, 0, 2]);
  });

  test('mixing Float32Array and Float64Array in one call is an error naming the array', () => {
    const [p64, g64] = [mixed64(8, 1, 1), mixed64(8, 2, 1)];
    const [p32, g32] = [new Float32Array(8), new Float32Array(8)];
    expectError(
      () =>
        kernels.sgdStep(p64, g32, EMPTY, {
          learningRate: 0.1,
          momentum: 0,
          dampening: 0,
          weightDecay: 0,
          nesterov: false,
          maximize: false,
          firstStep: true,
        }),
      'grads',
      /Float64Array/,
    );
    expectError(
      () =>
        kernels.sgdStep(p32, g64, new Float32Array(0), {
          learningRate: 0.1,
          momentum: 0,
          dampening: 0,
          weightDecay: 0,
          nesterov: false,
          maximize: false,
          firstStep: true,
        }),
      'grads',
      /Float32Array/,
    );
    expectError(
      () => kernels.adamStep(p64, g64, new Float64Array(8), new Float32Array(8), EMPTY, adamOptions({}, 1)),
      'v',
    );
    expectError(
      () =>
        kernels.adamStepMeasured(
          p64,
          g64,
          new Float64Array(8),
          new Float64Array(8),
          EMPTY,
          new Float32Array(8),
          adamOptions({}, 1),
          new Float64Array(3),
        ),
      'before',
    );
    expectError(
      () => kernels.updateEnergy(p64, p32, g64, EMPTY, { metricScale: 1, epsilon: 0 }, new Float64Array(3)),
      'after',
    );
    expectError(() => kernels.updateSlope(p64, p64.slice(), g32), 'grads');
    expectError(
      () =>
        kernels.prodigyUpdate(p64, new Float32Array(8), new Float64Array(8), {
          stepSize: 0.1,
          epsilon: 1e-8,
          decay: 0,
        }),
      'm',
    );
    // an empty array of the other dtype stands for an unused one
    expect(
      kernels.sgdStep(p64, g64, new Float32Array(0), {
        learningRate: 0.1,
        momentum: 0,
        dampening: 0,
        weightDecay: 0,
        nesterov: false,
        maximize: false,
        firstStep: true,
      }),
    ).toBe(true);
  });
});

test('the backends under test include a native one when CIMM_REQUIRE_BACKENDS asks for it', () => {
  expect(backends.length).toBeGreaterThan(0);
});
