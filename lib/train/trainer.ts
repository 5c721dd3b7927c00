/**
 * The trainer: seed 002 §5.3's QDTTrainer.train_step (energy → stable gradients →
 * update) around any Sequential model, Loss and Optimizer, with `fit` (epochs, seeded
 * shuffling, validation split, early stopping, callbacks, a metrics history) and atomic
 * checkpoints that resume bit-for-bit. `fit` is a program of the one training loop
 * (lib/train/loop.ts): async and abortable, with `fitSync` the same loop for scripts; its
 * checkpoints are the one format (lib/train/checkpoint.ts). docs/theory.md, "Models and
 * trainer" and "One training stack".
 *
 * One step (`trainStep`):
 *   1. forward, loss L and ∂L/∂pred, backward (every gradient overwritten);
 *   2. E = EnergySystem.computeEnergy(θ, θ*) when an energy target is given (seed §5.1),
 *      S = EntropyTracker.observe(step, E or L) when a tracker is given (seed §2.2);
 *   3. StabilityController.stabilizeGradients(∇L, {energy: E, energyRate: E − E_prev})
 *      when a controller is given (seed §4.2), on one flat copy of the gradient;
 *   4. optimizer.step(params, grads, { loss }), then model.afterUpdate() (FractalLayer bounds);
 *   5. one history row: loss, η, E, S, the stability scale, and the optimizer's own
 *      report (`lastReport()`, e.g. the entropy-balanced optimizer's dE/dt, dI/dt, QPL).
 * The seed's "energy-modulated update" is left to the optimizer (its report is recorded):
 * the seed does not define _update_parameters.
 */
import { base64Bytes } from '../atomic-file.js';
import type { EnergySystem } from '../energy.js';
import type { EntropyTracker, EntropyTrackerState } from '../entropy.js';
import { argumentError, CimmArgumentError, CimmDivergenceError } from '../errors.js';
import { allFinite, boolean, finiteNumber, firstNonFinite, float32Array, integer, oneOf, options } from '../is.js';
import type { Loss } from '../nn/losses.js';
import type { Sequential } from '../nn/sequential.js';
import type { Optimizer, OptimizerOptions } from '../optim/optimizer.js';
import { Random } from '../random.js';
import type { StabilityController } from '../stability.js';
import {
  base64Values,
  checkOutputPath,
  field,
  loadNumber,
  readCheckpoint,
  saveCheckpoint,
  saveNumber,
} from './checkpoint.js';
import { type LoopPosition, type LoopProgram, runLoop, runLoopSync, type StopReason, trainingLoop } from './loop.js';

/** A per-step report an optimizer may expose (numbers only are recorded). */
export type StepReport = Record<string, number | null>;

/** One training step in the history. */
export interface StepRecord {
  epoch: number;
  step: number;
  loss: number;
  /** η this step's update used (optimizer.learningRate right after the step). */
  learningRate: number;
  /** E(θ, θ*) before the update (null without an energy target). */
  energy: number | null;
  /** S(t) (null without an entropy tracker). */
  entropy: number | null;
  /** The factor the stability controller scaled the gradient by (1 when stable; null without one). */
  stabilityScale: number | null;
  /** optimizer.lastReport() after the step, when the optimizer has one. */
  report: StepReport | null;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  /** Loss on the validation rows (null without a validation split). */
  valLoss: number | null;
  learningRate: number;
}

export interface History {
  steps: StepRecord[];
  epochs: EpochRecord[];
  /**
   * Why fit returned: 'epochs', 'earlyStopping', 'maxSteps', 'stopped' (a callback's
   * trainer.stop()) or 'aborted' (the fit's AbortSignal); null while it runs.
   */
  stopReason: StopReason | null;
}

/** Rows of features and targets: flat row-major Float32Arrays or arrays of rows. */
export interface Dataset {
  x: Float32Array | ArrayLike<number>[];
  y: Float32Array | ArrayLike<number>[] | ArrayLike<number>;
}

export interface StepEvent {
  trainer: Trainer;
  record: StepRecord;
}

export interface EpochEvent {
  trainer: Trainer;
  record: EpochRecord;
}

