/**
 * Prodigy: Adam with a learned step size (Mishchenko & Defazio, "Prodigy: An Expeditiously
 * Adaptive Parameter-Free Learner", 2023, Algorithm 4), implemented as the authors' PyPI
 * package prodigyopt 1.1.2 (prodigyopt/prodigy.py) does it, operation for operation.
 * docs/theory.md, "Prodigy".
 *
 * Optimizer-wide state: d (the distance estimate, d₀ at first), dMax, the numerator r and
 * k (steps taken). Per parameter: m, v (Adam's moments, scaled by d and d²), s (the
 * denominator's accumulator) and p0 (the parameter at its first step). One step, with
 * dlr = d·η·(bias correction √(1 − β₂ᵏ⁺¹)/(1 − β₁ᵏ⁺¹) if on, else 1):
 *
 *   pass 1, per tensor (prodigyAccumulate): g ← g + λp (coupled decay only);
 *     Δr += (d/d₀)·dlr·⟨g, p0 − p⟩;  m ← β₁m + d(1−β₁)g;  v ← β₂v + d²(1−β₂)g²;
 *     s ← β₃s + (d/d₀)·dlr·g  (safeguard warmup: (d/d₀)·d·g);  ‖s‖₁ summed
 *   between: r ← β₃r + Δr;  d̂ = d_coef·r / ‖s‖₁;  d ← max(d, d̂) while d = d₀;
 *     dMax ← max(dMax, d̂);  d ← min(dMax, d·growthRate)
 *   pass 2, per tensor (prodigyUpdate): p ← p − λ·dlr·p (decoupled decay);
 *     p ← p − dlr·m / (√v + d·ε)   (the new d in the denominator, the old dlr)
 *
 * As in prodigyopt, a step whose ‖s‖₁ is 0 (all gradients zero so far) updates the moments
 * but not the parameters, d, r or k. Not implemented: prodigyopt's slice_p (statistics
 * on every p-th entry; 1, exact Prodigy, here), fsdp, and groups with their own learning
 * rate (prodigyopt allows only 0 there); groups may set weightDecay and epsilon.
 */
import { argumentError } from '../errors.js';
import { finiteNumber, integer } from '../is.js';
import type { Kernels } from '../kernels.js';
import {
  checks,
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  registerOptimizer,
  type UpdateEntry,
} from './optimizer.js';

export interface ProdigyOptions extends OptimizerOptions {
  /** η, a multiplier of the learned step size (default 1; prodigyopt's lr). */
  learningRate: number;
  /** β₁ ∈ [0, 1) (default 0.9). */
  beta1: number;
  /** β₂ ∈ [0, 1) (default 0.999). */
  beta2: number;
  /** β₃ ∈ [0, 1), the decay of r and s; null (default) for √β₂. */
  beta3: number | null;
  /** ε > 0, times d in the denominator (default 1e-8). */
  epsilon: number;
  /** λ ≥ 0 (default 0). */
  weightDecay: number;
  /** Decoupled (AdamW-style) decay p ← p − λ·dlr·p (default true); false adds λp to g. */
  decouple: boolean;
  /** Adam's bias correction in dlr (default false). */
  useBiasCorrection: boolean;
  /** Leave η·bias correction out of s's increment (default false). */
  safeguardWarmup: boolean;
  /** d₀ > 0, the initial estimate (default 1e-6). */
  d0: number;
  /** The coefficient of d̂ (default 1; prodigyopt's d_coef). */
  dCoef: number;
  /** d grows at most by this factor per step (≥ 1); null (default) for unbounded (prodigyopt's inf). */
  growthRate: number | null;
}

export type ProdigyConfig = OptimizerConfig<ProdigyOptions>;

const positive = (name: string, v: unknown) => finiteNumber(name, v, { above: 0 });

const SPECS: Record<keyof ProdigyOptions, OptionSpec> = {
  learningRate: { default: 1, check: checks.learningRate },
  beta1: { default: 0.9, check: checks.beta },
  beta2: { default: 0.999, check: checks.beta },
  beta3: { default: null, check: (name, v) => (v === null ? null : checks.beta(name, v)) },
  epsilon: { default: 1e-8, check: positive },
  weightDecay: { default: 0, check: checks.nonNegative },
  decouple: { default: true, check: checks.boolean },
  useBiasCorrection: { default: false, check: checks.boolean },
  safeguardWarmup: { default: false, check: checks.boolean },
  d0: { default: 1e-6, check: positive },
  dCoef: { default: 1, check: positive },
  growthRate: {
    default: null,
    check: (name, v) => {
      if (v === null || v === Number.POSITIVE_INFINITY) return null;
      return finiteNumber(name, v, { min: 1 });
    },
  },
};

const SLOTS = ['m', 'v', 's', 'p0'] as const;
const GROUP_OPTIONS = ['weightDecay', 'epsilon'] as const;

