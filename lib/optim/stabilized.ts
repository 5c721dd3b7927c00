/**
 * StabilizedOptimizer (seed 002 §4.2 and §5.3's `_compute_stable_gradients`; design.md §2
 * eq. 11): wraps any optimizer with a StabilityController. Each step evaluates the
 * criteria on what the step knows —
 *
 *   ‖∇L‖     the norm of all the gradient tensors together,
 *   dE/dt    |L_t − L_{t−1}|, the loss change per step (the loss is the system's energy),
 *            or an energy meter's reading (option `energyRate`),
 *   ∫|E|     |L_t| against E_max (when energyMax is set),
 *
 * plus whatever the observation's `stability` context adds (an EnergyFlow's grid gives
 * the curvature criterion) — zeroes non-finite gradient entries, scales every gradient
 * tensor by the controller's factor when a criterion fails, and lets the inner optimizer
 * step. The gradients are stabilized in place. The report (returned, and `lastReport`)
 * says which criteria failed.
 */
import { kernels } from '../backend.js';
import { argumentError, CimmDivergenceError, prefixError } from '../errors.js';
import { finiteNumber, integer, options } from '../is.js';
import type { Kernels } from '../kernels.js';
import {
  type StabilityConfig,
  type StabilityContext,
  StabilityController,
  type StabilityControllerOptions,
  type StabilityCriterionName,
  type StabilityReport,
} from '../stability.js';
import { energyReading } from './balance.js';
import { createEnergyMeter, type EnergyMeter, type EnergyMeterConfig, type MeterState } from './meters.js';
import {
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  observationOnce,
  optimizerFromConfig,
  type RealTensorMap,
  readOnce,
  realArray,
  registerOptimizer,
  type StepObservation,
} from './optimizer.js';
import { readingsOf, UpdateProbe, type UpdateReadings } from './rule.js';
import { type AnyOptimizer, type JsonObject, OptimizerWrapper, stepNames, withoutGroups } from './wrapper.js';

/** The inner optimizer as JSON. */
export interface InnerOptimizerConfig {
  kind: string;
  config: unknown;
}

export interface StabilizedOptions extends OptimizerOptions {
  /** The inner optimizer's η (reads and sets it). */
  learningRate: number;
  /** The inner optimizer (default {kind: "SGD", config: {}}). */
  optimizer: InnerOptimizerConfig;
  /** The controller's Λ, α, β, E_max and margin (lib/stability.ts). */
  stability: StabilityConfig;
  /**
   * dE/dt: 'flow' (default: |L_t − L_{t−1}| / η, the loss's rate of change per unit of
   * gradient-flow time — a step of SGD with rate η advances dθ/dt = −∇L by t = η), 'loss-change'
   * (|L_t − L_{t−1}| per step), or an energy meter's config.
   */
  energyRate: 'flow' | 'loss-change' | EnergyMeterConfig;
}

export type StabilizedConfig = OptimizerConfig<StabilizedOptions>;

/** The constructor's options: the inner optimizer may be an instance. */
export type StabilizedArgs = Omit<OptimizerArgs<StabilizedOptions>, 'optimizer' | 'stability' | 'energyRate'> & {
  optimizer?: AnyOptimizer | InnerOptimizerConfig;
  stability?: StabilityControllerOptions;
  energyRate?: 'flow' | 'loss-change' | string | EnergyMeterConfig;
};

/** What the observation may add for the controller. */
export interface StabilizedObservation extends StepObservation {
  /** More of eq. 11's inputs (an EnergyFlow, an energy grid, …); they override the step's own. */
  stability?: StabilityContext;
}

export interface StabilizedReport extends StabilityReport {
  /** This step's index (0 for the first). */
  iteration: number;
}

function innerConfig(name: string, v: unknown): InnerOptimizerConfig {
  if (v instanceof Optimizer) return { kind: v.kind, config: v.getConfig() };
  const o = options<InnerOptimizerConfig>(name, v);
  if (typeof o.kind !== 'string') throw argumentError(`${name}.kind`, 'the kind of a registered optimizer', o.kind);
  try {
    optimizerFromConfig(o.kind, o.config ?? {});
  } catch (error) {
    throw prefixError(error, `${name}.`);
  }
  return { kind: o.kind, config: o.config ?? {} };
}

