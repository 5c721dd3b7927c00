/**
 * Models (lib/nn): Dense, Activation, Sequential, mlp, losses, on every backend.
 *
 * - Forward against an independent f64 implementation: |Δ| ≤ 1e-4·(1 + |y|) (f32 GEMMs of
 *   up to 37 terms vs f64 math).
 * - Gradients of the mean loss w.r.t. every parameter against central finite differences
 *   (h = 1e-6) of that f64 implementation: |g − g_fd| ≤ 1e-3·(|g_fd| + rms(g_fd)). The f32
 *   backward carries relative errors near 1e-6 of its largest terms; the f64 difference
 *   about 1e-9. ReLU nets are checked on inputs whose pre-activations stay ≥ 1e-3 from 0
 *   (so no kink lies within h).
 */
import { describe, expect, test } from 'vitest';
import {
  Activation,
  Adam,
  Dense,
  FractalLayer,
  MeanSquaredError,
  mlp,
  Sequential,
  SoftmaxCrossEntropy,
} from '../lib/index.js';
import type { ActivationName, Kernels } from '../lib/kernels.js';
import type { Loss } from '../lib/nn/losses.js';
import { describeEachBackend, randomF32, sigma } from './helpers.js';

interface RefLayer {
  w: Float64Array;
  b: Float64Array;
  inSize: number;
  outSize: number;
  act: ActivationName;
}

/** f64 forward of Dense layers; returns the output and the smallest |pre-activation| of relu layers. */
function refForward(layers: RefLayer[], x: Float64Array, batch: number): { y: Float64Array; margin: number } {
  let h = x;
  let margin = Number.POSITIVE_INFINITY;
  for (const l of layers) {
    const out = new Float64Array(batch * l.outSize);
    for (let r = 0; r < batch; r++) {
      for (let o = 0; o < l.outSize; o++) {
        let s = l.b[o];
        for (let i = 0; i < l.inSize; i++) s += h[r * l.inSize + i] * l.w[o * l.inSize + i];
        if (l.act === 'relu') margin = Math.min(margin, Math.abs(s));
        out[r * l.outSize + o] = sigma[l.act](s);
      }
    }
    h = out;
  }
  return { y: h, margin };
}

function refLoss(name: 'mse' | 'ce', y: Float64Array, t: Float64Array, batch: number): number {
  if (name === 'mse') {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += (y[i] - t[i]) ** 2;
    return s / y.length;
  }
  const c = y.length / batch;
  let s = 0;
  for (let r = 0; r < batch; r++) {
    let z = 0;
    for (let j = 0; j < c; j++) z += Math.exp(y[r * c + j]);
    s += Math.log(z) - y[r * c + t[r]];
  }
  return s / batch;
}

function toRef(model: Sequential): RefLayer[] {
  return model.layers.map((l) => {
    const d = l as Dense;
    return {
      w: Float64Array.from(d.weight),
      b: Float64Array.from(d.bias),
      inSize: d.inputSize,
      outSize: d.outputSize,
      act: d.config.activation,
    };
  });
}

