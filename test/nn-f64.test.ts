/**
 * nn layers in f64 (docs/theory.md, "Float64 parameters"): `Dense` and `Activation` with
 * `dtype: 'float64'`, `mlp(sizes, { dtype: 'float64' })`, and the kernels they run on —
 * matmul, activationForward and activationBackward on Float64Arrays — on every backend.
 *
 * Tolerances: matmul on f64 within 4k·2⁻⁵³·(|A||B|)_ij of an exactly summed reference
 * (the backends sum in different orders, as in f32); the activations within 4 ulp of the js
 * reference (native tanh/exp are not JS's Math.tanh/Math.exp, so not always bit for bit); the
 * model's forward and backward pass within 1e-12 relative of the js backend's; its gradients
 * within 1e-7 relative of central finite differences (h = 1e-6, f64: truncation error ~h²).
 */
import { describe, expect, test } from 'vitest';
import { Adam, Dense, mlp, Sequential } from '../lib/index.js';
import type { Kernels } from '../lib/kernels.js';
import { describeEachBackend, expectError, reference, values64 } from './helpers.js';

/** L = ½ Σ (y − t)² of a model's output, and ∂L/∂y into `grad`. */
function halfSquares(y: Float64Array, t: Float64Array, grad?: Float64Array): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    const d = y[i] - t[i];
    loss += 0.5 * d * d;
    if (grad) grad[i] = d;
  }
  return loss;
}

const SIZES = [5, 7, 6, 3];
const BATCH = 4;

describeEachBackend('f64 kernels for nn layers', ({ kernels }) => {
  test('matmul on Float64Arrays, every transpose: within 4k·2⁻⁵³·(|A||B|) of the exact sum', () => {
    for (const [m, n, k] of [
      [1, 1, 1],
      [7, 9, 13],
      [33, 17, 65],
    ]) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = values64(m * k, m + k);
        const b = values64(k * n, n + k + 1);
        const c = values64(m * n, 3);
        const c0 = c.slice();
        kernels.matmul({ transA: ta, transB: tb, m, n, k, alpha: 0.75, beta: 0.5 }, a, b, c);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let exact = 0;
            let bound = 0;
            for (let p = 0; p < k; p++) {
              const x = ta ? a[p * m + i] : a[i * k + p];
              const y = tb ? b[j * k + p] : b[p * n + j];
              exact += x * y; // f64 sum: its own error is within the bound below
              bound += Math.abs(x * y);
            }
            const want = 0.75 * exact + 0.5 * c0[i * n + j];
            expect(Math.abs(c[i * n + j] - want)).toBeLessThanOrEqual(
              4 * k * 2 ** -53 * bound + 2 ** -52 * Math.abs(want),
            );
          }
        }
        // really f64: an f32-rounded result would be off by ~1e-8
        expect(c.some((v) => Math.fround(v) !== v)).toBe(true);
      }
    }
  });

  test('activations on Float64Arrays within 4 ulp of the js reference, in place too', () => {
    for (const act of ['identity', 'tanh', 'sigmoid', 'relu'] as const) {
      const x = values64(101, 5).map((v) => 4 * v);
      const [got, want] = [new Float64Array(101), new Float64Array(101)];
      kernels.activationForward(act, x, 0.25, got);
      reference.activationForward(act, x, 0.25, want);
      for (let i = 0; i < 101; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(4 * 2 ** -52 * Math.max(1, Math.abs(want[i])));
      const g = values64(101, 6);
      const [gp, gw] = [g.slice(), new Float64Array(101)];
      kernels.activationBackward(act, want, gp, gp); // gradOut is gradPre: in place
      reference.activationBackward(act, want, g, gw);
      expect([...gp]).toEqual([...gw]);
      const inPlace = x.slice();
      kernels.activationForward(act, inPlace, 0.25, inPlace);
      expect([...inPlace]).toEqual([...got]);
    }
  });

  test('a call mixing f32 and f64 arrays is an error naming the array', () => {
    expectError(
      () =>
        kernels.matmul(
          { transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0 },
          new Float32Array(4),
          new Float64Array(4),
          new Float64Array(4),
        ),
      'a',
    );
    expectError(() => kernels.activationForward('tanh', new Float32Array(3), 0, new Float64Array(3)), 'x');
    expectError(
      () => kernels.activationBackward('tanh', new Float64Array(3), new Float32Array(3), new Float64Array(3)),
      'gradOut',
    );
  });
});

