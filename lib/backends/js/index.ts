/**
 * The `js` backend: pure TypeScript, always available, the reference implementation. One
 * file per kernel family (lib/kernels.ts, KERNEL_FAMILIES); the backend is every kernel the
 * family files export, so adding a kernel touches only its family's file.
 */
import { KERNEL_NAMES, type KernelName, type Kernels } from '../../kernels.js';
import { jsAsyncKernels } from './async.js';
import * as balance from './balance.js';
import * as energy from './energy.js';
import * as flow from './flow.js';
import * as fractal from './fractal.js';
import * as linalg from './linalg.js';
import * as optim from './optim.js';
import * as prodigy from './prodigy.js';
import * as qdt from './qdt.js';

/** The kernels of `families`; the constraint makes a missing or mistyped kernel a compile error. */
function kernelsOf<T extends Pick<Kernels, KernelName>>(families: T): Pick<Kernels, KernelName> {
  return Object.fromEntries(KERNEL_NAMES.map((k) => [k, families[k]])) as Pick<Kernels, KernelName>;
}

export const jsKernels: Kernels = {
  name: 'js',
  describe: () => ({ name: 'js', simdPath: 'none', cpuFeatures: [], threads: 1 }),
  ...kernelsOf({ ...balance, ...energy, ...flow, ...fractal, ...linalg, ...optim, ...prodigy, ...qdt }),
  ...jsAsyncKernels,
};
