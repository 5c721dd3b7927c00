/** The validated energy-flow facade: κ(t), EnergyFlow's time tracking and step control, and the error messages. */
import { describe, expect, test } from 'vitest';
import { EnergyFlow, energyFlowMaxStep, energyFlowStep, kappa, laplacian } from '../lib/index.js';

function grid(n: number, f: (i: number) => number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => f(i));
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

describe('κ(t) = sin(τ / ln τ), τ = t + t₀', () => {
  test('the default offset e starts at the phase minimum e / ln e = e', () => {
    expect(kappa(0)).toBeCloseTo(Math.sin(Math.E), 15);
    expect(kappa(10)).toBeCloseTo(Math.sin((10 + Math.E) / Math.log(10 + Math.E)), 15);
    expect(kappa(5, 2)).toBeCloseTo(Math.sin(7 / Math.log(7)), 15);
    // the phase changes at most ¼ per unit time for τ ≥ e, so κ is smooth on the step scale
    for (let t = 0; t < 200; t += 0.5) expect(Math.abs(kappa(t + 0.01) - kappa(t))).toBeLessThanOrEqual(0.0025 + 1e-12);
  });

  test('t must keep τ above 1, the offset must exceed 1', () => {
    expect(() => kappa(-2)).toThrow(`Expected a finite number > ${1 - Math.E} for t but received -2 of type number`);
    expect(() => kappa(0, 1)).toThrow('Expected a finite number > 1 for timeOffset but received 1 of type number');
    expect(() => kappa(Number.NaN)).toThrow('for t but received NaN');
  });
});