/** Callbacks; call `trainer.stop()` from one to end fit after the current step. */
export interface Callbacks {
  onStepEnd?(event: StepEvent): void;
  onEpochEnd?(event: EpochEvent): void;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  /** Fraction of rows (the last ones, before any shuffling, as Keras does) kept for validation. */
  validationSplit?: number;
  shuffle?: boolean;
  seed?: number;
  /** Stop after this many steps in all (across resumes). */
  maxSteps?: number;
  earlyStopping?: { patience?: number; minDelta?: number; monitor?: 'loss' | 'valLoss' };
  callbacks?: Callbacks | Callbacks[];
  /** Write a checkpoint to `path` every `every` steps and at the end of fit. */
  checkpoint?: { path: string; every?: number };
  /** Resume from a checkpoint file written by a fit with the same data and options. */
  resumeFrom?: string;
  /**
   * Abort the fit after the current step: the checkpoint (when configured) is written
   * and kept, and the history's stopReason is 'aborted'. Resume with `resumeFrom`.
   */
  signal?: AbortSignal;
  /**
   * Evaluate each batch again after its update and pass that loss to the next step as
   * `previousBatchLoss` (one extra forward pass per step), so a loss-reading optimizer
   * measures one update on one batch rather than the difference between two batches.
   * Default: when the optimizer reads it (`optimizer.readsPreviousBatchLoss`, the
   * entropy-balanced optimizer with its loss meter) and an epoch has more than one batch.
   */
  previousBatchLoss?: boolean;
}

export interface TrainerOptions {
  model: Sequential;
  loss: Loss;
  optimizer: Optimizer<OptimizerOptions>;
  stability?: StabilityController;
  /** E(θ, θ*) of seed §5.1 on the flattened parameters vs `target` (model.size values). */
  energy?: { system: EnergySystem; target: Float32Array };
  entropy?: EntropyTracker;
}

interface Progress {
  epoch: number;
  /** Step within the epoch. */
  batchIndex: number;
  step: number;
  /** RNG state at the start of the current epoch (its permutation is redrawn from it). */
  epochRng: number[];
  epochLossSum: number;
  epochSteps: number;
  best: number | null;
  wait: number;
  energyPrev: number | null;
  /** The last batch's loss after its update (what the next step passes as previousBatchLoss). */
  batchLossAfter: number | null;
}

/** max |v| over an array (for messages). */
function largestMagnitude(values: Float32Array): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function finiteRows(name: string, data: Float32Array, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = Math.floor(i / cols);
      throw new CimmArgumentError(
        name,
        'finite values',
        `Expected finite values for ${name} but received ${data[i]} at row ${row}, column ${i - row * cols}`,
      );
    }
  }
}

/** Rows → a flat Float32Array of rows×cols, with the row of any wrong-length row named. */
function flatten(name: string, value: unknown, cols: number, allowVector: boolean): Float32Array {
  if (value instanceof Float32Array) {
    if (value.length % cols !== 0) {
      throw argumentError(name, `a Float32Array of rows×${cols} values`, value);
    }
    return value;
  }
  if (!Array.isArray(value)) throw argumentError(name, `a Float32Array or an array of rows of ${cols} numbers`, value);
  const out = new Float32Array(value.length * cols);
  for (let r = 0; r < value.length; r++) {
    const row = value[r] as unknown;
    if (allowVector && cols === 1 && typeof row === 'number') {
      out[r] = row;
      continue;
    }
    if (row === null || typeof row !== 'object' || typeof (row as ArrayLike<number>).length !== 'number') {
      throw argumentError(`${name}[${r}]`, `a row of ${cols} numbers`, row);
    }
    const rr = row as ArrayLike<number>;
    if (rr.length !== cols) throw argumentError(`${name}[${r}]`, `a row of ${cols} numbers (row ${r})`, row);
    for (let c = 0; c < cols; c++) {
      if (typeof rr[c] !== 'number') {
        throw new CimmArgumentError(
          name,
          'numbers',
          `Expected a number for ${name} but received ${String(rr[c])} at row ${r}, column ${c} of type ${typeof rr[c]}`,
        );
      }
      out[r * cols + c] = rr[c];
    }
  }
  return out;
}

