/**
 * Adam with optional AMSGrad and L2 weight decay: torch.optim.Adam's definition
 * (docs/theory.md, "Optimizers"), one fused kernel call per parameter tensor. With t a
 * parameter's step number:
 *
 *   d = ∓g;  d ← d + λp  (λ ≠ 0: L2 decay added to the gradient)
 *   m ← β₁m + (1 − β₁)d;   v ← β₂v + (1 − β₂)d²
 *   AMSGrad: v̂ ← max(v̂, v), used in place of v
 *   p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 */
import type { AdamStepMeasuredOptions, AdamStepOptions, Kernels, Real } from '../kernels.js';
import {
  checks,
  IDENTITY_METRIC,
  NO_TENSOR,
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptionSpec,
  type RealTensorMap,
  registerOptimizer,
  type StepMetric,
} from './optimizer.js';

export interface AdamOptions extends OptimizerOptions {
  /** η (default 1e-3). */
  learningRate: number;
  /** β₁ ∈ [0, 1), the first moment's decay (default 0.9). */
  beta1: number;
  /** β₂ ∈ [0, 1), the second moment's decay (default 0.999). */
  beta2: number;
  /** ε ≥ 0, added to the denominator (default 1e-8). */
  epsilon: number;
  /** λ ≥ 0: Adam adds λp to the gradient (default 0); AdamW decays p by ηλ (default 1e-2). */
  weightDecay: number;
  /** Normalize by the running maximum of v (AMSGrad). */
  amsgrad: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

export type AdamConfig = OptimizerConfig<AdamOptions>;

export const ADAM_SPECS: Record<keyof AdamOptions, OptionSpec> = {
  learningRate: { default: 1e-3, check: checks.learningRate },
  beta1: { default: 0.9, check: checks.beta },
  beta2: { default: 0.999, check: checks.beta },
  epsilon: { default: 1e-8, check: checks.nonNegative },
  weightDecay: { default: 0, check: checks.nonNegative },
  amsgrad: { default: false, check: checks.boolean },
  maximize: { default: false, check: checks.boolean },
};

const SLOTS = ['m', 'v'] as const;

// Bias corrections in f64, as PyTorch computes them in Python (t: the parameter's step number).
/** η / (1 − β₁ᵗ). */
const stepSize = (o: AdamOptions, t: number) => o.learningRate / (1 - o.beta1 ** t);
/** √(1 − β₂ᵗ). */
const bc2Sqrt = (o: AdamOptions, t: number) => Math.sqrt(1 - o.beta2 ** t);
/** The metric's scale 1/√(1 − β₂ᵗ): M = √v·scale + ε is √v̂ + ε, Adam's denominator. */
const metricScale = (o: AdamOptions, t: number) => 1 / Math.sqrt(1 - o.beta2 ** t);
const SLOTS_AMSGRAD = ['m', 'v', 'vMax'] as const;

export class Adam extends Optimizer<AdamOptions> {
  constructor(options?: OptimizerArgs<AdamOptions>) {
    super(options);
  }

  static fromConfig(config: AdamConfig): Adam {
    return new Adam(config);
  }

  get kind(): string {
    return 'Adam';
  }

  protected optionSpecs(): Record<keyof AdamOptions, OptionSpec> {
    return ADAM_SPECS;
  }

  protected slotNames(o: AdamOptions): readonly string[] {
    return o.amsgrad ? SLOTS_AMSGRAD : SLOTS;
  }

  protected knownSlots(): readonly string[] {
    return SLOTS_AMSGRAD;
  }

  /** λ added to the gradient (Adam's L2 term). */
  protected l2(o: AdamOptions): number {
    return o.weightDecay;
  }

  /** The factor p is multiplied by before the step (AdamW's decoupled decay; 1 for Adam). */
  protected decay(_o: AdamOptions): number {
    return 1;
  }

  /**
   * The latest step divided by √v / √(1 − β₂ᵗ) + ε (t its step number, v the second moment
   * it used): that diagonal is its metric. Before the first step, M = I.
   */
  override stepMetric(name: string): StepMetric {
    const view = this.slotView(name);
    if (!view) return IDENTITY_METRIC;
    const o = this.optionsFor(name);
    return {
      weight: 1,
      tensor: o.amsgrad ? view.slots.vMax : view.slots.v,
      scale: metricScale(o, view.step),
      epsilon: o.epsilon,
    };
  }

  protected override get fusesMeasurement(): boolean {
    return true;
  }

  /** update() and its measurement in one pass (adamStepMeasured), in stepMetric()'s metric. */
  protected override updateMeasured(
    k: Kernels,
    params: Real,
    grads: Real,
    slots: RealTensorMap,
    o: AdamOptions,
    step: number,
    _fresh: boolean,
    before: Real,
    out: Float64Array,
  ): boolean {
    const options: AdamStepMeasuredOptions = {
      ...this.stepOptions(o, step),
      metricScale: metricScale(o, step),
      metricEpsilon: o.epsilon,
    };
    return k.adamStepMeasured(
      params,
      grads,
      slots.m,
      slots.v,
      o.amsgrad ? slots.vMax : NO_TENSOR,
      before,
      options,
      out,
    );
  }

  /** adamStep's options at `step`: PyTorch's bias corrections computed in f64 (the kernel rounds them). */
  private stepOptions(o: AdamOptions, step: number): AdamStepOptions {
    return {
      beta1: o.beta1,
      beta2: o.beta2,
      stepSize: stepSize(o, step),
      bc2Sqrt: bc2Sqrt(o, step),
      epsilon: o.epsilon,
      weightDecay: this.l2(o),
      decay: this.decay(o),
      amsgrad: o.amsgrad,
      maximize: o.maximize,
    };
  }

  protected update(k: Kernels, params: Real, grads: Real, slots: RealTensorMap, o: AdamOptions, step: number): boolean {
    const vMax = o.amsgrad ? slots.vMax : NO_TENSOR;
    return k.adamStep(params, grads, slots.m, slots.v, vMax, this.stepOptions(o, step));
  }
}

registerOptimizer('Adam', Adam.fromConfig);
