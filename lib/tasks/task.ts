/**
 * The validation tasks' common shapes (seed 000 §4, design.md §4).
 *
 * Two kinds of task, so one comparison runner can drive every task with any optimizer:
 *
 * - `ObjectiveTask` — a differentiable objective over a flat parameter vector θ. The
 *   runner owns θ (a Float32Array of `dimension` values, from `initialParameters(seed)`),
 *   and each step calls `evaluate(θ, grad, batch)`: it returns the loss and writes ∂loss/∂θ
 *   into `grad` (a caller-owned array; nothing is allocated per call). Tasks with data
 *   split their training examples into `batchCount` mini-batches; `batch` picks one
 *   (0 ≤ batch < batchCount) and leaving it out means the full training set.
 *   `shuffleBatches(random)` re-partitions the examples from a seeded `Random` (once per
 *   epoch, say), allocation-free. `metrics(θ)` reports the task's quality measures
 *   (held-out accuracy, distance to the optimum, fidelity, …) and `target` says which
 *   metric value counts as "solved", so steps-to-target can be measured.
 *   Parameters and gradients may be Float32Array (what optimizers hold) or Float64Array
 *   (what finite-difference checks use); arithmetic is f64 throughout.
 *
 * - `RlTask` — a task that is not a differentiable objective: the step is an episode.
 *   The runner creates an agent with a step-size rule (the quantity under comparison),
 *   runs episodes, and reads the agent's metrics (regret against the optimal return
 *   computed exactly by value iteration).
 */
import { argumentError, CimmArgumentError, CimmDivergenceError, describeValue, typeOf } from '../errors.js';
import { allFinite, firstNonFinite, integer } from '../is.js';
import type { Random } from '../random.js';

/** A parameter or gradient vector. */
export type Vector = Float32Array | Float64Array;

/** Which metric value counts as solved, and why that value. */
export interface TaskTarget {
  /** A key of `metrics()`. */
  metric: string;
  /** The threshold. */
  value: number;
  /** 'max': solved when metric ≥ value; 'min': solved when metric ≤ value. */
  direction: 'max' | 'min';
  /** One sentence on why this value. */
  reason: string;
}

/** Whether `metrics` meet `target`. */
export function targetReached(target: TaskTarget, metrics: Readonly<Record<string, number>>): boolean {
  const v = metrics[target.metric];
  if (v === undefined || Number.isNaN(v)) return false;
  return target.direction === 'max' ? v >= target.value : v <= target.value;
}

/** A differentiable objective over a flat parameter vector (see the file comment). */
export interface ObjectiveTask {
  readonly kind: 'objective';
  /** A stable identifier, e.g. "modular-addition". */
  readonly name: string;
  /** The parameter count. */
  readonly dimension: number;
  /** Mini-batches per epoch (1: full batch only). */
  readonly batchCount: number;
  readonly target: TaskTarget;
  /** A seeded starting point (a new array). */
  initialParameters(seed: number): Float32Array;
  /**
   * The loss at `params`; when `grad` is given, ∂loss/∂params is written into it
   * (overwriting). `batch` selects one mini-batch; omitted, the full training set.
   */
  evaluate(params: Vector, grad?: Vector, batch?: number): number;
  /** Quality measures at `params` (the target's metric among them). */
  metrics(params: Vector): Record<string, number>;
  /** Re-partition the training examples into mini-batches (no-op for full-batch tasks). */
  shuffleBatches(random: Random): void;
  /** A JSON-safe description: the options the task was built with and its data sizes. */
  describe(): Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the task modules.

/** Validate a parameter (or gradient) vector: a Float32Array or Float64Array of `length`. */
export function vector(name: string, value: unknown, length: number): Vector {
  if (!(value instanceof Float32Array || value instanceof Float64Array) || value.length !== length) {
    throw argumentError(name, `a Float32Array or Float64Array of length ${length}`, value);
  }
  return value;
}

/** Validate a `seed` option: an integer in [0, 2³² − 1], what `Random` takes. */
export function seedOption(value: unknown): number {
  return integer('seed', value, { min: 0, max: 2 ** 32 - 1 });
}

/**
 * Validate evaluate()'s arguments in one place. The scan for non-finite parameters costs
 * O(dimension), small beside any task's evaluation (O(examples · dimension)), and stops a
 * NaN from hiding behind an activation (relu(NaN) = 0).
 */
export function checkEvaluate(
  dimension: number,
  batchCount: number,
  params: unknown,
  grad: unknown,
  batch: unknown,
): void {
  allFinite('params', vector('params', params, dimension));
  if (grad !== undefined) vector('grad', grad, dimension);
  if (batch !== undefined) integer('batch', batch, { min: 0, max: batchCount - 1 });
}

/**
 * Training examples split into mini-batches: `rows` holds the training examples' row
 * indices (a copy, in batch order); batch b covers rows[start(b) .. end(b)). Shuffling
 * permutes `rows` in place.
 */
export class Batches {
  readonly rows: Uint32Array;
  readonly count: number;
  readonly size: number;

