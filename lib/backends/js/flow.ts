/**
 * Pure-TS energy-flow kernels: the readable reference the native backends are checked
 * against. Seed 002 §4.1; design.md §2 eq. 10:
 *
 *   ∂E/∂t = κ(t)·S + β∇²E + γ∇·(E∇Ψ),   S = T_q + F_g
 *
 * on an nx × ny row-major grid (cell (i, j) at index j·nx + i, spacing h). Every cell sees
 * four faces (west, east, south = j − 1, north = j + 1). A `zeroFlux` boundary face is
 * modelled by taking the cell itself as its neighbour: both E_n − E_i and Ψ_n − Ψ_i are
 * then exactly 0, so nothing crosses that face. A `periodic` face wraps around.
 *
 * Per face with neighbour n, a = γ(Ψ_n − Ψ_i)/h² and the upwind drift flux into cell i is
 * max(a, 0)·E_n + min(a, 0)·E_i: energy moves down the gradient of Ψ (for γ > 0) and is
 * carried from the upstream cell, so what leaves one cell enters its neighbour exactly
 * (the scheme conserves Σ E) and the update stays monotone under energyFlowMaxStep.
 */
import type { EnergyFlowParams, LaplacianParams } from '../../kernels.js';

/** The neighbour one cell back along an axis of n cells (itself at a zero-flux boundary). */
function before(k: number, n: number, periodic: boolean): number {
  return k > 0 ? k - 1 : periodic ? n - 1 : 0;
}

/** The neighbour one cell forward along an axis of n cells (itself at a zero-flux boundary). */
function after(k: number, n: number, periodic: boolean): number {
  return k < n - 1 ? k + 1 : periodic ? 0 : n - 1;
}

/** Eq. 10, one forward-Euler step: out = E + dt·(κ·S + β∇²E + γ∇·(E∇Ψ)). */
export function energyFlowStep(
  energy: Float64Array,
  potential: Float64Array,
  source: Float64Array,
  nx: number,
  ny: number,
  params: EnergyFlowParams,
  out: Float64Array,
): void {
  const { h, dt, beta, gamma, kappa } = params;
  const periodic = params.boundary === 'periodic';
  const b = beta / (h * h);
  const g = gamma / (h * h);
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    const south = before(j, ny, periodic) * nx;
    const north = after(j, ny, periodic) * nx;
    for (let i = 0; i < nx; i++) {
      const c = row + i;
      const w = row + before(i, nx, periodic);
      const e = row + after(i, nx, periodic);
      const s = south + i;
      const n = north + i;
      const E = energy[c];
      const psi = potential[c];
      const eW = energy[w];
      const eE = energy[e];
      const eS = energy[s];
      const eN = energy[n];
      const aW = g * (potential[w] - psi);
      const aE = g * (potential[e] - psi);
      const aS = g * (potential[s] - psi);
      const aN = g * (potential[n] - psi);
      const laplacian = eW + eE + (eS + eN) - 4 * E;
      const inflow = Math.max(aW, 0) * eW + Math.max(aE, 0) * eE + Math.max(aS, 0) * eS + Math.max(aN, 0) * eN;
      const outflow = Math.min(aW, 0) + Math.min(aE, 0) + (Math.min(aS, 0) + Math.min(aN, 0));
      out[c] = E + dt * (kappa * source[c] + b * laplacian + (inflow + outflow * E));
    }
  }
}

/**
 * The stable step limit of energyFlowStep: out_i is a combination of E_i and its neighbours
 * whose weights are all ≥ 0 (so the step is monotone, keeps E ≥ 0 and does not grow Σ|E|)
 * exactly when dt·c_i ≤ 1 with c_i = 4β/h² + Σ_faces max(0, γ(Ψ_i − Ψ_n))/h², the rate at
 * which E_i leaves cell i. Returns 1 / max_i c_i (+Infinity when every c_i is 0).
 */
export function energyFlowMaxStep(
  potential: Float64Array,
  nx: number,
  ny: number,
  params: Pick<EnergyFlowParams, 'h' | 'beta' | 'gamma' | 'boundary'>,
): number {
  const { h, beta, gamma } = params;
  const periodic = params.boundary === 'periodic';
  const diffusion = (4 * beta) / (h * h);
  const g = gamma / (h * h);
  let worst = 0;
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    const south = before(j, ny, periodic) * nx;
    const north = after(j, ny, periodic) * nx;
    for (let i = 0; i < nx; i++) {
      const psi = potential[row + i];
      const leaving =
        Math.max(g * (psi - potential[row + before(i, nx, periodic)]), 0) +
        Math.max(g * (psi - potential[row + after(i, nx, periodic)]), 0) +
        (Math.max(g * (psi - potential[south + i]), 0) + Math.max(g * (psi - potential[north + i]), 0));
      const rate = diffusion + leaving;
      if (rate > worst) worst = rate;
    }
  }
  return worst > 0 ? 1 / worst : Number.POSITIVE_INFINITY;
}

/** ∇²E by the 5-point stencil: (E_w + E_e + E_s + E_n − 4E)/h². */
export function laplacian(
  energy: Float64Array,
  nx: number,
  ny: number,
  params: LaplacianParams,
  out: Float64Array,
): void {
  const { h, boundary } = params;
  const periodic = boundary === 'periodic';
  const invH2 = 1 / (h * h);
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    const south = before(j, ny, periodic) * nx;
    const north = after(j, ny, periodic) * nx;
    for (let i = 0; i < nx; i++) {
      const sum =
        energy[row + before(i, nx, periodic)] +
        energy[row + after(i, nx, periodic)] +
        (energy[south + i] + energy[north + i]);
      out[row + i] = (sum - 4 * energy[row + i]) * invH2;
    }
  }
}

/** Σ x, Σ |x|, Σ x² of a grid, in index order, into out[0], out[1], out[2] (design eq. 11's integrals). */
export function gridSums(x: Float64Array, out: Float64Array): void {
  let sum = 0;
  let sumAbs = 0;
  let sumSquares = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    sum += v;
    sumAbs += Math.abs(v);
    sumSquares += v * v;
  }
  out[0] = sum;
  out[1] = sumAbs;
  out[2] = sumSquares;
}
