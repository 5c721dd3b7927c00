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
import { type Real, roundingOf, sameDtype } from './dtype.js';
import { adamElement, adamScalars, sgdElement, sgdScalars } from './optim.js';

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
  o: AdamStepOptions,
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
