/**
 * Sequential: layers applied in order, with the uniform parameter interface the optimizers
 * and the trainer use (`parameters()` named `<layer index>.<name>`, `params`/`grads` as
 * TensorMaps built once), and `mlp([784, 512, 512, 10], {activation, seed})`.
 *
 * A model has one dtype D: f32 (the default) or f64 (`mlp(sizes, { dtype: 'float64' })`, or
 * layers made with `dtype: 'float64'`); its params, grads, inputs and outputs are of that dtype.
 */
import { argumentError } from '../errors.js';
import { integer, oneOf, options } from '../is.js';
import type { ActivationName, Kernels } from '../kernels.js';
import type { TensorMap } from '../optim/optimizer.js';
import {
  ACTIVATIONS,
  type Dtype,
  type DtypeArrays,
  FractalLayer,
  type FractalLayerOptions,
  type LayerParameter,
} from './fractal-layer.js';
import { Activation, type ActivationOptions, Dense, type DenseOptions, DTYPES, type Layer } from './layers.js';
import { Square, type SquareOptions } from './square.js';

/** The layer's dtype ('float32' unless it says otherwise). */
const dtypeOfLayer = (l: Layer<Dtype>): Dtype => ((l as { dtype?: Dtype }).dtype === 'float64' ? 'float64' : 'float32');

export class Sequential<D extends Dtype = 'float32'> {
  readonly layers: readonly Layer<D>[];
  /** The model's dtype: every layer's. */
  readonly dtype: D;
  /** Parameters by name (views into the layers' arrays), for Optimizer.step. */
  readonly params: Record<string, DtypeArrays[D]> & (D extends 'float32' ? TensorMap : unknown) = {} as never;
  /** Gradients by name, same keys as `params`. */
  readonly grads: Record<string, DtypeArrays[D]> & (D extends 'float32' ? TensorMap : unknown) = {} as never;
  private readonly named: LayerParameter<D>[] = [];

