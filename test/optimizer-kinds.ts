/**
 * One small problem and every kind of optimizer state lib/optim/state.ts handles, for the
 * saved-state tests (state-corruption, optim-step-transaction).
 */
import {
  Adam,
  AdamW,
  CosineDecay,
  EntropyBalancedOptimizer,
  Prodigy,
  QDTOptimizer,
  type RealTensorMap,
  SGD,
  StabilizedOptimizer,
  withRule,
} from '../lib/index.js';
import type { AnyOptimizer } from '../lib/optim/wrapper.js';
import { values64 } from './helpers.js';

/** ½ Σ (p − t)² over an f32 and an f64 tensor (one state holds both dtypes); gradients in place. */
export function problem(f64 = true) {
  const B = f64 ? Float64Array : Float32Array;
  const params: RealTensorMap = { w: Float32Array.from(values64(5, 1)), b: B.from(values64(3, 2)) };
  const target = { w: values64(5, 3), b: values64(3, 4) };
  const grads: RealTensorMap = { w: new Float32Array(5), b: new B(3) };
  const evaluate = () => {
    let loss = 0;
    for (const k of ['w', 'b'] as const) {
      for (let i = 0; i < params[k].length; i++) {
        const d = params[k][i] - target[k][i];
        grads[k][i] = d;
        loss += 0.5 * d * d;
      }
    }
    return loss;
  };
  return { params, grads, evaluate };
}

/** Every kind of optimizer state: the plain optimizers' slots and every wrapper's own state. */
export const OPTIMIZER_KINDS: [string, () => AnyOptimizer][] = [
  ['SGD', () => new SGD({ learningRate: 0.1 })],
  ['SGD+momentum', () => new SGD({ learningRate: 0.1, momentum: 0.9 })],
  ['SGD+Nesterov', () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true })],
  ['Adam', () => new Adam({ learningRate: 0.01 })],
  ['Adam+AMSGrad', () => new Adam({ learningRate: 0.01, amsgrad: true })],
  ['AdamW', () => new AdamW({ learningRate: 0.01 })],
  ['Prodigy', () => new Prodigy()],
  ['EntropyBalanced', () => new EntropyBalancedOptimizer()],
  // without the compute meter (its state is the process's CPU time: two twins differ)
  ['EntropyBalanced(sgd)', () => new EntropyBalancedOptimizer({ base: 'sgd', computeMeter: null })],
  ['EntropyBalanced(loss meter)', () => new EntropyBalancedOptimizer({ informationMeter: 'loss', computeMeter: null })],
  ['QDT', () => new QDTOptimizer({ base: 'adam', learningRate: 0.05 })],
  ['Stabilized(SGD)', () => new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.3, momentum: 0.5 }) })],
  [
    'RuleDriven(Adam, CosineDecay)',
    () => withRule(new Adam(), new CosineDecay({ learningRate: 0.01, totalSteps: 100 })),
  ],
];

/** Whether two optimizers of this kind in the same state stay bit-identical (no meter of the process's CPU time). */
export const deterministic = (name: string) => name !== 'EntropyBalanced';

/** An optimizer of `make` after a few steps on problem(f64) (every slot and counter in use), with the problem. */
export function trainedWith(make: () => AnyOptimizer, f64 = true) {
  const problemNow = problem(f64);
  const opt = make();
  for (let t = 0; t < 4; t++) opt.step(problemNow.params, problemNow.grads, { loss: problemNow.evaluate() });
  return { opt, ...problemNow };
}

/** An optimizer of `make` after a few steps (every slot and counter in use). */
export function trained(make: () => AnyOptimizer, f64 = true): AnyOptimizer {
  return trainedWith(make, f64).opt;
}
