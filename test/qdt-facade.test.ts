/**
 * The validated QDT facade: coupling, scaleTransition and shannonEntropy (their error
 * messages), EntropyTracker (eq. 6) and AdaptiveLearningRate (eq. 7).
 */
import { describe, expect, test } from 'vitest';
import {
  AdaptiveLearningRate,
  coupling,
  EnergySystem,
  EntropyTracker,
  scaleTransition,
  shannonEntropy,
} from '../lib/index.js';

describe('coupling and scaleTransition facade', () => {
  test('a number gives a number, an array an array; defaults are the seed constants', () => {
    expect(coupling(0)).toBe(0.45);
    const t = Float64Array.from([0, 1, 2.3]);
    const psi = coupling(t);
    expect(psi).toBeInstanceOf(Float64Array);
    expect(psi[2]).toBeCloseTo(0.9025798870906128, 14);
    expect(coupling(2.3)).toBe(psi[2]);
    expect(coupling(2.3, { alpha: 0, lambdaCosmo: 1, beta: 0, gamma: 1 })).toBeCloseTo(1 - Math.cos(2.3), 14);
    const out = new Float64Array(3);
    expect(coupling(t, { out })).toBe(out);
    expect(coupling(t, { out: t })).toBe(t); // in place
    expect(t[2]).toBe(psi[2]);
    expect(scaleTransition(0)).toBe(0.5);
    expect(scaleTransition(3, { scaleCoupling: 2, criticalTime: 3 })).toBe(0.5);
    expect(scaleTransition(1e4)).toBe(1);
    expect(scaleTransition(Float64Array.from([-1e4, 0, 1e4]))).toEqual(Float64Array.from([0, 0.5, 1]));
  });

  test('bad input names the parameter', () => {
    expect(() => coupling(Float64Array.from([0, Number.NaN]))).toThrow(
      'Expected finite values for t but received NaN at index 1 of Float64Array(2) of type Float64Array',
    );
    expect(() => coupling(Number.POSITIVE_INFINITY)).toThrow(
      'Expected a finite number for t but received Infinity of type number',
    );
    expect(() => coupling([1, 2] as never)).toThrow(
      'Expected a finite number or a Float64Array for t but received Array(2) of type Array',
    );
    expect(() => coupling(1, { beta: Number.NaN })).toThrow('Expected a finite number for beta but received NaN');
    expect(() => coupling(1, { lambdaCosmo: '1' as never })).toThrow('for lambdaCosmo but received "1" of type string');
    expect(() => coupling(Float64Array.from([1, 2]), { out: new Float64Array(1) })).toThrow(
      'Expected a Float64Array of length 2 for out but received Float64Array(1) of type Float64Array',
    );
    // e^{−βt} beyond the f64 range (β < 0, large t): rejected up front, naming the index
    expect(() => coupling(Float64Array.from([1, 5000, 2]), { beta: -0.25 })).toThrow(
      'Expected values with −β·t <= 709.782712893384 (e^{−βt} within the f64 range; β = -0.25) for t but received 5000 at index 1 of Float64Array(3) of type Float64Array',
    );
    expect(() => coupling(-3000)).toThrow('for t but received -3000 at index 0');
    expect(() => coupling(1e300, { gamma: 1e10, beta: 0 })).toThrow(
      'Expected values with γ·t finite (γ = 10000000000) for t',
    );
    expect(() => coupling(100, { alpha: 1e308, beta: -7 })).toThrow(/^cimm: Ψ\(t\) may overflow f64/);
    // large but representable: fine
    expect(Number.isFinite(coupling(700, { beta: -1, alpha: 1, lambdaCosmo: 1 }))).toBe(true);
    expect(() => scaleTransition(Float64Array.from([Number.NEGATIVE_INFINITY]))).toThrow(
      'Expected finite values for t but received -Infinity at index 0',
    );
    expect(() => scaleTransition(1, { scaleCoupling: Number.POSITIVE_INFINITY })).toThrow(
      'Expected a finite number for scaleCoupling but received Infinity of type number',
    );
    expect(() => scaleTransition(1, { criticalTime: Number.NaN })).toThrow('for criticalTime but received NaN');
    expect(() => scaleTransition(1, 'x' as never)).toThrow(
      'Expected an options object for options but received "x" of type string',
    );
  });
});

