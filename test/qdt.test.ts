/**
 * QDT kernels (design eqs. 1, 2 and the Shannon term of 6) on every backend: analytic and
 * quadrature checks, extremes, and agreement with the js reference on fixed and random
 * inputs (fast-check), lengths around the SIMD width, views at an offset, in place.
 *
 * Tolerances:
 * - coupling vs quadrature: |ΔΨ| ≤ 1e-9·max(1, |Ψ|) (the brief's bar), and J alone to
 *   1e-12 of its magnitude scale (the quadrature is good to ~1e-14 here).
 * - coupling vs the js reference: |ΔΨ| ≤ 1e-14 · (|α|e^{−βt} + |Λ|·J-bound) (exp and sin/cos
 *   within 2 ulp each on the native paths, Math.* in js; both see the same rounded βt, γt).
 * - scale transition vs js: relative 4ε (one exp and one division each side).
 * - Shannon entropy vs js: 1e-12·(1 + |log₂ T|) bits (summation order; one-pass formula).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import type { Kernels } from '../lib/kernels.js';
import { atOffset, describeEachBackend, reference } from './helpers.js';

// ---------------------------------------------------------------------------------
// Adaptive Gauss–Kronrod (G7/K15) quadrature, the independent check of eq. 1's integral.

// Correctly rounded from QUADPACK's 33-digit qk15 constants.
const XGK = [
  0.9914553711208126, 0.9491079123427585, 0.8648644233597691, 0.7415311855993945, 0.5860872354676911,
  0.4058451513773972, 0.20778495500789848, 0,
];
const WGK = [
  0.022935322010529224, 0.06309209262997856, 0.10479001032225019, 0.14065325971552592, 0.1690047266392679,
  0.19035057806478542, 0.20443294007529889, 0.20948214108472782,
];
const WG = [0.1294849661688697, 0.27970539148927664, 0.3818300505051189, 0.4179591836734694];

function kronrod(f: (x: number) => number, a: number, b: number): { value: number; error: number } {
  const c = (a + b) / 2;
  const h = (b - a) / 2;
  let k = WGK[7] * f(c);
  let g = WG[3] * f(c);
  for (let i = 0; i < 7; i++) {
    const s = f(c - h * XGK[i]) + f(c + h * XGK[i]);
    k += WGK[i] * s;
    if (i % 2 === 1) g += WG[(i - 1) / 2] * s;
  }
  return { value: k * h, error: Math.abs((k - g) * h) };
}

/** ∫_a^b f by bisection until each piece's |K15 − G7| is below tol·(piece length / total). */
function integrate(f: (x: number) => number, a: number, b: number, tol = 1e-14): number {
  const total = Math.abs(b - a);
  const stack: [number, number][] = [[a, b]];
  let sum = 0;
  let compensation = 0;
  while (stack.length > 0) {
    const [lo, hi] = stack.pop() as [number, number];
    const r = kronrod(f, lo, hi);
    if (r.error <= (tol * Math.abs(hi - lo)) / total || Math.abs(hi - lo) < 1e-9 * total) {
      // Kahan summation keeps 10^4 pieces from adding their own rounding.
      const y = r.value - compensation;
      const t = sum + y;
      compensation = t - sum - y;
      sum = t;
    } else {
      const mid = (lo + hi) / 2;
      stack.push([lo, mid], [mid, hi]);
    }
  }
  return sum;
}

interface Params {
  alpha: number;
  beta: number;
  gamma: number;
  lambda: number;
}

const SEED: Params = { alpha: 0.45, beta: 0.25, gamma: 0.35, lambda: 1.2 };
const PARAMS: Params[] = [
  SEED,
  { alpha: 0.45, beta: 0, gamma: 0.35, lambda: 1.2 },
  { alpha: 0.45, beta: 0.25, gamma: 0, lambda: 1.2 },
  { alpha: 0.45, beta: 0, gamma: 0, lambda: 1.2 },
  { alpha: -1, beta: -0.1, gamma: 2, lambda: 0.5 },
  { alpha: 1, beta: 3, gamma: 1e-6, lambda: -2 },
  { alpha: 0.2, beta: 1e-8, gamma: 1e-8, lambda: 1 },
];

