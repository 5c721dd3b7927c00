/**
 * The stability criteria of seed 002 §4.2 (design.md §2 eq. 11) and their controller:
 *
 *   |dE/dt| ≤ Λ‖∇L‖            ("energyRate")
 *   ‖∇²E‖   ≤ (α/β)‖∇L‖        ("curvature")
 *   ∫_Ω |E| dΩ ≤ E_max          ("totalEnergy")
 *
 * ‖∇L‖ is the Euclidean norm of the loss gradient (a flat Float32Array). E and dE/dt are
 * either scalars (the energy of a training step and its change per step) or nx × ny grids
 * (an EnergyFlow's E and its rate); a grid's norm is the discrete L2(Ω) norm
 * (h² Σ v²)^½ and its integral h² Σ. A criterion whose inputs are not given is not
 * evaluated. When one fails, stabilizeGradients scales the gradient (the update the
 * optimizer will take) by margin / ratio, the ratio being the largest value/bound among
 * the failed criteria, after zeroing non-finite entries; docs/theory.md gives the reasons.
 */
import { kernels } from './backend.js';
import { QDT } from './constants.js';
import { argumentError } from './errors.js';
import { EnergyFlow, FLOW_BOUNDARIES, FLOW_DEFAULTS, type FlowGridOptions } from './flow.js';
import { allFinite, finiteNumber, float32Array, float64Array, integer, oneOf, readOptions } from './is.js';
import type { Kernels } from './kernels.js';

export type StabilityCriterionName = 'energyRate' | 'curvature' | 'totalEnergy';

export const STABILITY_DEFAULTS = Object.freeze({
  /** E_max: null leaves ∫|E| unbounded (the seed gives no value). */
  energyMax: null as number | null,
  /** A failed criterion is brought to `margin` × its bound (to first order). */
  margin: 0.9,
});

export interface StabilityControllerOptions {
  /** Λ of |dE/dt| ≤ Λ‖∇L‖ (default 1.2). */
  lambdaCosmo?: number;
  /** α of ‖∇²E‖ ≤ (α/β)‖∇L‖ (default 0.45). */
  alpha?: number;
  /** β of ‖∇²E‖ ≤ (α/β)‖∇L‖, > 0 (default 0.25). */
  beta?: number;
  /** E_max of ∫|E| dΩ ≤ E_max, > 0, or null for no bound (default null). */
  energyMax?: number | null;
  /** Target ratio after stabilization, in (0, 1] (default 0.9). */
  margin?: number;
}

export interface StabilityConfig {
  lambdaCosmo: number;
  alpha: number;
  beta: number;
  energyMax: number | null;
  margin: number;
}

/** What the criteria are evaluated on (besides the gradient). */
export interface StabilityContext extends Partial<FlowGridOptions> {
  /** dE/dt: a scalar, or a grid of nx × ny rates (its L2(Ω) norm is used). */
  energyRate?: number | Float64Array;
  /** E: a scalar (∫|E| is then |E|; no curvature), or an nx × ny grid. */
  energy?: number | Float64Array;
  /** An EnergyFlow: its E, its last sub-step's rate and its geometry, unless given above. */
  flow?: EnergyFlow;
}

/** One criterion: value ≤ bound holds; ratio = value / bound (0 when value is 0). */
export interface CriterionResult {
  value: number;
  bound: number;
  ratio: number;
  holds: boolean;
}

export interface StabilityReport {
  /** Every evaluated criterion holds and the gradient was finite. */
  stable: boolean;
  /** The criteria that failed, in the order energyRate, curvature, totalEnergy. */
  failed: StabilityCriterionName[];
  /** ‖∇L‖ of the finite entries of the gradient (before any scaling). */
  gradientNorm: number;
  energyRate?: CriterionResult;
  curvature?: CriterionResult;
  totalEnergy?: CriterionResult;
  /** Non-finite gradient entries found (zeroed by stabilizeGradients). */
  nonFinite: number;
  /** The factor the gradient was (stabilizeGradients) or would be (check) multiplied by. */
  scale: number;
}

function criterion(value: number, bound: number): CriterionResult {
  const ratio = value === 0 ? 0 : bound === 0 ? Number.POSITIVE_INFINITY : value / bound;
  return { value, bound, ratio, holds: ratio <= 1 };
}

/** Norm and count of a gradient holding non-finite values, without changing it (rare path). */
function finitePart(g: Float32Array): { norm: number; count: number } {
  let s = 0;
  let count = 0;
  for (let i = 0; i < g.length; i++) {
    const v = g[i];
    if (v - v !== 0) count++;
    else s += v * v;
  }
  return { norm: Math.sqrt(s), count };
}