describeEachBackend('nn', ({ kernels: k }) => {
  test('Dense forward matches the f64 definition', () => {
    for (const act of ['identity', 'tanh', 'sigmoid', 'relu'] as const) {
      const layer = new Dense({ inputSize: 37, outputSize: 11, activation: act, seed: 3, kernels: k });
      layer.bias.set(randomF32(11, 9, 0.5));
      const x = randomF32(5 * 37, 1);
      const y = layer.forward(x, 5);
      const want = refForward(toRef(new Sequential([layer])), Float64Array.from(x), 5).y;
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(y[i] - want[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[i])));
    }
  });

  for (const [lossName, act] of [
    ['mse', 'tanh'],
    ['ce', 'sigmoid'],
    ['ce', 'relu'],
    ['mse', 'identity'],
  ] as const) {
    test(`gradients match f64 finite differences (${lossName}, ${act})`, () => {
      const batch = 4;
      const sizes = [6, 8, 5, 3];
      const model = mlp(sizes, { activation: act, seed: 11, kernels: k });
      for (const l of model.layers) (l as Dense).bias.set(randomF32(l.outputSize, l.outputSize + 17, 0.3));
      const x = randomF32(batch * 6, 5);
      const loss: Loss = lossName === 'mse' ? new MeanSquaredError() : new SoftmaxCrossEntropy();
      const t = lossName === 'mse' ? randomF32(batch * 3, 8) : Float32Array.from([0, 2, 1, 2]);
      const pred = model.forward(x, batch);
      const g = new Float32Array(pred.length);
      loss.evaluate(pred, t, batch, g);
      model.backward(g);

      const ref = toRef(model);
      const x64 = Float64Array.from(x);
      const t64 = Float64Array.from(t);
      const f = () => refLoss(lossName, refForward(ref, x64, batch).y, t64, batch);
      expect(refForward(ref, x64, batch).margin).toBeGreaterThan(1e-3);
      const h = 1e-6;
      for (const [li, l] of ref.entries()) {
        const layer = model.layers[li] as Dense;
        for (const [arr, grad] of [
          [l.w, layer.gradWeight],
          [l.b, layer.gradBias],
        ] as const) {
          const fd = new Float64Array(arr.length);
          for (let i = 0; i < arr.length; i++) {
            const v = arr[i];
            arr[i] = v + h;
            const up = f();
            arr[i] = v - h;
            const down = f();
            arr[i] = v;
            fd[i] = (up - down) / (2 * h);
          }
          const rms = Math.sqrt(fd.reduce((s, v) => s + v * v, 0) / fd.length);
          for (let i = 0; i < fd.length; i++) {
            expect(Math.abs(grad[i] - fd[i])).toBeLessThanOrEqual(1e-3 * (Math.abs(fd[i]) + rms) + 1e-12);
          }
        }
      }
    });
  }

  test('Activation layer equals Dense with a fused activation', () => {
    const fused = new Dense({ inputSize: 9, outputSize: 4, activation: 'tanh', seed: 2, kernels: k });
    const plain = new Dense({ inputSize: 9, outputSize: 4, activation: 'identity', seed: 2, kernels: k });
    const model = new Sequential([plain, new Activation({ size: 4, activation: 'tanh', kernels: k })]);
    const x = randomF32(3 * 9, 4);
    expect(Array.from(model.forward(x, 3))).toEqual(Array.from(fused.forward(x, 3)));
    const g = randomF32(12, 6);
    model.backward(g);
    fused.backward(g);
    expect(Array.from(plain.gradWeight)).toEqual(Array.from(fused.gradWeight));
  });

  test('a FractalLayer trains inside a Sequential model', () => {
    const model = new Sequential([
      new Dense({ inputSize: 4, outputSize: 6, activation: 'tanh', seed: 1, kernels: k }),
      new FractalLayer({ inputSize: 6, outputSize: 5, seed: 2, kernels: k }),
      new Dense({ inputSize: 5, outputSize: 2, seed: 3, kernels: k }),
    ]);
    expect(Object.keys(model.params)).toEqual(['0.weight', '0.bias', '1.z', '1.phi', '2.weight', '2.bias']);
    const x = randomF32(16 * 4, 7);
    const t = randomF32(16 * 2, 8, 0.5);
    const mse = new MeanSquaredError();
    const opt = new Adam({ learningRate: 0.02 });
    const g = new Float32Array(32);
    const first = mse.evaluate(model.forward(x, 16), t, 16);
    for (let i = 0; i < 100; i++) {
      mse.evaluate(model.forward(x, 16), t, 16, g);
      model.backward(g);
      opt.step(model.params, model.grads);
      model.afterUpdate();
    }
    expect(mse.evaluate(model.forward(x, 16), t, 16)).toBeLessThan(first * 0.5);
  });
});

