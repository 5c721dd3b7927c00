/**
 * The trainer: seed 002 §5.3's QDTTrainer.train_step (energy → stable gradients →
 * update) around any Sequential model, Loss and Optimizer, with `fit` (epochs, seeded
 * shuffling, validation split, early stopping, callbacks, a metrics history) and atomic
 * checkpoints that resume bit-for-bit. docs/theory.md, "Models and trainer".
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
import { readFileSync } from 'node:fs';
import { base64Bytes, writeFileAtomic } from '../atomic-file.js';
import type { EnergySystem } from '../energy.js';
import type { EntropyTracker, EntropyTrackerState } from '../entropy.js';
import { argumentError, CimmArgumentError } from '../errors.js';
import { boolean, finiteNumber, float32Array, integer, oneOf, options } from '../is.js';
import type { Loss } from '../nn/losses.js';
import type { Sequential } from '../nn/sequential.js';
import type { Optimizer, OptimizerOptions } from '../optim/optimizer.js';
import { Random } from '../random.js';
import type { StabilityController } from '../stability.js';

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
  /** Why fit returned: 'epochs', 'earlyStopping', 'maxSteps' or 'stopped'. */
  stopReason: string | null;
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

const FORMAT = 'cimm-checkpoint';
const VERSION = 1;

interface Progress {
  epoch: number;
  /** Step within the epoch. */
  batchIndex: number;
  step: number;
  /** RNG state at the start of the current epoch (its permutation is redrawn from it). */
  epochRng: number[];
  rng: number[];
  epochLossSum: number;
  epochSteps: number;
  best: number | null;
  wait: number;
  energyPrev: number | null;
  /** The last batch's loss after its update (what the next step passes as previousBatchLoss). */
  batchLossAfter?: number | null;
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

  /** Train on `data`; returns the history (also `trainer.history`). */
  fit(data: Dataset, opts?: FitOptions): History {
    const o = options<FitOptions>('options', opts);
    const epochs = integer('epochs', o.epochs ?? 1, { min: 1 });
    const batchSize = integer('batchSize', o.batchSize ?? 32, { min: 1 });
    const validationSplit = finiteNumber('validationSplit', o.validationSplit ?? 0, { min: 0, max: 0.99 });
    const shuffle = boolean('shuffle', o.shuffle ?? true);
    const previousBatchLoss =
      o.previousBatchLoss === undefined ? undefined : boolean('previousBatchLoss', o.previousBatchLoss);
    const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    const maxSteps = o.maxSteps === undefined ? Number.POSITIVE_INFINITY : integer('maxSteps', o.maxSteps, { min: 1 });
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
    const ckpt =
      o.checkpoint === undefined
        ? undefined
        : (() => {
            const c = options<{ path: string; every?: number }>('checkpoint', o.checkpoint);
            if (typeof c.path !== 'string' || c.path === '')
              throw argumentError('checkpoint.path', 'a file path', c.path);
            return { path: c.path, every: integer('checkpoint.every', c.every ?? 0, { min: 0 }) };
          })();

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
      rng: rng.state(),
      epochLossSum: 0,
      epochSteps: 0,
      best: null,
      wait: 0,
      energyPrev: null,
    };
    if (o.resumeFrom !== undefined) {
      p = this.loadCheckpoint(o.resumeFrom);
    } else {
      this.history = { steps: [], epochs: [], stopReason: null };
    }
    this.stopRequested = false;

    const save = () => {
      if (ckpt) this.saveCheckpoint(ckpt.path, { ...p, rng: rng.state() });
    };

