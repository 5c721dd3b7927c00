/**
 * QDTOptimizer (docs/theory.md, "QDT optimizer"): η(t) = η₀ α |E(x, y)| (1 + βS) 𝒮(t)
 * checked against AdaptiveLearningRate fed the same probe, the Polyak average y, the seeded
 * probe, least squares, state round trips and resumed runs, the backends, and the errors.
 *
 * Between backends the trajectories agree to a tolerance, not bit for bit: E(x, y) comes
 * from the nonlocal-energy and distance kernels, whose vectorized exp and sums differ in the
 * last bits between backends (test/energy.test.ts), so η differs by ~1e-15 relative and the
 * parameters after 30 steps by far less than 1e-6 relative.
 */
import { describe, expect, test } from 'vitest';
import { backendInfo, setBackend } from '../lib/backend.js';
import {
  AdaptiveLearningRate,
  EnergySystem,
  EntropyTracker,
  LeastSquaresTask,
  probeIndices,
  QDTOptimizer,
  restoreOptimizer,
} from '../lib/index.js';
import { backends, expectError, quadraticProblem } from './helpers.js';

/** Two tensors and a quadratic L = ½ Σ s (p − t)² with its gradient. */
function problem(n = 40, m = 7) {
  return quadraticProblem({
    w: Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)),
    b: Float32Array.from({ length: m }, (_, i) => 0.5 - i / 9),
  });
}

function run(opt: QDTOptimizer, steps: number, p = problem()) {
  const etas: number[] = [];
  for (let t = 0; t < steps; t++) etas.push(opt.step(p.params, p.grads, { loss: p.evaluate() }).eta);
  return { etas, p };
}

describe('the probe', () => {
  test('d distinct sorted indices of [0, n), the same for a seed; all of them when n ≤ d', () => {
    const a = probeIndices(100_000, 256, 7);
    expect(a.length).toBe(256);
    expect(new Set(a).size).toBe(256);
    expect([...a].every((v, i) => v < 100_000 && (i === 0 || v > a[i - 1]))).toBe(true);
    expect(probeIndices(100_000, 256, 7)).toEqual(a);
    expect(probeIndices(100_000, 256, 8)).not.toEqual(a);
    expect([...probeIndices(5, 256, 0)]).toEqual([0, 1, 2, 3, 4]);
    expect([...probeIndices(5, 5, 0)]).toEqual([0, 1, 2, 3, 4]);
  });
});

/** The QDT rule's state inside the optimizer's (scalars.wrapper.rule). */
function ruleState(opt: QDTOptimizer): Record<string, unknown> {
  const scalars = opt.state().scalars as unknown as { wrapper: { rule: Record<string, unknown> } };
  return scalars.wrapper.rule;
}

describe('QDTOptimizer: eq. 7 as implemented', () => {
  test('η = η₀ · AdaptiveLearningRate(x, y, P = g²) with y the Polyak average of the iterates', () => {
    const p = problem();
    const opt = new QDTOptimizer({ learningRate: 0.5, averaging: 0.9, criticalTime: 3 });
    const rate = new AdaptiveLearningRate({
      alpha: 0.45,
      beta: 0.25,
      criticalTime: 3,
      energy: new EnergySystem(),
      entropy: new EntropyTracker({ gamma: 0.35 }),
    });
    let y: Float32Array | undefined;
    for (let t = 0; t < 25; t++) {
      const loss = p.evaluate();
      // the probe is every coordinate (47 ≤ 256), in name order
      const x = Float32Array.of(...p.params.w, ...p.params.b);
      const g2 = Float64Array.from([...p.grads.w, ...p.grads.b], (g) => g * g);
      y ??= x.slice();
      const want = 0.5 * rate.update(x, y, { distribution: g2 });
      const report = opt.step(p.params, p.grads, { loss });
      expect(report.eta).toBe(want);
      expect(report.components.energy.distance).toBe(rate.components()!.energy.distance);
      expect(opt.inner.learningRate).toBe(want);
      for (let i = 0; i < y.length; i++) y[i] = 0.9 * y[i] + (1 - 0.9) * x[i];
    }
    // the Polyak average is part of the rule's JSON state (f32 values, exact as JSON numbers)
    const average = Float32Array.from(ruleState(opt).average as number[]);
    expect(average).toEqual(y);
    expect(opt.iterations).toBe(25);
  });

  test('with more parameters than probeDimension, E is taken on the seeded probe coordinates', () => {
    const p = problem(3000, 5);
    const opt = new QDTOptimizer({ probeDimension: 64, probeSeed: 3 });
    opt.step(p.params, p.grads, { loss: p.evaluate() });
    const average = ruleState(opt).average as number[];
    const idx = probeIndices(3005, 64, 3);
    const all = Float32Array.of(...p.params.w, ...p.params.b);
    // after one step the average is the starting point: y₁ = ρ x₀ + (1 − ρ) x₀ = x₀ at the probe
    expect(average.length).toBe(64);
    expect(opt.lastReport!.components.energy.distance).toBe(0);
    expect(idx.every((i) => i < all.length)).toBe(true);
  });

  test('least squares: the distance to the optimum falls (SGD base)', () => {
    const task = new LeastSquaresTask();
    const opt = new QDTOptimizer();
    const x = task.initialParameters(1);
    const g = new Float32Array(task.dimension);
    const start = task.metrics(x).distanceToOptimum;
    for (let t = 0; t < 2000; t++) opt.step({ x }, { x: g }, { loss: task.evaluate(x, g) });
    const end = task.metrics(x).distanceToOptimum;
    console.log(
      `[QDT optimizer, least squares, 2000 steps] ‖x − x*‖/‖x*‖ ${start.toFixed(3)} → ${end.toExponential(2)}, ` +
        `η at the end ${opt.lastReport!.eta.toPrecision(3)} (S = ${opt.lastReport!.components.entropy.entropy.toFixed(2)} bits)`,
    );
    expect(end).toBeLessThan(0.2 * start);
  });
});

