/**
 * The seed optimizers driven by the Trainer (lib/train/trainer.ts): it feeds every
 * optimizer `step(params, grads, { loss })` and records its `lastReport`'s numbers, so the
 * entropy-balanced readings (η, dE/dt, dI/dt, QPL, Landauer efficiency) and the QDT terms
 * (E, S, 𝒮) land in the history. Full batches: with mini-batches the loss meter needs
 * `previousBatchLoss`, which the Trainer does not compute (docs/theory.md, "Measured").
 */
import { describe, expect, test } from 'vitest';
import {
  EntropyBalancedOptimizer,
  mlp,
  QDTOptimizer,
  SoftmaxCrossEntropy,
  StabilizedOptimizer,
  Trainer,
} from '../lib/index.js';

function classes(n: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const a = (2 * Math.PI * c) / 3 + 0.3 * Math.sin(i * 12.9898);
    const r = 1 + 0.2 * Math.cos(i * 78.233);
    x[2 * i] = r * Math.cos(a);
    x[2 * i + 1] = r * Math.sin(a);
    y[i] = c;
  }
  return { x, y };
}

function train(optimizer: ConstructorParameters<typeof Trainer>[0]['optimizer'], epochs = 60) {
  const trainer = new Trainer({
    model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }),
    loss: new SoftmaxCrossEntropy(),
    optimizer,
  });
  return trainer.fit(classes(150), { epochs, batchSize: 150, seed: 1 });
}

describe('the seed optimizers under the Trainer', () => {
  test('entropy-balanced: the loss falls and every step records η, dE/dt, dI/dt, QPL(t) and the Landauer efficiency', () => {
    const h = train(new EntropyBalancedOptimizer({ base: 'adam', baseOptions: { beta1: 0 }, learningRate: 1e-3 }));
    const first = h.epochs[0].loss;
    const last = h.epochs.at(-1)!.loss;
    console.log(
      `[trainer, entropy-balanced Adam β₁ = 0, 3 classes, full batch] loss ${first.toFixed(3)} → ${last.toFixed(3)}`,
    );
    expect(last).toBeLessThan(0.5 * first);
    const r = h.steps.at(-1)!.report!;
    for (const key of ['eta', 'energyRate', 'informationRate', 'qpl', 'potential', 'landauerEfficiency']) {
      expect(Object.hasOwn(r, key), key).toBe(true);
    }
    expect(h.steps.at(-1)!.learningRate).toBe(r.eta);
  });

  test('QDT: the history holds E, S and 𝒮', () => {
    const h = train(new QDTOptimizer({ base: 'adam', learningRate: 0.02 }), 20);
    const r = h.steps.at(-1)!.report!;
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['eta', 'energy', 'distance', 'entropy', 'scale']));
    expect(h.epochs.at(-1)!.loss).toBeLessThan(h.epochs[0].loss);
  });

  test("stabilized: the history holds the controller's report", () => {
    const h = train(new StabilizedOptimizer({ optimizer: new EntropyBalancedOptimizer({ learningRate: 0.01 }) }), 10);
    const r = h.steps.at(-1)!.report!;
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['gradientNorm', 'scale', 'nonFinite', 'iteration']));
  });
});
