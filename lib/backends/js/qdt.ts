/**
 * Pure-TS kernels of the QDT family: coupling Ψ(t) and the scale transition (design eqs.
 * 1–2, seed 002 §1.1–1.2), the Shannon term of eq. 6, and the spectrum of a density matrix
 * behind eq. 15 (Householder tridiagonalization + implicit QL). The reference for
 * crate/src/qdt.rs and native/src/qdt.cpp.
 */
import type { CouplingParams, ScaleTransitionParams } from '../../kernels.js';

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
export function coupling(t: Float64Array, params: CouplingParams, out: Float64Array): void {
  const { alpha, beta, gamma, lambdaCosmo } = params;
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
export function scaleTransition(t: Float64Array, params: ScaleTransitionParams, out: Float64Array): void {
  const { scaleCoupling, criticalTime } = params;
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

/** Totals below 2^-600 are summed again at 2^600 scale (p ln p would be subnormal). */
const TINY_TOTAL = 2 ** -600;
const RESCALE = 2 ** 600;

/** [Σ c·p_i, Σ c·p_i ln(c·p_i)] with 0·ln 0 = 0, in four interleaved partial sums. */
function sums(p: Float64Array, c: number): [number, number] {
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = p.length;
  const term = (v: number) => (v !== 0 ? v * Math.log(v) : 0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = p[i] * c;
    const b = p[i + 1] * c;
    const d = p[i + 2] * c;
    const e = p[i + 3] * c;
    t0 += a;
    t1 += b;
    t2 += d;
    t3 += e;
    s0 += term(a);
    s1 += term(b);
    s2 += term(d);
    s3 += term(e);
  }
  for (; i < n; i++) {
    const v = p[i] * c;
    t0 += v;
    s0 += term(v);
  }
  return [t0 + t1 + (t2 + t3), s0 + s1 + (s2 + s3)];
}

/**
 * H(P) = −Σ P_i log₂ P_i with P = p / T, T = Σ p, in one pass as (ln T − S/T)/ln 2 with
 * S = Σ p_i ln p_i (0·ln 0 = 0). NaN for an empty p, a zero total, or a negative or
 * non-finite mass (ln of a negative is NaN, 0/0 for a zero total), or when T or S overflows;
 * 0 if it rounds below 0.
 */
export function shannonEntropy(p: Float64Array): number {
  let [total, s] = sums(p, 1);
  if (total > 0 && total < TINY_TOTAL) [total, s] = sums(p, RESCALE);
  const h = (Math.log(total) - s / total) / Math.LN2;
  // Also NaN when S overflows (masses near f64 max): the facade rescales. Negative only by rounding.
  if (!Number.isFinite(h)) return Number.NaN;
  return Math.max(h, 0);
}

/** A sub-diagonal column norm below this (after scaling) is left unreduced. */
const TINY = 1e-150;
/** QL iterations allowed per eigenvalue. */
const MAX_QL_ITER = 60;
const EPS = Number.EPSILON;

/** Scratch reused across calls (grown on demand): 2d² + 5d doubles. */
let scratch = new Float64Array(0);

/** Eigenvalues (ascending) of the Hermitian part of re + i·im into out; NaN for non-finite input. */
export function hermitianEigenvalues(re: Float64Array, im: Float64Array, d: number, out: Float64Array): void {
  const n = d;
  if (n === 0) return;
  const dd = n * n;
  let max = 0;
  for (let k = 0; k < dd; k++) {
    const a = Math.abs(re[k]);
    const b = Math.abs(im[k]);
    // NaN fails every comparison: catch it with the negated test.
    if (!(a <= Number.MAX_VALUE && b <= Number.MAX_VALUE)) {
      out.fill(Number.NaN);
      return;
    }
    if (a > max) max = a;
    if (b > max) max = b;
  }
  if (max === 0) {
    out.fill(0);
    return;
  }
  const exponent = Math.min(1000, Math.max(-1000, Math.floor(Math.log2(max))));
  const scale = 2 ** -exponent;
  const half = 0.5 * scale;

  const need = 2 * dd + 5 * n;
  if (scratch.length < need) scratch = new Float64Array(need);
  const ar = scratch.subarray(0, dd);
  const ai = scratch.subarray(dd, 2 * dd);
  const vr = scratch.subarray(2 * dd, 2 * dd + n);
  const vi = scratch.subarray(2 * dd + n, 2 * dd + 2 * n);
  const yr = scratch.subarray(2 * dd + 2 * n, 2 * dd + 3 * n);
  const yi = scratch.subarray(2 * dd + 3 * n, 2 * dd + 4 * n);
  const e2 = scratch.subarray(2 * dd + 4 * n, 2 * dd + 5 * n);

  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const ij = i * n + j;
      const ji = j * n + i;
      ar[ij] = re[ij] * half + re[ji] * half;
      ai[ij] = im[ij] * half - im[ji] * half;
    }
  }

  const diag = out;
  tridiagonalize(n, ar, ai, diag, e2, vr, vi, yr, yi);
  e2[n - 1] = 0;
  if (!tridiagonalEigenvalues(diag, e2)) {
    diag.fill(Number.NaN);
    return;
  }
  const back = 2 ** exponent;
  for (let i = 0; i < n; i++) diag[i] *= back;
}