const SPECS: Record<keyof StabilizedOptions, OptionSpec> = {
  learningRate: {
    default: undefined,
    check: (name, v) => finiteNumber(name, v, { min: 0 }),
  },
  optimizer: { default: { kind: 'SGD', config: {} }, check: innerConfig },
  stability: {
    default: new StabilityController().getConfig(),
    check: (name, v) => {
      try {
        return new StabilityController(v as StabilityControllerOptions).getConfig();
      } catch (error) {
        throw prefixError(error, `${name}.`);
      }
    },
  },
  energyRate: {
    default: 'flow',
    check: (name, v) => (v === 'loss-change' || v === 'flow' ? v : createEnergyMeter(v as never, name).getConfig()),
  },
};

/**
 * The stability controller as a gradient transform (optax's habit): zero the non-finite
 * entries of every gradient tensor, evaluate eq. 11 on the norm of all of them together
 * and the context, and scale every tensor by the controller's factor when a criterion
 * fails. In place; returns the controller's report. Usable in any training loop before
 * `optimizer.step`; StabilizedOptimizer applies it every step.
 */
export class StabilityTransform {
  apply(controller: StabilityController, grads: RealTensorMap, context: StabilityContext, k: Kernels = kernels()) {
    let squares = 0;
    let nonFinite = 0;
    const names = Object.keys(grads);
    for (const name of names) {
      const g = realArray(`grads[${JSON.stringify(name)}]`, grads[name]);
      let norm = k.l2Norm(g);
      if (!Number.isFinite(norm)) {
        nonFinite += k.zeroNonFinite(g);
        norm = k.l2Norm(g);
      }
      squares += norm * norm;
    }
    const report = controller.evaluate(Math.sqrt(squares), context, nonFinite);
    if (report.scale < 1) for (const name of names) k.scaleInPlace(grads[name], report.scale);
    return report;
  }
}

export class StabilizedOptimizer extends OptimizerWrapper<StabilizedOptions> {
  /** The report of the last step (undefined before the first). */
  lastReport: StabilizedReport | undefined;
  /** The controller (its failure counts are part of the state). */
  controller!: StabilityController;
  private innerOptimizer!: AnyOptimizer;
  private meter!: EnergyMeter | null;
  private previousLoss: number | null = null;
  private readonly probe = new UpdateProbe();
  private readings: UpdateReadings | null = null;
  private flow = false;
  /** η of the previous step (the flow time it advanced). */
  private previousEta: number | null = null;
  private readonly transform = new StabilityTransform();

  constructor(args?: StabilizedArgs) {
    const given = args?.optimizer instanceof Optimizer ? args.optimizer : undefined;
    super(withoutGroups(args as OptimizerArgs<StabilizedOptions>));
    this.innerOptimizer = given as AnyOptimizer;
    this.rebuild();
    if (args?.learningRate !== undefined) this.innerOptimizer.learningRate = args.learningRate;
  }

  static fromConfig(config: StabilizedConfig): StabilizedOptimizer {
    return new StabilizedOptimizer(config);
  }

  get kind(): string {
    return 'Stabilized';
  }

  get inner(): AnyOptimizer {
    return this.innerOptimizer;
  }

  override get learningRate(): number {
    return this.innerOptimizer.learningRate;
  }

  override set learningRate(value: number) {
    this.innerOptimizer.learningRate = value;
  }

  override getConfig(): StabilizedConfig {
    return {
      ...super.getConfig(),
      learningRate: this.innerOptimizer.learningRate,
      optimizer: { kind: this.innerOptimizer.kind, config: this.innerOptimizer.getConfig() },
      stability: this.controller.getConfig(),
    };
  }

  protected optionSpecs(): Record<keyof StabilizedOptions, OptionSpec> {
    return SPECS;
  }

  protected rebuild(): void {
    // super.getConfig(): the stored options (this.getConfig() reads the parts built here).
    const o = super.getConfig();
    const current = this.innerOptimizer as AnyOptimizer | undefined;
    // An inner optimizer of the configured kind is kept (loadState replaces its config).
    if (current === undefined || current.kind !== o.optimizer.kind) {
      this.innerOptimizer = optimizerFromConfig(o.optimizer.kind, o.optimizer.config);
    }
    if (o.learningRate !== undefined) this.innerOptimizer.learningRate = o.learningRate;
    this.controller = new StabilityController(o.stability);
    this.meter =
      o.energyRate === 'loss-change' || o.energyRate === 'flow' ? null : createEnergyMeter(o.energyRate, 'energyRate');
    this.flow = o.energyRate === 'flow';
    this.previousEta = null;
    this.previousLoss = null;
    this.readings = null;
  }

