/** cimm: entropy-balanced learning rates, the Quantum Balance Equation and QDT kernels. */
export {
  availableBackends,
  BACKEND_NAMES,
  type BackendEntry,
  type BackendInfo,
  backendInfo,
  getBackend,
  kernels,
  registerBackend,
  setBackend,
} from './backend.js';
export { BOLTZMANN, QDT } from './constants.js';
export {
  type CouplingOptions,
  coupling,
  SCALE_TRANSITION_DEFAULTS,
  type ScaleTransitionOptions,
  scaleTransition,
} from './coupling.js';
export {
  distance,
  ENERGY_DEFAULTS,
  EnergySystem,
  type EnergySystemConfig,
  type EnergySystemOptions,
  type EnergyTerms,
  type LocalEnergyOptions,
  localEnergy,
  type NonlocalEnergyOptions,
  nonlocalEnergy,
} from './energy.js';
export {
  type EntropyComponents,
  EntropyTracker,
  type EntropyTrackerConfig,
  type EntropyTrackerOptions,
  type EntropyTrackerState,
  shannonEntropy,
} from './entropy.js';
export { argumentError, type BadRow, CimmArgumentError, CimmBackendError, CimmDataError } from './errors.js';
export {
  EnergyFlow,
  type EnergyFlowConfig,
  type EnergyFlowOptions,
  type EnergyFlowStepOptions,
  energyFlowMaxStep,
  energyFlowStep,
  FLOW_BOUNDARIES,
  FLOW_DEFAULTS,
  type FlowGridOptions,
  kappa,
  type LaplacianOptions,
  laplacian,
  type MaxStepOptions,
  STEP_CONTROLS,
  type StepControl,
} from './flow.js';
export {
  FRACTAL_DEFAULTS,
  type FractalBoundMode,
  type FractalStepOptions,
  type FractalTransformOptions,
  type FractalTransformResult,
  fractalBound,
  fractalOffset,
  fractalStep,
  fractalTransform,
  fractalTransformInfo,
  MAX_FRACTAL_OFFSET,
  MAX_SCALES,
} from './fractal.js';
export type {
  ActivationName,
  BackendDescription,
  BackendName,
  EnergyFlowParams,
  FlowBoundary,
  Kernels,
} from './kernels.js';
export {
  AdaptiveLearningRate,
  type AdaptiveLearningRateConfig,
  type AdaptiveLearningRateOptions,
  type AdaptiveLearningRateState,
  LEARNING_RATE_DEFAULTS,
  type LearningRateComponents,
  type UpdateOptions,
} from './learning-rate.js';
export { MAX_DIMENSION, type MatmulOptions, type MatmulShape, matmul } from './linalg.js';
export {
  ACTIVATIONS,
  FRACTAL_LAYER_DEFAULTS,
  FractalLayer,
  type FractalLayerConfig,
  type FractalLayerOptions,
  type LayerParameter,
  MAX_LEVELS,
} from './nn/fractal-layer.js';
export {
  Adam,
  type AdamConfig,
  type AdamOptions,
  AdamW,
  decodeOptimizerState,
  encodeOptimizerState,
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type OptimizerScalars,
  type OptimizerState,
  optimizerFromConfig,
  type ParameterGroup,
  registerOptimizer,
  restoreOptimizer,
  SGD,
  type SGDConfig,
  type SGDOptions,
  type TensorMap,
} from './optim/index.js';
export { MAX_PRIME_COUNT, nthPrime, primes } from './primes.js';
export { type Domain, generalizedGoldenRatio, type QuadratureSpec, quadraturePoints } from './quadrature.js';
export {
  DENSITY_TOLERANCE,
  densityMatrixEigenvalues,
  type HermitianEigenvaluesOptions,
  hermitianEigenvalues,
  informationRate,
  landauerBound,
  MAX_MATRIX_DIMENSION,
  type VonNeumannEntropyOptions,
  vonNeumannEntropy,
} from './quantum.js';
export { Random } from './random.js';
export {
  type CriterionResult,
  STABILITY_DEFAULTS,
  type StabilityConfig,
  type StabilityContext,
  StabilityController,
  type StabilityControllerOptions,
  type StabilityCriterionName,
  type StabilityReport,
} from './stability.js';
export * from './tasks/index.js';
