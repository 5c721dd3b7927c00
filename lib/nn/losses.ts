/**
 * Losses over a batch (docs/theory.md, "Models and trainer"). `evaluate(pred, target,
 * batch, grad?)` returns the mean loss and, when `grad` is given, writes ∂L/∂pred into it.
 * Sums are accumulated in f64.
 *
 * - MSE: L = (1/(batch·d)) Σ (pred − target)², target batch×d.
 * - Softmax cross-entropy over logits: L = (1/batch) Σ_r [log Σ_c e^{o_rc} − o_r,y_r], the
 *   log-sum-exp shifted by the row maximum (no overflow for any finite logits);
 *   ∂L/∂o_rc = (softmax_rc − [c = y_r]) / batch. The target is one class index per row
 *   (stored in a Float32Array of length batch).
 */
import { argumentError, CimmArgumentError } from '../errors.js';
import { float32Array, integer } from '../is.js';

export type LossName = 'mse' | 'softmaxCrossEntropy';

export interface Loss {
  readonly name: LossName;
  /** Target values per row given `outputSize` model outputs (MSE: outputSize; cross-entropy: 1). */
  targetSize(outputSize: number): number;
  /** Reject a target row that this loss cannot take (row is 0-based, for the message). */
  checkTarget(name: string, target: Float32Array, row: number, outputSize: number): void;
  evaluate(pred: Float32Array, target: Float32Array, batch: number, grad?: Float32Array): number;
}

export class MeanSquaredError implements Loss {
  readonly name = 'mse';
  targetSize(outputSize: number): number {
    return outputSize;
  }
  checkTarget(): void {}
  evaluate(pred: Float32Array, target: Float32Array, batch: number, grad?: Float32Array): number {
    const n = integer('batch', batch, { min: 1 });
    float32Array('pred', pred);
    if (pred.length % n !== 0) throw argumentError('pred', `a batch×d array (length a multiple of ${n})`, pred);
    float32Array('target', target, { length: pred.length });
    if (grad) float32Array('grad', grad, { length: pred.length });
    const scale = 1 / pred.length;
    let s = 0;
    for (let i = 0; i < pred.length; i++) {
      const d = pred[i] - target[i];
      s += d * d;
      if (grad) grad[i] = 2 * scale * d;
    }
    return s * scale;
  }
}

export class SoftmaxCrossEntropy implements Loss {
  readonly name = 'softmaxCrossEntropy';
  targetSize(): number {
    return 1;
  }
  checkTarget(name: string, target: Float32Array, row: number, outputSize: number): void {
    const y = target[row];
    if (!(Number.isInteger(y) && y >= 0 && y < outputSize)) {
      throw new CimmArgumentError(
        name,
        'a class index',
        `Expected a class index in [0, ${outputSize}) for ${name} but received ${y} at row ${row} of type number`,
      );
    }
  }
  evaluate(logits: Float32Array, labels: Float32Array, batch: number, grad?: Float32Array): number {
    const n = integer('batch', batch, { min: 1 });
    float32Array('labels', labels, { length: n });
    const c = logits.length / n;
    float32Array('logits', logits);
    if (!Number.isInteger(c) || c < 1)
      throw argumentError('logits', `a batch×classes array (length a multiple of ${n})`, logits);
    if (grad) float32Array('grad', grad, { length: logits.length });
    let total = 0;
    for (let r = 0; r < n; r++) {
      const o = r * c;
      const y = labels[r];
      if (!(Number.isInteger(y) && y >= 0 && y < c)) this.checkTarget('labels', labels, r, c);
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < c; j++) if (logits[o + j] > max) max = logits[o + j];
      let s = 0;
      if (grad) {
        // e^{o − max} computed once and kept in grad; normalized in place.
        for (let j = 0; j < c; j++) s += grad[o + j] = Math.exp(logits[o + j] - max);
        const scale = 1 / (s * n);
        for (let j = 0; j < c; j++) grad[o + j] *= scale;
        grad[o + y] -= 1 / n;
      } else {
        for (let j = 0; j < c; j++) s += Math.exp(logits[o + j] - max);
      }
      total += max + Math.log(s) - logits[o + y];
    }
    return total / n;
  }
}

export function loss(name: LossName): Loss {
  return name === 'mse' ? new MeanSquaredError() : new SoftmaxCrossEntropy();
}
