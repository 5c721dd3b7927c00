/**
 * Learning-rate schedules as learning-rate rules (lib/optim/rule.ts): each gives η for
 * step t (t = steps completed, 0 for the first) and drives any optimizer through
 * `withRule(optimizer, rule)`; their state saves and resumes with the optimizer's.
 * docs/theory.md, "Learning-rate rules".
 *
 *   ConstantRate       η₀
 *   StepDecay          η₀ · γ^⌊t / stepSize⌋
 *   ExponentialDecay   η₀ · γ^t
 *   LinearWarmup       η₀ · (start + (1 − start) · min(1, (t + 1) / warmupSteps))
 *   CosineDecay        linear warmup to η₀ over warmupSteps, then
 *                      η_min + ½ (η₀ − η_min)(1 + cos(π · min(1, (t − w) / (T − w))))
 *   ReduceOnPlateau    η₀, multiplied by `factor` whenever the (windowed) loss has not improved
 *                      by `threshold` (relative) for `patience` readings; then `cooldown`
 *                      readings without a reduction; never below minLearningRate
 */
import { argumentError } from '../errors.js';
import { finiteNumber, integer, options } from '../is.js';
import type { LearningRateRule, RuleInput, RuleTurn } from './rule.js';
import { registerRule } from './rule.js';
import type { JsonObject } from './wrapper.js';

type Empty = Record<string, never>;

/** Options every schedule takes. */
interface ScheduleSpec {
  [key: string]: { default?: number; check: (name: string, v: unknown) => number };
}

const positive = (name: string, v: unknown) => finiteNumber(name, v, { above: 0 });
const nonNegative = (name: string, v: unknown) => finiteNumber(name, v, { min: 0 });
const fraction = (name: string, v: unknown) => finiteNumber(name, v, { above: 0, max: 1 });
const count = (name: string, v: unknown) => integer(name, v, { min: 1, max: 2 ** 40 });
const countOrZero = (name: string, v: unknown) => integer(name, v, { min: 0, max: 2 ** 40 });

/** Defaults, checks and unknown-key rejection for one schedule's options. */
function resolve(kind: string, spec: ScheduleSpec, raw: unknown): Record<string, number> {
  const o = options<Record<string, unknown>>('options', raw);
  for (const key of Object.keys(o)) {
    if (!(key in spec)) throw argumentError(key, `an option of ${kind} (${Object.keys(spec).join(', ')})`, o[key]);
  }
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(spec)) {
    const v = o[name] ?? s.default;
    if (v === undefined) throw argumentError(name, `a value (${kind} needs ${name})`, v);
    out[name] = s.check(name, v);
  }
  return out;
}

/** The shared shape of the stateless schedules: η as a function of t. */
abstract class Schedule implements LearningRateRule<Empty> {
  abstract readonly kind: string;
  readonly measuresUpdates = false;
  protected readonly config: Record<string, number>;

  protected constructor(kind: string, spec: ScheduleSpec, raw: unknown) {
    this.config = resolve(kind, spec, raw);
  }

  /** η at step t (t = steps completed). */
  abstract at(t: number): number;

  get initialEta(): number {
    return this.at(0);
  }

  initialState(): Empty {
    return {};
  }

  next(_state: Readonly<Empty>, input: RuleInput): RuleTurn<Empty> {
    return { eta: this.at(input.iteration), state: {}, report: {} };
  }

  getConfig(): JsonObject {
    return { ...this.config };
  }

  checkState(name: string, value: unknown): Empty {
    options(name, value);
    return {};
  }
}

export class ConstantRate extends Schedule {
  readonly kind = 'ConstantRate';
  constructor(o?: { learningRate?: number }) {
    super('ConstantRate', { learningRate: { default: 1e-3, check: positive } }, o);
  }
  at(): number {
    return this.config.learningRate;
  }
}

export class StepDecay extends Schedule {
  readonly kind = 'StepDecay';
  constructor(o?: { learningRate?: number; stepSize?: number; gamma?: number }) {
    super(
      'StepDecay',
      {
        learningRate: { default: 1e-3, check: positive },
        stepSize: { check: count },
        gamma: { default: 0.1, check: fraction },
      },
      o,
    );
  }
  at(t: number): number {
    const { learningRate, stepSize, gamma } = this.config;
    return learningRate * gamma ** Math.floor(t / stepSize);
  }
}

export class ExponentialDecay extends Schedule {
  readonly kind = 'ExponentialDecay';
  constructor(o?: { learningRate?: number; gamma?: number }) {
    super('ExponentialDecay', { learningRate: { default: 1e-3, check: positive }, gamma: { check: fraction } }, o);
  }
  at(t: number): number {
    // η never reaches 0: a decayed rate underflowing would stop the run silently
    return Math.max(this.config.learningRate * this.config.gamma ** t, Number.MIN_VALUE);
  }
}

export class LinearWarmup extends Schedule {
  readonly kind = 'LinearWarmup';
  constructor(o?: { learningRate?: number; warmupSteps?: number; start?: number }) {
    super(
      'LinearWarmup',
      {
        learningRate: { default: 1e-3, check: positive },
        warmupSteps: { check: count },
        start: { default: 0, check: (n, v) => finiteNumber(n, v, { min: 0, max: 1 }) },
      },
      o,
    );
  }
  at(t: number): number {
    const { learningRate, warmupSteps, start } = this.config;
    const f = Math.min(1, (t + 1) / warmupSteps);
    return learningRate * (start + (1 - start) * f);
  }
}

