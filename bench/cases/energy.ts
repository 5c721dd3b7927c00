/** Bench cases for the energy kernels (design eqs. 3–5). */
import { primeTable } from '../../lib/primes.js';
import { quadraturePoints } from '../../lib/quadrature.js';
import type { BenchCase } from '../harness.js';
import { type BackendList, checkArray, checkScalar, uniformF32, uniformF64 } from './common.js';

const LOCAL_SIZES: [label: string, n: number, primes: number][] = [
  ['n=10,N=10', 10, 10],
  ['n=1e3,N=100', 1_000, 100],
  ['n=1e5,N=100', 100_000, 100],
  ['n=1e6,N=100', 1_000_000, 100],
  ['n=1e3,N=1e4', 1_000, 10_000],
];

const NONLOCAL_SIZES: [label: string, d: number, m: number][] = [
  ['d=16,M=16', 16, 16],
  ['d=128,M=256', 128, 256],
  ['d=1024,M=1024', 1024, 1024],
];

export function energyCases(backends: BackendList): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [size, n, N] of LOCAL_SIZES) {
    const r = uniformF64(n, 1, 0, 100);
    const p = primeTable(N);
    // agreement scale: (1 + r)·Σ 1/(r² + p²), the documented tolerance of the tests
    const scale = (i: number) => {
      let s = 0;
      for (let k = 0; k < N; k++) s += 1 / (r[i] * r[i] + p[k] * p[k]);
      return (1 + r[i]) * s;
    };
    cases.push({
      kernel: 'localEnergy',
      size,
      check: checkArray(1e-14, scale),
      contenders: backends.map((k) => {
        const out = new Float64Array(n);
        return { backend: k.name, run: () => (k.localEnergy(r, N, out), out) };
      }),
    });
  }
  for (const [size, d, m] of NONLOCAL_SIZES) {
    const x = uniformF32(d, 2);
    const y = uniformF32(d, 3);
    const points = quadraturePoints({ count: m, dimension: d, seed: 4 });
    // ℓ = √d keeps exp(−‖x − z‖/ℓ) away from underflow at every d
    const ell = Math.sqrt(d);
    cases.push({
      kernel: 'nonlocalEnergy',
      size,
      check: checkScalar(1e-12),
      contenders: backends.map((k) => ({
        backend: k.name,
        run: () => k.nonlocalEnergy(x, y, points, { lengthScale: ell, softening: 1e-3 }),
      })),
    });
  }
  for (const d of [1_000, 1_000_000]) {
    const x = uniformF32(d, 5);
    const y = uniformF32(d, 6);
    cases.push({
      kernel: 'distance',
      size: `d=${d.toExponential().replace('e+', 'e')}`,
      check: checkScalar(1e-12),
      contenders: backends.map((k) => ({ backend: k.name, run: () => k.distance(x, y) })),
    });
  }
  // eq. 5 in one call, at the sizes an EnergySystem meets per optimizer step
  for (const [size, d, m] of NONLOCAL_SIZES.slice(0, 2)) {
    const x = uniformF32(d, 7);
    const y = uniformF32(d, 8);
    const points = quadraturePoints({ count: m, dimension: d, seed: 9 });
    const params = { primeCount: 10, lengthScale: Math.sqrt(d), softening: 1e-3, lambdaCosmo: 1.2 };
    cases.push({
      kernel: 'energyTerms',
      size,
      check: checkArray(1e-12),
      contenders: backends.map((k) => {
        const out = new Float64Array(4);
        return { backend: k.name, run: () => (k.energyTerms(x, y, points, params, out), out) };
      }),
    });
  }
  return cases;
}
