/**
 * The entropy feedback of seed 002 §2.2 (design.md §2 eq. 6):
 * S(t) = −Σ P_i log₂ P_i + γ ∫₀ᵗ |dE/dτ| dτ. `shannonEntropy` is the first term (a validated
 * kernel call); `EntropyTracker` accumulates the second from a stream of (t, E) observations.
 */
import { kernels } from './backend.js';
import { QDT } from './constants.js';
import { argumentError, CimmArgumentError, describeValue, typeOf } from './errors.js';
import { finiteNumber, float64Array, integer, readOptions } from './is.js';

/** Why `p` was rejected, found after the kernel returned NaN (it validates in the same pass). */
function diagnoseMasses(p: Float64Array): number {
  let max = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (!(v >= 0 && v <= Number.MAX_VALUE)) {
      throw new CimmArgumentError(
        'p',
        'non-negative finite masses',
        `Expected non-negative finite masses for p but received ${v} at index ${i} of ${describeValue(p)} of type ${typeOf(p)}`,
      );
    }
    if (v > max) max = v;
  }
  if (max === 0) {
    throw new CimmArgumentError(
      'p',
      'at least one positive mass',
      `Expected at least one positive mass for p but received only zeros in ${describeValue(p)} of type ${typeOf(p)}`,
    );
  }
  // Valid masses so large that Σp or Σ p ln p overflowed: H is scale-free, so rescale by a
  // power of two (exact) and ask again.
  const scale = 2 ** -Math.floor(Math.log2(max));
  return kernels().shannonEntropy(p.map((v) => v * scale));
}

/**
 * The Shannon entropy in bits of the distribution P = p / Σp (eq. 6, first term), with
 * 0·log 0 = 0. `p` holds non-negative masses (probabilities, counts, magnitudes), at least
 * one positive; a negative, NaN or infinite entry is an error naming its index.
 */
export function shannonEntropy(p: Float64Array): number {
  float64Array('p', p);
  if (p.length === 0) throw argumentError('p', 'a non-empty Float64Array of masses', p);
  const h = kernels().shannonEntropy(p);
  return Number.isNaN(h) ? diagnoseMasses(p) : h;
}

export interface EntropyTrackerOptions {
  /** γ, the weight of the energy-variation term (default 0.35, the seed's). */
  gamma?: number;
}

/** Serializable configuration of an EntropyTracker. */
export interface EntropyTrackerConfig {
  gamma: number;
}

/** Serializable state of an EntropyTracker (JSON round-trips exactly). */
export interface EntropyTrackerState {
  /** Observations so far. */
  steps: number;
  /** Time of the last observation (null before the first). */
  time: number | null;
  /** Energy of the last observation (null before the first). */
  energy: number | null;
  /** ∫ |dE/dτ| dτ from the first observation to the last. */
  variation: number;
  /** H(P) in bits of the last distribution given (0 until one is). */
  shannon: number;
  /** dE/dt over the last step (null before the second observation or after a zero-length step). */
  rate: number | null;
}

/** S(t) and its parts, for inspection. */
export interface EntropyComponents extends EntropyTrackerState {
  /** γ · variation. */
  feedback: number;
  /** S(t) = shannon + feedback. */
  entropy: number;
}

const EMPTY_STATE: EntropyTrackerState = Object.freeze({
  steps: 0,
  time: null,
  energy: null,
  variation: 0,
  shannon: 0,
  rate: null,
});

/**
 * Eq. 6: S(t) = H(P) + γ ∫₀ᵗ |dE/dτ| dτ, accumulated step by step from observations
 * (t_k, E_k) with non-decreasing t. The integral is taken over the piecewise-linear
 * interpolant of the observations, where it is exactly Σ_k |E_k − E_{k−1}|: the rectangle
 * rule on the backward difference |ΔE/Δt|·Δt, which needs no division by Δt (irregular and
 * zero-length steps are fine) and does not depend on the time unit. "Time 0" is the first
 * observation. H(P) is the entropy of the last distribution given (0 until one is).
 */
export class EntropyTracker {
  readonly config: Readonly<EntropyTrackerConfig>;
  private s: EntropyTrackerState = { ...EMPTY_STATE };

  constructor(opts?: EntropyTrackerOptions) {
    const o = readOptions<EntropyTrackerOptions>('options', opts, ['gamma']);
    this.config = Object.freeze({ gamma: finiteNumber('gamma', o.gamma ?? QDT.gamma, { min: 0 }) });
  }

  static fromConfig(config: EntropyTrackerConfig): EntropyTracker {
    return new EntropyTracker(config);
  }

  getConfig(): EntropyTrackerConfig {
    return { ...this.config };
  }

  /**
   * Record E at time t (t ≥ the previous time), and optionally a new distribution P
   * (masses, normalized here). Returns S(t).
   */
  observe(time: number, energy: number, distribution?: Float64Array): number {
    finiteNumber('time', time);
    finiteNumber('energy', energy);
    const prev = this.s;
    if (prev.time !== null && time < prev.time) {
      throw argumentError('time', `a time >= ${prev.time} (the previous observation)`, time);
    }
    const shannon = distribution === undefined ? prev.shannon : shannonEntropy(distribution);
    if (prev.energy === null || prev.time === null) {
      this.s = { steps: 1, time, energy, variation: 0, shannon, rate: null };
    } else {
      const dE = energy - prev.energy;
      const dt = time - prev.time;
      this.s = {
        steps: prev.steps + 1,
        time,
        energy,
        variation: prev.variation + Math.abs(dE),
        shannon,
        rate: dt > 0 ? dE / dt : null,
      };
    }
    return this.entropy;
  }

  /** Replace the distribution P without a new energy observation; returns S. */
  setDistribution(distribution: Float64Array): number {
    this.s = { ...this.s, shannon: shannonEntropy(distribution) };
    return this.entropy;
  }

  /** S(t) = H(P) + γ ∫|dE/dτ| dτ. */
  get entropy(): number {
    return this.s.shannon + this.config.gamma * this.s.variation;
  }

  /** S(t) with its parts. */
  components(): EntropyComponents {
    const feedback = this.config.gamma * this.s.variation;
    return { ...this.s, feedback, entropy: this.s.shannon + feedback };
  }

  /** The state, JSON-serializable; `loadState(JSON.parse(JSON.stringify(state())))` restores it exactly. */
  state(): EntropyTrackerState {
    return { ...this.s };
  }

  /** Restore a state from `state()` (validated). */
  loadState(state: EntropyTrackerState): void {
    const st = readOptions<EntropyTrackerState>('state', state, [
      'steps',
      'time',
      'energy',
      'variation',
      'shannon',
      'rate',
    ]);
    const nullable = (name: string, v: unknown) => (v === null ? null : finiteNumber(name, v));
    const steps = integer('state.steps', st.steps, { min: 0, max: Number.MAX_SAFE_INTEGER });
    const time = nullable('state.time', st.time);
    const energy = nullable('state.energy', st.energy);
    if ((steps === 0) !== (time === null) || (steps === 0) !== (energy === null)) {
      throw argumentError('state', 'time and energy null exactly when steps is 0', state);
    }
    this.s = {
      steps,
      time,
      energy,
      variation: finiteNumber('state.variation', st.variation, { min: 0 }),
      shannon: finiteNumber('state.shannon', st.shannon, { min: 0 }),
      rate: nullable('state.rate', st.rate),
    };
  }

  /** Forget every observation. */
  reset(): void {
    this.s = { ...EMPTY_STATE };
  }
}
