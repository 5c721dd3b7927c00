/**
 * Float64 parameters through the optimizers (docs/theory.md, "Float64 parameters"): every
 * optimizer — SGD, Adam, AdamW, Prodigy, the entropy-balanced and QDT rules (rule-driven),
 * the stabilized wrapper — steps Float64Array parameters with f64 gradients, keeps its state
 * in f64, and saves and restores it with the dtype recorded.
 *
 * Checks: a Trainer-free loop on a quadratic converges for each optimizer; its trajectory is
 * bit-identical on js, Rust and C++ (as for f32); f64 reaches what f32 cannot (SGD to 1e-12 of
 * the minimum); state round-trips bit for bit through serializeState (format version 2 when
 * a tensor is f64, version 1 byte for byte otherwise) and a restored optimizer continues
 * the uninterrupted run bit for bit; mixing dtypes is an error naming the array, with
 * nothing changed.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { backendInfo, setBackend } from '../lib/backend.js';
import {
  Adam,
  AdamW,
  EntropyBalancedOptimizer,
  encodeOptimizerState,
  Prodigy,
  QDTOptimizer,
  type RealTensorMap,
  restoreOptimizer,
  SGD,
  StabilizedOptimizer,
} from '../lib/index.js';
import type { BackendName } from '../lib/kernels.js';
import type { AnyOptimizer } from '../lib/optim/wrapper.js';
import { backends, expectError, values64 } from './helpers.js';

const initial = backendInfo().name;
afterEach(() => setBackend(initial));

/** L = ½ Σ s_i (p_i − t_i)² over two tensors (lengths off the SIMD widths), in f64; gradients in place. */
function quadratic() {
  const params: Record<string, Float64Array> = { w: values64(37, 11), b: values64(5, 12) };
  const target = { w: values64(37, 13), b: values64(5, 14) };
  const scale = { w: values64(37, 15).map((v) => 0.5 + Math.abs(v)), b: Float64Array.of(1, 2, 1.5, 0.7, 1.2) };
  const grads: Record<string, Float64Array> = { w: new Float64Array(37), b: new Float64Array(5) };
  const evaluate = () => {
    let loss = 0;
    for (const k of ['w', 'b'] as const) {
      for (let i = 0; i < params[k].length; i++) {
        const d = params[k][i] - target[k][i];
        grads[k][i] = scale[k][i] * d;
        loss += 0.5 * scale[k][i] * d * d;
      }
    }
    return loss;
  };
  return { params, grads, evaluate };
}

/** [name, make, steps, the loss reduction reached, whether the trajectory is bit-identical across backends]. */
const MAKERS: [string, () => AnyOptimizer, number, number, boolean][] = [
  ['SGD (momentum, Nesterov)', () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }), 300, 1e-3, true],
  ['Adam', () => new Adam({ learningRate: 0.05 }), 600, 1e-3, true],
  ['AdamW', () => new AdamW({ learningRate: 0.05, weightDecay: 0 }), 600, 1e-3, true],
  ['Prodigy', () => new Prodigy(), 600, 1e-3, true],
  ['EntropyBalanced', () => new EntropyBalancedOptimizer(), 600, 1e-3, true],
  // QDT's η reads E(x, y) through the energy kernels (vectorized cos/exp: equal across
  // backends to a tolerance, not bit for bit, in f32 as in f64), and it converges slowly here
  ['QDT', () => new QDTOptimizer({ base: 'adam', learningRate: 0.05 }), 600, 0.1, false],
  [
    'Stabilized(SGD)',
    () => new StabilizedOptimizer({ optimizer: new SGD({ learningRate: 0.3, momentum: 0.5 }) }),
    300,
    1e-3,
    true,
  ],
];

/** Runs `steps` steps; returns the losses and the final parameters. */
function train(make: () => AnyOptimizer, steps: number) {
  const { params, grads, evaluate } = quadratic();
  const opt = make();
  const losses: number[] = [];
  for (let t = 0; t < steps; t++) {
    const loss = evaluate();
    losses.push(loss);
    opt.step(params as RealTensorMap, grads as RealTensorMap, { loss });
  }
  losses.push(evaluate());
  return { losses, params, opt };
}

describe.each(MAKERS)('%s on Float64Array parameters', (_name, make, steps, reduction, identical) => {
  test('converges on a quadratic; state tensors are Float64Arrays', () => {
    const { losses, opt } = train(make, steps);
    expect(losses.at(-1)!).toBeLessThan(reduction * losses[0]);
    const tensors = Object.values(opt.state().tensors);
    for (const t of tensors) expect(t).toBeInstanceOf(Float64Array);
  });

  test.runIf(identical)('the trajectory is bit-identical on every backend', () => {
    const runs = new Map<BackendName, string>();
    for (const b of backends) {
      setBackend(b.name);
      const { losses, params } = train(make, 60);
      runs.set(b.name, JSON.stringify([losses, [...params.w], [...params.b]]));
    }
    expect(new Set(runs.values()).size, [...runs.keys()].join(', ')).toBe(1);
  });

  test('serializeState → restoreOptimizer continues the run bit for bit (format version 3)', () => {
    const a = quadratic();
    const b = quadratic();
    const [first, second] = [make(), make()];
    for (let t = 0; t < 20; t++) {
      const loss = a.evaluate();
      first.step(a.params as RealTensorMap, a.grads as RealTensorMap, { loss });
      b.evaluate();
      second.step(b.params as RealTensorMap, b.grads as RealTensorMap, { loss });
    }
    const bytes = second.serializeState();
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('CIMMOPT3');
    const restored = restoreOptimizer(bytes);
    for (const [k, t] of Object.entries(second.state().tensors)) {
      expect([...restored.state().tensors[k]]).toEqual([...t]);
      expect(restored.state().tensors[k]).toBeInstanceOf(Float64Array);
    }
    for (let t = 0; t < 10; t++) {
      const loss = a.evaluate();
      first.step(a.params as RealTensorMap, a.grads as RealTensorMap, { loss });
      b.evaluate();
      restored.step(b.params as RealTensorMap, b.grads as RealTensorMap, { loss });
    }
    expect([...b.params.w]).toEqual([...a.params.w]);
    expect([...b.params.b]).toEqual([...a.params.b]);
  });
});

