/**
 * The adaptive learning rate of seed 002 §2.2 (design.md §2 eq. 7):
 * η(t) = α E(x, y) (1 + β S(t)) 𝒮(t), from an EnergySystem (eq. 5), an EntropyTracker
 * (eq. 6) and the scale transition (eq. 2), kept positive, finite and in [etaMin, etaMax].
 */
import { SCALE_TRANSITION_DEFAULTS, scaleTransition } from './coupling.js';
import { EnergySystem, type EnergySystemConfig, type EnergySystemOptions, type EnergyTerms } from './energy.js';
import {
  type EntropyComponents,
  EntropyTracker,
  type EntropyTrackerConfig,
  type EntropyTrackerOptions,
  type EntropyTrackerState,
} from './entropy.js';
import { argumentError } from './errors.js';
import { finiteNumber, integer, options } from './is.js';

/** Default bounds of η. */
export const LEARNING_RATE_DEFAULTS = Object.freeze({ etaMin: 1e-6, etaMax: 1 });

export interface AdaptiveLearningRateOptions {
  /** α (default: the energy system's α, the seed's 0.45). */
  alpha?: number;
  /** β ≥ 0 (default: the energy system's β, the seed's 0.25). */
  beta?: number;
  /** λ of the scale transition (default 1). */
  scaleCoupling?: number;
  /** t_c of the scale transition (default 0). */
  criticalTime?: number;
  /** Lower bound of η, > 0 (default 1e-6). */
  etaMin?: number;
  /** Upper bound of η, >= etaMin (default 1). */
  etaMax?: number;
  /** The energy system E(x, y), or its options. */
  energy?: EnergySystem | EnergySystemOptions;
  /** The entropy tracker S(t), or its options (γ defaults to the energy system's γ). */
  entropy?: EntropyTracker | EntropyTrackerOptions;
}

/** Serializable configuration (the energy system's and the tracker's included). */
export interface AdaptiveLearningRateConfig {
  alpha: number;
  beta: number;
  scaleCoupling: number;
  criticalTime: number;
  etaMin: number;
  etaMax: number;
  energy: EnergySystemConfig;
  entropy: EntropyTrackerConfig;
}

/** Serializable state: the step count and the tracker's state. */
export interface AdaptiveLearningRateState {
  step: number;
  entropy: EntropyTrackerState;
}

/** One update's terms, for inspection. */
export interface LearningRateComponents {
  /** Updates before this one. */
  step: number;
  /** The t used for S(t) and 𝒮(t). */
  time: number;
  /** E(x, y) and its terms (eq. 5). */
  energy: EnergyTerms;
  /** |E|, the magnitude η scales with. */
  energyMagnitude: number;
  /** S(t) and its parts (eq. 6). */
  entropy: EntropyComponents;
  /** 1 + β S(t). */
  entropyFactor: number;
  /** 𝒮(t) (eq. 2). */
  scale: number;
  /** α |E| (1 + β S) 𝒮 before the bounds. */
  raw: number;
  /** η, the raw value clamped to [etaMin, etaMax]. */
  eta: number;
  /** Which bound applied, if any. */
  clamped: 'min' | 'max' | null;
}

export interface UpdateOptions {
  /** t (default: the number of earlier updates, so 0, 1, 2, …); non-decreasing. */
  time?: number;
  /** A new distribution P for the Shannon term (masses; default: keep the last one). */
  distribution?: Float64Array;
}

/**
 * Eq. 7: η(t) = α |E(x, y)| (1 + β S(t)) 𝒮(t), clamped to [etaMin, etaMax].
 *
 * E(x, y) can be negative (the cosines of the local term), and the seed's η ∝ E would then
 * be negative: cimm uses |E|. It keeps the seed's proportionality (doubling the energy
 * doubles the step, whatever its sign), is continuous, and adds no constant: a softplus
 * would give E = 0 a step of α ln 2 and bend the scale of small energies, a shift would
 * need an offset with no basis in the seeds. E = 0 gives raw 0, which the lower bound
 * lifts to etaMin; so does 𝒮 ≈ 0 early in training (the "quantum" regime), which is what
 * the bounds are for. With α > 0 and β ≥ 0, S ≥ 0 makes 1 + βS ≥ 1.
 */