export class Trainer {
  readonly model: Sequential;
  readonly loss: Loss;
  readonly optimizer: Optimizer<OptimizerOptions>;
  readonly stability: StabilityController | undefined;
  readonly energy: { system: EnergySystem; target: Float32Array } | undefined;
  readonly entropy: EntropyTracker | undefined;
  history: History = { steps: [], epochs: [], stopReason: null };
  private stopRequested = false;
  /** True while a fit runs (a second concurrent fit would corrupt the model's state). */
  private running = false;
  private gradOut = new Map<number, Float32Array>();
  private flatScratch: Float32Array | undefined;
  /** The model's parameters in order (views), listed once. */
  private readonly paramList: { value: Float32Array; grad: Float32Array }[];

  constructor(opts: TrainerOptions) {
    const o = options<TrainerOptions>('options', opts);
    if (!o.model || typeof o.model.forward !== 'function') throw argumentError('model', 'a Sequential model', o.model);
    if (!o.loss || typeof o.loss.evaluate !== 'function') throw argumentError('loss', 'a Loss', o.loss);
    if (!o.optimizer || typeof o.optimizer.step !== 'function') {
      throw argumentError('optimizer', 'an Optimizer', o.optimizer);
    }
    this.model = o.model;
    this.paramList = o.model.parameters();
    this.loss = o.loss;
    this.optimizer = o.optimizer;
    this.stability = o.stability;
    this.entropy = o.entropy;
    if (o.energy !== undefined) {
      const e = options<{ system: EnergySystem; target: Float32Array }>('energy', o.energy);
      if (!e.system || typeof e.system.computeEnergy !== 'function') {
        throw argumentError('energy.system', 'an EnergySystem', e.system);
      }
      float32Array('energy.target', e.target, { length: this.model.size, finite: true });
      this.energy = { system: e.system, target: e.target as Float32Array };
    }
  }

  /** End fit after the current step (from a callback). */
  stop(): void {
    this.stopRequested = true;
  }

  /** The parameters flattened in `parameters()` order into `out`. */
  private flatten(out: Float32Array, grads: boolean): Float32Array {
    let o = 0;
    for (const p of this.paramList) {
      out.set(grads ? p.grad : p.value, o);
      o += p.value.length;
    }
    return out;
  }

  private scratch(): Float32Array {
    if (!this.flatScratch) this.flatScratch = new Float32Array(this.model.size);
    return this.flatScratch;
  }

  /**
   * One step of seed §5.3 on a batch (x batch×inputSize, y batch×targetSize). Returns the
   * step's record (not added to the history; fit does that).
   */
  trainStep(
    x: Float32Array,
    y: Float32Array,
    batch: number,
    step = 0,
    energyPrev: number | null = null,
    previousBatchLoss: number | null = null,
  ): StepRecord {
    const model = this.model;
    const pred = model.forward(x, batch);
    let g = this.gradOut.get(batch);
    if (!g) {
      g = new Float32Array(pred.length);
      this.gradOut.set(batch, g);
    }
    const loss = this.loss.evaluate(pred, y, batch, g);
    model.backward(g);

    let energy: number | null = null;
    if (this.energy)
      energy = this.energy.system.computeEnergy(this.flatten(this.scratch(), false), this.energy.target).total;
    let entropy: number | null = null;
    if (this.entropy) entropy = this.entropy.observe(step, energy ?? loss);

    let stabilityScale: number | null = null;
    if (this.stability) {
      const flat = this.flatten(this.scratch(), true);
      const report = this.stability.stabilizeGradients(
        flat,
        energy === null ? undefined : { energy, energyRate: energyPrev === null ? 0 : energy - energyPrev },
      );
      stabilityScale = report.scale;
      let o = 0;
      for (const p of this.paramList) {
        p.grad.set(flat.subarray(o, o + p.grad.length));
        o += p.grad.length;
      }
    }

    this.checkGradients(x, y, step, loss);
    this.optimizer.step(model.params, model.grads, previousBatchLoss === null ? { loss } : { loss, previousBatchLoss });
    // read after the step: a rule-driven optimizer sets η inside it (the rate this update used)
    const learningRate = this.optimizer.learningRate;
    model.afterUpdate();
    // the optimizer's per-step report: a `lastReport` property (EntropyBalanced, QDT) or method
    const last = (this.optimizer as { lastReport?: unknown }).lastReport;
    let report: StepReport | null = null;
    {
      const r = typeof last === 'function' ? last.call(this.optimizer) : last;
      if (r && typeof r === 'object') {
        report = {};
        for (const [k, v] of Object.entries(r)) if (typeof v === 'number' || v === null) report[k] = v as number | null;
      }
    }
    return { epoch: 0, step, loss, learningRate, energy, entropy, stabilityScale, report };
  }

