/**
 * Prodigy (lib/optim/prodigy.ts): its two kernels on every backend, and the optimizer.
 *
 * Tolerance between backends: none. The element updates are the same unfused f32
 * operations everywhere, and the two sums are f64 sums in one fixed order (units of
 * prodigyUnit(n), 8 lanes) on every backend and thread count, so m, v, s, the sums and
 * the parameters must be bit-identical to the js reference: on a sweep of lengths around
 * the lane width and the unit, at offsets, on random inputs (fast-check), and on arrays
 * large enough to be split over threads and into several units. The sums are also checked
 * against plain f64 sums, and the optimizer against hand-derived properties;
 * test/optim-prodigy.test.ts checks it against prodigyopt.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { prodigyUnit } from '../lib/backends/js/prodigy.js';
import { CimmArgumentError } from '../lib/errors.js';
import { Prodigy, restoreOptimizer, type TensorMap } from '../lib/index.js';
import type { Kernels } from '../lib/kernels.js';
import { atOffset, backends, describeEachBackend, expectSameBits, reference, values } from './helpers.js';

interface Case {
  beta1: number;
  beta2: number;
  beta3: number;
  c1: number;
  c2: number;
  cs: number;
  wd: number;
  step: number;
  eps: number;
  decay: number;
}

const CASES: Case[] = [
  {
    beta1: 0.9,
    beta2: 0.999,
    beta3: Math.sqrt(0.999),
    c1: 1e-7,
    c2: 1e-14,
    cs: 1e-6,
    wd: 0,
    step: 1e-6,
    eps: 1e-14,
    decay: 0,
  },
  { beta1: 0.8, beta2: 0.99, beta3: 0.9, c1: 0.02, c2: 4e-4, cs: 0.3, wd: 0.05, step: 0.1, eps: 1e-9, decay: 0 },
  { beta1: 0.9, beta2: 0.999, beta3: 0.99, c1: 0.1, c2: 1e-3, cs: 2, wd: 0, step: 0.5, eps: 1e-8, decay: -0.05 },
];

/** Both passes on copies of `arrays` = [p, g, p0, m, v, s] at `offset`; returns the results. */
function run(k: Kernels, arrays: Float32Array[], c: Case, offset: number) {
  const [p, g, p0, m, v, s] = arrays.map((a) => atOffset(a, offset));
  const [dot, l1] = k.prodigyAccumulate(p, g, p0, m, v, s, {
    beta1: c.beta1,
    beta2: c.beta2,
    beta3: c.beta3,
    momentScale: c.c1,
    varianceScale: c.c2,
    sScale: c.cs,
    weightDecay: c.wd,
  });
  const ok = k.prodigyUpdate(p, m, v, { stepSize: c.step, epsilon: c.eps, decay: c.decay });
  return { dot, l1, ok, p, m, v, s };
}

function check(k: Kernels, arrays: Float32Array[], c: Case, offset: number) {
  const want = run(reference, arrays, c, 0);
  const got = run(k, arrays, c, offset);
  expect(Object.is(got.dot, want.dot), `dot ${got.dot} vs ${want.dot}`).toBe(true);
  expect(Object.is(got.l1, want.l1), `l1 ${got.l1} vs ${want.l1}`).toBe(true);
  expect(got.ok).toBe(want.ok);
  for (const name of ['p', 'm', 'v', 's'] as const) expectSameBits(got[name], want[name], name);
  return got;
}

const arraysOf = (n: number, seed: number) => [
  values(n, seed, 2),
  values(n, seed + 1, 2),
  values(n, seed + 2, 2),
  values(n, seed + 3, 0.1),
  values(n, seed + 4, 0.1).map((x) => x * x),
  values(n, seed + 5, 0.1),
];

