/** The `rust` backend: the napi-rs addon built from crate/ (`npm run build:rust`). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { packageRoot } from '../paths.js';
import { withNativeErrors } from './native.js';

/** The addon's exports, as crate/index.d.cts declares them. */
interface RustAddon {
  localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void;
  nonlocalEnergy(
    x: Float32Array,
    y: Float32Array,
    points: Float32Array,
    lengthScale: number,
    softening: number,
  ): number;
  distance(x: Float32Array, y: Float32Array): number;
  coupling(t: Float64Array, alpha: number, beta: number, gamma: number, lambdaCosmo: number, out: Float64Array): void;
  scaleTransition(t: Float64Array, scaleCoupling: number, criticalTime: number, out: Float64Array): void;
  shannonEntropy(p: Float64Array): number;
  hermitianEigenvalues(re: Float64Array, im: Float64Array, d: number, out: Float64Array): void;
  cpuFeatures(): string[];
  simdPath(): string;
  threadCount(): number;
}

/** Load the addon; throws the loader's error (with its chained causes) when it cannot. */
export function loadRustKernels(): Kernels {
  const require = createRequire(import.meta.url);
  const addon = require(join(packageRoot(), 'crate', 'index.cjs')) as RustAddon;
  const kernels: Kernels = {
    name: 'rust',
    describe: () => ({
      name: 'rust',
      simdPath: addon.simdPath(),
      cpuFeatures: addon.cpuFeatures(),
      threads: addon.threadCount(),
    }),
    localEnergy: addon.localEnergy,
    nonlocalEnergy: addon.nonlocalEnergy,
    distance: addon.distance,
    coupling: addon.coupling,
    scaleTransition: addon.scaleTransition,
    shannonEntropy: addon.shannonEntropy,
    hermitianEigenvalues: addon.hermitianEigenvalues,
  };
  return withNativeErrors(kernels);
}
