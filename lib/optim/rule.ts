/**
 * The learning rate as its own piece (optax's `scale_by_schedule`, in cimm's terms): a
 * `LearningRateRule` decides η for every update, and a `RuleDrivenOptimizer` drives any
 * inner optimizer (SGD, Adam, AdamW, Prodigy, …) with it, holding the step transaction
 * once. docs/theory.md, "Learning-rate rules".
 *
 * A rule is config + state + one function: `next(state, input) → {eta, state, report}`.
 * It is pure in its state (the driver keeps the state and commits it only when the step
 * succeeds), so a rejected step changes nothing and a saved run resumes bit for bit.
 *
 * What a rule sees (`RuleInput`): the step's observation (the mini-batch loss, …), the η
 * of the last update, and — for rules that measure (`measuresUpdates`) — the readings of
 * the last update: its kinetic energy ½Δθᵀ M Δθ in the inner optimizer's own metric M
 * (`Optimizer.stepMetric`), the first-order decrease it predicted from the gradients it
 * was made from (−g·Δθ), and the slope at its end point from this step's gradients
 * (−g'·Δθ). The inner optimizer measures its update as it makes it
 * (`Optimizer.measuredStep`: SGD's and Adam's kernels in the same pass, any other optimizer
 * with the `updateEnergy` kernel after its step), and the end slope is one `updateEnergy`
 * pass; both sum in one canonical order on every backend, so the readings (and η) are
 * bit-identical everywhere, fused or not.
 */
import { kernels } from '../backend.js';
import { argumentError, CimmDivergenceError, prefixError } from '../errors.js';
import { finiteNumber, options } from '../is.js';
import type { Kernels } from '../kernels.js';
import {
  checkValues,
  dtypeOf,
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  observationOnce,
  optimizerFromConfig,
  type Real,
  type RealTensorMap,
  readOnce,
  realArray,
  registerOptimizer,
  type StepObservation,
  sameDtypeArray,
} from './optimizer.js';
import { setOwn } from './state.js';
import { type AnyOptimizer, type JsonObject, OptimizerWrapper, stepNames, withoutGroups } from './wrapper.js';

/** What the driver measured of one update (all sums over every parameter tensor, in f64). */
export interface UpdateReadings {
  /** η the update used. */
  eta: number;
  /** ½ Σ M_i Δθ_i²: the update's kinetic energy in the inner optimizer's metric. */
  kinetic: number;
  /** −Σ g_i Δθ_i with the gradients the update was made from: its first-order predicted decrease. */
  predictedDecrease: number;
  /** Σ |g_i Δθ_i|: the work of the gradient, every coordinate's counted. */
  work: number;
  /**
   * −Σ g'_i Δθ_i with the next step's gradients g' (taken at the update's end point): the
   * decrease the end point's slope predicts. Null until the next step measures it.
   */
  endDecrease: number | null;
}

/** What a rule's next() receives. */
export interface RuleInput {
  /** Steps completed so far (0 for the first). */
  iteration: number;
  /** η of the last update (η₀ before the first). */
  eta: number;
  observation: StepObservation | undefined;
  /** The last update's readings (null on the first step, and for rules that do not measure). */
  readings: UpdateReadings | null;
  /** The parameters before this step's update and their gradients (read them; never write). */
  params: Readonly<RealTensorMap>;
  grads: Readonly<RealTensorMap>;
}

/** A report: numbers, strings, null (what a training history records) or detail objects. */
export type RuleReport = Record<string, number | string | null | object>;

/** One turn of a rule: η for the coming update, the rule's next state, what it saw. */
export interface RuleTurn<S> {
  eta: number;
  state: S;
  report: RuleReport;
}

export interface LearningRateRule<S extends JsonObject = JsonObject> {
  /** The registered name ("EntropyBalanced", "CosineDecay", …). */
  readonly kind: string;
  /** Whether next() reads UpdateReadings (the driver then measures each update). */
  readonly measuresUpdates: boolean;
  /** η of the first update. */
  readonly initialEta: number;
  /** The state before the first step (JSON-safe). */
  initialState(): S;
  /** η for the coming update. Pure in `state`; may throw a CimmArgumentError naming a bad input. */
  next(state: Readonly<S>, input: RuleInput): RuleTurn<S>;
  /** The JSON configuration (ruleFromConfig(kind, config) rebuilds the rule). */
  getConfig(): JsonObject;
  /** Validate a saved state (errors name `name` and the field). */
  checkState(name: string, value: unknown): S;
}

