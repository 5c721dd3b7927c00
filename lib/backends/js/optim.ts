/**
 * Pure-TS optimizer update kernels: the readable reference of torch.optim.SGD, Adam and
 * AdamW (docs/theory.md, "Optimizers"), their measured variants, and the reductions the
 * optimizers and the stability controller apply to parameters and gradients.
 *
 * Precision: every operation is an IEEE operation of the parameters' dtype, as in PyTorch
 * on tensors of that dtype. On Float32Array parameters JS computes in f64, so each product,
 * sum, quotient and square root is rounded to f32 with `r` = Math.fround before it is used:
 * for +, −, ×, ÷ and √ of f32 operands, rounding the f64 result to f32 gives exactly the
 * correctly rounded f32 result (f64 has more than 2·24 + 2 significand bits, so the double
 * rounding is harmless). On Float64Array parameters every operation already is the f64
 * operation and `r` is the identity. No operation is fused, so the native kernels (which do
 * the same operations in the same order, without FMA) give bit-identical results in both
 * dtypes.
 */
import { firstNonFinite as firstNonFiniteScan } from '../../is.js';
import type { AdamStepMeasuredOptions, AdamStepOptions, SgdStepOptions } from '../../kernels.js';
import { combine16, sumSplit } from './balance.js';
import { type Real, type Round, roundingOf, sameDtype } from './dtype.js';

/** An SGD step's scalars in the parameters' dtype, rounded once from its hyperparameters. */
export interface SgdScalars {
  /** The dtype's rounding (Math.fround for f32, the identity for f64). */
  r: Round;
  lr: number;
  mu: number;
  /** 1 − τ: PyTorch's alpha, formed in f64 then rounded. */
  damp: number;
  wd: number;
  nesterov: boolean;
  maximize: boolean;
  first: boolean;
}

export function sgdScalars(
  r: Round,
  learningRate: number,
  momentum: number,
  dampening: number,
  weightDecay: number,
  nesterov: boolean,
  maximize: boolean,
  firstStep: boolean,
): SgdScalars {
  return {
    r,
    lr: r(learningRate),
    mu: r(momentum),
    damp: r(1 - dampening), // PyTorch: alpha = 1 − dampening in f64, then the dtype
    wd: r(weightDecay),
    nesterov,
    maximize,
    first: firstStep,
  };
}

/** Element i of the SGD step: params[i] ← its new value (b[i] too when μ ≠ 0). */
export function sgdElement(s: SgdScalars, i: number, params: Real, grads: Real, b: Real): void {
  const f = s.r;
  const p = params[i];
  let d = s.maximize ? -grads[i] : grads[i];
  if (s.wd !== 0) d = f(d + f(s.wd * p));
  if (s.mu !== 0) {
    b[i] = s.first ? d : f(f(b[i] * s.mu) + f(s.damp * d));
    d = s.nesterov ? f(d + f(s.mu * b[i])) : b[i];
  }
  params[i] = f(p - f(s.lr * d));
}

/** torch.optim.SGD, one tensor (lib/kernels.ts documents the formula). */
export function sgdStep(params: Real, grads: Real, momentumBuffer: Real, options: SgdStepOptions): boolean {
  const { learningRate, momentum, dampening, weightDecay, nesterov, maximize, firstStep } = options;
  sameDtype(params, { grads, momentumBuffer });
  const r = roundingOf(params);
  const s = sgdScalars(r, learningRate, momentum, dampening, weightDecay, nesterov, maximize, firstStep);
  let finite = true;
  for (let i = 0; i < params.length; i++) {
    sgdElement(s, i, params, grads, momentumBuffer);
    const next = params[i];
    if (next - next !== 0) finite = false;
  }
  return finite;
}

/** An Adam step's scalars in the parameters' dtype, rounded once from its hyperparameters. */
export interface AdamScalars {
  /** The dtype's rounding (Math.fround for f32, the identity for f64). */
  r: Round;
  b1: number;
  b2: number;
  /** 1 − β₁ and 1 − β₂, formed in f64 then rounded. */
  c1: number;
  c2: number;
  step: number;
  bc2: number;
  eps: number;
  wd: number;
  decay: number;
  amsgrad: boolean;
  maximize: boolean;
}

