/**
 * A one-hidden-layer perceptron with a flat parameter vector, forward and backward by
 * hand (micrograd's habit: each forward rule beside its derivative), shared by the
 * modular-arithmetic, iris and S&P 500 tasks. Small and allocation-free per call; the
 * arithmetic is f64 whatever the parameter array's type.
 *
 * Parameter layout (row-major):
 *   hidden > 0:  [W1 (hidden × inputs), b1 (hidden), W2 (outputs × hidden), b2 (outputs)]
 *   hidden = 0:  [W (outputs × inputs), b (outputs)]            (a linear model)
 *
 * Loss, averaged over the examples of the batch, plus (l2/2)·Σ W² over the weights (not
 * the biases):
 *   'softmax-cross-entropy': log Σ_c e^{o_c} − o_y      (∂/∂o_c = softmax_c − [c = y])
 *   'squared-error':         ½ (o − y)²                   (∂/∂o = o − y), one output
 */
import { Random } from '../random.js';
import { type Batches, checkEvaluate, nonFiniteLoss, type Vector, vector } from './task.js';

export type Activation = 'tanh' | 'relu' | 'square';
export type MlpLoss = 'softmax-cross-entropy' | 'squared-error';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'relu', 'square'];

const TANH = 0;
const RELU = 1;
const SQUARE = 2;

export interface MlpShape {
  inputs: number;
  /** 0 for a linear model. */
  hidden: number;
  outputs: number;
  activation: Activation;
  loss: MlpLoss;
}

/**
 * Examples: either dense features (`x`, n × inputs row-major) or one-hot features given
 * as `active` indices per row (`onehot`, n × active: the input is 1 at each listed index,
 * 0 elsewhere — the first layer then costs `active · hidden` instead of `inputs · hidden`).
 * Labels are class indices (`labels`) or real targets (`targets`).
 */
export interface MlpData {
  x?: Float64Array;
  onehot?: Int32Array;
  active?: number;
  labels?: Int32Array;
  targets?: Float64Array;
}

export class Mlp {
  readonly shape: Readonly<MlpShape>;
  readonly dimension: number;
  /** Offsets of the blocks in the flat vector. */
  readonly offsets: { w1: number; b1: number; w2: number; b2: number };
  private readonly z: Float64Array;
  private readonly h: Float64Array;
  private readonly dh: Float64Array;
  /** The activation as a small integer, so the hot loops compare numbers. */
  private readonly act: number;
  private readonly o: Float64Array;
  private readonly dOut: Float64Array;
  private readonly acc: Float64Array;

  constructor(shape: MlpShape) {
    this.shape = Object.freeze({ ...shape });
    const { inputs: d, hidden: k, outputs: c } = shape;
    if (k > 0) {
      const w1 = 0;
      const b1 = k * d;
      const w2 = b1 + k;
      const b2 = w2 + c * k;
      this.offsets = { w1, b1, w2, b2 };
      this.dimension = b2 + c;
    } else {
      this.offsets = { w1: 0, b1: 0, w2: 0, b2: c * d };
      this.dimension = c * d + c;
    }
    this.z = new Float64Array(Math.max(k, 1));
    this.h = new Float64Array(Math.max(k, 1));
    this.dh = new Float64Array(Math.max(k, 1));
    this.act = shape.activation === 'tanh' ? TANH : shape.activation === 'relu' ? RELU : SQUARE;
    this.o = new Float64Array(c);
    this.dOut = new Float64Array(c);
    this.acc = new Float64Array(this.dimension);
  }

  /** Glorot-style initialization: weights N(0, 1/fan_in), biases 0. */
  initialize(params: Float32Array, random: Random): void {
    const { inputs: d, hidden: k, outputs: c } = this.shape;
    params.fill(0);
    const { w1, b1, w2, b2 } = this.offsets;
    if (k > 0) {
      for (let i = w1; i < b1; i++) params[i] = random.normal() / Math.sqrt(d);
      for (let i = w2; i < b2; i++) params[i] = random.normal() / Math.sqrt(k);
    } else {
      for (let i = 0; i < c * d; i++) params[i] = random.normal() / Math.sqrt(d);
    }
  }

  /** A new parameter vector, initialized from `Random(seed)`. */
  initialParameters(seed: number): Float32Array {
    const params = new Float32Array(this.dimension);
    this.initialize(params, new Random(seed));
    return params;
  }