describeEachBackend('Prodigy kernels', ({ kernels }) => {
  test('bit-identical to the js reference on a sweep of lengths, at offsets', () => {
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 100, 1003, 8191, 8192, 8193, 20_000]) {
      for (const [ci, c] of CASES.entries()) check(kernels, arraysOf(n, n + ci), c, (n + ci) % 3);
    }
  });

  test('the sums are ⟨g, p0 − p⟩ and ‖s‖₁ (plain f64 sums, to 1e-12)', () => {
    const n = 20_011;
    const arrays = arraysOf(n, 3);
    const c = CASES[1];
    const got = run(kernels, arrays, c, 0);
    const [p, g0, p0] = arrays;
    let dot = 0;
    let l1 = 0;
    for (let i = 0; i < n; i++) {
      const g = Math.fround(g0[i] + Math.fround(Math.fround(c.wd) * p[i]));
      dot += g * Math.fround(p0[i] - p[i]);
      l1 += Math.abs(got.s[i]);
    }
    expect(Math.abs(got.dot - dot)).toBeLessThanOrEqual(1e-12 * l1);
    expect(Math.abs(got.l1 - l1)).toBeLessThanOrEqual(1e-12 * l1);
  });

  test('bit-identical to the js reference on random inputs (fast-check)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(f32, f32, f32, f32, fc.float({ min: 0, max: 10, noNaN: true }), f32), { maxLength: 70 }),
        fc.constantFrom(...CASES),
        fc.nat(3),
        (rows, c, offset) => {
          const arrays = [0, 1, 2, 3, 4, 5].map((j) => Float32Array.from(rows, (r) => r[j]));
          check(kernels, arrays, c, offset);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('large arrays (several units, split over threads) are bit-identical to the reference', () => {
    for (const n of [300_007, 600_011]) {
      const got = check(kernels, arraysOf(n, 9), CASES[2], 1);
      expect(n / prodigyUnit(n)).toBeLessThanOrEqual(64);
      expect(got.ok).toBe(true);
    }
  });

  test('returns false when a parameter overflows', () => {
    const arrays = arraysOf(33, 1);
    arrays[0][5] = 3e38;
    const got = run(kernels, arrays, { ...CASES[2], decay: 0.5 }, 0);
    expect(got.ok).toBe(false);
  });
});

const natives = backends.filter((b) => b.name !== 'js');

describe.each(natives.map((b) => [b.name, b.kernels] as const))('native Prodigy argument checks [%s]', (_name, k) => {
  const f = (n: number) => new Float32Array(n);
  test('lengths, types and overlapping arrays are rejected, naming the parameter', () => {
    const buffer = f(8);
    const cases: [string, () => unknown, string][] = [
      [
        'grads',
        () =>
          k.prodigyAccumulate(f(3), f(2), f(3), f(3), f(3), f(3), {
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9,
            momentScale: 1,
            varianceScale: 1,
            sScale: 1,
            weightDecay: 0,
          }),
        'of length 3',
      ],
      [
        'p0',
        () =>
          k.prodigyAccumulate(f(3), f(3), f(4), f(3), f(3), f(3), {
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9,
            momentScale: 1,
            varianceScale: 1,
            sScale: 1,
            weightDecay: 0,
          }),
        'of length 3',
      ],
      [
        's',
        () =>
          k.prodigyAccumulate(f(3), f(3), f(3), f(3), f(3), f(0), {
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9,
            momentScale: 1,
            varianceScale: 1,
            sScale: 1,
            weightDecay: 0,
          }),
        'of length 3',
      ],
      [
        'm',
        () =>
          k.prodigyAccumulate(f(3), f(3), f(3), new Float64Array(3) as unknown as Float32Array, f(3), f(3), {
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9,
            momentScale: 1,
            varianceScale: 1,
            sScale: 1,
            weightDecay: 0,
          }),
        'a Float32Array',
      ],
      [
        'v',
        () =>
          k.prodigyAccumulate(f(3), f(3), f(3), buffer.subarray(0, 3), buffer.subarray(2, 5), f(3), {
            beta1: 0.9,
            beta2: 0.99,
            beta3: 0.9,
            momentScale: 1,
            varianceScale: 1,
            sScale: 1,
            weightDecay: 0,
          }),
        'does not overlap m',
      ],
      ['v', () => k.prodigyUpdate(f(3), f(3), f(2), { stepSize: 1, epsilon: 1e-8, decay: 0 }), 'of length 3'],
      [
        'm',
        () =>
          k.prodigyUpdate(buffer.subarray(0, 3), buffer.subarray(1, 4), f(3), { stepSize: 1, epsilon: 1e-8, decay: 0 }),
        'does not overlap params',
      ],
    ];
    for (const [name, call, what] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message, name).toContain(`for ${name} `);
      expect(message, name).toContain(what);
    }
  });
});

// ---------------------------------------------------------------------------------
// The optimizer.

