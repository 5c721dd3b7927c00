/** The `cpp` backend: the node-addon-api addon built from native/ by cmake-js (`npm run build:cpp`). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { packageRoot } from '../paths.js';
import { withNativeErrors } from './native.js';

/** The addon's exports, as native/src/binding.cpp defines them. */
interface CppAddon {
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

/**
 * Where cmake-js puts the addon: build/Release/cimm_cpp.node, or the path in CIMM_CPP_ADDON
 * (scripts/sanitize-cpp.sh points it at the sanitizer build).
 */
export function cppAddonPath(): string {
  return process.env.CIMM_CPP_ADDON || join(packageRoot(), 'build', 'Release', 'cimm_cpp.node');
}

/** Load the addon; throws the loader's error (missing file, ABI mismatch) when it cannot. */
export function loadCppKernels(): Kernels {
  const require = createRequire(import.meta.url);
  const addon = require(cppAddonPath()) as CppAddon;
  const kernels: Kernels = {
    name: 'cpp',
    describe: () => ({
      name: 'cpp',
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