// ---------------------------------------------------------------------------------------
// Registry: rules are rebuilt from their JSON config (a saved optimizer names its rule).

type AnyRule = LearningRateRule<JsonObject>;
const rules = new Map<string, (config: unknown) => AnyRule>();

/** Register a rule kind (the built-in ones register themselves). */
export function registerRule(kind: string, fromConfig: (config: never) => AnyRule): void {
  rules.set(kind, fromConfig as (config: unknown) => AnyRule);
}

/** The factory of a registered rule kind (an unknown kind is an error naming rule.kind). */
function ruleFactory(kind: string): (config: unknown) => AnyRule {
  const make = rules.get(kind);
  if (!make)
    throw argumentError('rule.kind', `a registered learning-rate rule (${[...rules.keys()].join(', ')})`, kind);
  return make;
}

/** A rule of a registered kind from its JSON config. */
export function ruleFromConfig(kind: string, config: unknown): AnyRule {
  return ruleFactory(kind)(config);
}

/** The rule kinds registered now. */
export function ruleKinds(): string[] {
  return [...rules.keys()];
}

// ---------------------------------------------------------------------------------------
// Measuring updates.

/**
 * The driver's measurements: the parameters before the last update (double-buffered, so a
 * rejected step leaves the committed snapshot intact), and the reductions of one update.
 */
export class UpdateProbe {
  /** θ before the last committed update, per parameter. */
  private committed = new Map<string, Real>();
  /** θ before the update in progress. */
  private pending = new Map<string, Real>();
  /** The update's sums, 3 per parameter (measuredStep's). */
  private sums = new Float64Array(0);

  /** Whether a committed snapshot exists for every name with the right length. */
  has(params: RealTensorMap, names: string[]): boolean {
    return (
      names.every((n) => {
        const c = this.committed.get(n);
        return c?.length === params[n].length && dtypeOf(c) === dtypeOf(params[n]);
      }) && names.length > 0
    );
  }

  /**
   * −Σ g·(θ − θ_before): the slope of the last update at its end point, with this step's
   * gradients (updateSlope: updateEnergy's second sum alone, the same bits).
   */
  endDecrease(k: Kernels, params: RealTensorMap, grads: RealTensorMap, names: string[]): number {
    let s = 0;
    for (const name of names) s += k.updateSlope(this.committed.get(name)!, params[name], grads[name]);
    return -s;
  }

  /**
   * The inner optimizer's step over `params` (whose keys are `names`, in order), measured as
   * it is made (Optimizer.measuredStep): θ before the update goes into the pending buffers
   * (reused), the update's sums into this probe. Errors as the inner step's: a bad argument
   * changes nothing the driver keeps; a divergence completes the update and throws.
   */
  step(
    inner: AnyOptimizer,
    params: RealTensorMap,
    grads: RealTensorMap,
    names: string[],
    observation: StepObservation | undefined,
  ): void {
    const before: RealTensorMap = {};
    for (const name of names) {
      const p = params[name];
      let s = this.pending.get(name);
      if (!s || s.length !== p.length || dtypeOf(s) !== dtypeOf(p)) {
        s = new (dtypeOf(p))(p.length); // the snapshot has the parameter's dtype
        this.pending.set(name, s);
      }
      setOwn(before, name, s);
    }
    if (this.sums.length !== 3 * names.length) this.sums = new Float64Array(3 * names.length);
    inner.measuredStep(params, grads, before, this.sums, observation);
  }

  /** The readings of the update step() made, in the inner optimizer's metric (its weight applied here). */
  readings(inner: AnyOptimizer, names: string[], eta: number): UpdateReadings {
    let kinetic = 0;
    let dot = 0;
    let work = 0;
    names.forEach((name, i) => {
      kinetic += inner.stepMetric(name).weight * this.sums[3 * i];
      dot += this.sums[3 * i + 1];
      work += this.sums[3 * i + 2];
    });
    return { eta, kinetic: kinetic / 2, predictedDecrease: -dot, work, endDecrease: null };
  }

  /** Make the pending snapshot the committed one (the step succeeded). */
  commit(names: string[]): void {
    for (const name of names) {
      const p = this.pending.get(name)!;
      const c = this.committed.get(name);
      this.committed.set(name, p);
      if (c && c.length === p.length && dtypeOf(c) === dtypeOf(p)) this.pending.set(name, c);
      else this.pending.delete(name);
    }
  }

