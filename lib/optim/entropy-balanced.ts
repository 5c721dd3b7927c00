/**
 * The entropy-balanced learning rate (seed 000 §3; design.md §2 eqs. 12–14; docs/theory.md,
 * "Entropy-balanced learning rate") as a learning-rate rule, and the optimizer that drives
 * an inner SGD, Adam or AdamW with it.
 *
 * Every step the rule reads the meters — the energy the last update spent (default: its
 * kinetic energy in the inner optimizer's metric) and the information it gained (default:
 * its loss decrease by the trapezoid rule on the gradients at its two ends, in bits) — and
 * turns the QPL loop (lib/optim/balance.ts), which sets η where E = η I. All it needs is
 * what every training loop hands an optimizer: the mini-batch loss at the current
 * parameters and its gradients (`step(params, grads, { loss })`); no extra forward pass.
 *
 * Reported per step (the return value, also `lastReport`): η, dE/dt, dI/dt, the QBE
 * residual QPL(t) = (η dI/dt − dE/dt)/λ (eq. 12), the loop's residual, potential, balanced
 * η and calibration, the measured joules and the Landauer efficiency k_B T ln 2 · bits /
 * joules (eq. 14).
 */
import { argumentError, prefixError } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import { landauerBound } from '../quantum.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import {
  BALANCE_DEFAULTS,
  BALANCE_TARGETS,
  type BalanceConfig,
  type BalanceMode,
  type BalanceState,
  type BalanceTarget,
  balanceConfig,
  balanceState,
  balanceStep,
  EMPTY_BALANCE,
  energyReading,
  informationReading,
} from './balance.js';
import {
  COMPUTE_METER_DEFAULTS,
  createEnergyMeter,
  createInformationMeter,
  type EnergyMeter,
  type EnergyMeterConfig,
  type InformationMeter,
  type InformationMeterConfig,
  type MeterState,
} from './meters.js';
import {
  checks,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  type RealTensorMap,
  registerOptimizer,
  type StepObservation,
} from './optimizer.js';
import {
  FlatRuleOptimizer,
  type LearningRateRule,
  type RuleDrivenReport,
  type RuleInput,
  type RuleTurn,
  registerRule,
} from './rule.js';
import { SGD } from './sgd.js';
import type { AnyOptimizer, JsonObject } from './wrapper.js';

export type BalanceBase = 'sgd' | 'adam' | 'adamw';

/** The rule's options: η₀, the meters, the loop (lib/optim/balance.ts). */
export interface EntropyBalancedRuleOptions {
  /** η₀, the learning rate until the first balance reading (default 1e-3, in [etaMin, etaMax]). */
  learningRate: number;
  /** dE/dt: 'kinetic' (default), 'gradient-work', 'compute', or a config {kind, …}. */
  energyMeter: EnergyMeterConfig;
  /** dI/dt: 'gradient' (default), 'loss', 'predictive-entropy' (needs classes), or a config {kind, …}. */
  informationMeter: InformationMeterConfig;
  /** The joules behind the Landauer efficiency when the energy meter is not in joules; null: none. */
  computeMeter: EnergyMeterConfig | null;
  /** T in kelvin for the Landauer bound k_B T ln 2 (default 300). */
  temperature: number;
  etaMin: number;
  etaMax: number;
  gain: number;
  smoothing: number;
  maxChange: number;
  informationFloor: number;
  lambda: number;
  /** 'auto' (default: 'secant' with the kinetic and gradient meters, else 'residual'), 'secant' or 'residual'. */
  target: BalanceTarget | 'auto';
  averaging: number;
  window: number;
  significance: number;
  guard: number;
}

export interface EntropyBalancedOptions extends EntropyBalancedRuleOptions, OptimizerOptions {
  /** The inner optimizer whose η is set: 'adam' (default), 'sgd' or 'adamw'. */
  base: BalanceBase;
  /** The inner optimizer's other options (no learningRate, no maximize). */
  baseOptions: Record<string, unknown>;
}

export type EntropyBalancedConfig = OptimizerConfig<EntropyBalancedOptions>;

/** The constructor's options: meters may be given by kind name. */
export type EntropyBalancedArgs = Omit<
  OptimizerArgs<EntropyBalancedOptions>,
  'energyMeter' | 'informationMeter' | 'computeMeter'
