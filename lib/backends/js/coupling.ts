/**
 * Pure-TS coupling and scale-transition kernels: the reference for crate/src/coupling.rs.
 * Seed 002 §1.1–1.2; design.md §2 eqs. 1–2.
 */

/** Below |w| = |t|·hypot(β, γ) = 1, J(t) is summed from its series. */
export const SERIES_MAX_W = 1;

/** 1/(k+1)!, k = 0..18 (correctly rounded, as in the Rust kernel): φ₁(w) = (e^w − 1)/w = Σ w^k/(k+1)!. */
const PHI1 = [
  1, 0.5, 0.16666666666666666, 0.041666666666666664, 0.008333333333333333, 0.001388888888888889, 0.0001984126984126984,
  2.48015873015873e-5, 2.7557319223985893e-6, 2.755731922398589e-7, 2.505210838544172e-8, 2.08767569878681e-9,
  1.6059043836821613e-10, 1.1470745597729725e-11, 7.647163731819816e-13, 4.779477332387385e-14, 2.8114572543455206e-15,
  1.5619206968586225e-16, 8.22063524662433e-18,
];

/**
 * J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ = t·Im φ₁(w), w = (−β + iγ)t, by complex Horner. Used where
 * the closed form cancels (|w| < 1); exact 0 for β = γ = 0.
 */
function couplingIntegralSeries(t: number, beta: number, gamma: number): number {
  const wr = -beta * t;
  const wi = gamma * t;
  let pr = PHI1[18];
  let pi = 0;
  for (let k = 17; k >= 0; k--) {
    const nr = pr * wr - pi * wi + PHI1[k];
    pi = pr * wi + pi * wr;
    pr = nr;
  }
  return t * pi;
}

/**
 * Eq. 1: Ψ(t) = α e^{−βt} cos(γt) + Λ J(t), with
 * J(t) = (γ − e^{−βt}(β sin γt + γ cos γt)) / (β² + γ²), written with h = hypot(β, γ) as
 * (g − e^{−βt}(b sin γt + g cos γt)) / h, (b, g) = (β, γ)/h, and summed from its series
 * where |t|·h < 1 (the closed form loses ε/|w|² relative accuracy there).
 */
export function coupling(
  t: Float64Array,
  alpha: number,
  beta: number,
  gamma: number,
  lambdaCosmo: number,
  out: Float64Array,
): void {
  const h = Math.hypot(beta, gamma);
  const invH = 1 / h; // a multiplication per element instead of a division, as the native kernels
  const b = h > 0 ? beta / h : 0;
  const g = h > 0 ? gamma / h : 0;
  for (let i = 0; i < t.length; i++) {
    const ti = t[i];
    const e = Math.exp(-beta * ti);
    const s = Math.sin(gamma * ti);
    const c = Math.cos(gamma * ti);
    const j =
      h * Math.abs(ti) < SERIES_MAX_W ? couplingIntegralSeries(ti, beta, gamma) : (g - e * (b * s + g * c)) * invH;
    out[i] = alpha * (e * c) + lambdaCosmo * j;
  }
}

/**
 * Eq. 2: 𝒮(t) = 1 / (1 + e^{−u}), u = λ(t − t_c), as 1/(1 + e) for u ≥ 0 and e/(1 + e) for
 * u < 0 with e = e^{−|u|} ≤ 1: no overflow for any u; exactly 0 and 1 far out. λ = 0 gives ½.
 */
export function scaleTransition(t: Float64Array, scaleCoupling: number, criticalTime: number, out: Float64Array): void {
  if (scaleCoupling === 0) {
    out.fill(0.5);
    return;
  }
  for (let i = 0; i < t.length; i++) {
    const u = scaleCoupling * (t[i] - criticalTime);
    const e = Math.exp(-Math.abs(u));
    out[i] = (u < 0 ? e : 1) / (1 + e);
  }
}
