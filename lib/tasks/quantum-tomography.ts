/**
 * Quantum measurement (seed 000 §4, seed 001 §2 "AI can optimize measurement strategies"):
 * n-qubit state tomography, n = 1..3, d = 2ⁿ.
 *
 * Truth: a seeded random pure state (Haar: a normalized complex Gaussian vector) or a
 * mixed state of chosen rank (ρ = G G† / Tr, G a d × rank complex Gaussian matrix: the
 * induced measure).
 *
 * Measurements: the 3ⁿ local Pauli settings s ∈ {X, Y, Z}ⁿ, each a projective measurement
 * with 2ⁿ outcomes o (bit k of o is qubit k's ±1 result, qubit 0 the most significant bit):
 * Π_{s,o} = |φ_{s,o}⟩⟨φ_{s,o}|, φ_{s,o} = ⊗_k b(s_k, o_k), the eigenvectors of the Pauli
 * matrices. Shot noise: each setting's counts are multinomial draws from the Born
 * probabilities p_{s,o} = ⟨φ_{s,o}|ρ|φ_{s,o}⟩ (seeded).
 *
 * Estimation: maximum likelihood by gradient descent on a Cholesky parameterization
 * ρ(T) = T T† / Tr(T T†), T lower-triangular with a real diagonal (d² real parameters:
 * always a valid density matrix, no constraint for the optimizer to respect). Objective,
 * with f_k = n_k / N the observed frequencies over all settings and outcomes:
 *   L(T) = −Σ_k f_k ln p_k(T),  p_k = q_k / t,  q_k = ‖T† φ_k‖²,  t = ‖T‖²_F
 * and its analytic gradient (∂/∂Re T + i ∂/∂Im T, entries of the lower triangle):
 *   G = Σ_k f_k (−2 φ_k u_k† / q_k + 2 T / t),  u_k = T† φ_k.
 * Metrics: fidelity with the truth (pure truth: ⟨ψ|ρ|ψ⟩; mixed: Uhlmann's
 * (Tr √(√σ ρ √σ))²) and the von Neumann entropy of the estimate in bits, both from a
 * Hermitian Jacobi eigen-solver written here.
 *
 * The adaptive measurement strategy (`runMeasurementStrategy`) chooses each round's
 * setting by the expected information gain under a Laplace (Gaussian) approximation of
 * the posterior — Bayesian D-optimal design; see its comment.
 */
import { type ComplexMatrix, cholesky, complexMultiply, complexZeros, inverseSpd, sqrtPsd } from '../dense.js';
import { argumentError } from '../errors.js';
import { finiteNumber, float64Array, integer, oneOf, options } from '../is.js';
import { hermitianEigenvalues, vonNeumannEntropy } from '../quantum.js';
import { Random } from '../random.js';
import {
  checkEvaluate,
  nonFiniteLoss,
  type ObjectiveTask,
  seedOption,
  type TaskTarget,
  type Vector,
  vector,
} from './task.js';

/** Uhlmann fidelity F(ρ, σ) = (Tr √(√σ ρ √σ))², in [0, 1] for density matrices. */
export function uhlmannFidelity(rho: ComplexMatrix, sigma: ComplexMatrix, d: number): number {
  const r = sqrtPsd(sigma, d);
  const m = complexMultiply(complexMultiply(r, rho, d, complexZeros(d * d)), r, d, complexZeros(d * d));
  let s = 0;
  for (const l of hermitianEigenvalues(m.re, m.im)) s += Math.sqrt(Math.max(0, l));
  return Math.min(1, s * s);
}

/** ⟨ψ|ρ|ψ⟩ for a vector ψ (length d) and a d × d matrix ρ: the fidelity with a pure ψ. */
export function expectation(psi: ComplexMatrix, rho: ComplexMatrix, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) {
    // (ρψ)_i
    let yr = 0;
    let yi = 0;
    for (let j = 0; j < d; j++) {
      yr += rho.re[i * d + j] * psi.re[j] - rho.im[i * d + j] * psi.im[j];
      yi += rho.re[i * d + j] * psi.im[j] + rho.im[i * d + j] * psi.re[j];
    }
    s += psi.re[i] * yr + psi.im[i] * yi; // Re(conj(ψ_i) (ρψ)_i)
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// States and Pauli measurements.

/** A Haar-random pure state (normalized complex Gaussian vector). */
export function randomPureState(d: number, random: Random): ComplexMatrix {
  const psi = complexZeros(d);
  let norm = 0;
  for (let i = 0; i < d; i++) {
    psi.re[i] = random.normal();
    psi.im[i] = random.normal();
    norm += psi.re[i] ** 2 + psi.im[i] ** 2;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < d; i++) {
    psi.re[i] /= norm;
    psi.im[i] /= norm;
  }
  return psi;
}

/** |ψ⟩⟨ψ|. */
export function pureDensity(psi: ComplexMatrix, d: number): ComplexMatrix {
  const rho = complexZeros(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      rho.re[i * d + j] = psi.re[i] * psi.re[j] + psi.im[i] * psi.im[j];
      rho.im[i * d + j] = psi.im[i] * psi.re[j] - psi.re[i] * psi.im[j];
    }
  }
  return rho;
}

