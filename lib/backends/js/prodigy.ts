/**
 * Pure-TS Prodigy kernels (Mishchenko & Defazio 2023, Algorithm 4 as prodigyopt 1.1.2
 * implements it): the reference for crate/src/prodigy.rs and native/src/prodigy.cpp.
 */
import type { ProdigyAccumulateOptions, ProdigyUpdateOptions } from '../../kernels.js';
import { type Real, roundingOf, sameDtype } from './dtype.js';

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
  options: ProdigyAccumulateOptions,
): [number, number] {
  const { beta1, beta2, beta3, momentScale, varianceScale, sScale, weightDecay } = options;
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
export function prodigyUpdate(params: Real, m: Real, v: Real, options: ProdigyUpdateOptions): boolean {
  const { stepSize, epsilon, decay } = options;
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
