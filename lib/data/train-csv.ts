/**
 * Train a model on a user's CSV: read and check the table, plan the columns, a seeded
 * train/validation split, the preprocessing fitted on the training rows, an MLP from nn/
 * (`mlp:64,64`), an optimizer from the comparison's list, and the Trainer's own fit — its
 * validation rows, its checkpoints and its resume. What `cimm train --data` runs, usable
 * in-process (the tests compare both).
 */
import { OPTIMIZER_ENTRIES } from '../compare/spec.js';
import { argumentError, CimmArgumentError, CimmDivergenceError } from '../errors.js';
import { finiteNumber, integer, options } from '../is.js';
import type { ActivationName } from '../kernels.js';
import { ACTIVATIONS } from '../nn/fractal-layer.js';
import { type Loss, MeanSquaredError, SoftmaxCrossEntropy } from '../nn/losses.js';
import { mlp, type Sequential } from '../nn/sequential.js';
import { optimizerFromConfig } from '../optim/index.js';
import type { Optimizer, OptimizerOptions } from '../optim/optimizer.js';
import { type EpochRecord, type History, Trainer } from '../train/trainer.js';
import { forwardRows, type TrainingSummary } from './model-file.js';
import {
  type ColumnPlan,
  decodeOutputs,
  encodeTable,
  fitPreprocessing,
  inputWidth,
  outputWidth,
  type Preprocessing,
  planColumns,
  readTableFile,
  type Scores,
  score,
  splitRows,
  type Table,
  type TaskKind,
} from './table.js';

export const TRAIN_CSV_DEFAULTS = {
  model: 'mlp:64,64',
  optimizer: 'Adam',
  epochs: 50,
  batchSize: 32,
  seed: 0,
  validation: 0.2,
} as const;

/** A model spec: `linear`, or `mlp:H1,H2,…` with an optional hidden activation `mlp:64,64:tanh` (default relu). */
export interface ModelSpec {
  hidden: number[];
  activation: ActivationName;
}

export function parseModelSpec(spec: string): ModelSpec {
  const what = '"linear" or "mlp:H1,H2,…[:activation]" with hidden sizes ≥ 1 (e.g. "mlp:64,64", "mlp:32:tanh")';
  if (spec === 'linear') return { hidden: [], activation: 'identity' };
  const m = /^mlp:([0-9, ]+)(?::([a-z]+))?$/.exec(spec);
  if (!m) throw argumentError('model', what, spec);
  const hidden = m[1].split(',').map((s) => Number(s.trim()));
  if (hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 1 << 16)) throw argumentError('model', what, spec);
  const activation = (m[2] ?? 'relu') as ActivationName;
  if (!ACTIVATIONS.includes(activation)) {
    throw argumentError('model', `an activation among ${ACTIVATIONS.join(', ')} after the sizes`, spec);
  }
  return { hidden, activation };
}

/** The optimizer names --optimizer takes (the comparison's list). */
export const OPTIMIZER_NAMES: readonly string[] = OPTIMIZER_ENTRIES.map((e) => e.name);

/** An optimizer by its name in the comparison's list (case-insensitive), at η or its default. */
export function namedOptimizer(
  name: string,
  learningRate?: number,
): { optimizer: Optimizer<OptimizerOptions>; name: string; learningRate: number } {
  const entry =
    OPTIMIZER_ENTRIES.find((e) => e.name === name) ??
    OPTIMIZER_ENTRIES.find((e) => e.name.toLowerCase() === name.toLowerCase());
  if (!entry) throw argumentError('optimizer', `one of ${OPTIMIZER_NAMES.join(', ')}`, name);
  const lr = learningRate ?? entry.defaultLearningRate;
  const optimizer = optimizerFromConfig(entry.kind, {
    ...entry.options,
    learningRate: lr,
  }) as Optimizer<OptimizerOptions>;
  return { optimizer, name: entry.name, learningRate: lr };
}

