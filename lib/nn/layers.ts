/**
 * Layers of a Sequential model (docs/theory.md, "Models and trainer"): a fully connected
 * `Dense` layer with an optional fused activation, and a standalone `Activation` layer.
 * Every layer follows FractalLayer's uniform interface (micrograd's habit, in batches):
 *
 * - `forward(input, batch)` returns the layer's own batch×outputSize buffer (allocated once
 *   per batch size, so a training step allocates nothing); the input is kept by reference
 *   for `backward`.
 * - `backward(gradOutput, needInputGrad)` writes every parameter's gradient (overwriting
 *   it: one backward per step, as FractalLayer does) and returns ∂L/∂input (the layer's
 *   own buffer), or skips that GEMM when `needInputGrad` is false (the first layer).
 * - `parameters()` lists the trainable arrays with their gradients (views, not copies);
 *   `zeroGrad()` clears the gradients.
 *
 * All arithmetic runs through the kernels interface (matmul, activationForward/Backward),
 * so a model runs on every backend.
 */
import { kernels } from '../backend.js';
import { argumentError } from '../errors.js';
import { float32Array, integer, oneOf, options } from '../is.js';
import type { ActivationName, Kernels } from '../kernels.js';
import { Random } from '../random.js';
import { ACTIVATIONS, type LayerParameter } from './fractal-layer.js';

export type { LayerParameter };

/** What Sequential needs from a layer. */
export interface Layer {
  readonly inputSize: number;
  readonly outputSize: number;
  forward(input: Float32Array, batch: number): Float32Array;
  backward(gradOutput: Float32Array, needInputGrad?: boolean): Float32Array;
  parameters(): LayerParameter[];
  zeroGrad(): void;
  getConfig(): object;
}

/** Weight initializations: Glorot (Xavier) uniform, He (Kaiming) normal. */
export type InitName = 'glorot' | 'he';
export const INITS: readonly InitName[] = ['glorot', 'he'];

export interface DenseOptions {
  inputSize: number;
  outputSize: number;
  /** σ applied to xWᵀ + b (default 'identity'). */
  activation?: ActivationName;
  /** Default: 'he' for relu, 'glorot' otherwise. */
  init?: InitName;
  /** Seed of the initialization (default 0). */
  seed?: number;
  /** Kernels to run on (default: the active backend at each call). Not serialized. */
  kernels?: Kernels;
}

export interface DenseConfig {
  inputSize: number;
  outputSize: number;
  activation: ActivationName;
  init: InitName;
  seed: number;
}

/** Batch sizes whose buffers are kept (a training loop uses one or two: full and last). */
const KEPT_BATCH_SIZES = 4;

interface DenseBuffers {
  out: Float32Array;
  gradPre: Float32Array;
  gradIn: Float32Array;
  /** A column of ones (batch×1): the bias enters as a rank-1 GEMM, its gradient as 1ᵀG. */
  ones: Float32Array;
}

function pinnedKernels(value: unknown): Kernels | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || typeof (value as Kernels).matmul !== 'function') {
    throw argumentError('kernels', 'a Kernels object (e.g. getBackend("js"))', value);
  }
  return value as Kernels;
}

/**
 * y = σ(x Wᵀ + b): x is batch×inputSize, W is outputSize×inputSize (PyTorch's nn.Linear
 * layout, so a row of W is one unit's weights), b has outputSize entries. Three GEMMs and
 * two rank-1 GEMMs per training step; no allocation after the first call with a batch size.
 */
export class Dense implements Layer {
  readonly config: Readonly<DenseConfig>;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly gradWeight: Float32Array;
  readonly gradBias: Float32Array;
  private readonly pinned: Kernels | undefined;
  private readonly buffers = new Map<number, DenseBuffers>();
  private current: DenseBuffers | undefined;
  private input: Float32Array | undefined;
  private batch = 0;

  constructor(opts: DenseOptions) {
    const o = options<DenseOptions>('options', opts);
    const inputSize = integer('inputSize', o.inputSize, { min: 1, max: 1 << 20 });
    const outputSize = integer('outputSize', o.outputSize, { min: 1, max: 1 << 20 });
    const activation = oneOf('activation', o.activation ?? 'identity', ACTIVATIONS);
    const init = oneOf('init', o.init ?? (activation === 'relu' ? 'he' : 'glorot'), INITS);
    const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    this.config = Object.freeze({ inputSize, outputSize, activation, init, seed });
    this.pinned = pinnedKernels(o.kernels);
    this.weight = new Float32Array(inputSize * outputSize);
    this.gradWeight = new Float32Array(inputSize * outputSize);
    this.bias = new Float32Array(outputSize);
    this.gradBias = new Float32Array(outputSize);
    const rng = new Random(seed);
    if (init === 'glorot') {
      const a = Math.sqrt(6 / (inputSize + outputSize));
      for (let i = 0; i < this.weight.length; i++) this.weight[i] = a * (2 * rng.uniform() - 1);
    } else {
      const s = Math.sqrt(2 / inputSize);
      for (let i = 0; i < this.weight.length; i++) this.weight[i] = s * rng.normal();
    }
  }

  static fromConfig(config: DenseConfig): Dense {
    return new Dense(config);
  }

  getConfig(): DenseConfig & { type: 'Dense' } {
    return { type: 'Dense', ...this.config };
  }