export function adamScalars(
  r: Round,
  beta1: number,
  beta2: number,
  stepSize: number,
  bc2Sqrt: number,
  epsilon: number,
  weightDecay: number,
  decay: number,
  amsgrad: boolean,
  maximize: boolean,
): AdamScalars {
  return {
    r,
    b1: r(beta1),
    b2: r(beta2),
    c1: r(1 - beta1),
    c2: r(1 - beta2),
    step: r(stepSize),
    bc2: r(bc2Sqrt),
    eps: r(epsilon),
    wd: r(weightDecay),
    decay: r(decay),
    amsgrad,
    maximize,
  };
}

/**
 * Element i of the Adam step: params[i], m[i], v[i] (and vMax[i] with amsgrad) ← their new
 * values. Returns the √ (in the dtype) of the second moment the step used (v, or vMax).
 */
export function adamElement(
  s: AdamScalars,
  i: number,
  params: Real,
  grads: Real,
  m: Real,
  v: Real,
  vMax: Real,
): number {
  const f = s.r;
  let p = params[i];
  if (s.decay !== 1) p = f(p * s.decay); // AdamW: p ← p·(1 − ηλ) before the Adam step
  let d = s.maximize ? -grads[i] : grads[i];
  if (s.wd !== 0) d = f(d + f(s.wd * p)); // Adam: L2 term added to the gradient
  const mi = f(f(m[i] * s.b1) + f(s.c1 * d));
  const vi = f(f(v[i] * s.b2) + f(f(s.c2 * d) * d));
  m[i] = mi;
  v[i] = vi;
  let second = vi;
  if (s.amsgrad) {
    // biome-ignore lint/complexity/useMathMinMax: the native kernels' max (vi > vMax ? vi : vMax), not Math.max's NaN/±0 rules
    second = vi > vMax[i] ? vi : vMax[i];
    vMax[i] = second;
  }
  const root = f(Math.sqrt(second));
  const denom = f(f(root / s.bc2) + s.eps);
  params[i] = f(p - f(f(s.step * mi) / denom));
  return root;
}

/** torch.optim.Adam and AdamW, one tensor (lib/kernels.ts documents the formula). */
export function adamStep(params: Real, grads: Real, m: Real, v: Real, vMax: Real, options: AdamStepOptions): boolean {
  const { beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize } = options;
  sameDtype(params, { grads, m, v, vMax });
  const r = roundingOf(params);
  const s = adamScalars(r, beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize);
  let finite = true;
  for (let i = 0; i < params.length; i++) {
    adamElement(s, i, params, grads, m, v, vMax);
    const next = params[i];
    if (next - next !== 0) finite = false;
  }
  return finite;
}

/** The index of the first NaN or ±∞, or −1. */
export function firstNonFinite(values: Real): number {
  return firstNonFiniteScan(values);
}

/** dst ← src: the copy bandwidth probe (TypedArray.prototype.set is a memmove in V8). */
export function memoryCopy(src: Float32Array, dst: Float32Array): void {
  dst.set(src);
}

/*
 * Measured optimizer steps, the pure-TS reference (docs/theory.md, "Determinism: the
 * updateEnergy kernel"): the SGD and Adam/AdamW steps above that, in the same pass,
 * write each parameter's value before the update into `before` and sum the update's energy
 * terms — what a snapshot copy, the step and updateEnergy (./balance.ts) give, in one pass:
 *
 *   Δ_i = after_i − before_i (f64),  out = [Σ w_i Δ_i², Σ g_i Δ_i, Σ |g_i Δ_i|]
 *
 * with w_i = √s_i·metricScale + metricEpsilon for Adam (s the second moment the step used, v
 * or v̂, its f32 √ the one the step computed) and w_i = 1 for SGD. The elements are updated
 * and summed in updateEnergy's canonical order (sumSplit's ranges; in a range element j of
 * each full block of 16 into accumulator j mod 16, combined by combine16; the tail in index
 * order; the ranges in index order), so parameters, state and sums are bit-identical to the
 * three-pass path, and to the native backends.
 */

const acc = new Float64Array(48);
const part = new Float64Array(3);

