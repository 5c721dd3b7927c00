/**
 * A data task whose model is built from the library's own layers (`lib/nn`: Sequential of
 * Dense layers, SoftmaxCrossEntropy or MeanSquaredError) behind the `ObjectiveTask`
 * interface: the optimizer owns one flat Float32Array θ, the model owns its layers'
 * arrays. Each evaluate() copies θ into the layers (`TypedArray.set`, a memcpy per
 * tensor), runs their forward and backward on the active backend (native matmul on rust
 * or cpp), and copies the layers' gradients back into the caller's `grad`.
 *
 * Why copies and not views: Dense allocates its own weight and bias arrays, and the
 * optimizer must be able to hold θ as one vector like every other task. The copy moves
 * 2·4·dimension bytes a step; measured on the MNIST MLP (101,770 parameters, batch 64,
 * rust): 0.010 ms for the θ copy against 0.57 ms for the whole mini-batch evaluate — 2%
 * (docs/theory.md, "Models from the library's layers").
 *
 * θ layout: the Sequential's parameters in order (`0.weight` (out × in, row-major),
 * `0.bias`, `1.weight`, …). Loss: the mean loss over the rows plus (l2/2)·Σ W² over the
 * weight matrices (not the biases). The network computes in f32; loss sums are f64.
 * Sets larger than CHUNK rows (the full training set) are evaluated in near-equal chunks
 * of at most CHUNK rows, combined with weights n_chunk/n (gradients too), so the buffers
 * stay bounded.
 */
import { finiteNumber, integer, oneOf } from '../is.js';
import type { ActivationName } from '../kernels.js';
import type { LayerParameter } from '../nn/fractal-layer.js';
import { Dense, type Layer } from '../nn/layers.js';
import { type Loss, MeanSquaredError, SoftmaxCrossEntropy } from '../nn/losses.js';
import { mlp, Sequential } from '../nn/sequential.js';
import { Square } from '../nn/square.js';
import type { Random } from '../random.js';
import {
  Batches,
  checkEvaluate,
  describeBatched,
  nonFiniteLoss,
  type ObjectiveTask,
  seedOption,
  type TaskTarget,
  type Vector,
  vector,
} from './task.js';

/** The options every data task on an MLP takes, validated (their defaults come from the task). */
export interface ModelTaskCommon {
  /** Hidden units (0: a linear model). */
  hidden: number;
  /** Fraction of the rows held out for testing. */
  testFraction: number;
  /** L2 coefficient on the weights. */
  l2: number;
  /** Seed of the split and the initialization. */
  seed: number;
}

/** Validate the common options of a data task (names as the user wrote them). */
export function modelTaskOptions(o: Partial<ModelTaskCommon>, d: ModelTaskCommon): ModelTaskCommon {
  return {
    hidden: integer('hidden', o.hidden ?? d.hidden, { min: 0, max: 4096 }),
    testFraction: finiteNumber('testFraction', o.testFraction ?? d.testFraction, { above: 0, max: 0.9 }),
    l2: finiteNumber('l2', o.l2 ?? d.l2, { min: 0 }),
    seed: seedOption(o.seed ?? d.seed),
  };
}

/** Rows evaluated in one forward/backward pass when a set is larger (bounded buffers). */
export const CHUNK = 1024;

/** A data set as the model task takes it (already split and standardized). */
export interface ModelData {
  /** Features, rows × inputs, row-major f32. */
  x: Float32Array;
  inputs: number;
  /**
   * Targets as the loss takes them: one class index per row (classification) or
   * rows × outputs values (regression).
   */
  y: Float32Array;
  trainRows: Uint32Array;
  testRows: Uint32Array;
}

export type ModelKind = 'classification' | 'regression';

/**
 * The hidden σ of a task's MLP: the backends' activations, or 'square' (σ(z) = z², the
 * modular addition task's; a Square layer after a linear Dense, lib/nn/square.ts).
 */
export type TaskActivation = ActivationName | 'square';
export const TASK_ACTIVATIONS: readonly TaskActivation[] = ['identity', 'tanh', 'sigmoid', 'relu', 'square'];

/**
 * The task's network: Dense layers of `sizes`, σ between them, a linear output; the
 * library's `mlp` for the backends' activations (the same initialization), Dense +
 * Square for 'square' (Glorot-initialized like every non-relu Dense of `mlp`).
 */