describe('f64 against f32', () => {
  test('plain SGD reaches 1e-12 of the minimum in f64; in f32 it stalls at f32 resolution', () => {
    const run = (Ctor: Float32ArrayConstructor | Float64ArrayConstructor) => {
      const target = Ctor.from(values64(64, 3));
      const p = new Ctor(64);
      const g = new Ctor(64);
      const opt = new SGD({ learningRate: 0.5 });
      for (let t = 0; t < 200; t++) {
        for (let i = 0; i < 64; i++) g[i] = p[i] - target[i];
        opt.step({ p }, { p: g });
      }
      return Math.max(...p.map((v, i) => Math.abs(v - target[i])));
    };
    expect(run(Float64Array)).toBeLessThan(1e-12);
    expect(run(Float32Array)).toBeGreaterThan(0);
  });

  test('versions 1 (f32 only) and 2 are still written on request and still load; version 1 refuses an f64 tensor', () => {
    const opt = new Adam();
    opt.step({ w: new Float32Array(3) }, { w: Float32Array.of(1, 2, 3) });
    const v1 = encodeOptimizerState(opt.state(), { version: 1 });
    expect(new TextDecoder().decode(v1.subarray(0, 8))).toBe('CIMMOPT1');
    for (const bytes of [v1, encodeOptimizerState(opt.state(), { version: 2 })])
      expect(restoreOptimizer(bytes).serializeState()).toEqual(opt.serializeState());
    const f64 = new Adam();
    f64.step({ w: new Float64Array(3) }, { w: Float64Array.of(1, 2, 3) });
    expect(() => encodeOptimizerState(f64.state(), { version: 1 })).toThrow(/version 1 holds only f32 tensors/);
  });

  test('one optimizer may hold f32 and f64 parameters side by side', () => {
    const opt = new Adam({ learningRate: 0.1 });
    const params = { a: new Float32Array(4), b: new Float64Array(4) };
    opt.step(params, { a: Float32Array.of(1, 2, 3, 4), b: Float64Array.of(1, 2, 3, 4) });
    const state = opt.state().tensors;
    expect(state['a/m']).toBeInstanceOf(Float32Array);
    expect(state['b/m']).toBeInstanceOf(Float64Array);
    const restored = restoreOptimizer(opt.serializeState());
    expect(restored.state().tensors['a/v']).toBeInstanceOf(Float32Array);
    expect([...restored.state().tensors['b/v']]).toEqual([...state['b/v']]);
  });
});

describe('dtype errors name the array and change nothing', () => {
  test('a gradient of the other dtype', () => {
    const opt = new Adam();
    const p = Float64Array.of(1, 2);
    expectError(
      () => opt.step({ w: p }, { w: Float32Array.of(1, 1) }),
      'grads["w"]',
      'Expected a Float64Array of length 2 (the dtype of params["w"]) for grads["w"] but received Float32Array(2) of type Float32Array',
    );
    expect([...p]).toEqual([1, 2]);
    expect(opt.iterations).toBe(0);
  });

  test('a parameter whose dtype changed since its state was made', () => {
    const opt = new SGD({ learningRate: 0.1, momentum: 0.9 });
    opt.step({ w: Float64Array.of(1, 2) }, { w: Float64Array.of(1, 1) });
    expectError(
      () => opt.step({ w: Float32Array.of(1, 2) }, { w: Float32Array.of(1, 1) }),
      'params["w"]',
      /Expected a Float64Array of length 2 \(the dtype of its optimizer state\)/,
    );
  });

  test('a measured step with a snapshot of the other dtype', () => {
    const opt = new Adam();
    expectError(
      () =>
        opt.measuredStep(
          { w: Float64Array.of(1, 2) },
          { w: Float64Array.of(1, 1) },
          { w: new Float32Array(2) },
          new Float64Array(3),
        ),
      'before["w"]',
      /the dtype of params\["w"\]/,
    );
  });

  test('wrappers check the gradients against their parameters too', () => {
    for (const opt of [new EntropyBalancedOptimizer(), new StabilizedOptimizer(), new QDTOptimizer()]) {
      expectError(
        () => opt.step({ w: Float64Array.of(1, 2) }, { w: Float32Array.of(1, 1) }, { loss: 1 }),
        'grads["w"]',
      );
    }
  });

  test('a saved state whose tensors of one parameter mix dtypes', () => {
    const opt = new Adam();
    opt.step({ w: Float64Array.of(1, 2) }, { w: Float64Array.of(1, 1) });
    const state = opt.state();
    state.tensors['w/v'] = new Float32Array(2);
    expectError(
      () => new Adam().loadState(state),
      'state.tensors["w/v"]',
      /the dtype of the parameter's other state tensors/,
    );
  });
});