  constructor(rows: ArrayLike<number>, batchSize: number | undefined) {
    this.rows = Uint32Array.from(rows);
    const examples = this.rows.length;
    const size = batchSize === undefined ? examples : integer('batchSize', batchSize, { min: 1 });
    this.size = Math.max(1, Math.min(size, examples));
    this.count = Math.max(1, Math.ceil(examples / this.size));
  }

  start(batch: number | undefined): number {
    return batch === undefined ? 0 : batch * this.size;
  }

  end(batch: number | undefined): number {
    return batch === undefined ? this.rows.length : Math.min(this.rows.length, (batch + 1) * this.size);
  }

  shuffle(random: Random): void {
    if (this.count > 1) random.shuffle(this.rows);
  }
}

/**
 * describe() of a mini-batched objective task: its name, the options it was built with,
 * its dimension, then `extra` (data sizes, layout, …), then its batch count.
 */
export function describeBatched(
  task: ObjectiveTask,
  config: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name: task.name, ...config, dimension: task.dimension, ...extra, batchCount: task.batchCount };
}

/** Copy an f64 accumulator into the caller's gradient array. */
export function writeGradient(acc: Float64Array, grad: Vector): void {
  for (let i = 0; i < acc.length; i++) grad[i] = acc[i];
}

/** Standard normal initialization scaled by `scale` into `out[start..end)`. */
export function fillNormal(out: Float32Array, start: number, end: number, scale: number, random: Random): void {
  for (let i = start; i < end; i++) out[i] = scale * random.normal();
}

/** Throw when a loss came out non-finite: name the first bad parameter if there is one. */
export function nonFiniteLoss(task: string, params: Vector): never {
  const i = firstNonFinite(params);
  if (i >= 0) {
    throw new CimmArgumentError(
      'params',
      'finite values',
      `Expected finite values for params but received ${params[i]} at index ${i} of ${describeValue(params)} of type ${typeOf(params)}`,
    );
  }
  throw new CimmDivergenceError(`cimm: the ${task} loss overflowed to a non-finite value`, { parameter: 'loss' });
}

// ---------------------------------------------------------------------------------------
// Reinforcement learning: a step is an episode.

/**
 * The step size α of a tabular value update Q(s, a) ← Q(s, a) + α δ — the quantity the
 * RL comparison varies. A rule may keep state (its own counters, running averages…):
 * `getState()` returns it JSON-safe and `setState()` restores it, so a run can be saved
 * and resumed; `getConfig()` returns what the rule was built with.
 */
export interface StepSizeRule {
  readonly name: string;
  /**
   * α for the update of (state, action): `visits` is n(s, a) counting this update (≥ 1),
   * `tdError` the temporal-difference error δ about to be applied, `step` the agent's
   * update count (≥ 1) and `episode` the current episode (≥ 1). Must return a finite α ≥ 0.
   */
  alpha(state: number, action: number, visits: number, tdError: number, step: number, episode: number): number;
  /** Called once at the end of each episode with its undiscounted return (optional). */
  endEpisode?(episodeReturn: number, episode: number): void;
  getConfig(): Record<string, unknown>;
  getState(): Record<string, unknown>;
  setState(state: Record<string, unknown>): void;
}

/** What one episode did. */
export interface EpisodeResult {
  episode: number;
  /** Undiscounted return of the behaviour (ε-greedy) episode. */
  return: number;
  steps: number;
  /** optimalReturn − return (≥ 0). */
  regret: number;
  /** False when the episode hit the step cap before a terminal state. */
  finished: boolean;
}

export interface RlAgent {
  /** Run one episode, learning as it goes. */
  runEpisode(): EpisodeResult;
  /** Return of the greedy policy, regret so far, episodes run, … */
  metrics(): Record<string, number>;
  getState(): Record<string, unknown>;
  setState(state: Record<string, unknown>): void;
}

/** Options every RL agent takes. */
export interface RlAgentOptions {
  stepSize: StepSizeRule;
  /** Seed of the agent's exploration (default 0). */
  seed?: number;
}

/** A task driven by episodes rather than gradient steps (see the file comment). */
export interface RlTask {
  readonly kind: 'rl';
  readonly name: string;
  readonly target: TaskTarget;
  /** The optimal return from the start state, computed exactly. */
  readonly optimalReturn: number;
  createAgent(options: RlAgentOptions): RlAgent;
  describe(): Record<string, unknown>;
}

/** Any validation task. */
export type Task = ObjectiveTask | RlTask;
