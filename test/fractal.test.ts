/**
 * The fractal transform (design eq. 8) on every backend, against the js reference; the
 * bounded facade and its error messages. (The GEMM and the elementwise kernels of the
 * fractal layer are the linalg family: test/linalg.test.ts.)
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
  nthPrime,
} from '../lib/index.js';
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