function psi(k: Kernels, t: Float64Array, p: Params): Float64Array {
  const out = new Float64Array(t.length);
  k.coupling(t, { alpha: p.alpha, beta: p.beta, gamma: p.gamma, lambdaCosmo: p.lambda }, out);
  return out;
}

/** J(t) from the kernel: Ψ with α = 0, Λ = 1. */
function jOf(k: Kernels, t: Float64Array, p: Params): Float64Array {
  return psi(k, t, { ...p, alpha: 0, lambda: 1 });
}

/** |α|e^{−βt} + |Λ|·(a bound on |J(t)|): the magnitude scale of Ψ(t). */
function couplingScale(t: number, p: Params): number {
  const e = Math.exp(-p.beta * t);
  const h = Math.hypot(p.beta, p.gamma);
  const jb = h * Math.abs(t) < 1 ? Math.abs(t) * Math.max(1, e) : (Math.abs(p.gamma) / h + e) / h;
  return Math.abs(p.alpha) * e + Math.abs(p.lambda) * jb;
}

function expectCouplingAgrees(got: Float64Array, want: Float64Array, t: Float64Array, p: Params): void {
  for (let i = 0; i < t.length; i++) {
    const tol = 1e-14 * couplingScale(t[i], p);
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      expect.fail(`t=${t[i]} ${JSON.stringify(p)}: ${got[i]} vs ${want[i]} (tolerance ${tol})`);
    }
  }
}

