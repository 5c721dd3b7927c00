/**
 * The QPL feedback loop of the entropy-balanced learning rate (design.md §2 eqs. 12–13,
 * seed 000 §3 steps 4–5; docs/theory.md, "Entropy-balanced learning rate").
 *
 * The seed's rule is η = |dE/dI|: the learning rate is the exchange rate between the energy
 * an iteration spends and the information it gains (000 reads it as E = I c², η in the
 * role of c²). Substituting it directly (η_{t+1} = E_t/I_t, the seed's sample) divides by a
 * vanishing dI/dt and is unstable at its own fixed point (docs/theory.md derives the
 * slope). The loop keeps the balance E = η I as its *set point* instead, in log space:
 *
 *   statistics  the readings of each update, normalized by the η it used, are averaged
 *               (exponential moving averages, weight `averaging`): a reading may span a
 *               window of steps, and the noise of one mini-batch averages out
 *   target      'secant' (default; kinetic energy + gradient information): along the update
 *               direction the loss is a parabola whose start and end slopes the readings
 *               give, so the η at which E = η I is solved for directly:
 *                 η* = 2(F₀ − A/β)/K   (A = E/η², F₀ = −g·Δθ/η, K = (−g·Δθ + g'·Δθ)/η²,
 *                                       β the information meter's bits per loss unit)
 *               and the correction is u = ln(η* / η);
 *               'residual' (any meters): u = −σ·ln(E/(η·max(I, floor)))/2, σ = +1 when the
 *               energy meter's η-order is ≥ 2 else −1 (the sign of d residual/d ln η).
 *               No information (I ≤ 0, or F₀ ≤ A/β) gives u = −ln(maxChange)/gain; an
 *               update meter that read E = 0 (η below the parameters' f32 resolution)
 *               gives +ln(maxChange)/gain; no curvature seen (K ≤ 0) gives +ln(maxChange)/gain.
 *   potential   q_t = min(u_t, (1 − τ) q_{t−1} + τ u_t), u clipped to ±ln(maxChange)/gain:
 *               the QPL of 000 step 5 as a low-pass filter with fast attack (a shrink acts at
 *               once) and slow release (growth is smoothed), so an oscillating reading nets a
 *               shrink, never a runaway
 *   η_{t+1}     = clamp(η_t · exp(gain · q_t), etaMin, min(etaMax, ceiling))
 *   calibration (the gradient meter, with the observed loss): every `window` steps the mean
 *               observed loss of the block is compared with the previous block's. The
 *               decrease between them is unbiased but noisy; the gradient meter's (the sum of
 *               its readings over those steps) is precise but, with mini-batches, biased
 *               upward by the batch noise its start slope carries. When the loss rose by
 *               more than `significance` standard errors, η shrinks by maxChange²; when the
 *               meter's prediction exceeds the observed decrease by more than that, η is
 *               scaled by observed/predicted (at least 1/maxChange²). Either way `ceiling`
 *               caps η at the result, and it rises by maxChange per block without such a
 *               finding. A decrease within the noise is no evidence either way.
 *   guard       (optional, `guard` > 1) when the last update's own secant solution is below
 *               η/guard — a curvature spike — η jumps there at once (at most 10³ down).
 *
 * So η changes by at most maxChange per step through the loop and stays in [etaMin,
 * etaMax] whatever the readings. The reported QBE residual (eq. 12) is QPL(t) =
 * (η I_t − E_t)/λ: the information gained, valued in energy units at the exchange rate η,
 * minus the energy spent (001's sign: information stored is energy taken out of the flux);
 * 0 exactly at balance.
 */
import { argumentError } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import type { InformationReading } from './meters.js';

export const BALANCE_DEFAULTS = Object.freeze({
  /** Lower bound of η (> 0). */
  etaMin: 1e-8,
  /** Upper bound of η. */
  etaMax: 1e3,
  /** κ: ln η moves by κ·q per step (1: toward the balance estimate in one step, capped). */
  gain: 1,
  /** τ ∈ (0, 1]: weight of the newest growth correction in the potential (1: no filtering). */
  smoothing: 0.5,
  /** η changes by at most this factor per step through the loop (> 1). */
  maxChange: 2,
  /** dI at or below informationFloor × scale counts as no information (≥ 0). */
  informationFloor: 1e-9,
  /** λ of eq. 12, dE/dt + dI/dt = λ QPL(t) (> 0). */
  lambda: 1,
  /** Weight of the past in the readings' moving averages, in [0, 1) (0: each reading alone). */
  averaging: 0.9,
  /** Steps per block of the loss-stream calibration (0: none); 10 chosen by the comparison (docs/theory.md). */
  window: 10,
  /** z of the calibration's tests (standard errors). */
  significance: 2,
  /** Curvature-spike guard ratio (> 1), or 0: off. */
  guard: 0,
});

