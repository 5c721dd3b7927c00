/**
 * The fractal transform (design eq. 8), the GEMM and the elementwise kernels of the fractal
 * layer (eq. 9) on every backend, against the js reference; the bounded facade and its
 * error messages.
 *
 * Tolerances:
 * - fractalStep, fractalStepBackward, axpby, maxAbs, the identity/relu activations and
 *   every activation backward rule: bit-exact (each is f64 arithmetic rounded once to f32 on
 *   every backend; the native kernels widen to f64 rather than use an f32 FMA, which would
 *   round differently from JS for some |z| ≥ 3·10⁴).
 * - tanh, sigmoid: |Δ| ≤ 4 ulp(f32) of the result + 2⁻⁴⁰ (native: a polynomial exp in f32).
 * - dot, sum: |Δ| ≤ 1e-12·Σ|terms| (f64 accumulation in another order).
 * - matmul: |Δ_ij| ≤ 2k·2⁻²⁴·(|α||op(A)|·|op(B)| + |β C|)_ij (native sums in f32, the
 *   reference in f64).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  FRACTAL_DEFAULTS,
  fractalBound,
  fractalOffset,
  fractalStep,
  fractalTransform,
  fractalTransformInfo,
  matmul,
  nthPrime,
} from '../lib/index.js';
import type { ActivationName } from '../lib/kernels.js';
import { atOffset, describeEachBackend, randomF32, reference } from './helpers.js';

function expectBitExact(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) expect.fail(`element ${i}: ${got[i]} vs ${want[i]}`);
  }
}

/** Lengths around the SIMD widths and above the native threading threshold (2^18). */
const LENGTHS = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000, (1 << 18) + 5];

const f32Values = fc.float32Array({ maxLength: 70, noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 });

describeEachBackend('fractal step (eq. 8)', ({ kernels }) => {
  test('bit-exact with the js reference, including |z| where an f32 FMA would differ', () => {
    for (const n of LENGTHS) {
      const z = randomF32(n, n + 1, 2);
      const specials = [0, -0, 1, -1, 32776, 67125250, 4195328, 1e-20, 3e19];
      for (let k = 0; k < Math.min(n, specials.length); k++) z[k] = specials[k];
      for (const offset of [0.2252, 6.4e-8, 0.5, 1 / 3]) {
        const got = new Float32Array(n);
        const want = new Float32Array(n);
        kernels.fractalStep(z, offset, got);
        reference.fractalStep(z, offset, want);
        expectBitExact(got, want);
        const inPlace = z.slice();
        kernels.fractalStep(inPlace, offset, inPlace);
        expectBitExact(inPlace, want);
      }
    }
  });

  test('hand-computed values: 0.5² + fround(0.25) and an offset that is not an f32', () => {
    const out = new Float32Array(3);
    kernels.fractalStep(new Float32Array([0.5, -2, 0]), 0.25, out);
    expect([...out]).toEqual([0.5, 4.25, 0.25]);
    kernels.fractalStep(new Float32Array([0]), 0.1, out.subarray(0, 1));
    expect(out[0]).toBe(Math.fround(0.1));
  });

  test('random inputs, views at an offset, bit-exact', () => {
    fc.assert(
      fc.property(f32Values, fc.double({ min: -2, max: 2, noNaN: true }), fc.nat(5), (values, offset, shift) => {
        const z = atOffset(values, shift);
        const got = atOffset(new Float32Array(z.length), shift + 1);
        const want = new Float32Array(z.length);
        kernels.fractalStep(z, offset, got);
        reference.fractalStep(values, offset, want);
        expectBitExact(got, want);
      }),
      { numRuns: 200 },
    );
  });

  test('a partially overlapping output reads the input as it was', () => {
    const buffer = new Float32Array(40);
    buffer.set(randomF32(40, 5));
    const copy = buffer.slice();
    const z = buffer.subarray(0, 30);
    const out = buffer.subarray(5, 35);
    kernels.fractalStep(z, 0.1, out);
    const want = new Float32Array(30);
    reference.fractalStep(copy.subarray(0, 30), 0.1, want);
    expectBitExact(out, want);
  });

  test('backward: gradZ = 2·z·gradOut, bit-exact, in place too', () => {
    for (const n of LENGTHS) {
      const z = randomF32(n, 7, 3);
      const g = randomF32(n, 8, 3);
      const got = new Float32Array(n);
      const want = new Float32Array(n);
      kernels.fractalStepBackward(z, g, got);
      reference.fractalStepBackward(z, g, want);
      expectBitExact(got, want);
      const inPlace = g.slice();
      kernels.fractalStepBackward(z, inPlace, inPlace);
      expectBitExact(inPlace, want);
    }
  });

  test('maxAbs is exact and NaN for a non-finite element', () => {
    for (const n of LENGTHS) {
      const x = randomF32(n, 9, 5);
      expect(kernels.maxAbs(x)).toBe(reference.maxAbs(x));
      if (n > 0) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const y = x.slice();
          y[Math.floor((n * 2) / 3)] = bad;
          expect(kernels.maxAbs(y)).toBeNaN();
        }
      }
    }
    expect(kernels.maxAbs(new Float32Array(0))).toBe(0);
  });
});