describe('nn (seeds, buffers, losses, errors)', () => {
  test('initialization is reproducible from the seed; Glorot and He scales', () => {
    const a = mlp([30, 20, 4], { seed: 5 });
    const b = mlp([30, 20, 4], { seed: 5 });
    const c = mlp([30, 20, 4], { seed: 6 });
    expect(a.params['0.weight']).toEqual(b.params['0.weight']);
    expect(a.params['0.weight']).not.toEqual(c.params['0.weight']);
    const he = new Dense({ inputSize: 400, outputSize: 400, activation: 'relu' });
    const var_ = he.weight.reduce((s, v) => s + v * v, 0) / he.weight.length;
    expect(var_).toBeCloseTo(2 / 400, 3);
    const gl = new Dense({ inputSize: 400, outputSize: 200 });
    expect(Math.max(...gl.weight.map(Math.abs))).toBeLessThanOrEqual(Math.fround(Math.sqrt(6 / 600)));
  });

  test('forward reuses its buffers per batch size (no allocation in a step)', () => {
    const model = mlp([5, 7, 3], { seed: 1 });
    const x = randomF32(10, 1);
    const y1 = model.forward(x, 2);
    const y2 = model.forward(x, 2);
    expect(y1).toBe(y2);
  });

  test('softmax cross-entropy is stable for huge logits', () => {
    const ce = new SoftmaxCrossEntropy();
    const g = new Float32Array(3);
    const l = ce.evaluate(Float32Array.from([1e30, 0, -1e30]), Float32Array.from([1]), 1, g);
    expect(l).toBeCloseTo(1e30, -25);
    expect(Array.from(g)).toEqual([1, -1, 0]);
    expect(ce.evaluate(Float32Array.from([2, 2]), Float32Array.from([0]), 1)).toBeCloseTo(Math.LN2, 12);
  });

  test('errors name the parameter', () => {
    expect(() => mlp([4], {})).toThrow('Expected an array of at least 2 layer sizes for sizes but received Array(1)');
    expect(() => new Dense({ inputSize: 3, outputSize: 2, activation: 'gelu' as ActivationName })).toThrow(
      /for activation but received "gelu"/,
    );
    expect(
      () => new Sequential([new Dense({ inputSize: 3, outputSize: 2 }), new Dense({ inputSize: 4, outputSize: 1 })]),
    ).toThrow("Expected 2 (the previous layer's outputSize) for layers[1].inputSize but received 4 of type number");
    expect(() => mlp([3, 2]).forward(new Float32Array(5), 2)).toThrow(/for input/);
    expect(() => new SoftmaxCrossEntropy().evaluate(new Float32Array(4), Float32Array.from([0, 2]), 2)).toThrow(
      'Expected a class index in [0, 2) for labels but received 2 at row 1 of type number',
    );
    expect(() => new Dense({ inputSize: 3, outputSize: 2, kernels: {} as Kernels })).toThrow(/for kernels/);
  });
});

describe('Sequential config round trip', () => {
  test('fromConfig(getConfig()) rebuilds the same model from its seeds', () => {
    const a = new Sequential([
      new Dense({ inputSize: 4, outputSize: 6, activation: 'tanh', seed: 1 }),
      new FractalLayer({ inputSize: 6, outputSize: 5, seed: 2 }),
      new Activation({ size: 5, activation: 'relu' }),
      new Dense({ inputSize: 5, outputSize: 2, seed: 3 }),
    ]);
    const b = Sequential.fromConfig(JSON.parse(JSON.stringify(a.getConfig())));
    expect(b.getConfig()).toEqual(a.getConfig());
    for (const name of Object.keys(a.params)) expect(b.params[name]).toEqual(a.params[name]);
    expect(() => Sequential.fromConfig({ layers: [{ type: 'Conv' }] })).toThrow(/for config.layers\[0\].type/);
  });
});