/** A quadratic ½‖a ⊙ (p − t)‖²'s gradient. */
function quadratic(n: number) {
  const t = values(n, 1, 4);
  const a = values(n, 2, 1).map((x) => 0.5 + Math.abs(x));
  return (p: Float32Array) => p.map((x, i) => a[i] * (x - t[i]));
}

const copy = (m: TensorMap): TensorMap => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.slice()]));

describeEachBackend('Prodigy optimizer', ({ name }) => {
  test('d grows from d0 and the parameters approach the minimum', async () => {
    const { setBackend } = await import('../lib/backend.js');
    setBackend(name);
    const grad = quadratic(200);
    const opt = new Prodigy();
    expect(opt.d).toBe(1e-6);
    const params = { w: new Float32Array(200) };
    const first = grad(params.w).reduce((s, x) => s + x * x, 0);
    for (let i = 0; i < 200; i++) opt.step(params, { w: grad(params.w) });
    expect(opt.d).toBeGreaterThan(1e-2);
    expect(opt.dMax).toBeGreaterThanOrEqual(opt.d);
    const last = grad(params.w).reduce((s, x) => s + x * x, 0);
    expect(last).toBeLessThan(first * 1e-2);
  });

  test('zero gradients change nothing but the moments (prodigyopt returns early)', async () => {
    const { setBackend } = await import('../lib/backend.js');
    setBackend(name);
    const opt = new Prodigy();
    const params = { w: Float32Array.of(1, -2, 3) };
    opt.step(params, { w: new Float32Array(3) });
    expect([...params.w]).toEqual([1, -2, 3]);
    expect(opt.d).toBe(1e-6);
    expect(opt.state().scalars.global).toEqual({ d: 1e-6, dMax: 1e-6, dNumerator: 0, k: 0 });
  });

  test('state round trips (state() and serializeState()) continue bit for bit', async () => {
    const { setBackend } = await import('../lib/backend.js');
    setBackend(name);
    const grad = quadratic(50);
    const opt = new Prodigy({ weightDecay: 0.01, groups: [{ params: ['b'], weightDecay: 0 }] });
    const params = { w: values(50, 5, 1), b: values(50, 6, 1) };
    for (let i = 0; i < 7; i++) opt.step(params, { w: grad(params.w), b: grad(params.b) });
    for (const saved of [opt.state(), opt.serializeState()]) {
      const twin = restoreOptimizer(saved) as Prodigy;
      const [pa, pb] = [copy(params), copy(params)];
      for (let i = 0; i < 5; i++) {
        opt.step(pa, { w: grad(pa.w), b: grad(pa.b) });
        twin.step(pb, { w: grad(pb.w), b: grad(pb.b) });
      }
      expect(twin.d).toBe(opt.d);
      expect(pb).toEqual(pa);
      opt.loadState(saved);
    }
  });
});

test('Prodigy options are validated, naming the option', () => {
  const expectError = (make: () => unknown, message: string) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CimmArgumentError);
    expect((error as Error).message).toBe(message);
  };
  expectError(() => new Prodigy({ d0: 0 }), 'Expected a finite number > 0 for d0 but received 0 of type number');
  expectError(
    () => new Prodigy({ epsilon: 0 }),
    'Expected a finite number > 0 for epsilon but received 0 of type number',
  );
  expectError(
    () => new Prodigy({ growthRate: 0.5 }),
    'Expected a finite number >= 1 for growthRate but received 0.5 of type number',
  );
  expectError(
    () => new Prodigy({ beta3: 1 }),
    'Expected a number >= 0 and < 1 for beta3 but received 1 of type number',
  );
  expectError(
    () => new Prodigy({ groups: [{ params: ['b'], learningRate: 0.5 }] }),
    'Expected an option a Prodigy group may set (weightDecay, epsilon) for groups[0].learningRate but received 0.5 of type number',
  );
  const opt = new Prodigy({ growthRate: Number.POSITIVE_INFINITY });
  expect(opt.getConfig().growthRate).toBeNull();
  expect(opt.getConfig()).toMatchObject({
    learningRate: 1,
    beta1: 0.9,
    beta2: 0.999,
    beta3: null,
    d0: 1e-6,
    dCoef: 1,
    decouple: true,
  });
  expectError(
    () =>
      opt.loadState({
        ...opt.state(),
        scalars: { iterations: 0, steps: {}, global: { d: -1, dMax: 1, dNumerator: 0, k: 0 } },
      }),
    'Expected a finite number > 0 for state.scalars.global.d but received -1 of type number',
  );
});
