/**
 * SGD with momentum, dampening, Nesterov momentum and weight decay: torch.optim.SGD's
 * definition (docs/theory.md, "Optimizers"), one fused kernel call per parameter tensor.
 *
 *   d = ∓g (− when maximizing);  d ← d + λp  (λ ≠ 0)
 *   μ ≠ 0:  b ← d on a parameter's first step, else b ← μb + (1 − τ)d
 *           d ← d + μb (Nesterov)  or  d ← b
 *   p ← p − ηd
 */

import { argumentError } from '../errors.js';
import type { Kernels, Real, SgdStepOptions } from '../kernels.js';
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

export interface SGDOptions extends OptimizerOptions {
  /** η (default 1e-3, PyTorch's). */
  learningRate: number;
  /** μ ≥ 0 (default 0: no momentum buffer). */
  momentum: number;
  /** τ ∈ [0, 1], the dampening of the momentum (default 0). */
  dampening: number;
  /** λ ≥ 0, L2 weight decay added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (needs μ > 0 and τ = 0). */
  nesterov: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

export type SGDConfig = OptimizerConfig<SGDOptions>;

const SPECS: Record<keyof SGDOptions, OptionSpec> = {
  learningRate: { default: 1e-3, check: checks.learningRate },
  momentum: { default: 0, check: checks.nonNegative },
  dampening: { default: 0, check: checks.fraction },
  weightDecay: { default: 0, check: checks.nonNegative },
  nesterov: { default: false, check: checks.boolean },
  maximize: { default: false, check: checks.boolean },
};

const SLOTS = ['momentumBuffer'] as const;

export class SGD extends Optimizer<SGDOptions> {
  constructor(options?: OptimizerArgs<SGDOptions>) {
    super(options);
  }

  static fromConfig(config: SGDConfig): SGD {
    return new SGD(config);
  }

  get kind(): string {
    return 'SGD';
  }

  protected optionSpecs(): Record<keyof SGDOptions, OptionSpec> {
    return SPECS;
  }

  protected override checkOptions(o: SGDOptions, where: string): void {
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw argumentError(`${where}nesterov`, 'false unless momentum > 0 and dampening = 0 (Nesterov momentum)', true);
    }
  }

  protected slotNames(o: SGDOptions): readonly string[] {
    return o.momentum !== 0 ? SLOTS : [];
  }

  protected knownSlots(): readonly string[] {
    return SLOTS;
  }

  /**
   * Heavy-ball momentum μ with dampening τ moves θ by η(1 − τ)/(1 − μ)·g in steady state:
   * the weight (1 − μ)/(1 − τ) keeps the kinetic energy in units of that effective rate.
   */
  override stepMetric(name: string): StepMetric {
    const o = this.optionsFor(name);
    return o.momentum > 0 && o.dampening < 1
      ? { weight: (1 - o.momentum) / (1 - o.dampening), scale: 1, epsilon: 0 }
      : IDENTITY_METRIC;
  }

  protected override get fusesMeasurement(): boolean {
    return true;
  }

  /** update() and its measurement in one pass (sgdStepMeasured); the metric's weight stays outside. */
  protected override updateMeasured(
    k: Kernels,
    params: Real,
    grads: Real,
    slots: RealTensorMap,
    o: SGDOptions,
    _step: number,
    fresh: boolean,
    before: Real,
    out: Float64Array,
  ): boolean {
    const options: SgdStepOptions = {
      learningRate: o.learningRate,
      momentum: o.momentum,
      dampening: o.dampening,
      weightDecay: o.weightDecay,
      nesterov: o.nesterov,
      maximize: o.maximize,
      firstStep: fresh,
    };
    return k.sgdStepMeasured(params, grads, o.momentum !== 0 ? slots.momentumBuffer : NO_TENSOR, before, options, out);
  }

  protected update(
    k: Kernels,
    params: Real,
    grads: Real,
    slots: RealTensorMap,
    o: SGDOptions,
    _step: number,
    fresh: boolean,
  ): boolean {
    const buffer = o.momentum !== 0 ? slots.momentumBuffer : NO_TENSOR;
    return k.sgdStep(params, grads, buffer, {
      learningRate: o.learningRate,
      momentum: o.momentum,
      dampening: o.dampening,
      weightDecay: o.weightDecay,
      nesterov: o.nesterov,
      maximize: o.maximize,
      firstStep: fresh,
    });
  }
}

registerOptimizer('SGD', SGD.fromConfig);
