/**
 * The QPL feedback loop of the entropy-balanced learning rate (design.md §2 eqs. 12–13,
 * seed 000 §3 steps 4–5; docs/theory.md, "Entropy-balanced learning rate").
 *
 * The seed's rule is η = |dE/dI|: the learning rate is the exchange rate between the energy
 * an iteration spends and the information it gains (000 reads it as E = I c², η in the
 * role of c²). Substituting it directly (η_{t+1} = E_t/I_t, the seed's sample) divides by a
 * vanishing dI/dt and, with the default meters, is unstable: the balance point is a
 * repelling fixed point (docs/theory.md derives the slope). The loop keeps the balance as
 * its set point instead, in log space:
 *
 *   residual   b_t = ln(E_t / (η_t · max(I_t, floor)))   0 exactly when η = E/I; floor =
 *                                                        informationFloor × the meter's scale
 *   correction u_t = −σ b_t, clipped to ±ln(maxChange)/gain  (σ = +1 when the energy meter's
 *                                                        η-order is ≥ 2, else −1)
 *                 u_t = −ln(maxChange)/gain when I_t ≤ 0 (nothing gained, or the loss went
 *                 up: η shrinks geometrically while that lasts); u_t = +ln(maxChange)/gain
 *                 when E_t = 0 for an update meter (nothing moved: η is below the
 *                 parameters' resolution), 0 for a compute meter
 *   potential  q_t = min(u_t, (1 − τ) q_{t−1} + τ u_t)   the QPL: growth low-pass filtered,
 *                                                        a shrink at once (fast attack)
 *   η_{t+1}    = clamp(η_t · exp(gain · q_t), etaMin, etaMax)
 *
 * So η changes by at most maxChange per step and stays in [etaMin, etaMax] whatever the
 * readings; an oscillating residual nets a shrink. Without a reading (the first step) η is
 * held. The reported QBE residual (eq. 12) is QPL(t) = (η I_t − E_t)/λ: the information
 * gained, valued in energy units at the exchange rate η, minus the energy spent (001's
 * sign: information stored is energy taken out of the flux); 0 exactly at balance.
 */
import { argumentError } from '../errors.js';
import { finiteNumber, options } from '../is.js';
import type { InformationReading } from './meters.js';

export const BALANCE_DEFAULTS = Object.freeze({
  /** Lower bound of η (> 0). */
  etaMin: 1e-8,
  /** Upper bound of η. */
  etaMax: 1e3,
  /** κ: ln η moves by κ·q per step (0.5 ≈ the Newton gain for the default meters). */
  gain: 0.5,
  /** τ ∈ (0, 1]: weight of the newest growth correction in the potential (1: no filtering). */
  smoothing: 0.5,
  /** η changes by at most this factor per step (> 1). */
  maxChange: 2,
  /** dI at or below informationFloor × scale counts as no information (≥ 0). */
  informationFloor: 1e-9,
  /** λ of eq. 12, dE/dt + dI/dt = λ QPL(t) (> 0). */
  lambda: 1,
});

export type BalanceConfig = { -readonly [K in keyof typeof BALANCE_DEFAULTS]: number };
export type BalanceOptions = Partial<BalanceConfig>;

/** Validate balance options (names prefixed with `where`); defaults fill the rest. */
export function balanceConfig(opts: BalanceOptions | undefined, where = ''): BalanceConfig {
  const o = options<BalanceOptions>(where ? where.slice(0, -1) : 'options', opts);
  const d = BALANCE_DEFAULTS;
  const etaMin = finiteNumber(`${where}etaMin`, o.etaMin ?? d.etaMin, { above: 0 });
  const config: BalanceConfig = {
    etaMin,
    etaMax: finiteNumber(`${where}etaMax`, o.etaMax ?? Math.max(d.etaMax, etaMin), { min: etaMin }),
    gain: finiteNumber(`${where}gain`, o.gain ?? d.gain, { above: 0 }),
    smoothing: finiteNumber(`${where}smoothing`, o.smoothing ?? d.smoothing, { above: 0, max: 1 }),
    maxChange: finiteNumber(`${where}maxChange`, o.maxChange ?? d.maxChange, { above: 1 }),
    informationFloor: finiteNumber(`${where}informationFloor`, o.informationFloor ?? d.informationFloor, { min: 0 }),
    lambda: finiteNumber(`${where}lambda`, o.lambda ?? d.lambda, { above: 0 }),
  };
  return config;
}

