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
 *
 * dtype: `Dense` and `Activation` run in f32 (the default) or f64 (`dtype: 'float64'`:
 * weights, gradients, inputs and outputs are Float64Arrays and the kernels compute in f64;
 * docs/theory.md, "Float64 parameters"). A model is of one dtype; its config records
 * `dtype` only when it is 'float64', so f32 configs are unchanged.
 */
import { separate } from '../aliasing.js';
import { kernels } from '../backend.js';
import { argumentError } from '../errors.js';
import { integer, oneOf, options } from '../is.js';
import type { ActivationName, Kernels } from '../kernels.js';
import { Random } from '../random.js';
import { ACTIVATIONS, type Dtype, type DtypeArrays, type LayerParameter } from './fractal-layer.js';

export type { Dtype, DtypeArrays, LayerParameter };

export const DTYPES: readonly Dtype[] = ['float32', 'float64'];

/** What Sequential needs from a layer (of dtype D: its inputs, outputs and parameters). */
export interface Layer<D extends Dtype = 'float32'> {
  readonly inputSize: number;
  readonly outputSize: number;
  forward(input: DtypeArrays[D], batch: number): DtypeArrays[D];
  backward(gradOutput: DtypeArrays[D], needInputGrad?: boolean): DtypeArrays[D];
  parameters(): LayerParameter<D>[];
  zeroGrad(): void;
  getConfig(): object;
}

/** A zeroed array of `dtype`. */
function zeros<D extends Dtype>(dtype: D, n: number): DtypeArrays[D] {
  return (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)) as DtypeArrays[D];
}

/** An array of the layer's dtype (and length), else an error naming `name`. */
function layerArray<D extends Dtype>(name: string, value: unknown, dtype: D, length: number): DtypeArrays[D] {
  const ctor = dtype === 'float64' ? Float64Array : Float32Array;
  if (!(value instanceof ctor) || value.length !== length) {
    const note = dtype === 'float64' ? " (the layer's dtype, float64)" : '';
    throw argumentError(name, `a ${ctor.name} of length ${length}${note}`, value);
  }
  return value as DtypeArrays[D];
}

/** Weight initializations: Glorot (Xavier) uniform, He (Kaiming) normal. */
export type InitName = 'glorot' | 'he';
export const INITS: readonly InitName[] = ['glorot', 'he'];

export interface DenseOptions<D extends Dtype = 'float32'> {
  inputSize: number;
  outputSize: number;
  /** σ applied to xWᵀ + b (default 'identity'). */
  activation?: ActivationName;
  /** Default: 'he' for relu, 'glorot' otherwise. */
  init?: InitName;
  /** Seed of the initialization (default 0). */
  seed?: number;
  /** 'float32' (default) or 'float64'. */
  dtype?: D;
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

interface DenseBuffers<D extends Dtype> {
  out: DtypeArrays[D];
  gradPre: DtypeArrays[D];
  gradIn: DtypeArrays[D];
  /** A column of ones (batch×1): the bias enters as a rank-1 GEMM, its gradient as 1ᵀG. */
  ones: DtypeArrays[D];
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
export class Dense<D extends Dtype = 'float32'> implements Layer<D> {
  readonly config: Readonly<DenseConfig>;
  readonly dtype: D;
  readonly weight: DtypeArrays[D];
  readonly bias: DtypeArrays[D];
  readonly gradWeight: DtypeArrays[D];
  readonly gradBias: DtypeArrays[D];
  private readonly pinned: Kernels | undefined;
  private readonly buffers = new Map<number, DenseBuffers<D>>();
  private current: DenseBuffers<D> | undefined;
  private input: DtypeArrays[D] | undefined;
  private batch = 0;