describeEachBackend('an f64 MLP', ({ name, kernels }) => {
  const make = (k: Kernels) => mlp(SIZES, { dtype: 'float64', activation: 'tanh', seed: 3, kernels: k });
  const x = values64(BATCH * SIZES[0], 21);
  const t = values64(BATCH * SIZES.at(-1)!, 22);

  test('parameters, outputs and gradients are Float64Arrays', () => {
    const model = make(kernels);
    expect(model.dtype).toBe('float64');
    for (const p of Object.values(model.params)) expect(p).toBeInstanceOf(Float64Array);
    expect(model.forward(x, BATCH)).toBeInstanceOf(Float64Array);
  });

  test('backward matches central finite differences to 1e-7 relative', () => {
    const model = make(kernels);
    const grad = new Float64Array(BATCH * SIZES.at(-1)!);
    halfSquares(model.forward(x, BATCH), t, grad);
    model.zeroGrad();
    model.backward(grad);
    const h = 1e-6;
    let worst = 0;
    for (const [pname, p] of Object.entries(model.params)) {
      const g = model.grads[pname];
      for (let i = 0; i < p.length; i += 3) {
        const keep = p[i];
        p[i] = keep + h;
        const up = halfSquares(model.forward(x, BATCH), t);
        p[i] = keep - h;
        const down = halfSquares(model.forward(x, BATCH), t);
        p[i] = keep;
        const numeric = (up - down) / (2 * h);
        const e = Math.abs(g[i] - numeric) / Math.max(1e-3, Math.abs(numeric));
        worst = Math.max(worst, e);
      }
    }
    expect(worst).toBeLessThan(1e-7);
  });

  test.skipIf(name === 'js')('forward and backward within 1e-12 relative of the js backend', () => {
    const [native, js] = [make(kernels), make(reference)];
    const [yn, yj] = [native.forward(x, BATCH).slice(), js.forward(x, BATCH).slice()];
    for (let i = 0; i < yj.length; i++)
      expect(Math.abs(yn[i] - yj[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(yj[i])));
    const grad = new Float64Array(yj.length);
    halfSquares(yj, t, grad);
    native.backward(grad);
    js.backward(grad);
    for (const k of Object.keys(js.grads)) {
      const [a, b] = [native.grads[k], js.grads[k]];
      for (let i = 0; i < b.length; i++)
        expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b[i])));
    }
  });

  test('trains with Adam on its f64 parameters (state in f64)', () => {
    const model = make(kernels);
    const opt = new Adam({ learningRate: 0.02 });
    const grad = new Float64Array(BATCH * SIZES.at(-1)!);
    const first = halfSquares(model.forward(x, BATCH), t, grad);
    let last = first;
    for (let s = 0; s < 200; s++) {
      model.zeroGrad();
      model.backward(grad);
      opt.step(model.params, model.grads);
      last = halfSquares(model.forward(x, BATCH), t, grad);
    }
    expect(last).toBeLessThan(0.05 * first);
    expect(Object.values(opt.state().tensors)[0]).toBeInstanceOf(Float64Array);
  });
});

describe('f64 layers: config and errors', () => {
  test('getConfig records dtype float64 (f32 configs unchanged); fromConfig rebuilds it', () => {
    const model = mlp([3, 4, 2], { dtype: 'float64', seed: 1 });
    const config = model.getConfig();
    expect(config.layers.every((l) => (l as { dtype?: string }).dtype === 'float64')).toBe(true);
    expect(
      mlp([3, 4, 2])
        .getConfig()
        .layers.some((l) => 'dtype' in l),
    ).toBe(false);
    const again = Sequential.fromConfig<'float64'>(config);
    expect(again.dtype).toBe('float64');
    expect([...again.params['0.weight']]).toEqual([...model.params['0.weight']]);
  });

  test('an input of the other dtype names the argument', () => {
    const dense = new Dense({ inputSize: 2, outputSize: 2, dtype: 'float64' });
    expectError(
      () => dense.forward(new Float32Array(2) as never, 1),
      'input',
      /Float64Array of length 2 \(the layer's dtype, float64\)/,
    );
  });

  test('a model mixing f32 and f64 layers is rejected', () => {
    expectError(
      () =>
        new Sequential([
          new Dense({ inputSize: 2, outputSize: 3 }),
          new Dense({ inputSize: 3, outputSize: 1, dtype: 'float64' }) as never,
        ]),
      'layers[1].dtype',
    );
  });

  test('f32 and f64 models from the same seed start from the same weights (f64 unrounded)', () => {
    const [a, b] = [mlp([4, 3]), mlp([4, 3], { dtype: 'float64' })];
    const [w32, w64] = [a.params['0.weight'], b.params['0.weight']];
    for (let i = 0; i < w32.length; i++) expect(Math.fround(w64[i])).toBe(w32[i]);
  });
});