describeEachBackend('elementwise kernels of the fractal layer', ({ kernels }) => {
  test('axpby: bit-exact, β = 0 ignores y, x may be y', () => {
    for (const n of LENGTHS) {
      const x = randomF32(n, 10, 4);
      const y0 = randomF32(n, 11, 4);
      for (const [alpha, beta] of [
        [0.3, 0.7],
        [-1.5, 0],
        [1, 1],
      ]) {
        const got = y0.slice();
        const want = y0.slice();
        if (beta === 0) got.fill(Number.NaN);
        kernels.axpby(alpha, x, beta, got);
        reference.axpby(alpha, x, beta, want);
        expectBitExact(got, want);
      }
      const got = y0.slice();
      const want = y0.slice();
      kernels.axpby(2, got, 0.5, got);
      reference.axpby(2, want, 0.5, want);
      expectBitExact(got, want);
    }
  });

  test('dot and sum agree to 1e-12 of Σ|terms|', () => {
    for (const n of LENGTHS) {
      const x = randomF32(n, 12);
      const y = randomF32(n, 13);
      let absDot = 0;
      let absSum = 0;
      for (let i = 0; i < n; i++) {
        absDot += Math.abs(x[i] * y[i]);
        absSum += Math.abs(x[i]);
      }
      expect(Math.abs(kernels.dot(x, y) - reference.dot(x, y))).toBeLessThanOrEqual(1e-12 * absDot);
      expect(Math.abs(kernels.sum(x) - reference.sum(x))).toBeLessThanOrEqual(1e-12 * absSum);
    }
  });

  const activations: ActivationName[] = ['identity', 'tanh', 'sigmoid', 'relu'];
  test('activations: forward within 4 ulp (identity, relu exact), backward bit-exact', () => {
    for (const n of [1, 7, 8, 17, 4099, (1 << 18) + 3]) {
      const x = randomF32(n, 14, 12);
      x[0] = 0;
      for (const act of activations) {
        for (const shift of [0, 0.3]) {
          const got = new Float32Array(n);
          const want = new Float32Array(n);
          kernels.activationForward(act, x, shift, got);
          reference.activationForward(act, x, shift, want);
          if (act === 'identity' || act === 'relu') expectBitExact(got, want);
          else {
            for (let i = 0; i < n; i++) {
              const tol = 4 * 2 ** -23 * Math.abs(want[i]) + 2 ** -40;
              if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`${act} x=${x[i]}: ${got[i]} vs ${want[i]}`);
            }
          }
          const inPlace = x.slice();
          kernels.activationForward(act, inPlace, shift, inPlace);
          expectBitExact(inPlace, got);

          const g = randomF32(n, 15, 2);
          const gGot = new Float32Array(n);
          const gWant = new Float32Array(n);
          kernels.activationBackward(act, want, g, gGot);
          reference.activationBackward(act, want, g, gWant);
          expectBitExact(gGot, gWant);
          const gInPlace = g.slice();
          kernels.activationBackward(act, want, gInPlace, gInPlace);
          expectBitExact(gInPlace, gWant);
        }
      }
    }
  });

  test('activations at extremes stay in range', () => {
    const x = new Float32Array([-1e30, -100, -20, 20, 100, 1e30]);
    const out = new Float32Array(6);
    kernels.activationForward('tanh', x, 0, out);
    expect([...out]).toEqual([-1, -1, -1, 1, 1, 1]);
    kernels.activationForward('sigmoid', x, 0, out);
    for (const v of out) expect(v >= 0 && v <= 1).toBe(true);
    expect(out[5]).toBe(1);
  });
});

