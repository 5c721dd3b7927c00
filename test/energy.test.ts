/**
 * Energy kernels (design eqs. 3–5) on every backend: known values, agreement with the js
 * reference on fixed and random inputs (fast-check), invariances, and quadrature
 * convergence.
 *
 * Tolerances:
 * - local energy: |Δ| ≤ 1e-14·(1 + |r|)·Σ_n 1/(r² + p_n²). The terms are oscillating; the
 *   backends reduce the phase r/p_n in turns while the reference calls Math.cos(2πr/p_n),
 *   so the phase differs by a few ulps of 2πr/p_n (≈ 1.4e-15·r): the error is measured
 *   against the sum of term magnitudes, not against the (possibly cancelling) sum.
 * - nonlocal energy and distance: relative 1e-12 (f64 accumulation in another order).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { primeTable } from '../lib/primes.js';
import { atOffset, describeEachBackend, maxScaledError, randomF32, reference, relativeError } from './helpers.js';

/** Σ_n 1/(r² + p_n²): the magnitude scale of E_loc(r). */
function localScale(r: Float64Array, n: number): Float64Array {
  const p = primeTable(n);
  return r.map((ri) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += 1 / (ri * ri + p[k] * p[k]);
    return (1 + Math.abs(ri)) * Math.max(s, Number.MIN_VALUE);
  });
}

function expectLocalAgrees(got: Float64Array, want: Float64Array, r: Float64Array, n: number): void {
  expect(maxScaledError(got, want, localScale(r, n))).toBeLessThanOrEqual(1e-14);
}

const finiteR = fc.double({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true });
const f32 = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });

