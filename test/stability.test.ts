/**
 * The stability criteria (design eq. 11): the reduction kernels on every backend against
 * the js reference, and StabilityController's evaluation and gradient stabilization on
 * hand-computed cases.
 *
 * Tolerances:
 * - l2Norm, gridSums (Σ|x|, Σx²): relative n·ε — sums of n non-negative terms in any order
 *   are within (n − 1)·ε of the exact sum, and the backends add in different orders.
 * - gridSums Σx: n·ε·Σ|x| (cancellation makes a relative bound meaningless).
 * - scaleInPlace and zeroNonFinite: identical bits (one rounding of the f64 product to f32).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { EnergyFlow, StabilityController } from '../lib/index.js';
import { atOffset, describeEachBackend, reference, relativeError } from './helpers.js';

const EPS = Number.EPSILON;

function randomF32(n: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

const finiteF32 = fc.float({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const finiteF64 = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });

describeEachBackend('stability reductions', ({ kernels }) => {
  test('l2Norm and gridSums agree with the reference at lengths around the SIMD width and large', () => {
    for (const n of [0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 1000, 262_143, 262_145, 1_000_003]) {
      const x = randomF32(n, n + 1);
      const tol = Math.max(n, 1) * EPS;
      expect(relativeError(kernels.l2Norm(x), reference.l2Norm(x))).toBeLessThanOrEqual(tol);
      const g = Float64Array.from(x, (v) => v - 0.25);
      const got = new Float64Array(3);
      const want = new Float64Array(3);
      kernels.gridSums(g, got);
      reference.gridSums(g, want);
      expect(Math.abs(got[0] - want[0])).toBeLessThanOrEqual(tol * want[1]);
      expect(relativeError(got[1], want[1])).toBeLessThanOrEqual(tol);
      expect(relativeError(got[2], want[2])).toBeLessThanOrEqual(tol);
    }
  });

  test('l2Norm, gridSums on random inputs, views at an offset', () => {
    fc.assert(
      fc.property(
        fc.array(finiteF32, { maxLength: 70 }),
        fc.array(finiteF64, { maxLength: 70 }),
        fc.integer({ min: 0, max: 5 }),
        (xs, gs, offset) => {
          const x = Float32Array.from(xs);
          const tol = Math.max(x.length, 1) * EPS;
          expect(relativeError(kernels.l2Norm(atOffset(x, offset)), reference.l2Norm(x))).toBeLessThanOrEqual(tol);
          const g = Float64Array.from(gs);
          const got = atOffset(new Float64Array(3), offset + 1);
          const want = new Float64Array(3);
          kernels.gridSums(atOffset(g, offset), got);
          reference.gridSums(g, want);
          const t = Math.max(g.length, 1) * EPS;
          expect(Math.abs(got[0] - want[0])).toBeLessThanOrEqual(t * want[1]);
          expect(relativeError(got[1], want[1])).toBeLessThanOrEqual(t);
          expect(relativeError(got[2], want[2])).toBeLessThanOrEqual(t);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('l2Norm of a vector holding NaN or ±∞ is not finite', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = randomF32(37, 4);
      x[33] = bad;
      expect(Number.isFinite(kernels.l2Norm(x))).toBe(false);
    }
  });

  test('scaleInPlace matches the reference bit for bit, views at an offset', () => {
    fc.assert(
      fc.property(
        fc.array(finiteF32, { maxLength: 70 }),
        fc.double({ min: -4, max: 4, noNaN: true }),
        fc.integer({ min: 0, max: 5 }),
        (xs, s, offset) => {
          const got = atOffset(Float32Array.from(xs), offset);
          const want = Float32Array.from(xs);
          kernels.scaleInPlace(got, s);
          reference.scaleInPlace(want, s);
          expect([...got]).toEqual([...want]);
        },
      ),
      { numRuns: 200 },
    );
    const big = randomF32(1_000_003, 7);
    const want = Float32Array.from(big);
    kernels.scaleInPlace(big, 1 / 3);
    reference.scaleInPlace(want, 1 / 3);
    expect(Buffer.from(big.buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });

  test('zeroNonFinite zeroes exactly the NaN and ±∞ entries and counts them', () => {
    const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.5e38, -0, 1e-45];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(finiteF32, fc.constantFrom(...specials)), { maxLength: 70 }),
        fc.integer({ min: 0, max: 5 }),
        (xs, offset) => {
          const got = atOffset(Float32Array.from(xs), offset);
          const want = Float32Array.from(xs);
          expect(kernels.zeroNonFinite(got)).toBe(reference.zeroNonFinite(want));
          expect([...got]).toEqual([...want]);
        },
      ),
      { numRuns: 200 },
    );
    const big = randomF32(1_000_001, 8);
    for (let i = 5; i < big.length; i += 9_973) big[i] = Number.NaN;
    expect(kernels.zeroNonFinite(big)).toBe(Math.ceil((big.length - 5) / 9_973));
    expect(Number.isFinite(kernels.l2Norm(big))).toBe(true);
  });
});

describe('StabilityController', () => {
  test('defaults are the seed constants and the config round-trips', () => {
    const c = new StabilityController();
    expect(c.getConfig()).toEqual({ lambdaCosmo: 1.2, alpha: 0.45, beta: 0.25, energyMax: null, margin: 0.9 });
    const again = StabilityController.fromConfig(
      JSON.parse(JSON.stringify(new StabilityController({ energyMax: 5 }).getConfig())),
    );
    expect(again.getConfig().energyMax).toBe(5);
  });

  test('|dE/dt| ≤ Λ‖∇L‖: a failure scales the gradient by margin/ratio', () => {
    const c = new StabilityController();
    const g = new Float32Array([3, 4]); // ‖∇L‖ = 5, bound Λ·5 = 6
    const ok = c.stabilizeGradients(g, { energyRate: -5.5 });
    expect(ok.stable).toBe(true);
    expect(ok.energyRate).toEqual({ value: 5.5, bound: 6, ratio: 5.5 / 6, holds: true });
    expect(ok.scale).toBe(1);
    expect([...g]).toEqual([3, 4]);

    const r = c.stabilizeGradients(g, { energyRate: 7.5 }); // ratio 1.25
    expect(r.stable).toBe(false);
    expect(r.failed).toEqual(['energyRate']);
    expect(r.energyRate!.ratio).toBeCloseTo(1.25, 15);
    expect(r.scale).toBeCloseTo(0.9 / 1.25, 15);
    expect([...g]).toEqual([Math.fround(3 * r.scale), Math.fround(4 * r.scale)]);
    // the energy rate, which scales with the update to first order, now meets 0.9 of its bound
    expect((7.5 * r.scale) / (1.2 * 5)).toBeCloseTo(0.9, 12);
    expect(r.curvature).toBeUndefined();
    expect(r.totalEnergy).toBeUndefined();
    expect(c.checks).toBe(2);
    expect(c.failures).toEqual({ energyRate: 1, curvature: 0, totalEnergy: 0 });
    expect(c.lastReport).toBe(r);
  });

  test('check() reports the same without changing the gradient', () => {
    const c = new StabilityController({ margin: 0.5 });
    const g = new Float32Array([3, 4]);
    const r = c.check(g, { energyRate: 12 });
    expect(r.failed).toEqual(['energyRate']);
    expect(r.scale).toBeCloseTo(0.5 / 2, 15);
    expect([...g]).toEqual([3, 4]);
  });

  test('‖∇²E‖ ≤ (α/β)‖∇L‖ and ∫|E| ≤ E_max on a grid (a discrete eigenmode of the Laplacian)', () => {
    // E = 2 + cos(2πi/nx) on a periodic grid: ∇²E = −(2 − 2cos(2π/nx))/h² · cos(2πi/nx).
    const [nx, ny, h] = [16, 8, 0.5];
    const e = new Float64Array(nx * ny);
    let l2 = 0;
    let total = 0;
    const lambda = (2 - 2 * Math.cos((2 * Math.PI) / nx)) / (h * h);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const c = Math.cos((2 * Math.PI * i) / nx);
        e[j * nx + i] = 2 + c;
        l2 += (lambda * c) ** 2 * h * h;
        total += (2 + c) * h * h;
      }
    }
    const curvature = Math.sqrt(l2);
    const g = new Float32Array([0.6, 0.8]); // ‖∇L‖ = 1 (to f32 rounding)
    const norm = Math.hypot(Math.fround(0.6), Math.fround(0.8));
    const c = new StabilityController({ alpha: 0.45, beta: 0.25, energyMax: total / 2 });
    const r = c.stabilizeGradients(g, { energy: e, nx, ny, h, boundary: 'periodic' });
    expect(r.curvature!.value).toBeCloseTo(curvature, 12);
    expect(r.curvature!.bound).toBeCloseTo(1.8 * norm, 12);
    expect(r.totalEnergy!.value).toBeCloseTo(total, 12);
    expect(r.totalEnergy!.ratio).toBeCloseTo(2, 12);
    expect(r.failed).toContain('totalEnergy');
    const worst = Math.max(2, curvature / (1.8 * norm));
    expect(r.failed).toEqual(curvature > 1.8 * norm ? ['curvature', 'totalEnergy'] : ['totalEnergy']);
    expect(r.scale).toBeCloseTo(0.9 / worst, 12);
    expect(r.energyRate).toBeUndefined();
  });

  test('a scalar energy gives ∫|E| = |E| and no curvature', () => {
    const c = new StabilityController({ energyMax: 1 });
    const r = c.check(new Float32Array([1]), { energy: -0.5, energyRate: 0 });
    expect(r.totalEnergy).toEqual({ value: 0.5, bound: 1, ratio: 0.5, holds: true });
    expect(r.energyRate).toEqual({ value: 0, bound: 1.2, ratio: 0, holds: true });
    expect(r.curvature).toBeUndefined();
    expect(r.stable).toBe(true);
  });

  test('non-finite gradient entries are zeroed by stabilizeGradients and only counted by check', () => {
    const c = new StabilityController();
    const g = new Float32Array([3, Number.NaN, 4, Number.NEGATIVE_INFINITY]);
    const seen = c.check(g, { energyRate: 1 });
    expect(seen.nonFinite).toBe(2);
    expect(seen.gradientNorm).toBe(5);
    expect(seen.stable).toBe(false);
    expect(Number.isNaN(g[1])).toBe(true);
    const r = c.stabilizeGradients(g, { energyRate: 1 });
    expect(r.nonFinite).toBe(2);
    expect(r.gradientNorm).toBe(5);
    expect(r.failed).toEqual([]);
    expect([...g]).toEqual([3, 0, 4, 0]);
    expect(c.stabilizeGradients(g).stable).toBe(true);
  });

  test('a zero gradient with a moving energy: ratio ∞, scale 0', () => {
    const g = new Float32Array(5);
    const r = new StabilityController().stabilizeGradients(g, { energyRate: 1e-3 });
    expect(r.energyRate!.ratio).toBe(Number.POSITIVE_INFINITY);
    expect(r.scale).toBe(0);
    expect([...g]).toEqual([0, 0, 0, 0, 0]);
  });

  test('with an EnergyFlow: its E, its last rate and its geometry', () => {
    const [nx, ny] = [12, 10];
    const energy = Float64Array.from({ length: nx * ny }, (_, i) => 1 + Math.sin(i));
    const flow = new EnergyFlow({ nx, ny, h: 0.5, dt: 0.05, boundary: 'zeroFlux', energy });
    const c = new StabilityController();
    const g = new Float32Array([1, 2, 2]);
    const before = c.check(g, { flow });
    expect(before.energyRate).toBeUndefined(); // no step taken yet
    expect(before.totalEnergy!.value).toBeCloseTo(flow.totalEnergy(), 12);
    flow.step();
    const r = c.check(g, { flow });
    const rate = flow.rate()!;
    let l2 = 0;
    for (const v of rate) l2 += v * v * 0.25;
    expect(r.energyRate!.value).toBeCloseTo(Math.sqrt(l2), 10);
    expect(r.curvature!.value).toBeGreaterThan(0);
    expect(r.energyRate!.bound).toBeCloseTo(1.2 * 3, 6);
    // an explicit energyRate wins over the flow's
    expect(c.check(g, { flow, energyRate: 0.5 }).energyRate!.value).toBe(0.5);
  });

  test('bad input gets a clear error naming the parameter', () => {
    const c = new StabilityController();
    expect(() => c.check([1, 2] as never)).toThrow(
      'Expected a Float32Array for gradient but received Array(2) of type Array',
    );
    expect(() => c.check(new Float32Array(2), { energyRate: 'fast' as never })).toThrow(
      'Expected a finite number or a Float64Array for energyRate but received "fast" of type string',
    );
    expect(() => c.check(new Float32Array(2), { energyRate: Number.NaN })).toThrow(
      'Expected a finite number for energyRate but received NaN of type number',
    );
    expect(() => c.check(new Float32Array(2), { energy: new Float64Array(6) })).toThrow(
      'Expected an integer >= 1 for nx but received undefined of type undefined',
    );
    expect(() => c.check(new Float32Array(2), { energy: new Float64Array(6), nx: 2, ny: 2 })).toThrow(
      'Expected a Float64Array of length 4 for energy but received Float64Array(6) of type Float64Array',
    );
    expect(() =>
      c.check(new Float32Array(2), { energy: new Float64Array([1, 2, Number.POSITIVE_INFINITY, 4]), nx: 2, ny: 2 }),
    ).toThrow('Expected finite values for energy but received Infinity at index 2');
    expect(() =>
      c.check(new Float32Array(2), { energy: new Float64Array(4), nx: 2, ny: 2, boundary: 'open' as never }),
    ).toThrow('Expected one of "periodic", "zeroFlux" for boundary but received "open" of type string');
    expect(() => c.check(new Float32Array(2), { flow: {} as never })).toThrow('Expected an EnergyFlow for flow');
    expect(() => c.check(new Float32Array(2), 3 as never)).toThrow('Expected an options object for context');
    expect(() => new StabilityController({ beta: 0 })).toThrow('Expected a finite number > 0 for beta but received 0');
    expect(() => new StabilityController({ margin: 1.5 })).toThrow(
      'Expected a finite number > 0 and <= 1 for margin but received 1.5',
    );
    expect(() => new StabilityController({ energyMax: -1 })).toThrow('for energyMax but received -1');
    expect(() => new StabilityController({ lambdaCosmo: Number.NaN })).toThrow('for lambdaCosmo but received NaN');
  });
});
