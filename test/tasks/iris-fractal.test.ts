/** Iris with a FractalLayer network: the shared split, gradients on every backend, the bound, training. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setBackend } from '../../lib/backend.js';
import { runJob } from '../../lib/compare/run.js';
import {
  createTask,
  IrisFractalTask,
  IrisTask,
  optimizerFromConfig,
  TASK_NAMES,
  targetReached,
} from '../../lib/index.js';
import { describeEachBackend } from '../helpers.js';
import { gradientError } from './helpers.js';

/** A point away from the initialization: θ_Z × 3 (|θ_Z/z₊| up to 2.5, deep in the tanh) and φ ≠ 0. */
function farPoint(task: IrisFractalTask, seed: number): Float64Array {
  const x = Float64Array.from(task.initialParameters(seed));
  const { phi, weight } = task.offsets;
  for (let i = 0; i < phi; i++) x[i] *= 3;
  for (let i = phi; i < weight; i++) x[i] = i - phi - 1;
  return x;
}

describeEachBackend('iris-fractal', ({ name }) => {
  beforeAll(() => {
    setBackend(name);
  });
  afterAll(() => {
    setBackend('js');
  });

  // The network is f32, so h = 1e-6 would not move it: central differences with h = 3e-3
  // measure ≤ 3e-5 of max(1, max|g|) on every backend (f32 rounding ~1e-7/h, truncation
  // ~h²); 2e-4 leaves a margin. Dropping the tanh chain factor 1 − (Z/z₊)² scores 0.09–0.4.
  test('analytic gradient matches finite differences (full batch, a mini-batch, deep in the tanh)', () => {
    const task = new IrisFractalTask({ batchSize: 16 });
    const x = Float64Array.from(task.initialParameters(4));
    expect(gradientError(task, x, undefined, 3e-3)).toBeLessThan(2e-4);
    expect(gradientError(task, x, 2, 3e-3)).toBeLessThan(2e-4);
    const y = farPoint(task, 5);
    expect(gradientError(task, y, undefined, 3e-3)).toBeLessThan(2e-4);
    expect(gradientError(task, y, 3, 3e-3)).toBeLessThan(2e-4);
  });

  test('Adam reaches the target on the default split', () => {
    const task = new IrisFractalTask();
    const theta = task.initialParameters(0);
    const grad = new Float32Array(task.dimension);
    const adam = optimizerFromConfig('Adam', { learningRate: 0.03 });
    let reached = -1;
    for (let step = 1; step <= 200 && reached < 0; step++) {
      task.evaluate(theta, grad);
      adam.step({ theta }, { theta: grad });
      if (step % 10 === 0 && targetReached(task.target, task.metrics(theta))) reached = step;
    }
    expect(reached).toBeGreaterThan(0);
    expect(task.metrics(theta).trainAccuracy).toBeGreaterThan(0.9);
  });
});

describe('iris-fractal', () => {
  test('shares the MLP task split for a seed; θ layout is [θ_Z, φ, W, b]', () => {
    for (const seed of [0, 3]) {
      const f = new IrisFractalTask({ seed });
      const m = new IrisTask({ seed });
      expect(f.trainRows).toEqual(m.trainRows);
      expect(f.testRows).toEqual(m.testRows);
    }
    const task = new IrisFractalTask({ hidden: 5, levels: 2 });
    expect(task.offsets).toEqual({ z: 0, phi: 20, weight: 22, bias: 37 });
    expect(task.dimension).toBe(40);
  });

  test('Z = z₊ tanh(θ_Z/z₊): any finite θ_Z keeps the levels bounded and the loss finite', () => {
    const task = new IrisFractalTask();
    const x = Float64Array.from(task.initialParameters(1));
    const { phi } = task.offsets;
    // far past the bound (where keepBounded would have clipped and raw iterates overflow)
    for (let i = 0; i < phi; i++) x[i] = (i % 2 ? -1 : 1) * 50 * task.bound;
    const grad = new Float64Array(task.dimension);
    const a = task.evaluate(x, grad);
    expect(Number.isFinite(a)).toBe(true);
    for (const g of grad) expect(Number.isFinite(g)).toBe(true);
    // saturated: tanh(±50) rounds to ±1, so a larger θ_Z gives the same Z and cross-entropy;
    // only the L2 term (on θ_Z) differs
    const y = x.slice();
    for (let i = 0; i < phi; i++) y[i] *= 1e3;
    let extra = 0;
    for (let i = 0; i < phi; i++) extra += 0.5 * 1e-3 * (y[i] * y[i] - x[i] * x[i]);
    expect(task.evaluate(y)).toBeCloseTo(a + extra, 6);
  });

  test('deterministic for a seed; seeds differ', () => {
    const task = new IrisFractalTask();
    const a = task.initialParameters(2);
    expect(task.initialParameters(2)).toEqual(a);
    expect(task.initialParameters(3)).not.toEqual(a);
    const g1 = new Float32Array(task.dimension);
    const g2 = new Float32Array(task.dimension);
    expect(task.evaluate(a, g1)).toBe(new IrisFractalTask().evaluate(a, g2));
    expect(g1).toEqual(g2);
    expect(task.metrics(a)).toEqual(task.metrics(Float64Array.from(a)));
  });

  test('bad input names the parameter (and the index of a NaN)', () => {
    const task = new IrisFractalTask();
    expect(() => task.evaluate(new Float32Array(3))).toThrow(
      `a Float32Array or Float64Array of length ${task.dimension}`,
    );
    const x = task.initialParameters(0);
    x[7] = Number.NaN;
    expect(() => task.evaluate(x)).toThrow('at index 7');
    expect(() => task.evaluate(task.initialParameters(0), new Float32Array(2))).toThrow('for grad');
    expect(() => task.evaluate(task.initialParameters(0), undefined, 1)).toThrow('for batch');
    expect(() => new IrisFractalTask({ hidden: 0 })).toThrow('for hidden but received 0');
    expect(() => new IrisFractalTask({ levels: 33 })).toThrow('for levels but received 33');
    expect(() => new IrisFractalTask({ testFraction: 1 })).toThrow('for testFraction but received 1');
  });

  test('describe() gives the options, sizes, layout and bound, JSON-safe', () => {
    const d = new IrisFractalTask({ batchSize: 40 }).describe();
    expect(d).toMatchObject({
      name: 'iris-fractal',
      model: 'fractal',
      hidden: 16,
      levels: 3,
      activation: 'tanh',
      testFraction: 0.2,
      l2: 1e-3,
      seed: 0,
      batchSize: 40,
      dimension: 118,
      layout: { z: 0, phi: 64, weight: 67, bias: 115 },
      trainExamples: 120,
      testExamples: 30,
      batchCount: 3,
    });
    expect(d.bound).toBeCloseTo(0.6575, 4);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  test('registered, and the comparison runner drives it', () => {
    expect(TASK_NAMES).toContain('iris-fractal');
    expect(createTask('iris-fractal', { hidden: 4 })).toBeInstanceOf(IrisFractalTask);
    const job = { id: 0, task: 'iris-fractal' as const, optimizer: 'Adam', lr: 0.03, seed: 1, steps: 150, points: 10 };
    const r = runJob({ ...job, atDefault: false });
    expect(r.diverged).toBe(false);
    expect(r.finalMetric).toBeGreaterThanOrEqual(0.95);
    expect(r.stepsToTarget).not.toBeNull();
    expect({ ...runJob({ ...job, atDefault: false }), ms: 0 }).toEqual({ ...r, ms: 0 });
  });
});