/** A random mixed state of the given rank: ρ = G G† / Tr(G G†), G d × rank complex Gaussian. */
export function randomMixedState(d: number, rank: number, random: Random): ComplexMatrix {
  const g = complexZeros(d * rank);
  for (let i = 0; i < g.re.length; i++) {
    g.re[i] = random.normal();
    g.im[i] = random.normal();
  }
  const rho = complexZeros(d * d);
  let trace = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sr = 0;
      let si = 0;
      for (let k = 0; k < rank; k++) {
        const ar = g.re[i * rank + k];
        const aI = g.im[i * rank + k];
        const br = g.re[j * rank + k];
        const bi = g.im[j * rank + k];
        sr += ar * br + aI * bi;
        si += aI * br - ar * bi;
      }
      rho.re[i * d + j] = sr;
      rho.im[i * d + j] = si;
    }
    trace += rho.re[i * d + i];
  }
  for (let i = 0; i < d * d; i++) {
    rho.re[i] /= trace;
    rho.im[i] /= trace;
  }
  return rho;
}

/** Setting letters, in the order of the base-3 digits of a setting index. */
export const PAULI_LETTERS = ['X', 'Y', 'Z'] as const;

/** The name of setting s for n qubits, e.g. "XZY" (qubit 0 first). */
export function settingName(s: number, n: number): string {
  let name = '';
  for (let k = 0; k < n; k++) name += PAULI_LETTERS[Math.floor(s / 3 ** (n - 1 - k)) % 3];
  return name;
}

/**
 * The measurement vectors φ_{s,o} for all 3ⁿ settings and 2ⁿ outcomes: row (s·2ⁿ + o) of a
 * (3ⁿ·2ⁿ) × d matrix. Setting digit k (base 3, most significant first) is qubit k's Pauli;
 * outcome bit k (most significant first) is qubit k's result, 0 ↔ eigenvalue +1.
 */
export function pauliMeasurementVectors(n: number): ComplexMatrix {
  const d = 2 ** n;
  const settings = 3 ** n;
  const h = Math.SQRT1_2;
  // b(letter, bit) as [re0, im0, re1, im1] (components on |0⟩, |1⟩)
  const basis: number[][][] = [
    [
      [h, 0, h, 0],
      [h, 0, -h, 0],
    ], // X: |+⟩, |−⟩
    [
      [h, 0, 0, h],
      [h, 0, 0, -h],
    ], // Y: |+i⟩, |−i⟩
    [
      [1, 0, 0, 0],
      [0, 0, 1, 0],
    ], // Z: |0⟩, |1⟩
  ];
  const phi = complexZeros(settings * d * d);
  for (let s = 0; s < settings; s++) {
    for (let o = 0; o < d; o++) {
      for (let j = 0; j < d; j++) {
        let vr = 1;
        let vi = 0;
        for (let k = 0; k < n; k++) {
          const letter = Math.floor(s / 3 ** (n - 1 - k)) % 3;
          const bit = (o >> (n - 1 - k)) & 1;
          const jk = (j >> (n - 1 - k)) & 1;
          const b = basis[letter][bit];
          const br = b[2 * jk];
          const bi = b[2 * jk + 1];
          [vr, vi] = [vr * br - vi * bi, vr * bi + vi * br];
        }
        phi.re[(s * d + o) * d + j] = vr;
        phi.im[(s * d + o) * d + j] = vi;
      }
    }
  }
  return phi;
}

/** Born probabilities p_{s,o} = ⟨φ_{s,o}|ρ|φ_{s,o}⟩ for every setting and outcome. */
export function bornProbabilities(rho: ComplexMatrix, phi: ComplexMatrix, d: number): Float64Array {
  const k = phi.re.length / d;
  const p = new Float64Array(k);
  const v = complexZeros(d);
  for (let r = 0; r < k; r++) {
    v.re.set(phi.re.subarray(r * d, (r + 1) * d));
    v.im.set(phi.im.subarray(r * d, (r + 1) * d));
    p[r] = Math.max(0, expectation(v, rho, d));
  }
  return p;
}