/**
 * Seed 002 §4.2's stability controller: evaluates eq. 11 each step (check) and stabilizes
 * the gradient when a criterion fails (stabilizeGradients, the seed's stabilize_gradients).
 */
export class StabilityController {
  readonly config: Readonly<StabilityConfig>;
  /** Evaluations so far. */
  checks = 0;
  /** How often each criterion failed. */
  readonly failures: Record<StabilityCriterionName, number> = { energyRate: 0, curvature: 0, totalEnergy: 0 };
  /** The last report. */
  lastReport: StabilityReport | undefined;
  private readonly sums = new Float64Array(3);
  private rateScratch = new Float64Array(0);
  private laplacianScratch = new Float64Array(0);

  constructor(opts?: StabilityControllerOptions) {
    const o = readOptions<StabilityControllerOptions>('options', opts, [
      'lambdaCosmo',
      'alpha',
      'beta',
      'energyMax',
      'margin',
    ]);
    const energyMax = o.energyMax === undefined ? STABILITY_DEFAULTS.energyMax : o.energyMax;
    this.config = Object.freeze({
      lambdaCosmo: finiteNumber('lambdaCosmo', o.lambdaCosmo ?? QDT.lambdaCosmo, { min: 0 }),
      alpha: finiteNumber('alpha', o.alpha ?? QDT.alpha, { min: 0 }),
      beta: finiteNumber('beta', o.beta ?? QDT.beta, { above: 0 }),
      energyMax: energyMax === null ? null : finiteNumber('energyMax', energyMax, { above: 0 }),
      margin: finiteNumber('margin', o.margin ?? STABILITY_DEFAULTS.margin, { above: 0, max: 1 }),
    });
  }

  static fromConfig(config: StabilityConfig): StabilityController {
    return new StabilityController(config);
  }

  getConfig(): StabilityConfig {
    return { ...this.config };
  }

  /** Evaluate eq. 11 without changing the gradient. */
  check(gradient: Float32Array, context?: StabilityContext): StabilityReport {
    return this.passWith(kernels(), gradient, context, false);
  }

  /**
   * Evaluate eq. 11 and stabilize `gradient` in place: non-finite entries become 0, and if
   * a criterion fails the gradient is multiplied by margin / (largest failed ratio).
   */
  stabilizeGradients(gradient: Float32Array, context?: StabilityContext): StabilityReport {
    return this.passWith(kernels(), gradient, context, true);
  }

  /** @internal One evaluation on the given kernels (the benchmark times it per backend). */
  passWith(
    k: Kernels,
    gradient: Float32Array,
    context: StabilityContext | undefined,
    mutate: boolean,
  ): StabilityReport {
    // The context is read once, first: a getter on it runs before the gradient is checked.
    const ctx = readOptions<StabilityContext>('context', context, [
      'energyRate',
      'energy',
      'flow',
      'nx',
      'ny',
      'h',
      'boundary',
    ]);
    float32Array('gradient', gradient);

    let nonFinite = 0;
    let gradientNorm: number;
    if (mutate) {
      gradientNorm = k.l2Norm(gradient);
      if (!Number.isFinite(gradientNorm)) {
        nonFinite = k.zeroNonFinite(gradient);
        gradientNorm = k.l2Norm(gradient);
      }
    } else {
      gradientNorm = k.l2Norm(gradient);
      if (!Number.isFinite(gradientNorm)) ({ norm: gradientNorm, count: nonFinite } = finitePart(gradient));
    }

    const report = this.judge(k, gradientNorm, nonFinite, ctx);
    if (mutate && report.scale < 1) k.scaleInPlace(gradient, report.scale);
    return report;
  }

  /**
   * Evaluate eq. 11 for a gradient whose norm ‖∇L‖ the caller has computed (a gradient
   * split over several tensors: the norm of all of them). Returns the report, whose
   * `scale` the caller applies to every tensor; `nonFinite` is how many non-finite entries
   * the caller zeroed.
   */
  evaluate(gradientNorm: number, context?: StabilityContext, nonFinite = 0): StabilityReport {
    const ctx = readOptions<StabilityContext>('context', context, [
      'energyRate',
      'energy',
      'flow',
      'nx',
      'ny',
      'h',
      'boundary',
    ]);
    finiteNumber('gradientNorm', gradientNorm, { min: 0 });
    integer('nonFinite', nonFinite, { min: 0 });
    return this.judge(kernels(), gradientNorm, nonFinite, ctx);
  }

