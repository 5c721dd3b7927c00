/** The `js` backend: pure TypeScript, always available, the reference implementation. */
import type { Kernels } from '../../kernels.js';
import { jsAsyncKernels } from './async.js';
import { updateEnergy, updateSlope } from './balance.js';
import { coupling, scaleTransition } from './coupling.js';
import { hermitianEigenvalues } from './eigen.js';
import { activationBackward, activationForward, axpby, dot, maxAbs, sum } from './elementwise.js';
import { distance, localEnergy, nonlocalEnergy } from './energy.js';
import { shannonEntropy } from './entropy.js';
import { energyFlowMaxStep, energyFlowStep, laplacian } from './flow.js';
import { fractalStep, fractalStepBackward } from './fractal.js';
import { matmul } from './linalg.js';
import { adamStepMeasured, sgdStepMeasured } from './measured.js';
import { adamStep, firstNonFinite, memoryCopy, prodigyAccumulate, prodigyUpdate, sgdStep } from './optim.js';
import { gridSums, l2Norm, scaleInPlace, zeroNonFinite } from './reduce.js';

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