  clear(): void {
    this.committed.clear();
    this.pending.clear();
  }

  tensors(): RealTensorMap {
    const out: RealTensorMap = {};
    for (const [name, t] of this.committed) setOwn(out, name, t);
    return out;
  }

  load(tensors: RealTensorMap): void {
    this.committed = new Map(Object.entries(tensors).map(([n, t]) => [n, t.slice()]));
    this.pending = new Map();
  }
}

/** Validate saved readings (null allowed). */
export function readingsOf(name: string, value: unknown): UpdateReadings | null {
  if (value === null || value === undefined) return null;
  const r = options<UpdateReadings>(name, value);
  return {
    eta: finiteNumber(`${name}.eta`, r.eta, { above: 0 }),
    kinetic: finiteNumber(`${name}.kinetic`, r.kinetic, { min: 0 }),
    predictedDecrease: finiteNumber(`${name}.predictedDecrease`, r.predictedDecrease),
    work: finiteNumber(`${name}.work`, r.work, { min: 0 }),
    endDecrease: r.endDecrease === null ? null : finiteNumber(`${name}.endDecrease`, r.endDecrease),
  };
}

// ---------------------------------------------------------------------------------------
// The driver.

/** An inner optimizer or rule as JSON. */
export interface KindConfig {
  kind: string;
  config: unknown;
}

export interface RuleDrivenOptions extends OptimizerOptions {
  /** η of the first update; 0 (default): the rule's own (`rule.initialEta`). */
  learningRate: number;
  /** The inner optimizer (default {kind: "Adam", config: {}}). */
  optimizer: KindConfig;
  /** The rule (default {kind: "EntropyBalanced", config: {}}). */
  rule: KindConfig;
}

export type RuleDrivenConfig = OptimizerConfig<RuleDrivenOptions>;

export type RuleDrivenArgs = Omit<OptimizerArgs<RuleDrivenOptions>, 'optimizer' | 'rule'> & {
  optimizer?: AnyOptimizer | KindConfig;
  rule?: AnyRule | LearningRateRule<never> | KindConfig;
};

const kindConfig = (name: string, v: unknown): KindConfig => {
  const o = options<KindConfig>(name, v);
  if (typeof o.kind !== 'string') throw argumentError(`${name}.kind`, 'a registered kind name', o.kind);
  return { kind: o.kind, config: o.config ?? {} };
};

const SPECS: Record<keyof RuleDrivenOptions, OptionSpec> = {
  learningRate: { default: 0, check: (name, v) => finiteNumber(name, v, { min: 0 }) },
  optimizer: { default: { kind: 'Adam', config: {} }, check: kindConfig },
  rule: { default: { kind: 'EntropyBalanced', config: {} }, check: kindConfig },
};

/** The report of a driven step: the rule's report with the iteration and η. */
export type RuleDrivenReport = RuleReport & { iteration: number; eta: number };

const isOptimizer = (v: unknown): v is AnyOptimizer => v instanceof Optimizer;
const isRule = (v: unknown): v is AnyRule =>
  v !== null && typeof v === 'object' && typeof (v as AnyRule).next === 'function';

/**
 * Drives an inner optimizer with a learning-rate rule: every step the rule sets η, the
 * inner optimizer's fused kernel makes the update, and (for rules that measure) measures it
 * in the same pass (Optimizer.measuredStep). One transaction: bad arguments or a failing rule change nothing (θ, the
 * inner state, the rule state, the snapshots); a step that made θ non-finite completes,
 * counts, and throws CimmDivergenceError.
 */
export class RuleDrivenOptimizer<O extends OptimizerOptions = RuleDrivenOptions> extends OptimizerWrapper<O> {
  /** The report of the last step (undefined before the first). */
  lastReport: RuleDrivenReport | undefined;
  protected innerOptimizer!: AnyOptimizer;
  protected rule!: AnyRule;
  private ruleState!: JsonObject;
  private eta = 0;
  private readings: UpdateReadings | null = null;
  private readonly probe = new UpdateProbe();

  constructor(args?: RuleDrivenArgs | OptimizerArgs<O>) {
    const a = (args ?? {}) as Record<string, unknown>;
    const inner = isOptimizer(a.optimizer) ? a.optimizer : undefined;
    const rule = isRule(a.rule) ? a.rule : undefined;
    const rest = {
      ...a,
      ...(inner ? { optimizer: { kind: inner.kind, config: inner.getConfig() } } : {}),
      ...(rule ? { rule: { kind: rule.kind, config: rule.getConfig() } } : {}),
    };
    super(withoutGroups(rest as OptimizerArgs<O>));
    if (inner) this.innerOptimizer = inner;
    if (rule) this.rule = rule;
    this.rebuild();
  }

