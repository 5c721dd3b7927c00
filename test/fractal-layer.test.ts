/**
 * FractalLayer (design eq. 9) on every backend: the forward pass against an independent f64
 * implementation of the equation, and every gradient (input, base Z, attention logits φ)
 * against central finite differences of that f64 implementation.
 *
 * Tolerances: forward |Δ| ≤ 2e-5·(1 + |y|) (f32 kernels vs f64 math); gradients
 * |g − g_fd| ≤ 2e-4·(|g_fd| + rms(g_fd)) — the f32 backward pass carries relative errors of
 * about 1e-6 of its largest terms, the f64 central difference (h = 1e-6) about 1e-9.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setBackend } from '../lib/backend.js';
import { fractalOffset } from '../lib/fractal.js';
import { FractalLayer, type FractalLayerOptions } from '../lib/index.js';
import type { ActivationName } from '../lib/kernels.js';
import { primeTable } from '../lib/primes.js';
import { describeEachBackend, randomF32, sigma } from './helpers.js';

/** Eq. 9 in f64, straight from the definition (levels, softmax, L separate products). */
function forward64(
  layer: FractalLayer,
  input: Float64Array,
  batch: number,
  z: Float64Array,
  phi: Float64Array,
): Float64Array {
  const { inputSize: d, outputSize: o, levels: L, activation, start, weights } = layer.config;
  const p = primeTable(L);
  const max = Math.max(...phi);
  const e = [...phi].map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  const h = e.map((v) => v / total);
  const levels = [z];
  for (let i = 1; i < L; i++) {
    const c = fractalOffset(start + i - 1, weights);
    levels.push(levels[i - 1].map((v) => v * v + c));
  }
  let bias = 0;
  for (let i = 0; i < L; i++) bias += h[i] / p[i];
  const out = new Float64Array(batch * o);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < o; j++) {
      let s = bias;
      for (let i = 0; i < L; i++) {
        let dotv = 0;
        for (let q = 0; q < d; q++) dotv += input[b * d + q] * levels[i][q * o + j];
        s += h[i] * dotv;
      }
      out[b * o + j] = sigma[activation](s);
    }
  }
  return out;
}

/** L = Σ w ⊙ F_out, so ∂L/∂F_out = w. */
function loss64(
  layer: FractalLayer,
  input: Float64Array,
  batch: number,
  z: Float64Array,
  phi: Float64Array,
  w: Float32Array,
) {
  const y = forward64(layer, input, batch, z, phi);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

function checkGradients(opts: FractalLayerOptions, batch: number, inputScale: number): void {
  const layer = new FractalLayer(opts);
  const { inputSize, outputSize } = layer.config;
  const input = randomF32(batch * inputSize, 101, inputScale);
  const w = randomF32(batch * outputSize, 102);
  for (let i = 0; i < layer.phi.length; i++) layer.phi[i] = 0.4 * Math.sin(3 * i + 1);

  const y = layer.forward(input, batch);
  const x64 = Float64Array.from(input);
  const z64 = Float64Array.from(layer.z);
  const phi64 = Float64Array.from(layer.phi);
  const y64 = forward64(layer, x64, batch, z64, phi64);
  for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - y64[i])).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(y64[i])));

  const gradIn = layer.backward(w);
  const h = 1e-6;
  const fd = (values: Float64Array, i: number) => {
    const keep = values[i];
    values[i] = keep + h;
    const up = loss64(layer, x64, batch, z64, phi64, w);
    values[i] = keep - h;
    const down = loss64(layer, x64, batch, z64, phi64, w);
    values[i] = keep;
    return (up - down) / (2 * h);
  };
  const compare = (name: string, got: Float32Array, values: Float64Array) => {
    const want = Float64Array.from(values, (_, i) => fd(values, i));
    const rms = Math.sqrt(want.reduce((a, v) => a + v * v, 0) / want.length);
    for (let i = 0; i < want.length; i++) {
      const tol = 2e-4 * (Math.abs(want[i]) + rms);
      if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`${name}[${i}]: ${got[i]} vs finite difference ${want[i]}`);
    }
  };
  compare('gradZ', layer.gradZ, z64);
  compare('gradPhi', layer.gradPhi, phi64);
  compare('gradInput', gradIn, x64);
}

const ACTS: ActivationName[] = ['tanh', 'sigmoid', 'relu', 'identity'];

