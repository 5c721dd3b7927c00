/**
 * The seed optimizers driven by the Trainer (lib/train/trainer.ts): it feeds every
 * optimizer `step(params, grads, { loss })` and records its `lastReport`'s numbers, so the
 * entropy-balanced readings (η, dE/dt, dI/dt, QPL, Landauer efficiency) and the QDT terms
 * (E, S, 𝒮) land in the history. With mini-batches the Trainer re-evaluates each batch
 * after its update and passes that loss as the next step's `previousBatchLoss` when the
 * optimizer reads it (docs/theory.md, "Measured").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  Adam,
  EntropyBalancedOptimizer,
  mlp,
  QDTOptimizer,
  SoftmaxCrossEntropy,
  StabilizedOptimizer,
  Trainer,
} from '../lib/index.js';
import { classes } from './helpers.js';

function train(optimizer: ConstructorParameters<typeof Trainer>[0]['optimizer'], epochs = 60) {
  const trainer = new Trainer({
    model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }),
    loss: new SoftmaxCrossEntropy(),
    optimizer,
  });
  return trainer.fitSync(classes(150), { epochs, batchSize: 150, seed: 1 });
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

  describe('mini-batches: previousBatchLoss', () => {
    // the legacy configuration: the loss meter, each reading alone (the 'EB/legacy' variant)
    const legacy = { informationMeter: 'loss', target: 'residual', averaging: 0, window: 0 } as const;
    const miniBatch = (base: 'sgd' | 'adam', previousBatchLoss?: boolean) => {
      const optimizer = new EntropyBalancedOptimizer({
        base,
        baseOptions: base === 'adam' ? { beta1: 0 } : {},
        learningRate: 1e-2,
        ...legacy,
      });
      const trainer = new Trainer({ model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }), loss, optimizer });
      const h = trainer.fitSync(classes(150), { epochs: 30, batchSize: 15, seed: 1, previousBatchLoss });
      const rates = h.steps.map((s) => s.report?.informationRate).filter((v) => typeof v === 'number');
      return { h, negative: rates.filter((r) => r < 0).length, readings: rates.length };
    };
    const loss = new SoftmaxCrossEntropy();

    test('who reads it: the entropy-balanced optimizer with the loss meter and wrappers around it; not the default gradient meter, not Adam', () => {
      expect(new EntropyBalancedOptimizer().readsPreviousBatchLoss).toBe(false);
      expect(new EntropyBalancedOptimizer(legacy).readsPreviousBatchLoss).toBe(true);
      expect(
        new EntropyBalancedOptimizer({ informationMeter: { kind: 'predictive-entropy', classes: 3 } })
          .readsPreviousBatchLoss,
      ).toBe(false);
      expect(new StabilizedOptimizer({ optimizer: new EntropyBalancedOptimizer(legacy) }).readsPreviousBatchLoss).toBe(
        true,
      );
      expect(new Adam().readsPreviousBatchLoss).toBe(false);
    });

    for (const base of ['sgd', 'adam'] as const) {
      test(`${base}: with it every reading measures one update (none negative) and the loss falls; without it η collapses`, () => {
        const on = miniBatch(base);
        const off = miniBatch(base, false);
        console.log(
          `[trainer, entropy-balanced ${base}, batches of 15] previousBatchLoss on: loss ${on.h.epochs[0].loss.toFixed(3)} → ` +
            `${on.h.epochs.at(-1)!.loss.toFixed(4)}, ${on.negative}/${on.readings} negative readings; off: ` +
            `${off.negative}/${off.readings} negative, final η ${off.h.steps.at(-1)!.learningRate.toExponential(1)}`,
        );
        expect(on.negative).toBe(0);
        expect(on.h.epochs.at(-1)!.loss).toBeLessThan(0.05 * on.h.epochs[0].loss);
        // half the batch-to-batch differences are sampling noise: the loop drives η to etaMin
        expect(off.negative).toBeGreaterThan(off.readings / 4);
        expect(off.h.steps.at(-1)!.learningRate).toBeLessThan(1e-6);
      });
    }

    test('the default rule (gradient meter) needs no previousBatchLoss: the loss falls and η stays in the working range', () => {
      const optimizer = new EntropyBalancedOptimizer();
      const trainer = new Trainer({ model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }), loss, optimizer });
      const h = trainer.fitSync(classes(150), { epochs: 30, batchSize: 15, seed: 1 });
      const etas = h.steps.map((s) => s.learningRate);
      console.log(
        `[trainer, entropy-balanced defaults, batches of 15] loss ${h.epochs[0].loss.toFixed(3)} → ` +
          `${h.epochs.at(-1)!.loss.toFixed(4)}, η ${etas[0].toExponential(1)} → ${etas.at(-1)!.toExponential(1)}`,
      );
      expect(h.steps.every((s) => s.report?.informationRate !== undefined)).toBe(true);
      expect(h.epochs.at(-1)!.loss).toBeLessThan(0.1 * h.epochs[0].loss);
      // grew from η₀ = 1e-3 and did not collapse
      expect(etas.at(-1)!).toBeGreaterThan(3e-3);
    });

    test('a resumed run continues with the saved after-update loss, bit-for-bit', () => {
      const dir = mkdtempSync(join(tmpdir(), 'cimm-pbl-'));
      try {
        const make = () =>
          new Trainer({
            model: mlp([2, 8, 3], { activation: 'tanh', seed: 2 }),
            loss,
            optimizer: new EntropyBalancedOptimizer({ learningRate: 1e-2, computeMeter: null, ...legacy }), // measured joules are timing
          });
        const fit = { epochs: 3, batchSize: 25, seed: 3 };
        const straight = make().fitSync(classes(100), fit);
        const path = join(dir, 'ck.json');
        make().fitSync(classes(100), { ...fit, maxSteps: 6, checkpoint: { path, every: 6 } });
        const resumed = make().fitSync(classes(100), { ...fit, resumeFrom: path });
        expect(JSON.parse(JSON.stringify(resumed))).toEqual(JSON.parse(JSON.stringify(straight)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