describe('EnergyFlow', () => {
  test('defaults, and the config round-trips through JSON', () => {
    const f = new EnergyFlow({ nx: 8, ny: 4 });
    expect(f.getConfig()).toEqual({
      nx: 8,
      ny: 4,
      h: 1,
      dt: 0.1,
      beta: 0.25,
      gamma: 0.35,
      boundary: 'periodic',
      timeOffset: Math.E,
      stepControl: 'substep',
      maxSubsteps: 10_000,
    });
    expect(f.maxStableStep).toBe(1); // h²/(4β) with Ψ = 0
    expect(EnergyFlow.fromConfig(JSON.parse(JSON.stringify(f.getConfig()))).getConfig()).toEqual(f.getConfig());
    expect(f.t).toBe(0);
    expect([...f.energy]).toEqual(new Array(32).fill(0));
  });

  test('tracks t, evaluates κ at each step start, and adds dt·κ(t)·Σ(T_q + F_g) to Σ E', () => {
    const [nx, ny] = [10, 6];
    const tq = grid(nx * ny, (i) => Math.cos(i));
    const fg = grid(nx * ny, (i) => 0.5 * Math.sin(i));
    const s = sum(tq.map((v, i) => v + fg[i]));
    const f = new EnergyFlow({
      nx,
      ny,
      dt: 0.2,
      t: 3,
      boundary: 'zeroFlux',
      quantumSource: tq,
      gradientForce: fg,
      potential: grid(nx * ny, (i) => (i % nx) * 0.1),
    });
    let expected = 0;
    for (let k = 0; k < 5; k++) {
      expected += 0.2 * kappa(3 + 0.2 * k) * s;
      expect(f.step()).toBe(1);
    }
    expect(f.t).toBeCloseTo(4, 14);
    expect(f.totalEnergy()).toBeCloseTo(expected, 12);
    expect(f.run(3)).toBe(3);
    expect(f.t).toBeCloseTo(4.6, 14);
    expect(f.substeps).toBe(8);
  });

  test('a step above the stable limit is split into equal sub-steps, each within it', () => {
    const [nx, ny] = [16, 16];
    const potential = grid(nx * ny, (i) => Math.sin(i * 0.37) * 3);
    const energy = grid(nx * ny, (i) => 1 + 0.5 * Math.cos(i));
    const f = new EnergyFlow({ nx, ny, dt: 2.5, energy, potential });
    const limit = f.maxStableStep;
    expect(limit).toBe(energyFlowMaxStep(potential, { nx, ny }));
    expect(limit).toBeLessThan(1);
    const n = f.step();
    expect(n).toBe(Math.ceil(2.5 / limit));
    expect(f.t).toBe(2.5);
    // the sub-steps kept the scheme monotone: E stays positive and Σ E is conserved
    expect(Math.min(...f.energy)).toBeGreaterThan(0);
    expect(f.totalEnergy()).toBeCloseTo(sum(energy), 10);
    // the same as n explicit steps of dt/n through the validated single step
    let e = energy;
    const zero = new Float64Array(nx * ny);
    for (let k = 0; k < n; k++) {
      e = energyFlowStep(e, potential, zero, { nx, ny, dt: 2.5 / n, t: (k * 2.5) / n });
    }
    expect([...f.energy]).toEqual([...e]);
  });

  test('stepControl "reject" throws instead; maxSubsteps caps the split', () => {
    const f = new EnergyFlow({ nx: 4, ny: 4, stepControl: 'reject' });
    expect(f.step(1)).toBe(1); // exactly the limit h²/(4β) = 1
    expect(() => f.step(1.5)).toThrow(
      'Expected a finite number > 0 and <= 1 (the stable step limit for this potential) for dt but received 1.5 of type number',
    );
    expect(f.t).toBe(1);
    const g = new EnergyFlow({ nx: 4, ny: 4, maxSubsteps: 10 });
    expect(g.step(10)).toBe(10);
    expect(() => g.step(10.5)).toThrow(
      'Expected a finite number > 0 and <= 10 (maxSubsteps × the stable step limit) for dt but received 10.5',
    );
  });

  test('setPotential recomputes the limit; rate() is the last sub-step’s (E_now − E_before)/dt', () => {
    const [nx, ny] = [8, 8];
    const f = new EnergyFlow({ nx, ny, dt: 0.1, energy: grid(nx * ny, (i) => i % 3) });
    expect(f.rate()).toBeUndefined();
    const before = Float64Array.from(f.energy);
    f.step();
    const rate = f.rate()!;
    for (let i = 0; i < rate.length; i++) expect(rate[i]).toBeCloseTo((f.energy[i] - before[i]) / 0.1, 12);
    f.setPotential(grid(nx * ny, (i) => 10 * (i % nx)));
    expect(f.maxStableStep).toBeLessThan(0.3);
    f.setPotential();
    expect(f.maxStableStep).toBe(1);
  });

  test('bad options name the parameter', () => {
    expect(() => new EnergyFlow({ nx: 0, ny: 3 })).toThrow(
      'Expected an integer >= 1 and <= 4294967296 for nx but received 0',
    );
    expect(() => new EnergyFlow({ nx: 2.5, ny: 3 })).toThrow('for nx but received 2.5');
    expect(() => new EnergyFlow({ nx: 3 } as never)).toThrow('for ny but received undefined of type undefined');
    expect(() => new EnergyFlow({ nx: 3, ny: 3, boundary: 'neumann' as never })).toThrow(
      'Expected one of "periodic", "zeroFlux" for boundary but received "neumann" of type string',
    );
    expect(() => new EnergyFlow({ nx: 3, ny: 3, beta: -0.25 })).toThrow(
      'Expected a finite number >= 0 for beta but received -0.25 of type number',
    );
    expect(() => new EnergyFlow({ nx: 3, ny: 3, stepControl: 'clamp' as never })).toThrow('for stepControl');
    expect(() => new EnergyFlow({ nx: 3, ny: 3, energy: new Float64Array(8) })).toThrow(
      'Expected a Float64Array of length 9 for energy but received Float64Array(8) of type Float64Array',
    );
    expect(() => new EnergyFlow({ nx: 2, ny: 2, potential: new Float64Array([0, 1, Number.NaN, 2]) })).toThrow(
      'Expected finite values for potential but received NaN at index 2',
    );
    expect(() => new EnergyFlow({ nx: 2, ny: 2, gradientForce: new Float32Array(4) as never })).toThrow(
      'Expected a Float64Array of length 4 for gradientForce but received Float32Array(4) of type Float32Array',
    );
    const f = new EnergyFlow({ nx: 2, ny: 2 });
    expect(() => f.step(0)).toThrow('Expected a finite number > 0 for dt but received 0');
    expect(() => f.run(-1)).toThrow('for steps but received -1');
  });
});

