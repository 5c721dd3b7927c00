/**
 * The full-batch tasks with hard geometry and known optima: the extended Rosenbrock
 * function and the ill-conditioned quadratic — the optimum, exact gradients, determinism,
 * and the measured tuned Adam reaching the target.
 */
import { describe, expect, test } from 'vitest';
import { TaskRun } from '../../lib/compare/run.js';
import { IllConditionedQuadraticTask, RosenbrockTask, TASK_NAMES, targetReached } from '../../lib/index.js';
import { gradientError } from './helpers.js';

describe('rosenbrock', () => {
  const task = new RosenbrockTask();

  test('registered; f = 0 with a zero gradient at x* = 1; full batch', () => {
    expect(TASK_NAMES).toContain('rosenbrock');
    const ones = new Float64Array(10).fill(1);
    const g = new Float64Array(10).fill(7);
    expect(task.evaluate(ones, g)).toBe(0);
    expect([...g].map(Math.abs)).toEqual(new Array(10).fill(0));
    expect(task.metrics(ones)).toEqual({ distance: 0, excess: 0 });
    expect(task.batchCount).toBe(1);
    // the classic point (−1.2, 1): f = 24.2 per pair
    const classic = Float64Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1.2));
    expect(task.evaluate(classic)).toBeCloseTo(5 * 24.2, 10);
  });

  // f64 arithmetic: h = 1e-6 central differences, 1e-7 of max(1, max|g|) (test/tasks/helpers.ts)
  test('exact gradient (f64 finite differences)', () => {
    for (const seed of [0, 1, 2]) {
      expect(gradientError(task, Float64Array.from(task.initialParameters(seed)))).toBeLessThan(1e-7);
    }
    expect(
      gradientError(
        task,
        Float64Array.from({ length: 10 }, (_, i) => 0.3 * i - 1),
      ),
    ).toBeLessThan(1e-7);
  });

  test('start: the classic point plus U(−0.1, 0.1) from the seed; deterministic', () => {
    const a = task.initialParameters(5);
    expect(task.initialParameters(5)).toEqual(a);
    expect(task.initialParameters(6)).not.toEqual(a);
    a.forEach((v, i) => {
      expect(Math.abs(v - (i % 2 ? 1 : -1.2))).toBeLessThanOrEqual(0.1 + 1e-7);
    });
    expect(() => new RosenbrockTask({ dimension: 7 })).toThrow(/even/);
  });

  test('best-tuned Adam (η 0.316) reaches the target (distance ≤ 1e-3) within 900 steps', () => {
    const run = new TaskRun({
      id: 0,
      task: 'rosenbrock',
      optimizer: 'Adam',
      lr: 0.316,
      seed: 0,
      steps: 900,
      points: 30,
      atDefault: false,
    });
    run.runUntil();
    expect(run.result().stepsToTarget).not.toBeNull();
    expect(run.result().stepsToTarget).toBeLessThanOrEqual(900);
  });
});

describe('ill-conditioned-quadratic', () => {
  const task = new IllConditionedQuadraticTask();
  const d = task.dimension;

  test('registered; H symmetric with the log-spaced spectrum (trace, Frobenius norm); the optimum', () => {
    expect(TASK_NAMES).toContain('ill-conditioned-quadratic');
    const h = task.hessian;
    let trace = 0;
    let frob = 0;
    for (let i = 0; i < d; i++) {
      trace += h[i * d + i];
      for (let j = 0; j < d; j++) {
        expect(h[i * d + j]).toBe(h[j * d + i]);
        frob += h[i * d + j] ** 2;
      }
    }
    const lambda = task.eigenvalues;
    expect(lambda[0]).toBe(1);
    expect(lambda[d - 1]).toBeCloseTo(1e-4, 15);
    expect(trace).toBeCloseTo(
      lambda.reduce((a, b) => a + b, 0),
      10,
    );
    expect(frob).toBeCloseTo(
      lambda.reduce((a, b) => a + b * b, 0),
      10,
    );
    // off the axes: the diagonal is far from the spectrum's extremes
    expect(Math.max(...Array.from({ length: d }, (_, i) => h[i * d + i]))).toBeLessThan(0.5);
    const g = new Float64Array(d);
    expect(task.evaluate(task.optimum, g)).toBe(0);
    expect(Math.max(...g.map(Math.abs))).toBe(0);
    expect(task.metrics(new Float64Array(d)).relativeSuboptimality).toBe(1);
  });

  test('exact gradient (f64 finite differences); deterministic instance and starts', () => {
    expect(gradientError(task, Float64Array.from(task.initialParameters(0)))).toBeLessThan(1e-7);
    const again = new IllConditionedQuadraticTask();
    expect(again.hessian).toEqual(task.hessian);
    expect(again.optimum).toEqual(task.optimum);
    expect(new IllConditionedQuadraticTask({ seed: 1 }).optimum).not.toEqual(task.optimum);
    expect(task.initialParameters(2)).toEqual(again.initialParameters(2));
    expect(task.initialParameters(2)).not.toEqual(task.initialParameters(3));
  });

  test('best-tuned Adam (η 1) reaches the target (relative suboptimality ≤ 1e-4) within 400 steps', () => {
    const run = new TaskRun({
      id: 0,
      task: 'ill-conditioned-quadratic',
      optimizer: 'Adam',
      lr: 1,
      seed: 0,
      steps: 400,
      points: 40,
      atDefault: false,
    });
    run.runUntil();
    expect(run.result().stepsToTarget).not.toBeNull();
    // plain gradient descent at its largest safe step (1 = 1/λ_max) is far from it after as many steps
    const x = Float64Array.from(task.initialParameters(0));
    const g = new Float64Array(d);
    for (let t = 0; t < 400; t++) {
      task.evaluate(x, g);
      for (let i = 0; i < d; i++) x[i] -= g[i];
    }
    expect(targetReached(task.target, task.metrics(x))).toBe(false);
  });
});
