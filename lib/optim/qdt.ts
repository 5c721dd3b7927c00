/**
 * QDTOptimizer (seed 002 §2.2 and §5.3; design.md §2 eq. 7; docs/theory.md, "QDT
 * optimizer"): the learning rate of an inner SGD, Adam or AdamW is, every step,
 *
 *   η(t) = η₀ · α |E(x, y)| (1 + β S(t)) 𝒮(t), bounded to η₀·[etaMin, etaMax]
 *
 * from AdaptiveLearningRate (lib/learning-rate.ts: the EnergySystem's E, the
 * EntropyTracker's S, the scale transition 𝒮), η₀ a unit scale (the learningRate option,
 * default 1). The choices the seed leaves open:
 *
 * - y, the "target parameters": the Polyak average of the iterates, y_t = ρ y_{t−1} +
 *   (1 − ρ) x_{t−1} (y_0 = x_0): the running estimate of where the iterates converge. So
 *   ‖x − y‖ measures how far the iterate still moves about its own average; it shrinks as
 *   training settles.
 * - E(x, y) on a probe: d ≤ probeDimension coordinates of the parameters (all of them
 *   when there are fewer), drawn once without replacement from a seeded generator, the
 *   same for the whole run; eq. 4's quadrature costs M·d per step instead of M·N.
 * - P in S(t): the gradient's energy over the probe, P_i ∝ g_i² (i over the probe
 *   coordinates): H(P) is high when the gradient's energy is spread over many
 *   coordinates, low when a few dominate. When the probe's gradient is all zero, the last
 *   P is kept.
 * - t: the step count (0, 1, 2, …), for S(t) and 𝒮(t).
 * - Float64Array parameters: the inner optimizer updates them in f64; the rule reads its
 *   probe in f32 (the dtype of the energy kernels E(x, y) is computed with), so η is the
 *   same function of the parameters rounded to f32.
 */
import { kernels } from '../backend.js';
import { EnergySystem, type EnergySystemConfig, type EnergySystemOptions } from '../energy.js';
import { EntropyTracker } from '../entropy.js';
import { argumentError, CimmArgumentError, describeValue, prefixError, typeOf } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import {
  AdaptiveLearningRate,
  type AdaptiveLearningRateState,
  LEARNING_RATE_DEFAULTS,
  type LearningRateComponents,
} from '../learning-rate.js';
import { Random } from '../random.js';
import { type BalanceBase, createBase } from './entropy-balanced.js';
import {
  checks,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  type RealTensorMap,
  registerOptimizer,
  type StepObservation,
  sameDtypeArray,
} from './optimizer.js';
import {
  FlatRuleOptimizer,
  type LearningRateRule,
  type RuleDrivenReport,
  type RuleInput,
  type RuleTurn,
  registerRule,
} from './rule.js';
import type { AnyOptimizer, JsonObject } from './wrapper.js';

export const QDT_OPTIMIZER_DEFAULTS = Object.freeze({
  /** Probe coordinates at most. */
  probeDimension: 256,
  probeSeed: 0,
  /** ρ of the Polyak average (a window of about 1/(1 − ρ) = 100 steps). */
  averaging: 0.99,
});

export interface QDTOptions extends OptimizerOptions {
  /** η₀, the unit scale of the rule's rate (default 1). */
  learningRate: number;
  base: BalanceBase;
  baseOptions: Record<string, unknown>;
  /** α of eq. 7 (default 0.45). */
  alpha: number;
  /** β of eq. 7 (default 0.25). */
  beta: number;
  /** γ of S(t) (default 0.35). */
  gamma: number;
  /** λ and t_c of the scale transition 𝒮(t) (defaults 1 and 0). */
  scaleCoupling: number;
  criticalTime: number;
  /** Bounds of α|E|(1 + βS)𝒮 before η₀ (defaults 1e-6 and 1). */
  etaMin: number;
  etaMax: number;
  /** The EnergySystem of E(x, y) (Λ, primes, ℓ, ε, quadrature points, domain, seed). */
  energy: EnergySystemConfig;
  probeDimension: number;
  probeSeed: number;
  /** ρ ∈ [0, 1) of the Polyak average y. */
  averaging: number;
}

export type QDTConfig = OptimizerConfig<QDTOptions>;

export type QDTArgs = Omit<OptimizerArgs<QDTOptions>, 'energy'> & { energy?: EnergySystemOptions };

