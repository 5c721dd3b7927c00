/**
 * Pure-TS fractal transform kernels: the reference every native backend must match bit for
 * bit. Seed 002 §3.1; design.md §2 eq. 8.
 *
 * JS evaluates Float32Array arithmetic in f64 and rounds once on the store; z² of an f32 is
 * exact in f64, so `z * z + c` is one f64 rounding followed by one f32 rounding. The
 * native kernels widen to f64 and do the same, which is why they agree exactly.
 */
import { separateFrom } from './elementwise.js';

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
