/** Shared checks for the task suites: finite-difference gradients and a plain-GD sanity run. */
import type { ObjectiveTask } from '../../lib/tasks/task.js';

/**
 * max_i |g_i − (L(θ + h e_i) − L(θ − h e_i)) / 2h| / max(1, max_i |g_i|) at θ (f64 params),
 * on the full batch or one batch. Central differences with h = 1e-6 in f64: truncation
 * O(h²·L''') and rounding O(ε·L/h) ≈ 1e-10, so a correct gradient scores below ~1e-7.
 */
export function gradientError(task: ObjectiveTask, params: Float64Array, batch?: number, h = 1e-6): number {
  const grad = new Float64Array(task.dimension);
  task.evaluate(params, grad, batch);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < params.length; i++) {
    const x = params[i];
    params[i] = x + h;
    const up = task.evaluate(params, undefined, batch);
    params[i] = x - h;
    const down = task.evaluate(params, undefined, batch);
    params[i] = x;
    err = Math.max(err, Math.abs((up - down) / (2 * h) - grad[i]));
    scale = Math.max(scale, Math.abs(grad[i]));
  }
  return err / scale;
}

/** Plain gradient descent with a fixed step; returns the losses before and after. */
export function descend(task: ObjectiveTask, params: Float32Array, rate: number, steps: number): [number, number] {
  const grad = new Float32Array(task.dimension);
  const first = task.evaluate(params, grad);
  for (let t = 0; t < steps; t++) {
    task.evaluate(params, grad);
    for (let i = 0; i < params.length; i++) params[i] -= rate * grad[i];
  }
  return [first, task.evaluate(params)];
}
