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
 */
import { kernels } from '../backend.js';
import { EnergySystem, type EnergySystemConfig, type EnergySystemOptions } from '../energy.js';
import { EntropyTracker } from '../entropy.js';
import { argumentError, CimmArgumentError, CimmDivergenceError, describeValue, typeOf } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import {
  AdaptiveLearningRate,
  type AdaptiveLearningRateState,
  LEARNING_RATE_DEFAULTS,
  type LearningRateComponents,
} from '../learning-rate.js';
import { Random } from '../random.js';
import { type BalanceBase, createBase, prefixError, stepNames } from './entropy-balanced.js';
import {
  checks,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  registerOptimizer,
  type StepObservation,
  type TensorMap,
} from './optimizer.js';
import { type AnyOptimizer, type JsonObject, OptimizerWrapper, withoutGroups } from './wrapper.js';

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

export interface QDTReport {
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

/** Where each probe coordinate lives: tensor name and offset. */
interface Probe {
  layout: [string, number][];
  tensor: string[];
  offset: Uint32Array;
  x: Float32Array;
  y: Float32Array;
  masses: Float64Array;
}

export class QDTOptimizer extends OptimizerWrapper<QDTOptions> {
  /** The report of the last step (undefined before the first). */
  lastReport: QDTReport | undefined;
  /** The η rule (eq. 7); its tracker's state is part of the optimizer's. */
  rate!: AdaptiveLearningRate;
  private innerOptimizer!: AnyOptimizer;
  private probe: Probe | null = null;

  constructor(args?: QDTArgs) {
    super(withoutGroups(args as OptimizerArgs<QDTOptions>));
    this.rebuild();
  }

  static fromConfig(config: QDTConfig): QDTOptimizer {
    return new QDTOptimizer(config);
  }

  get kind(): string {
    return 'QDT';
  }

  get inner(): AnyOptimizer {
    return this.innerOptimizer;
  }

  protected optionSpecs(): Record<keyof QDTOptions, OptionSpec> {
    return SPECS;
  }

  protected override checkOptions(o: QDTOptions, where: string): void {
    if (o.etaMax < o.etaMin) throw argumentError(`${where}etaMax`, `a number >= etaMin (${o.etaMin})`, o.etaMax);
    createBase(o.base, o.baseOptions, o.learningRate * o.etaMax, `${where}baseOptions.`);
  }

  protected rebuild(): void {
    const o = super.getConfig();
    this.innerOptimizer = createBase(o.base, o.baseOptions, o.learningRate * o.etaMax, 'baseOptions.');
    this.rate = new AdaptiveLearningRate({
      alpha: o.alpha,
      beta: o.beta,
      scaleCoupling: o.scaleCoupling,
      criticalTime: o.criticalTime,
      etaMin: o.etaMin,
      etaMax: o.etaMax,
      energy: new EnergySystem(o.energy),
      entropy: new EntropyTracker({ gamma: o.gamma }),
    });
    this.probe = null;
  }

  /** The probe for this parameter layout (built on the first step; later steps must match it). */
  private probeFor(params: TensorMap, names: string[]): Probe {
    const layout = names.map((n) => [n, params[n].length] as [string, number]);
    if (this.probe) {
      const same =
        this.probe.layout.length === layout.length &&
        this.probe.layout.every(([n, len], i) => n === layout[i][0] && len === layout[i][1]);
      if (!same) {
        const want = this.probe.layout.map(([n, len]) => `${JSON.stringify(n)}: ${len}`).join(', ');
        throw argumentError('params', `the parameters the QDT probe was built for ({${want}})`, params);
      }
      return this.probe;
    }
    return this.buildProbe(layout);
  }

  private buildProbe(layout: [string, number][]): Probe {
    const o = super.getConfig();
    const total = layout.reduce((s, [, n]) => s + n, 0);
    if (total === 0) throw argumentError('params', 'at least one parameter value', total);
    const global = probeIndices(total, o.probeDimension, o.probeSeed);
    const tensor: string[] = [];
    const offset = new Uint32Array(global.length);
    let t = 0;
    let start = 0;
    for (let i = 0; i < global.length; i++) {
      while (global[i] >= start + layout[t][1]) start += layout[t++][1];
      tensor.push(layout[t][0]);
      offset[i] = global[i] - start;
    }
    const d = global.length;
    this.probe = {
      layout,
      tensor,
      offset,
      x: new Float32Array(d),
      y: new Float32Array(d),
      masses: new Float64Array(d),
    };
    return this.probe;
  }