  /** Forward pass of one example: fills this.o (outputs) and this.z/this.h (hidden). */
  private forward(params: Vector, data: MlpData, row: number): void {
    const { inputs: d, hidden: k, outputs: c } = this.shape;
    const { b1, w2, b2 } = this.offsets;
    const { z, h, o } = this;
    // the layer reading the inputs: W1 (k × d) when hidden, else W (c × d)
    const rows = k > 0 ? k : c;
    const bias = k > 0 ? b1 : b2;
    const pre = k > 0 ? z : o;
    for (let j = 0; j < rows; j++) {
      let s = params[bias + j];
      const w = j * d;
      if (data.x !== undefined) {
        const x = data.x;
        const xr = row * d;
        for (let i = 0; i < d; i++) s += params[w + i] * x[xr + i];
      } else {
        const idx = data.onehot!;
        const m = data.active!;
        for (let a = 0; a < m; a++) s += params[w + idx[row * m + a]];
      }
      pre[j] = s;
    }
    if (k === 0) return;
    if (this.act === TANH) for (let j = 0; j < k; j++) h[j] = Math.tanh(z[j]);
    else if (this.act === RELU) for (let j = 0; j < k; j++) h[j] = Math.max(z[j], 0);
    else for (let j = 0; j < k; j++) h[j] = z[j] * z[j];
    for (let q = 0; q < c; q++) {
      let s = params[b2 + q];
      const w = w2 + q * k;
      for (let j = 0; j < k; j++) s += params[w + j] * h[j];
      o[q] = s;
    }
  }

  /** Loss of one example from this.o, and ∂loss/∂o into this.dOut. */
  private exampleLoss(data: MlpData, row: number): number {
    const { o, dOut } = this;
    const c = this.shape.outputs;
    if (this.shape.loss === 'squared-error') {
      const r = o[0] - data.targets![row];
      dOut[0] = r;
      return 0.5 * r * r;
    }
    let max = o[0];
    for (let q = 1; q < c; q++) if (o[q] > max) max = o[q];
    let sum = 0;
    for (let q = 0; q < c; q++) {
      dOut[q] = Math.exp(o[q] - max);
      sum += dOut[q];
    }
    const y = data.labels![row];
    for (let q = 0; q < c; q++) dOut[q] /= sum;
    dOut[y] -= 1;
    return Math.log(sum) + max - o[y];
  }

  /**
   * Mean loss over examples rows[start..end) (+ the L2 term) and, when `grad` is given,
   * its gradient. Allocation-free.
   */
  lossAndGradient(
    params: Vector,
    data: MlpData,
    rows: Uint32Array,
    start: number,
    end: number,
    grad: Vector | undefined,
    l2: number,
  ): number {
    const { hidden: k, outputs: c } = this.shape;
    const { b1, w2, b2 } = this.offsets;
    const { z, h, dh, dOut, acc, act } = this;
    const n = end - start;
    if (grad !== undefined) acc.fill(0);
    let loss = 0;
    for (let e = start; e < end; e++) {
      const row = rows[e];
      this.forward(params, data, row);
      loss += this.exampleLoss(data, row);
      if (grad === undefined) continue;
      // output layer: ∂/∂W2[q,j] = dOut_q h_j, ∂/∂b2[q] = dOut_q (linear model: inputs for h)
      for (let q = 0; q < c; q++) acc[b2 + q] += dOut[q];
      if (k === 0) {
        this.accumulateInputLayer(data, row, dOut, c, 0, acc);
        continue;
      }
      // one pass over W2's rows: ∂/∂W2[q,j] = dOut_q h_j and dh_j = Σ_q W2[q,j] dOut_q
      dh.fill(0);
      for (let q = 0; q < c; q++) {
        const w = w2 + q * k;
        const g = dOut[q];
        for (let j = 0; j < k; j++) {
          acc[w + j] += g * h[j];
          dh[j] += params[w + j] * g;
        }
      }
      // back through the activation: dz_j = dh_j σ'(z_j), written over z
      if (act === TANH) for (let j = 0; j < k; j++) z[j] = dh[j] * (1 - h[j] * h[j]);
      else if (act === RELU) for (let j = 0; j < k; j++) z[j] = z[j] > 0 ? dh[j] : 0;
      else for (let j = 0; j < k; j++) z[j] = 2 * z[j] * dh[j];
      for (let j = 0; j < k; j++) acc[b1 + j] += z[j];
      this.accumulateInputLayer(data, row, z, k, 0, acc);
    }
    const inv = n > 0 ? 1 / n : 0;
    loss *= inv;
    // L2 on the weights only: [0, b1) and [w2, b2) with a hidden layer, [0, b2) without
    const firstEnd = k > 0 ? b1 : b2;
    const secondStart = k > 0 ? w2 : b2;
    if (l2 > 0) {
      let sq = 0;
      for (let i = 0; i < firstEnd; i++) sq += params[i] * params[i];
      for (let i = secondStart; i < b2; i++) sq += params[i] * params[i];
      loss += 0.5 * l2 * sq;
    }
    if (grad !== undefined) {
      for (let i = 0; i < acc.length; i++) acc[i] *= inv;
      if (l2 > 0) {
        for (let i = 0; i < firstEnd; i++) acc[i] += l2 * params[i];
        for (let i = secondStart; i < b2; i++) acc[i] += l2 * params[i];
      }
      for (let i = 0; i < acc.length; i++) grad[i] = acc[i];
    }
    return loss;
  }