describe('shannonEntropy facade', () => {
  test('bits of the normalized masses', () => {
    expect(shannonEntropy(Float64Array.from([1, 1, 1, 1]))).toBeCloseTo(2, 15);
    expect(shannonEntropy(Float64Array.from([0, 3]))).toBe(0);
    // masses so large that Σp overflows: rescaled, same answer
    expect(shannonEntropy(Float64Array.from([1e308, 1e308, 1e308, 1e308]))).toBeCloseTo(2, 14);
    expect(shannonEntropy(Float64Array.from([1e306, 1, 1e306]))).toBeCloseTo(1, 14);
  });

  test('bad masses name the index and what is wrong', () => {
    expect(() => shannonEntropy(Float64Array.from([0.5, -0.25, 0.75]))).toThrow(
      'Expected non-negative finite masses for p but received -0.25 at index 1 of Float64Array(3) of type Float64Array',
    );
    expect(() => shannonEntropy(Float64Array.from([0.5, Number.NaN]))).toThrow(
      'Expected non-negative finite masses for p but received NaN at index 1',
    );
    expect(() => shannonEntropy(Float64Array.from([Number.POSITIVE_INFINITY, 1]))).toThrow(
      'received Infinity at index 0',
    );
    expect(() => shannonEntropy(new Float64Array(4))).toThrow(
      'Expected at least one positive mass for p but received only zeros in Float64Array(4) of type Float64Array',
    );
    expect(() => shannonEntropy(new Float64Array(0))).toThrow(
      'Expected a non-empty Float64Array of masses for p but received Float64Array(0) of type Float64Array',
    );
    expect(() => shannonEntropy(new Float32Array(2) as never)).toThrow(
      'Expected a Float64Array for p but received Float32Array(2) of type Float32Array',
    );
  });
});

