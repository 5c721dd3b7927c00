/**
 * Trainer (lib/train/trainer.ts): learning, validation split, early stopping, callbacks,
 * the history, atomic checkpoints and a resume that reproduces the uninterrupted run
 * bit-for-bit, and data errors with their row and column.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  Adam,
  EnergySystem,
  EntropyTracker,
  MeanSquaredError,
  mlp,
  SGD,
  SoftmaxCrossEntropy,
  StabilityController,
  Trainer,
} from '../lib/index.js';
import { classes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cimm-trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(opts: { stability?: boolean; energy?: boolean } = {}) {
  const model = mlp([2, 16, 3], { activation: 'tanh', seed: 4 });
  const optimizer = new Adam({ learningRate: 0.01 });
  return new Trainer({
    model,
    loss: new SoftmaxCrossEntropy(),
    optimizer,
    stability: opts.stability ? new StabilityController() : undefined,
    energy: opts.energy
      ? { system: new EnergySystem({ quadraturePoints: 8 }), target: new Float32Array(model.size) }
      : undefined,
    entropy: opts.energy ? new EntropyTracker() : undefined,
  });
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('Trainer', () => {
  test('fit learns a 3-class problem; history has steps and epochs with val loss', async () => {
    const t = setup();
    const h = await t.fit(classes(150), { epochs: 30, batchSize: 16, validationSplit: 0.2, seed: 1 });
    expect(h.epochs).toHaveLength(30);
    expect(h.steps).toHaveLength(30 * Math.ceil(120 / 16));
    expect(h.epochs[29].loss).toBeLessThan(h.epochs[0].loss * 0.3);
    expect(h.epochs[29].valLoss).toBeLessThan(0.3);
    expect(h.steps[0].learningRate).toBe(0.01);
    expect(h.stopReason).toBe('epochs');
  });

  test('energy, entropy and stability are recorded per step', async () => {
    const t = setup({ stability: true, energy: true });
    const h = await t.fit(classes(30), { epochs: 2, batchSize: 10 });
    for (const s of h.steps) {
      expect(Number.isFinite(s.energy)).toBe(true);
      expect(Number.isFinite(s.entropy)).toBe(true);
      expect(s.stabilityScale).toBeGreaterThan(0);
      expect(s.stabilityScale).toBeLessThanOrEqual(1);
    }
  });

  test('an optimizer report (lastReport) is recorded', async () => {
    const t = setup();
    (t.optimizer as unknown as { lastReport: () => object }).lastReport = () => ({ qpl: 0.5, dEdt: -1, note: 'x' });
    const h = await t.fit(classes(12), { epochs: 1, batchSize: 6 });
    expect(h.steps[0].report).toEqual({ qpl: 0.5, dEdt: -1 });
  });

  test('early stopping and callbacks', async () => {
    const t = setup();
    const seen: string[] = [];
    const h = await t.fit(classes(60), {
      epochs: 100,
      batchSize: 60,
      validationSplit: 0.5,
      earlyStopping: { patience: 0, minDelta: 10 },
      callbacks: { onStepEnd: () => seen.push('step'), onEpochEnd: () => seen.push('epoch') },
    });
    expect(h.stopReason).toBe('earlyStopping');
    expect(h.epochs).toHaveLength(2);
    expect(seen).toEqual(['step', 'epoch', 'step', 'epoch']);
    const t3 = setup();
    const h3 = await t3.fit(classes(60), {
      epochs: 5,
      batchSize: 10,
      callbacks: { onStepEnd: (e) => e.record.step === 2 && e.trainer.stop() },
    });
    expect(h3.stopReason).toBe('stopped');
    expect(h3.steps).toHaveLength(3);
  });

  for (const k of [5, 8, 13]) {
    test(`resume after ${k} steps reproduces the uninterrupted run bit-for-bit`, async () => {
      const data = classes(50);
      const fit = { epochs: 3, batchSize: 8, validationSplit: 0.1, seed: 9, earlyStopping: { patience: 5 } };
      const straight = setup({ stability: true, energy: true });
      const h1 = await straight.fit(data, fit);

      const path = join(dir, `ck-${k}.json`);
      const first = setup({ stability: true, energy: true });
      await first.fit(data, { ...fit, maxSteps: k, checkpoint: { path, every: k } });
      expect(first.history.steps).toHaveLength(k);

      const resumed = setup({ stability: true, energy: true });
      // Different starting parameters: the checkpoint must overwrite them.
      resumed.model.params['0.weight'].fill(0.5);
      const h2 = await resumed.fit(data, { ...fit, resumeFrom: path });
      expect(JSON.parse(JSON.stringify(h2))).toEqual(JSON.parse(JSON.stringify(h1)));
      for (const name of Object.keys(straight.model.params)) {
        expect(bits(resumed.model.params[name])).toEqual(bits(straight.model.params[name]));
      }
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  }

  test('checkpoint format', async () => {
    const path = join(dir, 'fmt.json');
    const t = setup();
    await t.fit(classes(20), { epochs: 1, batchSize: 10, checkpoint: { path } });
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file.format).toBe('cimm-checkpoint');
    expect(file.version).toBe(2);
    expect(file.kind).toBe('fit');
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    const body = file.body;
    expect(Object.keys(body.params)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(body.optimizer.kind).toBe('Adam');
    expect(body.progress.step).toBe(2);
    expect(body.model.layers[0].type).toBe('Dense');
  });

  test('resume rejects a checkpoint of another model or optimizer', async () => {
    const path = join(dir, 'other.json');
    await setup().fit(classes(20), { epochs: 1, batchSize: 10, checkpoint: { path } });
    const t = new Trainer({ model: mlp([2, 8, 3]), loss: new SoftmaxCrossEntropy(), optimizer: new Adam() });
    await expect(t.fit(classes(20), { resumeFrom: path })).rejects.toThrow(/params\["0.weight"\]/);
    const u = new Trainer({
      model: mlp([2, 16, 3], { activation: 'tanh' }),
      loss: new SoftmaxCrossEntropy(),
      optimizer: new SGD({ learningRate: 0.1 }),
    });
    await expect(u.fit(classes(20), { resumeFrom: path })).rejects.toThrow(/optimizer.kind/);
  });

  test('data errors name the row and column', async () => {
    const t = setup();
    const { x, y } = classes(30);
    x[17 * 2 + 1] = Number.NaN;
    await expect(t.fit({ x, y })).rejects.toThrow(
      'Expected finite values for data.x but received NaN at row 17, column 1',
    );
    const ok = classes(30);
    await expect(t.fit({ x: ok.x, y: ok.y.subarray(0, 29) })).rejects.toThrow(
      'Expected 30 rows (as many as data.x) for data.y',
    );
    ok.y[4] = 7;
    await expect(t.fit(ok)).rejects.toThrow(
      'Expected a class index in [0, 3) for data.y but received 7 at row 4 of type number',
    );
    await expect(t.fit({ x: [[1, 2], [3]], y: [0, 1] })).rejects.toThrow(
      'Expected a row of 2 numbers (row 1) for data.x[1]',
    );
    await expect(
      t.fit({
        x: [
          [1, 2],
          [3, 'a' as unknown as number],
        ],
        y: [0, 1],
      }),
    ).rejects.toThrow('Expected a number for data.x but received a at row 1, column 1 of type string');
    await expect(t.fit({ x: new Float32Array(5), y: [0] })).rejects.toThrow(/rows×2 values for data.x/);
    const m = new Trainer({
      model: mlp([2, 2]),
      loss: new MeanSquaredError(),
      optimizer: new SGD({ learningRate: 0.1 }),
    });
    await expect(m.fit({ x: [[0, 0]], y: [[1, Number.POSITIVE_INFINITY]] })).rejects.toThrow(
      'Expected finite values for data.y but received Infinity at row 0, column 1',
    );
    await expect(t.fit(classes(10), { earlyStopping: { monitor: 'valLoss' } })).rejects.toThrow(
      /earlyStopping.monitor/,
    );
  });
});

describe('Trainer with the entropy-balanced optimizer', () => {
  test('feeds it the loss each step and records its per-step report (η, dE/dt, dI/dt, QPL)', async () => {
    const { EntropyBalancedOptimizer } = await import('../lib/index.js');
    const t = new Trainer({
      model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }),
      loss: new SoftmaxCrossEntropy(),
      optimizer: new EntropyBalancedOptimizer({ base: 'adam', learningRate: 0.01 }),
    });
    const h = await t.fit(classes(60), { epochs: 3, batchSize: 60, seed: 1 });
    expect(h.steps.length).toBe(3);
    for (const s of h.steps) {
      expect(s.report).not.toBeNull();
      expect(Number.isFinite(s.report?.eta)).toBe(true);
      expect(s.report?.eta).toBeGreaterThan(0);
      expect('qpl' in (s.report ?? {})).toBe(true);
    }
    expect(h.steps.at(-1)?.loss).toBeLessThan(h.steps[0].loss);
  });
});