/** Multinomial counts of `shots` draws from probs[0..m) (inverse-CDF per shot), added into out. */
export function sampleCounts(
  probs: ArrayLike<number>,
  shots: number,
  random: Random,
  out: Uint32Array,
  offset = 0,
): void {
  integer('shots', shots, { min: 0 });
  integer('offset', offset, { min: 0, max: out.length });
  const m = Math.min(out.length - offset, probs.length);
  let total = 0;
  for (let o = 0; o < m; o++) total += probs[o];
  for (let t = 0; t < shots; t++) {
    let u = random.uniform() * total;
    let o = 0;
    while (o < m - 1 && u >= probs[o]) u -= probs[o++];
    out[offset + o]++;
  }
}

// ---------------------------------------------------------------------------------------
// Maximum likelihood by the RρR iteration (the reference estimator; no step size).

/** −Σ f_k ln p_k at ρ (f_k = n_k / N; terms with n_k = 0 skipped). */
function negativeLogLikelihood(rho: ComplexMatrix, phi: ComplexMatrix, counts: Uint32Array, d: number): number {
  let total = 0;
  for (const c of counts) total += c;
  const v = complexZeros(d);
  let nll = 0;
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] === 0) continue;
    v.re.set(phi.re.subarray(k * d, (k + 1) * d));
    v.im.set(phi.im.subarray(k * d, (k + 1) * d));
    nll -= (counts[k] / total) * Math.log(Math.max(expectation(v, rho, d), PROBABILITY_FLOOR));
  }
  return nll;
}

/**
 * The diluted RρR iteration (Hradil 1997; Řeháček et al. 2007): ρ ← (I + εR) ρ (I + εR) / Tr
 * with R = Σ_k (f_k / p_k) Π_k. Every setting's projectors sum to I, so the fixed point is
 * the maximum-likelihood state. A step that raises the NLL is retried with ε halved.
 */
export function maximumLikelihoodRrR(
  phi: ComplexMatrix,
  counts: Uint32Array,
  d: number,
  opts?: { start?: ComplexMatrix; maxIterations?: number; tolerance?: number },
): { rho: ComplexMatrix; nll: number; iterations: number } {
  const o = options<{ start: ComplexMatrix; maxIterations: number; tolerance: number }>('options', opts);
  const maxIterations = integer('maxIterations', o.maxIterations ?? 2000, { min: 1 });
  const tolerance = finiteNumber('tolerance', o.tolerance ?? 1e-12, { min: 0 });
  if (!(counts instanceof Uint32Array) || counts.length * d !== phi.re.length) {
    throw argumentError('counts', `a Uint32Array of length ${phi.re.length / d}`, counts);
  }
  if (o.start !== undefined) {
    float64Array('start.re', o.start.re, { length: d * d, finite: true });
    float64Array('start.im', o.start.im, { length: d * d, finite: true });
  }
  let rho = complexZeros(d * d);
  if (o.start) {
    rho.re.set(o.start.re);
    rho.im.set(o.start.im);
  } else for (let i = 0; i < d; i++) rho.re[i * d + i] = 1 / d;
  let total = 0;
  for (const c of counts) total += c;
  let nll = negativeLogLikelihood(rho, phi, counts, d);
  const r = complexZeros(d * d);
  const a = complexZeros(d * d);
  const tmp = complexZeros(d * d);
  let next = complexZeros(d * d);
  const v = complexZeros(d);
  let eps = 1e6;
  let it = 0;
  for (; it < maxIterations; it++) {
    r.re.fill(0);
    r.im.fill(0);
    for (let k = 0; k < counts.length; k++) {
      if (counts[k] === 0) continue;
      v.re.set(phi.re.subarray(k * d, (k + 1) * d));
      v.im.set(phi.im.subarray(k * d, (k + 1) * d));
      const w = counts[k] / total / Math.max(expectation(v, rho, d), PROBABILITY_FLOOR);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          r.re[i * d + j] += w * (v.re[i] * v.re[j] + v.im[i] * v.im[j]);
          r.im[i * d + j] += w * (v.im[i] * v.re[j] - v.re[i] * v.im[j]);
        }
      }
    }
    let accepted = false;
    while (!accepted && eps > 1e-8) {
      // A = (I + εR)/(1 + ε): the same direction as RρR for large ε, better scaled
      for (let i = 0; i < d * d; i++) {
        a.re[i] = (eps * r.re[i]) / (1 + eps);
        a.im[i] = (eps * r.im[i]) / (1 + eps);
      }
      for (let i = 0; i < d; i++) a.re[i * d + i] += 1 / (1 + eps);
      complexMultiply(complexMultiply(a, rho, d, tmp), a, d, next);
      let trace = 0;
      for (let i = 0; i < d; i++) trace += next.re[i * d + i];
      for (let i = 0; i < d * d; i++) {
        next.re[i] /= trace;
        next.im[i] /= trace;
      }
      const nextNll = negativeLogLikelihood(next, phi, counts, d);
      if (nextNll <= nll + 1e-15) {
        accepted = true;
        const change = nll - nextNll;
        const old = rho;
        rho = next;
        next = old;
        nll = nextNll;
        if (change <= tolerance * Math.max(1, Math.abs(nll))) return { rho, nll, iterations: it + 1 };
      } else eps /= 2;
    }
    if (!accepted) break;
  }
  return { rho, nll, iterations: it };
}

