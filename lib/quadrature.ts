/**
 * Quadrature points z_j for the nonlocal energy (design eq. 4). Ω is a box
 * [lower, upper]^d; points are a randomized quasi-Monte Carlo set: the Kronecker
 * (Roberts R_d) sequence u_j = frac(s + j·a), a_k = φ_d^−(k+1), with a Cranley–Patterson
 * shift s drawn from the seed. Deterministic for (M, d, seed, box); O(M^−1) error in low
 * dimension for smooth integrands, never worse than Monte Carlo in high dimension.
 */

import { argumentError } from './errors.js';
import { finiteNumber, integer } from './is.js';
import { Random } from './random.js';

export interface Domain {
  lower: number;
  upper: number;
}

export interface QuadratureSpec {
  /** M, the number of points. */
  count: number;
  /** d, the dimension of the parameter space. */
  dimension: number;
  /** Seed of the random shift. */
  seed?: number;
  /** Ω = [lower, upper]^d; default [−1, 1]^d. */
  domain?: Domain;
}

/** φ_d: the positive root of x^(d+1) = x + 1 (the generalized golden ratio). */
export function generalizedGoldenRatio(d: number): number {
  let x = 2;
  for (let i = 0; i < 64; i++) x = (1 + x) ** (1 / (d + 1));
  return x;
}

/** The M×d row-major matrix of points in Ω, as f32 (the kernels' parameter dtype). */
export function quadraturePoints(spec: QuadratureSpec): Float32Array {
  const m = integer('count', spec.count, { min: 1, max: 1 << 24 });
  const d = integer('dimension', spec.dimension, { min: 1, max: 1 << 24 });
  if (m * d > 1 << 28) throw argumentError('count', `count × dimension <= ${1 << 28}`, m * d);
  const seed = spec.seed ?? 0;
  const lower = finiteNumber('domain.lower', spec.domain?.lower ?? -1);
  const upper = finiteNumber('domain.upper', spec.domain?.upper ?? 1, { above: lower });
  const width = upper - lower;

  const phi = generalizedGoldenRatio(d);
  const step = new Float64Array(d);
  const shift = new Float64Array(d);
  const rng = new Random(seed);
  for (let k = 0; k < d; k++) {
    step[k] = (1 / phi ** (k + 1)) % 1;
    shift[k] = rng.uniform();
  }
  const out = new Float32Array(m * d);
  for (let j = 0; j < m; j++) {
    const row = j * d;
    for (let k = 0; k < d; k++) {
      const u = (shift[k] + (j + 1) * step[k]) % 1;
      out[row + k] = lower + width * u;
    }
  }
  return out;
}
