/** The optimizers (docs/theory.md, "Optimizers"); importing this registers the built-in kinds. */
export { Adam, type AdamConfig, type AdamOptions } from './adam.js';
export { AdamW } from './adamw.js';
export {
  BALANCE_DEFAULTS,
  BALANCE_TARGETS,
  type BalanceConfig,
  type BalanceInput,
  type BalanceMode,
  type BalanceOptions,
  type BalanceState,
  type BalanceStep,
  type BalanceTarget,
  balanceConfig,
  balanceState,
  balanceStep,
  EMPTY_BALANCE,
} from './balance.js';
export {
  type BalanceBase,
  type BalanceReport,
  type EntropyBalancedArgs,
  type EntropyBalancedConfig,
  EntropyBalancedOptimizer,
  type EntropyBalancedOptions,
  EntropyBalancedRule,
  type EntropyBalancedRuleOptions,
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
} from './meters.js';
export {
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  optimizerFromConfig,
  type ParameterGroup,
  type Real,
  type RealTensorMap,
  registerOptimizer,
  restoreOptimizer,
  type StepMetric,
  type StepObservation,
  type TensorMap,
  type UpdateEntry,
} from './optimizer.js';
export { Prodigy, type ProdigyConfig, type ProdigyOptions } from './prodigy.js';
export {
  probeIndices,
  QDT_OPTIMIZER_DEFAULTS,
  type QDTArgs,
  type QDTConfig,
  QDTOptimizer,
  type QDTOptions,
  type QDTReport,
} from './qdt.js';
export {
  type KindConfig,
  type LearningRateRule,
  type RuleDrivenArgs,
  type RuleDrivenConfig,
  RuleDrivenOptimizer,
  type RuleDrivenOptions,
  type RuleDrivenReport,
  type RuleInput,
  type RuleReport,
  type RuleTurn,
  registerRule,
  ruleFromConfig,
  ruleKinds,
  type UpdateReadings,
  withRule,
} from './rule.js';
export {
  ConstantRate,
  CosineDecay,
  ExponentialDecay,
  LinearWarmup,
  ReduceOnPlateau,
  StepDecay,
} from './schedules.js';
export { SGD, type SGDConfig, type SGDOptions } from './sgd.js';
export {
  type InnerOptimizerConfig,
  type StabilizedArgs,
  type StabilizedConfig,
  type StabilizedObservation,
  StabilizedOptimizer,
  type StabilizedOptions,
  type StabilizedReport,
} from './stabilized.js';
export { decodeOptimizerState, encodeOptimizerState, type OptimizerScalars, type OptimizerState } from './state.js';
export { type AnyOptimizer, type JsonObject, OptimizerWrapper, type WrapperScalars } from './wrapper.js';