describeEachBackend('FractalLayer', ({ name }) => {
  beforeAll(() => {
    setBackend(name);
  });
  afterAll(() => {
    setBackend('js');
  });

  for (const activation of ACTS) {
    test(`forward matches eq. 9 in f64 and gradients match finite differences (${activation})`, () => {
      checkGradients({ inputSize: 7, outputSize: 5, levels: 3, activation, seed: 3 }, 4, 0.5);
    });
  }

  test('gradients with one level, with many levels, and with sizes above the SIMD widths', () => {
    checkGradients({ inputSize: 3, outputSize: 2, levels: 1, seed: 4 }, 2, 1);
    checkGradients({ inputSize: 6, outputSize: 4, levels: 6, seed: 5, weights: [0.5, 0.5] }, 3, 0.3);
    checkGradients({ inputSize: 19, outputSize: 17, levels: 3, seed: 6, activation: 'sigmoid' }, 9, 0.2);
  });

  test('buffers are reused: a training step allocates nothing after the first call', () => {
    const layer = new FractalLayer({ inputSize: 16, outputSize: 8 });
    const x = randomF32(5 * 16, 7);
    const y1 = layer.forward(x, 5);
    const g1 = layer.backward(randomF32(5 * 8, 8));
    const y2 = layer.forward(x, 5);
    const g2 = layer.backward(randomF32(5 * 8, 9));
    expect(y2).toBe(y1);
    expect(g2).toBe(g1);
    expect(layer.forward(randomF32(3 * 16, 1), 3)).not.toBe(y1);
  });

  test('a few steps of gradient descent lower a regression loss, and Z stays bounded', () => {
    const layer = new FractalLayer({ inputSize: 12, outputSize: 4, activation: 'tanh', seed: 11 });
    const batch = 32;
    const x = randomF32(batch * 12, 12, 0.5);
    const target = randomF32(batch * 4, 13, 0.5);
    const grad = new Float32Array(batch * 4);
    const lossAt = () => {
      const y = layer.forward(x, batch);
      let s = 0;
      for (let i = 0; i < y.length; i++) {
        grad[i] = (y[i] - target[i]) / batch;
        s += 0.5 * (y[i] - target[i]) ** 2;
      }
      return s / batch;
    };
    const first = lossAt();
    for (let step = 0; step < 200; step++) {
      lossAt();
      layer.backward(grad);
      for (const p of layer.parameters()) for (let i = 0; i < p.value.length; i++) p.value[i] -= 0.5 * p.grad[i];
      layer.keepBounded();
    }
    expect(lossAt()).toBeLessThan(0.7 * first);
    for (const v of layer.z) expect(Math.abs(v)).toBeLessThanOrEqual(layer.bound);
  });
});

describe('FractalLayer API', () => {
  test('config round-trips and initialization is seeded and bounded', () => {
    const a = new FractalLayer({ inputSize: 10, outputSize: 3, levels: 4, activation: 'relu', seed: 9 });
    const b = FractalLayer.fromConfig(a.getConfig());
    expect(b.getConfig()).toEqual(a.getConfig());
    expect(b.z).toEqual(a.z);
    expect(new FractalLayer({ inputSize: 10, outputSize: 3, seed: 10 }).z).not.toEqual(a.z);
    expect(a.getConfig()).toEqual({
      inputSize: 10,
      outputSize: 3,
      levels: 4,
      activation: 'relu',
      start: 4,
      weights: [4 / 7, 2 / 7, 1 / 7],
      seed: 9,
    });
    const limit = Math.sqrt(6 / 13);
    for (const v of a.z) expect(Math.abs(v)).toBeLessThanOrEqual(Math.min(limit, a.bound));
    expect([...a.attention()]).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(a.parameters().map((p) => [p.name, p.shape])).toEqual([
      ['z', [10, 3]],
      ['phi', [4]],
    ]);
  });

  test('keepBounded clips Z to the invariant interval', () => {
    const layer = new FractalLayer({ inputSize: 2, outputSize: 2 });
    layer.z.set([5, -5, 0.1, -0.2]);
    expect(layer.keepBounded()).toBe(2);
    expect([...layer.z]).toEqual([
      Math.fround(layer.bound),
      -Math.fround(layer.bound),
      Math.fround(0.1),
      Math.fround(-0.2),
    ]);
    expect(layer.keepBounded()).toBe(0);
  });

  test('argument errors name the parameter', () => {
    expect(() => new FractalLayer({ inputSize: 0, outputSize: 2 })).toThrow(
      'Expected an integer >= 1 and <= 65536 for inputSize but received 0 of type number',
    );
    expect(() => new FractalLayer({ inputSize: 2, outputSize: 2, activation: 'gelu' as 'relu' })).toThrow(
      'Expected one of "identity", "tanh", "sigmoid", "relu" for activation but received "gelu" of type string',
    );
    expect(() => new FractalLayer({ inputSize: 2, outputSize: 2, levels: 0 })).toThrow('for levels but received 0');
    expect(() => new FractalLayer({ inputSize: 2, outputSize: 2, start: 2 })).toThrow(
      /^Expected a step index n whose offset .* for start but received 2 of type number$/,
    );
    const layer = new FractalLayer({ inputSize: 3, outputSize: 2 });
    expect(() => layer.backward(new Float32Array(2))).toThrow('backward called before forward');
    expect(() => layer.forward(new Float32Array(5), 2)).toThrow(
      'Expected a Float32Array of length 6 for input but received Float32Array(5) of type Float32Array',
    );
    expect(() => layer.forward(new Float32Array(6), 0)).toThrow('for batch but received 0 of type number');
    const x = new Float32Array(6);
    x[4] = Number.NaN;
    expect(() => layer.forward(x, 2)).toThrow(
      'Expected finite values for input but received NaN at index 4 of Float32Array(6) of type Float32Array',
    );
    layer.forward(new Float32Array(6), 2);
    expect(() => layer.backward(new Float32Array(3))).toThrow(
      'Expected a Float32Array of length 4 for gradOutput but received Float32Array(3) of type Float32Array',
    );
  });
});
