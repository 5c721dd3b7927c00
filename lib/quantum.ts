/**
 * Quantum information (seed 001 §3–4; design.md §2 eqs. 14–15): the Landauer bound, the
 * QBE information rate, and the von Neumann entropy of a density matrix.
 */
import { separate } from './aliasing.js';
import { kernels } from './backend.js';
import { BOLTZMANN } from './constants.js';
import { argumentError, CimmArgumentError, describeValue, typeOf } from './errors.js';
import { finiteNumber, float64Array, readOptions } from './is.js';

/** The largest matrix dimension the eigenvalue kernels accept. */
export const MAX_MATRIX_DIMENSION = 4096;

/** Default tolerance of the Hermitian, unit-trace and positivity checks. */
export const DENSITY_TOLERANCE = 1e-9;

/**
 * Eq. 14, Landauer's principle (001 §4): the least energy, in joules, to erase `bits` bits
 * at `temperatureKelvin`: E_min = bits · k_B T ln 2 (k_B = 1.380649e-23 J/K, exact).
 */
export function landauerBound(temperatureKelvin: number, bits = 1): number {
  const t = finiteNumber('temperatureKelvin', temperatureKelvin, { min: 0 });
  const b = finiteNumber('bits', bits, { min: 0 });
  return b * BOLTZMANN * t * Math.LN2;
}

/**
 * The QBE's information rate (001 §4): dI/dt = −E/T, for an energy rate E (J/s) at
 * temperature T > 0 (K), in J/(K·s), i.e. entropy per second; divide by k_B ln 2 for bits
 * per second.
 */
export function informationRate(energy: number, temperatureKelvin: number): number {
  const e = finiteNumber('energy', energy);
  const t = finiteNumber('temperatureKelvin', temperatureKelvin, { above: 0 });
  return -e / t;
}

interface Matrix {
  re: Float64Array;
  im: Float64Array;
  d: number;
  /** max |a_ij| over both parts. */
  maxAbs: number;
}

/** Validate re/im as a finite d×d complex matrix; `im` may be omitted for a real one. */
function complexMatrix(re: unknown, im: unknown): Matrix {
  const r = float64Array('re', re, { finite: true });
  const d = Math.round(Math.sqrt(r.length));
  if (d === 0 || d * d !== r.length) {
    throw argumentError('re', 'a Float64Array holding a d×d matrix, d >= 1 (a length that is a perfect square)', re);
  }
  if (d > MAX_MATRIX_DIMENSION) {
    throw argumentError('re', `a d×d matrix with d <= ${MAX_MATRIX_DIMENSION}`, re);
  }
  const i =
    im === undefined || im === null
      ? new Float64Array(r.length)
      : float64Array('im', im, { length: r.length, finite: true });
  let maxAbs = 0;
  for (let k = 0; k < r.length; k++) maxAbs = Math.max(maxAbs, Math.abs(r[k]), Math.abs(i[k]));
  return { re: r, im: i, d, maxAbs };
}

/** Reject a matrix whose largest |a_ij − conj(a_ji)| exceeds tolerance·max(1, max|a|). */
function checkHermitian(name: string, m: Matrix, tolerance: number): void {
  const { re, im, d } = m;
  let worst = 0;
  let at = [0, 0];
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const dev = Math.hypot(re[i * d + j] - re[j * d + i], im[i * d + j] + im[j * d + i]);
      if (dev > worst) {
        worst = dev;
        at = [i, j];
      }
    }
  }
  const limit = tolerance * Math.max(1, m.maxAbs);
  if (worst > limit) {
    const [i, j] = at;
    throw new CimmArgumentError(
      name,
      'a Hermitian matrix',
      `Expected a Hermitian matrix (|a[i][j] − conj(a[j][i])| <= ${limit}) for ${name} but received |a[${i}][${j}] − conj(a[${j}][${i}])| = ${worst} of type ${typeOf(re)}`,
    );
  }
}

export interface HermitianEigenvaluesOptions {
  /** Where to write the d eigenvalues. */
  out?: Float64Array;
  /** Tolerance of the Hermitian check, relative to max(1, max|a_ij|) (default 1e-9). */
  tolerance?: number;
}

