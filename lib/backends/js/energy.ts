/**
 * Pure-TS energy kernels: the readable reference every native backend is checked against.
 * Seed 002 §2.1; design.md §2 eqs. 3–5.
 */

import { argumentError } from '../../errors.js';
import type { EnergyTermsParams, NonlocalEnergyParams } from '../../kernels.js';
import { primeTable } from '../../primes.js';

/** Eq. 3: E_loc(r) = Σ_{n=1}^{N} cos(2π r / p_n) / (r² + p_n²), for each r. */
export function localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void {
  const p = primeTable(primeCount);
  for (let i = 0; i < r.length; i++) {
    const ri = r[i];
    const r2 = ri * ri;
    let sum = 0;
    for (let n = 0; n < primeCount; n++) {
      sum += Math.cos((2 * Math.PI * ri) / p[n]) / (r2 + p[n] * p[n]);
    }
    out[i] = sum;
  }
}

/** ‖x − y‖₂ accumulated in f64. */
export function distance(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let k = 0; k < x.length; k++) {
    const d = x[k] - y[k];
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * Eq. 4: the mean over quadrature points z_j (rows of `points`) of
 * exp(−‖x − z_j‖/ℓ) / ‖z_j − y‖_ε, with the softened norm ‖v‖_ε = sqrt(‖v‖² + ε²).
 * Returns NaN when any point (or x, y) holds a non-finite value.
 */
export function nonlocalEnergy(
  x: Float32Array,
  y: Float32Array,
  points: Float32Array,
  params: NonlocalEnergyParams,
): number {
  const { lengthScale, softening } = params;
  const d = x.length;
  // The checks of the native cores (crate/src/nonlocal.rs): with d = 0 the row count
  // points.length / d is ∞ (or NaN) and the loop below would never end.
  if (d === 0) throw argumentError('x', 'a non-empty Float32Array', x);
  if (y.length !== d) throw argumentError('y', `a Float32Array of length ${d} (the length of x)`, y);
  if (points.length === 0 || points.length % d !== 0) {
    throw argumentError('points', `a Float32Array of M×${d} values (M >= 1)`, points);
  }
  const m = points.length / d;
  const eps2 = softening * softening;
  let sum = 0;
  for (let j = 0; j < m; j++) {
    const row = j * d;
    let toX = 0;
    let toY = 0;
    for (let k = 0; k < d; k++) {
      const z = points[row + k];
      const a = x[k] - z;
      const b = z - y[k];
      toX += a * a;
      toY += b * b;
    }
    // A non-finite coordinate makes a distance non-finite: report it as NaN (the facade
    // then names the bad index) instead of letting exp(−∞) = 0 hide it.
    if (!(toX + toY < Number.POSITIVE_INFINITY)) return Number.NaN;
    sum += Math.exp(-Math.sqrt(toX) / lengthScale) / Math.sqrt(toY + eps2);
  }
  return sum / m;
}

/**
 * Eq. 5 with its terms: out = [r, E_loc(r), E_nl(x, y), E_loc + Λ·E_nl], r = ‖x − y‖ — the
 * three kernels above, composed (the native backends fuse them into one call).
 */
export function energyTerms(
  x: Float32Array,
  y: Float32Array,
  points: Float32Array,
  params: EnergyTermsParams,
  out: Float64Array,
): void {
  const { primeCount, lengthScale, softening, lambdaCosmo } = params;
  const nonlocal = nonlocalEnergy(x, y, points, { lengthScale, softening });
  const r = distance(x, y);
  scratchR[0] = r;
  localEnergy(scratchR, primeCount, scratchLocal);
  const local = scratchLocal[0];
  out[0] = r;
  out[1] = local;
  out[2] = nonlocal;
  out[3] = local + lambdaCosmo * nonlocal;
}

// energyTerms' one-element arrays for localEnergy, kept (a typed-array allocation costs about
// as much as the rest of a small call; no user code runs while they are in use)
const scratchR = new Float64Array(1);
const scratchLocal = new Float64Array(1);
