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
  };
  return withNativeErrors(kernels);
}