export interface TrainCsvOptions {
  /** The CSV file (a header line, then rows). */
  data: string;
  /** The column to predict. */
  target: string;
  /** Default: inferred (planColumns says why). */
  task?: TaskKind;
  categorical?: string[];
  ignore?: string[];
  /** Default 'mlp:64,64'. */
  model?: string;
  /** A name from the comparison's list (default 'Adam'). */
  optimizer?: string;
  /** Default: the optimizer's default η. */
  learningRate?: number;
  epochs?: number;
  batchSize?: number;
  /** Seeds the split, the initialization and the shuffling (default 0). */
  seed?: number;
  /** Fraction of rows held out for validation (default 0.2; 0 for none). */
  validation?: number;
  /** The Trainer's checkpoint: written atomically every `every` steps (0: at the end only) and when fit stops. */
  checkpoint?: { path: string; every?: number };
  /** Continue from a checkpoint written by a run with the same data and options. */
  resumeFrom?: string;
  /** Abort = stop after the current step (the checkpoint is written; no model is returned as finished). */
  signal?: AbortSignal;
  /** Called after each step with the steps done and the run's total. */
  onStep?: (done: number, total: number, loss: number) => void;
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Called as soon as fit has been called and gave control back: a fit that yields between
   * steps gives it back after its first step (listen for Ctrl-C from here on: abort the
   * signal), a synchronous fit only when it is done.
   */
  onFitStarted?: () => void;
  /** Called once the columns are planned and the data checked, before the first step (to say what was inferred). */
  onPlan?: (plan: ColumnPlan, prep: Preprocessing) => void;
}

export interface TrainCsvResult {
  table: Table;
  plan: ColumnPlan;
  prep: Preprocessing;
  model: Sequential;
  history: History;
  /** True when the signal stopped the run before its epochs were done. */
  interrupted: boolean;
  split: { train: Uint32Array; validation: Uint32Array };
  scores: { train: Scores; validation: Scores | null };
  summary: TrainingSummary;
}

/**
 * Everything before training, checked: the table, the plan, the split, the preprocessing,
 * the model and the optimizer. Throws CimmDataError for bad data and CimmArgumentError for
 * a bad option, before any step runs.
 */
export function prepareCsvTraining(opts: TrainCsvOptions) {
  const o = options<TrainCsvOptions>('options', opts);
  if (typeof o.data !== 'string' || o.data === '') throw argumentError('data', 'a CSV file path', o.data);
  if (typeof o.target !== 'string' || o.target === '') throw argumentError('target', 'a column name', o.target);
  const spec = parseModelSpec(o.model ?? TRAIN_CSV_DEFAULTS.model);
  const epochs = integer('epochs', o.epochs ?? TRAIN_CSV_DEFAULTS.epochs, { min: 1 });
  const batchSize = integer('batchSize', o.batchSize ?? TRAIN_CSV_DEFAULTS.batchSize, { min: 1 });
  const seed = integer('seed', o.seed ?? TRAIN_CSV_DEFAULTS.seed, { min: 0, max: 2 ** 31 - 1 });
  const validation = finiteNumber('validation', o.validation ?? TRAIN_CSV_DEFAULTS.validation, { min: 0, max: 0.9 });
  const lr = o.learningRate === undefined ? undefined : finiteNumber('learningRate', o.learningRate, { above: 0 });
  const opt = namedOptimizer(o.optimizer ?? TRAIN_CSV_DEFAULTS.optimizer, lr);

  const table = readTableFile(o.data);
  const plan = planColumns(table, { target: o.target, task: o.task, categorical: o.categorical, ignore: o.ignore });
  const split = splitRows(table.rows.length, validation, seed);
  const prep = fitPreprocessing(table, plan, split.train);
  const encoded = encodeTable(table, prep, { target: 'required' });
  const model = mlp([inputWidth(prep), ...spec.hidden, outputWidth(prep)], { activation: spec.activation, seed });
  const loss: Loss = prep.task === 'regression' ? new MeanSquaredError() : new SoftmaxCrossEntropy();

  // The Trainer holds out the last ⌊rows·validationSplit⌋ rows: put the training rows
  // first and the validation rows last, so its split is this seeded one.
  const inSize = model.inputSize;
  const rows = table.rows.length;
  const order = [...split.train, ...split.validation];
  const x = new Float32Array(rows * inSize);
  // one target value a row: the standardized number, or the class index
  const y = new Float32Array(rows);
  order.forEach((src, dst) => {
    x.set(encoded.x.subarray(src * inSize, (src + 1) * inSize), dst * inSize);
    y[dst] = (encoded.y as Float32Array)[src];
  });
  return { table, plan, split, prep, encoded, model, loss, opt, spec, epochs, batchSize, seed, validation, x, y };
}