  get inputSize(): number {
    return this.config.inputSize;
  }

  get outputSize(): number {
    return this.config.outputSize;
  }

  private kernels(): Kernels {
    return this.pinned ?? kernels();
  }

  parameters(): LayerParameter[] {
    const { inputSize, outputSize } = this.config;
    return [
      { name: 'weight', shape: [outputSize, inputSize], value: this.weight, grad: this.gradWeight },
      { name: 'bias', shape: [outputSize], value: this.bias, grad: this.gradBias },
    ];
  }

  zeroGrad(): void {
    this.gradWeight.fill(0);
    this.gradBias.fill(0);
  }

  private buffersFor(batch: number): DenseBuffers {
    let b = this.buffers.get(batch);
    if (!b) {
      if (this.buffers.size >= KEPT_BATCH_SIZES) this.buffers.delete(this.buffers.keys().next().value as number);
      const { inputSize, outputSize } = this.config;
      b = {
        out: new Float32Array(batch * outputSize),
        gradPre: new Float32Array(batch * outputSize),
        gradIn: new Float32Array(batch * inputSize),
        ones: new Float32Array(batch).fill(1),
      };
      this.buffers.set(batch, b);
    }
    return b;
  }

  forward(input: Float32Array, batch: number): Float32Array {
    const { inputSize, outputSize, activation } = this.config;
    const n = integer('batch', batch, { min: 1, max: 2 ** 31 - 1 });
    float32Array('input', input, { length: n * inputSize });
    const k = this.kernels();
    const buf = this.buffersFor(n);
    k.matmul(false, true, n, outputSize, inputSize, 1, input, this.weight, 0, buf.out);
    k.matmul(false, false, n, outputSize, 1, 1, buf.ones, this.bias, 1, buf.out);
    if (activation !== 'identity') k.activationForward(activation, buf.out, 0, buf.out);
    this.input = input;
    this.batch = n;
    this.current = buf;
    return buf.out;
  }

  backward(gradOutput: Float32Array, needInputGrad = true): Float32Array {
    const buf = this.current;
    const input = this.input;
    if (!buf || !input) throw new Error('cimm: Dense.backward called before forward');
    const { inputSize, outputSize, activation } = this.config;
    const n = this.batch;
    float32Array('gradOutput', gradOutput, { length: n * outputSize });
    const k = this.kernels();
    let g = gradOutput;
    if (activation !== 'identity') {
      k.activationBackward(activation, buf.out, gradOutput, buf.gradPre);
      g = buf.gradPre;
    }
    // ∂L/∂W = Gᵀ X (outputSize×inputSize), ∂L/∂b = 1ᵀ G, ∂L/∂X = G W.
    k.matmul(true, false, outputSize, inputSize, n, 1, g, input, 0, this.gradWeight);
    k.matmul(false, false, 1, outputSize, n, 1, buf.ones, g, 0, this.gradBias);
    if (needInputGrad) k.matmul(false, false, n, inputSize, outputSize, 1, g, this.weight, 0, buf.gradIn);
    return buf.gradIn;
  }
}

export interface ActivationOptions {
  size: number;
  activation: ActivationName;
  kernels?: Kernels;
}

/** y = σ(x) elementwise, no parameters. */
export class Activation implements Layer {
  readonly config: Readonly<{ size: number; activation: ActivationName }>;
  private readonly pinned: Kernels | undefined;
  private readonly outs = new Map<number, { out: Float32Array; gradIn: Float32Array }>();
  private current: { out: Float32Array; gradIn: Float32Array } | undefined;

  constructor(opts: ActivationOptions) {
    const o = options<ActivationOptions>('options', opts);
    const size = integer('size', o.size, { min: 1, max: 1 << 24 });
    const activation = oneOf('activation', o.activation, ACTIVATIONS);
    this.config = Object.freeze({ size, activation });
    this.pinned = pinnedKernels(o.kernels);
  }

  getConfig(): { type: 'Activation'; size: number; activation: ActivationName } {
    return { type: 'Activation', ...this.config };
  }

  get inputSize(): number {
    return this.config.size;
  }

  get outputSize(): number {
    return this.config.size;
  }

  parameters(): LayerParameter[] {
    return [];
  }

  zeroGrad(): void {}

  forward(input: Float32Array, batch: number): Float32Array {
    const n = integer('batch', batch, { min: 1, max: 2 ** 31 - 1 });
    float32Array('input', input, { length: n * this.config.size });
    let b = this.outs.get(n);
    if (!b) {
      if (this.outs.size >= KEPT_BATCH_SIZES) this.outs.delete(this.outs.keys().next().value as number);
      b = { out: new Float32Array(input.length), gradIn: new Float32Array(input.length) };
      this.outs.set(n, b);
    }
    (this.pinned ?? kernels()).activationForward(this.config.activation, input, 0, b.out);
    this.current = b;
    return b.out;
  }

  backward(gradOutput: Float32Array): Float32Array {
    const b = this.current;
    if (!b) throw new Error('cimm: Activation.backward called before forward');
    float32Array('gradOutput', gradOutput, { length: b.out.length });
    (this.pinned ?? kernels()).activationBackward(this.config.activation, b.out, gradOutput, b.gradIn);
    return b.gradIn;
  }
}