export interface QDTReport extends RuleDrivenReport {
  iteration: number;
  /** η used by this step's update: η₀ times the rule's rate. */
  eta: number;
  /** E(x, y), eq. 5 on the probe. */
  energy: number;
  /** r = ‖x − y‖ on the probe. */
  distance: number;
  /** S(t), eq. 6. */
  entropy: number;
  /** 𝒮(t), eq. 2. */
  scale: number;
  /** The rule's terms (E and its parts, S and its parts, 𝒮, the raw and bounded rate). */
  components: LearningRateComponents;
}

const SPECS: Record<keyof QDTOptions, OptionSpec> = {
  learningRate: { default: 1, check: checks.learningRate },
  base: { default: 'sgd', check: (name, v) => oneOf(name, v, ['sgd', 'adam', 'adamw']) },
  baseOptions: { default: {}, check: (name, v) => ({ ...options<Record<string, unknown>>(name, v) }) },
  alpha: { default: 0.45, check: (name, v) => finiteNumber(name, v, { above: 0 }) },
  beta: { default: 0.25, check: checks.nonNegative },
  gamma: { default: 0.35, check: checks.nonNegative },
  scaleCoupling: { default: 1, check: (name, v) => finiteNumber(name, v) },
  criticalTime: { default: 0, check: (name, v) => finiteNumber(name, v) },
  etaMin: { default: LEARNING_RATE_DEFAULTS.etaMin, check: (name, v) => finiteNumber(name, v, { above: 0 }) },
  etaMax: { default: LEARNING_RATE_DEFAULTS.etaMax, check: (name, v) => finiteNumber(name, v, { above: 0 }) },
  energy: {
    default: new EnergySystem().getConfig(),
    check: (name, v) => {
      const o = options<EnergySystemOptions>(name, v);
      if (o.points !== undefined)
        throw argumentError(`${name}.points`, 'no points (generated from the seed)', o.points);
      try {
        return new EnergySystem(o).getConfig();
      } catch (error) {
        throw prefixError(error, `${name}.`);
      }
    },
  },
  probeDimension: {
    default: QDT_OPTIMIZER_DEFAULTS.probeDimension,
    check: (n, v) => integer(n, v, { min: 1, max: 4096 }),
  },
  probeSeed: {
    default: QDT_OPTIMIZER_DEFAULTS.probeSeed,
    check: (n, v) => integer(n, v, { min: 0, max: 2 ** 32 - 1 }),
  },
  averaging: {
    default: QDT_OPTIMIZER_DEFAULTS.averaging,
    check: (name, v) => checks.beta(name, v),
  },
};

