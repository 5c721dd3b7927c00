/**
 * One comparison run: (task, optimizer, η, seed) → its curve and summary. Deterministic
 * for a job: the task instance is fixed by the task's own options, the seed picks the
 * initial parameters (objective tasks) or the agent's exploration (RL) and the order of
 * the mini-batches, so a run in a worker thread gives the same numbers as a run here. A
 * run is a TaskRun, which can be stopped, saved and resumed bit-for-bit (`cimm train`).
 *
 * The regime is the one real training uses (design.md §4): each step the optimizer gets
 * the loss of one mini-batch at the current parameters and its gradient, nothing else;
 * a task with no data rows (batchCount 1) gets its full objective instead.
 */
import { base64Bytes } from '../atomic-file.js';
import { kernels } from '../backend.js';
import { argumentError, CimmArgumentError, CimmDivergenceError, prefixError } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import { type AnyOptimizer, optimizerFromConfig } from '../optim/index.js';
import { Random } from '../random.js';
import * as tasks from '../tasks/index.js';
import {
  createTask,
  type ObjectiveTask,
  type RlAgent,
  type StepSizeRule,
  TASK_NAMES,
  type Task,
  targetReached,
} from '../tasks/index.js';
import {
  type CheckpointFile,
  checkOutputPath,
  checkpointObject,
  field,
  loadNumber,
  openCheckpoint,
  parseCheckpoint,
  readCheckpoint,
  type SavedNumber,
  saveCheckpoint,
  saveNumber,
} from '../train/checkpoint.js';
import {
  type LoopPosition,
  type LoopProgram,
  runLoop,
  runLoopSync,
  type StopReason,
  trainingLoop,
} from '../train/loop.js';
import { type Job, OPTIMIZER_ENTRIES, STEP_SIZE_ENTRIES, taskFor } from './spec.js';

/** A point of a run's curve. */
export interface CurvePoint {
  /** Gradient steps (objective tasks) or episodes (RL) done. */
  step: number;
  /** The full training loss (objective tasks, never a mini-batch's) or cumulative regret (RL). */
  loss: number;
  /** The task's target metric. */
  metric: number;
}

export interface JobResult {
  id: number;
  task: string;
  optimizer: string;
  lr: number | null;
  seed: number;
  atDefault: boolean;
  curve: CurvePoint[];
  /** The target metric at the end (NaN when the run diverged). */
  finalMetric: number;
  finalLoss: number;
  /** First curve step at which the target was met; null when never. */
  stepsToTarget: number | null;
  /**
   * True when the run produced non-finite parameters or loss and stopped (final metric
   * NaN), or ended with a training loss more than 10× its initial loss.
   */
  diverged: boolean;
  /** The error message when the run stopped early. */
  error?: string;
  /** Wall time of the run (not part of determinism checks). */
  ms: number;
}

/**
 * The longest run a job may ask for: 10⁷ steps (episodes). The comparison's longest is
 * 3,000; the bound keeps every loop a saved job drives (the batch-order replay of a
 * resume, ceil(step / batchCount) shuffles) within about a second, so a checkpoint that
 * says `steps: 1e15` is refused at once instead of hanging the loader.
 */
export const MAX_RUN_STEPS = 10_000_000;

/** The most curve points a job may ask for (samplePoints loops over them). */
export const MAX_CURVE_POINTS = 10_000;

/** A job's step count, checked: an integer in [min, MAX_RUN_STEPS]. */
export function runSteps(name: string, value: unknown, min = 1): number {
  return integer(name, value, { min, max: MAX_RUN_STEPS });
}

/** Steps at which the curve is sampled: 0, then `points` evenly spaced up to `steps`. */
export function samplePoints(steps: number, points: number): Set<number> {
  const out = new Set<number>([0, steps]);
  for (let i = 1; i <= points; i++) out.add(Math.round((i * steps) / points));
  return out;
}

/**
 * The RL step-size rule of a job: fixed α = lr (default 0.1); 1/n, which has no step size;
 * the entropy-balanced rule, starting from α = lr when one is given (its default 0.5).
 */
function stepSizeRule(name: string, lr: number | null): StepSizeRule {
  if (name === 'fixed') return tasks.fixedStepSize(lr ?? 0.1);
  if (name === 'inverse-visit-count') {
    if (lr !== null) throw argumentError('lr', 'no step size (the 1/n rule has none)', lr);
    return tasks.inverseVisitCount();
  }
  return tasks.entropyBalancedStepSize(lr === null ? undefined : { alpha: lr });
}

