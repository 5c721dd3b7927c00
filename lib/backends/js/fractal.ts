/**
 * Pure-TS fractal transform kernels (fractalStep, its backward rule, and maxAbs, eq. 8's bound check): the reference every native backend must match bit for
 * bit. Seed 002 §3.1; design.md §2 eq. 8.
 *
 * JS evaluates Float32Array arithmetic in f64 and rounds once on the store; z² of an f32 is
 * exact in f64, so `z * z + c` is one f64 rounding followed by one f32 rounding. The
 * native kernels widen to f64 and do the same, which is why they agree exactly.
 */
import { separateFrom } from './overlap.js';

/** Eq. 8, one step: out[i] = z[i]² + c, c = fround(offset). `z` may be `out`. */
export function fractalStep(z: Float32Array, offset: number, out: Float32Array): void {
  z = separateFrom(z, out);
  const c = Math.fround(offset);
  for (let i = 0; i < out.length; i++) {
    const v = z[i];
    out[i] = v * v + c;
  }
}

/** Backward rule of one step: gradZ[i] = 2·z[i]·gradOut[i]. `gradOut` may be `gradZ`. */
export function fractalStepBackward(z: Float32Array, gradOut: Float32Array, gradZ: Float32Array): void {
  z = separateFrom(z, gradZ, true);
  gradOut = separateFrom(gradOut, gradZ);
  for (let i = 0; i < gradZ.length; i++) gradZ[i] = 2 * z[i] * gradOut[i];
}

/** max |x[i]| (0 when empty); NaN when any element is NaN or ±Infinity. */
export function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) return Number.NaN; // NaN or ±Infinity
    const a = v < 0 ? -v : v;
    if (a > m) m = a;
  }
  return m;
}
