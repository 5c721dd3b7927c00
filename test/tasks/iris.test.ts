/** Iris: the package's data, the stratified split, train-only standardization, gradients. */
import { describe, expect, test } from 'vitest';
import { IrisTask, irisData } from '../../lib/index.js';
import { descend, sampledGradientError } from './helpers.js';

describe('iris', () => {
  test('the dataset: 150 flowers, 50 per species, 4 positive measurements', () => {
    const { features, labels } = irisData();
    expect(labels.length).toBe(150);
    for (let c = 0; c < 3; c++) expect(labels.filter((l) => l === c).length).toBe(50);
    expect(features.length).toBe(600);
    for (const v of features) expect(v).toBeGreaterThan(0);
  });

  test('stratified split: the same share of every species is held out, seeded', () => {
    const task = new IrisTask({ testFraction: 0.2, seed: 1 });
    const { labels } = irisData();
    expect(task.testRows.length).toBe(30);
    for (let c = 0; c < 3; c++) expect([...task.testRows].filter((i) => labels[i] === c).length).toBe(10);
    expect(new Set([...task.trainRows, ...task.testRows]).size).toBe(150);
    expect(new IrisTask({ seed: 1 }).testRows).toEqual(task.testRows);
    expect(new IrisTask({ seed: 2 }).testRows).not.toEqual(task.testRows);
  });

  test('standardization uses training rows only', () => {
    const task = new IrisTask({ seed: 3 });
    const { features } = irisData();
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (const i of task.trainRows) s += features[i * 4 + j];
      expect(task.featureMean[j]).toBeCloseTo(s / task.trainRows.length, 12);
    }
  });

  test('analytic gradient matches finite differences (MLP and logistic regression)', () => {
    for (const hidden of [8, 0]) {
      const task = new IrisTask({ hidden, batchSize: 16 });
      // lib/nn computes in f32: finite differences on the largest-|g| coordinates of each
      // tensor (test/tasks/helpers.ts, the model tasks' check and tolerance)
      const x = Float64Array.from(task.initialParameters(4));
      expect(sampledGradientError(task, x, undefined)).toBeLessThan(2e-2);
      expect(sampledGradientError(task, x, 2)).toBeLessThan(2e-2);
    }
  });

  test('plain gradient descent lowers the loss; metrics are deterministic', () => {
    const task = new IrisTask();
    const x = task.initialParameters(0);
    const [before, after] = descend(task, x, 0.5, 20);
    expect(after).toBeLessThan(before);
    expect(task.metrics(x)).toEqual(task.metrics(Float32Array.from(x)));
    expect(task.target).toMatchObject({ metric: 'testAccuracy', direction: 'max' });
  });

  test('bad options name the parameter', () => {
    expect(() => new IrisTask({ testFraction: 1 })).toThrow(
      'Expected a finite number > 0 and <= 0.9 for testFraction but received 1 of type number',
    );
    expect(() => new IrisTask({ hidden: -1 })).toThrow('for hidden but received -1');
  });
});