/** Non-finite parameters (CimmDivergenceError) or gradients (the optimizer refuses them) mean the run diverged: say so, with the step and η. */
function diverged(e: unknown, step: number, learningRate: number): unknown {
  if (e instanceof CimmDivergenceError || (e instanceof CimmArgumentError && /^grads\b/.test(e.parameter))) {
    return new CimmDivergenceError(
      `cimm: training diverged at step ${step} (${e.message}); try a smaller --lr (η was ${learningRate})`,
      { step, parameter: e.parameter },
    );
  }
  return e;
}

/** Train on a CSV (see TrainCsvOptions); resolves when fit returns (finished or stopped). */
export async function trainCsv(opts: TrainCsvOptions): Promise<TrainCsvResult> {
  const p = prepareCsvTraining(opts);
  const o = opts;
  o.onPlan?.(p.plan, p.prep);
  const trainer = new Trainer({ model: p.model, loss: p.loss, optimizer: p.opt.optimizer });
  const trainRows = p.split.train.length;
  const total = p.epochs * Math.ceil(trainRows / p.batchSize);
  const signal = o.signal;
  let stepsDone = 0;
  let history: History;
  try {
    const running = trainer.fit(
      { x: p.x, y: p.y },
      {
        epochs: p.epochs,
        batchSize: p.batchSize,
        validationSplit: p.validation,
        seed: p.seed,
        ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
        ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
        // a fit that takes a signal stops on it itself; the callback below stops one that does not
        ...(signal ? { signal } : {}),
        callbacks: {
          onStepEnd: ({ trainer: t, record }) => {
            stepsDone = record.step + 1;
            o.onStep?.(stepsDone, total, record.loss);
            if (signal?.aborted) t.stop();
          },
          onEpochEnd: ({ record }) => o.onEpoch?.(record),
        },
      },
    );
    o.onFitStarted?.();
    history = await running;
  } catch (e) {
    if (!(signal?.aborted && (e as Error)?.name === 'AbortError')) throw diverged(e, stepsDone + 1, p.opt.learningRate);
    // a fit that rejects when aborted: the history so far is the trainer's
    history = trainer.history;
  }
  const decoded = decodeOutputs(p.prep, forwardRows(p.model, p.encoded.x, p.encoded.rows), p.encoded.rows);
  const target = p.encoded.target as Float64Array | string[];
  const scores = {
    train: score(decoded, target, p.split.train),
    validation: p.split.validation.length ? score(decoded, target, p.split.validation) : null,
  };
  const numbers = (s: Scores) =>
    Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  const steps = history.steps.length ? history.steps[history.steps.length - 1].step + 1 : 0;
  const summary: TrainingSummary = {
    data: o.data,
    rows: p.table.rows.length,
    trainRows,
    validationRows: p.split.validation.length,
    seed: p.seed,
    model: o.model ?? TRAIN_CSV_DEFAULTS.model,
    optimizer: p.opt.name,
    learningRate: p.opt.learningRate,
    epochs: p.epochs,
    batchSize: p.batchSize,
    steps,
    train: numbers(scores.train),
    validation: scores.validation ? numbers(scores.validation) : null,
  };
  return {
    table: p.table,
    plan: p.plan,
    prep: p.prep,
    model: p.model,
    history,
    interrupted: Boolean(signal?.aborted) && history.stopReason !== 'epochs',
    split: p.split,
    scores,
    summary,
  };
}
