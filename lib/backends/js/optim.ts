/**
 * Pure-TS optimizer update kernels: the readable reference of torch.optim.SGD, Adam and
 * AdamW (docs/theory.md, "Optimizers").
 *
 * Precision: every operation is an IEEE f32 operation, as in PyTorch on f32 tensors. JS
 * computes in f64, so each product, sum, quotient and square root is rounded to f32 with
 * `f` (Math.fround) before it is used: for +, −, ×, ÷ and √ of f32 operands, rounding the
 * f64 result to f32 gives exactly the correctly rounded f32 result (f64 has more than
 * 2·24 + 2 significand bits, so the double rounding is harmless). No operation is fused,
 * so the native kernels (which do the same operations in the same order, without FMA)
 * give bit-identical results.
 */
import { firstNonFinite as firstNonFiniteScan } from '../../is.js';

const f = Math.fround;

/** torch.optim.SGD, one tensor (lib/kernels.ts documents the formula). */
export function sgdStep(
  params: Float32Array,
  grads: Float32Array,
  momentumBuffer: Float32Array,
  learningRate: number,
  momentum: number,
  dampening: number,
  weightDecay: number,
  nesterov: boolean,
  maximize: boolean,
  firstStep: boolean,
): boolean {
  const lr = f(learningRate);
  const mu = f(momentum);
  const damp = f(1 - dampening); // PyTorch: alpha = 1 − dampening in f64, then f32
  const wd = f(weightDecay);
  const b = momentumBuffer;
  let finite = true;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    let d = maximize ? -grads[i] : grads[i];
    if (wd !== 0) d = f(d + f(wd * p));
    if (mu !== 0) {
      b[i] = firstStep ? d : f(f(b[i] * mu) + f(damp * d));
      d = nesterov ? f(d + f(mu * b[i])) : b[i];
    }
    const next = f(p - f(lr * d));
    params[i] = next;
    if (next - next !== 0) finite = false;
  }
  return finite;
}

/** torch.optim.Adam and AdamW, one tensor (lib/kernels.ts documents the formula). */
export function adamStep(
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array,
  beta1: number,
  beta2: number,
  stepSize: number,
  bc2Sqrt: number,
  epsilon: number,
  weightDecay: number,
  decay: number,
  amsgrad: boolean,
  maximize: boolean,
): boolean {
  const b1 = f(beta1);
  const b2 = f(beta2);
  const c1 = f(1 - beta1);
  const c2 = f(1 - beta2);
  const step = f(stepSize);
  const bc2 = f(bc2Sqrt);
  const eps = f(epsilon);
  const wd = f(weightDecay);
  const dec = f(decay);
  let finite = true;
  for (let i = 0; i < params.length; i++) {
    let p = params[i];
    if (dec !== 1) p = f(p * dec); // AdamW: p ← p·(1 − ηλ) before the Adam step
    let d = maximize ? -grads[i] : grads[i];
    if (wd !== 0) d = f(d + f(wd * p)); // Adam: L2 term added to the gradient
    const mi = f(f(m[i] * b1) + f(c1 * d));
    const vi = f(f(v[i] * b2) + f(f(c2 * d) * d));
    m[i] = mi;
    v[i] = vi;
    let s = vi;
    if (amsgrad) {
      // biome-ignore lint/complexity/useMathMinMax: the native kernels' max (vi > vMax ? vi : vMax), not Math.max's NaN/±0 rules
      s = vi > vMax[i] ? vi : vMax[i];
      vMax[i] = s;
    }
    const denom = f(f(f(Math.sqrt(s)) / bc2) + eps);
    const next = f(p - f(f(step * mi) / denom));
    params[i] = next;
    if (next - next !== 0) finite = false;
  }
  return finite;
}

/** The index of the first NaN or ±∞, or −1. */
export function firstNonFinite(values: Float32Array): number {
  return firstNonFiniteScan(values);
}

/** dst ← src: the copy bandwidth probe (TypedArray.prototype.set is a memmove in V8). */
export function memoryCopy(src: Float32Array, dst: Float32Array): void {
  dst.set(src);
}
