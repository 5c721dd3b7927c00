/**
 * The linalg family: the GEMM and the elementwise kernels of the fractal layer (design eq. 9)
 * on every backend, against the js reference; the matmul facade and its error messages.
 *
 * Tolerances:
 * - axpby, the identity/relu activations and every activation backward rule: bit-exact (f64
 *   arithmetic rounded once to f32 on every backend).
 * - tanh, sigmoid: |Δ| ≤ 4 ulp(f32) of the result + 2⁻⁴⁰ (native: a polynomial exp in f32).
 * - dot, sum: |Δ| ≤ 1e-12·Σ|terms| (f64 accumulation in another order).
 * - matmul: |Δ_ij| ≤ 2k·2⁻²⁴·(|α||op(A)|·|op(B)| + |β C|)_ij (native sums in f32, the
 *   reference in f64).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { matmul } from '../lib/index.js';
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

const _f32Values = fc.float32Array({ maxLength: 70, noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 });

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
      'Expected a Float32Array that does not overlap a for out but received Float32Array(4) of type Float32Array',
    );
    const nan = new Float32Array(6);
    nan[4] = Number.POSITIVE_INFINITY;
    expect(() => matmul(a, nan, { m: 2, n: 2, k: 3 })).toThrow(
      'Expected finite values for b but received Infinity at index 4 of Float32Array(6) of type Float32Array',
    );
  });
});
