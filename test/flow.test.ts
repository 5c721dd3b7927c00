/**
 * Energy-flow kernels (design eq. 10) on every backend: agreement with the js reference on
 * fixed and random grids (odd sizes, views at an offset), conservation of Σ E, positivity
 * at the stable limit, the analytic Gaussian under pure diffusion, and the exact discrete
 * steady state of drift against diffusion.
 *
 * Tolerances:
 * - energyFlowStep: |Δ| ≤ 1e-14·(max|E| + dt·|κ|·max|S|). The native paths fuse
 *   multiply-adds where the reference rounds twice; at dt within the stable limit every
 *   term of the update is bounded by those magnitudes (observed ≤ 3e-16).
 * - energyFlowMaxStep: identical bits (same scalar operations in the same order).
 * - laplacian: |Δ| ≤ 1e-14·8·max|E|/h².
 * - conservation: |Σ E_T − Σ E_0| ≤ 1e-12·Σ E_0 after hundreds of steps (rounding only).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { CimmArgumentError } from '../lib/errors.js';
import type { EnergyFlowParams, FlowBoundary, Kernels } from '../lib/kernels.js';
import { atOffset, describeEachBackend, reference } from './helpers.js';

const BOUNDARIES: FlowBoundary[] = ['periodic', 'zeroFlux'];

/** Deterministic values in [lo, hi). */
function randomGrid(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** `steps` explicit steps, double-buffered; returns the final grid. */
function integrate(
  k: Kernels,
  energy: Float64Array,
  potential: Float64Array,
  source: Float64Array,
  nx: number,
  ny: number,
  params: EnergyFlowParams,
  steps: number,
): Float64Array {
  let a = Float64Array.from(energy);
  let b = new Float64Array(a.length);
  for (let s = 0; s < steps; s++) {
    k.energyFlowStep(a, potential, source, nx, ny, params, b);
    [a, b] = [b, a];
  }
  return a;
}

function expectStepAgrees(
  k: Kernels,
  e: Float64Array,
  p: Float64Array,
  s: Float64Array,
  nx: number,
  ny: number,
  params: EnergyFlowParams,
  offset = 0,
): void {
  const got = atOffset(new Float64Array(nx * ny).fill(Number.NaN), offset + 1);
  const want = new Float64Array(nx * ny);
  k.energyFlowStep(atOffset(e, offset), atOffset(p, offset + 2), atOffset(s, offset + 3), nx, ny, params, got);
  reference.energyFlowStep(e, p, s, nx, ny, params, want);
  const scale = maxAbs(e) + params.dt * Math.abs(params.kappa) * maxAbs(s);
  expect(maxDiff(got, want)).toBeLessThanOrEqual(1e-14 * Math.max(scale, Number.MIN_VALUE));
}

describeEachBackend('energy flow step', ({ kernels }) => {
  test('agrees with the js reference at sizes around the SIMD width, both boundaries', () => {
    const sizes: [number, number][] = [
      [1, 1],
      [1, 9],
      [2, 2],
      [3, 5],
      [4, 4],
      [5, 3],
      [6, 6],
      [7, 2],
      [9, 9],
      [10, 1],
      [17, 13],
      [64, 3],
      [127, 33],
      [301, 257],
    ];
    for (const boundary of BOUNDARIES) {
      for (const [nx, ny] of sizes) {
        const n = nx * ny;
        const e = randomGrid(n, n, 0, 2);
        const p = randomGrid(n, n + 1, -1, 1);
        const s = randomGrid(n, n + 2, -1, 1);
        const base = { h: 0.7, beta: 0.25, gamma: 0.35, boundary };
        const dt = reference.energyFlowMaxStep(p, nx, ny, base);
        expect(kernels.energyFlowMaxStep(p, nx, ny, base)).toBe(dt);
        expectStepAgrees(kernels, e, p, s, nx, ny, { ...base, dt, kappa: 0.6 });
      }
    }
  });

  test('agrees with the js reference on random grids and coefficients, views at an offset', () => {
    const problem = fc
      .record({ nx: fc.integer({ min: 1, max: 23 }), ny: fc.integer({ min: 1, max: 11 }) })
      .chain(({ nx, ny }) => {
        const g = (min: number, max: number) =>
          fc.float64Array({ minLength: nx * ny, maxLength: nx * ny, min, max, noNaN: true, noDefaultInfinity: true });
        return fc.record({
          nx: fc.constant(nx),
          ny: fc.constant(ny),
          e: g(-10, 10),
          p: g(-3, 3),
          s: g(-5, 5),
          h: fc.double({ min: 0.05, max: 4, noNaN: true }),
          beta: fc.double({ min: 0, max: 3, noNaN: true }),
          gamma: fc.double({ min: -3, max: 3, noNaN: true }),
          kappa: fc.double({ min: -1, max: 1, noNaN: true }),
          fraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
          boundary: fc.constantFrom<FlowBoundary>('periodic', 'zeroFlux'),
          offset: fc.integer({ min: 0, max: 3 }),
        });
      });
    fc.assert(
      fc.property(problem, ({ nx, ny, e, p, s, h, beta, gamma, kappa, fraction, boundary, offset }) => {
        const base = { h, beta, gamma, boundary };
        const limit = reference.energyFlowMaxStep(p, nx, ny, base);
        expect(kernels.energyFlowMaxStep(atOffset(p, offset), nx, ny, base)).toBe(limit);
        const dt = Number.isFinite(limit) ? limit * fraction : fraction;
        expectStepAgrees(kernels, e, p, s, nx, ny, { ...base, dt, kappa }, offset);
      }),
      { numRuns: 200 },
    );
  });

  test('the Laplacian agrees with the reference and is exact on a quadratic', () => {
    for (const boundary of BOUNDARIES) {
      for (const [nx, ny] of [
        [1, 1],
        [3, 7],
        [6, 5],
        [33, 9],
        [260, 300],
      ]) {
        const e = randomGrid(nx * ny, nx + ny, -3, 3);
        const got = atOffset(new Float64Array(nx * ny), 1);
        const want = new Float64Array(nx * ny);
        kernels.laplacian(atOffset(e, 2), nx, ny, { h: 0.5, boundary }, got);
        reference.laplacian(e, nx, ny, { h: 0.5, boundary }, want);
        expect(maxDiff(got, want)).toBeLessThanOrEqual((1e-14 * 8 * maxAbs(e)) / 0.25);
      }
    }
    // ∇²(x² + 2y²) = 2 + 4 = 6 at every interior cell (the 5-point stencil is exact on quadratics).
    const [nx, ny, h] = [12, 9, 0.5];
    const e = new Float64Array(nx * ny);
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) e[j * nx + i] = (i * h) ** 2 + 2 * (j * h) ** 2;
    const out = new Float64Array(nx * ny);
    kernels.laplacian(e, nx, ny, { h, boundary: 'zeroFlux' }, out);
    for (let j = 1; j < ny - 1; j++) for (let i = 1; i < nx - 1; i++) expect(out[j * nx + i]).toBeCloseTo(6, 10);
  });

  test('conserves Σ E with drift and diffusion (no source), and keeps E ≥ 0 at the stable limit', () => {
    for (const boundary of BOUNDARIES) {
      const [nx, ny] = [37, 29];
      const e = randomGrid(nx * ny, 11, 0, 1);
      const p = randomGrid(nx * ny, 12, -2, 2);
      const s = new Float64Array(nx * ny);
      const base = { h: 0.5, beta: 0.25, gamma: 0.35, boundary };
      const dt = kernels.energyFlowMaxStep(p, nx, ny, base);
      const final = integrate(kernels, e, p, s, nx, ny, { ...base, dt, kappa: 1 }, 400);
      expect(Math.abs(sum(final) - sum(e))).toBeLessThanOrEqual(1e-12 * sum(e));
      expect(Math.min(...final)).toBeGreaterThanOrEqual(0);
      // and the energy did move: the grid is no longer the initial one
      expect(maxDiff(final, e)).toBeGreaterThan(0.01);
    }
  });

  test('the source adds dt·κ·Σ S to Σ E per step', () => {
    const [nx, ny] = [20, 15];
    const e = randomGrid(nx * ny, 1, 0, 1);
    const p = randomGrid(nx * ny, 2, -1, 1);
    const s = randomGrid(nx * ny, 3, -1, 1);
    const params = { h: 1, dt: 0.3, beta: 0.25, gamma: 0.35, kappa: -0.4, boundary: 'zeroFlux' as const };
    const out = new Float64Array(nx * ny);
    kernels.energyFlowStep(e, p, s, nx, ny, params, out);
    expect(sum(out) - sum(e)).toBeCloseTo(0.3 * -0.4 * sum(s), 12);
  });

  test('a Gaussian under pure diffusion: variance σ² + 2βt per axis, peak 1/(2π(σ² + 2βt))', () => {
    const [n, h, beta, sigma2] = [96, 1, 0.25, 9];
    const c = n / 2;
    const e = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        e[j * n + i] = Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma2)) / (2 * Math.PI * sigma2);
      }
    }
    const zero = new Float64Array(n * n);
    for (const boundary of BOUNDARIES) {
      const dt = 0.9; // the limit is h²/(4β) = 1
      expect(kernels.energyFlowMaxStep(zero, n, n, { h, beta, gamma: 0.35, boundary })).toBe(1);
      const steps = 40;
      const t = steps * dt;
      const final = integrate(kernels, e, zero, zero, n, n, { h, dt, beta, gamma: 0.35, kappa: 0, boundary }, steps);
      const mass = sum(final);
      let vx = 0;
      let vy = 0;
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          vx += final[j * n + i] * (i - c) ** 2;
          vy += final[j * n + i] * (j - c) ** 2;
        }
      }
      const variance = sigma2 + 2 * beta * t;
      // The 5-point explicit scheme grows the discrete second moment by exactly 2β·dt per
      // step (Σ x²(E_{i+1} − 2E_i + E_{i−1}) = 2h² Σ E), so only rounding and the far tails
      // separate it from the analytic variance.
      expect(Math.abs(vx / mass - variance)).toBeLessThan(1e-9);
      expect(Math.abs(vy / mass - variance)).toBeLessThan(1e-9);
      expect(Math.abs(mass - 1)).toBeLessThan(1e-12);
      // Peak: O(h²/σ²) discretization error (measured 0.5% here).
      const peak = final[c * n + c];
      expect(Math.abs(peak / (1 / (2 * Math.PI * variance)) - 1)).toBeLessThan(0.01);
    }
  });

  test('drift against diffusion settles to the discrete Boltzmann profile E_{i+1}/E_i = β/(β + γ·∂Ψ·h)', () => {
    // 1-D (ny = 1), zero flux, Ψ = slope·x: the upwind scheme's steady state has zero net flux
    // through every face, so consecutive cells keep the exact ratio β/(β + γ·slope·h), the
    // first-order approximation of the continuum exp(−γ·slope·h/β): energy collects where Ψ is low.
    const [nx, h, beta, gamma, slope] = [20, 1, 0.25, 0.35, 0.1];
    const p = Float64Array.from({ length: nx }, (_, i) => slope * i * h);
    const e = new Float64Array(nx).fill(1);
    const base = { h, beta, gamma, boundary: 'zeroFlux' as const };
    const dt = kernels.energyFlowMaxStep(p, nx, 1, base);
    const final = integrate(kernels, e, p, new Float64Array(nx), nx, 1, { ...base, dt, kappa: 0 }, 8000);
    const ratio = beta / (beta + gamma * slope * h);
    for (let i = 0; i + 1 < nx; i++) expect(final[i + 1] / final[i]).toBeCloseTo(ratio, 9);
    expect(Math.abs(ratio - Math.exp((-gamma * slope * h) / beta))).toBeLessThan(0.01);
    expect(sum(final)).toBeCloseTo(nx, 10);
  });

  test('a native backend checks its own arguments and names the parameter', () => {
    if (kernels.name === 'js') return; // the reference trusts the facade's validation
    const [nx, ny] = [5, 4];
    const g = new Float64Array(nx * ny);
    const out = new Float64Array(nx * ny);
    const params: EnergyFlowParams = { h: 1, dt: 0.1, beta: 0.25, gamma: 0.35, kappa: 0.5, boundary: 'periodic' };
    // The message formats differ between the native backends (each names what it checked);
    // both follow "Expected <what> for <parameter> but received …".
    const fails = (f: () => unknown, parameter: string, what: string) => {
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CimmArgumentError);
      // a field of params is named `params.<field>` (cpp) or by its bare name
      expect((error as CimmArgumentError).parameter).toMatch(new RegExp(`^(params\\.)?${parameter}$`));
      expect((error as Error).message).toMatch(
        new RegExp(`^Expected ${what}.* for (params\\.)?${parameter} but received `),
      );
    };
    fails(
      () => kernels.energyFlowStep(g, g, new Float64Array(3), nx, ny, params, out),
      'source',
      'an? \\w*\\s?[Aa]rray',
    );
    fails(
      () => kernels.energyFlowStep(g, g, g, nx, ny, { ...params, boundary: 'open' as never }, out),
      'boundary',
      'one of "periodic", "zeroFlux"',
    );
    fails(() => kernels.energyFlowStep(g, g, g, 2.5, 8, params, out), 'nx', 'an integer >= 1');
    fails(
      () => kernels.energyFlowStep(g, g, g, nx, ny, params, g),
      'out',
      'an? \\w*\\s?[Aa]rray that does not overlap energy',
    );
    fails(() => kernels.energyFlowStep(g, g, g, nx, ny, { ...params, beta: -1 }, out), 'beta', 'a finite number >= 0');
    fails(() => kernels.energyFlowMaxStep(g, nx, ny, { ...params, h: Number.NaN }), 'h', 'a finite number > 0');
    fails(
      () => kernels.laplacian(g, nx, ny, { h: 1, boundary: 'periodic' }, new Float64Array(2)),
      'out',
      'an? \\w*\\s?[Aa]rray',
    );
    fails(() => kernels.gridSums(g, new Float64Array(2)), 'out', 'an? \\w*\\s?[Aa]rray');
  });
});