> & {
  energyMeter?: string | EnergyMeterConfig;
  /** A predictive-entropy meter may carry `source`, a function returning the probabilities (not saved in the config). */
  informationMeter?: string | InformationMeterConfig;
  computeMeter?: string | EnergyMeterConfig | null;
};

/** What one step measured and decided. */
export interface BalanceReport extends RuleDrivenReport {
  /** This step's index (0 for the first). */
  iteration: number;
  /** η used by this step's update. */
  eta: number;
  /** dE/dt of the previous iteration, in the energy meter's unit (null on the first step). */
  energyRate: number | null;
  /** dI/dt of the previous iteration in bits (null on the first step). */
  informationRate: number | null;
  /** QPL(t) = (η dI/dt − dE/dt)/λ, eq. 12 (η the rate the measured iteration used). */
  qpl: number | null;
  /** ln(dE / (η dI)) of this reading: 0 at balance (null when dI was at or below 0). */
  residual: number | null;
  /** q, the loop's low-pass filtered correction after this turn (the QPL potential). */
  potential: number;
  /** The balanced η the averaged readings point to (secant target; null when undefined). */
  balancedEta: number | null;
  /** The loss-stream calibration's factor when a block ended this step (1: no finding), else null. */
  calibration: number | null;
  mode: BalanceMode;
  /** Measured joules of the previous iteration (null without a compute meter or reading). */
  joules: number | null;
  /** k_B T ln 2 × bits gained / joules spent (eq. 14; ≤ 1 by Landauer's bound). */
  landauerEfficiency: number | null;
}

const DEFAULT_COMPUTE: EnergyMeterConfig = { kind: 'compute', ...COMPUTE_METER_DEFAULTS };

const meterCheck = (create: (v: never, name: string) => { getConfig(): unknown }) => (name: string, v: unknown) =>
  create(v as never, name).getConfig();

/** A predictive-entropy meter's `source` is a function: it is kept aside, not validated as config. */
function configOf(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { source?: unknown }).source === 'function') {
    const { source: _, ...rest } = v as Record<string, unknown>;
    return rest;
  }
  return v;
}

const RULE_SPECS: Record<keyof EntropyBalancedRuleOptions, OptionSpec> = {
  learningRate: { default: 1e-3, check: checks.learningRate },
  energyMeter: { default: { kind: 'kinetic' }, check: meterCheck(createEnergyMeter) },
  informationMeter: {
    default: { kind: 'gradient', unit: 'nats', scale: 1 },
    check: (name, v) =>
      createInformationMeter(configOf(v) as never, name, { source: () => new Float64Array(0) }).getConfig(),
  },
  computeMeter: {
    default: DEFAULT_COMPUTE,
    check: (name, v) => {
      if (v === null) return null;
      const meter = createEnergyMeter(v as never, name);
      if (meter.unit !== 'J') throw argumentError(name, 'null or a meter measuring joules (kind "compute")', v);
      return meter.getConfig();
    },
  },
  temperature: { default: 300, check: (name, v) => finiteNumber(name, v, { above: 0 }) },
  etaMin: { default: BALANCE_DEFAULTS.etaMin, check: checks.nonNegative },
  etaMax: { default: BALANCE_DEFAULTS.etaMax, check: checks.nonNegative },
  gain: { default: BALANCE_DEFAULTS.gain, check: checks.nonNegative },
  smoothing: { default: BALANCE_DEFAULTS.smoothing, check: checks.nonNegative },
  maxChange: { default: BALANCE_DEFAULTS.maxChange, check: checks.nonNegative },
  informationFloor: { default: BALANCE_DEFAULTS.informationFloor, check: checks.nonNegative },
  lambda: { default: BALANCE_DEFAULTS.lambda, check: checks.nonNegative },
  target: { default: 'auto', check: (name, v) => oneOf(name, v, ['auto', ...BALANCE_TARGETS]) },
  averaging: { default: BALANCE_DEFAULTS.averaging, check: checks.nonNegative },
  window: { default: BALANCE_DEFAULTS.window, check: checks.nonNegative },
  significance: { default: BALANCE_DEFAULTS.significance, check: checks.nonNegative },
  guard: { default: BALANCE_DEFAULTS.guard, check: checks.nonNegative },
};

const SPECS: Record<keyof EntropyBalancedOptions, OptionSpec> = {
  ...RULE_SPECS,
  base: { default: 'adam', check: (name, v) => oneOf(name, v, ['sgd', 'adam', 'adamw']) },
  baseOptions: {
    default: {},
    check: (name, v) => ({ ...options<Record<string, unknown>>(name, v) }),
  },
};

