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

/**
 * Finite differences on a few coordinates of a model task (lib/nn is f32): for each
 * parameter tensor of `layout`, the `perTensor` coordinates with the largest |g|, and the
 * normwise error ‖g_S − fd_S‖ / ‖g_S‖ over those coordinates S (central differences, step h).
 * Largest-|g| coordinates keep the f32 rounding of the loss (≈ 1e-7 · L / h) small beside
 * the derivative, and the normwise measure keeps one coordinate whose relu kink lies
 * within ±h from deciding alone. `scale` multiplies the analytic gradient (a test shows
 * that a gradient 5% off fails the tolerance).
 */
export function sampledGradientError(
  task: ObjectiveTask & { layout: readonly { offset: number; length: number }[] },
  params: Float64Array,
  batch: number | undefined,
  { h = 1e-3, perTensor = 4, scale = 1 } = {},
): number {
  const g = new Float64Array(task.dimension);
  task.evaluate(params, g, batch);
  let num = 0;
  let den = 0;
  for (const { offset, length } of task.layout) {
    const order = Array.from({ length }, (_, i) => offset + i).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
    for (const i of order.slice(0, perTensor)) {
      const x = params[i];
      params[i] = x + h;
      const up = task.evaluate(params, undefined, batch);
      params[i] = x - h;
      const down = task.evaluate(params, undefined, batch);
      params[i] = x;
      num += (scale * g[i] - (up - down) / (2 * h)) ** 2;
      den += g[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}