  /**
   * A non-finite gradient from finite parameters and finite data: the forward or backward
   * pass overflowed f32 (data near ±3.4e38, or parameters grown that large). Found here,
   * before the optimizer, and reported as the divergence of this step with the batch's
   * largest |x| and |y|, not as the optimizer's complaint about its `grads` argument. (With
   * a stability controller the gradients were made finite above.)
   */
  private checkGradients(x: Float32Array, y: Float32Array, step: number, loss: number): void {
    for (const [name, grad] of Object.entries(this.model.grads)) {
      const i = firstNonFinite(grad);
      if (i < 0) continue;
      throw new CimmDivergenceError(
        `cimm: the gradient grads["${name}"] went non-finite (${grad[i]} at index ${i}) at step ${step + 1} with loss ${loss}: the forward or backward pass overflowed f32 on this batch (largest |x| ${largestMagnitude(x)}, largest |y| ${largestMagnitude(y)}); scale the data or lower the learning rate`,
        { step: step + 1, parameter: name, index: i, value: grad[i] },
      );
    }
  }

  /** Mean loss over rows [0, rows) of x, y, in batches (no update). */
  evaluate(x: Float32Array, y: Float32Array, rows: number, batchSize: number): number {
    const inSize = this.model.inputSize;
    const tSize = this.loss.targetSize(this.model.outputSize);
    let total = 0;
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const xb = x.subarray(start * inSize, (start + n) * inSize);
      const yb = y.subarray(start * tSize, (start + n) * tSize);
      total += this.loss.evaluate(this.model.forward(xb, n), yb, n) * n;
    }
    return total / rows;
  }

  /**
   * Train on `data` without blocking the event loop: the loop (lib/train/loop.ts) gives
   * it a turn after every batch. Resolves to the history (also `trainer.history`); with
   * `signal`, an abort stops after the current step, writes the checkpoint (when one is
   * configured) and resolves with `stopReason: 'aborted'`.
   */
  async fit(data: Dataset, opts?: FitOptions): Promise<History> {
    const loop = this.begin(data, opts);
    try {
      return this.finish(await runLoop(loop));
    } finally {
      this.running = false;
    }
  }

  /** `fit` for scripts: the same loop run back to back on this thread; returns the history. */
  fitSync(data: Dataset, opts?: FitOptions): History {
    const loop = this.begin(data, opts);
    try {
      return this.finish(runLoopSync(loop));
    } finally {
      this.running = false;
    }
  }

  private finish(reason: StopReason): History {
    this.history.stopReason = reason;
    return this.history;
  }

  /** Validate the arguments, load a checkpoint, and build the loop (lib/train/loop.ts). */
  private begin(data: Dataset, opts?: FitOptions): Generator<void, StopReason, void> {
    if (this.running) throw new Error('cimm: this Trainer is already fitting; await the running fit first');
    const o = options<FitOptions>('options', opts);
    const epochs = integer('epochs', o.epochs ?? 1, { min: 1 });
    const batchSize = integer('batchSize', o.batchSize ?? 32, { min: 1 });
    const validationSplit = finiteNumber('validationSplit', o.validationSplit ?? 0, { min: 0, max: 0.99 });
    const shuffle = boolean('shuffle', o.shuffle ?? true);
    const previousBatchLoss =
      o.previousBatchLoss === undefined ? undefined : boolean('previousBatchLoss', o.previousBatchLoss);
    const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    const maxSteps = o.maxSteps === undefined ? Number.POSITIVE_INFINITY : integer('maxSteps', o.maxSteps, { min: 1 });
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw argumentError('signal', 'an AbortSignal', signal);
    const es =
      o.earlyStopping === undefined
        ? undefined
        : (() => {
            const e = options<NonNullable<FitOptions['earlyStopping']>>('earlyStopping', o.earlyStopping);
            return {
              patience: integer('earlyStopping.patience', e.patience ?? 5, { min: 0 }),
              minDelta: finiteNumber('earlyStopping.minDelta', e.minDelta ?? 0, { min: 0 }),
              monitor: oneOf('earlyStopping.monitor', e.monitor ?? (validationSplit > 0 ? 'valLoss' : 'loss'), [
                'loss',
                'valLoss',
              ] as const),
            };
          })();
    const callbacks = o.callbacks === undefined ? [] : Array.isArray(o.callbacks) ? o.callbacks : [o.callbacks];
    for (const [i, c] of callbacks.entries()) {
      if (c === null || typeof c !== 'object') throw argumentError(`callbacks[${i}]`, 'a callbacks object', c);
    }
    // the output path is checked before any work (its directory must exist; nothing is created)
    const ckpt =
      o.checkpoint === undefined
        ? undefined
        : (() => {
            const c = options<{ path: string; every?: number }>('checkpoint', o.checkpoint);
            return {
              path: checkOutputPath('checkpoint.path', c.path),
              every: integer('checkpoint.every', c.every ?? 0, { min: 0 }),
            };
          })();
    if (o.resumeFrom !== undefined && (typeof o.resumeFrom !== 'string' || o.resumeFrom === ''))
      throw argumentError('resumeFrom', 'a checkpoint file path', o.resumeFrom);

    // Data: shapes, lengths and values checked with the row and column of the first bad entry.
    const inSize = this.model.inputSize;
    const outSize = this.model.outputSize;
    const tSize = this.loss.targetSize(outSize);
    const d = options<Dataset>('data', data);
    const x = flatten('data.x', d.x, inSize, false);
    const y = flatten('data.y', d.y, tSize, true);
    const rows = x.length / inSize;
    if (y.length / tSize !== rows) {
      throw argumentError('data.y', `${rows} rows (as many as data.x)`, d.y);
    }
    if (rows === 0) throw argumentError('data.x', 'at least one row', d.x);
    finiteRows('data.x', x, inSize);
    finiteRows('data.y', y, tSize);
    for (let r = 0; r < rows; r++) this.loss.checkTarget('data.y', y, r, outSize);
    if (es?.monitor === 'valLoss' && validationSplit === 0) {
      throw argumentError('earlyStopping.monitor', '"loss" when validationSplit is 0', es.monitor);
    }

    const valRows = Math.floor(rows * validationSplit);
    const trainRows = rows - valRows;
    if (trainRows < 1)
      throw argumentError('validationSplit', 'a fraction that leaves at least one training row', validationSplit);
    const xVal = x.subarray(trainRows * inSize);
    const yVal = y.subarray(trainRows * tSize);
    const stepsPerEpoch = Math.ceil(trainRows / batchSize);
    const measureAfter = previousBatchLoss ?? (this.optimizer.readsPreviousBatchLoss && stepsPerEpoch > 1);
    const plan: FitPlan = { epochs, batchSize, stepsPerEpoch, trainRows, seed, shuffle };

    // Batch buffers (at most two sizes: full and last), the permutation.
    const xb = new Float32Array(batchSize * inSize);
    const yb = new Float32Array(batchSize * tSize);
    const perm = new Uint32Array(trainRows);

    let rng = new Random(seed);
    let p: Progress = {
      epoch: 0,
      batchIndex: 0,
      step: 0,
      epochRng: rng.state(),
      epochLossSum: 0,
      epochSteps: 0,
      best: null,
      wait: 0,
      energyPrev: null,
      batchLossAfter: null,
    };
    if (o.resumeFrom !== undefined) {
      p = this.loadCheckpoint(o.resumeFrom, plan);
    } else {
      this.history = { steps: [], epochs: [], stopReason: null };
    }
    this.stopRequested = false;
    this.running = true;

    const program: LoopProgram = {
      stepsPerEpoch,
      epochs,
      maxSteps,
      checkpointEvery: ckpt?.every ?? 0,
      // The epoch's permutation, redrawn from the RNG state at its start (so a resume
      // mid-epoch sees the same order).
      beginEpoch: () => {
        rng = Random.fromState(p.epochRng);
        for (let i = 0; i < trainRows; i++) perm[i] = i;
        if (shuffle) rng.shuffle(perm);
      },
      step: () => {
        const start = p.batchIndex * batchSize;
        const n = Math.min(batchSize, trainRows - start);
        for (let r = 0; r < n; r++) {
          const src = perm[start + r];
          const xo = src * inSize;
          const xd = r * inSize;
          for (let c = 0; c < inSize; c++) xb[xd + c] = x[xo + c];
          const yo = src * tSize;
          const yd = r * tSize;
          for (let c = 0; c < tSize; c++) yb[yd + c] = y[yo + c];
        }
        const xs = n === batchSize ? xb : xb.subarray(0, n * inSize);
        const ys = n === batchSize ? yb : yb.subarray(0, n * tSize);
        const record = this.trainStep(xs, ys, n, p.step, p.energyPrev, measureAfter ? p.batchLossAfter : null);
        record.epoch = p.epoch;
        p.energyPrev = record.energy;
        if (measureAfter) p.batchLossAfter = this.loss.evaluate(this.model.forward(xs, n), ys, n);
        p.epochLossSum += record.loss;
        p.epochSteps++;
        this.history.steps.push(record);
        for (const c of callbacks) c.onStepEnd?.({ trainer: this, record });
      },
      endEpoch: () => {
        const valLoss = valRows > 0 ? this.evaluate(xVal, yVal, valRows, batchSize) : null;
        const rec: EpochRecord = {
          epoch: p.epoch,
          loss: p.epochLossSum / p.epochSteps,
          valLoss,
          learningRate: this.optimizer.learningRate,
        };
        this.history.epochs.push(rec);
        p.epochLossSum = 0;
        p.epochSteps = 0;
        p.epochRng = rng.state();
        for (const c of callbacks) c.onEpochEnd?.({ trainer: this, record: rec });
        if (es) {
          const v = es.monitor === 'valLoss' ? (valLoss as number) : rec.loss;
          if (p.best === null || v < p.best - es.minDelta) {
            p.best = v;
            p.wait = 0;
          } else if (++p.wait > es.patience) {
            return 'earlyStopping';
          }
        }
        return null;
      },
      stopRequested: () => (this.stopRequested ? 'stopped' : null),
      ...(ckpt
        ? {
            save: (_: Readonly<LoopPosition>, reason: StopReason | null) => {
              // the final checkpoint carries the stop reason; a periodic one has none yet
              this.history.stopReason = reason;
              this.saveCheckpoint(ckpt.path, p, plan);
              this.history.stopReason = null;
            },
          }
        : {}),
    };
    return trainingLoop(program, p, signal);
  }

  /** Write a checkpoint atomically in the one checkpoint format (lib/train/checkpoint.ts). */
  private saveCheckpoint(path: string, progress: Progress, plan: FitPlan): void {
    const params: Record<string, string> = {};
    for (const [name, v] of Object.entries(this.model.params)) params[name] = base64Bytes(v);
    const body: FitCheckpointBody = {
      model: this.model.getConfig(),
      params,
      optimizer: { kind: this.optimizer.kind, state: base64Bytes(this.optimizer.serializeState()) },
      entropy: this.entropy ? this.entropy.state() : null,
      plan,
      progress: {
        ...progress,
        epochLossSum: saveNumber(progress.epochLossSum),
        best: progress.best === null ? null : saveNumber(progress.best),
        energyPrev: progress.energyPrev === null ? null : saveNumber(progress.energyPrev),
        batchLossAfter: progress.batchLossAfter === null ? null : saveNumber(progress.batchLossAfter),
      },
      history: saveHistory(this.history),
    };
    saveCheckpoint(path, 'fit', body);
  }

  /**
   * Load params, optimizer state, entropy state and history from a checkpoint; returns the
   * progress. Every field is checked (lib/train/checkpoint.ts) before anything changes.
   */
  private loadCheckpoint(path: string, plan: FitPlan): Progress {
    const b = readCheckpoint(path, 'fit') as Record<string, unknown>;
    const f = <T>(name: string, check: (name: string) => T) => field(path, name, check);
    const obj = (name: string, v: unknown) =>
      f(name, (n) => {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw argumentError(n, 'an object', v);
        return v as Record<string, unknown>;
      });
    const names = Object.keys(this.model.params);
    const saved = obj('params', b.params);
    f('params', (n) => {
      const keys = Object.keys(saved);
      if (keys.length !== names.length || keys.some((k, i) => k !== names[i]))
        throw argumentError(n, `the parameters ${names.join(', ')}`, keys);
    });
    const bytes = names.map((name) =>
      f(`params["${name}"]`, (n) =>
        base64Values(n, saved[name], this.model.params[name].length, 4, "float32 values (the model's)"),
      ),
    );
    for (const [i, name] of names.entries()) {
      const v = new Float32Array(new Uint8Array(bytes[i]).buffer);
      f(`params["${name}"]`, (n) => allFinite(n, v));
    }
    // the model: the same architecture (the initialization seed does not matter: θ is loaded)
    const mine = JSON.stringify(architecture(this.model.getConfig()));
    f('model', (n) => {
      let theirs = '';
      try {
        theirs = JSON.stringify(architecture(b.model as { layers: object[] }));
      } catch {}
      if (theirs !== mine) throw argumentError(n, `this trainer's model ${mine}`, b.model);
    });
    // the optimizer: the same kind
    const o = obj('optimizer', b.optimizer);
    f('optimizer.kind', (n) => {
      if (o.kind !== this.optimizer.kind) throw argumentError(n, JSON.stringify(this.optimizer.kind), o.kind);
    });
    // the plan: the same data size, batching and epochs as the fit that wrote it
    const pl = obj('plan', b.plan);
    // (a resume may ask for more or fewer epochs: the position is checked against them below)
    for (const k of Object.keys(plan) as (keyof FitPlan)[]) {
      if (k === 'epochs') continue;
      f(`plan.${k}`, (n) => {
        if (pl[k] !== plan[k]) throw argumentError(n, `${plan[k]} (this fit's ${k})`, pl[k]);
      });
    }
    // the progress: counters within the plan's bounds and consistent with each other
    const pr = obj('progress', b.progress);
    const epoch = f('progress.epoch', (n) => integer(n, pr.epoch, { min: 0, max: plan.epochs }));
    const batchIndex = f('progress.batchIndex', (n) =>
      integer(n, pr.batchIndex, { min: 0, max: epoch === plan.epochs ? 0 : plan.stepsPerEpoch }),
    );
    // every epoch before this one ran all its steps: the step count follows from the position
    const steps = epoch * plan.stepsPerEpoch + batchIndex;
    const step = f('progress.step', (n) => integer(n, pr.step, { min: steps, max: steps }));
    const epochRng = f('progress.epochRng', (n) => {
      const r = pr.epochRng;
      if (!Array.isArray(r) || r.length !== 4 || !r.every((v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32))
        throw argumentError(n, 'a generator state (4 32-bit integers)', r);
      return r as number[];
    });
    const num = (name: string, v: unknown, nullable: boolean) =>
      f(name, (n) => (nullable && v === null ? null : loadNumber(n, v)));
    const p: Progress = {
      epoch,
      batchIndex,
      step,
      epochRng,
      epochLossSum: num('progress.epochLossSum', pr.epochLossSum, false) as number,
      epochSteps: f('progress.epochSteps', (n) => integer(n, pr.epochSteps, { min: batchIndex, max: batchIndex })),
      best: num('progress.best', pr.best, true),
      wait: f('progress.wait', (n) => integer(n, pr.wait, { min: 0, max: epoch })),
      energyPrev: num('progress.energyPrev', pr.energyPrev, true),
      batchLossAfter: num('progress.batchLossAfter', pr.batchLossAfter, true),
    };
    const history = f('history', (n) => loadHistory(n, b.history, step, epoch));
    // the optimizer's bytes (its own loadState validates them) and the tracker
    const state = f('optimizer.state', (n) => {
      if (typeof o.state !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.state))
        throw argumentError(n, 'base64 of a serialized optimizer state', o.state);
      return new Uint8Array(Buffer.from(o.state, 'base64'));
    });
    if (this.entropy && (b.entropy === null || b.entropy === undefined))
      f('entropy', (n) => {
        throw argumentError(n, 'an entropy tracker state (this trainer has a tracker)', b.entropy);
      });
    // everything read: now change state (the optimizer first; it validates its own bytes)
    f('optimizer.state', (n) => {
      try {
        this.optimizer.loadState(state, { params: this.model.params });
      } catch (e) {
        throw argumentError(n, `a saved ${this.optimizer.kind} state (${(e as Error).message})`, '…');
      }
    });
    if (this.entropy) {
      const tracker = this.entropy;
      f('entropy', (n) => {
        try {
          tracker.loadState(b.entropy as EntropyTrackerState);
        } catch (e) {
          throw argumentError(n, `an entropy tracker state (${(e as Error).message})`, b.entropy);
        }
      });
    }
    for (const [i, name] of names.entries()) {
      const v = this.model.params[name];
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(bytes[i]);
    }
    this.history = history;
    return p;
  }
}