  /** The criteria for a gradient norm and context; counts the evaluation and its failures. */
  private judge(k: Kernels, gradientNorm: number, nonFinite: number, ctx: Partial<StabilityContext>): StabilityReport {
    const { lambdaCosmo, alpha, beta, energyMax, margin } = this.config;
    const report: StabilityReport = { stable: true, failed: [], gradientNorm, nonFinite, scale: 1 };
    const inputs = this.inputs(k, ctx);
    if (inputs.rate !== undefined) report.energyRate = criterion(inputs.rate, lambdaCosmo * gradientNorm);
    if (inputs.curvature !== undefined) report.curvature = criterion(inputs.curvature, (alpha / beta) * gradientNorm);
    if (inputs.total !== undefined) {
      report.totalEnergy = criterion(inputs.total, energyMax ?? Number.POSITIVE_INFINITY);
    }

    let worst = 0;
    for (const name of ['energyRate', 'curvature', 'totalEnergy'] as const) {
      const c = report[name];
      if (c && !c.holds) {
        report.failed.push(name);
        this.failures[name]++;
        worst = Math.max(worst, c.ratio);
      }
    }
    if (report.failed.length > 0) report.scale = Math.min(1, margin / worst);
    report.stable = report.failed.length === 0 && nonFinite === 0;
    this.checks++;
    this.lastReport = report;
    return report;
  }

  /** The criteria's left-hand sides from the context (undefined: not evaluated). */
  private inputs(k: Kernels, ctx: Partial<StabilityContext>): { rate?: number; curvature?: number; total?: number } {
    let flow: EnergyFlow | undefined;
    if (ctx.flow !== undefined) {
      if (!(ctx.flow instanceof EnergyFlow)) throw argumentError('flow', 'an EnergyFlow', ctx.flow);
      flow = ctx.flow;
    }
    const energy = scalarOrGrid('energy', ctx.energy) ?? flow?.energy;
    let rate = scalarOrGrid('energyRate', ctx.energyRate);
    if (rate === undefined && flow) {
      const cells = flow.energy.length;
      if (this.rateScratch.length !== cells) this.rateScratch = new Float64Array(cells);
      rate = flow.rate(this.rateScratch);
    }
    const out: { rate?: number; curvature?: number; total?: number } = {};
    if (typeof rate === 'number') out.rate = Math.abs(rate);
    if (typeof energy === 'number') out.total = Math.abs(energy);
    if (!(rate instanceof Float64Array) && !(energy instanceof Float64Array)) return out;

    const g = this.geometry(ctx, flow);
    if (rate instanceof Float64Array) {
      float64Array('energyRate', rate, { length: g.nx * g.ny });
      out.rate = Math.sqrt(this.gridSums(k, 'energyRate', rate)[2]) * g.h;
    }
    if (energy instanceof Float64Array) {
      float64Array('energy', energy, { length: g.nx * g.ny });
      out.total = this.gridSums(k, 'energy', energy)[1] * g.h * g.h;
      if (this.laplacianScratch.length !== energy.length) this.laplacianScratch = new Float64Array(energy.length);
      k.laplacian(energy, g.nx, g.ny, { h: g.h, boundary: g.boundary }, this.laplacianScratch);
      k.gridSums(this.laplacianScratch, this.sums);
      out.curvature = Math.sqrt(this.sums[2]) * g.h;
    }
    return out;
  }

  /** Σ v, Σ |v|, Σ v² of a grid; a non-finite result is traced to its first bad cell. */
  private gridSums(k: Kernels, name: string, values: Float64Array): Float64Array {
    k.gridSums(values, this.sums);
    if (!(Number.isFinite(this.sums[0]) && Number.isFinite(this.sums[2]))) allFinite(name, values);
    return this.sums;
  }

  /** The grid geometry: the context's, else the flow's (h and boundary have defaults). */
  private geometry(ctx: Partial<StabilityContext>, flow: EnergyFlow | undefined): Required<FlowGridOptions> {
    const base = flow?.geometry;
    return {
      nx: integer('nx', ctx.nx ?? base?.nx, { min: 1 }),
      ny: integer('ny', ctx.ny ?? base?.ny, { min: 1 }),
      h: finiteNumber('h', ctx.h ?? base?.h ?? FLOW_DEFAULTS.h, { above: 0 }),
      boundary: oneOf('boundary', ctx.boundary ?? base?.boundary ?? FLOW_DEFAULTS.boundary, FLOW_BOUNDARIES),
    };
  }
}

/** A finite number or a Float64Array (checked later against the grid), or undefined. */
function scalarOrGrid(name: string, v: unknown): number | Float64Array | undefined {
  if (v === undefined || v instanceof Float64Array) return v;
  if (typeof v === 'number') return finiteNumber(name, v);
  throw argumentError(name, 'a finite number or a Float64Array', v);
}
