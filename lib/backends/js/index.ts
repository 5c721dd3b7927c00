/** The `js` backend: pure TypeScript, always available, the reference implementation. */
import type { Kernels } from '../../kernels.js';
import { jsAsyncKernels } from './async.js';
import { updateEnergy, updateSlope } from './balance.js';
import { distance, localEnergy, nonlocalEnergy } from './energy.js';
import { energyFlowMaxStep, energyFlowStep, gridSums, laplacian } from './flow.js';
import { fractalStep, fractalStepBackward, maxAbs } from './fractal.js';
import { activationBackward, activationForward, axpby, dot, matmul, sum } from './linalg.js';
import {
  adamStep,
  adamStepMeasured,
  firstNonFinite,
  l2Norm,
  memoryCopy,
  scaleInPlace,
  sgdStep,
  sgdStepMeasured,
  zeroNonFinite,
} from './optim.js';
import { prodigyAccumulate, prodigyUpdate } from './prodigy.js';
import { coupling, hermitianEigenvalues, scaleTransition, shannonEntropy } from './qdt.js';

export const jsKernels: Kernels = {
  name: 'js',
  describe: () => ({ name: 'js', simdPath: 'none', cpuFeatures: [], threads: 1 }),
  localEnergy,
  nonlocalEnergy,
  distance,
  fractalStep,
  fractalStepBackward,
  maxAbs,
  matmul,
  axpby,
  dot,
  sum,
  activationForward,
  activationBackward,
  coupling,
  scaleTransition,
  shannonEntropy,
  hermitianEigenvalues,
  sgdStep,
  adamStep,
  sgdStepMeasured,
  adamStepMeasured,
  prodigyAccumulate,
  prodigyUpdate,
  firstNonFinite,
  memoryCopy,
  energyFlowStep,
  energyFlowMaxStep,
  laplacian,
  gridSums,
  l2Norm,
  zeroNonFinite,
  scaleInPlace,
  updateEnergy,
  updateSlope,
  ...jsAsyncKernels,
};
