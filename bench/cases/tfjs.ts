/**
 * Bench cases for cimm/tfjs (README, "Using cimm's optimizers in TensorFlow.js"): one
 * optimizer step over the variables of a tfjs-layers dense model, on TensorFlow.js's pure-JS
 * CPU backend, as `model.fit` makes it each batch (`optimizer.applyGradients` with one
 * gradient per variable; the gradients are fixed seeded tensors, so the forward and backward
 * passes, which are tfjs's whatever the optimizer, are not timed).
 *
 * Contenders: the adapter (`TfAdamW` with weightDecay 0, i.e. Adam; `TfEntropyBalanced` over
 * Adam) with cimm's arithmetic on each cimm backend (rows `rust`, `cpp`, `js`), and
 * TensorFlow.js's own `tf.train.adam` on the same model (row `tfjs-cpu`). Every contender
 * has its own model with the same seeded initial weights. Agreement after the first step:
 * cimm's backends bit for bit; tfjs's Adam within 1e-6 (it rounds differently; the weights
 * are ≤ 0.07 in magnitude, the step 1e-3).
 *
 * The adapter's step copies each variable out (dataSync), steps it with cimm and assigns it
 * back; tfjs's Adam runs about ten elementwise tensor ops per variable on the CPU backend,
 * each allocating its result. TensorFlow.js is loaded by the case's `prepare` (bench/run.ts
 * runs such cases last).
 */
import { createRequire } from 'node:module';
import type { BackendName } from '../../lib/kernels.js';
import type { BenchCase, BenchRow, Contender } from '../harness.js';
import { type BackendList, checkArray, onBackend, uniformF32 } from './common.js';

type TfCore = typeof import('@tensorflow/tfjs-core');
type TfLayers = typeof import('@tensorflow/tfjs-layers');
type CimmTfjs = typeof import('../../lib/tfjs/index.js');

const MODELS: [size: string, units: number[]][] = [
  ['mlp 4-16-3', [4, 16, 3]],
  ['mlp 784-512-512-10', [784, 512, 512, 10]],
];

const LR = 1e-3;

interface Loaded {
  tf: TfCore;
  layers: TfLayers;
  cimm: CimmTfjs;
}

const require = createRequire(import.meta.url);
let loading: Promise<Loaded> | undefined;

/** TensorFlow.js (core, layers, the CPU backend, active) and cimm/tfjs, loaded once. */
function load(): Promise<Loaded> {
  loading ??= (async () => {
    // required as cimm/tfjs requires tfjs-core: one instance (lib/tfjs/peer.ts)
    const tf = require('@tensorflow/tfjs-core') as TfCore;
    require('@tensorflow/tfjs-backend-cpu');
    const layers = require('@tensorflow/tfjs-layers') as TfLayers;
    const cimm = (await import('../../lib/tfjs/index.js')) as CimmTfjs;
    tf.env().set('IS_TEST', true); // no "install tfjs-node" notice
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
    return { tf, layers, cimm };
  })();
  return loading;
}

/** Why the cases cannot run here, or undefined when they can. */
function missingPeer(): string | undefined {
  for (const name of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu']) {
    try {
      require.resolve(name);
    } catch {
      return `${name} is not installed`;
    }
  }
  return undefined;
}

/** A dense model (tanh, softmax out) with seeded initial weights, and a gradient per variable. */
function build({ tf, layers }: Loaded, units: number[]) {
  const model = layers.sequential();
  for (let i = 1; i < units.length; i++) {
    model.add(
      layers.layers.dense({
        ...(i === 1 ? { inputShape: [units[0]] } : {}),
        units: units[i],
        activation: i === units.length - 1 ? 'softmax' : 'tanh',
        kernelInitializer: layers.initializers.glorotUniform({ seed: i }),
        biasInitializer: layers.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: 100 + i }),
      }),
    );
  }
  const variables = model.trainableWeights.map((w) => w.read() as import('@tensorflow/tfjs-core').Variable);
  const grads = variables.map((v, i) => ({
    name: v.name,
    tensor: tf.tensor(uniformF32(v.size, 60 + i), v.shape, 'float32'),
  }));
  return { variables, grads };
}

export function tfjsCases(backends: BackendList): BenchCase[] {
  const why = missingPeer();
  if (why) {
    console.log(`  (cimm/tfjs cases skipped: ${why})`);
    return [];
  }
  const cases: BenchCase[] = [];
  const exact = checkArray(0);
  const close = checkArray(1e-6);
  for (const [size, units] of MODELS) {
    for (const adapter of ['AdamW', 'EntropyBalanced'] as const) {
      const contenders: Contender[] = [];
      const prepare = async () => {
        const loaded = await load();
        const { tf, cimm } = loaded;
        for (const k of backends) {
          const { variables, grads } = build(loaded, units);
          const optimizer =
            adapter === 'AdamW'
              ? new cimm.TfAdamW({ learningRate: LR, weightDecay: 0 })
              : new cimm.TfEntropyBalanced({ learningRate: LR });
          contenders.push({
            backend: k.name,
            run: () =>
              onBackend(k.name as BackendName, () => {
                optimizer.applyGradients(grads, { loss: 1 });
                return variables[0];
              }),
          });
        }
        const { variables, grads } = build(loaded, units);
        const adam = tf.train.adam(LR, 0.9, 0.999, 1e-8);
        contenders.push({
          backend: 'tfjs-cpu',
          run: () => {
            adam.applyGradients(grads);
            return variables[0];
          },
        });
      };
      cases.push({
        kernel: `tfjs ${adapter} step`,
        size,
        check: (got, want, backend) => {
          const [g, w] = [got, want].map((t) => (t as { dataSync(): Float32Array }).dataSync());
          (backend === 'tfjs-cpu' ? close : exact)(g, w, backend);
        },
        contenders,
        prepare,
      });
    }
  }
  return cases;
}

/**
 * The targets for the adapter's step over the large model: within 1.5× of tfjs's own
 * Adam (the adapter on cimm's js backend), and on rust ≥ 5× tfjs's Adam.
 */
export function tfjsReport(rows: BenchRow[]): string[] {
  const lines: string[] = [];
  const target = (ok: boolean) => (ok ? 'met' : 'MISSED');
  for (const [size] of MODELS) {
    for (const adapter of ['AdamW', 'EntropyBalanced']) {
      const at = (backend: string) =>
        rows.find((r) => r.kernel === `tfjs ${adapter} step` && r.size === size && r.backend === backend);
      const [js, rust, peer] = [at('js'), at('rust'), at('tfjs-cpu')];
      if (!js || !peer) continue;
      const ms = (r: BenchRow) => `${(1000 / r.hz).toFixed(3)} ms`;
      const slower = peer.hz / js.hz;
      lines.push(
        `cimm/tfjs ${adapter} step, ${size}: tfjs Adam ${ms(peer)}, adapter on js ${ms(js)}` +
          (rust ? `, on rust ${ms(rust)}` : ''),
      );
      lines.push(
        `  adapter (js) within 1.5× of tfjs Adam: ${slower.toFixed(2)}× its time ${target(slower <= 1.5)}` +
          (rust
            ? `; rust ≥ 5× tfjs Adam: ${(rust.hz / peer.hz).toFixed(2)}× ${target(rust.hz / peer.hz >= 5)}` +
              ` (rust/js adapter ${(rust.hz / js.hz).toFixed(2)}×)`
            : ''),
      );
    }
  }
  return lines;
}
