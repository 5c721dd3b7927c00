/**
 * FractalLayer: hierarchical feature processing of seed 002 §3.2 (design.md §2 eq. 9),
 *
 *   F_out = σ( Σ_{i=1}^{L} H_i · (F_in Z_i) + b ),   H = softmax(φ),   b = Σ_i H_i / p_i,
 *
 * where the levels are successive fractal iterates (eq. 8) of one trainable base matrix,
 * Z_1 = Z and Z_{i+1} = Z_i ⊙ Z_i + c_{s+i−1} (s = `start`), as in the seed's
 * `EnhancedFractalLayer.transform`. The trainable parameters are Z (inputSize×outputSize)
 * and the attention logits φ (L values). docs/theory.md gives the reasons for each choice.
 *
 * Computation (all through the kernels interface, so it runs on every backend):
 * - forward: the levels by `fractalStep`, the mixed matrix M = Σ H_i Z_i by `axpby`, one
 *   GEMM F_in·M (linearity: Σ H_i F_in Z_i = F_in Σ H_i Z_i), then σ(· + b) in place;
 * - backward, with G = ∂L/∂(pre-activation) from `activationBackward`:
 *   ∂L/∂F_in = G Mᵀ; P = F_inᵀ G; ∂L/∂Z by the chain through the levels, evaluated like
 *   Horner: g_L = H_L P, g_i = H_i P + 2 Z_i ⊙ g_{i+1}, ∂L/∂Z = g_1 (`fractalStepBackward` +
 *   `axpby`); ∂L/∂H_i = ⟨P, Z_i⟩ + ΣG / p_i and the softmax Jacobian for φ.
 * Three GEMMs per training step, no allocation after the first call with a batch size.
 */
import { separate } from '../aliasing.js';
import { kernels } from '../backend.js';
import { argumentError, CimmArgumentError, CimmDivergenceError } from '../errors.js';
import { FRACTAL_DEFAULTS, fractalBound, MAX_FRACTAL_OFFSET, scaleWeights } from '../fractal.js';
import { firstNonFinite, float32Array, integer, oneOf, readOptions } from '../is.js';
import type { ActivationName, Kernels } from '../kernels.js';
import { MAX_PRIME_COUNT, primeTable } from '../primes.js';
import { Random } from '../random.js';

export const ACTIVATIONS: readonly ActivationName[] = ['identity', 'tanh', 'sigmoid', 'relu'];

/** Largest number of levels L. */
export const MAX_LEVELS = 32;

export const FRACTAL_LAYER_DEFAULTS = Object.freeze({
  levels: 3,
  activation: 'tanh' as ActivationName,
  seed: 0,
});

export interface FractalLayerOptions {
  inputSize: number;
  outputSize: number;
  /** L, the number of levels (default 3, the seed's num_scales). */
  levels?: number;
  /** σ (default 'tanh'). */
  activation?: ActivationName;
  /** Prime index n of the first transform step between levels (default 4, p_4 = 7). */
  start?: number;
  /** Scale weights ω_k of the transform's offsets (default [4/7, 2/7, 1/7]). */
  weights?: ArrayLike<number>;
  /** Seed of the initialization (default 0). */
  seed?: number;
  /**
   * Kernels to run on, e.g. `getBackend('js')` (default: the active backend, looked up at
   * each call). Not part of the serialized config.
   */
  kernels?: Kernels;
}

/** Serializable configuration of a FractalLayer. */
export interface FractalLayerConfig {
  inputSize: number;
  outputSize: number;
  levels: number;
  activation: ActivationName;
  start: number;
  weights: number[];
  seed: number;
}

/** A trainable array with its gradient (same length), in the style of a small NN library. */
/** A layer's numeric dtype: 'float32' (the default) or 'float64' (Dense, Activation; docs/theory.md, "Float64 parameters"). */
export type Dtype = 'float32' | 'float64';

/** The typed array of each dtype. */
export interface DtypeArrays {
  float32: Float32Array;
  float64: Float64Array;
}

export interface LayerParameter<D extends Dtype = 'float32'> {
  name: string;
  shape: number[];
  value: DtypeArrays[D];
  grad: DtypeArrays[D];
}

/** Buffers that depend on the batch size, allocated once per size. */
interface BatchBuffers {
  out: Float32Array;
  gradPre: Float32Array;
  gradIn: Float32Array;
}