describe('EntropyTracker (eq. 6)', () => {
  test('S = H(P) + γ Σ|ΔE|, the integral over the piecewise-linear interpolant', () => {
    const tr = new EntropyTracker({ gamma: 0.5 });
    expect(tr.entropy).toBe(0);
    expect(tr.observe(0, 1.0)).toBe(0); // the first observation starts the integral
    expect(tr.observe(0.5, 0.25)).toBe(0.5 * 0.75);
    expect(tr.observe(2, 1.25, Float64Array.from([1, 1]))).toBe(1 + 0.5 * 1.75); // H = 1 bit
    const c = tr.components();
    expect(c).toEqual({
      steps: 3,
      time: 2,
      energy: 1.25,
      variation: 1.75,
      shannon: 1,
      rate: 1 / 1.5,
      feedback: 0.875,
      entropy: 1.875,
    });
    // ∫|dE/dτ|dτ of a sampled function: the total variation, whatever the step sizes
    const fine = new EntropyTracker({ gamma: 1 });
    for (let k = 0; k <= 1000; k++) fine.observe(k / 1000, Math.sin(2 * Math.PI * (k / 1000)));
    expect(fine.entropy).toBeCloseTo(4, 5); // ∫₀¹ |2π cos 2πτ| dτ = 4
    // a zero-length step (a jump) counts its |ΔE|; dE/dt is then undefined
    tr.observe(2, 2.25);
    expect(tr.components().variation).toBe(2.75);
    expect(tr.components().rate).toBeNull();
    expect(tr.setDistribution(Float64Array.from([1, 1, 1, 1]))).toBe(2 + 0.5 * 2.75);
  });

  test('defaults, config and exact JSON state round trip', () => {
    const tr = new EntropyTracker();
    expect(tr.getConfig()).toEqual({ gamma: 0.35 });
    let e = 0.1;
    for (let k = 0; k < 50; k++) {
      e = Math.cos(e * 3.7 + k) / 3;
      tr.observe(k * 0.013, e, k % 10 === 0 ? Float64Array.from([k + 1, 2, 0.3]) : undefined);
    }
    const json = JSON.stringify({ config: tr.getConfig(), state: tr.state() });
    const parsed = JSON.parse(json);
    const again = EntropyTracker.fromConfig(parsed.config);
    again.loadState(parsed.state);
    expect(again.state()).toEqual(tr.state());
    expect(again.entropy).toBe(tr.entropy);
    expect(again.observe(1, 0.2)).toBe(tr.observe(1, 0.2));
    const fresh = new EntropyTracker();
    fresh.loadState(JSON.parse(JSON.stringify(new EntropyTracker().state())));
    expect(fresh.state()).toEqual({ steps: 0, time: null, energy: null, variation: 0, shannon: 0, rate: null });
    tr.reset();
    expect(tr.state()).toEqual(fresh.state());
  });

  test('bad input names the parameter', () => {
    const tr = new EntropyTracker();
    tr.observe(5, 1);
    expect(() => tr.observe(4, 1)).toThrow(
      'Expected a time >= 5 (the previous observation) for time but received 4 of type number',
    );
    expect(() => tr.observe(6, Number.NaN)).toThrow('Expected a finite number for energy but received NaN');
    expect(() => tr.observe(Number.POSITIVE_INFINITY, 1)).toThrow('for time but received Infinity');
    expect(() => tr.observe(6, 1, Float64Array.from([-1]))).toThrow('for p but received -1 at index 0');
    expect(tr.state().steps).toBe(1); // a rejected observation changes nothing
    expect(() => new EntropyTracker({ gamma: -0.1 })).toThrow(
      'Expected a finite number >= 0 for gamma but received -0.1 of type number',
    );
    expect(() => tr.loadState({ ...tr.state(), variation: -1 })).toThrow(
      'Expected a finite number >= 0 for state.variation but received -1',
    );
    expect(() => tr.loadState({ ...tr.state(), steps: 1.5 })).toThrow('for state.steps but received 1.5');
    expect(() => tr.loadState({ ...tr.state(), time: null })).toThrow(
      'Expected time and energy null exactly when steps is 0 for state',
    );
    expect(() => tr.loadState(null as never)).toThrow('Expected an options object for state but received null');
  });
});

