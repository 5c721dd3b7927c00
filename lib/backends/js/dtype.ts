/**
 * The two parameter dtypes of the optimizer kernels (lib/kernels.ts, "Real"): a kernel's
 * arithmetic is the IEEE arithmetic of its parameters' dtype. JS computes in f64, so the
 * js reference rounds each operation's result with the dtype's `Round`: Math.fround for
 * Float32Array (f32 arithmetic), the identity for Float64Array (f64 arithmetic, already
 * what JS does).
 */
import { argumentError } from '../../errors.js';
import type { Real } from '../../kernels.js';

export type { Real };

/** Rounds an f64 result to the dtype's precision. */
export type Round = (x: number) => number;

const same: Round = (x) => x;

/** The rounding of `params`' dtype: Math.fround for f32, the identity for f64. */
export function roundingOf(params: Real): Round {
  return params instanceof Float64Array ? same : Math.fround;
}

/**
 * Checks that every array of one kernel call has the dtype of `params` (a kernel never mixes
 * f32 and f64 arrays: the state follows the parameters); throws naming the first that does
 * not. An empty array stands for an unused one and may be of either dtype.
 */
export function sameDtype(params: Real, arrays: Record<string, Real>): void {
  const ctor = params instanceof Float64Array ? Float64Array : Float32Array;
  for (const name in arrays) {
    const a = arrays[name];
    if (!(a instanceof ctor) && a.length > 0) {
      throw argumentError(name, `a ${ctor.name} (the dtype of params)`, a);
    }
  }
}