/**
 * The seed of a run's batch-order generator: the job's seed, xor a fixed tag so the
 * stream differs from the one `initialParameters(seed)` draws from the same seed.
 */
export function batchOrderSeed(seed: number): number {
  return (seed ^ 0x5bd1e995) >>> 0;
}

/**
 * The body of a TaskRun's checkpoint (kind 'task-run' of the one checkpoint format,
 * lib/train/checkpoint.ts; docs/theory.md, "Command line").
 */
export interface TaskRunBody {
  /** The job: task, optimizer (or step-size rule), lr, seed, steps, curve points, task options. */
  job: Job;
  /** Steps (episodes) done. */
  step: number;
  /** Objective tasks: θ as base64 of little-endian float32 bytes, and its length. */
  theta?: string;
  dimension?: number;
  /** Objective tasks: the optimizer's kind and serializeState() bytes as base64. */
  optimizer?: { kind: string; state: string };
  /**
   * Mini-batched objective tasks: the batch-order generator's state after the last
   * epoch's shuffle (Random.state()), and the batch count it was drawn for.
   */
  batches?: { count: number; random: number[] };
  /** RL tasks: the agent's getState() (Q table, visit counts, RNG, step-size rule state). */
  agent?: Record<string, unknown>;
  curve: { step: number; loss: SavedNumber; metric: SavedNumber }[];
  stepsToTarget: number | null;
  initialLoss: SavedNumber;
  /** Set when the run stopped on a non-finite value (it is then finished). */
  error?: string;
}

/** A TaskRun's checkpoint as saved (TaskRun.checkpoint()). */
export type TaskRunCheckpoint = CheckpointFile<TaskRunBody>;

/** What runUntil and run report and obey. */
export interface RunUntilOptions {
  /** Called after every step with the steps done and the run's length. */
  onProgress?: (step: number, steps: number) => void;
  /** Checked before every step; true stops the run there (it can be resumed). */
  shouldStop?: () => boolean;
  /** Stop after the current step (run(): the checkpoint is written and kept). */
  signal?: AbortSignal;
  /** Save the run to `path` (one checkpoint format) every `every` steps and when it stops. */
  checkpoint?: { path: string; every?: number };
  /** run(): give the event loop a turn at most this often, in ms (default 0: every step; lib/train/loop.ts). */
  sliceMs?: number;
}

/**
 * One job as a resumable object: step() does one gradient step (objective tasks) or one
 * episode (RL), runUntil() loops, checkpoint() / fromCheckpoint() save and restore every
 * bit of state, so k steps + checkpoint + resume to N equals N steps exactly. The
 * comparison (runJob) drives the same object, so there is one stepping loop.
 *
 * Objective tasks with data rows run in mini-batches: an epoch is `batchCount` steps, and
 * at the start of each the task's `shuffleBatches` re-partitions the rows from this run's
 * own generator (`Random(batchOrderSeed(seed))`); step s uses batch s mod batchCount. A
 * mini-batched run builds its own task instance, because the batch order is state of the
 * task and a shared (cached) instance would carry one run's order into the next.
 *
 * The curve point at step s describes the parameters after s steps: the full training
 * loss (`evaluate(θ)` with no batch: a mini-batch's loss is a noisy sample of it) and the
 * target metric (held out for data tasks); an RL point after its episode.
 */
export class TaskRun {
  readonly task: Task;
  /** Steps (episodes) done. */
  private count = 0;
  private readonly curvePoints: CurvePoint[] = [];
  private reached: number | null = null;
  private initialLoss = Number.NaN;
  private failure: string | undefined;
  private at: Set<number>;
  // objective tasks
  private readonly theta?: Float32Array;
  private readonly grad?: Float32Array;
  private readonly optimizer?: AnyOptimizer;
  /** The batch-order generator (mini-batched tasks only). */
  private order?: Random;
  // RL tasks
  private readonly agent?: RlAgent;