/** A model config without its initialization (what a resume must match). */
function architecture(config: { layers: object[] }): object[] {
  return config.layers.map((l) => Object.fromEntries(Object.entries(l).filter(([k]) => k !== 'seed' && k !== 'init')));
}

/** What a checkpoint of a fit must agree with to resume it: the data size and the loop's plan. */
interface FitPlan {
  epochs: number;
  batchSize: number;
  stepsPerEpoch: number;
  trainRows: number;
  seed: number;
  shuffle: boolean;
}

/** The body of a fit checkpoint (the envelope is lib/train/checkpoint.ts's). */
interface FitCheckpointBody {
  model: object;
  params: Record<string, string>;
  optimizer: { kind: string; state: string };
  entropy: EntropyTrackerState | null;
  plan: FitPlan;
  progress: Record<string, unknown>;
  history: unknown;
}

const STEP_NUMBERS = ['loss', 'learningRate', 'energy', 'entropy', 'stabilityScale'] as const;
const EPOCH_NUMBERS = ['loss', 'valLoss', 'learningRate'] as const;

/** The history with every number JSON can carry exactly (NaN, ±Infinity, −0 as strings). */
function saveHistory(h: History): unknown {
  const n = (v: number | null) => (v === null ? null : saveNumber(v));
  return {
    steps: h.steps.map((s) => ({
      epoch: s.epoch,
      step: s.step,
      loss: n(s.loss),
      learningRate: n(s.learningRate),
      energy: n(s.energy),
      entropy: n(s.entropy),
      stabilityScale: n(s.stabilityScale),
      report: s.report === null ? null : Object.fromEntries(Object.entries(s.report).map(([k, v]) => [k, n(v)])),
    })),
    epochs: h.epochs.map((e) => ({
      epoch: e.epoch,
      loss: n(e.loss),
      valLoss: n(e.valLoss),
      learningRate: n(e.learningRate),
    })),
    stopReason: h.stopReason,
  };
}