/**
 * One measured pass over a tensor: for each element, in updateEnergy's canonical order,
 * keep the parameter's old value in `before`, let `update(i)` update element i in place and
 * return its metric weight w_i, and sum [w Δ², g Δ, |g Δ|] into `out`. Returns false when
 * a parameter became non-finite.
 */
function measuredPass(
  params: Real,
  grads: Real,
  before: Real,
  out: Float64Array,
  update: (i: number) => number,
): boolean {
  const n = params.length;
  const [chunk, units] = sumSplit(n);
  let finite = true;
  let [q, p, a] = [0, 0, 0];
  for (let u = 0; u < units; u++) {
    const start = Math.min(n, u * chunk);
    const end = Math.min(n, start + chunk);
    const full = start + Math.floor((end - start) / 16) * 16;
    acc.fill(0);
    for (let i = start; i < end; i++) {
      const old = params[i];
      before[i] = old;
      const w = update(i);
      const next = params[i];
      if (next - next !== 0) finite = false;
      const d = next - old;
      const wdd = w * (d * d);
      const gd = grads[i] * d;
      if (i < full) {
        const j = (i - start) & 15; // full blocks: element j of a block into accumulator j
        acc[j] += wdd;
        acc[16 + j] += gd;
        acc[32 + j] += Math.abs(gd);
      } else {
        if (i === full) combine16(acc, part); // then the tail, in index order
        part[0] += wdd;
        part[1] += gd;
        part[2] += Math.abs(gd);
      }
    }
    if (full === end) combine16(acc, part);
    q += part[0];
    p += part[1];
    a += part[2];
  }
  out[0] = q;
  out[1] = p;
  out[2] = a;
  return finite;
}

/** torch.optim.SGD on one tensor, measured (lib/kernels.ts documents the arguments); w_i = 1. */
export function sgdStepMeasured(
  params: Real,
  grads: Real,
  momentumBuffer: Real,
  before: Real,
  o: SgdStepOptions,
  out: Float64Array,
): boolean {
  sameDtype(params, { grads, momentumBuffer, before });
  const s = sgdScalars(
    roundingOf(params),
    o.learningRate,
    o.momentum,
    o.dampening,
    o.weightDecay,
    o.nesterov,
    o.maximize,
    o.firstStep,
  );
  return measuredPass(params, grads, before, out, (i) => {
    sgdElement(s, i, params, grads, momentumBuffer);
    return 1;
  });
}

/** torch.optim.Adam / AdamW on one tensor, measured (lib/kernels.ts documents the arguments). */
export function adamStepMeasured(
  params: Real,
  grads: Real,
  m: Real,
  v: Real,
  vMax: Real,
  before: Real,
  o: AdamStepMeasuredOptions,
  out: Float64Array,
): boolean {
  sameDtype(params, { grads, m, v, vMax, before });
  const { beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize } = o;
  const { metricScale, metricEpsilon } = o;
  const s = adamScalars(
    roundingOf(params),
    beta1,
    beta2,
    stepSize,
    bc2Sqrt,
    epsilon,
    weightDecay,
    decay,
    amsgrad,
    maximize,
  );
  // the metric from the √ (in the dtype) of the second moment the step itself computed
  return measuredPass(
    params,
    grads,
    before,
    out,
    (i) => adamElement(s, i, params, grads, m, v, vMax) * metricScale + metricEpsilon,
  );
}

/*
 * The gradient checks and repairs of the stability controller (design eq. 11, seed 002 §4.2):
 * the gradient norm ‖∇L‖ and in-place scaling.
 */

/** ‖x‖₂, each element squared in f64 (exactly, for f32) and summed in index order. */
export function l2Norm(x: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Set NaN and ±∞ entries to 0; returns how many there were. */
export function zeroNonFinite(x: Float32Array | Float64Array): number {
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    // v − v is NaN exactly for NaN and ±∞
    if (v - v !== 0) {
      x[i] = 0;
      count++;
    }
  }
  return count;
}

/** x_i ← x_i·s, the product formed in f64 and rounded once to x's dtype. */
export function scaleInPlace(x: Float32Array | Float64Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= s;
}
