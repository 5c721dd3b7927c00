/** Modular addition: data, split, MLP gradients, determinism, errors. */
import { describe, expect, test } from 'vitest';
import { ModularAdditionTask } from '../../lib/index.js';
import { Random } from '../../lib/random.js';
import { descend, sampledGradientError } from './helpers.js';

describe('modular addition', () => {
  test('every pair once, a disjoint seeded split of the requested size', () => {
    const task = new ModularAdditionTask({ modulus: 11, trainFraction: 0.7, seed: 3 });
    const all = [...task.trainPairs, ...task.heldOutPairs].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 121 }, (_, i) => i));
    expect(task.trainPairs.length).toBe(Math.round(0.7 * 121));
    const again = new ModularAdditionTask({ modulus: 11, trainFraction: 0.7, seed: 3 });
    expect(again.trainPairs).toEqual(task.trainPairs);
    const other = new ModularAdditionTask({ modulus: 11, trainFraction: 0.7, seed: 4 });
    expect(other.trainPairs).not.toEqual(task.trainPairs);
  });

  test('parameter count: hidden·2p + hidden + p·hidden + p', () => {
    const task = new ModularAdditionTask({ modulus: 23, hidden: 64 });
    expect(task.dimension).toBe(64 * 46 + 64 + 23 * 64 + 23);
  });

  for (const activation of ['square', 'tanh', 'relu'] as const) {
    test(`analytic gradient matches finite differences (${activation}, full batch and a mini-batch)`, () => {
      const task = new ModularAdditionTask({ modulus: 5, hidden: 6, activation, l2: 0.01, batchSize: 7 });
      // lib/nn computes in f32: finite differences on the largest-|g| coordinates of each
      // tensor (test/tasks/helpers.ts, the model tasks' check and tolerance)
      const params = Float64Array.from(task.initialParameters(1));
      expect(sampledGradientError(task, params, undefined)).toBeLessThan(2e-2);
      expect(sampledGradientError(task, params, task.batchCount - 1)).toBeLessThan(2e-2);
    });
  }

  test('the full-batch gradient is the size-weighted mean of the batch gradients', () => {
    const task = new ModularAdditionTask({ modulus: 5, hidden: 4, batchSize: 5, l2: 0 });
    task.shuffleBatches(new Random(9));
    const params = task.initialParameters(2);
    const full = new Float64Array(task.dimension);
    const part = new Float64Array(task.dimension);
    const sum = new Float64Array(task.dimension);
    const fullLoss = task.evaluate(params, full);
    let lossSum = 0;
    const n = task.trainPairs.length;
    for (let b = 0; b < task.batchCount; b++) {
      const size = Math.min(5, n - b * 5);
      lossSum += (size / n) * task.evaluate(params, part, b);
      for (let i = 0; i < sum.length; i++) sum[i] += (size / n) * part[i];
    }
    // f32 network, f64 sums: equal to f32 rounding of the loss and the gradient's scale
    expect(Math.abs(lossSum - fullLoss)).toBeLessThan(1e-6 * fullLoss);
    const scale = Math.max(...full.map(Math.abs));
    for (let i = 0; i < sum.length; i++) expect(Math.abs(sum[i] - full[i])).toBeLessThan(1e-6 * scale);
  });

  test('plain gradient descent lowers the loss', () => {
    const task = new ModularAdditionTask({ modulus: 7, hidden: 16 });
    const [before, after] = descend(task, task.initialParameters(0), 0.05, 30);
    expect(after).toBeLessThan(before);
  });

  test('metrics: accuracies in [0, 1], deterministic for a seed', () => {
    const task = new ModularAdditionTask({ modulus: 7, hidden: 8 });
    const m = task.metrics(task.initialParameters(5));
    expect(m.heldOutAccuracy).toBeGreaterThanOrEqual(0);
    expect(m.heldOutAccuracy).toBeLessThanOrEqual(1);
    expect(task.metrics(task.initialParameters(5))).toEqual(m);
    expect(task.initialParameters(5)).toEqual(task.initialParameters(5));
    expect(task.initialParameters(5)).not.toEqual(task.initialParameters(6));
    expect(task.target).toMatchObject({ metric: 'heldOutAccuracy', direction: 'max' });
  });

  test('bad input names the parameter', () => {
    expect(() => new ModularAdditionTask({ modulus: 1 })).toThrow(
      'Expected an integer >= 2 and <= 1000 for modulus but received 1 of type number',
    );
    expect(() => new ModularAdditionTask({ activation: 'gelu' as never })).toThrow(
      'Expected one of "tanh", "relu", "square" for activation but received "gelu" of type string',
    );
    expect(() => new ModularAdditionTask({ trainFraction: 0 })).toThrow('for trainFraction but received 0');
    const task = new ModularAdditionTask({ modulus: 5, hidden: 2 });
    expect(() => task.evaluate(new Float32Array(3))).toThrow(
      `Expected a Float32Array or Float64Array of length ${task.dimension} for params but received Float32Array(3) of type Float32Array`,
    );
    const params = task.initialParameters(0);
    expect(() => task.evaluate(params, new Float32Array(1))).toThrow('for grad but received Float32Array(1)');
    expect(() => task.evaluate(params, undefined, 1)).toThrow(
      'Expected an integer >= 0 and <= 0 for batch but received 1 of type number',
    );
    params[3] = Number.NaN;
    expect(() => task.evaluate(params)).toThrow(
      `Expected finite values for params but received NaN at index 3 of Float32Array(${task.dimension}) of type Float32Array`,
    );
  });
});
