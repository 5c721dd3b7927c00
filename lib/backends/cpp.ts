/** The `cpp` backend: the node-addon-api addon built from native/ by cmake-js (`npm run build:cpp`). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { packageRoot } from '../paths.js';
import { type NativeAddon, nativeKernels } from './native.js';

/**
 * Where cmake-js puts the addon: build/Release/cimm_cpp.node, or the path in CIMM_CPP_ADDON
 * (scripts/sanitize-cpp.sh points it at the sanitizer build).
 */
export function cppAddonPath(): string {
  return process.env.CIMM_CPP_ADDON || join(packageRoot(), 'build', 'Release', 'cimm_cpp.node');
}

/** Load the addon; throws the loader's error (missing file, ABI mismatch) when it cannot. */
export function loadCppKernels(): Kernels {
  const path = cppAddonPath();
  const addon = createRequire(import.meta.url)(path) as NativeAddon;
  return nativeKernels('cpp', addon, path);
}