  static fromConfig(config: unknown): AnyOptimizer {
    return new RuleDrivenOptimizer<RuleDrivenOptions>(config as RuleDrivenArgs);
  }

  get kind(): string {
    return 'RuleDriven';
  }

  get inner(): AnyOptimizer {
    return this.innerOptimizer;
  }

  /** The learning-rate rule. */
  get learningRateRule(): AnyRule {
    return this.rule;
  }

  /** η of the latest update (the rule's latest decision; η₀ before the first step). */
  override get learningRate(): number {
    return this.eta;
  }

  /** Move η; the rule continues from it (a schedule recomputes it at the next step). */
  override set learningRate(value: number) {
    this.eta = finiteNumber('learningRate', value, { above: 0 });
  }

  /** A driver passes the observation on; the rule reads only what the step hands it. */
  override get readsPreviousBatchLoss(): boolean {
    return false;
  }

  override getConfig(): OptimizerConfig<O> {
    return { ...super.getConfig(), ...this.configParts() };
  }

  /** The parts of the config that live in the inner optimizer and the rule. */
  protected configParts(): Partial<O> {
    return {
      optimizer: { kind: this.innerOptimizer.kind, config: this.innerOptimizer.getConfig() },
      rule: { kind: this.rule.kind, config: this.rule.getConfig() },
    } as unknown as Partial<O>;
  }

  protected optionSpecs(): Record<keyof O, OptionSpec> {
    return SPECS as Record<keyof O, OptionSpec>;
  }

  /** The inner optimizer and rule of the stored config (kept when of the same kind). */
  protected buildParts(config: OptimizerConfig<O>): { inner: AnyOptimizer; rule: AnyRule } {
    const o = config as unknown as RuleDrivenConfig;
    const current = this.innerOptimizer as AnyOptimizer | undefined;
    const given = this.rule as AnyRule | undefined;
    const named = <T>(prefix: string, build: () => T): T => {
      try {
        return build();
      } catch (error) {
        throw prefixError(error, prefix);
      }
    };
    const inner =
      current && current.kind === o.optimizer.kind
        ? current
        : named('optimizer.config.', () => optimizerFromConfig(o.optimizer.kind, o.optimizer.config));
    // A rule object given by the caller is kept while the config says the same rule (it may
    // carry what a config cannot: a predictive-entropy source, an unregistered kind).
    const same =
      given !== undefined &&
      given.kind === o.rule.kind &&
      JSON.stringify(given.getConfig()) === JSON.stringify(o.rule.config);
    const make = same ? undefined : ruleFactory(o.rule.kind);
    const rule = make ? named('rule.config.', () => make(o.rule.config)) : (given as AnyRule);
    return { inner, rule };
  }

  protected rebuild(): void {
    const o = super.getConfig();
    const { inner, rule } = this.buildParts(o);
    this.innerOptimizer = inner;
    this.rule = rule;
    this.ruleState = rule.initialState();
    this.eta = o.learningRate > 0 ? o.learningRate : rule.initialEta;
    this.readings = null;
    this.probe.clear();
  }

