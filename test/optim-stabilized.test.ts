/**
 * StabilizedOptimizer (seed 002 §4.2 and §5.3; design eq. 11): any optimizer wrapped with
 * the StabilityController. When every criterion holds the trajectory is the inner
 * optimizer's bit for bit; when one fails the gradients are scaled and the report says
 * which; non-finite gradient entries are zeroed; the norm spans every tensor; state round
 * trips; errors name their parameter.
 */
import { describe, expect, test } from 'vitest';
import {
  Adam,
  EntropyBalancedOptimizer,
  restoreOptimizer,
  SGD,
  StabilizedOptimizer,
  type TensorMap,
} from '../lib/index.js';
import { expectError, quadraticProblem } from './helpers.js';

/** L = ½ Σ s (p − t)² over two tensors; curvature up to 5. */
function problem() {
  return quadraticProblem({
    w: Float32Array.from({ length: 23 }, (_, i) => 2 * Math.sin(i + 1)),
    b: Float32Array.from({ length: 4 }, (_, i) => 1 - i / 3),
  });
}

const norm = (m: TensorMap) => Math.sqrt(Object.values(m).reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));

describe('StabilizedOptimizer', () => {
  test("while the criteria hold, the trajectory is the inner optimizer's bit for bit", () => {
    const a = problem();
    const b = problem();
    const plain = new Adam({ learningRate: 1e-2 });
    // per-step loss change (Adam's step is not a flow time: the 'flow' rate is for SGD)
    const wrapped = new StabilizedOptimizer({ optimizer: new Adam({ learningRate: 1e-2 }), energyRate: 'loss-change' });
    for (let t = 0; t < 30; t++) {
      const la = a.evaluate();
      plain.step(a.params, a.grads);
      const lb = b.evaluate();
      const report = wrapped.step(b.params, b.grads, { loss: lb });
      expect(la).toBe(lb);
      expect(report.failed).toEqual([]);
      expect(report.scale).toBe(1);
    }
    expect(b.params).toEqual(a.params);
    expect(wrapped.controller.checks).toBe(30);
  });

  test('an SGD step too large for the curvature: plain SGD diverges, the stabilized one stays bounded and says why', () => {
    const a = problem();
    const plain = new SGD({ learningRate: 0.5 });
    let plainLoss = 0;
    try {
      for (let t = 0; t < 200; t++) {
        plainLoss = a.evaluate();
        plain.step(a.params, a.grads);
      }
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError);
      plainLoss = Number.POSITIVE_INFINITY;
    }
    const b = problem();
    const stabilized = new StabilizedOptimizer({ optimizer: { kind: 'SGD', config: { learningRate: 0.5 } } });
    let loss = 0;
    const failed = new Set<string>();
    for (let t = 0; t < 200; t++) {
      loss = b.evaluate();
      const r = stabilized.step(b.params, b.grads, { loss });
      for (const f of r.failed) failed.add(f);
    }
    console.log(
      `[stabilized SGD η = 0.5, curvature 5] plain loss after 200 steps ${plainLoss.toExponential(2)}, ` +
        `stabilized ${loss.toExponential(2)}; energyRate failed ${stabilized.controller.failures.energyRate} times`,
    );
    expect(plainLoss).toBeGreaterThan(1e10);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeLessThan(1e3);
    expect([...failed]).toEqual(['energyRate']);
  });

  test('at its defaults (an inner SGD, dE/dt per unit of flow time) the criterion caps the step like gradient clipping', () => {
    // dθ/dt = −∇L makes dL/dt = −‖∇L‖²: the criterion |dE/dt| ≤ Λ‖∇L‖ then reads ‖∇L‖ ≤ Λ
    const a = problem();
    const b = problem();
    const plain = new SGD();
    const stabilized = new StabilizedOptimizer();
    let scaled = 0;
    for (let t = 0; t < 50; t++) {
      plain.step(a.params, a.grads, { loss: a.evaluate() });
      const r = stabilized.step(b.params, b.grads, { loss: b.evaluate() });
      if (r.scale < 1) scaled++;
      if (r.energyRate && t > 0) expect(r.energyRate.bound).toBe(1.2 * r.gradientNorm);
    }
    console.log(`[stabilized at defaults, ‖g‖ ≈ ${norm(b.grads).toFixed(1)}] gradients scaled on ${scaled}/50 steps`);
    expect(scaled).toBeGreaterThan(10);
    expect(b.params).not.toEqual(a.params);
  });

  test('the report: ‖∇L‖ over every tensor, dE/dt = |ΔL| (or |ΔL|/η), the scale applied to every tensor', () => {
    const p = problem();
    const flow = problem();
    const byFlow = new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.1 }) });
    byFlow.step(flow.params, flow.grads, { loss: flow.evaluate() });
    const f0 = byFlow.lastReport!.totalEnergy!.value;
    const f1 = flow.evaluate();
    expect(byFlow.step(flow.params, flow.grads, { loss: f1 }).energyRate!.value).toBe(Math.abs(f1 - f0) / 0.1);
    const opt = new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.1 }), energyRate: 'loss-change' });
    const l0 = p.evaluate();
    const first = opt.step(p.params, p.grads, { loss: l0 });
    expect(first.energyRate).toBeUndefined(); // no previous loss yet
    expect(first.gradientNorm).toBeCloseTo(norm(p.grads), 12);
    const l1 = p.evaluate();
    const before = { w: p.grads.w.slice(), b: p.grads.b.slice() };
    const second = opt.step(p.params, p.grads, { loss: l1 });
    expect(second.energyRate!.value).toBe(Math.abs(l1 - l0));
    expect(second.energyRate!.bound).toBe(1.2 * second.gradientNorm);
    expect(second.totalEnergy!.value).toBe(Math.abs(l1)); // ∫|E| = |L|, unbounded without E_max
    expect(second.iteration).toBe(1);
    expect(opt.lastReport).toBe(second);
    // a failing criterion scales every tensor by margin / ratio
    const strict = new StabilizedOptimizer({
      optimizer: new SGD({ learningRate: 0.1 }),
      stability: { energyMax: 1e-3 },
      energyRate: 'loss-change',
    });
    const q = problem();
    const l = q.evaluate();
    const grads = { w: q.grads.w.slice(), b: q.grads.b.slice() };
    const r = strict.step(q.params, q.grads, { loss: l });
    expect(r.failed).toEqual(['totalEnergy']);
    expect(r.scale).toBeCloseTo((0.9 * 1e-3) / l, 15);
    for (const k of ['w', 'b'] as const) {
      q.grads[k].forEach((g, i) => {
        expect(g).toBe(Math.fround(grads[k][i] * r.scale));
      });
    }
    expect(before.w.length).toBe(23);
  });

  test('non-finite gradient entries are zeroed and reported; the inner step then proceeds', () => {
    const p = problem();
    p.evaluate();
    p.grads.w[3] = Number.NaN;
    p.grads.b[1] = Number.NEGATIVE_INFINITY;
    const opt = new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.1 }) });
    const r = opt.step(p.params, p.grads, { loss: 1 });
    expect(r.nonFinite).toBe(2);
    expect(r.stable).toBe(false);
    expect([p.grads.w[3], p.grads.b[1]]).toEqual([0, 0]);
    expect(opt.inner.iterations).toBe(1);
  });

  test('observation.stability adds eq. 11 inputs (an energy grid: the curvature criterion)', () => {
    const p = problem();
    const opt = new StabilizedOptimizer();
    const grid = Float64Array.from({ length: 16 }, (_, i) => (i % 4) * (i >> 2));
    const r = opt.step(p.params, p.grads, { loss: p.evaluate(), stability: { energy: grid, nx: 4, ny: 4 } });
    expect(r.curvature).toBeDefined();
    expect(r.totalEnergy!.value).toBe(grid.reduce((s, v) => s + Math.abs(v), 0));
  });

  test("a kinetic energy meter as dE/dt: the previous update's ½‖Δθ‖²", () => {
    const p = problem();
    const opt = new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.05 }), energyRate: 'kinetic' });
    opt.step(p.params, p.grads, { loss: p.evaluate() });
    const g = { w: p.grads.w.slice(), b: p.grads.b.slice() };
    const before = { w: p.params.w.slice(), b: p.params.b.slice() };
    const r1 = opt.step(p.params, p.grads, { loss: p.evaluate() });
    expect(r1.energyRate).toBeDefined();
    let kinetic = 0;
    for (const k of ['w', 'b'] as const) {
      p.params[k].forEach((v, i) => {
        kinetic += 0.5 * (v - before[k][i]) ** 2;
      });
    }
    const r2 = opt.step(p.params, p.grads, { loss: p.evaluate() });
    expect(r2.energyRate!.value).toBeCloseTo(kinetic, 14);
    expect(g.w.length).toBe(23);
  });

  test('wraps the entropy-balanced optimizer: the observation reaches the inner one', () => {
    const p = problem();
    const opt = new StabilizedOptimizer({ optimizer: new EntropyBalancedOptimizer({ learningRate: 0.01 }) });
    for (let t = 0; t < 20; t++) opt.step(p.params, p.grads, { loss: p.evaluate() });
    const inner = opt.inner as EntropyBalancedOptimizer;
    expect(inner.iterations).toBe(20);
    expect(inner.lastReport!.mode).not.toBe('hold');
    expect(opt.learningRate).toBe(inner.learningRate);
  });

  test('learningRate and config follow the inner optimizer; state round-trips; a resumed run continues identically', () => {
    const inner = new SGD({ learningRate: 0.2, momentum: 0.5 });
    const opt = new StabilizedOptimizer({ optimizer: inner, stability: { margin: 0.8 } });
    expect(opt.learningRate).toBe(0.2);
    opt.learningRate = 0.3;
    expect(inner.learningRate).toBe(0.3);
    expect(opt.getConfig()).toMatchObject({
      learningRate: 0.3,
      optimizer: { kind: 'SGD', config: { learningRate: 0.3, momentum: 0.5 } },
      stability: { margin: 0.8 },
      energyRate: 'flow',
    });
    const run = (o: StabilizedOptimizer, steps: number, p = problem()) => {
      for (let t = 0; t < steps; t++) o.step(p.params, p.grads, { loss: p.evaluate() });
      return p;
    };
    const whole = run(new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.45 }) }), 40);
    const first = new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.45 }) });
    const half = run(first, 20);
    const bytes = first.serializeState();
    const resumed = restoreOptimizer(bytes) as StabilizedOptimizer;
    expect(resumed.serializeState()).toEqual(bytes);
    expect(resumed.controller.failures).toEqual(first.controller.failures);
    run(resumed, 20, half);
    expect(half.params).toEqual(whole.params);
  });

  test('errors', () => {
    const make = (o: object) => () => new StabilizedOptimizer(o as never);
    expectError(make({ optimizer: { kind: 'Nope' } }), 'optimizer.kind');
    expectError(make({ optimizer: { kind: 'SGD', config: { momentum: -1 } } }), 'optimizer.momentum');
    expectError(make({ stability: { beta: 0 } }), 'stability.beta');
    expectError(make({ energyRate: 'joules' }), 'energyRate');
    expectError(make({ groups: [{ params: ['w'] }] }), 'groups');
    const p = problem();
    const opt = new StabilizedOptimizer();
    expectError(() => opt.step(p.params, p.grads, { loss: Number.NaN }), 'observation.loss');
    expectError(() => opt.step(p.params, p.grads, { stability: 3 } as never), 'observation.stability');
    expectError(() => opt.step(p.params, { w: p.grads.w, b: [1, 2, 3, 4] } as never), 'grads["b"]');
    expect(opt.iterations).toBe(0);
  });
});