  /**
   * Evaluate eq. 11, stabilize `grads` in place if needed, and let the inner optimizer
   * update `params`. Returns the controller's report.
   */
  override step(params: RealTensorMap, grads: RealTensorMap, observation?: StabilizedObservation): StabilizedReport {
    // each argument read once: the checks, the transform and the inner update see the same arrays
    params = readOnce('params', params);
    grads = readOnce('grads', grads);
    observation = observationOnce(observation);
    const names = stepNames(params, grads);
    // everything the inner step would refuse, refused before the transform scales the
    // gradients in place (a rejected step changes nothing, the caller's gradients included)
    this.innerOptimizer.checkStepArguments(params, grads);
    const obs = options<StabilizedObservation>('observation', observation);
    const loss = obs.loss === undefined ? undefined : finiteNumber('observation.loss', obs.loss);
    const extra = options<StabilityContext>('observation.stability', obs.stability);
    const k = kernels();
    const saved = this.ownState();
    try {
      let rate: number | undefined;
      if (this.meter) rate = energyReading(`${this.meter.kind}.take()`, this.meter.take(this.readings)) ?? undefined;
      else if (loss !== undefined && this.previousLoss !== null) {
        const change = Math.abs(loss - this.previousLoss);
        if (!this.flow) rate = change;
        else if (this.previousEta !== null && this.previousEta > 0) rate = change / this.previousEta;
      }
      const report = this.transform.apply(this.controller, grads, { energyRate: rate, energy: loss, ...extra }, k);
      const measures = this.meter?.needsUpdate === true;
      const result = { ...report, iteration: this.iterations };
      try {
        if (measures) this.probe.step(this.innerOptimizer, params, grads, names, obs);
        else this.innerOptimizer.step(params, grads, obs);
      } catch (error) {
        if (error instanceof CimmDivergenceError) this.finish(loss, result);
        throw error;
      }
      if (measures) this.readings = this.probe.readings(this.innerOptimizer, names, this.innerOptimizer.learningRate);
      this.finish(loss, result);
      return result;
    } catch (error) {
      if (!(error instanceof CimmDivergenceError)) this.loadOwnState(saved);
      throw error;
    }
  }

  private finish(loss: number | undefined, report: StabilizedReport): void {
    if (loss !== undefined) this.previousLoss = loss;
    this.previousEta = this.innerOptimizer.learningRate;
    this.lastReport = report;
    this.countStep();
  }

  protected ownState(): JsonObject {
    return {
      previousLoss: this.previousLoss,
      previousEta: this.previousEta,
      readings: this.readings ? { ...this.readings } : null,
      meter: this.meter ? this.meter.getState() : null,
      checks: this.controller.checks,
      failures: { ...this.controller.failures },
    };
  }

  protected loadOwnState(state: JsonObject): void {
    const at = 'state.scalars.wrapper';
    const previous = state.previousLoss ?? null;
    const previousLoss = previous === null ? null : finiteNumber(`${at}.previousLoss`, previous);
    const checks = integer(`${at}.checks`, state.checks, { min: 0 });
    const f = options<Record<StabilityCriterionName, number>>(`${at}.failures`, state.failures);
    const failures = {
      energyRate: integer(`${at}.failures.energyRate`, f.energyRate, { min: 0 }),
      curvature: integer(`${at}.failures.curvature`, f.curvature, { min: 0 }),
      totalEnergy: integer(`${at}.failures.totalEnergy`, f.totalEnergy, { min: 0 }),
    };
    const readings = readingsOf(`${at}.readings`, state.readings ?? null);
    if (this.meter) this.meter.setState(options<MeterState>(`${at}.meter`, state.meter) as MeterState);
    this.readings = readings;
    this.previousLoss = previousLoss;
    this.previousEta =
      state.previousEta === null || state.previousEta === undefined
        ? null
        : finiteNumber(`${at}.previousEta`, state.previousEta, { min: 0 });
    this.controller.checks = checks;
    Object.assign(this.controller.failures, failures);
  }
}

registerOptimizer('Stabilized', StabilizedOptimizer.fromConfig);
