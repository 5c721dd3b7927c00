/**
 * Bench cases for the QDT/QBE kernels: coupling Ψ(t) (design eq. 1), scale transition 𝒮(t)
 * (eq. 2), Shannon entropy (eq. 6) and the Hermitian eigenvalues behind the von Neumann
 * entropy (eq. 15). The agreement checks use the tolerances of test/qdt.test.ts and
 * test/quantum.test.ts.
 */
import { QDT } from '../../lib/constants.js';
import { Random } from '../../lib/random.js';
import type { BenchCase } from '../harness.js';
import { type BackendList, checkArray, checkScalar, uniformF64 } from './common.js';

const ELEMENTWISE_SIZES: [label: string, n: number][] = [
  ['n=1e3', 1_000],
  ['n=1e6', 1_000_000],
];

const EIGEN_SIZES = [4, 16, 64];

/** A random density matrix G·G^H / Tr (G d×d complex Gaussian), as separate re/im. */
function densityMatrix(d: number, seed: number): { re: Float64Array; im: Float64Array } {
  const rng = new Random(seed);
  const gr = Float64Array.from({ length: d * d }, () => rng.normal());
  const gi = Float64Array.from({ length: d * d }, () => rng.normal());
  const re = new Float64Array(d * d);
  const im = new Float64Array(d * d);
  let trace = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sr = 0;
      let si = 0;
      for (let k = 0; k < d; k++) {
        // (G G^H)_ij = Σ_k G_ik conj(G_jk)
        const [ar, ai, br, bi] = [gr[i * d + k], gi[i * d + k], gr[j * d + k], -gi[j * d + k]];
        sr += ar * br - ai * bi;
        si += ar * bi + ai * br;
      }
      re[i * d + j] = sr;
      im[i * d + j] = si;
    }
    trace += re[i * d + i];
  }
  for (let k = 0; k < d * d; k++) {
    re[k] /= trace;
    im[k] /= trace;
  }
  return { re, im };
}

export function qdtCases(backends: BackendList): BenchCase[] {
  const cases: BenchCase[] = [];
  const { alpha, beta, gamma, lambdaCosmo } = QDT;
  const h = Math.hypot(beta, gamma);
  for (const [size, n] of ELEMENTWISE_SIZES) {
    // t over [0, 100]: about 1% of it in the small-|t| series branch, the rest closed form.
    const t = uniformF64(n, 11, 0, 100);
    // agreement scale: |α|e^{−βt} + |Λ|·(a bound on |J|), as in the tests
    const scale = (i: number) => {
      const e = Math.exp(-beta * t[i]);
      const jb = h * t[i] < 1 ? t[i] * Math.max(1, e) : (gamma / h + e) / h;
      return alpha * e + lambdaCosmo * jb;
    };
    cases.push({
      kernel: 'coupling',
      size,
      check: checkArray(1e-14, scale),
      contenders: backends.map((k) => {
        const out = new Float64Array(n);
        return { backend: k.name, run: () => (k.coupling(t, { alpha, beta, gamma, lambdaCosmo }, out), out) };
      }),
    });
  }
  for (const [size, n] of ELEMENTWISE_SIZES) {
    const t = uniformF64(n, 12, -20, 20);
    const want = new Float64Array(n);
    for (let i = 0; i < n; i++) want[i] = 1 / (1 + Math.exp(-t[i]));
    cases.push({
      kernel: 'scaleTransition',
      size,
      check: checkArray(4 * Number.EPSILON, (i) => want[i]),
      contenders: backends.map((k) => {
        const out = new Float64Array(n);
        return { backend: k.name, run: () => (k.scaleTransition(t, { scaleCoupling: 1, criticalTime: 0 }, out), out) };
      }),
    });
  }
  for (const [size, n] of ELEMENTWISE_SIZES) {
    const p = uniformF64(n, 13, 0, 1);
    cases.push({
      kernel: 'shannonEntropy',
      size,
      check: checkScalar(1e-12),
      contenders: backends.map((k) => ({ backend: k.name, run: () => k.shannonEntropy(p) })),
    });
  }
  for (const d of EIGEN_SIZES) {
    const { re, im } = densityMatrix(d, 14 + d);
    let maxAbs = 0;
    for (let k = 0; k < d * d; k++) maxAbs = Math.max(maxAbs, Math.abs(re[k]), Math.abs(im[k]));
    cases.push({
      kernel: 'hermitianEigenvalues',
      size: `d=${d}`,
      check: checkArray(1e-13 * d * maxAbs),
      contenders: backends.map((k) => {
        const out = new Float64Array(d);
        return { backend: k.name, run: () => (k.hermitianEigenvalues(re, im, d, out), out) };
      }),
    });
  }
  return cases;
}
