/**
 * AdamW: Adam with decoupled weight decay, torch.optim.AdamW's definition (docs/theory.md,
 * "Optimizers"). Before the Adam step (which gets no L2 term), p ← p·(1 − ηλ), the factor
 * formed in f64 as PyTorch does. λ defaults to 1e-2, PyTorch's default.
 */
import { ADAM_SPECS, Adam, type AdamConfig, type AdamOptions } from './adam.js';
import { type OptionSpec, registerOptimizer } from './optimizer.js';

const SPECS: Record<keyof AdamOptions, OptionSpec> = {
  ...ADAM_SPECS,
  weightDecay: { ...ADAM_SPECS.weightDecay, default: 1e-2 },
};

export class AdamW extends Adam {
  static override fromConfig(config: AdamConfig): AdamW {
    return new AdamW(config);
  }

  override get kind(): string {
    return 'AdamW';
  }

  protected override optionSpecs(): Record<keyof AdamOptions, OptionSpec> {
    return SPECS;
  }

  protected override l2(): number {
    return 0;
  }

  protected override decay(o: AdamOptions): number {
    return 1 - o.learningRate * o.weightDecay;
  }
}

registerOptimizer('AdamW', AdamW.fromConfig);