  constructor(private spec: Job) {
    const job = spec;
    // what a checkpoint of this run must satisfy to load again
    runSteps('job.steps', job.steps);
    integer('job.points', job.points, { min: 1, max: MAX_CURVE_POINTS });
    const shared = taskFor(job.task, job.taskOptions);
    // a mini-batched task keeps its batch order: this run gets an instance of its own
    this.task =
      shared.kind === 'objective' && shared.batchCount > 1 ? createTask(job.task, job.taskOptions as never) : shared;
    this.at = samplePoints(job.steps, job.points);
    if (this.task.kind === 'rl') {
      this.agent = this.task.createAgent({ stepSize: stepSizeRule(job.optimizer, job.lr), seed: job.seed });
      this.record(0, this.agent.metrics());
    } else {
      const entry = optimizerEntry(job.optimizer);
      const lr = job.lr ?? entry.defaultLearningRate;
      this.optimizer = optimizerFromConfig(entry.kind, { ...entry.options, learningRate: lr });
      this.theta = this.task.initialParameters(job.seed);
      this.grad = new Float32Array(this.task.dimension);
      if (this.task.batchCount > 1) this.order = new Random(batchOrderSeed(job.seed));
    }
  }

  /** Mini-batches per epoch (1: full batch; RL: 1). */
  get batchCount(): number {
    return this.task.kind === 'objective' ? this.task.batchCount : 1;
  }

  /** The job (its steps change with setSteps). */
  get job(): Job {
    return this.spec;
  }

  /** Steps (episodes) done so far. */
  get stepsDone(): number {
    return this.count;
  }

  /** The curve so far (a copy). */
  get curve(): CurvePoint[] {
    return this.curvePoints.map((p) => ({ ...p }));
  }

  /** True once every step is done or the run stopped on a non-finite value. */
  get done(): boolean {
    return this.count >= this.job.steps || this.failure !== undefined;
  }

  /** The parameters θ (objective tasks; a copy). */
  parameters(): Float32Array | undefined {
    return this.theta?.slice();
  }

  /**
   * Give the run a new length (≥ the steps done). The curve points already recorded stay;
   * the rest are sampled on the new length's grid.
   */
  setSteps(steps: number): void {
    runSteps('steps', steps, Math.max(1, this.count));
    if (this.failure !== undefined) return;
    this.spec = { ...this.spec, steps };
    this.at = samplePoints(steps, this.job.points);
  }

  /** One gradient step (or episode) through the training loop. No-op when done. */
  step(): void {
    this.runUntil(this.count + 1);
  }

  /**
   * The loop program of this run (lib/train/loop.ts): an epoch is `batchCount` steps, the
   * first of which reshuffles the task's batches; a step is one mini-batch (or episode).
   */
  private program(steps: number, o: RunUntilOptions, path: string | undefined, every: number): LoopProgram {
    return {
      stepsPerEpoch: this.batchCount,
      epochs: Number.POSITIVE_INFINITY,
      maxSteps: Math.min(steps, this.job.steps),
      checkpointEvery: every,
      beginEpoch: (p) => {
        if (p.batchIndex === 0 && this.order) (this.task as ObjectiveTask).shuffleBatches(this.order);
      },
      step: (p) => {
        this.stepOnce(p.batchIndex);
        o.onProgress?.(this.count, this.job.steps);
      },
      stopRequested: () => (this.failure !== undefined ? 'diverged' : o.shouldStop?.() ? 'stopped' : null),
      ...(path === undefined ? {} : { save: () => this.save(path) }),
    };
  }

  /** The loop's position at the steps done (every epoch is `batchCount` steps). */
  private position(): LoopPosition {
    const n = this.batchCount;
    return { epoch: Math.floor(this.count / n), batchIndex: this.count % n, step: this.count };
  }