export function taskModel(sizes: number[], activation: TaskActivation, seed = 0): Sequential {
  if (activation !== 'square') return mlp(sizes, { activation, seed });
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Dense({ inputSize: sizes[i], outputSize: sizes[i + 1], init: 'glorot', seed: seed + i }));
    if (i + 2 < sizes.length) layers.push(new Square({ size: sizes[i + 1] }));
  }
  return new Sequential(layers);
}

export interface ModelTaskSpec {
  name: string;
  kind: ModelKind;
  /** Layer sizes [inputs, hidden…, outputs]: Dense layers, `activation` between them. */
  sizes: number[];
  activation: TaskActivation;
  l2: number;
  batchSize: number | undefined;
  target: TaskTarget;
  /** What describe() reports besides the layout and data sizes. */
  config: Record<string, unknown>;
  /** Regression: the training target's standard deviation (RMSE in the data's units). */
  targetScale?: number;
  /** What the held-out rows are called in metrics() (default 'test': testAccuracy, testLoss). */
  heldOutName?: string;
  /**
   * Also report the training objective (`loss`, with the penalty) and, for a classifier,
   * `trainAccuracy` in metrics() (default false: one more pass over the training rows).
   */
  trainMetrics?: boolean;
}

/**
 * Part i of `parts` near-equal chunks of n rows from `start`: equal sizes (±1) keep the
 * number of distinct batch sizes, hence of the layers' kept buffers, small.
 */
function chunk(start: number, n: number, parts: number, i: number): [number, number] {
  return [start + Math.floor((i * n) / parts), start + Math.floor(((i + 1) * n) / parts)];
}

/** A view set for one row count: gathered inputs, targets and ∂L/∂output. */
interface Views {
  input: Float32Array;
  target: Float32Array;
  grad: Float32Array;
}

export class ModelTask implements ObjectiveTask {
  readonly kind = 'objective' as const;
  readonly name: string;
  readonly dimension: number;
  readonly batchCount: number;
  readonly target: TaskTarget;
  readonly trainRows: Uint32Array;
  readonly testRows: Uint32Array;
  /** The θ offset of each layer parameter, in the Sequential's order. */
  readonly layout: { name: string; offset: number; length: number }[];
  protected readonly data: ModelData;
  private readonly spec: ModelTaskSpec;
  private readonly model: Sequential;
  private readonly named: LayerParameter[];
  private readonly loss: Loss;
  private readonly outputs: number;
  private readonly targetSize: number;
  private readonly batches: Batches;
  private readonly inputBuffer: Float32Array;
  private readonly targetBuffer: Float32Array;
  private readonly gradBuffer: Float32Array;
  private readonly views = new Map<number, Views>();
  /** f64 gradient accumulator for sets evaluated in several chunks. */
  private readonly acc: Float64Array;

  constructor(data: ModelData, spec: ModelTaskSpec) {
    oneOf('kind', spec.kind, ['classification', 'regression'] as const);
    this.name = spec.name;
    this.spec = spec;
    this.data = data;
    this.trainRows = data.trainRows;
    this.testRows = data.testRows;
    this.target = spec.target;
    oneOf('activation', spec.activation, TASK_ACTIVATIONS);
    this.model = taskModel(spec.sizes, spec.activation);
    this.named = this.model.parameters();
    this.loss = spec.kind === 'classification' ? new SoftmaxCrossEntropy() : new MeanSquaredError();
    this.outputs = spec.sizes[spec.sizes.length - 1];
    this.targetSize = this.loss.targetSize(this.outputs);
    let offset = 0;
    this.layout = this.named.map((p) => {
      const entry = { name: p.name, offset, length: p.value.length };
      offset += p.value.length;
      return entry;
    });
    this.dimension = offset;
    this.acc = new Float64Array(offset);
    this.batches = new Batches(data.trainRows, spec.batchSize);
    this.batchCount = this.batches.count;
    const rows = Math.min(CHUNK, Math.max(this.batches.size, data.trainRows.length, data.testRows.length));
    this.inputBuffer = new Float32Array(rows * data.inputs);
    this.targetBuffer = new Float32Array(rows * this.targetSize);
    this.gradBuffer = new Float32Array(rows * this.outputs);
  }

  /**
   * The layers' own initialization for `seed` (He-normal weights before a relu, Glorot
   * otherwise; zero biases), flattened in the θ layout.
   */
  initialParameters(seed: number): Float32Array {
    const fresh = taskModel(this.spec.sizes, this.spec.activation, seed).parameters();
    const params = new Float32Array(this.dimension);
    for (let i = 0; i < fresh.length; i++) params.set(fresh[i].value, this.layout[i].offset);
    return params;
  }

