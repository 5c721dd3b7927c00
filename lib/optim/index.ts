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
  type StepObservation,
  type TensorMap,
} from './optimizer.js';
export { SGD, type SGDConfig, type SGDOptions } from './sgd.js';
export { decodeOptimizerState, encodeOptimizerState, type OptimizerScalars, type OptimizerState } from './state.js';
export {
  BALANCE_DEFAULTS,
  type BalanceConfig,
  type BalanceMode,
  type BalanceOptions,
  type BalanceStep,
  balanceConfig,
  balanceStep,
} from './balance.js';
export {
  type BalanceBase,
  type BalanceReport,
  type EntropyBalancedArgs,
  type EntropyBalancedConfig,
  EntropyBalancedOptimizer,
  type EntropyBalancedOptions,
} from './entropy-balanced.js';
export {
  COMPUTE_METER_DEFAULTS,
  type ComputeMeterOptions,
  type ComputeSource,
  createEnergyMeter,
  createInformationMeter,
  type EnergyMeter,
  type EnergyMeterConfig,
  type EnergyMeterSpec,
  type InformationMeter,
  type InformationMeterConfig,
  type InformationMeterSpec,
  type InformationReading,
  type LossMeterOptions,
  type MeterRuntime,
  type MeterState,
  meanEntropyBits,
  meterKinds,
  type PredictiveEntropyMeterOptions,
  raplZones,
  registerEnergyMeter,
  registerInformationMeter,
  type UpdateEnergy,
} from './meters.js';
export { type AnyOptimizer, type JsonObject, OptimizerWrapper, type WrapperScalars } from './wrapper.js';