/** Probabilities below this are clamped inside the logarithm (their gradient is then 0). */
export const PROBABILITY_FLOOR = 1e-12;

// ---------------------------------------------------------------------------------------
// The tomography task.

export type TruthKind = 'pure' | 'mixed';

export interface TomographyOptions {
  /** n, 1..3 (default 2). */
  qubits?: number;
  /** Shots per Pauli setting (default 100). */
  shotsPerSetting?: number;
  /** 'pure' (default) or 'mixed'. */
  truth?: TruthKind;
  /** Rank of a mixed truth (default 2). */
  rank?: number;
  /** Seed of the truth and the shots (default 0). */
  seed?: number;
}

export const TOMOGRAPHY_DEFAULTS = Object.freeze({
  qubits: 2,
  shotsPerSetting: 100,
  truth: 'pure' as TruthKind,
  rank: 2,
  seed: 0,
});

/** Draw the true state: ψ (pure) or ρ (mixed). */
function drawTruth(
  d: number,
  kind: TruthKind,
  rank: number,
  random: Random,
): { psi: ComplexMatrix | undefined; rho: ComplexMatrix } {
  if (kind === 'pure') {
    const psi = randomPureState(d, random);
    return { psi, rho: pureDensity(psi, d) };
  }
  return { psi: undefined, rho: randomMixedState(d, rank, random) };
}

export class QuantumTomographyTask implements ObjectiveTask {
  readonly kind = 'objective' as const;
  readonly name = 'quantum-tomography';
  readonly dimension: number;
  readonly batchCount = 1;
  readonly target: TaskTarget;
  readonly qubits: number;
  /** d = 2ⁿ. */
  readonly d: number;
  /** Counts n_{s,o}, row s·2ⁿ + o. */
  readonly counts: Uint32Array;
  /** The true state (ψ when pure). */
  readonly truth: { psi: ComplexMatrix | undefined; rho: ComplexMatrix };
  /** The RρR maximum-likelihood estimate, its NLL, fidelity and entropy (the reference). */
  readonly reference: { rho: ComplexMatrix; nll: number; fidelity: number; entropy: number };
  private readonly phi: ComplexMatrix;
  private readonly freq: Float64Array;
  // scratch for evaluate()
  private readonly tRe: Float64Array;
  private readonly tIm: Float64Array;
  private readonly gRe: Float64Array;
  private readonly gIm: Float64Array;
  private readonly uRe: Float64Array;
  private readonly uIm: Float64Array;
  private readonly config: Record<string, unknown>;

  constructor(opts?: TomographyOptions) {
    const o = options<TomographyOptions>('options', opts);
    const n = integer('qubits', o.qubits ?? TOMOGRAPHY_DEFAULTS.qubits, { min: 1, max: 3 });
    const shots = integer('shotsPerSetting', o.shotsPerSetting ?? TOMOGRAPHY_DEFAULTS.shotsPerSetting, {
      min: 1,
      max: 1e9,
    });
    const kind = oneOf('truth', o.truth ?? TOMOGRAPHY_DEFAULTS.truth, ['pure', 'mixed'] as const);
    const d = 2 ** n;
    const rank = integer('rank', o.rank ?? TOMOGRAPHY_DEFAULTS.rank, { min: 1, max: d });
    const seed = seedOption(o.seed ?? TOMOGRAPHY_DEFAULTS.seed);
    const random = new Random(seed);
    this.qubits = n;
    this.d = d;
    this.dimension = d * d;
    this.truth = drawTruth(d, kind, rank, random);
    this.phi = pauliMeasurementVectors(n);
    const probs = bornProbabilities(this.truth.rho, this.phi, d);
    const settings = 3 ** n;
    this.counts = new Uint32Array(settings * d);
    for (let s = 0; s < settings; s++)
      sampleCounts(probs.subarray(s * d, (s + 1) * d), shots, random, this.counts, s * d);
    this.freq = new Float64Array(this.counts.length);
    const total = shots * settings;
    for (let k = 0; k < this.counts.length; k++) this.freq[k] = this.counts[k] / total;
    this.tRe = new Float64Array(d * d);
    this.tIm = new Float64Array(d * d);
    this.gRe = new Float64Array(d * d);
    this.gIm = new Float64Array(d * d);
    this.uRe = new Float64Array(d);
    this.uIm = new Float64Array(d);
    const ref = maximumLikelihoodRrR(this.phi, this.counts, d, { maxIterations: 5000, tolerance: 1e-13 });
    this.reference = {
      rho: ref.rho,
      nll: ref.nll,
      fidelity: this.fidelityOf(ref.rho),
      entropy: vonNeumannEntropy(ref.rho.re, ref.rho.im, { base: 2 }),
    };
    this.config = { qubits: n, shotsPerSetting: shots, truth: kind, ...(kind === 'mixed' ? { rank } : {}), seed };
    this.target = {
      metric: 'fidelity',
      value: this.reference.fidelity - 0.01,
      direction: 'max',
      reason:
        'within 0.01 of the fidelity of the maximum-likelihood estimate (found by the RρR ' +
        'iteration): the shot noise, not the optimizer, then limits the estimate',
    };
  }