const RULE_OPTION_NAMES = Object.keys(RULE_SPECS) as (keyof EntropyBalancedRuleOptions)[];

/** Resolve rule options: defaults, checks, and the cross-checks (errors prefixed with `where`). */
function resolveRuleOptions(raw: Record<string, unknown>, where: string): EntropyBalancedRuleOptions {
  for (const key of Object.keys(raw)) {
    if (!(RULE_OPTION_NAMES as string[]).includes(key)) {
      throw argumentError(
        `${where}${key}`,
        `an option of the EntropyBalanced rule (${RULE_OPTION_NAMES.join(', ')})`,
        raw[key],
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const name of RULE_OPTION_NAMES) {
    const v = raw[name];
    out[name] = v === undefined ? RULE_SPECS[name].default : RULE_SPECS[name].check(`${where}${name}`, v);
  }
  const o = out as unknown as EntropyBalancedRuleOptions;
  checkRuleOptions(o, where);
  return o;
}

/** The target in force: 'auto' is the secant where the meters allow it. */
function targetOf(o: EntropyBalancedRuleOptions): BalanceTarget {
  if (o.target !== 'auto') return o.target;
  const e = (o.energyMeter as EnergyMeterConfig).kind;
  const i = (o.informationMeter as InformationMeterConfig).kind;
  return e === 'kinetic' && i === 'gradient' ? 'secant' : 'residual';
}

/** The loop's options of a rule config. */
function loopOptions(o: EntropyBalancedRuleOptions): Partial<BalanceConfig> {
  return {
    etaMin: o.etaMin,
    etaMax: o.etaMax,
    gain: o.gain,
    smoothing: o.smoothing,
    maxChange: o.maxChange,
    informationFloor: o.informationFloor,
    lambda: o.lambda,
    target: targetOf(o),
    averaging: o.averaging,
    window: o.window,
    significance: o.significance,
    guard: o.guard,
  };
}

function checkRuleOptions(o: EntropyBalancedRuleOptions, where: string): void {
  const c = balanceConfig(loopOptions(o), where);
  finiteNumber(`${where}learningRate`, o.learningRate, { min: c.etaMin, max: c.etaMax });
  const e = (o.energyMeter as EnergyMeterConfig).kind;
  const i = (o.informationMeter as InformationMeterConfig).kind;
  if (c.target === 'secant' && !(e === 'kinetic' && i === 'gradient')) {
    throw argumentError(
      `${where}target`,
      `"residual" with the ${e} and ${i} meters (the secant target needs the kinetic and gradient meters)`,
      c.target,
    );
  }
}

/** The inner optimizer of a base kind with η and options (errors named under `where`). */
export function createBase(
  base: BalanceBase,
  baseOptions: Record<string, unknown>,
  eta: number,
  where: string,
): SGD | Adam | AdamW {
  for (const key of ['learningRate', 'maximize']) {
    if (baseOptions[key] !== undefined) {
      throw argumentError(`${where}${key}`, `no ${key} (the learning-rate rule sets η and descends)`, baseOptions[key]);
    }
  }
  const groups = baseOptions.groups;
  if (Array.isArray(groups)) {
    groups.forEach((g, i) => {
      for (const key of ['learningRate', 'maximize']) {
        if (g !== null && typeof g === 'object' && (g as Record<string, unknown>)[key] !== undefined) {
          throw argumentError(`${where}groups[${i}].${key}`, `no ${key} (the learning-rate rule sets η)`, g[key]);
        }
      }
    });
  }
  const args = { ...baseOptions, learningRate: eta };
  try {
    if (base === 'sgd') return new SGD(args);
    return base === 'adam' ? new Adam(args) : new AdamW(args);
  } catch (error) {
    throw prefixError(error, where);
  }
}

/** The rule's state: the loop's, and every meter's. */
interface RuleState extends JsonObject {
  loop: BalanceState;
  meters: { energy: MeterState; information: MeterState; compute: MeterState | null };
  /**
   * The counters behind the unusable-readings warnings (watch()). Part of the state, so that
   * a rejected step (the driver commits the state only when the step succeeds) leaves them
   * as they were, and a resumed run counts on. Absent in states saved before they were.
   */
  watch?: WatchCounters;
}

/** Loss-meter readings so far, how many were negative, and the current run of idle (zero-energy) updates. */
interface WatchCounters extends JsonObject {
  lossReadings: number;
  negativeReadings: number;
  idleRun: number;
}

const NO_WATCH: Readonly<WatchCounters> = Object.freeze({ lossReadings: 0, negativeReadings: 0, idleRun: 0 });

/** Saved watch counters (absent: zeros), each an integer ≥ 0, negative readings ≤ readings. */
function watchCounters(name: string, value: unknown): WatchCounters {
  if (value === undefined) return { ...NO_WATCH };
  const w = options<WatchCounters>(name, value);
  const lossReadings = integer(`${name}.lossReadings`, w.lossReadings, { min: 0, max: Number.MAX_SAFE_INTEGER });
  return {
    lossReadings,
    negativeReadings: integer(`${name}.negativeReadings`, w.negativeReadings, { min: 0, max: lossReadings }),
    idleRun: integer(`${name}.idleRun`, w.idleRun, { min: 0, max: Number.MAX_SAFE_INTEGER }),
  };
}

/** Readings the rule could not use, each warned about once per process (a sweep builds many rules). */
type Unusable = 'no-loss' | 'negative-loss-readings' | 'idle';
const warned = new Set<Unusable>();

/** @internal Forget which warnings were given (tests). */
export function resetReadingWarnings(): void {
  warned.clear();
}

const WARNINGS: Record<Unusable, string> = {
  'no-loss':
    'cimm: EntropyBalanced got no finite observation.loss: the loss-stream calibration skips those steps ' +
    '(pass step(params, grads, { loss }) with the mini-batch loss at the current parameters)',
  'negative-loss-readings':
    "cimm: EntropyBalanced: over half of the loss meter's readings are negative: consecutive mini-batch losses " +
    'differ by their sampling noise, so the readings say little about the updates. Use the default gradient ' +
    'meter, or pass observation.previousBatchLoss',
  idle:
    "cimm: EntropyBalanced: ten updates in a row moved no parameter (η below the parameters' float32 " +
    'resolution); η grows by maxChange per step until they move',
};

/**
 * The entropy-balanced learning-rate rule: η where the energy an update spends equals η
 * times the information it gains (seed 000 §3), held there by the QPL loop.
 */
export class EntropyBalancedRule implements LearningRateRule<RuleState> {
  readonly kind = 'EntropyBalanced';
  readonly measuresUpdates: boolean;
  readonly initialEta: number;
  private readonly options: EntropyBalancedRuleOptions;
  private readonly loop: BalanceConfig;
  private readonly energy: EnergyMeter;
  private readonly information: InformationMeter;
  private readonly compute: EnergyMeter | null;

  /**
   * `args`: the rule options (meters by kind name or config). `source`: the
   * predictive-entropy meter's probabilities at the current parameters (not configuration).
   */
  constructor(
    args?: Partial<Record<keyof EntropyBalancedRuleOptions, unknown>>,
    runtime: { source?: () => Float32Array | Float64Array } = {},
    where = '',
  ) {
    const raw = { ...options<Record<string, unknown>>(where ? where.slice(0, -1) : 'options', args) };
    const given = raw.informationMeter;
    const source =
      runtime.source ??
      (given !== null && typeof given === 'object' && typeof (given as { source?: unknown }).source === 'function'
        ? (given as { source: () => Float32Array | Float64Array }).source
        : undefined);
    if (given !== undefined) raw.informationMeter = configOf(given);
    this.options = resolveRuleOptions(raw, where);
    const o = this.options;
    this.loop = balanceConfig(loopOptions(o));
    this.initialEta = o.learningRate;
    this.energy = createEnergyMeter(o.energyMeter);
    this.information = createInformationMeter(o.informationMeter, 'informationMeter', { source });
    this.compute = this.energy.unit === 'J' || o.computeMeter === null ? null : createEnergyMeter(o.computeMeter);
    this.measuresUpdates = this.energy.needsUpdate || this.information.needsUpdate;
  }

  static fromConfig(config: Partial<EntropyBalancedRuleOptions>): EntropyBalancedRule {
    return new EntropyBalancedRule(config);
  }

  getConfig(): JsonObject {
    return { ...this.options } as unknown as JsonObject;
  }

  /** Whether the information meter reads the observation's previousBatchLoss (the loss meter). */
  get readsPreviousBatchLoss(): boolean {
    return this.information.kind === 'loss';
  }

  initialState(): RuleState {
    return {
      loop: EMPTY_BALANCE as BalanceState,
      meters: {
        energy: this.energy.getState(),
        information: this.information.getState(),
        compute: this.compute ? this.compute.getState() : null,
      },
      watch: { ...NO_WATCH },
    };
  }

  checkState(name: string, value: unknown): RuleState {
    const s = options<RuleState>(name, value);
    const m = options<RuleState['meters']>(`${name}.meters`, s.meters);
    const loop = balanceState(`${name}.loop`, s.loop);
    const meters = {
      energy: options<MeterState>(`${name}.meters.energy`, m.energy) as MeterState,
      information: options<MeterState>(`${name}.meters.information`, m.information) as MeterState,
      compute:
        m.compute === null || m.compute === undefined
          ? null
          : (options<MeterState>(`${name}.meters.compute`, m.compute) as MeterState),
    };
    // the meters validate their own states (and throw naming the field)
    const saved = this.meterStates();
    try {
      this.setMeterStates(meters, name);
    } finally {
      this.setMeterStates(saved, name);
    }
    return { loop, meters, watch: watchCounters(`${name}.watch`, s.watch) };
  }

  next(state: Readonly<RuleState>, input: RuleInput): RuleTurn<RuleState> {
    this.setMeterStates(state.meters, 'state.meters');
    const r = input.readings;
    const info = informationReading(
      `${this.information.kind}.observe()`,
      this.information.observe(input.observation, r),
    );
    const energy = energyReading(`${this.energy.kind}.take()`, this.energy.take(r));
    const joules = this.energy.unit === 'J' ? energy : this.compute ? this.compute.take() : null;
    const loss = input.observation?.loss;
    const lossOk = typeof loss === 'number' && Number.isFinite(loss);
    const gradient = this.information.kind === 'gradient';
    const secant =
      r !== null && r.endDecrease !== null && this.energy.kind === 'kinetic' && gradient
        ? {
            kinetic: r.kinetic,
            predictedDecrease: r.predictedDecrease,
            endDecrease: r.endDecrease,
            bitsPerLoss: this.information.bitsPerLoss,
          }
        : null;
    const turn = balanceStep(this.loop, state.loop, {
      eta: r?.eta ?? input.eta,
      energy,
      information: info,
      etaOrder: this.energy.etaOrder,
      secant,
      loss: lossOk ? loss : null,
      predictedDecrease:
        gradient && r !== null && r.endDecrease !== null ? (r.predictedDecrease + r.endDecrease) / 2 : null,
    });
    const meters = this.meterStates();
    const watch = this.watch(gradient && !lossOk && this.loop.window > 0, info, energy, state.watch ?? NO_WATCH);
    const bits = info?.bits ?? null;
    // With no reading the loop holds η; the driver's η (a user's setter) stays in force. With
    // one, the loop's change applies to the driver's η: when a user moved η after the measured
    // update (input.eta ≠ r.eta), the loop continues from the moved value, within the bounds.
    const eta = r === null ? input.eta : input.eta === r.eta ? turn.eta : this.moved(turn, input.eta / r.eta);
    return {
      eta,
      state: { loop: turn.state, meters, watch },
      report: {
        energyRate: energy,
        informationRate: bits,
        qpl: turn.qpl,
        residual: turn.residual,
        potential: turn.state.potential,
        balancedEta: turn.balancedEta,
        calibration: turn.calibration,
        mode: turn.mode,
        joules,
        landauerEfficiency:
          joules !== null && joules > 0 && bits !== null
            ? (landauerBound(this.options.temperature) * bits) / joules
            : null,
      },
    };
  }

  /** The loop's η scaled by `ratio` (the user's move), clamped to [etaMin, min(etaMax, ceiling)]. */
  private moved(turn: { eta: number; state: BalanceState }, ratio: number): number {
    const { etaMin, etaMax } = this.loop;
    const upper = Math.min(etaMax, turn.state.ceiling ?? Number.POSITIVE_INFINITY);
    return Math.max(etaMin, Math.min(upper, turn.eta * ratio));
  }

  /** Warn once about readings the rule cannot use; returns the counters after this reading (pure in `counters`). */
  private watch(
    noLoss: boolean,
    info: { bits: number } | null,
    energy: number | null,
    counters: Readonly<WatchCounters>,
  ): WatchCounters {
    const warn = (what: Unusable) => {
      if (warned.has(what)) return;
      warned.add(what);
      process.emitWarning(WARNINGS[what], { code: 'CIMM_UNUSABLE_READINGS' });
    };
    if (noLoss) warn('no-loss');
    let { lossReadings, negativeReadings } = counters;
    if (this.information.kind === 'loss' && info !== null) {
      lossReadings++;
      if (info.bits < 0) negativeReadings++;
      if (lossReadings === 50 && negativeReadings > 25) warn('negative-loss-readings');
    }
    const idleRun = energy === 0 && this.energy.needsUpdate ? counters.idleRun + 1 : 0;
    if (idleRun >= 10) warn('idle');
    return { lossReadings, negativeReadings, idleRun };
  }

  private meterStates(): RuleState['meters'] {
    return {
      energy: this.energy.getState(),
      information: this.information.getState(),
      compute: this.compute ? this.compute.getState() : null,
    };
  }

  private setMeterStates(m: RuleState['meters'], name: string): void {
    const named = (field: string, f: () => void) => {
      try {
        f();
      } catch (error) {
        throw prefixError(error, `${name}.${field}.`);
      }
    };
    named('energy', () => this.energy.setState(m.energy));
    named('information', () => this.information.setState(m.information));
    if (this.compute && m.compute) named('compute', () => this.compute?.setState(m.compute as MeterState));
  }
}

registerRule('EntropyBalanced', EntropyBalancedRule.fromConfig as (config: never) => LearningRateRule<JsonObject>);

/**
 * An inner SGD, Adam (default) or AdamW driven by the entropy-balanced rule: the optimizer
 * the comparison calls EntropyBalanced. `new EntropyBalancedOptimizer()` needs no learning
 * rate; `step(params, grads, { loss })`.
 */
export class EntropyBalancedOptimizer extends FlatRuleOptimizer<EntropyBalancedOptions> {
  declare lastReport: BalanceReport | undefined;
  private source: (() => Float32Array | Float64Array) | undefined;

  constructor(args?: EntropyBalancedArgs) {
    const info = args?.informationMeter;
    const given = info !== null && typeof info === 'object' ? (info as { source?: unknown }).source : undefined;
    super({ ...args, informationMeter: configOf(info) } as OptimizerArgs<EntropyBalancedOptions>);
    if (typeof given === 'function') {
      this.source = given as () => Float32Array | Float64Array;
      this.rebuild();
    }
  }

  static override fromConfig(config: unknown): EntropyBalancedOptimizer {
    return new EntropyBalancedOptimizer(config as EntropyBalancedArgs);
  }

  override get kind(): string {
    return 'EntropyBalanced';
  }

  /** The loss meter reads it (with mini-batches; docs/theory.md "Measured"). */
  override get readsPreviousBatchLoss(): boolean {
    return (this.rule as unknown as EntropyBalancedRule).readsPreviousBatchLoss;
  }

  /** Set the current η (within [etaMin, etaMax]); the loop continues from it. */
  override set learningRate(value: number) {
    const { etaMin, etaMax } = super.getConfig();
    super.learningRate = finiteNumber('learningRate', value, { min: etaMin, max: etaMax });
  }

  override get learningRate(): number {
    return super.learningRate;
  }

  override step(params: RealTensorMap, grads: RealTensorMap, observation?: StepObservation): BalanceReport {
    return super.step(params, grads, observation) as BalanceReport;
  }

  protected override optionSpecs(): Record<keyof EntropyBalancedOptions, OptionSpec> {
    return SPECS;
  }

  protected override checkOptions(o: EntropyBalancedOptions, where: string): void {
    checkRuleOptions(o, where);
    createBase(o.base, o.baseOptions, o.learningRate, `${where}baseOptions.`);
  }

  protected ruleOptionNames(): readonly (keyof EntropyBalancedOptions)[] {
    return RULE_OPTION_NAMES;
  }

  protected makeParts(
    o: EntropyBalancedConfig,
    ruleOptions: Record<string, unknown>,
  ): { inner: AnyOptimizer; rule: EntropyBalancedRule } {
    return {
      inner: createBase(o.base, o.baseOptions, o.learningRate, 'baseOptions.'),
      rule: new EntropyBalancedRule(ruleOptions, { source: this.source }),
    };
  }
}

registerOptimizer('EntropyBalanced', EntropyBalancedOptimizer.fromConfig);
