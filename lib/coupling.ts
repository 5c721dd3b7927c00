/**
 * The quantum–classical coupling Ψ(t) and the scale transition 𝒮(t) of seed 002 §1
 * (design.md §2 eqs. 1–2): validated entry points over the active backend. Each takes one
 * time (returns a number) or a Float64Array of times (returns a Float64Array, or fills
 * `out`).
 */
import { separate } from './aliasing.js';
import { kernels } from './backend.js';
import { QDT } from './constants.js';
import { argumentError, CimmArgumentError, describeValue, typeOf } from './errors.js';
import { allFinite, finiteNumber, float64Array, readOptions } from './is.js';

/** ln(f64 max): e^{x} overflows above it. */
const EXP_MAX = 709.782712893384;

export interface CouplingOptions {
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** Λ (default 1.2). */
  lambdaCosmo?: number;
  /** Where to write Ψ (array input only; the length of t, may be t itself). */
  out?: Float64Array;
}

export interface ScaleTransitionOptions {
  /** λ, the scale coupling (default 1). */
  scaleCoupling?: number;
  /** t_c, the critical transition time (default 0). */
  criticalTime?: number;
  /** Where to write 𝒮 (array input only; the length of t, may be t itself). */
  out?: Float64Array;
}

/** Defaults of the scale transition: the standard logistic centred at t = 0. */
export const SCALE_TRANSITION_DEFAULTS = Object.freeze({ scaleCoupling: 1, criticalTime: 0 });

const one = new Float64Array(1);
const oneOut = new Float64Array(1);

interface Extent {
  min: number;
  max: number;
  iMin: number;
  iMax: number;
}

/** One pass: the smallest and largest t (and where), rejecting non-finite values. */
function extent(t: Float64Array): Extent {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let iMin = -1;
  let iMax = -1;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v - v !== 0) allFinite('t', t); // throws, naming the index
    if (v < min) {
      min = v;
      iMin = i;
    }
    if (v > max) {
      max = v;
      iMax = i;
    }
  }
  return { min, max, iMin, iMax };
}

function timesError(t: Float64Array, what: string, i: number): CimmArgumentError {
  return new CimmArgumentError(
    't',
    what,
    `Expected ${what} for t but received ${t[i]} at index ${i} of ${describeValue(t)} of type ${typeOf(t)}`,
  );
}

/**
 * Ψ must stay finite: e^{−βt} within the f64 range, γt finite, and the bound
 * |α|e^{−βt} + |Λ||J(t)| below the f64 maximum (|J| ≤ |t|·max(1, e^{−βt}) and, for h > 0,
 * ≤ (|γ|/h + e^{−βt})/h with h = hypot(β, γ)).
 */
function checkCouplingRange(t: Float64Array, x: Extent, alpha: number, beta: number, gamma: number, lambda: number) {
  if (t.length === 0) return;
  for (const i of [x.iMin, x.iMax]) {
    if (-beta * t[i] > EXP_MAX) {
      throw timesError(t, `values with −β·t <= ${EXP_MAX} (e^{−βt} within the f64 range; β = ${beta})`, i);
    }
    if (!Number.isFinite(gamma * t[i])) throw timesError(t, `values with γ·t finite (γ = ${gamma})`, i);
  }
  const e = Math.exp(Math.max(-beta * x.min, -beta * x.max));
  const span = Math.max(Math.abs(x.min), Math.abs(x.max));
  const h = Math.hypot(beta, gamma);
  let jBound = span * Math.max(1, e);
  if (h > 0) jBound = Math.min(jBound, (Math.abs(gamma) / h + e) / h);
  const bound = Math.abs(alpha) * e + Math.abs(lambda) * jBound;
  if (!(bound <= Number.MAX_VALUE)) {
    throw new RangeError(
      `cimm: Ψ(t) may overflow f64 for t in [${x.min}, ${x.max}] with α = ${alpha}, β = ${beta}, γ = ${gamma}, Λ = ${lambda} (|α|e^{−βt} + |Λ||J(t)| can reach ${bound})`,
    );
  }
}