  /** T from the parameter vector (layout: d real diagonal entries, then Re, Im of T_ij, i > j, row by row). */
  private unpack(params: Vector): void {
    const { d, tRe, tIm } = this;
    tRe.fill(0);
    tIm.fill(0);
    for (let i = 0; i < d; i++) tRe[i * d + i] = params[i];
    let m = d;
    for (let i = 1; i < d; i++) {
      for (let j = 0; j < i; j++) {
        tRe[i * d + j] = params[m++];
        tIm[i * d + j] = params[m++];
      }
    }
  }

  /** ρ(θ) = T T† / Tr(T T†) as a new matrix. */
  density(params: Vector): ComplexMatrix {
    vector('params', params, this.dimension);
    this.unpack(params);
    const { d, tRe, tIm } = this;
    const rho = complexZeros(d * d);
    let trace = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let sr = 0;
        let si = 0;
        for (let k = 0; k <= Math.min(i, j); k++) {
          // T_ik conj(T_jk)
          sr += tRe[i * d + k] * tRe[j * d + k] + tIm[i * d + k] * tIm[j * d + k];
          si += tIm[i * d + k] * tRe[j * d + k] - tRe[i * d + k] * tIm[j * d + k];
        }
        rho.re[i * d + j] = sr;
        rho.im[i * d + j] = si;
      }
      trace += rho.re[i * d + i];
    }
    if (!(trace > 0)) throw argumentError('params', 'a Cholesky factor T with Tr(T T†) > 0', params);
    for (let i = 0; i < d * d; i++) {
      rho.re[i] /= trace;
      rho.im[i] /= trace;
    }
    return rho;
  }

  initialParameters(seed: number): Float32Array {
    // T = I + 0.1·noise: near the maximally mixed state, so no outcome starts improbable
    const random = new Random(seed);
    const params = new Float32Array(this.dimension);
    for (let i = 0; i < params.length; i++) params[i] = (i < this.d ? 1 : 0) + 0.1 * random.normal();
    return params;
  }

  evaluate(params: Vector, grad?: Vector, batch?: number): number {
    checkEvaluate(this.dimension, 1, params, grad, batch);
    this.unpack(params);
    const { d, tRe, tIm, gRe, gIm, uRe, uIm, phi, freq } = this;
    let t = 0;
    for (let i = 0; i < d * d; i++) t += tRe[i] * tRe[i] + tIm[i] * tIm[i];
    if (!(t > 0)) {
      if (!Number.isFinite(t)) nonFiniteLoss(this.name, params);
      throw argumentError('params', 'a Cholesky factor T with Tr(T T†) > 0', params);
    }
    if (grad !== undefined) {
      gRe.fill(0);
      gIm.fill(0);
    }
    let loss = 0;
    let wSum = 0;
    for (let k = 0; k < freq.length; k++) {
      const f = freq[k];
      if (f === 0) continue;
      // u = T† φ_k: u_j = Σ_{i ≥ j} conj(T_ij) φ_i
      const base = k * d;
      let q = 0;
      for (let j = 0; j < d; j++) {
        let sr = 0;
        let si = 0;
        for (let i = j; i < d; i++) {
          const ar = tRe[i * d + j];
          const ai = tIm[i * d + j];
          const br = phi.re[base + i];
          const bi = phi.im[base + i];
          sr += ar * br + ai * bi;
          si += ar * bi - ai * br;
        }
        uRe[j] = sr;
        uIm[j] = si;
        q += sr * sr + si * si;
      }
      const p = q / t;
      if (p < PROBABILITY_FLOOR) {
        loss -= f * Math.log(PROBABILITY_FLOOR);
        continue;
      }
      loss -= f * Math.log(p);
      if (grad === undefined) continue;
      wSum += f;
      // −2 (f/q) φ u†, lower triangle only: entry (i, j) = φ_i conj(u_j)
      const c = (-2 * f) / q;
      for (let i = 0; i < d; i++) {
        const br = phi.re[base + i];
        const bi = phi.im[base + i];
        for (let j = 0; j <= i; j++) {
          gRe[i * d + j] += c * (br * uRe[j] + bi * uIm[j]);
          gIm[i * d + j] += c * (bi * uRe[j] - br * uIm[j]);
        }
      }
    }
    if (!Number.isFinite(loss)) nonFiniteLoss(this.name, params);
    if (grad !== undefined) {
      const c = (2 * wSum) / t;
      for (let i = 0; i < d; i++) grad[i] = gRe[i * d + i] + c * tRe[i * d + i];
      let m = d;
      for (let i = 1; i < d; i++) {
        for (let j = 0; j < i; j++) {
          grad[m++] = gRe[i * d + j] + c * tRe[i * d + j];
          grad[m++] = gIm[i * d + j] + c * tIm[i * d + j];
        }
      }
    }
    return loss;
  }

  private fidelityOf(rho: ComplexMatrix): number {
    return this.truth.psi !== undefined
      ? expectation(this.truth.psi, rho, this.d)
      : uhlmannFidelity(rho, this.truth.rho, this.d);
  }

  metrics(params: Vector): Record<string, number> {
    const rho = this.density(params);
    const nll = this.evaluate(params);
    let purity = 0;
    for (let i = 0; i < rho.re.length; i++) purity += rho.re[i] ** 2 + rho.im[i] ** 2;
    return {
      loss: nll,
      excessLoss: nll - this.reference.nll,
      fidelity: this.fidelityOf(rho),
      entropy: vonNeumannEntropy(rho.re, rho.im, { base: 2 }),
      purity,
    };
  }

  shuffleBatches(_random: Random): void {}

  describe(): Record<string, unknown> {
    return {
      name: this.name,
      ...this.config,
      dimension: this.dimension,
      settings: 3 ** this.qubits,
      trueEntropy: vonNeumannEntropy(this.truth.rho.re, this.truth.rho.im, { base: 2 }),
      referenceFidelity: this.reference.fidelity,
      referenceEntropy: this.reference.entropy,
    };
  }
}

