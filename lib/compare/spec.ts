/**
 * The comparison's protocol (docs/theory.md, "Comparison"): which optimizers, which
 * learning rates, which task sizes and budgets. Everything here is plain data so that a
 * job can cross to a worker thread as JSON and be rebuilt there.
 */
import { optimizerFromConfig } from '../optim/index.js';
import { createTask, TASK_NAMES, type Task, type TaskName } from '../tasks/index.js';

/** One optimizer under comparison: a registered kind plus fixed options. */
export interface OptimizerEntry {
  /** The name in reports ("SGD+momentum"). */
  name: string;
  /** The registry kind passed to optimizerFromConfig ("SGD"). */
  kind: string;
  /** Options besides the learning rate. */
  options: Record<string, unknown>;
  /** η used when the optimizer runs "at its defaults" (its own documented default). */
  defaultLearningRate: number;
  /**
   * A named configuration of a rule's options kept measurable (docs/theory.md, "The rule's
   * variants"): in a plan only when named (`--optimizers`) or with `--variants`.
   */
  variant?: boolean;
}

/**
 * The optimizers the comparison knows. A kind that is not registered (a build without
 * one of them, or a user's registry) is skipped with a note in the report.
 */
export const OPTIMIZER_ENTRIES: readonly OptimizerEntry[] = [
  { name: 'SGD', kind: 'SGD', options: {}, defaultLearningRate: 1e-3 },
  { name: 'SGD+momentum', kind: 'SGD', options: { momentum: 0.9 }, defaultLearningRate: 1e-3 },
  { name: 'Adam', kind: 'Adam', options: {}, defaultLearningRate: 1e-3 },
  { name: 'AdamW', kind: 'AdamW', options: {}, defaultLearningRate: 1e-3 },
  // the entropy-balanced rule at its defaults (an inner Adam); the sweep varies η₀
  { name: 'EntropyBalanced', kind: 'EntropyBalanced', options: {}, defaultLearningRate: 1e-3 },
  {
    name: 'EntropyBalanced-SGD+momentum',
    kind: 'EntropyBalanced',
    options: { base: 'sgd', baseOptions: { momentum: 0.9 } },
    defaultLearningRate: 1e-3,
  },
  { name: 'QDT', kind: 'QDT', options: {}, defaultLearningRate: 1 },
  { name: 'Prodigy', kind: 'Prodigy', options: {}, defaultLearningRate: 1 },
  // The entropy-balanced rule's variants (docs/theory.md, "The rule's variants").
  ...variants({
    'EB/legacy': { base: 'sgd', informationMeter: 'loss', target: 'residual', averaging: 0, window: 0 },
    'EB/legacy-Adam': { informationMeter: 'loss', target: 'residual', averaging: 0, window: 0 },
    'EB/loss-meter': { informationMeter: 'loss', target: 'residual', window: 0 },
    'EB/residual': { target: 'residual' },
    'EB/per-step': { averaging: 0 },
    'EB/no-calibration': { window: 0 },
    'EB/window-10': { window: 10 },
    'EB/window-50': { window: 50 },
    'EB/guard': { guard: 4 },
    'EB/SGD': { base: 'sgd' },
    'EB/Adam-beta1-0': { baseOptions: { beta1: 0 } },
  }),
];

function variants(named: Record<string, Record<string, unknown>>): OptimizerEntry[] {
  return Object.entries(named).map(([name, options]) => ({
    name,
    kind: 'EntropyBalanced',
    options,
    defaultLearningRate: 1e-3,
    variant: true,
  }));
}

/** The RL task's "optimizers": step-size rules. `fixed` is swept; the others have no η. */
export const STEP_SIZE_ENTRIES = ['fixed', 'inverse-visit-count', 'entropy-balanced'] as const;

/** Whether an optimizer entry can be built in this build; the reason when not. */
export function optimizerAvailable(entry: OptimizerEntry): { ok: true } | { ok: false; reason: string } {
  try {
    optimizerFromConfig(entry.kind, { ...entry.options, learningRate: entry.defaultLearningRate });
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Budgets: full or quick. */
export interface Budget {
  /** Gradient steps (objective tasks) or episodes (RL) per run, per task. */
  steps: Record<TaskName, number>;
  /** Curve points per run (metrics are computed this many times, evenly spaced). */
  points: number;
  /** Learning rates swept (log-spaced, inclusive). */
  learningRates: number[];
  /** Task options (smaller problems under --quick). */
  taskOptions: Partial<Record<TaskName, Record<string, unknown>>>;
}

/** `count` log-spaced values from `lo` to `hi` inclusive, rounded to 3 significant digits. */
export function logGrid(lo: number, hi: number, count: number): number[] {
  if (count === 1) return [lo];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((lo * (hi / lo) ** (i / (count - 1))).toPrecision(3)));
  }
  return out;
}

export function budget(quick: boolean): Budget {
  return quick
    ? {
        steps: {
          'modular-addition': 600,
          'least-squares': 600,
          sp500: 300,
          'quantum-tomography': 300,
          'cliff-walking': 300,
          iris: 300,
          'iris-fractal': 300,
        },
        points: 20,
        learningRates: logGrid(1e-3, 1, 4),
        taskOptions: {
          'modular-addition': { modulus: 13, hidden: 32 },
          'least-squares': { rows: 100, columns: 20 },
        },
      }
    : {
        steps: {
          'modular-addition': 300,
          'least-squares': 1500,
          sp500: 600,
          'quantum-tomography': 600,
          'cliff-walking': 500,
          iris: 600,
          'iris-fractal': 600,
        },
        points: 100,
        learningRates: logGrid(1e-4, 1, 9),
        taskOptions: {},
      };
}

/**
 * Step sizes swept for the RL task's fixed-α rule: as many points as the optimizer grid,
 * log-spaced over [1e-3, 1], because tabular Q-learning's α lives in (0, 1] and α = 1e-4
 * learns nothing in a few hundred episodes (documented in docs/theory.md).
 */
export function rlGrid(learningRates: readonly number[]): number[] {
  return logGrid(1e-3, 1, learningRates.length);
}

/** One run: (task, optimizer, lr, seed). `lr` is null for rules with no step size. */
export interface Job {
  id: number;
  task: TaskName;
  optimizer: string;
  lr: number | null;
  seed: number;
  steps: number;
  points: number;
  /** True for the run at the optimizer's default η (not part of the sweep). */
  atDefault: boolean;
  taskOptions?: Record<string, unknown>;
}

/** Build a task with the budget's options (cached per worker: tasks are immutable). */
const taskCache = new Map<string, Task>();
export function taskFor(name: TaskName, options: Record<string, unknown> | undefined): Task {
  const key = `${name} ${JSON.stringify(options ?? {})}`;
  let t = taskCache.get(key);
  if (!t) {
    t = name === 'cliff-walking' ? createTask(name) : createTask(name, options as never);
    taskCache.set(key, t);
  }
  return t;
}

export { TASK_NAMES, type TaskName };