  /**
   * One step: measure the last update's end point, let the rule set η, update `params` in
   * place with the inner optimizer, measure the update. Returns the report.
   */
  override step(params: RealTensorMap, grads: RealTensorMap, observation?: StepObservation): RuleDrivenReport {
    // each argument read once: the rule, the checks and the inner update see the same arrays
    params = readOnce('params', params);
    grads = readOnce('grads', grads);
    observation = observationOnce(observation);
    const names = stepNames(params, grads);
    const k = kernels();
    const measures = this.rule.measuresUpdates;
    let readings = this.readings;
    if (measures && readings !== null && this.probe.has(params, names)) {
      for (const name of names) {
        const p = params[name];
        sameDtypeArray(`grads[${JSON.stringify(name)}]`, grads[name], p, `params[${JSON.stringify(name)}]`, p.length);
      }
      const end = this.probe.endDecrease(k, params, grads, names);
      readings = { ...readings, endDecrease: Number.isFinite(end) ? end : null };
    }
    const turn = this.rule.next(this.ruleState, {
      iteration: this.iterations,
      eta: this.eta,
      observation,
      readings: measures ? readings : null,
      params,
      grads,
    });
    const eta = finiteNumber(`${this.rule.kind}.next().eta`, turn.eta, { above: 0 });
    const report: RuleDrivenReport = { ...turn.report, iteration: this.iterations, eta };
    const innerEta = this.innerOptimizer.learningRate;
    this.innerOptimizer.learningRate = eta;
    try {
      if (measures) this.probe.step(this.innerOptimizer, params, grads, names, observation);
      else this.innerOptimizer.step(params, grads, observation);
    } catch (error) {
      // A completed (non-finite) update counts; anything else changed nothing (the inner η too).
      if (error instanceof CimmDivergenceError) this.commit(eta, turn.state, null, names, report);
      else this.innerOptimizer.learningRate = innerEta;
      throw error;
    }
    const measured = measures ? this.probe.readings(this.innerOptimizer, names, eta) : null;
    this.commit(eta, turn.state, measured, names, report);
    return report;
  }

  private commit(
    eta: number,
    state: JsonObject,
    readings: UpdateReadings | null,
    names: string[],
    report: RuleDrivenReport,
  ): void {
    this.eta = eta;
    this.ruleState = state;
    this.readings = readings;
    if (readings) this.probe.commit(names);
    this.lastReport = report;
    this.countStep();
  }

  protected ownState(): JsonObject {
    return { eta: this.eta, rule: this.ruleState, readings: this.readings ? { ...this.readings } : null };
  }

  protected loadOwnState(state: JsonObject): void {
    const at = 'state.scalars.wrapper';
    const eta = finiteNumber(`${at}.eta`, state.eta, { above: 0 });
    const ruleState = this.rule.checkState(`${at}.rule`, state.rule);
    const readings = readingsOf(`${at}.readings`, state.readings);
    this.eta = eta;
    this.ruleState = ruleState;
    this.readings = readings;
  }

  protected override ownTensors(): RealTensorMap {
    return this.probe.tensors();
  }

  /** The probe's snapshots: θ before the last update, finite, one per parameter the inner optimizer has state for (when it keeps any). */
  protected override loadOwnTensors(tensors: RealTensorMap): void {
    const inner = new Map<string, Real>();
    for (const [full, t] of this.innerOptimizer.stateTensors()) inner.set(full.slice(0, full.lastIndexOf('/')), t);
    for (const [name, t] of Object.entries(tensors)) {
      const at = `state.tensors["self/${name}"]`;
      const like = inner.get(name);
      if (like) sameDtypeArray(at, t, like, `the inner optimizer's state of ${JSON.stringify(name)}`, like.length);
      else realArray(at, t);
      checkValues(at, t, {});
    }
    this.probe.load(tensors);
  }
}

registerOptimizer('RuleDriven', RuleDrivenOptimizer.fromConfig);

/**
 * A driver with a flat config: the inner optimizer's base kind and options beside the
 * rule's own options (EntropyBalancedOptimizer, QDTOptimizer). The subclass names the rule's
 * options and builds the parts from the resolved config.
 */
export abstract class FlatRuleOptimizer<O extends OptimizerOptions> extends RuleDrivenOptimizer<O> {
  /** The config keys that are the rule's options. */
  protected abstract ruleOptionNames(): readonly (keyof O & string)[];

  /** The inner optimizer and the rule from the resolved config and the rule's part of it. */
  protected abstract makeParts(
    o: OptimizerConfig<O>,
    ruleOptions: Record<string, unknown>,
  ): { inner: AnyOptimizer; rule: AnyRule };

  /** The config is flat: nothing lives apart from it. */
  protected override configParts(): Partial<O> {
    return {};
  }

  protected override buildParts(o: OptimizerConfig<O>): { inner: AnyOptimizer; rule: AnyRule } {
    const ruleOptions: Record<string, unknown> = {};
    for (const name of this.ruleOptionNames()) ruleOptions[name] = o[name];
    return this.makeParts(o, ruleOptions);
  }
}

/** Drive `optimizer` with `rule` (optax's chain(optimizer, scale_by_schedule(rule))). */
export function withRule(optimizer: AnyOptimizer, rule: LearningRateRule<never> | AnyRule): RuleDrivenOptimizer {
  return new RuleDrivenOptimizer<RuleDrivenOptions>({ optimizer, rule });
}