/** Batch sizes whose buffers are kept (a training loop uses one or two: full and last). */
const KEPT_BATCH_SIZES = 4;

function finiteInput(k: Kernels, name: string, values: Float32Array): void {
  if (!Number.isNaN(k.maxAbs(values))) return;
  const i = firstNonFinite(values);
  throw new CimmArgumentError(
    name,
    'finite values',
    `Expected finite values for ${name} but received ${values[i]} at index ${i} of Float32Array(${values.length}) of type Float32Array`,
  );
}

export class FractalLayer {
  readonly config: Readonly<FractalLayerConfig>;
  /** The base matrix Z = Z_1 (inputSize×outputSize, row-major). */
  readonly z: Float32Array;
  /** The attention logits φ (L values): H = softmax(φ). */
  readonly phi: Float32Array;
  /** ∂L/∂Z, written by `backward`. */
  readonly gradZ: Float32Array;
  /** ∂L/∂φ, written by `backward`. */
  readonly gradPhi: Float32Array;
  /** z₊ of the first transform step: Z is kept in [−bound, bound] (design.md §3). */
  readonly bound: number;

  /** Z_1 … Z_L (Z_1 is `z` itself). */
  private readonly levelsZ: Float32Array[];
  /** c of each transform step between levels (L − 1). */
  private readonly offsets: Float64Array;
  /** 1/p_i of the bias b = Σ H_i/p_i. */
  private readonly invP: Float64Array;
  private readonly h: Float64Array;
  private readonly dH: Float64Array;
  /** M = Σ H_i Z_i. */
  private readonly mixed: Float32Array;
  /** P = F_inᵀ G. */
  private readonly p: Float32Array;
  private readonly buffers = new Map<number, BatchBuffers>();
  private input: Float32Array | undefined;
  private batch = 0;
  private current: BatchBuffers | undefined;
  private readonly pinned: Kernels | undefined;

