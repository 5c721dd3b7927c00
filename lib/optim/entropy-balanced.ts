/**
 * EntropyBalancedOptimizer (seed 000 §3; design.md §2 eqs. 12–14; docs/theory.md,
 * "Entropy-balanced learning rate"): the learning rate of an inner SGD, Adam or AdamW is
 * set every step by the QPL loop (lib/optim/balance.ts) so that it settles where
 * η = |dE/dI|, dE the energy an iteration spent (an energy meter) and dI the information
 * it gained (an information meter, in bits). The inner optimizer's fused kernel makes the
 * update; with the kinetic and gradient-work meters the updateEnergy kernel then measures
 * what it did (one snapshot copy of the parameters before the update, one reduction
 * after).
 *
 * Each step needs the observation the information meter reads: the loss at the current
 * parameters (`step(params, grads, { loss })`) for the default loss meter. A step's
 * readings describe the previous iteration (its update and, for the compute meter, the
 * work done between the two step calls), so the first step only records them and keeps
 * the initial η.
 *
 * Reported per step (the return value, also `lastReport`): η, dE/dt, dI/dt, the QBE
 * residual QPL(t) = (η dI/dt − dE/dt)/λ (eq. 12), the loop's residual and potential, the
 * measured joules and the Landauer efficiency k_B T ln 2 · bits / joules (eq. 14).
 */
import { kernels } from '../backend.js';
import { argumentError, CimmArgumentError } from '../errors.js';
import { finiteNumber, float32Array, oneOf, options } from '../is.js';
import type { Kernels } from '../kernels.js';
import { landauerBound } from '../quantum.js';
import { Adam, type AdamOptions } from './adam.js';
import { AdamW } from './adamw.js';
import {
  BALANCE_DEFAULTS,
  type BalanceConfig,
  type BalanceMode,
  type BalanceState,
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
  NO_TENSOR,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  registerOptimizer,
  type StepObservation,
  type TensorMap,
} from './optimizer.js';
import { SGD, type SGDOptions } from './sgd.js';
import { type AnyOptimizer, type JsonObject, OptimizerWrapper, withoutGroups } from './wrapper.js';

export type BalanceBase = 'sgd' | 'adam' | 'adamw';

