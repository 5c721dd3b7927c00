/**
 * The energy distribution of seed 002 §2.1 (design.md §2 eqs. 3–5): validated entry points
 * over the active backend, and EnergySystem, the seed's QDTEnergySystem.
 */
import { separate } from './aliasing.js';
import { abortSignal, deliver } from './async.js';
import { kernels } from './backend.js';
import { QDT } from './constants.js';
import { argumentError, CimmArgumentError } from './errors.js';
import { finiteNumber, firstNonFinite, float32Array, float64Array, integer, readOptions } from './is.js';
import { MAX_PRIME_COUNT } from './primes.js';
import { type Domain, quadraturePoints } from './quadrature.js';

/** Defaults for the energy terms (seed 002 §5.1 uses 10 primes and l = 1). */
export const ENERGY_DEFAULTS = Object.freeze({
  primeCount: 10,
  lengthScale: 1,
  softening: 1e-3,
  quadraturePoints: 256,
  seed: 0,
});

export interface LocalEnergyOptions {
  /** N, the number of primes in the series (default 10). */
  primeCount?: number;
  /** Where to write the result (length of r); a new array otherwise. */
  out?: Float64Array;
}

/** Eq. 3 for each r: out[i] = Σ_{n≤N} cos(2π r_i / p_n) / (r_i² + p_n²). */
export function localEnergy(r: Float64Array, opts?: LocalEnergyOptions): Float64Array {
  const o = readOptions<LocalEnergyOptions>('options', opts, ['primeCount', 'out']);
  const n = integer('primeCount', o.primeCount ?? ENERGY_DEFAULTS.primeCount, { min: 0, max: MAX_PRIME_COUNT });
  float64Array('r', r, { finite: true });
  const out = o.out === undefined ? new Float64Array(r.length) : float64Array('out', o.out, { length: r.length });
  kernels().localEnergy(separate('localEnergy', { r, out }).r, n, out);
  return out;
}

export interface LocalEnergyAsyncOptions extends LocalEnergyOptions {
  /** Aborts the call: the promise rejects with an AbortError (DOMException). */
  signal?: AbortSignal;
}

/**
 * localEnergy off the main thread (docs/theory.md, "Async kernels"), for large batches of r:
 * the same values, bit for bit. `r` is copied during the call (the caller may change,
 * transfer or detach it right after); the promise resolves to a new array, or to `out` with
 * the result copied in (`out` must then still have r's length, else the promise rejects
 * naming it). Bad arguments reject before any work is queued.
 */
export async function localEnergyAsync(r: Float64Array, opts?: LocalEnergyAsyncOptions): Promise<Float64Array> {
  const o = readOptions<LocalEnergyAsyncOptions>('options', opts, ['primeCount', 'out', 'signal']);
  const n = integer('primeCount', o.primeCount ?? ENERGY_DEFAULTS.primeCount, { min: 0, max: MAX_PRIME_COUNT });
  const signal = abortSignal('signal', o.signal);
  float64Array('r', r, { finite: true });
  const out = o.out === undefined ? undefined : float64Array('out', o.out, { length: r.length });
  const result = await kernels().localEnergyAsync(r, n, signal);
  return out === undefined ? result : deliver('out', result, out);
}

export interface NonlocalEnergyOptions {
  /** ℓ, the characteristic length (default 1). */
  lengthScale?: number;
  /** ε in the softened norm sqrt(‖z − y‖² + ε²) (default 1e-3). */
  softening?: number;
}

/** Validate x and y as finite f32 vectors of one length d ≥ 1; returns d. */
function pairOfVectors(x: unknown, y: unknown): number {
  const xs = float32Array('x', x, { finite: true });
  if (xs.length === 0) throw argumentError('x', 'a non-empty Float32Array', x);
  float32Array('y', y, { length: xs.length, finite: true });
  return xs.length;
}