describe('validated single step, step limit and Laplacian', () => {
  const [nx, ny] = [5, 4];
  const e = grid(nx * ny, (i) => 1 + (i % 4));
  const p = grid(nx * ny, (i) => (i % 3) - 1);
  const s = grid(nx * ny, () => 0.5);

  test('energyFlowStep uses κ(t) unless κ is given, and writes into out', () => {
    const a = energyFlowStep(e, p, s, { nx, ny, dt: 0.1, t: 2 });
    const b = energyFlowStep(e, p, s, { nx, ny, dt: 0.1, kappa: kappa(2) });
    expect([...a]).toEqual([...b]);
    const out = new Float64Array(nx * ny);
    expect(energyFlowStep(e, p, s, { nx, ny, dt: 0.1, out })).toBe(out);
    expect(sum(out) - sum(e)).toBeCloseTo(0.1 * kappa(0) * sum(s), 12);
  });

  test('dt above the stable limit, mismatched grids, non-finite grids and bad boundaries are rejected', () => {
    const limit = energyFlowMaxStep(p, { nx, ny });
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: limit * 1.01 })).toThrow(
      `Expected a finite number > 0 and <= ${limit} (the stable step limit for this potential) for dt`,
    );
    expect(() => energyFlowStep(e, p, new Float64Array(19), { nx, ny, dt: 0.1 })).toThrow(
      'Expected a Float64Array of length 20 for source but received Float64Array(19) of type Float64Array',
    );
    expect(() => energyFlowStep(e, p, s, { nx: 4, ny, dt: 0.1 })).toThrow(
      'Expected a Float64Array of length 16 for energy',
    );
    const bad = Float64Array.from(e);
    bad[7] = Number.POSITIVE_INFINITY;
    expect(() => energyFlowStep(bad, p, s, { nx, ny, dt: 0.1 })).toThrow(
      'Expected finite values for energy but received Infinity at index 7',
    );
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: 0.1, boundary: 'Periodic' as never })).toThrow(
      'Expected one of "periodic", "zeroFlux" for boundary but received "Periodic"',
    );
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: Number.NaN })).toThrow('for dt but received NaN');
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: 0.1, gamma: Number.POSITIVE_INFINITY })).toThrow(
      'Expected a finite number for gamma but received Infinity',
    );
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: 0.1, kappa: Number.NaN })).toThrow('for kappa but received NaN');
    expect(() => energyFlowStep(e, p, s, { nx, ny, dt: 0.1, out: e })).toThrow(
      'Expected a Float64Array that does not overlap energy for out but received Float64Array(20)',
    );
    const shared = new Float64Array(40);
    const view = shared.subarray(10, 30);
    expect(() => energyFlowStep(e, shared.subarray(0, 20), s, { nx, ny, dt: 0.1, out: view })).toThrow(
      'that does not overlap potential for out',
    );
    expect(() => energyFlowStep(e, p, s, undefined as never)).toThrow('for nx but received undefined');
  });

  test('the step limit is h²/(4β) without drift and shrinks with a steep potential', () => {
    const flat = new Float64Array(nx * ny);
    expect(energyFlowMaxStep(flat, { nx, ny, h: 2, beta: 0.5 })).toBe(2);
    expect(energyFlowMaxStep(flat, { nx, ny, beta: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(energyFlowMaxStep(p, { nx, ny })).toBeLessThan(1);
    expect(() => energyFlowMaxStep(p, { nx, ny, h: 0 })).toThrow('Expected a finite number > 0 for h but received 0');
  });

  test('laplacian: 5-point stencil, validated', () => {
    const out = laplacian(e, { nx, ny, boundary: 'zeroFlux' });
    expect(out.length).toBe(nx * ny);
    // zero flux: the Laplacian sums to 0 (every face difference appears twice with opposite signs)
    expect(Math.abs(sum(out))).toBeLessThan(1e-12);
    expect(() => laplacian(e, { nx, ny, out: e })).toThrow('that does not overlap energy for out');
    expect(() => laplacian(e, { nx, ny, h: -1 })).toThrow('for h but received -1');
  });
});