describeEachBackend('local energy', ({ kernels }) => {
  test('E_loc(0) = Σ 1/p_n² (the cosines are all 1)', () => {
    for (const n of [1, 10, 100, 10_000]) {
      const out = new Float64Array(1);
      kernels.localEnergy(new Float64Array([0]), n, out);
      const p = primeTable(n);
      let want = 0;
      for (let k = 0; k < n; k++) want += 1 / (p[k] * p[k]);
      expect(relativeError(out[0], want)).toBeLessThan(1e-14);
    }
    // Σ 1/p² over all primes is the prime zeta P(2) = 0.4522474200410654985…
    const out = new Float64Array(1);
    kernels.localEnergy(new Float64Array([0]), 1_000_000, out);
    expect(Math.abs(out[0] - 0.4522474200410655)).toBeLessThan(1e-7);
  });

  test('hand-computed value: N = 2, r = 1', () => {
    // cos(π)/(1 + 4) + cos(2π/3)/(1 + 9) = −1/5 − 1/20 = −0.25
    const out = new Float64Array(1);
    kernels.localEnergy(new Float64Array([1]), 2, out);
    expect(out[0]).toBeCloseTo(-0.25, 14);
  });

  test('N = 0 gives zeros; empty r is a no-op', () => {
    const out = new Float64Array(3).fill(7);
    kernels.localEnergy(new Float64Array([0.5, 1, 2]), 0, out);
    expect([...out]).toEqual([0, 0, 0]);
    kernels.localEnergy(new Float64Array(0), 10, new Float64Array(0));
  });

  test('agrees with the js reference on a fixed sweep (lengths around the SIMD width)', () => {
    for (const len of [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 1000]) {
      const r = Float64Array.from({ length: len }, (_, i) => ((i * 37.3) % 500) - 100 + i / 7);
      for (const n of [1, 7, 100, 1000]) {
        const got = new Float64Array(len);
        const want = new Float64Array(len);
        kernels.localEnergy(r, n, got);
        reference.localEnergy(r, n, want);
        expectLocalAgrees(got, want, r, n);
      }
    }
  });

  test('agrees with the js reference on random inputs, views at an offset', () => {
    fc.assert(
      fc.property(
        fc.array(finiteR, { maxLength: 41 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 5 }),
        (values, n, offset) => {
          const r = atOffset(Float64Array.from(values), offset);
          const got = atOffset(new Float64Array(r.length), offset + 1);
          const want = new Float64Array(r.length);
          kernels.localEnergy(r, n, got);
          reference.localEnergy(r, n, want);
          expectLocalAgrees(got, want, r, n);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('even in r: E_loc(−r) = E_loc(r)', () => {
    const r = Float64Array.from({ length: 64 }, (_, i) => i * 1.37);
    const a = new Float64Array(64);
    const b = new Float64Array(64);
    kernels.localEnergy(r, 50, a);
    kernels.localEnergy(
      r.map((v) => -v),
      50,
      b,
    );
    expect(maxScaledError(a, b, localScale(r, 50))).toBeLessThanOrEqual(1e-15);
  });

  test('large batch: multi-threaded split agrees with the reference', () => {
    const r = Float64Array.from({ length: 20_011 }, (_, i) => i * 0.05);
    const got = new Float64Array(r.length);
    const want = new Float64Array(r.length);
    kernels.localEnergy(r, 100, got);
    reference.localEnergy(r, 100, want);
    expectLocalAgrees(got, want, r, 100);
  });
});

/** A random M×d problem as f32 arrays. */
const nonlocalProblem = fc
  .record({ d: fc.integer({ min: 1, max: 70 }), m: fc.integer({ min: 1, max: 40 }) })
  .chain(({ d, m }) =>
    fc.record({
      x: fc.float32Array({ minLength: d, maxLength: d, min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
      y: fc.float32Array({ minLength: d, maxLength: d, min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
      points: fc.float32Array({
        minLength: m * d,
        maxLength: m * d,
        min: -4,
        max: 4,
        noNaN: true,
        noDefaultInfinity: true,
      }),
      ell: fc.double({ min: 0.1, max: 50, noNaN: true }),
      eps: fc.double({ min: 1e-3, max: 2, noNaN: true }),
      offset: fc.integer({ min: 0, max: 3 }),
    }),
  );

describeEachBackend('nonlocal energy', ({ kernels }) => {
  test('agrees with the js reference at fixed sizes around the SIMD width', () => {
    for (const d of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 100, 1024]) {
      for (const m of [1, 2, 31, 33, 257]) {
        const x = randomF32(d, d);
        const y = randomF32(d, d + 1);
        const z = randomF32(m * d, m + d);
        const ell = Math.sqrt(d);
        const got = kernels.nonlocalEnergy(x, y, z, { lengthScale: ell, softening: 1e-3 });
        const want = reference.nonlocalEnergy(x, y, z, { lengthScale: ell, softening: 1e-3 });
        expect(relativeError(got, want)).toBeLessThan(1e-12);
      }
    }
  });

  test('agrees with the js reference on random inputs, views at an offset', () => {
    fc.assert(
      fc.property(nonlocalProblem, ({ x, y, points, ell, eps, offset }) => {
        const got = kernels.nonlocalEnergy(atOffset(x, offset), atOffset(y, offset + 1), atOffset(points, offset + 2), {
          lengthScale: ell,
          softening: eps,
        });
        const want = reference.nonlocalEnergy(x, y, points, { lengthScale: ell, softening: eps });
        expect(relativeError(got, want)).toBeLessThan(1e-12);
      }),
      { numRuns: 200 },
    );
  });

  test('invariant under a common permutation of coordinates and a common translation', () => {
    const d = 13;
    const m = 50;
    // values on a 1/1024 grid so that shifting by 0.5 is exact in f32
    const grid = (v: Float32Array) => v.map((t) => Math.round(t * 1024) / 1024);
    const x = grid(randomF32(d, 1));
    const y = grid(randomF32(d, 2));
    const z = grid(randomF32(m * d, 3));
    const base = kernels.nonlocalEnergy(x, y, z, { lengthScale: 2, softening: 0.01 });
    const perm = Array.from({ length: d }, (_, k) => (k * 5 + 3) % d);
    const permute = (v: Float32Array, rows: number) => {
      const out = new Float32Array(v.length);
      for (let j = 0; j < rows; j++) for (let k = 0; k < d; k++) out[j * d + k] = v[j * d + perm[k]];
      return out;
    };
    expect(
      relativeError(
        kernels.nonlocalEnergy(permute(x, 1), permute(y, 1), permute(z, m), { lengthScale: 2, softening: 0.01 }),
        base,
      ),
    ).toBeLessThan(1e-12);
    const shift = (v: Float32Array) => v.map((t) => t + 0.5);
    expect(
      relativeError(kernels.nonlocalEnergy(shift(x), shift(y), shift(z), { lengthScale: 2, softening: 0.01 }), base),
    ).toBeLessThan(1e-12);
  });

  test('the result does not depend on the order of the quadrature points', () => {
    const d = 9;
    const m = 300;
    const x = randomF32(d, 4);
    const y = randomF32(d, 5);
    const z = randomF32(m * d, 6);
    const reversed = new Float32Array(z.length);
    for (let j = 0; j < m; j++) reversed.set(z.subarray(j * d, (j + 1) * d), (m - 1 - j) * d);
    expect(
      relativeError(
        kernels.nonlocalEnergy(x, y, z, { lengthScale: 1, softening: 0.1 }),
        kernels.nonlocalEnergy(x, y, reversed, { lengthScale: 1, softening: 0.1 }),
      ),
    ).toBeLessThan(1e-13);
  });

  test('a single point z = y gives exp(−‖x − y‖/ℓ)/ε exactly', () => {
    const x = new Float32Array([3, 4]);
    const y = new Float32Array([0, 0]);
    expect(kernels.nonlocalEnergy(x, y, y, { lengthScale: 5, softening: 0.5 })).toBeCloseTo(Math.exp(-1) / 0.5, 14);
  });

  test('a non-finite point makes the kernel return NaN', () => {
    const x = new Float32Array([0, 0]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const z = new Float32Array([0.5, 0.5, 0.1, bad]);
      expect(kernels.nonlocalEnergy(x, x, z, { lengthScale: 1, softening: 0.1 })).toBeNaN();
    }
  });

  test('distance agrees with the reference', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(f32, f32), { minLength: 1, maxLength: 100 }), (pairs) => {
        const x = Float32Array.from(pairs, (p) => p[0]);
        const y = Float32Array.from(pairs, (p) => p[1]);
        expect(relativeError(kernels.distance(x, y), reference.distance(x, y))).toBeLessThan(1e-12);
      }),
      { numRuns: 200 },
    );
  });
});

describeEachBackend('energy terms (eq. 5, one call)', ({ kernels }) => {
  const params = (primeCount: number, ell: number, eps: number) => ({
    primeCount,
    lengthScale: ell,
    softening: eps,
    lambdaCosmo: 1.2,
  });

  /** The same backend's three kernels, composed: what energyTerms must give bit for bit. */
  function composed(x: Float32Array, y: Float32Array, points: Float32Array, p: ReturnType<typeof params>) {
    const nonlocal = kernels.nonlocalEnergy(x, y, points, { lengthScale: p.lengthScale, softening: p.softening });
    const r = kernels.distance(x, y);
    const local = new Float64Array(1);
    kernels.localEnergy(Float64Array.of(r), p.primeCount, local);
    return [r, local[0], nonlocal, local[0] + p.lambdaCosmo * nonlocal];
  }

  test('is distance, localEnergy and nonlocalEnergy bit for bit, and agrees with the js reference', () => {
    fc.assert(
      fc.property(nonlocalProblem, fc.integer({ min: 0, max: 200 }), ({ x, y, points, ell, eps, offset }, n) => {
        const p = params(n, ell, eps);
        const out = atOffset(new Float64Array(4), offset);
        kernels.energyTerms(atOffset(x, offset), atOffset(y, offset + 1), atOffset(points, offset + 2), p, out);
        // wasm routes its single kernels' small calls to js (measured crossovers), so its terms
        // agree with them within the tolerances below, not bit for bit
        if (kernels.name !== 'wasm') expect([...out]).toEqual(composed(x, y, points, p));
        const want = new Float64Array(4);
        reference.energyTerms(x, y, points, p, want);
        expect(relativeError(out[0], want[0])).toBeLessThan(1e-12);
        expectLocalAgrees(out.subarray(1, 2), want.subarray(1, 2), out.subarray(0, 1), n);
        expect(relativeError(out[2], want[2])).toBeLessThan(1e-12);
      }),
      { numRuns: 100 },
    );
  });

  test('a large quadrature (M·d ≥ 4096: the wasm module itself, not its small-call route to js)', () => {
    const d = 24;
    const m = 200;
    const x = randomF32(d, 11);
    const y = randomF32(d, 12);
    const points = randomF32(m * d, 13, 2);
    const p = params(50, 3, 0.01);
    const out = new Float64Array(4);
    kernels.energyTerms(x, y, points, p, out);
    if (kernels.name !== 'wasm') expect([...out]).toEqual(composed(x, y, points, p));
    const want = new Float64Array(4);
    reference.energyTerms(x, y, points, p, want);
    expect(relativeError(out[0], want[0])).toBeLessThan(1e-12);
    expectLocalAgrees(out.subarray(1, 2), want.subarray(1, 2), out.subarray(0, 1), 50);
    expect(relativeError(out[2], want[2])).toBeLessThan(1e-12);
  });

  test('an input that shares memory with out is read as it was before the call', () => {
    const d = 4;
    const buffer = new ArrayBuffer(64);
    const out = new Float64Array(buffer, 0, 4); // bytes 0..32
    const x = new Float32Array(buffer, 16, d); // inside out's bytes 16..32
    x.set([0.25, -0.5, 0.75, 1]);
    const y = Float32Array.from([0.1, 0.2, -0.3, 0.4]);
    const points = randomF32(5 * d, 9);
    const p = params(20, 1, 0.1);
    const want = composed(x.slice(), y, points, p);
    kernels.energyTerms(x, y, points, p, out);
    if (kernels.name === 'wasm') expect(relativeError(out[3], want[3])).toBeLessThan(1e-12);
    else expect([...out]).toEqual(want);
  });

  test('bad arguments are errors naming the parameter', () => {
    const x = randomF32(3, 1);
    const y = randomF32(3, 2);
    const points = randomF32(6, 3);
    const out = new Float64Array(4);
    const p = params(10, 1, 0.1);
    const named = (call: () => void) => {
      try {
        call();
      } catch (error) {
        return (error as { parameter?: string }).parameter;
      }
      return 'no error';
    };
    expect(named(() => kernels.energyTerms(new Float32Array(0), new Float32Array(0), points, p, out))).toBe('x');
    expect(named(() => kernels.energyTerms(x, y.subarray(1), points, p, out))).toBe('y');
    expect(named(() => kernels.energyTerms(x, y, points.subarray(1), p, out))).toBe('points');
    if (kernels.name === 'js') return; // the reference trusts the facade with the rest
    expect(named(() => kernels.energyTerms(x, y, points, p, new Float64Array(3)))).toBe('out');
    expect(named(() => kernels.energyTerms(x, y, points, { ...p, primeCount: 2.5 }, out))).toBe('params.primeCount');
    expect(named(() => kernels.energyTerms(x, y, points, { ...p, primeCount: 1e7 }, out))).toBe('params.primeCount');
    expect(named(() => kernels.energyTerms(x, y, points, { ...p, softening: 'a' as never }, out))).toBe(
      'params.softening',
    );
    expect(named(() => kernels.energyTerms(x, Float64Array.from(y) as never, points, p, out))).toBe('y');
  });

  test('a params getter that detaches x is an error naming x, not a read of freed memory', () => {
    const x = new Float32Array(new ArrayBuffer(12));
    x.set([0.1, 0.2, 0.3]);
    const p = {
      primeCount: 5,
      softening: 0.1,
      lambdaCosmo: 1,
      get lengthScale() {
        structuredClone(x.buffer, { transfer: [x.buffer] });
        return 1;
      },
    };
    expect(() => kernels.energyTerms(x, randomF32(3, 2), randomF32(6, 3), p, new Float64Array(4))).toThrow(
      expect.objectContaining({ parameter: 'x' }),
    );
  });
});