  constructor(opts: FractalLayerOptions) {
    const o = readOptions<FractalLayerOptions>('options', opts, [
      'inputSize',
      'outputSize',
      'levels',
      'activation',
      'start',
      'weights',
      'seed',
      'kernels',
    ]);
    const inputSize = integer('inputSize', o.inputSize, { min: 1, max: 1 << 16 });
    const outputSize = integer('outputSize', o.outputSize, { min: 1, max: 1 << 16 });
    const levels = integer('levels', o.levels ?? FRACTAL_LAYER_DEFAULTS.levels, { min: 1, max: MAX_LEVELS });
    const activation = oneOf('activation', o.activation ?? FRACTAL_LAYER_DEFAULTS.activation, ACTIVATIONS);
    const w = scaleWeights('weights', o.weights ?? FRACTAL_DEFAULTS.weights);
    const start = integer('start', o.start ?? FRACTAL_DEFAULTS.start, {
      min: 1,
      max: MAX_PRIME_COUNT - w.length - MAX_LEVELS,
    });
    const seed = integer('seed', o.seed ?? FRACTAL_LAYER_DEFAULTS.seed, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    this.config = Object.freeze({ inputSize, outputSize, levels, activation, start, weights: [...w], seed });
    if (o.kernels !== undefined && (typeof o.kernels !== 'object' || typeof o.kernels?.matmul !== 'function')) {
      throw argumentError('kernels', 'a Kernels object (e.g. getBackend("js"))', o.kernels);
    }
    this.pinned = o.kernels;

    const primes = primeTable(start + levels + w.length + MAX_LEVELS);
    const offsetOf = (n: number) => {
      let c = 1 / primes[n - 1];
      for (let k = 1; k <= w.length; k++) c += w[k - 1] / primes[n + k - 1];
      return c;
    };
    const first = offsetOf(start);
    if (first > MAX_FRACTAL_OFFSET) {
      throw argumentError(
        'start',
        `a step index n whose offset c_n = 1/p_n + Σ ω_k/p_{n+k} is <= 1/4 (c_${start} = ${first.toPrecision(6)})`,
        start,
      );
    }
    this.bound = fractalBound(first);
    this.offsets = Float64Array.from({ length: levels - 1 }, (_, i) => offsetOf(start + i));
    this.invP = Float64Array.from({ length: levels }, (_, i) => 1 / primes[i]);

    const size = inputSize * outputSize;
    this.z = new Float32Array(size);
    this.gradZ = new Float32Array(size);
    this.phi = new Float32Array(levels);
    this.gradPhi = new Float32Array(levels);
    this.h = new Float64Array(levels);
    this.dH = new Float64Array(levels);
    this.levelsZ = [this.z];
    for (let i = 1; i < levels; i++) this.levelsZ.push(new Float32Array(size));
    this.mixed = new Float32Array(size);
    this.p = new Float32Array(size);

    // Glorot-uniform initialization, capped inside the invariant interval [−z₊, z₊].
    const rng = new Random(seed);
    const a = Math.min(Math.sqrt(6 / (inputSize + outputSize)), this.bound);
    for (let i = 0; i < size; i++) this.z[i] = a * (2 * rng.uniform() - 1);
  }

  get inputSize(): number {
    return this.config.inputSize;
  }

  get outputSize(): number {
    return this.config.outputSize;
  }

  /** The kernels this layer runs on now. */
  private kernels(): Kernels {
    return this.pinned ?? kernels();
  }

  static fromConfig(config: FractalLayerConfig): FractalLayer {
    return new FractalLayer(config);
  }

  getConfig(): FractalLayerConfig {
    return { ...this.config, weights: [...this.config.weights] };
  }

  /** The trainable parameters with their gradients (views, not copies). */
  parameters(): LayerParameter[] {
    const { inputSize, outputSize, levels } = this.config;
    return [
      { name: 'z', shape: [inputSize, outputSize], value: this.z, grad: this.gradZ },
      { name: 'phi', shape: [levels], value: this.phi, grad: this.gradPhi },
    ];
  }

  /** H = softmax(φ), the attention over the levels (a copy). */
  attention(): Float64Array {
    this.softmax();
    return this.h.slice();
  }

  /** Set every gradient to 0. */
  zeroGrad(): void {
    this.gradZ.fill(0);
    this.gradPhi.fill(0);
  }

  /**
   * Project Z onto [−bound, bound], the invariant interval of the transform (design.md §3):
   * call after each optimizer step (projected gradient descent). Returns how many entries
   * were clipped. One native scan when nothing needs clipping.
   */
  keepBounded(): number {
    const b = this.bound;
    const m = this.kernels().maxAbs(this.z);
    if (Number.isNaN(m))
      throw new CimmDivergenceError('cimm: FractalLayer.z holds a non-finite value', { parameter: 'z' });
    if (m <= b) return 0;
    let clipped = 0;
    const z = this.z;
    for (let i = 0; i < z.length; i++) {
      if (z[i] > b) (z[i] = b), clipped++;
      else if (z[i] < -b) (z[i] = -b), clipped++;
    }
    return clipped;
  }

  private softmax(): void {
    const { h, phi } = this;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < phi.length; i++) max = Math.max(max, phi[i]);
    if (!Number.isFinite(max)) {
      throw new CimmDivergenceError('cimm: FractalLayer.phi holds a non-finite value', { parameter: 'phi' });
    }
    let s = 0;
    for (let i = 0; i < phi.length; i++) s += h[i] = Math.exp(phi[i] - max);
    for (let i = 0; i < phi.length; i++) h[i] /= s;
  }

  private buffersFor(batch: number): BatchBuffers {
    let b = this.buffers.get(batch);
    if (!b) {
      if (this.buffers.size >= KEPT_BATCH_SIZES) this.buffers.delete(this.buffers.keys().next().value as number);
      const { inputSize, outputSize } = this.config;
      b = {
        out: new Float32Array(batch * outputSize),
        gradPre: new Float32Array(batch * outputSize),
        gradIn: new Float32Array(batch * inputSize),
      };
      this.buffers.set(batch, b);
    }
    return b;
  }