export class CosineDecay extends Schedule {
  readonly kind = 'CosineDecay';
  constructor(o?: { learningRate?: number; totalSteps?: number; warmupSteps?: number; minLearningRate?: number }) {
    super(
      'CosineDecay',
      {
        learningRate: { default: 1e-3, check: positive },
        totalSteps: { check: count },
        warmupSteps: { default: 0, check: countOrZero },
        minLearningRate: { default: 0, check: nonNegative },
      },
      o,
    );
    const { warmupSteps, totalSteps, minLearningRate, learningRate } = this.config;
    if (warmupSteps >= totalSteps)
      throw argumentError('warmupSteps', `fewer than totalSteps (${totalSteps})`, warmupSteps);
    if (minLearningRate > learningRate) {
      throw argumentError('minLearningRate', `at most learningRate (${learningRate})`, minLearningRate);
    }
  }
  at(t: number): number {
    const { learningRate, totalSteps, warmupSteps, minLearningRate } = this.config;
    if (t < warmupSteps) return (learningRate * (t + 1)) / warmupSteps;
    const progress = Math.min(1, (t - warmupSteps) / (totalSteps - warmupSteps));
    const eta = minLearningRate + 0.5 * (learningRate - minLearningRate) * (1 + Math.cos(Math.PI * progress));
    // at the end of a decay to 0, η would be 0: keep the smallest positive rate instead
    return Math.max(eta, Number.MIN_VALUE);
  }
}

interface PlateauState extends JsonObject {
  eta: number;
  best: number | null;
  wait: number;
  cooldown: number;
  /** The current window's loss sum and count. */
  sum: number;
  count: number;
}

/**
 * PyTorch's ReduceLROnPlateau (mode "min", relative threshold) on the observed loss,
 * averaged over `window` steps per reading (1: every step's loss; with mini-batches a
 * window of about an epoch reads the trend rather than the batch noise).
 */
export class ReduceOnPlateau implements LearningRateRule<PlateauState> {
  readonly kind = 'ReduceOnPlateau';
  readonly measuresUpdates = false;
  private readonly config: Record<string, number>;

  constructor(o?: {
    learningRate?: number;
    factor?: number;
    patience?: number;
    threshold?: number;
    cooldown?: number;
    minLearningRate?: number;
    window?: number;
  }) {
    this.config = resolve(
      'ReduceOnPlateau',
      {
        learningRate: { default: 1e-3, check: positive },
        factor: { default: 0.1, check: (n, v) => finiteNumber(n, v, { above: 0, below: 1 }) },
        patience: { default: 10, check: countOrZero },
        threshold: { default: 1e-4, check: nonNegative },
        cooldown: { default: 0, check: countOrZero },
        minLearningRate: { default: 0, check: nonNegative },
        window: { default: 1, check: count },
      },
      o,
    );
  }

  get initialEta(): number {
    return this.config.learningRate;
  }

  initialState(): PlateauState {
    return { eta: this.config.learningRate, best: null, wait: 0, cooldown: 0, sum: 0, count: 0 };
  }

  next(state: Readonly<PlateauState>, input: RuleInput): RuleTurn<PlateauState> {
    const loss = finiteNumber('observation.loss', input.observation?.loss);
    const c = this.config;
    const s = { ...state, sum: state.sum + loss, count: state.count + 1 };
    let reduced = false;
    if (s.count >= c.window) {
      const reading = s.sum / s.count;
      [s.sum, s.count] = [0, 0];
      if (s.best === null || reading < s.best * (1 - c.threshold)) [s.best, s.wait] = [reading, 0];
      else s.wait++;
      if (s.cooldown > 0) [s.cooldown, s.wait] = [s.cooldown - 1, 0];
      else if (s.wait > c.patience) {
        const eta = Math.max(s.eta * c.factor, c.minLearningRate);
        // a floor above η (learningRate < minLearningRate) never raises it (torch keeps the rate too)
        reduced = eta < s.eta;
        [s.eta, s.cooldown, s.wait] = [reduced ? Math.max(eta, Number.MIN_VALUE) : s.eta, c.cooldown, 0];
      }
    }
    return { eta: s.eta, state: s, report: { reduced: reduced ? 1 : 0, best: s.best } };
  }

  getConfig(): JsonObject {
    return { ...this.config };
  }

  checkState(name: string, value: unknown): PlateauState {
    const s = options<PlateauState>(name, value);
    return {
      eta: finiteNumber(`${name}.eta`, s.eta, { above: 0 }),
      best: s.best === null || s.best === undefined ? null : finiteNumber(`${name}.best`, s.best),
      wait: integer(`${name}.wait`, s.wait, { min: 0, max: 2 ** 40 }),
      cooldown: integer(`${name}.cooldown`, s.cooldown, { min: 0, max: this.config.cooldown }),
      sum: finiteNumber(`${name}.sum`, s.sum),
      count: integer(`${name}.count`, s.count, { min: 0, max: this.config.window - 1 }),
    };
  }
}

for (const [kind, make] of [
  ['ConstantRate', (c: never) => new ConstantRate(c)],
  ['StepDecay', (c: never) => new StepDecay(c)],
  ['ExponentialDecay', (c: never) => new ExponentialDecay(c)],
  ['LinearWarmup', (c: never) => new LinearWarmup(c)],
  ['CosineDecay', (c: never) => new CosineDecay(c)],
  ['ReduceOnPlateau', (c: never) => new ReduceOnPlateau(c)],
] as const) {
  registerRule(kind, make as (config: never) => LearningRateRule<JsonObject>);
}
