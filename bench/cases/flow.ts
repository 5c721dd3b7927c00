/** Bench cases for the energy flow (design eq. 10) and the stability criteria (eq. 11). */
import { StabilityController } from '../../lib/stability.js';
import type { BenchCase } from '../harness.js';
import { type BackendList, checkArray, checkScalar, uniformF32, uniformF64 } from './common.js';

const GRIDS: [label: string, nx: number, ny: number][] = [
  ['64x64', 64, 64],
  ['256x256', 256, 256],
  ['1024x1024', 1024, 1024],
];

export function flowCases(backends: BackendList): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [size, nx, ny] of GRIDS) {
    const n = nx * ny;
    const energy = uniformF64(n, 11, 0, 1);
    const potential = uniformF64(n, 12, -1, 1);
    const source = uniformF64(n, 13, -1, 1);
    const base = { h: 1, beta: 0.25, gamma: 0.35, boundary: 'periodic' as const };
    const dt = backends[0].energyFlowMaxStep(potential, nx, ny, base);
    const params = { ...base, dt, kappa: 0.5 };
    // the tests' tolerance: 1e-14·(max|E| + dt·|κ|·max|S|), both maxima ≤ 1 here
    const scale = 1 + dt * 0.5;
    cases.push({
      kernel: 'energyFlowStep',
      size,
      check: checkArray(1e-14 * scale),
      contenders: backends.map((k) => {
        const out = new Float64Array(n);
        return { backend: k.name, run: () => (k.energyFlowStep(energy, potential, source, nx, ny, params, out), out) };
      }),
    });
  }

  // One stability evaluation on a 10^6-element gradient with a scalar energy rate: the
  // gradient norm is the native part (the criteria themselves are a few flops).
  const n = 1_000_000;
  const gradient = uniformF32(n, 14);
  const controller = new StabilityController({ energyMax: 10 });
  const context = { energyRate: 3, energy: 2 };
  cases.push({
    kernel: 'stabilityCheck',
    size: 'n=1e6',
    check: checkScalar(n * Number.EPSILON),
    contenders: backends.map((k) => ({
      backend: k.name,
      run: () => controller.passWith(k, gradient, context, false).gradientNorm,
    })),
  });
  // Scaling the gradient in place when a criterion fails; by −1 so repeated runs stay exact.
  cases.push({
    kernel: 'scaleInPlace',
    size: 'n=1e6',
    check: checkArray(0),
    contenders: backends.map((k) => {
      const g = Float32Array.from(gradient);
      return { backend: k.name, run: () => (k.scaleInPlace(g, -1), g) };
    }),
  });
  return cases;
}
