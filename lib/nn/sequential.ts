/**
 * Sequential: layers applied in order, with the uniform parameter interface the optimizers
 * and the trainer use (`parameters()` named `<layer index>.<name>`, `params`/`grads` as
 * TensorMaps built once), and `mlp([784, 512, 512, 10], {activation, seed})`.
 */
import { argumentError } from '../errors.js';
import { integer, oneOf, options } from '../is.js';
import type { ActivationName, Kernels } from '../kernels.js';
import type { TensorMap } from '../optim/optimizer.js';
import { ACTIVATIONS, FractalLayer, type FractalLayerOptions, type LayerParameter } from './fractal-layer.js';
import { Activation, type ActivationOptions, Dense, type DenseOptions, type Layer } from './layers.js';
import { Square, type SquareOptions } from './square.js';

export class Sequential {
  readonly layers: readonly Layer[];
  /** Parameters by name (views into the layers' arrays), for Optimizer.step. */
  readonly params: TensorMap = {};
  /** Gradients by name, same keys as `params`. */
  readonly grads: TensorMap = {};
  private readonly named: LayerParameter[] = [];

  constructor(layers: Layer[]) {
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
      for (const p of l.parameters()) {
        const name = `${i}.${p.name}`;
        this.named.push({ ...p, name });
        this.params[name] = p.value;
        this.grads[name] = p.grad;
      }
    }
    this.layers = Object.freeze([...layers]);
  }

  get inputSize(): number {
    return this.layers[0].inputSize;
  }

  get outputSize(): number {
    return this.layers[this.layers.length - 1].outputSize;
  }

  /** Every trainable array with its gradient, named `<layer index>.<name>`. */
  parameters(): LayerParameter[] {
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
  forward(input: Float32Array, batch: number): Float32Array {
    let x = input;
    for (const l of this.layers) x = l.forward(x, batch);
    return x;
  }

  /** Backpropagate ∂L/∂output through every layer (the first layer's input gradient is skipped). */
  backward(gradOutput: Float32Array): void {
    let g = gradOutput;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].backward(g, i > 0);
  }

  /** Keep layers with an invariant domain inside it (FractalLayer.keepBounded); call after each update. */
  afterUpdate(): void {
    for (const l of this.layers) if (l instanceof FractalLayer) l.keepBounded();
  }

  /** Rebuild a model from `getConfig()` (layers Dense, Activation, Square, FractalLayer); `kernels` pins every layer. */
  static fromConfig(config: { layers: object[] }, kernels?: Kernels): Sequential {
    const c = options<{ layers: object[] }>('config', config);
    if (!Array.isArray(c.layers)) throw argumentError('config.layers', 'an array of layer configs', c.layers);
    return new Sequential(
      c.layers.map((raw, i) => {
        const l = options<{ type: string }>(`config.layers[${i}]`, raw);
        const type = oneOf(`config.layers[${i}].type`, l.type, [
          'Dense',
          'Activation',
          'Square',
          'FractalLayer',
        ] as const);
        const { type: _t, ...rest } = l as Record<string, unknown>;
        if (type === 'Dense') return new Dense({ ...(rest as unknown as DenseOptions), kernels });
        if (type === 'Activation') return new Activation({ ...(rest as unknown as ActivationOptions), kernels });
        if (type === 'Square') return new Square(rest as unknown as SquareOptions);
        return new FractalLayer({ ...(rest as unknown as FractalLayerOptions), kernels });
      }),
    );
  }

  getConfig(): { layers: object[] } {
    return {
      layers: this.layers.map((l) =>
        l instanceof FractalLayer ? { type: 'FractalLayer', ...l.getConfig() } : l.getConfig(),
      ),
    };
  }
}

export interface MlpOptions {
  /** σ of the hidden layers (default 'relu'); the last layer is linear (logits). */
  activation?: ActivationName;
  /** Seed: layer i is initialized with seed + i (default 0). */
  seed?: number;
  kernels?: Kernels;
}

/** A multilayer perceptron: Dense layers of the given sizes, σ between them, linear output. */
export function mlp(sizes: number[], opts?: MlpOptions): Sequential {
  if (!Array.isArray(sizes) || sizes.length < 2)
    throw argumentError('sizes', 'an array of at least 2 layer sizes', sizes);
  for (const [i, s] of sizes.entries()) integer(`sizes[${i}]`, s, { min: 1, max: 1 << 20 });
  const o = options<MlpOptions>('options', opts);
  const activation = oneOf('activation', o.activation ?? 'relu', ACTIVATIONS);
  const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 - sizes.length });
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const last = i + 2 === sizes.length;
    layers.push(
      new Dense({
        inputSize: sizes[i],
        outputSize: sizes[i + 1],
        activation: last ? 'identity' : activation,
        init: !last && activation === 'relu' ? 'he' : 'glorot',
        seed: seed + i,
        kernels: o.kernels,
      }),
    );
  }
  return new Sequential(layers);
}