/**
 * The eigenvalues, ascending, of the Hermitian d×d matrix re + i·im (row-major; `im`
 * omitted or null for a real symmetric matrix). Rejects a matrix that is not Hermitian
 * within the tolerance; within it, the Hermitian part (A + A^H)/2 is used.
 */
export function hermitianEigenvalues(
  re: Float64Array,
  im?: Float64Array | null,
  opts?: HermitianEigenvaluesOptions,
): Float64Array {
  const o = readOptions<HermitianEigenvaluesOptions>('options', opts, ['out', 'tolerance']);
  const tolerance = finiteNumber('tolerance', o.tolerance ?? DENSITY_TOLERANCE, { min: 0 });
  const m = complexMatrix(re, im);
  checkHermitian('matrix', m, tolerance);
  const out = o.out === undefined ? new Float64Array(m.d) : float64Array('out', o.out, { length: m.d });
  const { re: mre, im: mim } = separate('hermitianEigenvalues', { re: m.re, im: m.im, out });
  kernels().hermitianEigenvalues(mre, mim, m.d, out);
  if (Number.isNaN(out[0])) throw new RangeError('cimm: the Hermitian eigenvalue iteration did not converge');
  return out;
}

export interface VonNeumannEntropyOptions {
  /** Logarithm base: e (nats, the default) or 2 (bits), or any base > 0, ≠ 1. */
  base?: number;
  /** Tolerance of the Hermitian, unit-trace and positivity checks (default 1e-9). */
  tolerance?: number;
}

/** The spectrum of a validated density matrix: Hermitian, unit trace and PSD within `tolerance`. */
export function densityMatrixEigenvalues(
  re: Float64Array,
  im?: Float64Array | null,
  tolerance = DENSITY_TOLERANCE,
): Float64Array {
  const tol = finiteNumber('tolerance', tolerance, { min: 0 });
  const m = complexMatrix(re, im);
  checkHermitian('rho', m, tol);
  let trace = 0;
  for (let i = 0; i < m.d; i++) trace += m.re[i * m.d + i];
  if (!(Math.abs(trace - 1) <= tol)) {
    throw new CimmArgumentError(
      'rho',
      'unit trace',
      `Expected unit trace (|Tr ρ − 1| <= ${tol}) for rho but received Tr ρ = ${trace} (off by ${trace - 1}) of type ${typeOf(re)}`,
    );
  }
  const lambda = new Float64Array(m.d);
  kernels().hermitianEigenvalues(m.re, m.im, m.d, lambda);
  if (Number.isNaN(lambda[0])) throw new RangeError('cimm: the Hermitian eigenvalue iteration did not converge');
  if (lambda[0] < -tol) {
    throw new CimmArgumentError(
      'rho',
      'a positive semi-definite matrix',
      `Expected a positive semi-definite matrix (eigenvalues >= ${-tol}) for rho but received a smallest eigenvalue of ${lambda[0]} in ${describeValue(re)} of type ${typeOf(re)}`,
    );
  }
  return lambda;
}

/**
 * Eq. 15, the information of a quantum state (001 §3): the von Neumann entropy
 * S(ρ) = −Tr ρ log ρ = −Σ λ_i log λ_i over the eigenvalues of the density matrix
 * ρ = re + i·im (d×d, row-major; `im` omitted or null for a real ρ). ρ must be Hermitian,
 * of unit trace and positive semi-definite within the tolerance; eigenvalues at or below 0
 * (within it) contribute 0. In nats unless `base` says otherwise (2 for bits).
 */
export function vonNeumannEntropy(re: Float64Array, im?: Float64Array | null, opts?: VonNeumannEntropyOptions): number {
  const o = readOptions<VonNeumannEntropyOptions>('options', opts, ['base', 'tolerance']);
  const base = finiteNumber('base', o.base ?? Math.E, { above: 0 });
  if (base === 1) throw argumentError('base', 'a finite number > 0 other than 1', base);
  const lambda = densityMatrixEigenvalues(re, im, o.tolerance ?? DENSITY_TOLERANCE);
  let s = 0;
  for (const l of lambda) if (l > 0) s -= l * Math.log(l);
  return Math.max(0, s) / Math.log(base);
}