// ---------------------------------------------------------------------------------------
// Choosing the next measurement: expected information gain vs a fixed round-robin.

export type MeasurementStrategy = 'round-robin' | 'information-gain';

export interface MeasurementStrategyOptions {
  /** n, 1..3 (default 2). */
  qubits?: number;
  /** Total shots (default 100 · 3ⁿ). */
  totalShots?: number;
  /** Shots per round: each round measures one setting this many times (default 10). */
  shotsPerRound?: number;
  /** 'round-robin' (default) or 'information-gain'. */
  strategy?: MeasurementStrategy;
  /** 'pure' (default) or 'mixed'. */
  truth?: TruthKind;
  /** Rank of a mixed truth (default 2). */
  rank?: number;
  /** Seed of the truth and of the shots (default 0). */
  seed?: number;
}

export interface MeasurementRun {
  strategy: MeasurementStrategy;
  /** Shots spent at each checkpoint (every full cycle of 3ⁿ rounds, and the end). */
  shots: number[];
  /** Fidelity of the maximum-likelihood (RρR) estimate with the truth at each checkpoint. */
  fidelity: number[];
  /** Shots spent on each setting. */
  shotsPerSetting: number[];
}

/** Mixing with the maximally mixed state before the Fisher information (keeps 1/p finite). */
const FISHER_MIXING = 0.01;

/**
 * For setting s: the indices (into the d² − 1 non-identity Pauli strings, base-4 digits
 * I, X, Y, Z with qubit 0 most significant, minus one) of the strings it measures, and the
 * sign χ_P(o) = Π_{k ∈ P} (−1)^{o_k} of each outcome: ∂p_{s,o}/∂r_P = χ_P(o)/d in the Bloch
 * parameterization ρ = (I + Σ_P r_P P)/d.
 */