export type BalanceTarget = 'secant' | 'residual';
export const BALANCE_TARGETS: readonly BalanceTarget[] = ['secant', 'residual'];

export type BalanceConfig = { -readonly [K in keyof typeof BALANCE_DEFAULTS]: number } & { target: BalanceTarget };
export type BalanceOptions = Partial<BalanceConfig>;

/** Validate balance options (names prefixed with `where`); defaults fill the rest. */
export function balanceConfig(opts: BalanceOptions | undefined, where = ''): BalanceConfig {
  const o = options<BalanceOptions>(where ? where.slice(0, -1) : 'options', opts);
  const d = BALANCE_DEFAULTS;
  const etaMin = finiteNumber(`${where}etaMin`, o.etaMin ?? d.etaMin, { above: 0 });
  const guard = finiteNumber(`${where}guard`, o.guard ?? d.guard, { min: 0 });
  if (guard !== 0 && !(guard > 1)) throw argumentError(`${where}guard`, '0 (off) or a ratio > 1', guard);
  return {
    etaMin,
    etaMax: finiteNumber(`${where}etaMax`, o.etaMax ?? Math.max(d.etaMax, etaMin), { min: etaMin }),
    gain: finiteNumber(`${where}gain`, o.gain ?? d.gain, { above: 0 }),
    smoothing: finiteNumber(`${where}smoothing`, o.smoothing ?? d.smoothing, { above: 0, max: 1 }),
    maxChange: finiteNumber(`${where}maxChange`, o.maxChange ?? d.maxChange, { above: 1 }),
    informationFloor: finiteNumber(`${where}informationFloor`, o.informationFloor ?? d.informationFloor, { min: 0 }),
    lambda: finiteNumber(`${where}lambda`, o.lambda ?? d.lambda, { above: 0 }),
    averaging: finiteNumber(`${where}averaging`, o.averaging ?? d.averaging, { min: 0, max: 0.999 }),
    window: integer(`${where}window`, o.window ?? d.window, { min: 0, max: 1e6 }),
    significance: finiteNumber(`${where}significance`, o.significance ?? d.significance, { above: 0 }),
    guard,
    target: oneOf(`${where}target`, o.target ?? 'secant', BALANCE_TARGETS),
  };
}

export type BalanceMode = 'hold' | 'balance' | 'no-information' | 'idle';

/** Moving averages of the normalized readings (sums weighted by `weight`, debiased on use). */
export interface BalanceStatistics {
  weight: number;
  /** E/η^p. */
  energy: number;
  /** I/η (bits per unit η). */
  information: number;
  /** Secant pieces: kinetic/η², −g·Δθ/η, (−g·Δθ + g'·Δθ)/η². */
  kinetic: number;
  slope: number;
  curvature: number;
}

/** One calibration block's running sums. */
export interface CalibrationBlock {
  steps: number;
  /** Σ L and Σ L² of the observed losses. */
  sum: number;
  squares: number;
  /** Σ of the gradient meter's decreases (loss units) over the block's steps. */
  predicted: number;
}

export interface BalanceState {
  /** q, the low-pass filtered correction (the QPL potential; 0 before the first reading). */
  potential: number;
  statistics: BalanceStatistics;
  /** The calibration's cap on η (null: none yet). */
  ceiling: number | null;
  block: CalibrationBlock;
  /** The previous full block: mean and variance of its losses, its steps and predicted decrease. */
  previous: { mean: number; variance: number; steps: number; predicted: number } | null;
}

const EMPTY_BLOCK: CalibrationBlock = Object.freeze({ steps: 0, sum: 0, squares: 0, predicted: 0 });

export const EMPTY_BALANCE: Readonly<BalanceState> = Object.freeze({
  potential: 0,
  statistics: Object.freeze({ weight: 0, energy: 0, information: 0, kinetic: 0, slope: 0, curvature: 0 }),
  ceiling: null,
  block: EMPTY_BLOCK,
  previous: null,
});

/** What one turn reads: the meters' readings of the last update, and the step's loss. */
export interface BalanceInput {
  /** η the measured update used (η₀ when there is no reading). */
  eta: number;
  /** E ≥ 0 (null: no reading). */
  energy: number | null;
  information: InformationReading | null;
  /** The energy meter's p in E ∝ η^p. */
  etaOrder: number;
  /** Secant pieces of the same update, when the meters are kinetic + gradient. */
  secant: { kinetic: number; predictedDecrease: number; endDecrease: number; bitsPerLoss: number } | null;
  /** The observed loss of this step (null: none; calibration then skips the step). */
  loss: number | null;
  /** The gradient meter's decrease of the last update in loss units (calibration; null: none). */
  predictedDecrease: number | null;
}