/** d distinct indices of [0, n), sorted, drawn by Floyd's algorithm from a seeded generator. */
export function probeIndices(n: number, d: number, seed: number): Uint32Array {
  if (d >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const random = new Random(seed);
  const chosen = new Set<number>();
  for (let j = n - d; j < n; j++) {
    const t = random.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from([...chosen].sort((a, b) => a - b));
}

/** The probe's layout: each probe coordinate's tensor name and offset. */
interface Probe {
  layout: [string, number][];
  tensor: string[];
  offset: Uint32Array;
}

/** The QDT rule's state: the rate's step count and entropy tracker, the probe layout, the Polyak average y. */
interface QDTState extends JsonObject {
  rate: AdaptiveLearningRateState & JsonObject;
  layout: [string, number][] | null;
  average: number[] | null;
}

/** The rule's options (the QDT optimizer's, without base and baseOptions). */
export type QDTRuleOptions = Omit<QDTOptions, 'base' | 'baseOptions'>;

const RULE_NAMES = Object.keys(SPECS).filter((k) => k !== 'base' && k !== 'baseOptions') as (keyof QDTRuleOptions)[];

/**
 * The QDT learning-rate rule (seed 002 §2.2, eq. 7): η = η₀ α|E(x, y)|(1 + βS(t))𝒮(t) on
 * a probe of the parameters, y their Polyak average. It reads the parameters and their
 * gradients (the probe's gradient energy is S's distribution); it measures no update.
 */
export class QDTRule implements LearningRateRule<QDTState> {
  readonly kind = 'QDT';
  readonly measuresUpdates = false;
  private readonly options: QDTRuleOptions;
  private readonly rate: AdaptiveLearningRate;
  private probe: Probe | null = null;
  private x = new Float32Array(0);
  private masses = new Float64Array(0);

  constructor(args?: Partial<QDTRuleOptions>, where = '') {
    const raw = options<Record<string, unknown>>(where ? where.slice(0, -1) : 'options', args);
    for (const key of Object.keys(raw)) {
      if (!(RULE_NAMES as string[]).includes(key)) {
        throw argumentError(`${where}${key}`, `an option of the QDT rule (${RULE_NAMES.join(', ')})`, raw[key]);
      }
    }
    const o: Record<string, unknown> = {};
    for (const name of RULE_NAMES) {
      const v = raw[name];
      o[name] = v === undefined ? SPECS[name].default : SPECS[name].check(`${where}${name}`, v);
    }
    this.options = o as unknown as QDTRuleOptions;
    const c = this.options;
    if (c.etaMax < c.etaMin) throw argumentError(`${where}etaMax`, `a number >= etaMin (${c.etaMin})`, c.etaMax);
    this.rate = new AdaptiveLearningRate({
      alpha: c.alpha,
      beta: c.beta,
      scaleCoupling: c.scaleCoupling,
      criticalTime: c.criticalTime,
      etaMin: c.etaMin,
      etaMax: c.etaMax,
      energy: new EnergySystem(c.energy),
      entropy: new EntropyTracker({ gamma: c.gamma }),
    });
  }

  static fromConfig(config: Partial<QDTRuleOptions>): QDTRule {
    return new QDTRule(config);
  }

  /** η before the first step: η₀ times the rate's upper bound (the first step computes its own). */
  get initialEta(): number {
    return this.options.learningRate * this.options.etaMax;
  }

  getConfig(): JsonObject {
    return { ...this.options } as unknown as JsonObject;
  }

  initialState(): QDTState {
    return {
      rate: { step: 0, entropy: new EntropyTracker({ gamma: this.options.gamma }).state() } as never,
      layout: null,
      average: null,
    };
  }

  checkState(name: string, value: unknown): QDTState {
    const s = options<QDTState>(name, value);
    const layout = s.layout ?? null;
    if (layout !== null) {
      if (
        !Array.isArray(layout) ||
        !layout.every((e) => Array.isArray(e) && typeof e[0] === 'string' && Number.isSafeInteger(e[1]) && e[1] >= 0)
      ) {
        throw argumentError(`${name}.layout`, 'null or an array of [parameter name, length]', layout);
      }
    }
    const d = layout === null ? 0 : this.probeFor(layout as [string, number][]).tensor.length;
    const average = s.average ?? null;
    if (
      (layout === null) !== (average === null) ||
      (average !== null &&
        !(Array.isArray(average) && average.length === d && average.every((v) => Number.isFinite(v))))
    ) {
      throw argumentError(
        `${name}.average`,
        layout === null ? 'null (no probe yet)' : `an array of ${d} finite numbers`,
        average,
      );
    }
    const saved = this.rate.state();
    try {
      this.rate.loadState(options<AdaptiveLearningRateState>(`${name}.rate`, s.rate) as AdaptiveLearningRateState);
    } catch (error) {
      throw prefixError(error, `${name}.rate.`.replace(/^state\./, 'state.'));
    } finally {
      this.rate.loadState(saved);
    }
    return {
      rate: s.rate as QDTState['rate'],
      layout: layout as [string, number][] | null,
      average: average as number[] | null,
    };
  }

  /** The probe for a parameter layout (cached; the same layout always gives the same probe). */
  private probeFor(layout: [string, number][]): Probe {
    const p = this.probe;
    if (
      p &&
      p.layout.length === layout.length &&
      p.layout.every(([n, len], i) => n === layout[i][0] && len === layout[i][1])
    ) {
      return p;
    }
    const total = layout.reduce((s, [, n]) => s + n, 0);
    if (total === 0) throw argumentError('params', 'at least one parameter value', total);
    const global = probeIndices(total, this.options.probeDimension, this.options.probeSeed);
    const tensor: string[] = [];
    const offset = new Uint32Array(global.length);
    let t = 0;
    let start = 0;
    for (let i = 0; i < global.length; i++) {
      while (global[i] >= start + layout[t][1]) start += layout[t++][1];
      tensor.push(layout[t][0]);
      offset[i] = global[i] - start;
    }
    this.probe = { layout: layout.map(([n, len]) => [n, len]), tensor, offset };
    this.x = new Float32Array(global.length);
    this.masses = new Float64Array(global.length);
    return this.probe;
  }

  next(state: Readonly<QDTState>, input: RuleInput): RuleTurn<QDTState> {
    const { params, grads } = input;
    const names = Object.keys(params);
    const layout = names.map((n) => [n, params[n].length] as [string, number]);
    if (state.layout !== null) {
      const same =
        state.layout.length === layout.length &&
        state.layout.every(([n, len], i) => n === layout[i][0] && len === layout[i][1]);
      if (!same) {
        const want = state.layout.map(([n, len]) => `${JSON.stringify(n)}: ${len}`).join(', ');
        throw argumentError('params', `the parameters the QDT probe was built for ({${want}})`, params);
      }
    }
    const probe = this.probeFor(layout);
    const { x, masses } = this;
    let mass = 0;
    for (let i = 0; i < x.length; i++) {
      x[i] = params[probe.tensor[i]][probe.offset[i]];
      const g = grads[probe.tensor[i]]?.[probe.offset[i]];
      if (!(g !== undefined && g - g === 0)) badGradient(params, grads, probe.tensor[i]);
      masses[i] = g * g;
      mass += masses[i];
    }
    const y = state.average === null ? Float32Array.from(x) : Float32Array.from(state.average);
    this.rate.loadState(state.rate);
    const rate = this.rate.update(x, y, mass > 0 ? { distribution: masses } : {});
    const components = this.rate.components()!;
    // the Polyak average takes the iterate this step starts from
    const rho = this.options.averaging;
    const average = new Array<number>(y.length);
    for (let i = 0; i < y.length; i++) average[i] = Math.fround(rho * y[i] + (1 - rho) * x[i]);
    return {
      eta: this.options.learningRate * rate,
      state: { rate: this.rate.state() as QDTState['rate'], layout, average },
      report: {
        energy: components.energy.total,
        distance: components.energy.distance,
        entropy: components.entropy.entropy,
        scale: components.scale,
        components,
      },
    };
  }
}

registerRule('QDT', QDTRule.fromConfig as (config: never) => LearningRateRule<JsonObject>);

/** A gradient the probe reads is missing or not finite: name it as the inner step would. */
function badGradient(params: Readonly<RealTensorMap>, grads: Readonly<RealTensorMap>, name: string): never {
  const at = `grads[${JSON.stringify(name)}]`;
  const p = params[name];
  const g = sameDtypeArray(
    at,
    Object.hasOwn(grads, name) ? grads[name] : undefined,
    p,
    `params[${JSON.stringify(name)}]`,
    p.length,
  );
  const i = kernels().firstNonFinite(g);
  throw new CimmArgumentError(
    at,
    'finite values',
    `Expected finite values for ${at} but received ${g[i]} at index ${i} of ${describeValue(g)} of type ${typeOf(g)}`,
  );
}

/** An inner SGD (default), Adam or AdamW driven by the QDT rule: `new QDTOptimizer()`, `step(params, grads)`. */
export class QDTOptimizer extends FlatRuleOptimizer<QDTOptions> {
  declare lastReport: QDTReport | undefined;

  constructor(args?: QDTArgs) {
    super(args as OptimizerArgs<QDTOptions>);
  }

  static override fromConfig(config: unknown): QDTOptimizer {
    return new QDTOptimizer(config as QDTArgs);
  }

  override get kind(): string {
    return 'QDT';
  }

  override step(params: RealTensorMap, grads: RealTensorMap, observation?: StepObservation): QDTReport {
    return super.step(params, grads, observation) as QDTReport;
  }

  protected override optionSpecs(): Record<keyof QDTOptions, OptionSpec> {
    return SPECS;
  }

  protected override checkOptions(o: QDTOptions, where: string): void {
    if (o.etaMax < o.etaMin) throw argumentError(`${where}etaMax`, `a number >= etaMin (${o.etaMin})`, o.etaMax);
    createBase(o.base, o.baseOptions, o.learningRate * o.etaMax, `${where}baseOptions.`);
  }

  protected ruleOptionNames(): readonly (keyof QDTOptions)[] {
    return RULE_NAMES;
  }

  protected makeParts(o: QDTConfig, ruleOptions: Record<string, unknown>): { inner: AnyOptimizer; rule: QDTRule } {
    return {
      inner: createBase(o.base, o.baseOptions, o.learningRate * o.etaMax, 'baseOptions.'),
      rule: new QDTRule(ruleOptions as Partial<QDTRuleOptions>),
    };
  }
}

registerOptimizer('QDT', QDTOptimizer.fromConfig);
