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
export { argumentError, CimmArgumentError, CimmBackendError } from './errors.js';
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
export type { ActivationName, BackendDescription, BackendName, Kernels } from './kernels.js';
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
export { MAX_PRIME_COUNT, nthPrime, primes } from './primes.js';
export { type Domain, generalizedGoldenRatio, type QuadratureSpec, quadraturePoints } from './quadrature.js';
export { Random } from './random.js';
