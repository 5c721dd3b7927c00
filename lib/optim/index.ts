/** The optimizers (docs/theory.md, "Optimizers"); importing this registers the built-in kinds. */
export { Adam, type AdamConfig, type AdamOptions } from './adam.js';
export { AdamW } from './adamw.js';
export {
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  optimizerFromConfig,
  type ParameterGroup,
  registerOptimizer,
  restoreOptimizer,
  type TensorMap,
  type UpdateEntry,
} from './optimizer.js';
export { Prodigy, type ProdigyConfig, type ProdigyOptions } from './prodigy.js';
export { SGD, type SGDConfig, type SGDOptions } from './sgd.js';
export { decodeOptimizerState, encodeOptimizerState, type OptimizerScalars, type OptimizerState } from './state.js';
