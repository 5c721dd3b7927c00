/**
 * Pure-TS reductions and in-place updates used by the stability controller (design eq. 11,
 * seed 002 §4.2): the gradient norm ‖∇L‖, grid integrals, and gradient scaling.
 */

/** Σ x, Σ |x|, Σ x² of a grid, in index order, into out[0], out[1], out[2]. */
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

/** ‖x‖₂, each element squared in f64 (exactly, for f32) and summed in index order. */
export function l2Norm(x: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Set NaN and ±∞ entries to 0; returns how many there were. */
export function zeroNonFinite(x: Float32Array | Float64Array): number {
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    // v − v is NaN exactly for NaN and ±∞
    if (v - v !== 0) {
      x[i] = 0;
      count++;
    }
  }
  return count;
}

/** x_i ← x_i·s, the product formed in f64 and rounded once to x's dtype. */
export function scaleInPlace(x: Float32Array | Float64Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= s;
}