  private loop(steps: number, o: RunUntilOptions): Generator<void, StopReason, void> {
    const opts = options<RunUntilOptions>('options', o);
    const ck =
      opts.checkpoint === undefined
        ? undefined
        : options<{ path: string; every?: number }>('checkpoint', opts.checkpoint);
    const path = ck === undefined ? undefined : checkOutputPath('checkpoint.path', ck.path);
    const every = ck === undefined ? 0 : integer('checkpoint.every', ck.every ?? 0, { min: 0 });
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal))
      throw argumentError('signal', 'an AbortSignal', opts.signal);
    const end = integer('steps', steps, { min: 0 });
    const position = this.position();
    const program = this.program(end, opts, path, every);
    return trainingLoop(program, position, opts.signal);
  }

  /** Step until `steps` are done (default: the job's), the run ends, or shouldStop(); on this thread. */
  runUntil(steps: number = this.job.steps, options: RunUntilOptions = {}): StopReason {
    return runLoopSync(this.loop(steps, options));
  }

  /** runUntil that gives the event loop a turn after every step and obeys `signal`. */
  run(steps: number = this.job.steps, options: RunUntilOptions = {}): Promise<StopReason> {
    const sliceMs = options.sliceMs === undefined ? 0 : finiteNumber('sliceMs', options.sliceMs, { min: 0, max: 1000 });
    return runLoop(this.loop(steps, options), { sliceMs });
  }

  /**
   * The step on batch `batch` of the current epoch. The protocol: loss = evaluate(θ,
   * grad, batch) and optimizer.step({θ}, {grad}, {loss}) — the optimizer sees nothing
   * else (the loop has reshuffled the task's batches at the epoch's start).
   */
  private stepOnce(batchIndex: number): void {
    if (this.agent) {
      this.agent.runEpisode();
      this.count++;
      if (this.at.has(this.count) || this.count === this.job.steps) this.record(this.count, this.agent.metrics());
      return;
    }
    const task = this.task as ObjectiveTask;
    const theta = this.theta as Float32Array;
    const grad = this.grad as Float32Array;
    try {
      if (this.count === 0 && this.curvePoints.length === 0) {
        this.initialLoss = task.evaluate(theta);
        this.record(0, task.metrics(theta), this.initialLoss);
      }
      const batch = this.order ? batchIndex : undefined;
      const loss = task.evaluate(theta, grad, batch);
      const bad = kernels().firstNonFinite(grad);
      if (bad >= 0) {
        throw new CimmDivergenceError(`cimm: the ${task.name} gradient overflowed at step ${this.count + 1}`, {
          step: this.count + 1,
          parameter: 'grad',
          index: bad,
          value: grad[bad],
        });
      }
      (this.optimizer as AnyOptimizer).step({ theta }, { theta: grad }, { loss });
      this.count++;
      if (this.at.has(this.count) || this.count === this.job.steps)
        this.record(this.count, task.metrics(theta), task.evaluate(theta));
    } catch (e) {
      // a run that blows up is a result (diverged), not a crash: the step is not counted,
      // and the loop stops before the next one (stopRequested: 'diverged')
      if (!(e instanceof CimmDivergenceError)) throw e;
      this.failure = e.message;
    }
  }

  /** The summary: at the end, the job's result; before it, the state after the steps done. */
  result(): Omit<JobResult, 'ms'> {
    const common = { ...base(this.job), curve: this.curve };
    if (this.failure !== undefined) {
      return {
        ...common,
        finalMetric: Number.NaN,
        finalLoss: Number.NaN,
        stepsToTarget: this.reached,
        diverged: true,
        error: this.failure,
      };
    }
    const { loss, metric } = this.count >= this.job.steps ? (this.curvePoints.at(-1) as CurvePoint) : this.current();
    // blown up: the loss ended more than 10× above where it started (the metric is kept,
    // the setting is flagged and left out of the sensitivity spread)
    const diverged = this.agent ? false : !Number.isFinite(loss) || loss > 10 * Math.abs(this.initialLoss);
    return { ...common, finalMetric: metric, finalLoss: loss, stepsToTarget: this.reached, diverged };
  }

  /** Everything needed to continue this run bit-for-bit: the body of its checkpoint. */
  private body(): TaskRunBody {
    const out: TaskRunBody = {
      job: { ...this.job },
      step: this.count,
      curve: this.curvePoints.map((p) => ({ step: p.step, loss: saveNumber(p.loss), metric: saveNumber(p.metric) })),
      stepsToTarget: this.reached,
      initialLoss: saveNumber(this.initialLoss),
    };
    if (this.agent) out.agent = this.agent.getState();
    if (this.order) out.batches = { count: this.batchCount, random: this.order.state() };
    if (this.theta && this.optimizer) {
      out.theta = base64Bytes(this.theta);
      out.dimension = this.theta.length;
      out.optimizer = {
        kind: this.optimizer.kind,
        state: base64Bytes(this.optimizer.serializeState()),
      };
    }
    if (this.failure !== undefined) out.error = this.failure;
    return out;
  }

  /** The run's checkpoint as the file holds it (the one format, lib/train/checkpoint.ts), JSON-safe. */
  checkpoint(): TaskRunCheckpoint {
    return checkpointObject('task-run', this.body());
  }

  /** Save the run to `path` atomically (its directory must exist). */
  save(path: string): void {
    saveCheckpoint(checkOutputPath('path', path), 'task-run', this.body());
  }

  /** A run restored from a checkpoint file; a problem with it names the file and the field. */
  static load(path: string): TaskRun {
    return TaskRun.fromBody(readCheckpoint(path, 'task-run'), path);
  }

  /** load() of a file's text, already read from `source` (errors name it). */
  static fromFileText(text: string, source: string): TaskRun {
    return TaskRun.fromBody(parseCheckpoint(text, 'task-run', source), source);
  }

  /**
   * A run restored from checkpoint() (the parsed file). The format, version, kind and
   * checksum are checked, then every field of the body; a bad one throws a
   * CimmCheckpointError naming `source` and the field (`body.theta`, `body.job.optimizer`, …).
   */
  static fromCheckpoint(saved: unknown, source = 'checkpoint'): TaskRun {
    return TaskRun.fromBody(openCheckpoint(saved, 'task-run', source), source);
  }

  private static fromBody(saved: unknown, source: string): TaskRun {
    return field(source, '', () => TaskRun.restore(saved));
  }

  /** The run a checkpoint body describes (field names relative to the body). */
  private static restore(saved: unknown): TaskRun {
    const c = options<TaskRunBody>('', saved);
    const j = options<Job>('job', c.job);
    if (j === undefined || c.job === undefined) throw argumentError('job', 'a job object', c.job);
    const task = oneOf('job.task', j.task, TASK_NAMES);
    const rl = task === 'cliff-walking';
    const optimizer = oneOf(
      'job.optimizer',
      j.optimizer,
      rl ? STEP_SIZE_ENTRIES : OPTIMIZER_ENTRIES.map((e) => e.name),
    );
    const lr = j.lr === null ? null : finiteNumber('job.lr', j.lr, { above: 0 });
    const steps = runSteps('job.steps', j.steps);
    const job: Job = {
      id: integer('job.id', j.id ?? 0, { min: 0 }),
      task,
      optimizer,
      lr,
      seed: integer('job.seed', j.seed, { min: 0, max: 2 ** 32 - 1 }),
      steps,
      points: integer('job.points', j.points, { min: 1, max: MAX_CURVE_POINTS }),
      atDefault: j.atDefault === true,
      ...(j.taskOptions === undefined ? {} : { taskOptions: options('job.taskOptions', j.taskOptions) }),
    };
    const step = integer('step', c.step, { min: 0, max: steps });
    if (!Array.isArray(c.curve)) throw argumentError('curve', 'an array of {step, loss, metric}', c.curve);
    let last = -1;
    const curve = c.curve.map((p, i) => {
      const at = `curve[${i}]`;
      const q = options<{ step: unknown; loss: unknown; metric: unknown }>(at, p);
      const s = integer(`${at}.step`, q.step, { min: last + 1, max: step });
      last = s;
      return { step: s, loss: loadNumber(`${at}.loss`, q.loss), metric: loadNumber(`${at}.metric`, q.metric) };
    });
    const stepsToTarget =
      c.stepsToTarget === null ? null : integer('stepsToTarget', c.stepsToTarget, { min: 0, max: step });
    const initialLoss = loadNumber('initialLoss', c.initialLoss);
    if (c.error !== undefined && typeof c.error !== 'string') throw argumentError('error', 'a string', c.error);

    // the task first: its own checks name their option (rows, batchSize) under job.taskOptions
    const failed = (e: unknown, prefix: string) =>
      e instanceof CimmArgumentError
        ? prefixError(e, prefix)
        : argumentError('job', `a job this version of cimm can run (${(e as Error).message})`, c.job);
    try {
      taskFor(task, job.taskOptions);
    } catch (e) {
      throw failed(e, 'job.taskOptions.');
    }
    let run: TaskRun;
    try {
      run = new TaskRun(job);
    } catch (e) {
      throw failed(e, 'job.'); // the optimizer or step-size rule refusing job.lr
    }
    if (run.agent) {
      try {
        run.agent.setState(options('agent', c.agent));
      } catch (e) {
        throw argumentError('agent', `a ${task} agent state (${(e as Error).message})`, c.agent);
      }
    } else {
      const theta = run.theta as Float32Array;
      integer('dimension', c.dimension, { min: theta.length, max: theta.length });
      const bytes = typeof c.theta === 'string' ? Buffer.from(c.theta, 'base64') : undefined;
      if (!bytes || bytes.length !== theta.byteLength) {
        throw argumentError('theta', `base64 of ${theta.length} float32 values (the task's dimension)`, c.theta);
      }
      const o = options<{ kind: unknown; state: unknown }>('optimizer', c.optimizer);
      const own = run.optimizer as AnyOptimizer;
      if (o.kind !== own.kind) throw argumentError('optimizer.kind', JSON.stringify(own.kind), o.kind);
      if (typeof o.state !== 'string') throw argumentError('optimizer.state', 'a base64 string', o.state);
      try {
        own.loadState(new Uint8Array(Buffer.from(o.state, 'base64')), { params: { theta } });
      } catch (e) {
        throw argumentError('optimizer.state', `a saved ${own.kind} state (${(e as Error).message})`, o.state);
      }
      new Uint8Array(theta.buffer, theta.byteOffset, theta.byteLength).set(bytes);
      if (run.order) run.restoreBatchOrder(c.batches, step);
      else if (c.batches !== undefined) throw argumentError('batches', 'nothing (this run is full batch)', c.batches);
    }
    run.count = step;
    run.curvePoints.length = 0;
    run.curvePoints.push(...curve);
    run.reached = stepsToTarget;
    run.initialLoss = initialLoss;
    run.failure = c.error;
    return run;
  }

  /**
   * Bring a fresh run's task to the batch order it had after `step` steps: replay the
   * ceil(step / batchCount) epoch shuffles from the seed (cheap: one permutation of the
   * rows per epoch), then require the generator to land on the saved state — so the saved
   * state is checked, not trusted, and a task whose shuffle changed is caught.
   */
  private restoreBatchOrder(saved: unknown, step: number): void {
    const b = options<{ count: unknown; random: unknown }>('batches', saved);
    if (saved === undefined) throw argumentError('batches', 'the batch order of a mini-batched run', saved);
    const task = this.task as ObjectiveTask;
    integer('batches.count', b.count, { min: task.batchCount, max: task.batchCount });
    const state = b.random;
    if (!Array.isArray(state) || !state.every((v) => Number.isInteger(v)))
      throw argumentError('batches.random', 'a generator state (an array of integers)', state);
    const order = this.order as Random;
    for (let e = Math.ceil(step / task.batchCount); e > 0; e--) task.shuffleBatches(order);
    const mine = order.state();
    if (mine.length !== state.length || mine.some((v, i) => v !== state[i])) {
      throw argumentError(
        'batches.random',
        `the state the seed's batch order reaches after step ${step} (${JSON.stringify(mine)})`,
        state,
      );
    }
  }

  private record(step: number, m: Record<string, number>, loss: number = m.cumulativeRegret): void {
    const target = this.task.target;
    this.curvePoints.push({ step, loss, metric: m[target.metric] });
    if (this.reached === null && targetReached(target, m)) this.reached = step;
  }

  /** Loss and metric at the current parameters, without recording them. */
  private current(): { loss: number; metric: number } {
    const metric = this.task.target.metric;
    if (this.agent) {
      const m = this.agent.metrics();
      return { loss: m.cumulativeRegret, metric: m[metric] };
    }
    const task = this.task as ObjectiveTask;
    const theta = this.theta as Float32Array;
    return { loss: task.evaluate(theta), metric: task.metrics(theta)[metric] };
  }
}

function optimizerEntry(name: string) {
  const entry = OPTIMIZER_ENTRIES.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown optimizer ${name}`);
  return entry;
}

function base(job: Job) {
  return { id: job.id, task: job.task, optimizer: job.optimizer, lr: job.lr, seed: job.seed, atDefault: job.atDefault };
}

/** Run one job here (the worker calls this too). */
export function runJob(job: Job): JobResult {
  const t0 = performance.now();
  const run = new TaskRun(job);
  run.runUntil();
  return { ...run.result(), ms: Math.round(performance.now() - t0) };
}