/** |α|·|op(A)|·|op(B)| + |β C|: the scale of the GEMM's rounding error. */
function gemmScale(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): Float32Array {
  const s = c.map((v) => Math.abs(v));
  reference.matmul(
    { transA, transB, m, n, k, alpha: Math.abs(alpha), beta: Math.abs(beta) },
    a.map((v) => Math.abs(v)),
    b.map((v) => Math.abs(v)),
    s,
  );
  return s;
}

function checkGemm(
  kernels: typeof reference,
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  beta: number,
  seed: number,
): void {
  const a = randomF32(m * k, seed);
  const b = randomF32(k * n, seed + 1);
  const c0 = randomF32(m * n, seed + 2);
  const got = c0.slice();
  const want = c0.slice();
  if (beta === 0) got.fill(Number.NaN);
  kernels.matmul({ transA, transB, m, n, k, alpha, beta }, a, b, got);
  reference.matmul({ transA, transB, m, n, k, alpha, beta }, a, b, want);
  const scale = gemmScale(transA, transB, m, n, k, alpha, a, b, beta, c0);
  const tol = 2 * Math.max(k, 1) * 2 ** -24;
  for (let i = 0; i < m * n; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * scale[i] + 1e-30)) {
      expect.fail(`${m}x${n}x${k} tA=${transA} tB=${transB} at ${i}: ${got[i]} vs ${want[i]}`);
    }
  }
}

