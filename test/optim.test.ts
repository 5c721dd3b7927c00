/**
 * Optimizer kernels (sgdStep, adamStep, firstNonFinite, memoryCopy) on every backend.
 *
 * Tolerance between backends: none. Every backend does the same f32 operations in the
 * same order without fusing (the js reference rounds each f64 operation to f32, which is
 * exact for +, −, ×, ÷, √), so parameters, moments and the returned flag must be
 * bit-identical to the js reference: on a fixed sweep of lengths around the SIMD width,
 * on random inputs and hyperparameters (fast-check, subnormal and huge values included),
 * on views at an offset into larger buffers, and on arrays large enough to be split over
 * threads. Hand-computed steps and Adam's first-step property check the formulas
 * themselves; test/optim-torch.test.ts checks them against PyTorch.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CimmArgumentError } from '../lib/errors.js';
import type { Kernels } from '../lib/kernels.js';
import { atOffset, backends, describeEachBackend, expectSameBits, reference, values } from './helpers.js';

interface SgdCase {
  lr: number;
  momentum: number;
  dampening: number;
  wd: number;
  nesterov: boolean;
  maximize: boolean;
  first: boolean;
}

interface AdamCase {
  beta1: number;
  beta2: number;
  stepSize: number;
  bc2Sqrt: number;
  eps: number;
  wd: number;
  decay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const SGD_CASES: SgdCase[] = [
  { lr: 0.05, momentum: 0, dampening: 0, wd: 0, nesterov: false, maximize: false, first: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, wd: 0, nesterov: false, maximize: false, first: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, wd: 0, nesterov: false, maximize: false, first: true },
  { lr: 0.1, momentum: 0.9, dampening: 0.1, wd: 1e-2, nesterov: false, maximize: false, first: false },
  { lr: 0.02, momentum: 0.9, dampening: 0, wd: 0, nesterov: true, maximize: true, first: false },
  { lr: 0.3, momentum: 0, dampening: 0, wd: 0.3, nesterov: false, maximize: true, first: true },
];

function adamCase(t: number, over: Partial<AdamCase> = {}): AdamCase {
  const beta1 = over.beta1 ?? 0.9;
  const beta2 = over.beta2 ?? 0.999;
  return {
    beta1,
    beta2,
    stepSize: 1e-3 / (1 - beta1 ** t),
    bc2Sqrt: Math.sqrt(1 - beta2 ** t),
    eps: 1e-8,
    wd: 0,
    decay: 1,
    amsgrad: false,
    maximize: false,
    ...over,
  };
}

const ADAM_CASES: AdamCase[] = [
  adamCase(1),
  adamCase(3, { wd: 0.1 }),
  adamCase(7, { amsgrad: true }),
  adamCase(2, { decay: 1 - 1e-3 * 1e-2, amsgrad: true, maximize: true }),
  adamCase(50, { beta1: 0.5, beta2: 0.9, eps: 1e-6 }),
];

const squares = (a: Float32Array) => a.map((x) => x * x);

function runSgd(k: Kernels, p: Float32Array, g: Float32Array, b: Float32Array, c: SgdCase): boolean {
  return k.sgdStep(p, g, b, {
    learningRate: c.lr,
    momentum: c.momentum,
    dampening: c.dampening,
    weightDecay: c.wd,
    nesterov: c.nesterov,
    maximize: c.maximize,
    firstStep: c.first,
  });
}

function runAdam(
  k: Kernels,
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  w: Float32Array,
  c: AdamCase,
): boolean {
  return k.adamStep(p, g, m, v, w, {
    beta1: c.beta1,
    beta2: c.beta2,
    stepSize: c.stepSize,
    bc2Sqrt: c.bc2Sqrt,
    epsilon: c.eps,
    weightDecay: c.wd,
    decay: c.decay,
    amsgrad: c.amsgrad,
    maximize: c.maximize,
  });
}

/** One SGD step on copies (at an element offset), compared bit for bit with the reference. */
function checkSgd(k: Kernels, p: Float32Array, g: Float32Array, b: Float32Array, c: SgdCase, offset: number): void {
  const [p1, b1] = [p.slice(), b.slice()];
  const [p2, g2, b2] = [atOffset(p, offset), atOffset(g, offset), atOffset(b, offset)];
  const want = runSgd(reference, p1, g, b1, c);
  const got = runSgd(k, p2, g2, b2, c);
  expectSameBits(p2, p1, 'params');
  expectSameBits(b2, b1, 'momentumBuffer');
  expect(got).toBe(want);
}