describeEachBackend('coupling Ψ(t) (eq. 1)', ({ kernels }) => {
  test('Ψ(0) = α, and β = γ = 0 gives Ψ ≡ α (J = 0)', () => {
    for (const p of PARAMS) expect(psi(kernels, new Float64Array([0]), p)[0]).toBe(p.alpha);
    const t = Float64Array.from([-5, 1e-300, 0.5, 3, 1e6]);
    expect([...psi(kernels, t, { alpha: 0.7, beta: 0, gamma: 0, lambda: 3 })]).toEqual([0.7, 0.7, 0.7, 0.7, 0.7]);
  });

  test('matches Gauss–Kronrod quadrature of ∫₀ᵗ e^{−βτ} sin(γτ) dτ', () => {
    const times = [-3, 1e-3, 0.5, 1, 2.3, 7.5, 20, 60];
    for (const p of PARAMS) {
      const t = Float64Array.from(times);
      const got = psi(kernels, t, p);
      const j = jOf(kernels, t, p);
      for (let i = 0; i < times.length; i++) {
        const ti = times[i];
        const integral = integrate((tau) => Math.exp(-p.beta * tau) * Math.sin(p.gamma * tau), 0, ti);
        const want = p.alpha * Math.exp(-p.beta * ti) * Math.cos(p.gamma * ti) + p.lambda * integral;
        expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
        const jScale = couplingScale(ti, { ...p, alpha: 0, lambda: 1 });
        expect(Math.abs(j[i] - integral)).toBeLessThanOrEqual(1e-12 * jScale);
      }
    }
  });

  test('small t: J(t) = γt²/2 − (βγ/3)t³ + O(t⁴), to full relative accuracy', () => {
    // The closed form would lose ε/|w|² here; the series keeps J relatively exact.
    for (const t of [1e-9, 1e-6, 1e-4, -1e-5]) {
      const j = jOf(kernels, new Float64Array([t]), SEED)[0];
      const { beta: b, gamma: g } = SEED;
      const want = (g * t * t) / 2 - ((b * g) / 3) * t ** 3 + ((3 * b * b * g - g ** 3) / 24) * t ** 4;
      expect(Math.abs(j - want) / Math.abs(want)).toBeLessThan(1e-14);
    }
  });

  test('high-precision reference values (60-digit closed form, mpmath)', () => {
    // (t, Ψ) for the seed constants and for β = 0 far out; J-only (α = 0) for β = γ = 1e-8.
    const cases: [Params, number, number][] = [
      [SEED, 2.3, 0.9025798870906128],
      [SEED, 100, 2.2702702703027584],
      [SEED, -3, 3.330714683594622],
      [SEED, 1e5, 2.27027027027027],
      [{ alpha: 0.45, beta: 0, gamma: 0.35, lambda: 1.2 }, 1000, 4.273393410135516],
      [{ alpha: 0, beta: 1e-8, gamma: 1e-8, lambda: 1 }, 1e5, 49.96667499999945],
      [{ alpha: 0, beta: -0.1, gamma: 2, lambda: 1 }, 100, -5831.324344878949],
    ];
    for (const [p, t, want] of cases) {
      const got = psi(kernels, new Float64Array([t]), p)[0];
      // 3e-15·(1 + |βt| + |γt|) of the scale: the rounding of βt and γt themselves.
      const cond = 1 + Math.abs(p.beta * t) + Math.abs(p.gamma * t);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(3e-15 * cond * Math.max(couplingScale(t, p), Math.abs(want)));
    }
  });

  test('agrees with the js reference on a sweep of lengths around the SIMD width', () => {
    for (const len of [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 1000]) {
      const t = Float64Array.from({ length: len }, (_, i) => ((i * 0.7548776662466927) % 1) * 80 - 15);
      for (const p of PARAMS) expectCouplingAgrees(psi(kernels, t, p), psi(reference, t, p), t, p);
    }
  });

  test('agrees with the js reference on random inputs, views at an offset, in place', () => {
    const params = fc.record({
      alpha: fc.double({ min: -3, max: 3, noNaN: true }),
      beta: fc.double({ min: -0.5, max: 2, noNaN: true }),
      gamma: fc.double({ min: -5, max: 5, noNaN: true }),
      lambda: fc.double({ min: -3, max: 3, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -200, max: 200, noNaN: true }), { maxLength: 37 }),
        params,
        fc.integer({ min: 0, max: 5 }),
        (values, p, offset) => {
          const t = atOffset(Float64Array.from(values), offset);
          const want = psi(reference, t, p);
          const out = atOffset(new Float64Array(t.length), offset + 1);
          kernels.coupling(t, { alpha: p.alpha, beta: p.beta, gamma: p.gamma, lambdaCosmo: p.lambda }, out);
          expectCouplingAgrees(out, want, t, p);
          kernels.coupling(t, { alpha: p.alpha, beta: p.beta, gamma: p.gamma, lambdaCosmo: p.lambda }, t); // in place
          expectCouplingAgrees(t, want, Float64Array.from(values), p);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('large batch (threaded on native backends) agrees with the reference', () => {
    const t = Float64Array.from({ length: 100_003 }, (_, i) => i * 1e-3 - 10);
    expectCouplingAgrees(psi(kernels, t, SEED), psi(reference, t, SEED), t, SEED);
  });

  test.skipIf(kernels.name === 'js')('native: bad lengths and parameters are errors naming the parameter', () => {
    // (the js kernels trust the facade's validation; native ones check what memory safety needs)
    const t = new Float64Array(3);
    // (each native binding words <what> and <value> its own way; the parameter and the
    // facade's "Expected … for <name> but received …" shape are common)
    expect(() => kernels.coupling(t, { alpha: 1, beta: 1, gamma: 1, lambdaCosmo: 1 }, new Float64Array(2))).toThrow(
      expect.objectContaining({
        name: 'CimmArgumentError',
        parameter: 'out',
        message: expect.stringMatching(/^Expected an? \w+ of length 3 \(the length of t\) for out but received /),
      }),
    );
    expect(() => kernels.coupling(t, { alpha: 1, beta: Number.NaN, gamma: 1, lambdaCosmo: 1 }, t)).toThrow(
      expect.objectContaining({
        // a field of params: `params.beta` (cpp) or the bare name
        parameter: expect.stringMatching(/^(params\.)?beta$/),
        message: expect.stringMatching(/^Expected a finite number for (params\.)?beta but received NaN/),
      }),
    );
    expect(() => kernels.scaleTransition(t, { scaleCoupling: 1, criticalTime: Number.POSITIVE_INFINITY }, t)).toThrow(
      expect.objectContaining({ parameter: expect.stringMatching(/^(params\.)?criticalTime$/) }),
    );
    // an out overlapping t without being t is computed from a copy of t
    const buffer = Float64Array.from({ length: 9 }, (_, i) => i * 0.5);
    const want = psi(reference, buffer.slice(0, 6), SEED);
    kernels.coupling(
      buffer.subarray(0, 6),
      { alpha: SEED.alpha, beta: SEED.beta, gamma: SEED.gamma, lambdaCosmo: SEED.lambda },
      buffer.subarray(3, 9),
    );
    expectCouplingAgrees(
      buffer.subarray(3, 9),
      want,
      Float64Array.from({ length: 6 }, (_, i) => i * 0.5),
      SEED,
    );
  });

  test('non-finite t gives NaN in its slot only', () => {
    const t = Float64Array.from([1, Number.NaN, 2, Number.POSITIVE_INFINITY, 3]);
    const out = psi(kernels, t, SEED);
    expect(Number.isNaN(out[1]) && Number.isNaN(out[3])).toBe(true);
    expect(Number.isFinite(out[0]) && Number.isFinite(out[2]) && Number.isFinite(out[4])).toBe(true);
  });
});

function sigma(k: Kernels, t: Float64Array, lambda: number, tc: number): Float64Array {
  const out = new Float64Array(t.length);
  k.scaleTransition(t, { scaleCoupling: lambda, criticalTime: tc }, out);
  return out;
}

describeEachBackend('scale transition 𝒮(t) (eq. 2)', ({ kernels }) => {
  test('extremes are exact: 0, ½ and 1, for |λ(t − t_c)| up to 1e4 and beyond', () => {
    const t = Float64Array.from([1e4, -1e4, 0, -0, 40, -750, 1e308, -1e308, 38]);
    expect([...sigma(kernels, t, 1, 0)]).toEqual([1, 0, 0.5, 0.5, 1, 0, 1, 0, 1]);
    // λ(t − t_c) overflowing to ±∞ is still 0 or 1; λ = 0 is ½ everywhere.
    expect([...sigma(kernels, Float64Array.from([Number.MAX_VALUE, 0]), 1e300, -Number.MAX_VALUE)]).toEqual([1, 1]);
    expect([...sigma(kernels, Float64Array.from([1e308, -1e308]), 0, 3)]).toEqual([0.5, 0.5]);
    expect(sigma(kernels, Float64Array.from([7]), -2, 7)[0]).toBe(0.5); // t = t_c
  });

  test('symmetry 𝒮(u) + 𝒮(−u) = 1, monotone, and the logistic value', () => {
    const u = Float64Array.from({ length: 2001 }, (_, i) => (i - 1000) * 0.047);
    const a = sigma(kernels, u, 1, 0);
    const b = sigma(
      kernels,
      u.map((v) => -v),
      1,
      0,
    );
    for (let i = 0; i < u.length; i++) {
      expect(Math.abs(a[i] + b[i] - 1)).toBeLessThanOrEqual(2 ** -52);
      if (i > 0) expect(a[i]).toBeGreaterThanOrEqual(a[i - 1]);
      const want = 1 / (1 + Math.exp(-u[i]));
      expect(Math.abs(a[i] - want)).toBeLessThanOrEqual(4 * Number.EPSILON * want);
    }
    // λ and t_c: 𝒮 = ½ at t_c, and the slope there is λ/4.
    const [lo, mid, hi] = sigma(kernels, Float64Array.from([4.999, 5, 5.001]), 3, 5);
    expect(mid).toBe(0.5);
    expect((hi - lo) / 0.002).toBeCloseTo(3 / 4, 5);
  });

  test('agrees with the js reference on random inputs, views at an offset, in place', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e5, max: 1e5, noNaN: true }), { maxLength: 37 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -50, max: 50, noNaN: true }),
        fc.integer({ min: 0, max: 5 }),
        (values, lambda, tc, offset) => {
          const t = atOffset(Float64Array.from(values), offset);
          const want = sigma(reference, t, lambda, tc);
          const out = atOffset(new Float64Array(t.length), offset + 2);
          kernels.scaleTransition(t, { scaleCoupling: lambda, criticalTime: tc }, out);
          kernels.scaleTransition(t, { scaleCoupling: lambda, criticalTime: tc }, t);
          for (let i = 0; i < t.length; i++) {
            expect(Math.abs(out[i] - want[i])).toBeLessThanOrEqual(4 * Number.EPSILON * want[i]);
            expect(t[i]).toBe(out[i]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('large batch agrees with the reference', () => {
    const t = Float64Array.from({ length: 70_001 }, (_, i) => (i - 35_000) * 1e-3);
    const got = sigma(kernels, t, 2, 1);
    const want = sigma(reference, t, 2, 1);
    for (let i = 0; i < t.length; i++) {
      expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(4 * Number.EPSILON * want[i]);
    }
  });
});

/** Two-pass textbook entropy in bits: −Σ q log₂ q, q = p/T. */
function entropyTwoPass(p: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i] / total;
    if (q > 0) h -= q * Math.log2(q);
  }
  return h;
}

describeEachBackend('Shannon entropy (eq. 6, first term)', ({ kernels }) => {
  test('known values, zeros ignored, scale-free', () => {
    expect(kernels.shannonEntropy(Float64Array.from([1]))).toBe(0);
    expect(kernels.shannonEntropy(Float64Array.from([0, 7, 0]))).toBe(0);
    expect(kernels.shannonEntropy(Float64Array.from([1, 1]))).toBeCloseTo(1, 15);
    expect(kernels.shannonEntropy(new Float64Array(1 << 16).fill(3))).toBeCloseTo(16, 12);
    expect(kernels.shannonEntropy(Float64Array.from([0.5, 0.25, 0.25]))).toBeCloseTo(1.5, 15);
    expect(kernels.shannonEntropy(Float64Array.from([2e-300, 1e-300, 0, 1e-300]))).toBeCloseTo(1.5, 12);
    // Bernoulli(0.1): H = −0.1 log₂ 0.1 − 0.9 log₂ 0.9 = 0.4689955935892812
    expect(kernels.shannonEntropy(Float64Array.from([1, 9]))).toBeCloseTo(0.4689955935892812, 14);
  });

  test('NaN for what the facade rejects: negative, non-finite, all zero, empty', () => {
    for (const bad of [-1, -1e-300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 6, 12]) {
        const p = Float64Array.from({ length: 13 }, (_, i) => i + 1);
        p[at] = bad;
        expect(kernels.shannonEntropy(p)).toBeNaN();
      }
    }
    expect(kernels.shannonEntropy(new Float64Array(9))).toBeNaN();
    expect(kernels.shannonEntropy(new Float64Array(0))).toBeNaN();
  });

  test('agrees with the js reference and a two-pass formula on random masses, views at an offset', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true })), {
          minLength: 1,
          maxLength: 70,
        }),
        fc.integer({ min: 0, max: 5 }),
        (values, offset) => {
          fc.pre(values.some((v) => v > 0));
          const p = atOffset(Float64Array.from(values), offset);
          const got = kernels.shannonEntropy(p);
          const total = values.reduce((a, b) => a + b, 0);
          const tol = 1e-12 * (1 + Math.abs(Math.log2(total)));
          expect(Math.abs(got - reference.shannonEntropy(p))).toBeLessThanOrEqual(tol);
          expect(Math.abs(got - entropyTwoPass(values))).toBeLessThanOrEqual(tol);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('large input (threaded on native backends) agrees with the reference', () => {
    const p = Float64Array.from({ length: 300_001 }, (_, i) => ((i * 0.6180339887498949) % 1) * (i % 3));
    expect(Math.abs(kernels.shannonEntropy(p) - reference.shannonEntropy(p))).toBeLessThan(1e-11);
    expect(Math.abs(kernels.shannonEntropy(p) - entropyTwoPass(p))).toBeLessThan(1e-11);
  });
});
