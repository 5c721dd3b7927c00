/**
 * The multi-scale fractal transform of seed 002 §3.1 (design.md §2 eq. 8):
 *
 *   Z_{n+1} = Z_n ⊙ Z_n + c_n,   c_n = 1/p_n + Σ_{k=1}^{K} ω_k / p_{n+k}
 *
 * elementwise on an f32 matrix, with the iterates kept bounded (design.md §3): the real
 * map z ↦ z² + c has fixed points only for c ≤ 1/4, and then [−z₊, z₊] with the repelling
 * fixed point z₊ = (1 + √(1 − 4c))/2 is invariant; outside it every orbit escapes to ∞.
 * c_n decreases in n (ω_k ≥ 0), so the interval for the first step's offset holds for every
 * later step. The transform therefore asks for c at its first step to be at most 1/4 and
 * starts from |Z| ≤ z₊ (rescaling Z, or refusing it, when it is larger). docs/theory.md has
 * the argument.
 */
import { separate } from './aliasing.js';
import { kernels } from './backend.js';
import { argumentError, CimmArgumentError } from './errors.js';
import { firstNonFinite, float32Array, integer, oneOf, readOptions } from './is.js';
import { MAX_PRIME_COUNT, primeTable } from './primes.js';

/** Largest number of scales K. */
export const MAX_SCALES = 64;

/**
 * Defaults: the first step uses p_4 = 7 (the first n with 1/p_n + 1/p_{n+1} < 1/4, so any
 * convex weights keep c_n ≤ 1/4), K = 3 scales as in the seed's `num_scales=3`, with weights
 * ω_k ∝ 2^{−k} normalized to sum 1 (coarser scales count less): c_4 ≈ 0.2252.
 */
export const FRACTAL_DEFAULTS = Object.freeze({
  start: 4,
  weights: Object.freeze([4 / 7, 2 / 7, 1 / 7]) as readonly number[],
});

/** The largest offset for which z ↦ z² + c has a bounded real orbit (a fixed point). */
export const MAX_FRACTAL_OFFSET = 0.25;

/** Validate scale weights ω_1..ω_K: finite, non-negative, at most MAX_SCALES of them. */
export function scaleWeights(name: string, value: unknown): Float64Array {
  const ok =
    (Array.isArray(value) || value instanceof Float64Array || value instanceof Float32Array) &&
    value.length <= MAX_SCALES;
  if (!ok) throw argumentError(name, `an array of at most ${MAX_SCALES} finite numbers >= 0`, value);
  const w = Float64Array.from(value as ArrayLike<number>);
  for (let k = 0; k < w.length; k++) {
    const v = (value as ArrayLike<unknown>)[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw argumentError(`${name}[${k}]`, 'a finite number >= 0', v);
    }
  }
  return w;
}

/** c_n = 1/p_n + Σ_k ω_k/p_{n+k} for already-validated n and ω (no argument checks). */
function offsetOf(n: number, w: Float64Array): number {
  const p = primeTable(n + w.length);
  let c = 1 / p[n - 1];
  for (let k = 1; k <= w.length; k++) c += w[k - 1] / p[n + k - 1];
  return c;
}

function stepIndex(name: string, n: unknown, scales: number): number {
  return integer(name, n, { min: 1, max: MAX_PRIME_COUNT - scales });
}

/** The offset c_n = 1/p_n + Σ_{k=1}^{K} ω_k/p_{n+k} of step n (1-based, p_1 = 2). */
export function fractalOffset(n: number, weights: ArrayLike<number> = FRACTAL_DEFAULTS.weights): number {
  const w = scaleWeights('weights', weights);
  return offsetOf(stepIndex('n', n, w.length), w);
}

/**
 * z₊ = (1 + √(1 − 4c))/2, the repelling fixed point of z ↦ z² + c: for 0 ≤ c ≤ 1/4 the
 * interval [−z₊, z₊] is invariant (and so for every later, smaller offset).
 */
export function fractalBound(offset: number): number {
  if (typeof offset !== 'number' || !(offset >= 0 && offset <= MAX_FRACTAL_OFFSET)) {
    throw argumentError('offset', `a number >= 0 and <= ${MAX_FRACTAL_OFFSET}`, offset);
  }
  return (1 + Math.sqrt(1 - 4 * offset)) / 2;
}

/** Throw the facade's error for a non-finite element of `name`. */
function nonFinite(name: string, values: Float32Array): never {
  const i = firstNonFinite(values);
  throw new CimmArgumentError(
    name,
    'finite values',
    `Expected finite values for ${name} but received ${values[i]} at index ${i} of Float32Array(${values.length}) of type Float32Array`,
  );
}

export interface FractalStepOptions {
  /** Where to write Z_{n+1} (the length of z; may be z itself). A new array otherwise. */
  out?: Float32Array;
}

/**
 * One raw step of eq. 8, out = z ⊙ z + offset, with no bound: the kernel as it is (bit-exact
 * on every backend). `fractalTransform` is the bounded multi-step form.
 */