/** A NaN from a kernel means a non-finite input slipped past the cheap checks: find it. */
function nonFiniteResult(points: Float32Array): never {
  const i = firstNonFinite(points);
  if (i >= 0) {
    throw new CimmArgumentError(
      'points',
      'finite values',
      `Expected finite values for points but received ${points[i]} at index ${i} of Float32Array(${points.length}) of type Float32Array`,
    );
  }
  throw new RangeError('cimm: nonlocal energy overflowed to a non-finite value');
}

/**
 * Eq. 4: E_nl(x, y) = (1/M) Σ_j exp(−‖x − z_j‖/ℓ) / sqrt(‖z_j − y‖² + ε²) over the rows z_j
 * of `points` (an M×d row-major Float32Array).
 */
export function nonlocalEnergy(
  x: Float32Array,
  y: Float32Array,
  points: Float32Array,
  opts?: NonlocalEnergyOptions,
): number {
  const o = readOptions<NonlocalEnergyOptions>('options', opts, ['lengthScale', 'softening']);
  const ell = finiteNumber('lengthScale', o.lengthScale ?? ENERGY_DEFAULTS.lengthScale, { above: 0 });
  const eps = finiteNumber('softening', o.softening ?? ENERGY_DEFAULTS.softening, { min: 0 });
  const d = pairOfVectors(x, y);
  float32Array('points', points);
  if (points.length === 0 || points.length % d !== 0) {
    throw argumentError('points', `a Float32Array of M×${d} values (M >= 1)`, points);
  }
  const e = kernels().nonlocalEnergy(x, y, points, { lengthScale: ell, softening: eps });
  if (Number.isNaN(e)) nonFiniteResult(points);
  return e;
}

/** ‖x − y‖₂ for f32 vectors, accumulated in f64. */
export function distance(x: Float32Array, y: Float32Array): number {
  pairOfVectors(x, y);
  return kernels().distance(x, y);
}

export interface EnergySystemOptions extends NonlocalEnergyOptions {
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** Λ, weight of the nonlocal term (default 1.2). */
  lambdaCosmo?: number;
  /** N, primes in the local series (default 10). */
  primeCount?: number;
  /** M, quadrature points generated per dimension d (default 256). */
  quadraturePoints?: number;
  /** Ω = [lower, upper]^d for generated points (default [−1, 1]). */
  domain?: Domain;
  /** Seed of the generated points (default 0). */
  seed?: number;
  /** Caller-supplied points, an M×d Float32Array; replaces generated points. */
  points?: Float32Array;
}

/** Serializable configuration of an EnergySystem. */
export interface EnergySystemConfig {
  alpha: number;
  beta: number;
  gamma: number;
  lambdaCosmo: number;
  primeCount: number;
  lengthScale: number;
  softening: number;
  quadraturePoints: number;
  domain: Domain;
  seed: number;
}

/** The terms of eq. 5 for one (x, y). */
export interface EnergyTerms {
  /** r = ‖x − y‖. */
  distance: number;
  /** E_loc(r), eq. 3. */
  local: number;
  /** E_nl(x, y), eq. 4. */
  nonlocal: number;
  /** E = E_loc + Λ E_nl, eq. 5. */
  total: number;
}

/**
 * Seed 002 §5.1 QDTEnergySystem: E(x, y) = E_loc(‖x − y‖) + Λ E_nl(x, y), x the current
 * parameters, y the target parameters. Quadrature points are generated once per
 * dimension and cached (or supplied by the caller).
 */
export class EnergySystem {
  readonly config: Readonly<EnergySystemConfig>;
  private readonly suppliedPoints: Float32Array | undefined;
  private readonly pointCache = new Map<number, Float32Array>();
  private readonly scratchR = new Float64Array(1);
  private readonly scratchE = new Float64Array(1);
  private readonly scratchTerms = new Float64Array(4);