  /** θ → the layers' arrays (TypedArray.set: a memcpy for f32 θ, a conversion for f64). */
  private load(params: Vector): void {
    for (let i = 0; i < this.named.length; i++) {
      const { offset, length } = this.layout[i];
      this.named[i].value.set(params.subarray(offset, offset + length));
    }
  }

  /** Gather rows[start..end) into the buffers; views of exactly that many rows. */
  private gather(rows: Uint32Array, start: number, end: number): Views {
    const n = end - start;
    const { x, y, inputs } = this.data;
    const t = this.targetSize;
    for (let e = 0; e < n; e++) {
      const r = rows[start + e];
      this.inputBuffer.set(x.subarray(r * inputs, (r + 1) * inputs), e * inputs);
      for (let j = 0; j < t; j++) this.targetBuffer[e * t + j] = y[r * t + j];
    }
    let v = this.views.get(n);
    if (!v) {
      v = {
        input: this.inputBuffer.subarray(0, n * inputs),
        target: this.targetBuffer.subarray(0, n * t),
        grad: this.gradBuffer.subarray(0, n * this.outputs),
      };
      this.views.set(n, v);
    }
    return v;
  }

  /**
   * Mean loss over rows[start..end) at the loaded θ, chunk by chunk; with `grad`, the
   * gradient of that mean written into it (no penalty yet).
   */
  private meanLoss(rows: Uint32Array, start: number, end: number, grad?: Vector): number {
    const n = end - start;
    const parts = Math.ceil(n / CHUNK);
    const chunked = parts > 1;
    if (grad && chunked) this.acc.fill(0);
    let loss = 0;
    for (let i = 0; i < parts; i++) {
      const [from, to] = chunk(start, n, parts, i);
      const m = to - from;
      const w = m / n;
      const v = this.gather(rows, from, to);
      const out = this.model.forward(v.input, m);
      loss += w * this.loss.evaluate(out, v.target, m, grad ? v.grad : undefined);
      if (!grad) continue;
      this.model.backward(v.grad);
      for (let i = 0; i < this.named.length; i++) {
        const g = this.named[i].grad;
        const o = this.layout[i].offset;
        if (!chunked) grad.set(g, o);
        else for (let k = 0; k < g.length; k++) this.acc[o + k] += w * g[k];
      }
    }
    if (grad && chunked) for (let k = 0; k < this.dimension; k++) grad[k] = this.acc[k];
    return loss;
  }

  /** (l2/2)·Σ W² over the weight matrices; its gradient added into `grad` when given. */
  private penalty(params: Vector, grad?: Vector): number {
    const l2 = this.spec.l2;
    if (l2 === 0) return 0;
    let sq = 0;
    for (const { name, offset, length } of this.layout) {
      if (!name.endsWith('.weight')) continue;
      for (let i = offset; i < offset + length; i++) {
        sq += params[i] * params[i];
        if (grad) grad[i] += l2 * params[i];
      }
    }
    return 0.5 * l2 * sq;
  }

  evaluate(params: Vector, grad?: Vector, batch?: number): number {
    checkEvaluate(this.dimension, this.batchCount, params, grad, batch);
    this.load(params);
    const b = this.batches;
    const loss = this.meanLoss(b.rows, b.start(batch), b.end(batch), grad) + this.penalty(params, grad);
    if (!Number.isFinite(loss)) nonFiniteLoss(this.name, params);
    return loss;
  }

  /**
   * Held-out measures: the test loss (mean loss over the test rows, no penalty) and
   * either the test accuracy (classification) or the test RMSE in the target's units and
   * out-of-sample R² against the training mean, which is 0 after standardization. With
   * `trainMetrics`, also the training objective and accuracy. Names: `heldOutName`.
   */
  metrics(params: Vector): Record<string, number> {
    vector('params', params, this.dimension);
    this.load(params);
    const held = this.spec.heldOutName ?? 'test';
    const m = this.measure(this.testRows);
    const out: Record<string, number> = {};
    if (this.spec.trainMetrics) {
      out.loss = this.evaluate(params);
      if (this.spec.kind === 'classification') out.trainAccuracy = this.measure(this.trainRows).accuracy;
      this.load(params);
    }
    if (this.spec.kind === 'classification') {
      out[`${held}Accuracy`] = m.accuracy;
      out[`${held}Loss`] = m.loss;
      return out;
    }
    const scale = this.spec.targetScale ?? 1;
    out[`${held}Rmse`] = scale * Math.sqrt(m.sse / (m.n * this.targetSize));
    out[`${held}R2`] = 1 - m.sse / m.sst;
    out[`${held}Loss`] = m.loss;
    return out;
  }