export function fractalStep(z: Float32Array, offset: number, opts?: FractalStepOptions): Float32Array {
  const o = readOptions<FractalStepOptions>('options', opts, ['out']);
  if (typeof offset !== 'number' || !Number.isFinite(offset) || !Number.isFinite(Math.fround(offset))) {
    throw argumentError('offset', 'a finite number within the f32 range', offset);
  }
  float32Array('z', z);
  const out = o.out === undefined ? new Float32Array(z.length) : float32Array('out', o.out, { length: z.length });
  // out may be z (in place); a partial overlap is computed from a copy of z (lib/aliasing.ts).
  kernels().fractalStep(separate('fractalStep', { z, out }).z, offset, out);
  return out;
}

/** How `fractalTransform` treats a Z that starts outside the invariant interval [−z₊, z₊]. */
export type FractalBoundMode = 'rescale' | 'check';

export interface FractalTransformOptions {
  /** Number of steps (default 1). */
  steps?: number;
  /** The prime index n of the first step (default 4, p_4 = 7). */
  start?: number;
  /** Scale weights ω_1..ω_K, each >= 0 (default [4/7, 2/7, 1/7]). */
  weights?: ArrayLike<number>;
  /**
   * 'rescale' (default): when max|Z| > z₊, Z is first multiplied by z₊/max|Z| (the shape of Z
   * is kept, its scale is not); 'check': such a Z is an error.
   */
  bound?: FractalBoundMode;
  /** Where to write the last iterate (the length of z; may be z itself). A new array otherwise. */
  out?: Float32Array;
}

/** What `fractalTransformInfo` reports besides the iterate. */
export interface FractalTransformResult {
  /** The last iterate Z_{start+steps}. */
  out: Float32Array;
  /** The factor Z was multiplied by before the first step (1 when it was in bounds). */
  scale: number;
  /** z₊ of the first step: every iterate lies in [−bound, bound] (up to f32 rounding). */
  bound: number;
  /** The offsets c_n used, one per step. */
  offsets: Float64Array;
}

/**
 * Eq. 8 for `steps` steps from n = start, bounded: returns the details (scale applied, bound,
 * offsets). See `fractalTransform` for the plain form.
 */
export function fractalTransformInfo(z: Float32Array, opts?: FractalTransformOptions): FractalTransformResult {
  const o = readOptions<FractalTransformOptions>('options', opts, ['steps', 'start', 'weights', 'bound', 'out']);
  const steps = integer('steps', o.steps ?? 1, { min: 0, max: 1_000_000 });
  const w = scaleWeights('weights', o.weights ?? FRACTAL_DEFAULTS.weights);
  const start = integer('start', o.start ?? FRACTAL_DEFAULTS.start, {
    min: 1,
    max: MAX_PRIME_COUNT - w.length - steps,
  });
  const mode = oneOf<FractalBoundMode>('bound', o.bound ?? 'rescale', ['rescale', 'check']);
  float32Array('z', z);
  const out = o.out === undefined ? new Float32Array(z.length) : float32Array('out', o.out, { length: z.length });

  const first = offsetOf(start, w);
  if (first > MAX_FRACTAL_OFFSET) {
    throw argumentError(
      'start',
      `a step index n whose offset c_n = 1/p_n + Σ ω_k/p_{n+k} is <= 1/4 (c_${start} = ${first.toPrecision(6)}; the orbit of z² + c escapes for c > 1/4)`,
      start,
    );
  }
  const bound = fractalBound(first);
  const k = kernels();
  const m = k.maxAbs(z);
  if (Number.isNaN(m)) nonFinite('z', z);
  let scale = 1;
  let src = z;
  if (m > bound) {
    if (mode === 'check') {
      const what = `values with |z| <= ${bound.toPrecision(7)} (the repelling fixed point of z² + ${first.toPrecision(6)})`;
      throw new CimmArgumentError(
        'z',
        what,
        `Expected ${what} for z but received max |z| = ${m} in Float32Array(${z.length}) of type Float32Array`,
      );
    }
    scale = bound / m;
    k.axpby(scale, separate('axpby', { x: z, y: out }, { names: { x: 'z', y: 'out' } }).x, 0, out);
    src = out;
  }
  const offsets = new Float64Array(steps);
  for (let t = 0; t < steps; t++) {
    offsets[t] = offsetOf(start + t, w);
    // z itself is read at the first step only (later steps are in place in out).
    k.fractalStep(src === out ? out : separate('fractalStep', { z: src, out }).z, offsets[t], out);
    src = out;
  }
  if (src !== out) out.set(z);
  return { out, scale, bound, offsets };
}

/**
 * Eq. 8, `steps` steps of Z ← Z ⊙ Z + c_n from n = start, with the iterates kept inside the
 * invariant interval [−z₊, z₊] of the first step's offset (see the module comment).
 * Returns the last iterate (`out` when given; it may be z itself).
 */
export function fractalTransform(z: Float32Array, opts?: FractalTransformOptions): Float32Array {
  return fractalTransformInfo(z, opts).out;
}