/** Python's max(a, b) and min(a, b): a unless b compares greater (less); NaN never does. */
// biome-ignore lint/complexity/useMathMinMax: Python's NaN rule, not Math.max's
const pyMax = (a: number, b: number) => (b > a ? b : a);
// biome-ignore lint/complexity/useMathMinMax: Python's NaN rule, not Math.min's
const pyMin = (a: number, b: number) => (b < a ? b : a);

export class Prodigy extends Optimizer<ProdigyOptions> {
  /** d, the current estimate of the distance to the solution. */
  private dValue = 0;
  private dMaxValue = 0;
  private numerator = 0;
  private taken = 0;

  constructor(options?: OptimizerArgs<ProdigyOptions>) {
    super(options);
    this.reset();
  }

  static fromConfig(config: ProdigyConfig): Prodigy {
    return new Prodigy(config);
  }

  get kind(): string {
    return 'Prodigy';
  }

  /** The current d estimate (d₀ before the first step). */
  get d(): number {
    return this.dValue;
  }

  /** The largest d̂ so far (d₀ at first). */
  get dMax(): number {
    return this.dMaxValue;
  }

  protected optionSpecs(): Record<keyof ProdigyOptions, OptionSpec> {
    return SPECS;
  }

  protected override groupOptionNames(): readonly string[] {
    return GROUP_OPTIONS;
  }

  protected slotNames(): readonly string[] {
    return SLOTS;
  }

  protected knownSlots(): readonly string[] {
    return SLOTS;
  }

  protected override globalScalars(): Record<string, number> {
    return { d: this.dValue, dMax: this.dMaxValue, dNumerator: this.numerator, k: this.taken };
  }

  protected override loadGlobalScalars(saved: unknown, where: string): () => void {
    if (saved === undefined) return () => this.reset();
    if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) {
      throw argumentError(where, 'an object {d, dMax, dNumerator, k}', saved);
    }
    const g = saved as Record<string, unknown>;
    const d = positive(`${where}.d`, g.d);
    const dMax = positive(`${where}.dMax`, g.dMax);
    const dNumerator = finiteNumber(`${where}.dNumerator`, g.dNumerator);
    const k = integer(`${where}.k`, g.k, { min: 0 });
    return () => {
      this.dValue = d;
      this.dMaxValue = dMax;
      this.numerator = dNumerator;
      this.taken = k;
    };
  }

  private reset(): void {
    const { d0 } = this.getConfig();
    this.dValue = d0;
    this.dMaxValue = d0;
    this.numerator = 0;
    this.taken = 0;
  }

  protected update(): boolean {
    throw new Error('cimm: Prodigy updates all parameters together (updateAll)');
  }

  protected override updateAll(k: Kernels, entries: UpdateEntry<ProdigyOptions>[]): string | undefined {
    const o = this.getConfig();
    const { beta1, beta2, d0, learningRate: lr } = o;
    const beta3 = o.beta3 ?? Math.sqrt(beta2);
    let d = this.dValue;
    const t = this.taken + 1;
    const bias = o.useBiasCorrection ? (1 - beta2 ** t) ** 0.5 / (1 - beta1 ** t) : 1;
    const dlr = d * lr * bias;
    const numerator = this.numerator * beta3;
    const sScale = o.safeguardWarmup ? (d / d0) * d : (d / d0) * dlr;
    let delta = 0;
    let l1 = 0;
    for (const e of entries) {
      if (e.fresh) e.slots.p0.set(e.params);
      if (lr > 0) {
        const lambda = !o.decouple ? e.options.weightDecay : 0;
        const { m, v, s, p0 } = e.slots;
        const [dot, sum] = k.prodigyAccumulate(e.params, e.grads, p0, m, v, s, {
          beta1,
          beta2,
          beta3,
          momentScale: d * (1 - beta1),
          varianceScale: d * d * (1 - beta2),
          sScale,
          weightDecay: lambda,
        });
        delta += (d / d0) * dlr * dot;
        l1 += sum;
      }
    }
    // prodigyopt returns here when no gradient was seen (d, r and k unchanged).
    if (l1 === 0) return undefined;
    const r = numerator + delta;
    let dHat = d;
    if (lr > 0) {
      dHat = (o.dCoef * r) / l1;
      if (d === d0) d = pyMax(d, dHat);
      this.dMaxValue = pyMax(this.dMaxValue, dHat);
      d = pyMin(this.dMaxValue, d * (o.growthRate ?? Number.POSITIVE_INFINITY));
    }
    this.numerator = r;
    this.dValue = d;
    this.taken = t;
    let failed: string | undefined;
    for (const e of entries) {
      const { weightDecay, epsilon } = e.options;
      const decay = o.decouple && weightDecay !== 0 ? -weightDecay * dlr : 0;
      const ok = k.prodigyUpdate(e.params, e.slots.m, e.slots.v, { stepSize: dlr, epsilon: d * epsilon, decay });
      if (!ok && failed === undefined) failed = e.name;
    }
    return failed;
  }
}

registerOptimizer('Prodigy', Prodigy.fromConfig);