describe('QDTOptimizer state and reproducibility', () => {
  const configs = [{}, { base: 'adam' as const, learningRate: 0.01, averaging: 0.5 }, { probeDimension: 8 }];

  test('round trips bit for bit; a resumed run continues identically', () => {
    for (const config of configs) {
      const whole = run(new QDTOptimizer(config), 30);
      const first = new QDTOptimizer(config);
      const half = run(first, 15);
      const bytes = first.serializeState();
      const resumed = restoreOptimizer(bytes) as QDTOptimizer;
      expect(resumed).toBeInstanceOf(QDTOptimizer);
      expect(resumed.serializeState()).toEqual(bytes);
      const rest = run(resumed, 15, half.p);
      expect([...half.etas, ...rest.etas]).toEqual(whole.etas);
      expect(rest.p.params).toEqual(whole.p.params);
    }
  });

  test('every backend follows the js trajectory within 1e-9 relative', () => {
    const original = backendInfo().name;
    try {
      setBackend('js');
      const want = run(new QDTOptimizer({ base: 'adam', learningRate: 0.01 }), 30);
      for (const { name } of backends) {
        setBackend(name);
        const got = run(new QDTOptimizer({ base: 'adam', learningRate: 0.01 }), 30);
        got.etas.forEach((e, i) => {
          expect(Math.abs(e - want.etas[i]) / want.etas[i], `${name} η[${i}]`).toBeLessThan(1e-9);
        });
        for (const k of ['w', 'b']) {
          got.p.params[k].forEach((v, i) => {
            expect(Math.abs(v - want.p.params[k][i]), `${name} ${k}[${i}]`).toBeLessThanOrEqual(
              1e-9 * Math.max(1, Math.abs(want.p.params[k][i])) + 2 ** -23 * Math.abs(want.p.params[k][i]),
            );
          });
        }
      }
    } finally {
      setBackend(original);
    }
  });
});

describe('QDTOptimizer errors', () => {
  test('bad options name the option', () => {
    const make = (o: object) => () => new QDTOptimizer(o as never);
    expectError(make({ probeDimension: 0 }), 'probeDimension');
    expectError(make({ averaging: 1 }), 'averaging');
    expectError(make({ alpha: 0 }), 'alpha');
    expectError(make({ etaMin: 0.5, etaMax: 0.1 }), 'etaMax');
    expectError(make({ energy: { lengthScale: 0 } }), 'energy.lengthScale');
    expectError(make({ energy: { points: new Float32Array(4) } }), 'energy.points');
    expectError(make({ baseOptions: { learningRate: 1 } }), 'baseOptions.learningRate');
    expectError(make({ base: 'lion' }), 'base');
    expectError(make({ groups: [{ params: ['w'] }] }), 'groups');
  });

  test('a changed parameter layout, or a bad gradient on the probe, changes nothing', () => {
    const p = problem();
    const opt = new QDTOptimizer();
    opt.step(p.params, p.grads, { loss: p.evaluate() });
    const bytes = opt.serializeState();
    expectError(() => opt.step({ w: p.params.w }, { w: p.grads.w }), 'params');
    const bad = p.grads.b.slice();
    bad[3] = Number.POSITIVE_INFINITY;
    expectError(
      () => opt.step(p.params, { w: p.grads.w, b: bad }),
      'grads["b"]',
      'Expected finite values for grads["b"] but received Infinity at index 3 of Float32Array(7) of type Float32Array',
    );
    expectError(() => opt.step(p.params, { w: p.grads.w, b: new Float32Array(3) }), 'grads["b"]');
    expectError(() => opt.step(p.params, { w: p.grads.w }), 'grads["b"]');
    expect(opt.serializeState()).toEqual(bytes);
  });
});
