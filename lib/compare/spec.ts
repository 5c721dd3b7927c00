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
    'EB/window-20': { window: 20 },
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

/**
 * How a task is fed to the optimizer: `batchSize` rows a step (the task's `batchSize`
 * option), or `null` for the full objective every step — only for a task with no data
 * rows to sample (design.md §4). `reason` says why this size.
 */
export interface Regime {
  batchSize: number | null;
  reason: string;
}

/** Budgets: full or quick. */
export interface Budget {
  /** Gradient steps (objective tasks) or episodes (RL) per run, per task. */
  steps: Record<TaskName, number>;
  /** The regime per task (the same in both budgets unless a quick instance is smaller). */
  regime: Record<TaskName, Regime>;
  /** Curve points per run (metrics are computed this many times, evenly spaced). */
  points: number;
  /**
   * Fewer curve points where one costs much more than a step (MNIST: a point evaluates
   * the full 8,000-digit training loss and the 2,000 test digits, ≈ 40 ms, 30 steps' worth).
   */
  pointsFor: Partial<Record<TaskName, number>>;
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

/**
 * The regime of each task (docs/theory.md, "Comparison"). Mini-batch wherever there are
 * data rows, because that is what real training hands an optimizer (design.md §4); the
 * sizes are the common defaults (32, 64: Keras's and PyTorch's examples') scaled to the
 * data so that an epoch is several steps and a batch still sees most classes.
 */
export const REGIME: Readonly<Record<TaskName, Regime>> = Object.freeze({
  'modular-addition': {
    batchSize: 64,
    reason: '423 training pairs: 7 steps an epoch, a batch holds most of the 23 sums',
  },
  'least-squares': {
    batchSize: 20,
    reason: '200 rows (100 quick): a tenth of the rows a step, so the noise floor of constant-η steps shows',
  },
  sp500: { batchSize: 64, reason: 'about 1,260 training days: 20 steps an epoch' },
  'quantum-tomography': {
    batchSize: null,
    reason: 'no data rows to sample: the objective is the likelihood of all measurement counts at once',
  },
  'cliff-walking': { batchSize: null, reason: 'reinforcement learning: a step is an episode, not a gradient step' },
  iris: { batchSize: 16, reason: '120 training flowers: 8 steps an epoch, about 5 of each species a batch' },
  'iris-fractal': { batchSize: 16, reason: 'the same flowers as iris, the same batches' },
  mnist: {
    batchSize: 64,
    reason: '8,000 training digits: 125 steps an epoch, about 6 of each digit a batch (the usual MNIST MLP batch)',
  },
  'movie-ratings': { batchSize: 32, reason: '1,873 training films: 59 steps an epoch' },
  'seattle-weather': { batchSize: 32, reason: '1,168 training days: 37 steps an epoch' },
  rosenbrock: { batchSize: null, reason: 'an analytic function: no data rows to sample' },
  'ill-conditioned-quadratic': { batchSize: null, reason: 'an analytic function: no data rows to sample' },
});

/**
 * The options a task is built with under a budget: its size options (quick instances are
 * smaller) plus the regime's batch size. Undefined when there are none.
 */
export function taskOptionsIn(b: Budget, task: TaskName): Record<string, unknown> | undefined {
  const size = b.taskOptions[task];
  const batchSize = b.regime[task].batchSize;
  if (batchSize === null) return size;
  return { ...size, batchSize };
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
          mnist: 600,
          'movie-ratings': 600,
          'seattle-weather': 600,
          rosenbrock: 2000,
          'ill-conditioned-quadratic': 1000,
        },
        regime: REGIME,
        points: 20,
        pointsFor: { mnist: 10 },
        learningRates: logGrid(1e-3, 1, 4),
        // modular addition keeps its full size: with p = 13 (135 training pairs) no Adam
        // setting generalized within 600 mini-batch steps
        taskOptions: {
          'least-squares': { rows: 100, columns: 20 },
        },
      }
    : {
        steps: {
          'modular-addition': 600,
          'least-squares': 1500,
          sp500: 600,
          'quantum-tomography': 600,
          'cliff-walking': 500,
          iris: 600,
          'iris-fractal': 600,
          mnist: 1000,
          'movie-ratings': 1500,
          'seattle-weather': 1500,
          rosenbrock: 3000,
          'ill-conditioned-quadratic': 3000,
        },
        regime: REGIME,
        points: 100,
        pointsFor: { mnist: 20 },
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