  constructor(layers: Layer<D>[]) {
    if (!Array.isArray(layers) || layers.length === 0)
      throw argumentError('layers', 'a non-empty array of layers', layers);
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i];
      if (!l || typeof l.forward !== 'function' || typeof l.backward !== 'function') {
        throw argumentError(`layers[${i}]`, 'a layer (forward, backward, parameters)', l);
      }
      if (i > 0 && l.inputSize !== layers[i - 1].outputSize) {
        throw argumentError(
          `layers[${i}].inputSize`,
          `${layers[i - 1].outputSize} (the previous layer's outputSize)`,
          l.inputSize,
        );
      }
      if (dtypeOfLayer(l) !== dtypeOfLayer(layers[0])) {
        throw argumentError(
          `layers[${i}].dtype`,
          `${dtypeOfLayer(layers[0])} (the dtype of layers[0])`,
          dtypeOfLayer(l),
        );
      }
      for (const p of l.parameters()) {
        const name = `${i}.${p.name}`;
        this.named.push({ ...p, name });
        (this.params as Record<string, DtypeArrays[D]>)[name] = p.value;
        (this.grads as Record<string, DtypeArrays[D]>)[name] = p.grad;
      }
    }
    this.layers = Object.freeze([...layers]);
    this.dtype = dtypeOfLayer(layers[0]) as D;
  }

  get inputSize(): number {
    return this.layers[0].inputSize;
  }

  get outputSize(): number {
    return this.layers[this.layers.length - 1].outputSize;
  }

  /** Every trainable array with its gradient, named `<layer index>.<name>`. */
  parameters(): LayerParameter<D>[] {
    return this.named.map((p) => ({ ...p }));
  }

  /** Total number of trainable values. */
  get size(): number {
    let n = 0;
    for (const p of this.named) n += p.value.length;
    return n;
  }

  zeroGrad(): void {
    for (const l of this.layers) l.zeroGrad();
  }

  /** The output for a batch×inputSize input (the last layer's own buffer). */
  forward(input: DtypeArrays[D], batch: number): DtypeArrays[D] {
    let x = input;
    for (const l of this.layers) x = l.forward(x, batch);
    return x;
  }

  /** Backpropagate ∂L/∂output through every layer (the first layer's input gradient is skipped). */
  backward(gradOutput: DtypeArrays[D]): void {
    let g = gradOutput;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].backward(g, i > 0);
  }

  /** Keep layers with an invariant domain inside it (FractalLayer.keepBounded); call after each update. */
  afterUpdate(): void {
    for (const l of this.layers) if (l instanceof FractalLayer) l.keepBounded();
  }

  /**
   * Rebuild a model from `getConfig()` (layers Dense, Activation, Square, FractalLayer); `kernels` pins
   * every layer. The model has the config's dtype (`dtype: 'float64'` in its layers, else f32);
   * name it as D when the config may be f64 (`Sequential.fromConfig<Dtype>(…)`).
   */
  static fromConfig<D extends Dtype = 'float32'>(config: { layers: object[] }, kernels?: Kernels): Sequential<D> {
    const c = options<{ layers: object[] }>('config', config);
    if (!Array.isArray(c.layers)) throw argumentError('config.layers', 'an array of layer configs', c.layers);
    return new Sequential<Dtype>(
      c.layers.map((raw, i): Layer<Dtype> => {
        const l = options<{ type: string }>(`config.layers[${i}]`, raw);
        const type = oneOf(`config.layers[${i}].type`, l.type, [
          'Dense',
          'Activation',
          'Square',
          'FractalLayer',
        ] as const);
        const { type: _t, ...rest } = l as Record<string, unknown>;
        if (type === 'Dense') return new Dense({ ...(rest as unknown as DenseOptions<Dtype>), kernels });
        if (type === 'Activation') return new Activation({ ...(rest as unknown as ActivationOptions<Dtype>), kernels });
        if (type === 'Square') return new Square(rest as unknown as SquareOptions) as Layer<Dtype>;
        return new FractalLayer({ ...(rest as unknown as FractalLayerOptions), kernels }) as Layer<Dtype>;
      }),
    ) as unknown as Sequential<D>;
  }

  getConfig(): { layers: object[] } {
    return {
      layers: this.layers.map((l) =>
        l instanceof FractalLayer ? { type: 'FractalLayer', ...l.getConfig() } : l.getConfig(),
      ),
    };
  }
}

export interface MlpOptions<D extends Dtype = 'float32'> {
  /** σ of the hidden layers (default 'relu'); the last layer is linear (logits). */
  activation?: ActivationName;
  /** Seed: layer i is initialized with seed + i (default 0). */
  seed?: number;
  /** 'float32' (default) or 'float64': every layer's dtype. */
  dtype?: D;
  kernels?: Kernels;
}

/** A multilayer perceptron: Dense layers of the given sizes, σ between them, linear output. */
export function mlp<D extends Dtype = 'float32'>(sizes: number[], opts?: MlpOptions<D>): Sequential<D> {
  if (!Array.isArray(sizes) || sizes.length < 2)
    throw argumentError('sizes', 'an array of at least 2 layer sizes', sizes);
  for (const [i, s] of sizes.entries()) integer(`sizes[${i}]`, s, { min: 1, max: 1 << 20 });
  const o = options<MlpOptions<D>>('options', opts);
  const dtype = oneOf('dtype', o.dtype ?? 'float32', DTYPES) as D;
  const activation = oneOf('activation', o.activation ?? 'relu', ACTIVATIONS);
  const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 - sizes.length });
  const layers: Layer<D>[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const last = i + 2 === sizes.length;
    layers.push(
      new Dense({
        inputSize: sizes[i],
        outputSize: sizes[i + 1],
        activation: last ? 'identity' : activation,
        init: !last && activation === 'relu' ? 'he' : 'glorot',
        seed: seed + i,
        dtype,
        kernels: o.kernels,
      }),
    );
  }
  return new Sequential<D>(layers);
}
