/**
 * The energy terms of one optimizer update (design eq. 13's energy meters, docs/theory.md
 * "Entropy-balanced learning rate"): for Δ = after − before,
 *
 *   out[0] = Σ w_i Δ_i²    the kinetic energy ×2 in the metric w (w_i = √s_i·scale + ε, or 1;
 *                          the square root in the dtype, as Adam's own denominator)
 *   out[1] = Σ g_i Δ_i     the work of the gradient (−out[1] is the first-order loss decrease)
 *   out[2] = Σ |g_i Δ_i|   the work done on the parameters, every coordinate's counted
 *
 * Apart from that square root (in the arrays' dtype, correctly rounded everywhere: √ of an
 * f32 in f64, then rounded to f32, is the correctly rounded f32 √; on Float64Array inputs
 * it is the f64 √ and Δ_i is an f64 subtraction, rounded once), every term and sum is an f64 operation, unfused, in one canonical order that every
 * backend follows, so the three sums are bit-identical across backends (and with any
 * number of threads): the vector is cut into the fixed ranges of `sumSplit` (they depend
 * only on its length); inside a range, element j of each full block of 16 goes to
 * accumulator j mod 16; the 16 accumulators are combined as the AVX2 path's registers
 * are, t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}) then (t_0 + t_2) + (t_1 + t_3); the
 * range's tail is added in index order; the ranges' sums are added in index order.
 */

import type { UpdateEnergyParams } from '../../kernels.js';
import { type Real, type Round, roundingOf, sameDtype } from './dtype.js';

/** Elements per range of a split sum, at least. */
const MIN_UNIT = 1 << 15;
/** Most ranges a sum is split into. */
const MAX_UNITS = 64;

/** The fixed split of a length-n sum: [range length (a multiple of 16), number of ranges]. */
export function sumSplit(n: number): [number, number] {
  const units = Math.min(MAX_UNITS, Math.max(1, Math.ceil(n / MIN_UNIT)));
  const chunk = Math.max(16, Math.ceil(Math.ceil(n / units) / 16) * 16);
  return [chunk, Math.max(1, Math.ceil(n / chunk))];
}

const acc = new Float64Array(48);

/** (t_0 + t_2) + (t_1 + t_3), t_l = (a_l + a_{4+l}) + (a_{8+l} + a_{12+l}), a = acc[o … o + 16). */
function combine(acc: Float64Array, o: number): number {
  const t0 = acc[o] + acc[o + 4] + (acc[o + 8] + acc[o + 12]);
  const t1 = acc[o + 1] + acc[o + 5] + (acc[o + 9] + acc[o + 13]);
  const t2 = acc[o + 2] + acc[o + 6] + (acc[o + 10] + acc[o + 14]);
  const t3 = acc[o + 3] + acc[o + 7] + (acc[o + 11] + acc[o + 15]);
  return t0 + t2 + (t1 + t3);
}

/** part[k] ← sum k's 16 accumulators acc[16k … 16k + 16) combined in the canonical order. */
export function combine16(acc: Float64Array, part: Float64Array): void {
  for (let k = 0; k < 3; k++) part[k] = combine(acc, 16 * k);
}

/** The three sums over [start, end) in the canonical order, into part[0..3]. */
function rangeSums(
  r: Round,
  before: Real,
  after: Real,
  grads: Real,
  metric: Real,
  scale: number,
  epsilon: number,
  start: number,
  end: number,
  part: Float64Array,
): void {
  const weighted = metric.length > 0;
  acc.fill(0);
  const full = start + Math.floor((end - start) / 16) * 16;
  for (let i = start; i < full; i += 16) {
    for (let j = 0; j < 16; j++) {
      const d = after[i + j] - before[i + j];
      const w = weighted ? r(Math.sqrt(metric[i + j])) * scale + epsilon : 1;
      const p = grads[i + j] * d;
      acc[j] += w * (d * d);
      acc[16 + j] += p;
      acc[32 + j] += Math.abs(p);
    }
  }
  combine16(acc, part);
  for (let i = full; i < end; i++) {
    const d = after[i] - before[i];
    const w = weighted ? r(Math.sqrt(metric[i])) * scale + epsilon : 1;
    const p = grads[i] * d;
    part[0] += w * (d * d);
    part[1] += p;
    part[2] += Math.abs(p);
  }
}

const part = new Float64Array(3);

/** The energy terms of an update (lib/kernels.ts documents the arguments). */
export function updateEnergy(
  before: Real,
  after: Real,
  grads: Real,
  metric: Real,
  params: UpdateEnergyParams,
  out: Float64Array,
): void {
  const { metricScale, epsilon } = params;
  sameDtype(before, { after, grads, metric });
  const r = roundingOf(before);
  const n = after.length;
  const [chunk, units] = sumSplit(n);
  let q = 0;
  let p = 0;
  let a = 0;
  for (let u = 0; u < units; u++) {
    const start = Math.min(n, u * chunk);
    rangeSums(r, before, after, grads, metric, metricScale, epsilon, start, Math.min(n, start + chunk), part);
    q += part[0];
    p += part[1];
    a += part[2];
  }
  out[0] = q;
  out[1] = p;
  out[2] = a;
}

const slopeAcc = new Float64Array(16);

/**
 * Σ g_i (after_i − before_i) alone: updateEnergy's out[1] bit for bit (the same terms in the
 * same canonical order), at about two thirds of its cost natively. The learning-rate rules'
 * end slope reads only this sum.
 */
export function updateSlope(before: Real, after: Real, grads: Real): number {
  sameDtype(before, { after, grads });
  const n = after.length;
  const [chunk, units] = sumSplit(n);
  let total = 0;
  for (let u = 0; u < units; u++) {
    const start = Math.min(n, u * chunk);
    const end = Math.min(n, start + chunk);
    const full = start + Math.floor((end - start) / 16) * 16;
    slopeAcc.fill(0);
    for (let i = start; i < full; i++) slopeAcc[(i - start) & 15] += grads[i] * (after[i] - before[i]);
    let part = combine(slopeAcc, 0);
    for (let i = full; i < end; i++) part += grads[i] * (after[i] - before[i]);
    total += part;
  }
  return total;
}