  constructor(opts?: EnergySystemOptions) {
    const o = readOptions<EnergySystemOptions>('options', opts, [
      'alpha',
      'beta',
      'gamma',
      'lambdaCosmo',
      'primeCount',
      'lengthScale',
      'softening',
      'quadraturePoints',
      'domain',
      'seed',
      'points',
    ]);
    const domain = readOptions<Domain>('domain', o.domain, ['lower', 'upper']);
    const lower = finiteNumber('domain.lower', domain.lower ?? -1);
    this.config = Object.freeze({
      alpha: finiteNumber('alpha', o.alpha ?? QDT.alpha),
      beta: finiteNumber('beta', o.beta ?? QDT.beta),
      gamma: finiteNumber('gamma', o.gamma ?? QDT.gamma),
      lambdaCosmo: finiteNumber('lambdaCosmo', o.lambdaCosmo ?? QDT.lambdaCosmo),
      primeCount: integer('primeCount', o.primeCount ?? ENERGY_DEFAULTS.primeCount, { min: 0, max: MAX_PRIME_COUNT }),
      lengthScale: finiteNumber('lengthScale', o.lengthScale ?? ENERGY_DEFAULTS.lengthScale, { above: 0 }),
      softening: finiteNumber('softening', o.softening ?? ENERGY_DEFAULTS.softening, { min: 0 }),
      quadraturePoints: integer('quadraturePoints', o.quadraturePoints ?? ENERGY_DEFAULTS.quadraturePoints, {
        min: 1,
        max: 1 << 20,
      }),
      domain: Object.freeze({ lower, upper: finiteNumber('domain.upper', domain.upper ?? 1, { above: lower }) }),
      seed: integer('seed', o.seed ?? ENERGY_DEFAULTS.seed, { min: -(2 ** 31), max: 2 ** 32 - 1 }),
    });
    if (o.points !== undefined) this.suppliedPoints = float32Array('points', o.points, { finite: true });
  }

  static fromConfig(config: EnergySystemConfig): EnergySystem {
    return new EnergySystem(config);
  }

  /** The JSON-serializable configuration (caller-supplied points are not part of it). */
  getConfig(): EnergySystemConfig {
    return { ...this.config, domain: { ...this.config.domain } };
  }

  /** The quadrature points for dimension d (generated once, then cached). */
  points(d: number): Float32Array {
    if (this.suppliedPoints) {
      if (this.suppliedPoints.length === 0 || this.suppliedPoints.length % d !== 0) {
        throw argumentError('points', `a Float32Array of M×${d} values (M >= 1)`, this.suppliedPoints);
      }
      return this.suppliedPoints;
    }
    let pts = this.pointCache.get(d);
    if (!pts) {
      const { quadraturePoints: count, seed, domain } = this.config;
      pts = quadraturePoints({ count, dimension: d, seed, domain });
      this.pointCache.set(d, pts);
    }
    return pts;
  }

  /** E_loc(r), eq. 3. */
  localEnergy(r: number): number {
    this.scratchR[0] = finiteNumber('r', r);
    kernels().localEnergy(this.scratchR, this.config.primeCount, this.scratchE);
    return this.scratchE[0];
  }

  /** E_nl(x, y), eq. 4. */
  nonlocalEnergy(x: Float32Array, y: Float32Array): number {
    const d = pairOfVectors(x, y);
    const { lengthScale, softening } = this.config;
    const e = kernels().nonlocalEnergy(x, y, this.points(d), { lengthScale, softening });
    if (Number.isNaN(e)) nonFiniteResult(this.points(d));
    return e;
  }

  /**
   * Eq. 5 with its terms: E(x, y) = E_loc(‖x − y‖) + Λ E_nl(x, y), in one kernel call
   * (energyTerms: the values distance, localEnergy and nonlocalEnergy give, bit for bit).
   */
  computeEnergy(x: Float32Array, y: Float32Array): EnergyTerms {
    const d = pairOfVectors(x, y);
    const points = this.points(d);
    const { primeCount, lengthScale, softening, lambdaCosmo } = this.config;
    const out = this.scratchTerms;
    kernels().energyTerms(x, y, points, { primeCount, lengthScale, softening, lambdaCosmo }, out);
    if (Number.isNaN(out[2])) nonFiniteResult(points);
    return { distance: out[0], local: out[1], nonlocal: out[2], total: out[3] };
  }
}