/**
 * Eq. 1, the quantum–classical coupling (seed 002 §1.1):
 * Ψ(t) = α e^{−βt} cos(γt) + Λ ∫₀ᵗ e^{−βτ} sin(γτ) dτ, the integral in closed form (its
 * series where |t|·hypot(β, γ) < 1; 0 for β = γ = 0). Defaults: the seed's α, β, γ, Λ.
 * Throws when Ψ could overflow f64 for the given t (e.g. −βt > 709.78).
 */
export function coupling(t: number, opts?: CouplingOptions): number;
export function coupling(t: Float64Array, opts?: CouplingOptions): Float64Array;
export function coupling(t: number | Float64Array, opts?: CouplingOptions): number | Float64Array {
  const o = readOptions<CouplingOptions>('options', opts, ['alpha', 'beta', 'gamma', 'lambdaCosmo', 'out']);
  const alpha = finiteNumber('alpha', o.alpha ?? QDT.alpha);
  const beta = finiteNumber('beta', o.beta ?? QDT.beta);
  const gamma = finiteNumber('gamma', o.gamma ?? QDT.gamma);
  const lambda = finiteNumber('lambdaCosmo', o.lambdaCosmo ?? QDT.lambdaCosmo);
  if (typeof t === 'number') {
    one[0] = finiteNumber('t', t);
    checkCouplingRange(one, extent(one), alpha, beta, gamma, lambda);
    kernels().coupling(one, { alpha, beta, gamma, lambdaCosmo: lambda }, oneOut);
    return oneOut[0];
  }
  if (!(t instanceof Float64Array)) throw argumentError('t', 'a finite number or a Float64Array', t);
  float64Array('t', t); // attached and in bounds (an options getter may have detached it); finiteness: extent
  checkCouplingRange(t, extent(t), alpha, beta, gamma, lambda);
  const out = o.out === undefined ? new Float64Array(t.length) : float64Array('out', o.out, { length: t.length });
  // out may be t (in place); a partial overlap is computed from a copy of t (lib/aliasing.ts).
  kernels().coupling(separate('coupling', { t, out }).t, { alpha, beta, gamma, lambdaCosmo: lambda }, out);
  return out;
}

/**
 * Eq. 2, the scale transition (seed 002 §1.2): 𝒮(t) = 1 / (1 + e^{−λ(t − t_c)}), from the
 * quantum regime (𝒮 ≈ 0) to the classical one (𝒮 ≈ 1). Stable for any λ(t − t_c): exactly
 * 0 and 1 far out, never NaN. Defaults λ = 1, t_c = 0.
 */
export function scaleTransition(t: number, opts?: ScaleTransitionOptions): number;
export function scaleTransition(t: Float64Array, opts?: ScaleTransitionOptions): Float64Array;
export function scaleTransition(t: number | Float64Array, opts?: ScaleTransitionOptions): number | Float64Array {
  const o = readOptions<ScaleTransitionOptions>('options', opts, ['scaleCoupling', 'criticalTime', 'out']);
  const lambda = finiteNumber('scaleCoupling', o.scaleCoupling ?? SCALE_TRANSITION_DEFAULTS.scaleCoupling);
  const tc = finiteNumber('criticalTime', o.criticalTime ?? SCALE_TRANSITION_DEFAULTS.criticalTime);
  if (typeof t === 'number') {
    one[0] = finiteNumber('t', t);
    kernels().scaleTransition(one, { scaleCoupling: lambda, criticalTime: tc }, oneOut);
    return oneOut[0];
  }
  if (!(t instanceof Float64Array)) throw argumentError('t', 'a finite number or a Float64Array', t);
  float64Array('t', t, { finite: true });
  const out = o.out === undefined ? new Float64Array(t.length) : float64Array('out', o.out, { length: t.length });
  kernels().scaleTransition(
    separate('scaleTransition', { t, out }).t,
    { scaleCoupling: lambda, criticalTime: tc },
    out,
  );
  return out;
}