export interface EntropyBalancedOptions extends OptimizerOptions {
  /** η₀, the learning rate until the first balance reading (default 1e-3, in [etaMin, etaMax]). */
  learningRate: number;
  /** The inner optimizer whose η is set: 'sgd' (default), 'adam' or 'adamw'. */
  base: BalanceBase;
  /** The inner optimizer's other options (no learningRate, no maximize). */
  baseOptions: Record<string, unknown>;
  /** dE/dt: 'kinetic' (default), 'gradient-work', 'compute', or a config {kind, …}. */
  energyMeter: EnergyMeterConfig;
  /** dI/dt: 'loss' (default), 'predictive-entropy' (needs classes), or a config {kind, …}. */
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
export interface BalanceReport {
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
  /** ln(dE / (η dI)): 0 at balance (null when dI was at or below the floor). */
  residual: number | null;
  /** q, the loop's low-pass filtered correction after this turn (the QPL potential). */
  potential: number;
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

const SPECS: Record<keyof EntropyBalancedOptions, OptionSpec> = {
  learningRate: { default: 1e-3, check: checks.learningRate },
  base: { default: 'sgd', check: (name, v) => oneOf(name, v, ['sgd', 'adam', 'adamw']) },
  baseOptions: {
    default: {},
    check: (name, v) => ({ ...options<Record<string, unknown>>(name, v) }),
  },
  energyMeter: { default: { kind: 'kinetic' }, check: meterCheck(createEnergyMeter) },
  informationMeter: {
    default: { kind: 'loss', unit: 'nats', scale: 1 },
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
};

/** Rename a CimmArgumentError's parameter with a prefix ("momentum" → "baseOptions.momentum"). */
export function prefixError(error: unknown, prefix: string): unknown {
  if (!(error instanceof CimmArgumentError) || prefix === '') return error;
  const renamed = new CimmArgumentError(
    `${prefix}${error.parameter}`,
    error.expected,
    error.message.replace(` for ${error.parameter} but`, ` for ${prefix}${error.parameter} but`),
  );
  renamed.cause = error;
  return renamed;
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

/** Snapshot buffers and the displacement sums of one update (shared by the wrappers that meter work). */
export class UpdateMeter {
  private readonly snapshots = new Map<string, Float32Array>();
  private readonly sums = new Float64Array(3);

  /** Copy each parameter before the update (one buffer per name, reused). */
  snapshot(params: TensorMap, names: string[]): void {
    for (const name of names) {
      const p = params[name];
      let s = this.snapshots.get(name);
      if (!s || s.length !== p.length) {
        s = new Float32Array(p.length);
        this.snapshots.set(name, s);
      }
      s.set(p);
    }
  }

  /** The update's sums over the parameters, Adam's metric when the inner optimizer is Adam. */
  measure(
    k: Kernels,
    inner: AnyOptimizer,
    params: TensorMap,
    grads: TensorMap,
    names: string[],
  ): { kinetic: number; predictedDecrease: number; work: number } {
    let q = 0;
    let p = 0;
    let w = 0;
    for (const name of names) {
      let metric = NO_TENSOR;
      let scale = 1;
      let epsilon = 0;
      // Heavy-ball momentum μ (dampening τ) moves θ by η(1 − τ)/(1 − μ)·g in steady state:
      // the metric (1 − μ)/(1 − τ) keeps E/I in units of that effective rate.
      let weight = 1;
      if (inner instanceof SGD) {
        const o = inner.optionsFor(name) as SGDOptions;
        if (o.momentum > 0 && o.dampening < 1) weight = (1 - o.momentum) / (1 - o.dampening);
      } else if (inner instanceof Adam) {
        // Adam's step divides by √v̂ + ε = √v / √(1 − β₂ᵗ) + ε: that diagonal is its metric.
        const view = inner.slotView(name);
        const o = inner.optionsFor(name) as AdamOptions;
        if (view) {
          metric = o.amsgrad ? view.slots.vMax : view.slots.v;
          scale = 1 / Math.sqrt(1 - o.beta2 ** view.step);
          epsilon = o.epsilon;
        }
      }
      k.updateEnergy(this.snapshots.get(name)!, params[name], grads[name], metric, scale, epsilon, this.sums);
      q += weight * this.sums[0];
      p += this.sums[1];
      w += this.sums[2];
    }
    return { kinetic: q / 2, predictedDecrease: -p, work: w };
  }
}

/** The parameter names of a step, each checked to be a Float32Array (the inner step checks the rest). */
export function stepNames(params: TensorMap, grads: TensorMap): string[] {
  options('params', params);
  options('grads', grads);
  const names = Object.keys(params);
  for (const name of names) float32Array(`params[${JSON.stringify(name)}]`, params[name]);
  return names;
}

export class EntropyBalancedOptimizer extends OptimizerWrapper<EntropyBalancedOptions> {
  /** The report of the last step (undefined before the first). */
  lastReport: BalanceReport | undefined;
  private innerOptimizer!: SGD | Adam | AdamW;
  private energy!: EnergyMeter;
  private information!: InformationMeter;
  private compute!: EnergyMeter | null;
  private balance!: BalanceConfig;
  private temperature = 300;
  private eta = 0;
  private loop: BalanceState = EMPTY_BALANCE;
  private readonly source: (() => Float32Array | Float64Array) | undefined;
  private readonly meter = new UpdateMeter();

  constructor(args?: EntropyBalancedArgs) {
    const info = args?.informationMeter;
    const given = info !== null && typeof info === 'object' ? (info as { source?: unknown }).source : undefined;
    const source = typeof given === 'function' ? (given as () => Float32Array | Float64Array) : undefined;
    super(withoutGroups({ ...args, informationMeter: configOf(info) } as OptimizerArgs<EntropyBalancedOptions>));
    this.source = source;
    this.rebuild();
  }

  static fromConfig(config: EntropyBalancedConfig): EntropyBalancedOptimizer {
    return new EntropyBalancedOptimizer(config);
  }

  get kind(): string {
    return 'EntropyBalanced';
  }

  /** The loss meter reads it (with mini-batches; docs/theory.md "Measured"). */
  override get readsPreviousBatchLoss(): boolean {
    return this.information.kind === 'loss';
  }

  get inner(): AnyOptimizer {
    return this.innerOptimizer;
  }

  /** The current η (the rate the next update uses). */
  override get learningRate(): number {
    return this.eta;
  }

  /** Set the current η (within [etaMin, etaMax]); the loop continues from it. */
  override set learningRate(value: number) {
    const { etaMin, etaMax } = this.balance;
    this.eta = finiteNumber('learningRate', value, { min: etaMin, max: etaMax });
  }

  protected optionSpecs(): Record<keyof EntropyBalancedOptions, OptionSpec> {
    return SPECS;
  }

  protected override checkOptions(o: EntropyBalancedOptions, where: string): void {
    const c = balanceConfig(
      {
        etaMin: o.etaMin,
        etaMax: o.etaMax,
        gain: o.gain,
        smoothing: o.smoothing,
        maxChange: o.maxChange,
        informationFloor: o.informationFloor,
        lambda: o.lambda,
      },
      where,
    );
    finiteNumber(`${where}learningRate`, o.learningRate, { min: c.etaMin, max: c.etaMax });
    createBase(o.base, o.baseOptions, o.learningRate, `${where}baseOptions.`);
  }

  protected rebuild(): void {
    const o = this.getConfig();
    this.innerOptimizer = createBase(o.base, o.baseOptions, o.learningRate, 'baseOptions.');
    this.energy = createEnergyMeter(o.energyMeter);
    this.information = createInformationMeter(o.informationMeter, 'informationMeter', { source: this.source });
    this.compute = this.energy.unit === 'J' || o.computeMeter === null ? null : createEnergyMeter(o.computeMeter);
    this.balance = balanceConfig(o);
    this.temperature = o.temperature;
    this.eta = o.learningRate;
    this.loop = EMPTY_BALANCE;
  }

  /**
   * One step: read the meters (the previous iteration), turn the QPL loop, set the inner
   * optimizer's η, update `params` in place, and measure the update. Returns the report.
   * Bad arguments (including a missing observation) change nothing.
   */
  override step(params: TensorMap, grads: TensorMap, observation?: StepObservation): BalanceReport {
    const names = stepNames(params, grads);
    const saved = this.meterStates();
    const k = kernels();
    try {
      const info = informationReading(`${this.information.kind}.observe()`, this.information.observe(observation));
      const energy = energyReading(`${this.energy.kind}.take()`, this.energy.take());
      const joules = this.energy.unit === 'J' ? energy : this.compute ? this.compute.take() : null;
      const turn = balanceStep(this.balance, this.loop, this.eta, energy, info, this.energy.etaOrder);
      const bits = info?.bits ?? null;
      const report: BalanceReport = {
        iteration: this.iterations,
        eta: turn.eta,
        energyRate: energy,
        informationRate: bits,
        qpl: turn.qpl,
        residual: turn.residual,
        potential: turn.state.potential,
        mode: turn.mode,
        joules,
        landauerEfficiency:
          joules !== null && joules > 0 && bits !== null ? (landauerBound(this.temperature) * bits) / joules : null,
      };
      if (this.energy.needsUpdate) this.meter.snapshot(params, names);
      this.innerOptimizer.learningRate = turn.eta;
      try {
        this.innerOptimizer.step(params, grads);
      } catch (error) {
        // A RangeError comes after a completed (non-finite) update: the step counts.
        if (error instanceof RangeError) this.commit(turn.eta, turn.state, report);
        throw error;
      }
      if (this.energy.needsUpdate)
        this.energy.recordUpdate(this.meter.measure(k, this.innerOptimizer, params, grads, names));
      this.commit(turn.eta, turn.state, report);
      return report;
    } catch (error) {
      if (!(error instanceof RangeError)) this.restoreMeters(saved);
      throw error;
    }
  }

  private commit(eta: number, loop: BalanceState, report: BalanceReport): void {
    this.eta = eta;
    this.loop = loop;
    this.lastReport = report;
    this.countStep();
  }

  private meterStates(): { energy: MeterState; information: MeterState; compute: MeterState | null } {
    return {
      energy: this.energy.getState(),
      information: this.information.getState(),
      compute: this.compute ? this.compute.getState() : null,
    };
  }

  private restoreMeters(s: { energy: MeterState; information: MeterState; compute: MeterState | null }): void {
    this.energy.setState(s.energy);
    this.information.setState(s.information);
    if (this.compute && s.compute) this.compute.setState(s.compute);
  }

  protected ownState(): JsonObject {
    return { eta: this.eta, loop: { ...this.loop }, meters: this.meterStates() };
  }

  protected loadOwnState(state: JsonObject): void {
    const { etaMin, etaMax } = this.balance;
    const eta = finiteNumber('state.scalars.wrapper.eta', state.eta, { min: etaMin, max: etaMax });
    const loop = balanceState('state.scalars.wrapper.loop', state.loop);
    const meters = options<Record<string, MeterState | null>>('state.scalars.wrapper.meters', state.meters);
    this.energy.setState(options<MeterState>('state.scalars.wrapper.meters.energy', meters.energy) as MeterState);
    this.information.setState(
      options<MeterState>('state.scalars.wrapper.meters.information', meters.information) as MeterState,
    );
    if (this.compute && meters.compute) this.compute.setState(meters.compute);
    this.eta = eta;
    this.loop = loop;
  }
}

registerOptimizer('EntropyBalanced', EntropyBalancedOptimizer.fromConfig);