export class AdaptiveLearningRate {
  readonly config: Readonly<Omit<AdaptiveLearningRateConfig, 'energy' | 'entropy'>>;
  readonly energySystem: EnergySystem;
  readonly tracker: EntropyTracker;
  private step = 0;
  private last: LearningRateComponents | null = null;

  constructor(opts?: AdaptiveLearningRateOptions) {
    const o = options<AdaptiveLearningRateOptions>('options', opts);
    this.energySystem = o.energy instanceof EnergySystem ? o.energy : new EnergySystem(o.energy);
    const ec = this.energySystem.config;
    this.tracker =
      o.entropy instanceof EntropyTracker
        ? o.entropy
        : new EntropyTracker({ gamma: ec.gamma, ...options<EntropyTrackerOptions>('entropy', o.entropy) });
    const etaMin = finiteNumber('etaMin', o.etaMin ?? LEARNING_RATE_DEFAULTS.etaMin, { above: 0 });
    this.config = Object.freeze({
      alpha: finiteNumber('alpha', o.alpha ?? ec.alpha, { above: 0 }),
      beta: finiteNumber('beta', o.beta ?? ec.beta, { min: 0 }),
      scaleCoupling: finiteNumber('scaleCoupling', o.scaleCoupling ?? SCALE_TRANSITION_DEFAULTS.scaleCoupling),
      criticalTime: finiteNumber('criticalTime', o.criticalTime ?? SCALE_TRANSITION_DEFAULTS.criticalTime),
      etaMin,
      etaMax: finiteNumber('etaMax', o.etaMax ?? Math.max(LEARNING_RATE_DEFAULTS.etaMax, etaMin), { min: etaMin }),
    });
  }

  static fromConfig(config: AdaptiveLearningRateConfig): AdaptiveLearningRate {
    const c = options<AdaptiveLearningRateConfig>('config', config);
    return new AdaptiveLearningRate({
      ...c,
      energy: new EnergySystem(c.energy),
      entropy: new EntropyTracker(c.entropy),
    });
  }

  getConfig(): AdaptiveLearningRateConfig {
    return { ...this.config, energy: this.energySystem.getConfig(), entropy: this.tracker.getConfig() };
  }

  /**
   * One step: E = E(x, y) (x the current parameters, y the target), S(t) after observing
   * (t, E), 𝒮(t), and η. Returns η.
   */
  update(x: Float32Array, y: Float32Array, opts?: UpdateOptions): number {
    const o = options<UpdateOptions>('options', opts);
    const time = o.time === undefined ? this.step : finiteNumber('time', o.time);
    const energy = this.energySystem.computeEnergy(x, y);
    this.tracker.observe(time, energy.total, o.distribution);
    const entropy = this.tracker.components();
    const { alpha, beta, scaleCoupling, criticalTime, etaMin, etaMax } = this.config;
    const scale = scaleTransition(time, { scaleCoupling, criticalTime });
    const energyMagnitude = Math.abs(energy.total);
    const entropyFactor = 1 + beta * entropy.entropy;
    const raw = alpha * energyMagnitude * entropyFactor * scale;
    // Every factor is finite and ≥ 0; a product that overflows is +∞, clamped to etaMax.
    const clamped = raw < etaMin ? 'min' : raw > etaMax ? 'max' : null;
    const eta = clamped === 'min' ? etaMin : clamped === 'max' ? etaMax : raw;
    this.last = {
      step: this.step,
      time,
      energy,
      energyMagnitude,
      entropy,
      entropyFactor,
      scale,
      raw,
      eta,
      clamped,
    };
    this.step++;
    return eta;
  }

  /** The last η (etaMax before the first update: no evidence yet to scale it down). */
  get eta(): number {
    return this.last?.eta ?? this.config.etaMax;
  }

  /** The last update's terms (null before the first). */
  components(): LearningRateComponents | null {
    return this.last && { ...this.last, energy: { ...this.last.energy }, entropy: { ...this.last.entropy } };
  }

  state(): AdaptiveLearningRateState {
    return { step: this.step, entropy: this.tracker.state() };
  }

  loadState(state: AdaptiveLearningRateState): void {
    const s = options<AdaptiveLearningRateState>('state', state);
    const step = integer('state.step', s.step, { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (s.entropy === undefined) throw argumentError('state.entropy', 'an entropy tracker state', s.entropy);
    this.tracker.loadState(s.entropy);
    this.step = step;
    this.last = null;
  }
}