  /**
   * One step: gather the probe, compute η(t) from E(x, y), S(t) and 𝒮(t), set the inner
   * optimizer's η, update `params`, then move the Polyak average. Returns the report.
   */
  override step(params: TensorMap, grads: TensorMap, observation?: StepObservation): QDTReport {
    const names = stepNames(params, grads);
    const first = this.probe === null;
    const probe = this.probeFor(params, names);
    const { x, y, masses, tensor, offset } = probe;
    const saved = this.rate.state();
    try {
      let mass = 0;
      for (let i = 0; i < x.length; i++) {
        x[i] = params[tensor[i]][offset[i]];
        const g = grads[tensor[i]]?.[offset[i]];
        if (!(g !== undefined && g - g === 0)) this.badGradient(params, grads, tensor[i]);
        masses[i] = g * g;
        mass += masses[i];
      }
      if (this.iterations === 0) y.set(x);
      const rate = this.rate.update(x, y, mass > 0 ? { distribution: masses } : {});
      const eta = super.getConfig().learningRate * rate;
      const components = this.rate.components()!;
      const report: QDTReport = {
        iteration: this.iterations,
        eta,
        energy: components.energy.total,
        distance: components.energy.distance,
        entropy: components.entropy.entropy,
        scale: components.scale,
        components,
      };
      this.innerOptimizer.learningRate = eta;
      try {
        this.innerOptimizer.step(params, grads, observation);
      } catch (error) {
        if (error instanceof CimmDivergenceError) this.finish(report);
        throw error;
      }
      this.finish(report);
      return report;
    } catch (error) {
      if (!(error instanceof CimmDivergenceError)) {
        this.rate.loadState(saved);
        if (first) this.probe = null;
      }
      throw error;
    }
  }

  /** The Polyak average takes the iterate the step started from; the step counts. */
  private finish(report: QDTReport): void {
    const { x, y } = this.probe!;
    const rho = super.getConfig().averaging;
    for (let i = 0; i < y.length; i++) y[i] = rho * y[i] + (1 - rho) * x[i];
    this.lastReport = report;
    this.countStep();
  }

  /** A gradient the probe reads is missing or not finite: the inner step's own checks say which. */
  private badGradient(params: TensorMap, grads: TensorMap, name: string): never {
    const g = Object.hasOwn(grads, name) ? grads[name] : undefined;
    const at = `grads[${JSON.stringify(name)}]`;
    const length = params[name].length;
    if (!(g instanceof Float32Array) || g.length !== length) {
      throw argumentError(at, `a Float32Array of length ${length}`, g);
    }
    const i = kernels().firstNonFinite(g);
    throw new CimmArgumentError(
      at,
      'finite values',
      `Expected finite values for ${at} but received ${g[i]} at index ${i} of ${describeValue(g)} of type ${typeOf(g)}`,
    );
  }

  protected ownState(): JsonObject {
    return { rate: this.rate.state() as unknown as JsonObject, layout: this.probe ? this.probe.layout : null };
  }

  protected loadOwnState(state: JsonObject): void {
    const at = 'state.scalars.wrapper';
    const layout = state.layout ?? null;
    if (layout !== null) {
      if (
        !Array.isArray(layout) ||
        !layout.every((e) => Array.isArray(e) && typeof e[0] === 'string' && Number.isSafeInteger(e[1]) && e[1] >= 0)
      ) {
        throw argumentError(`${at}.layout`, 'null or an array of [parameter name, length]', layout);
      }
      this.buildProbe(layout as [string, number][]);
    }
    this.rate.loadState(options<AdaptiveLearningRateState>(`${at}.rate`, state.rate) as AdaptiveLearningRateState);
  }

  protected override ownTensors(): TensorMap {
    return this.probe ? { average: this.probe.y } : {};
  }

  protected override loadOwnTensors(tensors: TensorMap): void {
    const { average, ...rest } = tensors;
    super.loadOwnTensors(rest);
    if (!this.probe) {
      if (average !== undefined)
        throw argumentError('state.tensors["self/average"]', 'no tensor (no probe yet)', average);
      return;
    }
    if (!(average instanceof Float32Array) || average.length !== this.probe.y.length) {
      throw argumentError('state.tensors["self/average"]', `a Float32Array of length ${this.probe.y.length}`, average);
    }
    this.probe.y.set(average);
  }
}

registerOptimizer('QDT', QDTOptimizer.fromConfig);
