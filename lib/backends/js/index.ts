/** The `js` backend: pure TypeScript, always available, the reference implementation. */
import type { Kernels } from '../../kernels.js';
import { activationBackward, activationForward, axpby, copy, dot, maxAbs, sum } from './elementwise.js';
import { distance, localEnergy, nonlocalEnergy } from './energy.js';
import { fractalStep, fractalStepBackward } from './fractal.js';
import { matmul } from './linalg.js';

export const jsKernels: Kernels = {
  name: 'js',
  describe: () => ({ name: 'js', simdPath: 'none', cpuFeatures: [], threads: 1 }),
  localEnergy,
  nonlocalEnergy,
  distance,
  fractalStep,
  fractalStepBackward,
  maxAbs,
  copy,
  matmul,
  axpby,
  dot,
  sum,
  activationForward,
  activationBackward,
};
