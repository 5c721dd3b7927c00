/**
 * Measured optimizer steps, the pure-TS reference (docs/theory.md, "Determinism: the
 * updateEnergy kernel"): the SGD and Adam/AdamW steps of ./optim.ts that, in the same pass,
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
import type { AdamStepOptions, SgdStepOptions } from '../../kernels.js';
import { combine16, sumSplit } from './balance.js';
import { type AdamScalars, adamElement, adamScalars, type SgdScalars, sgdElement, sgdScalars } from './optim.js';

const acc = new Float64Array(48);
const part = new Float64Array(3);
/** One element's terms [w Δ², g Δ, |g Δ|]. */
const t = new Float64Array(3);

/** t ← the terms of Δ = next − old; false when next is not finite. */
function terms(old: number, next: number, g: number, w: number): boolean {
  const d = next - old;
  const gd = g * d;
  t[0] = w * (d * d);
  t[1] = gd;
  t[2] = Math.abs(gd);
  return next - next === 0;
}

/**
 * The canonical order over [0, n): `element(i)` updates element i, writes its terms into t
 * and returns whether it is finite. Returns whether all are; out ← the three sums.
 */
function canonical(n: number, element: (i: number) => boolean, out: Float64Array): boolean {
  const [chunk, units] = sumSplit(n);
  let finite = true;
  let q = 0;
  let p = 0;
  let a = 0;
  for (let u = 0; u < units; u++) {
    const start = Math.min(n, u * chunk);
    const end = Math.min(n, start + chunk);
    const full = start + Math.floor((end - start) / 16) * 16;
    acc.fill(0);
    for (let i = start; i < full; i++) {
      if (!element(i)) finite = false;
      const j = (i - start) & 15;
      acc[j] += t[0];
      acc[16 + j] += t[1];
      acc[32 + j] += t[2];
    }
    combine16(acc, part);
    for (let i = full; i < end; i++) {
      if (!element(i)) finite = false;
      part[0] += t[0];
      part[1] += t[1];
      part[2] += t[2];
    }
    q += part[0];
    p += part[1];
    a += part[2];
  }
  out[0] = q;
  out[1] = p;
  out[2] = a;
  return finite;
}

/** torch.optim.SGD on one tensor, measured (lib/kernels.ts documents the arguments). */
export function sgdStepMeasured(
  params: Float32Array,
  grads: Float32Array,
  momentumBuffer: Float32Array,
  before: Float32Array,
  o: SgdStepOptions,
  out: Float64Array,
): boolean {
  const s: SgdScalars = sgdScalars(
    o.learningRate,
    o.momentum,
    o.dampening,
    o.weightDecay,
    o.nesterov,
    o.maximize,
    o.firstStep,
  );
  return canonical(
    params.length,
    (i) => {
      const old = params[i];
      before[i] = old;
      sgdElement(s, i, params, grads, momentumBuffer);
      return terms(old, params[i], grads[i], 1);
    },
    out,
  );
}

/** torch.optim.Adam / AdamW on one tensor, measured (lib/kernels.ts documents the arguments). */
export function adamStepMeasured(
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array,
  before: Float32Array,
  o: AdamStepOptions,
  out: Float64Array,
): boolean {
  const s: AdamScalars = adamScalars(
    o.beta1,
    o.beta2,
    o.stepSize,
    o.bc2Sqrt,
    o.epsilon,
    o.weightDecay,
    o.decay,
    o.amsgrad,
    o.maximize,
  );
  const { metricScale, metricEpsilon } = o;
  return canonical(
    params.length,
    (i) => {
      const old = params[i];
      before[i] = old;
      const root = adamElement(s, i, params, grads, m, v, vMax);
      return terms(old, params[i], grads[i], root * metricScale + metricEpsilon);
    },
    out,
  );
}
