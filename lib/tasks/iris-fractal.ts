/**
 * Classification with a FractalLayer network (seed 000 §4, seed 002 §3.2): the iris data,
 * split and standardized exactly as the MLP task does (`irisSplit`), classified by
 *
 *   FractalLayer(4 → hidden, tanh, L levels)  →  Dense(hidden → 3)  →  softmax cross-entropy,
 *
 * where the FractalLayer is design eq. 9, F_out = σ(Σ_i H_i (F_in Z_i) + b), its levels the
 * fractal iterates Z_{i+1} = Z_i ⊙ Z_i + c (eq. 8) of one trainable Z. Metric: test accuracy.
 *
 * Flat parameter layout (the Sequential's parameters in order, row-major):
 *   [θ_Z (4 × hidden), φ (L), W (3 × hidden), b (3)]
 * with Z = z₊ · tanh(θ_Z / z₊) (z₊ = the layer's `bound`). The optimizer owns θ, so the
 * task cannot project Z after an update (`keepBounded`); this smooth reparameterization
 * keeps Z inside the invariant interval (−z₊, z₊) for every finite θ, so the levels never
 * overflow (docs/theory.md, "Classification: iris"). ∂Z/∂θ_Z = 1 − (Z/z₊)².
 *
 * Loss: the mean cross-entropy over the batch plus (l2/2)·(Σ θ_Z² + Σ W²), the same L2 on
 * the weights as the MLP task (not on φ or b). Unlike the other tasks the network computes
 * in f32, through the active kernel backend (the layers' own forward/backward); θ is copied
 * into it on each call (about a hundred values), the loss sums and the penalty are f64.
 */
import { finiteNumber, integer, options } from '../is.js';
import { FractalLayer, MAX_LEVELS } from '../nn/fractal-layer.js';
import { Dense } from '../nn/layers.js';
import { SoftmaxCrossEntropy } from '../nn/losses.js';
import { Sequential } from '../nn/sequential.js';
import { Random } from '../random.js';
import { IRIS_DEFAULTS, irisSplit } from './iris.js';
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

export interface IrisFractalOptions {
  /** FractalLayer outputs (default 16). */
  hidden?: number;
  /** FractalLayer levels L (default 3, the layer's default). */
  levels?: number;
  /** Fraction of each species held out for testing (default 0.2). */
  testFraction?: number;
  /** L2 coefficient on θ_Z and W (default 1e-3). */
  l2?: number;
  /** Mini-batch size (default: full batch). */
  batchSize?: number;
  /** Seed of the split (default 0). */
  seed?: number;
}

export const IRIS_FRACTAL_DEFAULTS = Object.freeze({
  hidden: 16,
  levels: 3,
  testFraction: IRIS_DEFAULTS.testFraction,
  l2: IRIS_DEFAULTS.l2,
  seed: IRIS_DEFAULTS.seed,
});

export class IrisFractalTask implements ObjectiveTask {
  readonly kind = 'objective' as const;
  readonly name = 'iris-fractal';
  readonly dimension: number;
  readonly batchCount: number;
  readonly target: TaskTarget;
  readonly trainRows: Uint32Array;
  readonly testRows: Uint32Array;
  /** z₊: Z = z₊ tanh(θ_Z / z₊) stays inside (−z₊, z₊). */
  readonly bound: number;
  /** Offsets of the blocks in θ. */
  readonly offsets: { z: number; phi: number; weight: number; bias: number };
  private readonly fractal: FractalLayer;
  private readonly dense: Dense;
  private readonly model: Sequential;
  private readonly loss = new SoftmaxCrossEntropy();
  private readonly hidden: number;
  private readonly l2: number;
  /** Standardized features of all 150 flowers in f32, and labels as the loss takes them. */
  private readonly x: Float32Array;
  private readonly labels: Int32Array;
  /** Gathered rows, labels and ∂L/∂logits (sized for the largest set). */
  private readonly input: Float32Array;
  private readonly batchLabels: Float32Array;
  private readonly gradLogits: Float32Array;
  /** Views of those buffers per row count (full, test, mini-batch, last), made once. */
  private readonly views = new Map<number, { input: Float32Array; labels: Float32Array; grad: Float32Array }>();
  private readonly batches: Batches;
  private readonly config: Record<string, unknown>;