  /** Loss, accuracy, SSE and Σy² over `rows` at the loaded θ, chunk by chunk. */
  private measure(rows: Uint32Array): { loss: number; accuracy: number; sse: number; sst: number; n: number } {
    const n = rows.length;
    const c = this.outputs;
    const t = this.targetSize;
    let loss = 0;
    let correct = 0;
    let sse = 0;
    let sst = 0;
    const parts = Math.ceil(n / CHUNK);
    for (let i = 0; i < parts; i++) {
      const [from, to] = chunk(0, n, parts, i);
      const m = to - from;
      const v = this.gather(rows, from, to);
      const out = this.model.forward(v.input, m);
      loss += (m / n) * this.loss.evaluate(out, v.target, m);
      for (let e = 0; e < m; e++) {
        if (this.spec.kind === 'classification') {
          let best = 0;
          for (let q = 1; q < c; q++) if (out[e * c + q] > out[e * c + best]) best = q;
          if (best === v.target[e]) correct++;
        } else {
          for (let j = 0; j < t; j++) {
            sse += (out[e * c + j] - v.target[e * t + j]) ** 2;
            sst += v.target[e * t + j] ** 2;
          }
        }
      }
    }
    return { loss, accuracy: correct / n, sse, sst, n };
  }

  /**
   * The network's outputs for `rows` (indices into the data) at `params`, row by row into
   * `out` (rows.length × outputs), f32 values widened to f64.
   */
  protected predictRows(params: Vector, rows: Uint32Array, out: Float64Array): Float64Array {
    this.load(params);
    const n = rows.length;
    const c = this.outputs;
    const parts = Math.ceil(n / CHUNK);
    for (let i = 0; i < parts; i++) {
      const [from, to] = chunk(0, n, parts, i);
      const v = this.gather(rows, from, to);
      const y = this.model.forward(v.input, to - from);
      for (let k = 0; k < (to - from) * c; k++) out[from * c + k] = y[k];
    }
    return out;
  }

  shuffleBatches(random: Random): void {
    this.batches.shuffle(random);
  }

  describe(): Record<string, unknown> {
    return describeBatched(this, this.spec.config, {
      model: { sizes: this.spec.sizes, activation: this.spec.activation, l2: this.spec.l2, loss: this.loss.name },
      layout: this.layout.map((l) => ({ ...l })),
      trainExamples: this.trainRows.length,
      testExamples: this.testRows.length,
    });
  }
}

/**
 * A seeded stratified split: each class's rows are shuffled with `random` and the first
 * round(testFraction · count) go to test. Both lists come back ascending.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  classes: number,
  testFraction: number,
  random: Random,
): { trainRows: Uint32Array; testRows: Uint32Array } {
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < classes; c++) {
    const rows: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) rows.push(i);
    const shuffled = random.shuffle(Uint32Array.from(rows));
    const t = Math.round(testFraction * shuffled.length);
    test.push(...shuffled.subarray(0, t));
    train.push(...shuffled.subarray(t));
  }
  return { trainRows: Uint32Array.from(train).sort(), testRows: Uint32Array.from(test).sort() };
}

/**
 * Standardize columns of a rows × cols f64 matrix in place with the mean and standard
 * deviation of `trainRows` only (so nothing about the test rows leaks into training);
 * a constant column gets sd 1. Returns the statistics.
 */
export function standardizeColumns(
  x: Float64Array,
  cols: number,
  trainRows: Uint32Array,
  which: readonly number[] = Array.from({ length: cols }, (_, j) => j),
): { mean: Float64Array; sd: Float64Array } {
  const rows = x.length / cols;
  const mean = new Float64Array(cols);
  const sd = new Float64Array(cols).fill(1);
  for (const j of which) {
    let s = 0;
    for (const r of trainRows) s += x[r * cols + j];
    const m = s / trainRows.length;
    let v = 0;
    for (const r of trainRows) v += (x[r * cols + j] - m) ** 2;
    mean[j] = m;
    sd[j] = Math.sqrt(v / trainRows.length) || 1;
    for (let r = 0; r < rows; r++) x[r * cols + j] = (x[r * cols + j] - m) / sd[j];
  }
  return { mean, sd };
}