/** One turn of the loop. */
export interface BalanceStep {
  /** η for the next update. */
  eta: number;
  state: BalanceState;
  /** ln(E / (η max(I, floor))) of this reading, or null when not defined. */
  residual: number | null;
  /** QPL(t) = (η I − E)/λ (eq. 12), or null without both readings. */
  qpl: number | null;
  /** The balanced η the statistics point to (null when they do not define one). */
  balancedEta: number | null;
  /** The calibration's factor at the end of a block (1: no finding; null: no block ended). */
  calibration: number | null;
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
  const t = options<BalanceStatistics>(`${name}.statistics`, s.statistics);
  const num = (key: string, v: unknown, min?: number) =>
    finiteNumber(`${name}.${key}`, v, min === undefined ? {} : { min });
  const b = options<CalibrationBlock>(`${name}.block`, s.block);
  const p =
    s.previous === null || s.previous === undefined
      ? null
      : options<NonNullable<BalanceState['previous']>>(`${name}.previous`, s.previous);
  return {
    potential: num('potential', s.potential),
    statistics: {
      weight: finiteNumber(`${name}.statistics.weight`, t.weight, { min: 0, max: 1 }),
      energy: num('statistics.energy', t.energy),
      information: num('statistics.information', t.information),
      kinetic: num('statistics.kinetic', t.kinetic),
      slope: num('statistics.slope', t.slope),
      curvature: num('statistics.curvature', t.curvature),
    },
    ceiling:
      s.ceiling === null || s.ceiling === undefined ? null : finiteNumber(`${name}.ceiling`, s.ceiling, { above: 0 }),
    block: {
      steps: integer(`${name}.block.steps`, b.steps, { min: 0 }),
      sum: num('block.sum', b.sum),
      squares: num('block.squares', b.squares, 0),
      predicted: num('block.predicted', b.predicted),
    },
    previous:
      p === null
        ? null
        : {
            mean: num('previous.mean', p?.mean),
            variance: num('previous.variance', p?.variance, 0),
            steps: integer(`${name}.previous.steps`, p?.steps, { min: 1 }),
            predicted: num('previous.predicted', p?.predicted),
          },
  };
}

/** The calibration at a block's end: the factor for η (< 1 shrinks; 1 no finding). */
function calibrate(
  c: BalanceConfig,
  prev: NonNullable<BalanceState['previous']>,
  cur: NonNullable<BalanceState['previous']>,
): number {
  const observed = prev.mean - cur.mean;
  const se = Math.sqrt(prev.variance / prev.steps + cur.variance / cur.steps);
  // the steps between the two blocks' centres: half of each block's predicted decrease
  const predicted = (prev.predicted + cur.predicted) / 2;
  const z = c.significance;
  const floor = 1 / (c.maxChange * c.maxChange);
  if (observed < -z * se) return floor;
  if (predicted > 0 && predicted - observed > z * se) return Math.max(Math.max(observed, 0) / predicted, floor);
  return 1;
}

/**
 * One turn of the QPL loop (see the file comment). Pure: returns the new η and state.
 */