  constructor(opts?: IrisFractalOptions) {
    const o = options<IrisFractalOptions>('options', opts);
    const d = IRIS_FRACTAL_DEFAULTS;
    const hidden = integer('hidden', o.hidden ?? d.hidden, { min: 1, max: 4096 });
    const levels = integer('levels', o.levels ?? d.levels, { min: 1, max: MAX_LEVELS });
    const testFraction = finiteNumber('testFraction', o.testFraction ?? d.testFraction, { above: 0, max: 0.9 });
    const l2 = finiteNumber('l2', o.l2 ?? d.l2, { min: 0 });
    const seed = seedOption(o.seed ?? d.seed);
    const split = irisSplit(testFraction, seed);
    this.trainRows = split.trainRows;
    this.testRows = split.testRows;
    this.x = Float32Array.from(split.x);
    this.labels = split.labels;
    const most = Math.max(this.trainRows.length, this.testRows.length);
    this.input = new Float32Array(most * 4);
    this.batchLabels = new Float32Array(most);
    this.gradLogits = new Float32Array(most * 3);

    this.fractal = new FractalLayer({ inputSize: 4, outputSize: hidden, levels, activation: 'tanh' });
    this.dense = new Dense({ inputSize: hidden, outputSize: 3 });
    this.model = new Sequential([this.fractal, this.dense]);
    this.bound = this.fractal.bound;
    const z = 0;
    const phi = z + 4 * hidden;
    const weight = phi + levels;
    const bias = weight + 3 * hidden;
    this.offsets = { z, phi, weight, bias };
    this.dimension = bias + 3;
    this.hidden = hidden;
    this.l2 = l2;
    this.batches = new Batches(this.trainRows, o.batchSize);
    this.batchCount = this.batches.count;
    this.config = {
      model: 'fractal',
      hidden,
      levels,
      activation: 'tanh',
      testFraction,
      l2,
      seed,
      batchSize: o.batchSize,
    };
    this.target = {
      metric: 'testAccuracy',
      value: 0.95,
      direction: 'max',
      reason:
        'Adam (η 0.01–0.3) and plain GD (η 0.3–1) classified 29 or 30 of the 30 held-out flowers on ' +
        'each of the five seeded splits tried, as with the MLP; 0.95 allows one miss in 30. In batches of 16 ' +
        'best-tuned Adam (η 0.1) reached it in 36 steps on 3 seeds and ended at 1',
    };
  }

  /**
   * θ_Z ~ U(−a, a) with a = min(√(6/(4 + hidden)), z₊) (the layer's Glorot rule, so Z starts
   * in the near-linear part of the tanh map), φ = 0 (H_i = 1/L), W Glorot-uniform, b = 0.
   */
  initialParameters(seed: number): Float32Array {
    const random = new Random(seed);
    const h = this.hidden;
    const { phi, weight, bias } = this.offsets;
    const params = new Float32Array(this.dimension);
    const a = Math.min(Math.sqrt(6 / (4 + h)), this.bound);
    for (let i = 0; i < phi; i++) params[i] = a * (2 * random.uniform() - 1);
    const w = Math.sqrt(6 / (h + 3));
    for (let i = weight; i < bias; i++) params[i] = w * (2 * random.uniform() - 1);
    return params;
  }

  /** Copy θ into the model: Z = z₊ tanh(θ_Z / z₊), the other blocks as they are. */
  private load(params: Vector): void {
    const { phi, weight, bias } = this.offsets;
    const b = this.bound;
    const z = this.fractal.z;
    for (let i = 0; i < phi; i++) z[i] = b * Math.tanh(params[i] / b);
    for (let i = 0; i < this.fractal.phi.length; i++) this.fractal.phi[i] = params[phi + i];
    for (let i = 0; i < this.dense.weight.length; i++) this.dense.weight[i] = params[weight + i];
    for (let i = 0; i < 3; i++) this.dense.bias[i] = params[bias + i];
  }