/**
 * Householder reduction: for each k a reflector H = I − τ v v^H maps the column below the
 * diagonal, x, to β e₁ (|β| = ‖x‖, stored squared in e2); the trailing block becomes
 * H A H through y = τ A v, w = y − ½τ(v^H y) v, A ← A − v w^H − w v^H.
 */
function tridiagonalize(
  n: number,
  ar: Float64Array,
  ai: Float64Array,
  diag: Float64Array,
  e2: Float64Array,
  vr: Float64Array,
  vi: Float64Array,
  yr: Float64Array,
  yi: Float64Array,
): void {
  for (let k = 0; k < n - 1; k++) {
    const m = n - k - 1;
    const off = k + 1;
    diag[k] = ar[k * n + k];
    // x = A[k+1.., k] = conj(A[k, k+1..]): row k read contiguously.
    const row = k * n + off;
    let x2 = 0;
    for (let j = 0; j < m; j++) {
      vr[j] = ar[row + j];
      vi[j] = -ai[row + j];
      x2 += vr[j] * vr[j] + vi[j] * vi[j];
    }
    const xnorm = Math.sqrt(x2);
    e2[k] = x2;
    if (xnorm <= TINY) continue;
    const a0 = Math.sqrt(vr[0] * vr[0] + vi[0] * vi[0]); // scaled entries: no overflow (see the Rust kernel)
    const pr = a0 > 0 ? vr[0] / a0 : 1;
    const pi = a0 > 0 ? vi[0] / a0 : 0;
    vr[0] += pr * xnorm;
    vi[0] += pi * xnorm;
    const tau = 1 / (xnorm * (xnorm + a0));
    // y = τ A v, row by row: A is Hermitian, so column j is conj(row j) and
    // y += conj(A[j, ·])·v_j over the rows j.
    yr.fill(0, 0, m);
    yi.fill(0, 0, m);
    for (let j = 0; j < m; j++) {
      const r = (off + j) * n + off;
      const vrj = vr[j];
      const vij = vi[j];
      for (let l = 0; l < m; l++) {
        yr[l] += ar[r + l] * vrj + ai[r + l] * vij;
        yi[l] += ar[r + l] * vij - ai[r + l] * vrj;
      }
    }
    let vhy = 0;
    for (let i = 0; i < m; i++) {
      yr[i] *= tau;
      yi[i] *= tau;
      vhy += vr[i] * yr[i] + vi[i] * yi[i];
    }
    const kk = 0.5 * tau * vhy;
    for (let i = 0; i < m; i++) {
      yr[i] -= kk * vr[i];
      yi[i] -= kk * vi[i];
    }
    for (let i = 0; i < m; i++) {
      const r = (off + i) * n + off;
      const vri = vr[i];
      const vii = vi[i];
      const wri = yr[i];
      const wii = yi[i];
      for (let j = 0; j < m; j++) {
        ar[r + j] -= vri * yr[j] + vii * yi[j] + (wri * vr[j] + wii * vi[j]);
        ai[r + j] -= vii * yr[j] - vri * yi[j] + (wii * vr[j] - wri * vi[j]);
      }
    }
  }
  diag[n - 1] = ar[n * n - 1];
}

/**
 * Reinsch's rational QL (root-free implicit QL with shifts, CACM Algorithm 464; EISPACK
 * tqlrat), eigenvalues only: d the diagonal, e2 the squared off-diagonals (e2[i] couples i
 * and i+1, e2[n−1] = 0). Leaves the eigenvalues in d, ascending; false if one took more
 * than MAX_QL_ITER iterations. See crate/src/eigen.rs for why the root-free form.
 */
function tridiagonalEigenvalues(d: Float64Array, e2: Float64Array): boolean {
  const n = d.length;
  let f = 0;
  let t = 0;
  let b = 0;
  let c = 0;
  for (let l = 0; l < n; l++) {
    const h0 = Math.abs(d[l]) + Math.sqrt(e2[l]);
    if (t <= h0) {
      t = h0;
      b = EPS * t;
      c = b * b;
    }
    let m = l;
    while (e2[m] > c) m++;
    let iter = 0;
    while (m !== l) {
      if (iter === MAX_QL_ITER) return false;
      iter++;
      const s0 = Math.sqrt(e2[l]);
      const g0 = d[l];
      const p0 = (d[l + 1] - g0) / (2 * s0);
      const r0 = Math.sqrt(p0 * p0 + 1);
      d[l] = s0 / (p0 + (p0 < 0 || Object.is(p0, -0) ? -r0 : r0));
      const shift = g0 - d[l];
      for (let i = l + 1; i < n; i++) d[i] -= shift;
      f += shift;
      let g = d[m] === 0 ? b : d[m];
      let h = g;
      let s = 0;
      for (let i = m - 1; i >= l; i--) {
        const p = g * h;
        const r = p + e2[i];
        e2[i + 1] = s * r;
        s = e2[i] / r;
        d[i + 1] = h + s * (h + d[i]);
        g = d[i] - e2[i] / g;
        if (g === 0) g = b;
        h = (g * p) / r;
      }
      e2[l] = s * g;
      d[l] = h;
      if (h === 0 || Math.abs(e2[l]) * Math.abs(h) <= c) break;
      e2[l] *= h;
      if (e2[l] === 0) break;
    }
    const p = d[l] + f;
    let i = l;
    while (i > 0 && p < d[i - 1]) {
      d[i] = d[i - 1];
      i--;
    }
    d[i] = p;
  }
  return true;
}
