/**
 * The `cpp` backend: the node-addon-api addon built from native/ by cmake-js, the
 * build-from-source tier for platforms with no prebuilt Rust binary. Nothing builds it at
 * install time: `npx cimm build-native` (an installed package) or `npm run build:cpp` (a
 * checkout) does, into build/Release/cimm_cpp.node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { isCheckout, packageRoot } from '../paths.js';
import type { CppAddon } from './cpp-addon.js';
import { NativeLoadError, nativeKernels } from './native.js';

/**
 * Where cmake-js puts the addon: build/Release/cimm_cpp.node, or the path in CIMM_CPP_ADDON
 * (scripts/sanitize-cpp.sh points it at the sanitizer build).
 */
export function cppAddonPath(): string {
  return process.env.CIMM_CPP_ADDON || join(packageRoot(), 'build', 'Release', 'cimm_cpp.node');
}

/** Load the addon; throws NativeLoadError (not built, or does not load, with fixes) when it cannot. */
export function loadCppKernels(): Kernels {
  const path = cppAddonPath();
  const build = isCheckout()
    ? 'build it: `npm run build:cpp` (needs cmake and a C++17 compiler)'
    : 'build it from source: `npx cimm build-native` (needs cmake and a C++17 compiler)';
  const js = 'or use the pure-TypeScript backend: CIMM_BACKEND=js';
  if (!existsSync(path)) {
    const what = process.env.CIMM_CPP_ADDON ? `CIMM_CPP_ADDON=${path} does not exist` : `${path} is not built`;
    throw new NativeLoadError(`the C++ addon is not built: ${what}`, [], [build, js]);
  }
  let addon: CppAddon;
  try {
    addon = createRequire(import.meta.url)(path) as CppAddon;
  } catch (e) {
    const text = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeLoadError(`the C++ addon ${path} does not load`, [text], [`re${build}`, js]);
  }
  // CppAddon (the declared interface, cpp-addon.ts) where a NativeAddon is wanted: the
  // compile-time check that the addon provides every kernel in the interface's shape
  return nativeKernels('cpp', addon, path);
}