/** A saved history, validated: `steps` records for steps 0…step−1, `epochs` records for 0…epoch−1. */
function loadHistory(name: string, v: unknown, steps: number, epochs: number): History {
  const h = options<{ steps: unknown; epochs: unknown }>(name, v);
  if (!Array.isArray(h.steps) || h.steps.length !== steps)
    throw argumentError(`${name}.steps`, `an array of ${steps} step records`, h.steps);
  if (!Array.isArray(h.epochs) || h.epochs.length !== epochs)
    throw argumentError(`${name}.epochs`, `an array of ${epochs} epoch records`, h.epochs);
  const num = (at: string, x: unknown) => (x === null ? null : loadNumber(at, x));
  const out: History = { steps: [], epochs: [], stopReason: null };
  for (const [i, raw] of h.steps.entries()) {
    const at = `${name}.steps[${i}]`;
    const s = options<Record<string, unknown>>(at, raw);
    const rec = {
      epoch: integer(`${at}.epoch`, s.epoch, { min: 0, max: epochs }),
      step: integer(`${at}.step`, s.step, { min: i, max: i }),
    } as StepRecord;
    for (const k of STEP_NUMBERS) (rec as unknown as Record<string, number | null>)[k] = num(`${at}.${k}`, s[k]);
    if (rec.loss === null) throw argumentError(`${at}.loss`, 'a number', null);
    if (rec.learningRate === null) throw argumentError(`${at}.learningRate`, 'a number', null);
    if (s.report === null) rec.report = null;
    else {
      const r = options<Record<string, unknown>>(`${at}.report`, s.report);
      rec.report = Object.fromEntries(Object.entries(r).map(([k, x]) => [k, num(`${at}.report.${k}`, x)]));
    }
    out.steps.push(rec);
  }
  for (const [i, raw] of h.epochs.entries()) {
    const at = `${name}.epochs[${i}]`;
    const e = options<Record<string, unknown>>(at, raw);
    const rec = { epoch: integer(`${at}.epoch`, e.epoch, { min: i, max: i }) } as EpochRecord;
    for (const k of EPOCH_NUMBERS) (rec as unknown as Record<string, number | null>)[k] = num(`${at}.${k}`, e[k]);
    if (rec.loss === null) throw argumentError(`${at}.loss`, 'a number', null);
    out.epochs.push(rec);
  }
  return out;
}