export type BalanceMode = 'hold' | 'balance' | 'no-information' | 'idle';

/** The loop's state. */
export interface BalanceState {
  /** q, the low-pass filtered correction (the QPL potential; 0 before the first reading). */
  potential: number;
}

export const EMPTY_BALANCE: Readonly<BalanceState> = Object.freeze({ potential: 0 });

/** One turn of the loop. */
export interface BalanceStep {
  /** η for the next update. */
  eta: number;
  /** The loop's state after this turn. */
  state: BalanceState;
  /** b = ln(E / (η max(I, floor))), or null when not defined (no reading, or I ≤ 0). */
  residual: number | null;
  /** QPL(t) = (η I − E)/λ (eq. 12), or null without both readings. */
  qpl: number | null;
  /**
   * 'balance' (b drove η), 'no-information' (I ≤ 0: η shrinks), 'idle' (E = 0: nothing
   * moved), 'hold' (no reading this step).
   */
  mode: BalanceMode;
}

/** Check a meter's energy reading: null or a finite number ≥ 0. */
export function energyReading(name: string, value: unknown): number | null {
  if (value === null) return null;
  return finiteNumber(name, value, { min: 0 });
}

/** Check an information reading: null or {bits: finite, scale: finite ≥ 0}. */
export function informationReading(name: string, value: unknown): InformationReading | null {
  if (value === null) return null;
  const r = options<InformationReading>(name, value);
  return { bits: finiteNumber(`${name}.bits`, r.bits), scale: finiteNumber(`${name}.scale`, r.scale, { min: 0 }) };
}

/** Validate a saved loop state. */
export function balanceState(name: string, value: unknown): BalanceState {
  const s = options<BalanceState>(name, value);
  return { potential: finiteNumber(`${name}.potential`, s.potential) };
}

/**
 * One turn of the QPL loop from η (the rate the measured iteration used), the loop's
 * state, and the readings E ≥ 0 and I of that iteration. Pure: returns the new η and
 * state. `etaOrder` is the energy meter's p in E ∝ η^p.
 */
export function balanceStep(
  c: BalanceConfig,
  state: BalanceState,
  eta: number,
  energy: number | null,
  information: InformationReading | null,
  etaOrder: number,
): BalanceStep {
  if (!(eta > 0 && eta < Number.POSITIVE_INFINITY)) throw argumentError('eta', 'a finite number > 0', eta);
  energyReading('energy', energy);
  informationReading('information', information);
  if (energy === null || information === null) return { eta, state, residual: null, qpl: null, mode: 'hold' };
  const { bits, scale } = information;
  const cap = Math.log(c.maxChange) / c.gain;
  const qpl = (eta * bits - energy) / c.lambda;
  let residual: number | null = null;
  let correction: number;
  let mode: BalanceMode;
  if (energy === 0) {
    // Nothing moved: an update meter saw η below the parameters' resolution (grow); a
    // compute meter saw a clock that did not tick (no correction).
    [correction, mode] = [etaOrder > 0 ? cap : 0, 'idle'];
  } else if (!(bits > 0)) {
    [correction, mode] = [-cap, 'no-information'];
  } else {
    // ln E − ln max(I, floor) − ln η: the scale-aware floor keeps rounding noise in I from
    // passing for information; logs, so a small I is only a large b, never a division by 0.
    residual = Math.log(energy) - Math.log(Math.max(bits, c.informationFloor * scale)) - Math.log(eta);
    const sign = etaOrder >= 2 ? 1 : -1;
    correction = Math.min(cap, Math.max(-cap, -sign * residual));
    mode = 'balance';
  }
  // Fast attack, slow release: a correction below the filtered one (η too large: the loss
  // went up, or the step overshot the balance) acts at once; growth is low-pass filtered.
  // So an oscillating residual nets a shrink, never a runaway.
  const filtered = (1 - c.smoothing) * state.potential + c.smoothing * correction;
  let q = Math.min(correction, filtered);
  let next = eta * Math.exp(c.gain * q);
  // Clamped at a bound, the potential keeps no push past it (no wind-up).
  if (!(next < c.etaMax)) [next, q] = [c.etaMax, Math.min(q, 0)];
  else if (!(next > c.etaMin)) [next, q] = [c.etaMin, Math.max(q, 0)];
  return { eta: next, state: { potential: q }, residual, qpl, mode };
}