describe('AdaptiveLearningRate (eq. 7)', () => {
  const x = Float32Array.from([0.3, -0.2, 0.5]);
  const y = Float32Array.from([0.1, 0.4, -0.3]);

  test('η = α|E|(1 + βS)𝒮, each component reported', () => {
    const energy = new EnergySystem({ quadraturePoints: 64 });
    const lr = new AdaptiveLearningRate({ energy, etaMin: 1e-9, etaMax: 10, criticalTime: 1 });
    expect(lr.eta).toBe(10); // before any update: the upper bound
    expect(lr.components()).toBeNull();
    const eta = lr.update(x, y, { distribution: Float64Array.from([1, 3]) });
    const c = lr.components();
    if (!c) throw new Error('no components');
    const e = energy.computeEnergy(x, y).total;
    expect(c.energy.total).toBe(e);
    expect(c.energyMagnitude).toBe(Math.abs(e));
    expect(c.time).toBe(0);
    expect(c.step).toBe(0);
    expect(c.entropy.shannon).toBeCloseTo(0.8112781244591328, 14); // H(¼, ¾)
    expect(c.entropy.entropy).toBe(c.entropy.shannon); // no energy change yet
    expect(c.entropyFactor).toBe(1 + 0.25 * c.entropy.entropy);
    expect(c.scale).toBe(scaleTransition(0, { criticalTime: 1 }));
    expect(c.raw).toBe(0.45 * Math.abs(e) * c.entropyFactor * c.scale);
    expect(eta).toBe(c.raw);
    expect(c.clamped).toBeNull();
    // the next step: t = 1, S grows by γ|ΔE|
    const x2 = Float32Array.from([0.2, 0.1, 0.1]);
    lr.update(x2, y);
    const c2 = lr.components();
    const e2 = energy.computeEnergy(x2, y).total;
    expect(c2?.time).toBe(1);
    expect(c2?.scale).toBe(0.5);
    expect(c2?.entropy.entropy).toBeCloseTo(c.entropy.shannon + 0.35 * Math.abs(e2 - e), 14);
  });

  test('negative energy uses |E|; the bounds clamp and say so', () => {
    // A target far away puts E_loc on the negative side of its first cosine.
    const far = Float32Array.from([3, 0, 0]);
    const origin = Float32Array.from([0, 0, 0]);
    const energy = new EnergySystem({ quadraturePoints: 32, lambdaCosmo: 0 });
    expect(energy.computeEnergy(far, origin).total).toBeLessThan(0);
    const lr = new AdaptiveLearningRate({ energy, etaMin: 1e-6, etaMax: 1, criticalTime: -50 });
    const eta = lr.update(far, origin);
    expect(eta).toBeGreaterThan(0);
    expect(lr.components()?.raw).toBeCloseTo(0.45 * Math.abs(energy.computeEnergy(far, origin).total), 6);
    // 𝒮 ≈ 0 early (t ≪ t_c) makes the raw rate vanish: the lower bound holds it up
    const early = new AdaptiveLearningRate({ etaMin: 1e-4, criticalTime: 1000 });
    expect(early.update(x, y)).toBe(1e-4);
    expect(early.components()?.clamped).toBe('min');
    const greedy = new AdaptiveLearningRate({ alpha: 1e6, etaMax: 0.01 });
    expect(greedy.update(x, y)).toBe(0.01);
    expect(greedy.components()?.clamped).toBe('max');
    // identical parameters: E = E(x, x) is finite and η stays in bounds
    const same = new AdaptiveLearningRate();
    const v = same.update(x, x);
    expect(v).toBeGreaterThanOrEqual(1e-6);
    expect(v).toBeLessThanOrEqual(1);
  });

  test('config and state round-trip through JSON', () => {
    const lr = new AdaptiveLearningRate({
      alpha: 0.3,
      beta: 0.1,
      scaleCoupling: 0.5,
      criticalTime: 2,
      etaMin: 1e-5,
      etaMax: 0.5,
      energy: { primeCount: 20, quadraturePoints: 16, seed: 3 },
      entropy: { gamma: 0.2 },
    });
    for (let k = 0; k < 5; k++)
      lr.update(
        x.map((v) => v + k * 0.1),
        y,
      );
    const saved = JSON.parse(JSON.stringify({ config: lr.getConfig(), state: lr.state() }));
    const again = AdaptiveLearningRate.fromConfig(saved.config);
    again.loadState(saved.state);
    expect(again.getConfig()).toEqual(lr.getConfig());
    expect(again.state()).toEqual(lr.state());
    expect(again.update(x, y)).toBe(lr.update(x, y));
    expect(lr.getConfig().entropy).toEqual({ gamma: 0.2 });
    expect(new AdaptiveLearningRate({ energy: { gamma: 0.7 } }).getConfig().entropy.gamma).toBe(0.7);
  });

  test('bad options name the parameter', () => {
    expect(() => new AdaptiveLearningRate({ alpha: 0 })).toThrow(
      'Expected a finite number > 0 for alpha but received 0 of type number',
    );
    expect(() => new AdaptiveLearningRate({ beta: -1 })).toThrow('Expected a finite number >= 0 for beta');
    expect(() => new AdaptiveLearningRate({ etaMin: 0 })).toThrow('Expected a finite number > 0 for etaMin');
    expect(() => new AdaptiveLearningRate({ etaMin: 0.1, etaMax: 0.01 })).toThrow(
      'Expected a finite number >= 0.1 for etaMax but received 0.01 of type number',
    );
    const lr = new AdaptiveLearningRate();
    expect(() => lr.update(x, new Float32Array(2))).toThrow('Expected a Float32Array of length 3 for y');
    expect(() => lr.update(x, y, { time: Number.NaN })).toThrow('Expected a finite number for time');
    lr.update(x, y, { time: 10 });
    expect(() => lr.update(x, y, { time: 9 })).toThrow('Expected a time >= 10 (the previous observation) for time');
    expect(() => lr.loadState({ step: -1, entropy: lr.tracker.state() })).toThrow('for state.step but received -1');
  });
});
