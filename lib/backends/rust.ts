/** The `rust` backend: the napi-rs addon built from crate/ (`npm run build:rust`). */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { packageRoot } from '../paths.js';
import { type NativeAddon, nativeKernels } from './native.js';

/** Load the addon; throws the generated loader's error (with its chained causes) when it cannot. */
export function loadRustKernels(): Kernels {
  const path = join(packageRoot(), 'crate', 'index.cjs');
  const addon = createRequire(import.meta.url)(path) as NativeAddon;
  return nativeKernels('rust', addon, path);
}
