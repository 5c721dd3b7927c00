/**
 * Hard geometry, ill-conditioned and convex (seed 000 §4, "mathematical problem solving"):
 *
 *   f(x) = ½ (x − x*)ᵀ H (x − x*),   H = Q diag(λ) Qᵀ,   f* = 0 at x*,
 *
 * with λ log-spaced from 1 down to 1/κ (κ = 10⁴ by default: the Hessian's condition
 * number, 25× the least-squares task's 400) and Q a Haar-random rotation (the Q factor of
 * a seeded Gaussian matrix, `householderQR` + `thinQ`), so the conditioning lies off the
 * coordinate axes where Adam's diagonal scaling cannot undo it. d = 100 by default. The
 * instance (Q, x* ~ N(0, I)) comes from the task's own seed; a run's seed draws its start
 * x₀ ~ N(0, I). Full batch: there are no data rows.
 *
 * Metrics, from x − x* (no cancellation): the relative suboptimality
 * (f(x) − f*)/(f(0) − f*) (the target metric; normalized by the loss at the origin, a
 * fixed point, so the measure does not depend on the run's start), the distance
 * ‖x − x*‖/‖x*‖, and f − f*.
 */

import { householderQR, thinQ } from '../dense.js';
import { finiteNumber, integer, options } from '../is.js';
import { Random } from '../random.js';
import {
  checkEvaluate,
  fillNormal,
  nonFiniteLoss,
  type ObjectiveTask,
  seedOption,
  type TaskTarget,
  type Vector,
  vector,
} from './task.js';

export interface QuadraticOptions {
  /** d (default 100). */
  dimension?: number;
  /** κ, the Hessian's condition number (default 1e4). */
  conditionNumber?: number;
  /** Seed of the instance: the rotation and x* (default 0). */
  seed?: number;
}

export const QUADRATIC_DEFAULTS = Object.freeze({ dimension: 100, conditionNumber: 1e4, seed: 0 });

export class IllConditionedQuadraticTask implements ObjectiveTask {
  readonly kind = 'objective' as const;
  readonly name = 'ill-conditioned-quadratic';
  readonly dimension: number;
  readonly batchCount = 1;
  readonly target: TaskTarget;
  /** H (d × d, row-major, f64), its eigenvalues (descending) and the optimum. */
  readonly hessian: Float64Array;
  readonly eigenvalues: Float64Array;
  readonly optimum: Float64Array;
  /** f(0) − f*: the normalizer of the relative suboptimality. */
  readonly originGap: number;
  private readonly config: Required<QuadraticOptions>;
  private readonly diff: Float64Array;
  private readonly hd: Float64Array;

  constructor(opts?: QuadraticOptions) {
    const o = options<QuadraticOptions>('options', opts);
    const d = integer('dimension', o.dimension ?? QUADRATIC_DEFAULTS.dimension, { min: 2, max: 2000 });
    const kappa = finiteNumber('conditionNumber', o.conditionNumber ?? QUADRATIC_DEFAULTS.conditionNumber, {
      min: 1,
      max: 1e12,
    });
    const seed = seedOption(o.seed ?? QUADRATIC_DEFAULTS.seed);
    this.config = { dimension: d, conditionNumber: kappa, seed };
    this.dimension = d;
    const random = new Random(seed);
    const g = new Float64Array(d * d);
    for (let i = 0; i < g.length; i++) g[i] = random.normal();
    const q = thinQ(householderQR(g, d, d));
    this.eigenvalues = Float64Array.from({ length: d }, (_, i) => kappa ** (-i / (d - 1)));
    // H = Q diag(λ) Qᵀ, symmetric by construction (only the upper triangle is summed)
    this.hessian = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += q[i * d + k] * this.eigenvalues[k] * q[j * d + k];
        this.hessian[i * d + j] = s;
        this.hessian[j * d + i] = s;
      }
    }
    this.optimum = new Float64Array(d);
    for (let i = 0; i < d; i++) this.optimum[i] = random.normal();
    this.diff = new Float64Array(d);
    this.hd = new Float64Array(d);
    this.originGap = this.gap(new Float64Array(d));
    this.target = {
      metric: 'relativeSuboptimality',
      value: 1e-4,
      direction: 'min',
      reason:
        'best-tuned Adam (η 1) gets below 1e-4 in 240–360 steps on 3 seeds (η 0.316: 390–510, η 0.1: ' +
        '870–1,110); plain gradient descent needs about κ = 10⁴ steps to shrink the flattest directions',
    };
  }

  initialParameters(seed: number): Float32Array {
    const x = new Float32Array(this.dimension);
    fillNormal(x, 0, this.dimension, 1, new Random(seed));
    return x;
  }

  /** ½ dᵀHd for d = x − x*, with Hd left in this.hd. */
  private gap(params: Vector): number {
    const d = this.dimension;
    for (let i = 0; i < d; i++) this.diff[i] = params[i] - this.optimum[i];
    let f = 0;
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += this.hessian[i * d + j] * this.diff[j];
      this.hd[i] = s;
      f += this.diff[i] * s;
    }
    return 0.5 * f;
  }

  /** f(x) = ½ (x − x*)ᵀH(x − x*); ∂f/∂x = H(x − x*). */
  evaluate(params: Vector, grad?: Vector, batch?: number): number {
    checkEvaluate(this.dimension, 1, params, grad, batch);
    const f = this.gap(params);
    if (grad) for (let i = 0; i < this.dimension; i++) grad[i] = this.hd[i];
    if (!Number.isFinite(f)) nonFiniteLoss(this.name, params);
    return f;
  }

  metrics(params: Vector): Record<string, number> {
    vector('params', params, this.dimension);
    const f = this.gap(params);
    let dist = 0;
    let norm = 0;
    for (let i = 0; i < this.dimension; i++) {
      dist += this.diff[i] ** 2;
      norm += this.optimum[i] ** 2;
    }
    return { relativeSuboptimality: f / this.originGap, distance: Math.sqrt(dist / norm), excess: f };
  }

  shuffleBatches(): void {}

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.config, batchCount: 1 };
  }
}
