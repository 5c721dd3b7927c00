/** The validated facade: EnergySystem, quadrature points, and the error messages. */
import { describe, expect, test } from 'vitest';
import {
  distance,
  EnergySystem,
  generalizedGoldenRatio,
  localEnergy,
  nonlocalEnergy,
  nthPrime,
  primes,
  quadraturePoints,
} from '../lib/index.js';

describe('primes', () => {
  test('first primes and known values', () => {
    expect([...primes(10)]).toEqual([2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    expect(nthPrime(1)).toBe(2);
    expect(nthPrime(10_000)).toBe(104_729);
    expect(nthPrime(1_000_000)).toBe(15_485_863);
  });

  test('bad counts name the parameter', () => {
    expect(() => primes(-1)).toThrow(
      'Expected an integer >= 0 and <= 1000000 for count but received -1 of type number',
    );
    expect(() => nthPrime(0)).toThrow('for n but received 0');
  });
});

describe('quadrature points', () => {
  test('deterministic for a seed, different across seeds, inside the domain', () => {
    const a = quadraturePoints({ count: 100, dimension: 7, seed: 3, domain: { lower: -2, upper: 5 } });
    const b = quadraturePoints({ count: 100, dimension: 7, seed: 3, domain: { lower: -2, upper: 5 } });
    const c = quadraturePoints({ count: 100, dimension: 7, seed: 4, domain: { lower: -2, upper: 5 } });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const v of a) {
      expect(v).toBeGreaterThanOrEqual(-2);
      expect(v).toBeLessThanOrEqual(5);
    }
  });

  test('φ_1 is the golden ratio and φ_2 the plastic number', () => {
    expect(generalizedGoldenRatio(1)).toBeCloseTo((1 + Math.sqrt(5)) / 2, 14);
    expect(generalizedGoldenRatio(2)).toBeCloseTo(1.324717957244746, 14);
  });

  test('low discrepancy: the mean of each coordinate converges like 1/M', () => {
    const m = 4096;
    const pts = quadraturePoints({ count: m, dimension: 3, seed: 1, domain: { lower: 0, upper: 1 } });
    for (let k = 0; k < 3; k++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += pts[j * 3 + k];
      expect(Math.abs(s / m - 0.5)).toBeLessThan(5 / m);
    }
  });
});

/** High-accuracy reference of the box-normalized integral in d = 1 (composite Simpson). */
function referenceIntegral1d(x: number, y: number, ell: number, eps: number, lower: number, upper: number): number {
  const f = (z: number) => Math.exp(-Math.abs(x - z) / ell) / Math.sqrt((z - y) ** 2 + eps * eps);
  // split at the kinks/peaks so Simpson converges at its full order on each piece
  const cuts = [lower, Math.min(Math.max(x, lower), upper), Math.min(Math.max(y, lower), upper), upper].sort(
    (a, b) => a - b,
  );
  let total = 0;
  for (let c = 0; c + 1 < cuts.length; c++) {
    const [a, b] = [cuts[c], cuts[c + 1]];
    if (b <= a) continue;
    const n = 200_000;
    const h = (b - a) / n;
    let s = f(a) + f(b);
    for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
    total += (s * h) / 3;
  }
  return total / (upper - lower);
}

describe('EnergySystem', () => {
  test('defaults are the seed constants and the config round-trips', () => {
    const e = new EnergySystem();
    expect(e.getConfig()).toMatchObject({
      alpha: 0.45,
      beta: 0.25,
      gamma: 0.35,
      lambdaCosmo: 1.2,
      primeCount: 10,
      lengthScale: 1,
    });
    const again = EnergySystem.fromConfig(JSON.parse(JSON.stringify(e.getConfig())));
    expect(again.getConfig()).toEqual(e.getConfig());
  });

  test('E = E_loc(‖x − y‖) + Λ E_nl(x, y)', () => {
    const sys = new EnergySystem({ lambdaCosmo: 2, quadraturePoints: 64, seed: 9 });
    const x = new Float32Array([0.25, -0.5, 0.75]);
    const y = new Float32Array([0, 0.5, 0.25]);
    const t = sys.computeEnergy(x, y);
    expect(t.distance).toBeCloseTo(Math.hypot(0.25, 1, 0.5), 6);
    expect(t.local).toBeCloseTo(localEnergy(new Float64Array([t.distance]))[0], 14);
    expect(t.nonlocal).toBeCloseTo(nonlocalEnergy(x, y, sys.points(3), { softening: 1e-3 }), 14);
    expect(t.total).toBeCloseTo(t.local + 2 * t.nonlocal, 14);
  });

  test('the quadrature error shrinks as M grows (d = 1, against Simpson)', () => {
    const [x, y, ell, eps] = [0.3, -0.4, 0.7, 0.05];
    const want = referenceIntegral1d(x, y, ell, eps, -1, 1);
    const errors = [16, 256, 4096].map((m) => {
      const sys = new EnergySystem({ quadraturePoints: m, lengthScale: ell, softening: eps, seed: 5 });
      return Math.abs(sys.nonlocalEnergy(new Float32Array([x]), new Float32Array([y])) - want) / want;
    });
    expect(errors[1]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(errors[1]);
    expect(errors[2]).toBeLessThan(2e-3);
  });

  test('the quadrature error shrinks as M grows (d = 2, against a fine tensor grid)', () => {
    const x = [0.2, -0.1];
    const y = [-0.3, 0.4];
    const [ell, eps] = [0.8, 0.1];
    const n = 1200;
    let want = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const z0 = -1 + ((i + 0.5) * 2) / n;
        const z1 = -1 + ((j + 0.5) * 2) / n;
        const dx = Math.hypot(x[0] - z0, x[1] - z1);
        want += Math.exp(-dx / ell) / Math.sqrt((z0 - y[0]) ** 2 + (z1 - y[1]) ** 2 + eps * eps);
      }
    }
    want /= n * n;
    const errors = [64, 1024, 16384].map((m) => {
      const sys = new EnergySystem({ quadraturePoints: m, lengthScale: ell, softening: eps, seed: 2 });
      return Math.abs(sys.nonlocalEnergy(Float32Array.from(x), Float32Array.from(y)) - want) / want;
    });
    expect(errors[2]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(5e-3);
  });

  test('caller-supplied points are used as given', () => {
    const pts = new Float32Array([0, 0, 1, 1]);
    const sys = new EnergySystem({ points: pts, softening: 0.5 });
    const x = new Float32Array([0, 0]);
    const want = (1 / 0.5 + Math.exp(-Math.SQRT2) / Math.sqrt(2 + 0.25)) / 2;
    expect(sys.nonlocalEnergy(x, x)).toBeCloseTo(want, 12);
    expect(() => sys.nonlocalEnergy(new Float32Array(3), new Float32Array(3))).toThrow(
      'Expected a Float32Array of M×3 values (M >= 1) for points but received Float32Array(4) of type Float32Array',
    );
  });
});

describe('bad input gets a clear error naming the parameter', () => {
  const x = new Float32Array([1, 2]);
  const y = new Float32Array([0, 1]);
  const pts = new Float32Array([0, 0, 1, 1]);

  test('local energy', () => {
    expect(() => localEnergy([1, 2] as unknown as Float64Array)).toThrow(
      'Expected a Float64Array for r but received Array(2) of type Array',
    );
    expect(() => localEnergy(new Float64Array([1, Number.NaN]))).toThrow(
      'Expected finite values for r but received NaN at index 1 of Float64Array(2) of type Float64Array',
    );
    expect(() => localEnergy(new Float64Array(2), { primeCount: 1.5 })).toThrow(
      'Expected an integer >= 0 and <= 1000000 for primeCount but received 1.5 of type number',
    );
    expect(() => localEnergy(new Float64Array(2), { primeCount: 2_000_000 })).toThrow('for primeCount');
    expect(() => localEnergy(new Float64Array(2), { out: new Float64Array(3) })).toThrow(
      'Expected a Float64Array of length 2 for out but received Float64Array(3) of type Float64Array',
    );
    expect(() => localEnergy(new Float64Array(2), 'fast' as never)).toThrow(
      'Expected an options object for options but received "fast" of type string',
    );
  });

  test('nonlocal energy and distance', () => {
    expect(() => nonlocalEnergy(new Float64Array(2) as never, y, pts)).toThrow(
      'Expected a Float32Array for x but received Float64Array(2) of type Float64Array',
    );
    expect(() => nonlocalEnergy(new Float32Array(0), new Float32Array(0), pts)).toThrow(
      'Expected a non-empty Float32Array for x',
    );
    expect(() => nonlocalEnergy(x, new Float32Array(3), pts)).toThrow(
      'Expected a Float32Array of length 2 for y but received Float32Array(3)',
    );
    expect(() => nonlocalEnergy(x, new Float32Array([0, Number.POSITIVE_INFINITY]), pts)).toThrow(
      'Expected finite values for y but received Infinity at index 1',
    );
    expect(() => nonlocalEnergy(x, y, new Float32Array(3))).toThrow(
      'Expected a Float32Array of M×2 values (M >= 1) for points',
    );
    expect(() => nonlocalEnergy(x, y, new Float32Array(0))).toThrow('for points');
    expect(() => nonlocalEnergy(x, y, new Float32Array([0, 0, 1, Number.NaN]))).toThrow(
      'Expected finite values for points but received NaN at index 3',
    );
    expect(() => nonlocalEnergy(x, y, pts, { lengthScale: 0 })).toThrow(
      'Expected a finite number > 0 for lengthScale but received 0 of type number',
    );
    expect(() => nonlocalEnergy(x, y, pts, { softening: -1 })).toThrow('Expected a finite number >= 0 for softening');
    expect(() => distance(x, new Float32Array(1))).toThrow('for y');
  });

  test('EnergySystem options', () => {
    expect(() => new EnergySystem({ primeCount: -1 })).toThrow('for primeCount but received -1');
    expect(() => new EnergySystem({ domain: { lower: 1, upper: 0 } })).toThrow(
      'Expected a finite number > 1 for domain.upper but received 0',
    );
    expect(() => new EnergySystem({ alpha: Number.NaN })).toThrow(
      'Expected a finite number for alpha but received NaN',
    );
    expect(() => new EnergySystem({ points: new Float32Array([Number.NaN]) })).toThrow('for points');
    expect(() => new EnergySystem().localEnergy(Number.POSITIVE_INFINITY)).toThrow('for r but received Infinity');
  });
});