export function balanceStep(c: BalanceConfig, state: BalanceState, input: BalanceInput): BalanceStep {
  const eta = input.eta;
  if (!(eta > 0 && eta < Number.POSITIVE_INFINITY)) throw argumentError('eta', 'a finite number > 0', eta);
  const energy = energyReading('energy', input.energy);
  const information = informationReading('information', input.information);
  const cap = Math.log(c.maxChange) / c.gain;
  // A correction that is not a number (readings whose normalized values overflow f64) counts
  // as no information: a shrink, never a jump (NaN would otherwise clamp η to etaMax).
  const clip = (u: number) => (u > -cap ? Math.min(cap, u) : -cap);
  let statistics = state.statistics;
  let residual: number | null = null;
  let qpl: number | null = null;
  let balancedEta: number | null = null;
  let mode: BalanceMode = 'hold';
  let correction: number | null = null;
  let guardEta = Number.POSITIVE_INFINITY;

  if (energy !== null && information !== null) {
    qpl = (eta * information.bits - energy) / c.lambda;
    if (energy === 0) {
      // Nothing moved: an update meter saw η below the parameters' resolution (grow); a
      // compute meter saw a clock that did not tick (no correction).
      [correction, mode] = [input.etaOrder > 0 ? cap : 0, 'idle'];
    } else {
      const r = c.averaging;
      const w = r * statistics.weight + (1 - r);
      const s = input.secant;
      const avg = (old: number, x: number) => r * old + (1 - r) * x;
      statistics = {
        weight: w,
        energy: avg(statistics.energy, energy / eta ** input.etaOrder),
        information: avg(statistics.information, information.bits / eta),
        kinetic: s ? avg(statistics.kinetic, s.kinetic / (eta * eta)) : statistics.kinetic,
        slope: s ? avg(statistics.slope, s.predictedDecrease / eta) : statistics.slope,
        curvature: s
          ? avg(statistics.curvature, (s.predictedDecrease - s.endDecrease) / (eta * eta))
          : statistics.curvature,
      };
      // A reading that overflows the statistics (E/η^p with a tiny η) is unusable: it is not
      // averaged in (the state stays finite, so it saves), and η shrinks.
      const usable = Object.values(statistics).every(Number.isFinite);
      if (!usable) [statistics, correction, mode] = [state.statistics, -cap, 'no-information'];
      if (information.bits > 0) {
        residual =
          Math.log(energy) -
          Math.log(Math.max(information.bits, c.informationFloor * information.scale)) -
          Math.log(eta);
      }
      if (!usable) {
        // no correction from the statistics
      } else if (c.target === 'secant' && s) {
        const A = statistics.kinetic / w;
        const F = statistics.slope / w;
        const K = statistics.curvature / w;
        const numerator = 2 * (F - A / s.bitsPerLoss);
        if (!(numerator > 0)) [correction, mode] = [-cap, 'no-information'];
        else if (!(K > 0)) [correction, mode] = [cap, 'balance'];
        else {
          balancedEta = numerator / K;
          [correction, mode] = [clip(Math.log(balancedEta / eta)), 'balance'];
        }
        if (c.guard > 0) {
          // the last update's own secant solution, unaveraged: a curvature spike shows here first
          const own = 2 * (s.predictedDecrease / eta - s.kinetic / (eta * eta) / s.bitsPerLoss);
          const k = (s.predictedDecrease - s.endDecrease) / (eta * eta);
          if (own > 0 && k > 0 && own / k < eta / c.guard) guardEta = Math.max(own / k, eta * 1e-3);
        }
      } else {
        const E = (statistics.energy / w) * eta ** input.etaOrder;
        const I = (statistics.information / w) * eta;
        if (!(I > 0)) [correction, mode] = [-cap, 'no-information'];
        else {
          const b = Math.log(E) - Math.log(Math.max(I, c.informationFloor * information.scale)) - Math.log(eta);
          const sign = input.etaOrder >= 2 ? 1 : -1;
          [correction, mode] = [clip((-sign * b) / 2), 'balance'];
        }
      }
    }
  }

  let q = state.potential;
  let next = eta;
  if (correction !== null) {
    // Fast attack, slow release: a correction below the filtered one (η too large) acts at
    // once; growth is low-pass filtered. So an oscillating reading nets a shrink.
    q = Math.min(correction, (1 - c.smoothing) * state.potential + c.smoothing * correction);
    next = Math.min(eta * Math.exp(c.gain * q), guardEta);
  }

  // The loss-stream calibration (gradient meter only): blocks of `window` observed losses.
  let { ceiling, block, previous } = state;
  let calibration: number | null = null;
  if (c.window > 0 && input.loss !== null && input.predictedDecrease !== null) {
    const L = finiteNumber('loss', input.loss);
    const added = {
      steps: block.steps + 1,
      sum: block.sum + L,
      squares: block.squares + L * L,
      predicted: block.predicted + input.predictedDecrease,
    };
    // losses so large that their squares overflow carry no usable statistics: start the block over
    block = Number.isFinite(added.squares) && Number.isFinite(added.predicted) ? added : EMPTY_BLOCK;
    if (block.steps >= c.window) {
      const mean = block.sum / block.steps;
      const current = {
        mean,
        variance: Math.max(0, block.squares / block.steps - mean * mean),
        steps: block.steps,
        predicted: block.predicted,
      };
      if (previous !== null) {
        calibration = calibrate(c, previous, current);
        if (calibration < 1) {
          next *= calibration;
          ceiling = Math.max(next, c.etaMin);
          q = Math.min(q, 0);
        } else if (ceiling !== null) {
          ceiling *= c.maxChange;
          if (ceiling >= c.etaMax) ceiling = null;
        }
      }
      previous = current;
      block = EMPTY_BLOCK;
    }
  }

  // Clamped at a bound, the potential keeps no push past it (no wind-up).
  const upper = ceiling === null ? c.etaMax : Math.min(c.etaMax, ceiling);
  if (!(next < upper)) [next, q] = [upper, Math.min(q, 0)];
  if (!(next > c.etaMin)) [next, q] = [c.etaMin, Math.max(q, 0)];
  return {
    eta: next,
    state: { potential: q, statistics, ceiling, block, previous },
    residual,
    qpl,
    balancedEta,
    calibration,
    mode,
  };
}
