/** The `js` backend: pure TypeScript, always available, the reference implementation. */
import type { Kernels } from '../../kernels.js';
import { updateEnergy } from './balance.js';
import { distance, localEnergy, nonlocalEnergy } from './energy.js';
import { energyFlowMaxStep, energyFlowStep, laplacian } from './flow.js';
import { adamStep, firstNonFinite, memoryCopy, sgdStep } from './optim.js';
import { gridSums, l2Norm, scaleInPlace, zeroNonFinite } from './reduce.js';

export const jsKernels: Kernels = {
  name: 'js',
  describe: () => ({ name: 'js', simdPath: 'none', cpuFeatures: [], threads: 1 }),
  localEnergy,
  nonlocalEnergy,
  distance,
  sgdStep,
  adamStep,
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
};