  /**
   * F_out = σ(F_in·M + b) for a row-major batch×inputSize input. Returns the layer's own
   * batch×outputSize buffer, valid until the next forward with this batch size. The input is
   * kept by reference for `backward`: do not change it in between.
   */
  forward(input: Float32Array, batch: number): Float32Array {
    const { inputSize, outputSize, levels, activation } = this.config;
    const n = integer('batch', batch, { min: 1, max: 2 ** 31 - 1 });
    float32Array('input', input, { length: n * inputSize });
    const k = this.kernels();
    finiteInput(k, 'input', input);
    this.softmax();
    const { h, levelsZ, mixed } = this;
    for (let i = 1; i < levels; i++) k.fractalStep(levelsZ[i - 1], this.offsets[i - 1], levelsZ[i]);
    k.axpby(h[0], levelsZ[0], 0, mixed);
    for (let i = 1; i < levels; i++) k.axpby(h[i], levelsZ[i], 1, mixed);
    if (Number.isNaN(k.maxAbs(mixed))) {
      throw new CimmDivergenceError(
        'cimm: the fractal levels overflowed (Z left the bounded interval); call keepBounded() after each update',
        { parameter: 'z' },
      );
    }
    let shift = 0;
    for (let i = 0; i < levels; i++) shift += h[i] * this.invP[i];
    const buf = this.buffersFor(n);
    // The input is read while the layer's output is written (lib/aliasing.ts: matmul's a and c).
    separate('matmul', { a: input, c: buf.out }, { names: { a: 'input', c: 'the layer output' }, internal: ['c'] });
    k.matmul(
      { transA: false, transB: false, m: n, n: outputSize, k: inputSize, alpha: 1, beta: 0 },
      input,
      mixed,
      buf.out,
    );
    k.activationForward(activation, buf.out, shift, buf.out);
    this.input = input;
    this.batch = n;
    this.current = buf;
    return buf.out;
  }

  /**
   * Given ∂L/∂F_out (batch×outputSize) for the last forward, store ∂L/∂Z and ∂L/∂φ in
   * `gradZ` and `gradPhi` (overwriting them) and return ∂L/∂F_in (the layer's own
   * batch×inputSize buffer).
   */
  backward(gradOutput: Float32Array): Float32Array {
    const buf = this.current;
    const input = this.input;
    if (!buf || !input) throw new Error('cimm: FractalLayer.backward called before forward');
    const { inputSize, outputSize, levels, activation } = this.config;
    const n = this.batch;
    float32Array('gradOutput', gradOutput, { length: n * outputSize });
    const k = this.kernels();
    finiteInput(k, 'gradOutput', gradOutput);
    const { h, dH, levelsZ, mixed, p, gradZ } = this;
    const g = buf.gradPre;
    // gradOutput may be the gradient buffer itself (elementwise); the input kept from forward
    // is read while ∂L/∂M is written (lib/aliasing.ts), both checked before the first write.
    const { gradOut } = separate(
      'activationBackward',
      { gradOut: gradOutput, gradPre: g },
      { names: { gradOut: 'gradOutput', gradPre: 'the layer gradient buffer' }, internal: ['gradPre'] },
    );
    separate('matmul', { a: input, c: p }, { names: { a: 'input', c: 'the layer gradient buffer' }, internal: ['c'] });
    k.activationBackward(activation, buf.out, gradOut, g);
    k.matmul({ transA: true, transB: false, m: inputSize, n: outputSize, k: n, alpha: 1, beta: 0 }, input, g, p);
    k.matmul(
      { transA: false, transB: true, m: n, n: inputSize, k: outputSize, alpha: 1, beta: 0 },
      g,
      mixed,
      buf.gradIn,
    );

    // φ: ∂L/∂H_i = ⟨P, Z_i⟩ + ΣG/p_i, then the softmax Jacobian H_j(∂_j − Σ_i H_i ∂_i).
    const sumG = k.sum(g);
    let mean = 0;
    for (let i = 0; i < levels; i++) {
      dH[i] = k.dot(p, levelsZ[i]) + sumG * this.invP[i];
      mean += h[i] * dH[i];
    }
    for (let i = 0; i < levels; i++) this.gradPhi[i] = h[i] * (dH[i] - mean);

    // Z: g_L = H_L P; g_i = H_i P + 2 Z_i ⊙ g_{i+1}; ∂L/∂Z = g_1.
    k.axpby(h[levels - 1], p, 0, gradZ);
    for (let i = levels - 2; i >= 0; i--) {
      k.fractalStepBackward(levelsZ[i], gradZ, gradZ);
      k.axpby(h[i], p, 1, gradZ);
    }
    return buf.gradIn;
  }
}