    let stopReason: string | null = null;
    outer: while (p.epoch < epochs) {
      // The epoch's permutation, redrawn from the RNG state at its start (so a resume
      // mid-epoch sees the same order).
      rng = Random.fromState(p.epochRng);
      for (let i = 0; i < trainRows; i++) perm[i] = i;
      if (shuffle) rng.shuffle(perm);
      for (; p.batchIndex < stepsPerEpoch; ) {
        if (p.step >= maxSteps) {
          stopReason = 'maxSteps';
          break outer;
        }
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
        const record = this.trainStep(
          xs,
          ys,
          n,
          p.step,
          p.energyPrev,
          measureAfter ? (p.batchLossAfter ?? null) : null,
        );
        record.epoch = p.epoch;
        p.energyPrev = record.energy;
        if (measureAfter) p.batchLossAfter = this.loss.evaluate(this.model.forward(xs, n), ys, n);
        p.step++;
        p.batchIndex++;
        p.epochLossSum += record.loss;
        p.epochSteps++;
        this.history.steps.push(record);
        for (const c of callbacks) c.onStepEnd?.({ trainer: this, record });
        if (ckpt && ckpt.every > 0 && p.step % ckpt.every === 0) save();
        if (this.stopRequested) {
          stopReason = 'stopped';
          break outer;
        }
      }
      const valLoss = valRows > 0 ? this.evaluate(xVal, yVal, valRows, batchSize) : null;
      const rec: EpochRecord = {
        epoch: p.epoch,
        loss: p.epochLossSum / p.epochSteps,
        valLoss,
        learningRate: this.optimizer.learningRate,
      };
      this.history.epochs.push(rec);
      p.epoch++;
      p.batchIndex = 0;
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
          stopReason = 'earlyStopping';
          break;
        }
      }
      if (this.stopRequested) {
        stopReason = 'stopped';
        break;
      }
    }
    this.history.stopReason = stopReason ?? 'epochs';
    save();
    return this.history;
  }

  /** Write a checkpoint atomically (lib/atomic-file.ts). */
  private saveCheckpoint(path: string, progress: Progress): void {
    const params: Record<string, string> = {};
    for (const [name, v] of Object.entries(this.model.params)) params[name] = base64Bytes(v);
    const body = {
      format: FORMAT,
      version: VERSION,
      model: this.model.getConfig(),
      params,
      optimizer: { kind: this.optimizer.kind, state: base64Bytes(this.optimizer.serializeState()) },
      entropy: this.entropy ? this.entropy.state() : null,
      progress,
      history: this.history,
    };
    writeFileAtomic(path, JSON.stringify(body));
  }

  /** Load params, optimizer state, entropy state and history from a checkpoint; returns the progress. */
  private loadCheckpoint(path: string): Progress {
    if (typeof path !== 'string' || path === '') throw argumentError('resumeFrom', 'a checkpoint file path', path);
    const body = JSON.parse(readFileSync(path, 'utf8'));
    if (body?.format !== FORMAT || body.version !== VERSION) {
      throw argumentError('resumeFrom', `a ${FORMAT} version ${VERSION} file`, path);
    }
    const names = Object.keys(this.model.params);
    const saved = body.params as Record<string, string>;
    for (const name of names) {
      const bytes = saved[name] === undefined ? undefined : Buffer.from(saved[name], 'base64');
      const v = this.model.params[name];
      if (!bytes || bytes.length !== v.byteLength) {
        throw argumentError(`resumeFrom params["${name}"]`, `${v.length} float32 values (the model's)`, path);
      }
    }
    if (Object.keys(saved).length !== names.length) {
      throw argumentError('resumeFrom', `a checkpoint of a model with parameters ${names.join(', ')}`, path);
    }
    if (body.optimizer.kind !== this.optimizer.kind) {
      throw argumentError('resumeFrom optimizer.kind', JSON.stringify(this.optimizer.kind), body.optimizer.kind);
    }
    this.optimizer.loadState(new Uint8Array(Buffer.from(body.optimizer.state, 'base64')));
    for (const name of names) {
      const v = this.model.params[name];
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(Buffer.from(saved[name], 'base64'));
    }
    if (this.entropy && body.entropy) this.entropy.loadState(body.entropy as EntropyTrackerState);
    this.history = body.history as History;
    this.history.stopReason = null;
    return body.progress as Progress;
  }
}