  constructor(opts: DenseOptions<D>) {
    const o = options<DenseOptions<D>>('options', opts);
    const inputSize = integer('inputSize', o.inputSize, { min: 1, max: 1 << 20 });
    const outputSize = integer('outputSize', o.outputSize, { min: 1, max: 1 << 20 });
    const activation = oneOf('activation', o.activation ?? 'identity', ACTIVATIONS);
    const init = oneOf('init', o.init ?? (activation === 'relu' ? 'he' : 'glorot'), INITS);
    const seed = integer('seed', o.seed ?? 0, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    const dtype = oneOf('dtype', o.dtype ?? 'float32', DTYPES) as D;
    this.config = Object.freeze({ inputSize, outputSize, activation, init, seed });
    this.dtype = dtype;
    this.pinned = pinnedKernels(o.kernels);
    this.weight = zeros(dtype, inputSize * outputSize);
    this.gradWeight = zeros(dtype, inputSize * outputSize);
    this.bias = zeros(dtype, outputSize);
    this.gradBias = zeros(dtype, outputSize);
    const rng = new Random(seed);
    if (init === 'glorot') {
      const a = Math.sqrt(6 / (inputSize + outputSize));
      for (let i = 0; i < this.weight.length; i++) this.weight[i] = a * (2 * rng.uniform() - 1);
    } else {
      const s = Math.sqrt(2 / inputSize);
      for (let i = 0; i < this.weight.length; i++) this.weight[i] = s * rng.normal();
    }
  }

  static fromConfig<D extends Dtype = 'float32'>(config: DenseConfig & { dtype?: D }): Dense<D> {
    return new Dense<D>(config);
  }

  getConfig(): DenseConfig & { type: 'Dense'; dtype?: 'float64' } {
    return this.dtype === 'float64'
      ? { type: 'Dense', ...this.config, dtype: 'float64' }
      : { type: 'Dense', ...this.config };
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

  parameters(): LayerParameter<D>[] {
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

  private buffersFor(batch: number): DenseBuffers<D> {
    let b = this.buffers.get(batch);
    if (!b) {
      if (this.buffers.size >= KEPT_BATCH_SIZES) this.buffers.delete(this.buffers.keys().next().value as number);
      const { inputSize, outputSize } = this.config;
      const d = this.dtype;
      b = {
        out: zeros(d, batch * outputSize),
        gradPre: zeros(d, batch * outputSize),
        gradIn: zeros(d, batch * inputSize),
        ones: zeros(d, batch).fill(1) as DtypeArrays[D],
      };
      this.buffers.set(batch, b);
    }
    return b;
  }

  forward(input: DtypeArrays[D], batch: number): DtypeArrays[D] {
    const { inputSize, outputSize, activation } = this.config;
    const n = integer('batch', batch, { min: 1, max: 2 ** 31 - 1 });
    layerArray('input', input, this.dtype, n * inputSize);
    const k = this.kernels();
    const buf = this.buffersFor(n);
    // The input is read while the layer's output is written (lib/aliasing.ts: matmul's a and c).
    separate('matmul', { a: input, c: buf.out }, { names: { a: 'input', c: 'the layer output' }, internal: ['c'] });
    k.matmul(
      { transA: false, transB: true, m: n, n: outputSize, k: inputSize, alpha: 1, beta: 0 },
      input,
      this.weight,
      buf.out,
    );
    k.matmul(
      { transA: false, transB: false, m: n, n: outputSize, k: 1, alpha: 1, beta: 1 },
      buf.ones,
      this.bias,
      buf.out,
    );
    if (activation !== 'identity') k.activationForward(activation, buf.out, 0, buf.out);
    this.input = input;
    this.batch = n;
    this.current = buf;
    return buf.out;
  }

  backward(gradOutput: DtypeArrays[D], needInputGrad = true): DtypeArrays[D] {
    const buf = this.current;
    const input = this.input;
    if (!buf || !input) throw new Error('cimm: Dense.backward called before forward');
    const { inputSize, outputSize, activation } = this.config;
    const n = this.batch;
    layerArray('gradOutput', gradOutput, this.dtype, n * outputSize);
    const k = this.kernels();
    // The user's arrays against the buffers this backward writes, all checked before the first
    // write (lib/aliasing.ts): gradOutput may be the gradient buffer itself (elementwise), and
    // neither it (read by the matmuls when the activation is the identity) nor the input may
    // overlap a matmul's output.
    let g: DtypeArrays[D] = gradOutput;
    if (activation !== 'identity') {
      ({ gradOut: g } = separate(
        'activationBackward',
        { gradOut: gradOutput, gradPre: buf.gradPre },
        { names: { gradOut: 'gradOutput', gradPre: 'the layer gradient buffer' }, internal: ['gradPre'] },
      ));
    } else {
      const names = { a: 'gradOutput', b: 'gradOutput', c: 'a layer gradient' };
      separate('matmul', { a: g, c: this.gradWeight }, { names, internal: ['c'] });
      separate('matmul', { b: g, c: this.gradBias }, { names, internal: ['c'] });
      if (needInputGrad) separate('matmul', { a: g, c: buf.gradIn }, { names, internal: ['c'] });
    }
    separate('matmul', { b: input, c: this.gradWeight }, { names: { b: 'input', c: 'gradWeight' }, internal: ['c'] });
    if (activation !== 'identity') {
      k.activationBackward(activation, buf.out, g, buf.gradPre);
      g = buf.gradPre;
    }
    // ∂L/∂W = Gᵀ X (outputSize×inputSize), ∂L/∂b = 1ᵀ G, ∂L/∂X = G W.
    k.matmul(
      { transA: true, transB: false, m: outputSize, n: inputSize, k: n, alpha: 1, beta: 0 },
      g,
      input,
      this.gradWeight,
    );
    k.matmul(
      { transA: false, transB: false, m: 1, n: outputSize, k: n, alpha: 1, beta: 0 },
      buf.ones,
      g,
      this.gradBias,
    );
    if (needInputGrad)
      k.matmul(
        { transA: false, transB: false, m: n, n: inputSize, k: outputSize, alpha: 1, beta: 0 },
        g,
        this.weight,
        buf.gradIn,
      );
    return buf.gradIn;
  }
}

export interface ActivationOptions<D extends Dtype = 'float32'> {
  size: number;
  activation: ActivationName;
  /** 'float32' (default) or 'float64'. */
  dtype?: D;
  kernels?: Kernels;
}

/** y = σ(x) elementwise, no parameters. */
export class Activation<D extends Dtype = 'float32'> implements Layer<D> {
  readonly config: Readonly<{ size: number; activation: ActivationName }>;
  readonly dtype: D;
  private readonly pinned: Kernels | undefined;
  private readonly outs = new Map<number, { out: DtypeArrays[D]; gradIn: DtypeArrays[D] }>();
  private current: { out: DtypeArrays[D]; gradIn: DtypeArrays[D] } | undefined;

  constructor(opts: ActivationOptions<D>) {
    const o = options<ActivationOptions<D>>('options', opts);
    const size = integer('size', o.size, { min: 1, max: 1 << 24 });
    const activation = oneOf('activation', o.activation, ACTIVATIONS);
    this.dtype = oneOf('dtype', o.dtype ?? 'float32', DTYPES) as D;
    this.config = Object.freeze({ size, activation });
    this.pinned = pinnedKernels(o.kernels);
  }

  getConfig(): { type: 'Activation'; size: number; activation: ActivationName; dtype?: 'float64' } {
    return this.dtype === 'float64'
      ? { type: 'Activation', ...this.config, dtype: 'float64' }
      : { type: 'Activation', ...this.config };
  }

  get inputSize(): number {
    return this.config.size;
  }

  get outputSize(): number {
    return this.config.size;
  }

  parameters(): LayerParameter<D>[] {
    return [];
  }

  zeroGrad(): void {}

  forward(input: DtypeArrays[D], batch: number): DtypeArrays[D] {
    const n = integer('batch', batch, { min: 1, max: 2 ** 31 - 1 });
    layerArray('input', input, this.dtype, n * this.config.size);
    let b = this.outs.get(n);
    if (!b) {
      if (this.outs.size >= KEPT_BATCH_SIZES) this.outs.delete(this.outs.keys().next().value as number);
      b = { out: zeros(this.dtype, input.length), gradIn: zeros(this.dtype, input.length) };
      this.outs.set(n, b);
    }
    // input may be the layer's output itself; a partial overlap reads a copy (lib/aliasing.ts)
    const { x } = separate('activationForward', { x: input, out: b.out }, { internal: ['out'] });
    (this.pinned ?? kernels()).activationForward(this.config.activation, x, 0, b.out);
    this.current = b;
    return b.out;
  }

  backward(gradOutput: DtypeArrays[D]): DtypeArrays[D] {
    const b = this.current;
    if (!b) throw new Error('cimm: Activation.backward called before forward');
    layerArray('gradOutput', gradOutput, this.dtype, b.out.length);
    const { gradOut } = separate(
      'activationBackward',
      { gradOut: gradOutput, gradPre: b.gradIn },
      { internal: ['gradPre'] },
    );
    (this.pinned ?? kernels()).activationBackward(this.config.activation, b.out, gradOut, b.gradIn);
    return b.gradIn;
  }
}
