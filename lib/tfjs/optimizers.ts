/**
 * cimm's entropy-balanced, Prodigy, AdamW and QDT optimizers as `tf.Optimizer`s, each
 * registered with `tf.serialization.registerClass` under its `className` so that
 * `tf.loadLayersModel` rebuilds it from a saved training config. The options are cimm's
 * (lib/optim): `new TfEntropyBalanced({ learningRate: 1e-3 })` takes what
 * `new EntropyBalancedOptimizer(…)` takes.
 */
import {
  type AdamOptions,
  AdamW,
  type EntropyBalancedArgs,
  EntropyBalancedOptimizer,
  type OptimizerArgs,
  Prodigy,
  type ProdigyOptions,
  type QDTArgs,
  QDTOptimizer,
} from '../optim/index.js';
import { CimmTfOptimizer } from './optimizer.js';
import { tf } from './peer.js';

/**
 * The entropy-balanced learning rate (seed 000 §3) driving Adam (default), SGD or AdamW.
 * Its rule reads each mini-batch's loss, which minimize() — and so `model.fit` — passes.
 */
export class TfEntropyBalanced extends CimmTfOptimizer<EntropyBalancedOptimizer> {
  static readonly className = 'cimm.EntropyBalanced';
  constructor(options?: EntropyBalancedArgs) {
    super(new EntropyBalancedOptimizer(options));
  }
}

/** Prodigy (Mishchenko & Defazio 2023): Adam with a learned step size. */
export class TfProdigy extends CimmTfOptimizer<Prodigy> {
  static readonly className = 'cimm.Prodigy';
  constructor(options?: OptimizerArgs<ProdigyOptions>) {
    super(new Prodigy(options));
  }
}

/** AdamW: Adam with decoupled weight decay, torch.optim.AdamW's definition. */
export class TfAdamW extends CimmTfOptimizer<AdamW> {
  static readonly className = 'cimm.AdamW';
  constructor(options?: OptimizerArgs<AdamOptions>) {
    super(new AdamW(options));
  }
}

/** The QDT learning rate (seed 002 §2.2, eq. 7) driving SGD (default), Adam or AdamW. */
export class TfQDT extends CimmTfOptimizer<QDTOptimizer> {
  static readonly className = 'cimm.QDT';
  constructor(options?: QDTArgs) {
    super(new QDTOptimizer(options));
  }
}

for (const cls of [TfEntropyBalanced, TfProdigy, TfAdamW, TfQDT]) tf.serialization.registerClass(cls);