describeEachBackend('matmul', ({ kernels }) => {
  test('every transpose, α, β, shapes around the blocking and threading sizes', () => {
    const shapes = [
      [1, 1, 1],
      [3, 5, 7],
      [17, 9, 33],
      [33, 257, 129],
      [64, 64, 64],
      [200, 300, 250],
    ];
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          checkGemm(kernels, transA, transB, m, n, k, 1, 0, m + n + k);
          checkGemm(kernels, transA, transB, m, n, k, -0.5, 0.25, m * n + k);
        }
      }
    }
  });

  test('hand-computed 2×2 and the empty cases', () => {
    // [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50]
    const c = new Float32Array(4);
    kernels.matmul(
      { transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0 },
      new Float32Array([1, 2, 3, 4]),
      new Float32Array([5, 6, 7, 8]),
      c,
    );
    expect([...c]).toEqual([19, 22, 43, 50]);
    // k = 0: C ← β·C
    const d = new Float32Array([1, 2]);
    kernels.matmul(
      { transA: false, transB: false, m: 1, n: 2, k: 0, alpha: 1, beta: 2 },
      new Float32Array(0),
      new Float32Array(0),
      d,
    );
    expect([...d]).toEqual([2, 4]);
    kernels.matmul(
      { transA: false, transB: false, m: 0, n: 0, k: 5, alpha: 1, beta: 0 },
      new Float32Array(0),
      new Float32Array(0),
      new Float32Array(0),
    );
  });

  test('random shapes and views at an offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(3),
        (m, n, k, transA, transB, shift) => {
          const a = atOffset(randomF32(m * k, m), shift);
          const b = atOffset(randomF32(k * n, n), shift + 1);
          const got = atOffset(new Float32Array(m * n), shift + 2);
          const want = new Float32Array(m * n);
          kernels.matmul({ transA, transB, m, n, k, alpha: 1, beta: 0 }, a, b, got);
          reference.matmul({ transA, transB, m, n, k, alpha: 1, beta: 0 }, a, b, want);
          const scale = gemmScale(transA, transB, m, n, k, 1, a, b, 0, new Float32Array(m * n));
          for (let i = 0; i < m * n; i++) {
            expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(2 * k * 2 ** -24 * scale[i] + 1e-30);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('fractal facade (bounded transform)', () => {
  test('offsets follow the primes: c_n = 1/p_n + Σ ω_k/p_{n+k}', () => {
    expect(fractalOffset(1, [])).toBe(0.5);
    expect(fractalOffset(2, [1, 0.5])).toBeCloseTo(1 / 3 + 1 / 5 + 0.5 / 7, 15);
    const [w1, w2, w3] = FRACTAL_DEFAULTS.weights;
    const c4 = 1 / 7 + w1 / 11 + w2 / 13 + w3 / 17;
    expect(fractalOffset(4)).toBeCloseTo(c4, 15);
    expect(c4).toBeLessThan(0.25);
    // convex weights: c_n ≤ 1/p_n + 1/p_{n+1} < 1/4 from n = 4 on
    expect(1 / nthPrime(4) + 1 / nthPrime(5)).toBeLessThan(0.25);
  });

  test('the bound is the repelling fixed point: z₊² + c = z₊', () => {
    for (const c of [0, 0.1, 0.2252, 0.25]) {
      const b = fractalBound(c);
      expect(b * b + c).toBeCloseTo(b, 14);
    }
    expect(fractalBound(0)).toBe(1);
    expect(fractalBound(0.25)).toBe(0.5);
    expect(() => fractalBound(0.3)).toThrow('Expected a number >= 0 and <= 0.25 for offset but received 0.3');
  });

  test('iterates stay bounded for any input scale (rescaled into [−z₊, z₊])', () => {
    for (const scale of [1e-3, 0.5, 1, 10, 1e6]) {
      const z = randomF32(5000, 21, scale);
      const info = fractalTransformInfo(z, { steps: 1 });
      expect(info.scale).toBe(Math.min(1, info.bound / reference.maxAbs(z)));
      let cur = z;
      for (let t = 0; t < 60; t++) {
        cur = fractalTransform(cur, { steps: 1, start: 4 + t });
        const m = reference.maxAbs(cur);
        expect(m).toBeLessThanOrEqual(info.bound + 2 ** -22);
        expect(Number.isFinite(m)).toBe(true);
      }
    }
  });

  test('many steps in one call stay bounded and equal the step-by-step kernel', () => {
    const z = randomF32(3001, 22, 0.6);
    const info = fractalTransformInfo(z, { steps: 50 });
    expect(info.scale).toBe(1);
    const want = z.slice();
    for (let t = 0; t < 50; t++) reference.fractalStep(want, fractalOffset(4 + t), want);
    expectBitExact(info.out, want);
    expect(reference.maxAbs(info.out)).toBeLessThanOrEqual(info.bound);
    expect([...info.offsets].every((c, t) => t === 0 || c < info.offsets[t - 1])).toBe(true);
  });

  test('in place, steps = 0, and the check mode', () => {
    const z = randomF32(100, 23, 0.5);
    const copy = z.slice();
    expect(fractalTransform(z, { steps: 0 })).toEqual(copy);
    expect(fractalTransform(z, { out: z, steps: 2 })).toBe(z);
    const big = randomF32(10, 24, 3);
    big[3] = 3;
    expect(() => fractalTransform(big, { bound: 'check' })).toThrow(
      /^Expected values with \|z\| <= 0\.\d+ \(the repelling fixed point of z² \+ 0\.2\d+\) for z but received max \|z\| = 3 in Float32Array\(10\) of type Float32Array$/,
    );
  });

  test('the raw step is the kernel', () => {
    const z = new Float32Array([2, -3]);
    expect([...fractalStep(z, 1)]).toEqual([5, 10]);
    expect(() => fractalStep(z, Number.NaN)).toThrow(
      'Expected a finite number within the f32 range for offset but received NaN of type number',
    );
  });

  test('argument errors name the parameter', () => {
    const z = new Float32Array(4);
    expect(() => fractalTransform(z, { start: 1 })).toThrow(
      /^Expected a step index n whose offset c_n = 1\/p_n \+ Σ ω_k\/p_\{n\+k\} is <= 1\/4 \(c_1 = 0\.768027; the orbit of z² \+ c escapes for c > 1\/4\) for start but received 1 of type number$/,
    );
    expect(() => fractalTransform(z, { weights: [1, -1] })).toThrow(
      'Expected a finite number >= 0 for weights[1] but received -1 of type number',
    );
    expect(() => fractalTransform(z, { weights: 'x' as unknown as number[] })).toThrow(
      'Expected an array of at most 64 finite numbers >= 0 for weights but received "x" of type string',
    );
    expect(() => fractalTransform(z, { steps: -1 })).toThrow('for steps but received -1 of type number');
    expect(() => fractalTransform(z, { bound: 'clip' as 'check' })).toThrow(
      'Expected one of "rescale", "check" for bound but received "clip" of type string',
    );
    expect(() => fractalTransform(new Float64Array(3) as unknown as Float32Array)).toThrow(
      'Expected a Float32Array for z but received Float64Array(3) of type Float64Array',
    );
    expect(() => fractalTransform(z, { out: new Float32Array(3) })).toThrow(
      'Expected a Float32Array of length 4 for out but received Float32Array(3) of type Float32Array',
    );
    const bad = new Float32Array([0, 1, Number.NaN]);
    expect(() => fractalTransform(bad)).toThrow(
      'Expected finite values for z but received NaN at index 2 of Float32Array(3) of type Float32Array',
    );
  });
});

describe('matmul facade', () => {
  test('computes and returns C; accumulates with β', () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]); // 2×3
    const b = new Float32Array([1, 0, 0, 1, 1, 1]); // 3×2
    expect([...matmul(a, b, { m: 2, n: 2, k: 3 })]).toEqual([4, 5, 10, 11]);
    const out = new Float32Array([1, 1, 1, 1]);
    matmul(a, b, { m: 2, n: 2, k: 3 }, { out, beta: 1, alpha: 2 });
    expect([...out]).toEqual([9, 11, 21, 23]);
    // Aᵀ: a as 3×2 gives op(A) 2×3 = [1 3 5; 2 4 6]
    expect([...matmul(a, b, { m: 2, n: 2, k: 3 }, { transA: true })]).toEqual([6, 8, 8, 10]);
  });

  test('argument errors name the parameter', () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    expect(() => matmul(a, b, { m: 2, n: 2, k: 2 })).toThrow(
      'Expected a 2×2 matrix (a Float32Array of length 4) for a but received Float32Array(6) of type Float32Array',
    );
    expect(() => matmul(a, b.subarray(1), { m: 2, n: 2, k: 3 }, { transB: true })).toThrow(
      'Expected a 2×3 matrix (a Float32Array of length 6) for b but received Float32Array(5) of type Float32Array',
    );
    expect(() => matmul(a, b, { m: 2, n: 2.5, k: 3 })).toThrow('for n but received 2.5 of type number');
    expect(() => matmul(a, b, { m: 2, n: 2, k: 3 }, { beta: 1 })).toThrow(
      'Expected 0 when no out matrix is given for beta but received 1 of type number',
    );
    expect(() => matmul(a, b, { m: 2, n: 2, k: 3 }, { transA: 1 as unknown as boolean })).toThrow(
      'Expected a boolean for transA but received 1 of type number',
    );
    const shared = new Float32Array(10);
    expect(() => matmul(shared.subarray(0, 6), b, { m: 2, n: 2, k: 3 }, { out: shared.subarray(6, 10) })).not.toThrow();
    expect(() => matmul(shared.subarray(0, 6), b, { m: 2, n: 2, k: 3 }, { out: shared.subarray(5, 9) })).toThrow(
      'Expected an array that does not share memory with a or b for out but received Float32Array(4) of type Float32Array',
    );
    const nan = new Float32Array(6);
    nan[4] = Number.POSITIVE_INFINITY;
    expect(() => matmul(a, nan, { m: 2, n: 2, k: 3 })).toThrow(
      'Expected finite values for b but received Infinity at index 4 of Float32Array(6) of type Float32Array',
    );
  });
});