function compatiblePaulis(s: number, n: number): { index: Int32Array; sign: Int8Array } {
  const d = 2 ** n;
  const index = new Int32Array(d - 1);
  const sign = new Int8Array((d - 1) * d);
  for (let mask = 1; mask < d; mask++) {
    let p = 0;
    for (let k = 0; k < n; k++) {
      const letter = Math.floor(s / 3 ** (n - 1 - k)) % 3; // 0 X, 1 Y, 2 Z
      const present = (mask >> (n - 1 - k)) & 1;
      p = 4 * p + (present ? letter + 1 : 0);
    }
    index[mask - 1] = p - 1;
    for (let o = 0; o < d; o++) {
      let parity = 0;
      for (let k = 0; k < n; k++) if ((mask >> (n - 1 - k)) & 1 && (o >> (n - 1 - k)) & 1) parity ^= 1;
      sign[(mask - 1) * d + o] = parity ? -1 : 1;
    }
  }
  return { index, sign };
}

/**
 * Simulate one tomography experiment under a measurement strategy.
 *
 * Each round measures one Pauli setting `shotsPerRound` times. 'round-robin' cycles
 * through the 3ⁿ settings in a fixed order. 'information-gain' picks the setting with the
 * largest expected information gain about the state, under a Laplace (Gaussian)
 * approximation of the posterior over the Bloch vector r (ρ = (I + Σ_P r_P P)/d):
 *   precision F = (d + 1) I + Σ_{s'} N_{s'} I_{s'}(r̂),  I_s = Σ_o ∇p_{s,o} ∇p_{s,o}ᵀ / p_{s,o}
 *   EIG(s) ≈ ½ ln det(F + b I_s) − ½ ln det F = ½ ln det(I + b G_sᵀ F⁻¹ G_s)
 * with G_s the columns ∇p_{s,o}/√p_{s,o}, r̂ the current maximum-likelihood estimate and
 * b the round's shots (the mutual information between the next outcomes and the state
 * for a Gaussian posterior and a linearized likelihood: Bayesian D-optimal design).
 * The prior precision d + 1 is 1/E[r_P²] for Haar-random pure states; p is mixed with
 * 1% of the maximally mixed state so the Fisher information stays finite at the boundary
 * of state space. Both strategies estimate with the same maximum-likelihood fit (RρR),
 * so only the choice of settings differs.
 */
export function runMeasurementStrategy(opts?: MeasurementStrategyOptions): MeasurementRun {
  const o = options<MeasurementStrategyOptions>('options', opts);
  const n = integer('qubits', o.qubits ?? 2, { min: 1, max: 3 });
  const d = 2 ** n;
  const settings = 3 ** n;
  const shotsPerRound = integer('shotsPerRound', o.shotsPerRound ?? 10, { min: 1, max: 1e7 });
  const totalShots = integer('totalShots', o.totalShots ?? 100 * settings, { min: shotsPerRound, max: 1e9 });
  const strategy = oneOf('strategy', o.strategy ?? 'round-robin', ['round-robin', 'information-gain'] as const);
  const kind = oneOf('truth', o.truth ?? 'pure', ['pure', 'mixed'] as const);
  const rank = integer('rank', o.rank ?? 2, { min: 1, max: d });
  const seed = seedOption(o.seed ?? 0);
  const truth = drawTruth(d, kind, rank, new Random(seed));
  const shotsRandom = new Random((seed ^ 0x5bd1e995) >>> 0);
  const phi = pauliMeasurementVectors(n);
  const probs = bornProbabilities(truth.rho, phi, d);
  const counts = new Uint32Array(settings * d);
  const perSetting = new Float64Array(settings);
  const fidelityOf = (rho: ComplexMatrix) =>
    truth.psi !== undefined ? expectation(truth.psi, rho, d) : uhlmannFidelity(rho, truth.rho, d);
  const compat = Array.from({ length: settings }, (_, s) => compatiblePaulis(s, n));
  const m = d * d - 1;
  const fisher = new Float64Array(m * m);
  const g = new Float64Array((d - 1) * d);
  const mat = new Float64Array(d * d);

  let estimate: ComplexMatrix = complexZeros(d * d);
  for (let i = 0; i < d; i++) estimate.re[i * d + i] = 1 / d;
  const run: MeasurementRun = { strategy, shots: [], fidelity: [], shotsPerSetting: [] };
  let spent = 0;
  let round = 0;
  while (spent < totalShots) {
    let setting = round % settings;
    if (strategy === 'information-gain') {
      // precision of the Laplace posterior at the current estimate
      const p = bornProbabilities(estimate, phi, d);
      fisher.fill(0);
      for (let i = 0; i < m; i++) fisher[i * m + i] = d + 1;
      for (let s = 0; s < settings; s++) {
        if (perSetting[s] === 0) continue;
        const { index, sign } = compat[s];
        for (let out = 0; out < d; out++) {
          const pt = (1 - FISHER_MIXING) * p[s * d + out] + FISHER_MIXING / d;
          const w = perSetting[s] / (d * d * pt);
          for (let a = 0; a < d - 1; a++) {
            for (let b = 0; b < d - 1; b++) {
              fisher[index[a] * m + index[b]] += w * sign[a * d + out] * sign[b * d + out];
            }
          }
        }
      }
      const cov = inverseSpd(fisher, m);
      let best = Number.NEGATIVE_INFINITY;
      for (let s = 0; s < settings; s++) {
        const { index, sign } = compat[s];
        for (let out = 0; out < d; out++) {
          const pt = (1 - FISHER_MIXING) * p[s * d + out] + FISHER_MIXING / d;
          for (let a = 0; a < d - 1; a++) g[a * d + out] = sign[a * d + out] / (d * Math.sqrt(pt));
        }
        // M = I + b Gᵀ Σ_CC G  (d × d)
        for (let x = 0; x < d; x++) {
          for (let y = 0; y < d; y++) {
            let acc = 0;
            for (let a = 0; a < d - 1; a++) {
              const ga = g[a * d + x];
              for (let b = 0; b < d - 1; b++) acc += ga * cov[index[a] * m + index[b]] * g[b * d + y];
            }
            mat[x * d + y] = (x === y ? 1 : 0) + shotsPerRound * acc;
          }
        }
        cholesky(mat, d);
        let logDet = 0;
        for (let x = 0; x < d; x++) logDet += 2 * Math.log(mat[x * d + x]);
        if (0.5 * logDet > best + 1e-12) [best, setting] = [0.5 * logDet, s];
      }
    }
    const shots = Math.min(shotsPerRound, totalShots - spent);
    sampleCounts(probs.subarray(setting * d, (setting + 1) * d), shots, shotsRandom, counts, setting * d);
    perSetting[setting] += shots;
    spent += shots;
    round++;
    const checkpoint = round % settings === 0 || spent === totalShots;
    if (strategy === 'information-gain' || checkpoint) {
      // warm start, mixed with 10% of I/d: RρR keeps the support of its iterate, so a
      // start that lost rank (a pure-looking early estimate) could never recover
      for (let i = 0; i < d * d; i++) {
        estimate.re[i] *= 0.9;
        estimate.im[i] *= 0.9;
      }
      for (let i = 0; i < d; i++) estimate.re[i * d + i] += 0.1 / d;
      estimate = maximumLikelihoodRrR(phi, counts, d, {
        start: estimate,
        maxIterations: checkpoint ? 2000 : 100,
        tolerance: 1e-12,
      }).rho;
    }
    if (checkpoint) {
      run.shots.push(spent);
      run.fidelity.push(fidelityOf(estimate));
    }
  }
  run.shotsPerSetting = Array.from(perSetting);
  return run;
}