function checkAdam(k: Kernels, [p, g, m, v, w]: Float32Array[], c: AdamCase, offset: number): void {
  const ref = [p, m, v, w].map((a) => a.slice());
  const mine = [p, m, v, w].map((a) => atOffset(a, offset));
  const want = runAdam(reference, ref[0], g, ref[1], ref[2], ref[3], c);
  const got = runAdam(k, mine[0], atOffset(g, offset), mine[1], mine[2], mine[3], c);
  for (const [i, name] of ['params', 'm', 'v', 'vMax'].entries()) expectSameBits(mine[i], ref[i], name);
  expect(got).toBe(want);
}

const LENGTHS = [0, 1, 3, 7, 8, 9, 15, 16, 17, 33, 1000, 1003];

describeEachBackend('SGD kernel', ({ kernels }) => {
  test('hand-computed Nesterov steps (exact in f32)', () => {
    // μ = ½, η = ½. Step 1: b = g = 2, d = g + μb = 3, p = 1 − 1.5 = −0.5.
    // Step 2: b = ½·2 + 4 = 5, d = 4 + 2.5 = 6.5, p = −0.5 − 3.25 = −3.75.
    const p = new Float32Array([1]);
    const b = new Float32Array(1);
    expect(
      kernels.sgdStep(p, new Float32Array([2]), b, {
        learningRate: 0.5,
        momentum: 0.5,
        dampening: 0,
        weightDecay: 0,
        nesterov: true,
        maximize: false,
        firstStep: true,
      }),
    ).toBe(true);
    expect([p[0], b[0]]).toEqual([-0.5, 2]);
    kernels.sgdStep(p, new Float32Array([4]), b, {
      learningRate: 0.5,
      momentum: 0.5,
      dampening: 0,
      weightDecay: 0,
      nesterov: true,
      maximize: false,
      firstStep: false,
    });
    expect([p[0], b[0]]).toEqual([-3.75, 5]);
  });

  test('weight decay, dampening and maximize by hand', () => {
    // d = −g + λp = −1 + 0.5·2 = 0 (maximize); b = ½·4 + (1 − ½)·0 = 2; p = 2 − 0.25·2 = 1.5
    const p = new Float32Array([2]);
    const b = new Float32Array([4]);
    kernels.sgdStep(p, new Float32Array([1]), b, {
      learningRate: 0.25,
      momentum: 0.5,
      dampening: 0.5,
      weightDecay: 0.5,
      nesterov: false,
      maximize: true,
      firstStep: false,
    });
    expect([p[0], b[0]]).toEqual([1.5, 2]);
    // no momentum: the buffer is not touched, and may be empty
    const q = new Float32Array([1, 2]);
    kernels.sgdStep(q, new Float32Array([1, -1]), new Float32Array(0), {
      learningRate: 0.5,
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      firstStep: false,
    });
    expect([...q]).toEqual([0.5, 2.5]);
  });

  test('bit-identical to the js reference on a sweep of lengths, at offsets', () => {
    for (const n of LENGTHS) {
      for (const c of SGD_CASES) {
        checkSgd(kernels, values(n, 1, 4), values(n, 2, 4), values(n, 3, 1), c, n % 3);
      }
    }
  });

  test('bit-identical to the js reference on random inputs (fast-check)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(f32, f32, f32), { maxLength: 70 }),
        fc.record({
          lr: fc.double({ min: 0, max: 10, noNaN: true }),
          momentum: fc.constantFrom(0, 0.5, 0.9, 0.99, 1e-3),
          dampening: fc.double({ min: 0, max: 1, noNaN: true }),
          wd: fc.constantFrom(0, 1e-4, 0.1, 3),
          nesterov: fc.boolean(),
          maximize: fc.boolean(),
          first: fc.boolean(),
        }),
        fc.nat(5),
        (rows, c, offset) => {
          const [p, g, b] = [0, 1, 2].map((j) => Float32Array.from(rows, (r) => r[j]));
          checkSgd(kernels, p, g, b, c, offset);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('large arrays (split over threads) are bit-identical to the reference', () => {
    const n = 300_007;
    checkSgd(kernels, values(n, 4, 2), values(n, 5, 2), values(n, 6, 1), SGD_CASES[3], 1);
  });

  test('returns false when a parameter overflows; finite otherwise', () => {
    for (const n of [1, 8, 9, 20]) {
      const p = new Float32Array(n).fill(1);
      p[n - 1] = 3e38;
      const g = new Float32Array(n);
      expect(
        kernels.sgdStep(p, g, new Float32Array(0), {
          learningRate: 1e30,
          momentum: 0,
          dampening: 0,
          weightDecay: 0,
          nesterov: false,
          maximize: false,
          firstStep: true,
        }),
      ).toBe(true);
      g[n - 1] = -1e10;
      expect(
        kernels.sgdStep(p, g, new Float32Array(0), {
          learningRate: 1e30,
          momentum: 0,
          dampening: 0,
          weightDecay: 0,
          nesterov: false,
          maximize: false,
          firstStep: true,
        }),
      ).toBe(false);
      expect(p[n - 1]).toBe(Number.POSITIVE_INFINITY);
    }
  });
});

describeEachBackend('Adam kernel', ({ kernels }) => {
  test('first step moves each parameter by η·sign(g) (m̂ = g, v̂ = g², ε = 0)', () => {
    const g = values(101, 9, 4);
    const p = new Float32Array(101).fill(1);
    const [m, v] = [new Float32Array(101), new Float32Array(101)];
    kernels.adamStep(p, g, m, v, new Float32Array(0), {
      beta1: 0.9,
      beta2: 0.999,
      stepSize: 0.01 / (1 - 0.9),
      bc2Sqrt: Math.sqrt(1 - 0.999),
      epsilon: 0,
      weightDecay: 0,
      decay: 1,
      amsgrad: false,
      maximize: false,
    });
    for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - (1 - 0.01 * Math.sign(g[i])))).toBeLessThan(1e-6);
  });

  test('AdamW decay alone: zero gradient shrinks p by the factor (1 − ηλ)', () => {
    const p = Float32Array.from([1, -2, 0.5]);
    const zero = new Float32Array(3);
    kernels.adamStep(p, zero, new Float32Array(3), new Float32Array(3), new Float32Array(0), {
      beta1: 0.9,
      beta2: 0.999,
      stepSize: 1,
      bc2Sqrt: 1,
      epsilon: 1e-8,
      weightDecay: 0,
      decay: 0.75,
      amsgrad: false,
      maximize: false,
    });
    expect([...p]).toEqual([0.75, -1.5, 0.375]);
  });

  test('AMSGrad keeps the running maximum of v', () => {
    const p = new Float32Array([1, 1]);
    const [m, v, w] = [new Float32Array(2), new Float32Array([4, 0]), new Float32Array([1, 9])];
    // v ← 0·v + 1·g² = [1, 1] (β₂ = 0); vMax = max(vMax, v) = [1, 9]
    kernels.adamStep(p, new Float32Array([1, 1]), m, v, w, {
      beta1: 0,
      beta2: 0,
      stepSize: 0,
      bc2Sqrt: 1,
      epsilon: 0,
      weightDecay: 0,
      decay: 1,
      amsgrad: true,
      maximize: false,
    });
    expect([...v, ...w]).toEqual([1, 1, 1, 9]);
  });

  test('bit-identical to the js reference on a sweep of lengths, at offsets', () => {
    for (const n of LENGTHS) {
      for (const c of ADAM_CASES) {
        const arrays = [
          values(n, 1, 4),
          values(n, 2, 4),
          values(n, 3, 0.5),
          squares(values(n, 4, 1)),
          squares(values(n, 5, 1)),
        ];
        checkAdam(kernels, arrays, c, (n + 1) % 3);
      }
    }
  });

  test('bit-identical to the js reference on random inputs (fast-check)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e19), max: Math.fround(1e19) });
    const nonNegative = fc.float({ noNaN: true, noDefaultInfinity: true, min: 0, max: Math.fround(1e30) });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(f32, f32, f32, nonNegative, nonNegative), { maxLength: 70 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.record({
          beta1: fc.double({ min: 0, max: 0.999, noNaN: true }),
          beta2: fc.double({ min: 0, max: 0.99999, noNaN: true }),
          lr: fc.double({ min: 0, max: 1, noNaN: true }),
          eps: fc.constantFrom(0, 1e-8, 1e-6, 0.1),
          wd: fc.constantFrom(0, 1e-2, 0.5),
          decay: fc.constantFrom(1, 0.999, 0.5),
          amsgrad: fc.boolean(),
          maximize: fc.boolean(),
        }),
        fc.nat(5),
        (rows, t, r, offset) => {
          const arrays = [0, 1, 2, 3, 4].map((j) => Float32Array.from(rows, (row) => row[j]));
          const c = adamCase(t, { ...r, stepSize: r.lr / (1 - r.beta1 ** t) });
          checkAdam(kernels, arrays, c, offset);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('large arrays (split over threads) are bit-identical to the reference', () => {
    const n = 300_007;
    const arrays = [
      values(n, 1, 2),
      values(n, 2, 2),
      values(n, 3, 0.5),
      squares(values(n, 4, 1)),
      squares(values(n, 5, 1)),
    ];
    checkAdam(kernels, arrays, ADAM_CASES[3], 2);
  });
});

describeEachBackend('firstNonFinite and memoryCopy', ({ kernels }) => {
  test('finds the first NaN or ±∞, or returns −1', () => {
    for (const n of [0, 1, 7, 8, 9, 100, 1003, 300_007]) {
      const x = values(n, 7, 1e30);
      expect(kernels.firstNonFinite(x)).toBe(-1);
      if (n === 0) continue;
      x[n - 1] = Number.NaN;
      expect(kernels.firstNonFinite(atOffset(x, 1))).toBe(n - 1);
      x[Math.floor(n / 2)] = Number.NEGATIVE_INFINITY;
      expect(kernels.firstNonFinite(x)).toBe(Math.floor(n / 2));
    }
  });

  test('memoryCopy copies every bit', () => {
    for (const n of [0, 5, 300_007]) {
      const src = values(n, 8, 1);
      const dst = atOffset(new Float32Array(n), 3);
      kernels.memoryCopy(src, dst);
      expectSameBits(dst, src, 'dst');
    }
  });
});

const natives = backends.filter((b) => b.name !== 'js');

describe.each(natives.map((b) => [b.name, b.kernels] as const))('native argument checks [%s]', (_name, k) => {
  const f = (n: number) => new Float32Array(n);
  test('lengths, types and overlapping arrays are rejected, naming the parameter', () => {
    const buffer = f(8);
    const cases: [string, () => unknown, string][] = [
      [
        'grads',
        () =>
          k.sgdStep(f(3), f(2), f(3), {
            learningRate: 0.1,
            momentum: 0.9,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: false,
          }),
        'of length 3',
      ],
      [
        'momentumBuffer',
        () =>
          k.sgdStep(f(3), f(3), f(0), {
            learningRate: 0.1,
            momentum: 0.9,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: false,
          }),
        'of length 3',
      ],
      [
        'grads',
        () =>
          k.sgdStep(f(3), new Float64Array(3) as unknown as Float32Array, f(0), {
            learningRate: 0.1,
            momentum: 0,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: false,
          }),
        'a Float32Array',
      ],
      [
        'grads',
        () =>
          k.sgdStep(buffer.subarray(0, 4), buffer.subarray(3, 7), f(0), {
            learningRate: 0.1,
            momentum: 0,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: false,
          }),
        'does not overlap params',
      ],
      [
        'm',
        () =>
          k.adamStep(f(3), f(3), f(2), f(3), f(0), {
            beta1: 0.9,
            beta2: 0.999,
            stepSize: 1,
            bc2Sqrt: 1,
            epsilon: 0,
            weightDecay: 0,
            decay: 1,
            amsgrad: false,
            maximize: false,
          }),
        'of length 3',
      ],
      [
        'v',
        () =>
          k.adamStep(f(3), f(3), f(3), f(4), f(0), {
            beta1: 0.9,
            beta2: 0.999,
            stepSize: 1,
            bc2Sqrt: 1,
            epsilon: 0,
            weightDecay: 0,
            decay: 1,
            amsgrad: false,
            maximize: false,
          }),
        'of length 3',
      ],
      [
        'vMax',
        () =>
          k.adamStep(f(3), f(3), f(3), f(3), f(0), {
            beta1: 0.9,
            beta2: 0.999,
            stepSize: 1,
            bc2Sqrt: 1,
            epsilon: 0,
            weightDecay: 0,
            decay: 1,
            amsgrad: true,
            maximize: false,
          }),
        'of length 3',
      ],
      [
        'v',
        () =>
          k.adamStep(f(3), f(3), buffer.subarray(0, 3), buffer.subarray(2, 5), f(0), {
            beta1: 0.9,
            beta2: 0.999,
            stepSize: 1,
            bc2Sqrt: 1,
            epsilon: 0,
            weightDecay: 0,
            decay: 1,
            amsgrad: false,
            maximize: false,
          }),
        'does not overlap m',
      ],
      ['dst', () => k.memoryCopy(f(3), f(4)), 'of length 3'],
      ['values', () => k.firstNonFinite([1, 2] as unknown as Float32Array), 'a Float32Array'],
    ];
    for (const [parameter, call, expected] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error, parameter).toBeInstanceOf(CimmArgumentError);
      expect((error as CimmArgumentError).parameter).toBe(parameter);
      expect((error as Error).message).toContain(expected);
    }
  });
});
