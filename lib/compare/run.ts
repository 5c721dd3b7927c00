/**
 * One comparison run: (task, optimizer, η, seed) → its curve and summary. Deterministic
 * for a job: the task instance is fixed by the task's own options, the seed picks the
 * initial parameters (objective tasks) or the agent's exploration (RL), and every step is
 * full-batch, so a run in a worker thread gives the same numbers as a run here.
 */
import { optimizerFromConfig } from '../optim/index.js';
import * as tasks from '../tasks/index.js';
import { type ObjectiveTask, type RlTask, type StepSizeRule, targetReached } from '../tasks/index.js';
import { type Job, OPTIMIZER_ENTRIES, taskFor } from './spec.js';

/** A point of a run's curve. */
export interface CurvePoint {
  /** Gradient steps (objective tasks) or episodes (RL) done. */
  step: number;
  /** Training loss (objective) or cumulative regret (RL). */
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

/** Steps at which the curve is sampled: 0, then `points` evenly spaced up to `steps`. */
export function samplePoints(steps: number, points: number): Set<number> {
  const out = new Set<number>([0, steps]);
  for (let i = 1; i <= points; i++) out.add(Math.round((i * steps) / points));
  return out;
}

function stepSizeRule(name: string, lr: number | null): StepSizeRule {
  if (name === 'fixed') return tasks.fixedStepSize(lr ?? 0.1);
  if (name === 'inverse-visit-count') return tasks.inverseVisitCount();
  // The entropy-balanced rule lands with the `balance` branch; looked up by name so this
  // module builds without it.
  const make = (tasks as Record<string, unknown>).entropyBalancedStepSize;
  if (typeof make === 'function') return (make as (o?: unknown) => StepSizeRule)(lr === null ? undefined : {});
  throw new Error(`step-size rule ${name} is not part of this build`);
}

/** Whether an RL step-size rule can be built here. */
export function stepSizeAvailable(name: string): boolean {
  try {
    stepSizeRule(name, 0.1);
    return true;
  } catch {
    return false;
  }
}

function runObjective(task: ObjectiveTask, job: Job): Omit<JobResult, 'ms'> {
  const entry = OPTIMIZER_ENTRIES.find((e) => e.name === job.optimizer);
  if (!entry) throw new Error(`unknown optimizer ${job.optimizer}`);
  const lr = job.lr ?? entry.defaultLearningRate;
  const optimizer = optimizerFromConfig(entry.kind, { ...entry.options, learningRate: lr });
  const theta = task.initialParameters(job.seed);
  const grad = new Float32Array(task.dimension);
  const params = { theta };
  const grads = { theta: grad };
  const at = samplePoints(job.steps, job.points);
  const curve: CurvePoint[] = [];
  let stepsToTarget: number | null = null;
  const record = (step: number, loss: number) => {
    const m = task.metrics(theta);
    const metric = m[task.target.metric];
    curve.push({ step, loss, metric });
    if (stepsToTarget === null && targetReached(task.target, m)) stepsToTarget = step;
    return metric;
  };
  let loss = Number.NaN;
  let initialLoss = Number.NaN;
  try {
    for (let step = 0; step < job.steps; step++) {
      loss = task.evaluate(theta, grad);
      if (step === 0) initialLoss = loss;
      if (at.has(step)) record(step, loss);
      optimizer.step(params, grads, { loss });
    }
    loss = task.evaluate(theta);
    const finalMetric = record(job.steps, loss);
    // blown up: the loss ended more than 10× above where it started (the metric is kept,
    // the setting is flagged and left out of the sensitivity spread)
    const diverged = !Number.isFinite(loss) || loss > 10 * Math.abs(initialLoss);
    return { ...base(job), curve, finalMetric, finalLoss: loss, stepsToTarget, diverged };
  } catch (e) {
    if (!(e instanceof RangeError || (e instanceof Error && /finite/.test(e.message)))) throw e;
    return {
      ...base(job),
      curve,
      finalMetric: Number.NaN,
      finalLoss: Number.NaN,
      stepsToTarget,
      diverged: true,
      error: e.message,
    };
  }
}

function runRl(task: RlTask, job: Job): Omit<JobResult, 'ms'> {
  const agent = task.createAgent({ stepSize: stepSizeRule(job.optimizer, job.lr), seed: job.seed });
  const at = samplePoints(job.steps, job.points);
  const curve: CurvePoint[] = [];
  let stepsToTarget: number | null = null;
  const record = (episode: number) => {
    const m = agent.metrics();
    const metric = m[task.target.metric];
    curve.push({ step: episode, loss: m.cumulativeRegret, metric });
    if (stepsToTarget === null && targetReached(task.target, m)) stepsToTarget = episode;
    return m;
  };
  record(0);
  for (let episode = 1; episode <= job.steps; episode++) {
    agent.runEpisode();
    if (at.has(episode) && episode !== job.steps) record(episode);
  }
  const m = record(job.steps);
  return {
    ...base(job),
    curve,
    finalMetric: m[task.target.metric],
    finalLoss: m.cumulativeRegret,
    stepsToTarget,
    diverged: false,
  };
}

function base(job: Job) {
  return { id: job.id, task: job.task, optimizer: job.optimizer, lr: job.lr, seed: job.seed, atDefault: job.atDefault };
}

/** Run one job here (the worker calls this too). */
export function runJob(job: Job): JobResult {
  const t0 = performance.now();
  const task = taskFor(job.task, job.taskOptions);
  const r = task.kind === 'rl' ? runRl(task, job) : runObjective(task, job);
  return { ...r, ms: Math.round(performance.now() - t0) };
}