export interface StrategyComparison {
  qubits: number;
  seeds: number;
  shots: number[];
  /** Mean fidelity and its standard error over the seeds, per checkpoint. */
  roundRobin: { meanFidelity: number[]; standardError: number[] };
  informationGain: { meanFidelity: number[]; standardError: number[] };
  /** Seeds where the information-gain strategy ended with the higher fidelity. */
  informationGainWins: number;
}

/** Both strategies at equal total shots over seeds 0..seeds−1 (same truths, same shots budget). */
export function compareMeasurementStrategies(
  opts?: Omit<MeasurementStrategyOptions, 'strategy' | 'seed'> & { seeds?: number },
): StrategyComparison {
  const o = options<MeasurementStrategyOptions & { seeds: number }>('options', opts);
  const seeds = integer('seeds', o.seeds ?? 10, { min: 1, max: 10_000 });
  const runs = { 'round-robin': [] as MeasurementRun[], 'information-gain': [] as MeasurementRun[] };
  for (let seed = 0; seed < seeds; seed++) {
    for (const strategy of ['round-robin', 'information-gain'] as const) {
      runs[strategy].push(runMeasurementStrategy({ ...o, strategy, seed }));
    }
  }
  const summarize = (list: MeasurementRun[]) => {
    const points = list[0].fidelity.length;
    const meanFidelity: number[] = [];
    const standardError: number[] = [];
    for (let c = 0; c < points; c++) {
      const values = list.map((r) => r.fidelity[c]);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1);
      meanFidelity.push(mean);
      standardError.push(Math.sqrt(variance / values.length));
    }
    return { meanFidelity, standardError };
  };
  const rr = runs['round-robin'];
  const ig = runs['information-gain'];
  let wins = 0;
  for (let i = 0; i < seeds; i++) if (ig[i].fidelity.at(-1)! > rr[i].fidelity.at(-1)!) wins++;
  return {
    qubits: o.qubits ?? 2,
    seeds,
    shots: rr[0].shots,
    roundRobin: summarize(rr),
    informationGain: summarize(ig),
    informationGainWins: wins,
  };
}