  /** acc[W(rows × inputs)] += delta ⊗ x_row, for dense or one-hot inputs. */
  private accumulateInputLayer(
    data: MlpData,
    row: number,
    delta: Float64Array,
    rowsOut: number,
    offset: number,
    acc: Float64Array,
  ): void {
    const d = this.shape.inputs;
    if (data.x !== undefined) {
      const x = data.x;
      const xr = row * d;
      for (let j = 0; j < rowsOut; j++) {
        const g = delta[j];
        if (g === 0) continue;
        const w = offset + j * d;
        for (let i = 0; i < d; i++) acc[w + i] += g * x[xr + i];
      }
    } else {
      const idx = data.onehot!;
      const m = data.active!;
      for (let j = 0; j < rowsOut; j++) {
        const w = offset + j * d;
        for (let a = 0; a < m; a++) acc[w + idx[row * m + a]] += delta[j];
      }
    }
  }

  /** The outputs (logits, or the prediction) of one example into `out` (length outputs). */
  predict(params: Vector, data: MlpData, row: number, out: Float64Array): Float64Array {
    this.forward(params, data, row);
    out.set(this.o);
    return out;
  }

  /** Fraction of rows[start..end) whose arg-max output equals the label. */
  accuracy(params: Vector, data: MlpData, rows: ArrayLike<number>, start = 0, end = rows.length): number {
    const c = this.shape.outputs;
    let correct = 0;
    for (let e = start; e < end; e++) {
      const row = rows[e];
      this.forward(params, data, row);
      let best = 0;
      for (let q = 1; q < c; q++) if (this.o[q] > this.o[best]) best = q;
      if (best === data.labels![row]) correct++;
    }
    return end > start ? correct / (end - start) : Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------
// The bodies the MLP tasks (iris, modular addition, S&P 500) share.

/**
 * evaluate() of a task whose objective is an Mlp's loss over its training rows, in
 * mini-batches: validates the arguments, returns the loss over batch `batch` of `batches`
 * (all of them when undefined) and writes the gradient into `grad` when given; `task`
 * names the task in the error a non-finite loss raises.
 */
export function mlpBatchLoss(
  task: string,
  mlp: Mlp,
  data: MlpData,
  batches: Batches,
  l2: number,
  params: Vector,
  grad: Vector | undefined,
  batch: number | undefined,
): number {
  checkEvaluate(mlp.dimension, batches.count, params, grad, batch);
  const loss = mlp.lossAndGradient(params, data, batches.rows, batches.start(batch), batches.end(batch), grad, l2);
  if (!Number.isFinite(loss)) nonFiniteLoss(task, params);
  return loss;
}

/**
 * metrics() of an MLP classifier: the loss and accuracy on the training rows, and the
 * accuracy on the held-out rows under the name `heldOutMetric`.
 */
export function classifierMetrics(
  mlp: Mlp,
  data: MlpData,
  l2: number,
  params: Vector,
  trainRows: Uint32Array,
  heldOutRows: Uint32Array,
  heldOutMetric: string,
): Record<string, number> {
  vector('params', params, mlp.dimension);
  return {
    loss: mlp.lossAndGradient(params, data, trainRows, 0, trainRows.length, undefined, l2),
    trainAccuracy: mlp.accuracy(params, data, trainRows),
    [heldOutMetric]: mlp.accuracy(params, data, heldOutRows),
  };
}
