/**
 * y = x² elementwise, a layer with no parameters: the quadratic activation the modular
 * addition task uses (a one-hidden-layer network with σ(z) = z² represents the
 * Fourier-feature solution of a + b mod p with few units; docs/theory.md, "Modular
 * addition"). Computed here in TypeScript, not by a kernel: it is one multiply per value,
 * and the backends' activation kernels (identity, tanh, sigmoid, relu) stay as they are.
 *
 * backward: ∂L/∂x = 2x · ∂L/∂y.
 */
import { integer, options } from '../is.js';
import type { Layer, LayerParameter } from './layers.js';

export interface SquareOptions {
  size: number;
}

export class Square implements Layer {
  readonly config: Readonly<{ size: number }>;
  private readonly buffers = new Map<number, { input: Float32Array; out: Float32Array; gradIn: Float32Array }>();
  private current: { input: Float32Array; out: Float32Array; gradIn: Float32Array } | undefined;

  constructor(opts: SquareOptions) {
    const o = options<SquareOptions>('options', opts);
    this.config = Object.freeze({ size: integer('size', o.size, { min: 1, max: 1 << 24 }) });
  }

  getConfig(): { type: 'Square'; size: number } {
    return { type: 'Square', ...this.config };
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
    const len = n * this.config.size;
    if (!(input instanceof Float32Array) || input.length !== len) {
      throw new TypeError(`cimm: Square.forward expects a Float32Array of ${len} values`);
    }
    let b = this.buffers.get(n);
    if (!b) {
      // at most four batch sizes kept, as the other layers do
      if (this.buffers.size >= 4) this.buffers.delete(this.buffers.keys().next().value as number);
      b = { input: new Float32Array(len), out: new Float32Array(len), gradIn: new Float32Array(len) };
      this.buffers.set(n, b);
    }
    b.input.set(input);
    for (let i = 0; i < len; i++) b.out[i] = input[i] * input[i];
    this.current = b;
    return b.out;
  }

  backward(gradOutput: Float32Array): Float32Array {
    const b = this.current;
    if (!b) throw new Error('cimm: Square.backward called before forward');
    if (!(gradOutput instanceof Float32Array) || gradOutput.length !== b.out.length) {
      throw new TypeError(`cimm: Square.backward expects a Float32Array of ${b.out.length} values`);
    }
    for (let i = 0; i < b.out.length; i++) b.gradIn[i] = 2 * b.input[i] * gradOutput[i];
    return b.gradIn;
  }
}
