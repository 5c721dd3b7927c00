/**
 * Pure-TS optimizer update kernels: the readable reference of torch.optim.SGD, Adam and
 * AdamW (docs/theory.md, "Optimizers").
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
export function sgdStep(
  params: Real,
  grads: Real,
  momentumBuffer: Real,
  learningRate: number,
  momentum: number,
  dampening: number,
  weightDecay: number,
  nesterov: boolean,
  maximize: boolean,
  firstStep: boolean,
): boolean {
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
export function adamStep(
  params: Real,
  grads: Real,
  m: Real,
  v: Real,
  vMax: Real,
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

/**
 * The fixed reduction order of Prodigy's sums (lib/kernels.ts, prodigyAccumulate): [0, n)
 * is cut into units of `prodigyUnit(n)` elements (a multiple of 8; at most
 * PRODIGY_MAX_UNITS units); within a unit, element i adds to lane (i mod 8) in f64; a
 * unit's lanes are combined ((0+1)+(2+3))+((4+5)+(6+7)); the units' sums are added in
 * order from 0. The native kernels use the same order on any thread count, so every
 * backend gets the same f64 sums bit for bit.
 */
export const PRODIGY_BLOCK = 8192;
export const PRODIGY_MAX_UNITS = 64;

export function prodigyUnit(n: number): number {
  return PRODIGY_BLOCK * Math.max(1, Math.ceil(n / (PRODIGY_BLOCK * PRODIGY_MAX_UNITS)));
}

const DOT_LANES = new Float64Array(8);
const L1_LANES = new Float64Array(8);
const lanes = (a: Float64Array) => a[0] + a[1] + (a[2] + a[3]) + (a[4] + a[5] + (a[6] + a[7]));

/** Prodigy's first pass, one tensor (lib/kernels.ts documents the formula). */
export function prodigyAccumulate(
  params: Real,
  grads: Real,
  p0: Real,
  m: Real,
  v: Real,
  s: Real,
  beta1: number,
  beta2: number,
  beta3: number,
  momentScale: number,
  varianceScale: number,
  sScale: number,
  weightDecay: number,
): [number, number] {
  sameDtype(params, { grads, p0, m, v, s });
  const f = roundingOf(params);
  const b1 = f(beta1);
  const b2 = f(beta2);
  const b3 = f(beta3);
  const c1 = f(momentScale);
  const c2 = f(varianceScale);
  const cs = f(sScale);
  const wd = f(weightDecay);
  const n = params.length;
  const unit = prodigyUnit(n);
  const dotLanes = DOT_LANES;
  const l1Lanes = L1_LANES;
  let dot = 0;
  let l1 = 0;
  for (let start = 0; start < n; start += unit) {
    dotLanes.fill(0);
    l1Lanes.fill(0);
    const end = Math.min(n, start + unit);
    for (let i = start; i < end; i++) {
      const p = params[i];
      let g = grads[i];
      if (wd !== 0) g = f(g + f(wd * p)); // prodigyopt's coupled decay: grad.add_(p, alpha=λ)
      const lane = (i - start) & 7;
      dotLanes[lane] += g * f(p0[i] - p); // f32·f32 is exact in f64; f64·f64 rounds once
      m[i] = f(f(m[i] * b1) + f(c1 * g));
      v[i] = f(f(v[i] * b2) + f(f(c2 * g) * g));
      const si = f(f(s[i] * b3) + f(cs * g));
      s[i] = si;
      l1Lanes[lane] += Math.abs(si);
    }
    dot += lanes(dotLanes);
    l1 += lanes(l1Lanes);
  }
  return [dot, l1];
}

/** Prodigy's second pass, one tensor (lib/kernels.ts documents the formula). */
export function prodigyUpdate(
  params: Real,
  m: Real,
  v: Real,
  stepSize: number,
  epsilon: number,
  decay: number,
): boolean {
  sameDtype(params, { m, v });
  const f = roundingOf(params);
  const step = f(-stepSize);
  const eps = f(epsilon);
  const dec = f(decay);
  let finite = true;
  for (let i = 0; i < params.length; i++) {
    let p = params[i];
    if (dec !== 0) p = f(p + f(dec * p)); // p.add_(p, alpha=−λ·dlr)
    const denom = f(f(Math.sqrt(v[i])) + eps);
    const next = f(p + f(f(step * m[i]) / denom)); // p.addcdiv_(m, denom, value=−dlr)
    params[i] = next;
    if (next - next !== 0) finite = false;
  }
  return finite;
}