  /** Gather rows[start..end) into the input and label buffers; returns views of n rows. */
  private gather(rows: Uint32Array, start: number, end: number) {
    const n = end - start;
    for (let e = 0; e < n; e++) {
      const r = rows[start + e];
      for (let j = 0; j < 4; j++) this.input[e * 4 + j] = this.x[r * 4 + j];
      this.batchLabels[e] = this.labels[r];
    }
    let v = this.views.get(n);
    if (!v) {
      v = {
        input: this.input.subarray(0, n * 4),
        labels: this.batchLabels.subarray(0, n),
        grad: this.gradLogits.subarray(0, n * 3),
      };
      this.views.set(n, v);
    }
    return v;
  }

  /** (l2/2)·(Σ θ_Z² + Σ W²), and its gradient added into `grad` when given. */
  private penalty(params: Vector, grad?: Vector): number {
    if (this.l2 === 0) return 0;
    const { phi, weight, bias } = this.offsets;
    let sq = 0;
    for (const [from, to] of [
      [0, phi],
      [weight, bias],
    ]) {
      for (let i = from; i < to; i++) {
        sq += params[i] * params[i];
        if (grad) grad[i] += this.l2 * params[i];
      }
    }
    return 0.5 * this.l2 * sq;
  }

  /** Mean cross-entropy over rows[start..end) at the loaded θ; the model's grads when asked. */
  private crossEntropy(rows: Uint32Array, start: number, end: number, backward: boolean): number {
    const n = end - start;
    const v = this.gather(rows, start, end);
    const logits = this.model.forward(v.input, n);
    const g = backward ? v.grad : undefined;
    const loss = this.loss.evaluate(logits, v.labels, n, g);
    if (g) this.model.backward(g);
    return loss;
  }

  evaluate(params: Vector, grad?: Vector, batch?: number): number {
    checkEvaluate(this.dimension, this.batchCount, params, grad, batch);
    this.load(params);
    const b = this.batches;
    let loss = this.crossEntropy(b.rows, b.start(batch), b.end(batch), grad !== undefined);
    if (grad) {
      const { phi, weight, bias } = this.offsets;
      const { z, gradZ, gradPhi } = this.fractal;
      // chain through Z = z₊ tanh(θ_Z/z₊): ∂Z/∂θ_Z = 1 − (Z/z₊)²
      for (let i = 0; i < phi; i++) {
        const t = z[i] / this.bound;
        grad[i] = gradZ[i] * (1 - t * t);
      }
      for (let i = 0; i < gradPhi.length; i++) grad[phi + i] = gradPhi[i];
      for (let i = 0; i < this.dense.gradWeight.length; i++) grad[weight + i] = this.dense.gradWeight[i];
      for (let i = 0; i < 3; i++) grad[bias + i] = this.dense.gradBias[i];
    }
    loss += this.penalty(params, grad);
    if (!Number.isFinite(loss)) nonFiniteLoss(this.name, params);
    return loss;
  }

  /** Fraction of `rows` whose arg-max logit is the label, at the loaded θ. */
  private accuracy(rows: Uint32Array): number {
    const n = rows.length;
    const logits = this.model.forward(this.gather(rows, 0, n).input, n);
    let correct = 0;
    for (let e = 0; e < n; e++) {
      let best = 0;
      for (let q = 1; q < 3; q++) if (logits[e * 3 + q] > logits[e * 3 + best]) best = q;
      if (best === this.batchLabels[e]) correct++;
    }
    return correct / n;
  }

  metrics(params: Vector): Record<string, number> {
    vector('params', params, this.dimension);
    this.load(params);
    const train = this.trainRows;
    return {
      loss: this.crossEntropy(train, 0, train.length, false) + this.penalty(params),
      trainAccuracy: this.accuracy(train),
      testAccuracy: this.accuracy(this.testRows),
    };
  }

  shuffleBatches(random: Random): void {
    this.batches.shuffle(random);
  }

  /** The options, data sizes, the θ layout and z₊. */
  describe(): Record<string, unknown> {
    return describeBatched(this, this.config, {
      layout: { ...this.offsets },
      bound: this.bound,
      trainExamples: this.trainRows.length,
      testExamples: this.testRows.length,
    });
  }
}
