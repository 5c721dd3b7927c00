/**
 * The `wasm` backend: the C++ kernel core compiled to WebAssembly with 128-bit SIMD
 * (scripts/build-wasm.mjs → wasm/cimm.wasm, shipped in the package), the tier between the
 * native addons and pure TypeScript: it runs wherever Node runs, with no native binary.
 *
 * This file loads the module and assembles the backend from its families, one file each in
 * lib/backends/wasm/ (the family list of docs/theory.md; the module's C ABI is
 * native/wasm/<family>.cpp, file for file): a family file declares its exports and implements
 * its kernels. The declared kernels (lib/kernels.ts DECLARED_KERNELS) need neither: their entry
 * points are generated (native/wasm/declared.cpp) and wasm/declared.ts serves them all. core.ts holds the
 * instance and its scratch arena, args.ts the argument checks.
 *
 * Every call checks its arguments in the glue, with the Node-API binding's messages (the module
 * trusts its caller), then stages the typed arrays in one scratch arena in linear memory: each
 * input is copied in once, each output copied out once (an in/out array both); elementwise
 * kernels stream their arrays through the arena in cache-sized pieces, so that at 10⁷ elements
 * each array crosses main memory once, not three times (core.ts `stream`). The arena is one
 * malloc'd block, regrown when a call needs more and kept between calls (per-call allocation is
 * dear: toolchain-notes.md). Copying gives every overlap the semantics of "computed from a copy
 * of the inputs", which the native bindings give too where they allow an overlap; where they
 * reject one (the optimizer steps, matmul's c, the stencils' out), the glue rejects it the same
 * way.
 *
 * The kernels on Real arrays (lib/kernels.ts) have one definition each: the dtype of the call's
 * deciding array (as the binding's by_dtype picks it) chooses the module's f32 entry point or its
 * `_f64` twin (core.ts `entry`), and the same checks run in that dtype (args.ts `real`).
 *
 * The module is built without threads (one thread per instance) and without exceptions: an
 * allocation failure inside a kernel traps; the trap becomes an Error and the next call gets a
 * fresh instance, the caller's arrays untouched (outputs are copied out only after a call
 * returns; a streamed call may have written its earlier pieces).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AsyncKernels, Kernels } from '../kernels.js';
import { isCheckout, packageRoot } from '../paths.js';
import { chunkedAsyncKernels } from './js/async.js';
import { NativeLoadError } from './native.js';
import { type BalanceExports, balanceKernels } from './wasm/balance.js';
import { WasmCore } from './wasm/core.js';
import { type DeclaredExports, declaredKernels } from './wasm/declared.js';
import { type EnergyExports, energyAsyncChecks, energyKernels } from './wasm/energy.js';
import { type FlowExports, flowAsyncChecks, flowKernels } from './wasm/flow.js';
import { type FractalExports, fractalKernels } from './wasm/fractal.js';
import { type LinalgExports, linalgAsyncChecks, linalgKernels } from './wasm/linalg.js';
import { type OptimExports, optimKernels } from './wasm/optim.js';
import { type ProdigyExports, prodigyKernels } from './wasm/prodigy.js';
import { type QdtExports, qdtKernels } from './wasm/qdt.js';

/** Where the module is: wasm/cimm.wasm in the package, or the path in CIMM_WASM_MODULE. */
export function wasmModulePath(): string {
  return process.env.CIMM_WASM_MODULE || join(packageRoot(), 'wasm', 'cimm.wasm');
}

/** The module's exports: every family's. */
export type Exports = EnergyExports &
  FractalExports &
  LinalgExports &
  QdtExports &
  FlowExports &
  OptimExports &
  ProdigyExports &
  BalanceExports;

/**
 * The checks each async kernel makes before queuing any work (the native bindings'); each
 * returns the arguments to run with (options objects as read: a getter runs once).
 */
const asyncChecks: {
  [K in keyof AsyncKernels]: (...args: Parameters<AsyncKernels[K]>) => Parameters<AsyncKernels[K]>;
} = {
  ...linalgAsyncChecks,
  ...energyAsyncChecks,
  ...flowAsyncChecks,
};

/** The Kernels over one instance of the module. */
export function wasmKernels(core: WasmCore<Exports>, path: string): Kernels {
  const sync: Omit<Kernels, keyof AsyncKernels> = {
    name: 'wasm',
    describe: () => ({ name: 'wasm', simdPath: 'wasm-simd128', cpuFeatures: [], threads: 1, source: path }),
    ...energyKernels(core),
    ...fractalKernels(core),
    ...linalgKernels(core),
    ...qdtKernels(core),
    ...flowKernels(core),
    ...optimKernels(core),
    ...prodigyKernels(core),
    ...balanceKernels(core),
    // the declared kernels: one glue reads their declarations (entry points generated)
    ...declaredKernels(core as unknown as WasmCore<DeclaredExports>),
  };
  // The async kernels: the js backend's chunking over this module's sync kernels (one thread
  // here as there: chunks on the main thread, yielding to the event loop between them), after
  // the checks the native bindings make before queuing any work.
  const chunked = chunkedAsyncKernels(sync);
  const checked =
    <A extends unknown[], R>(check: (...args: A) => A, run: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      let checkedArgs: A;
      try {
        checkedArgs = check(...args);
      } catch (error) {
        return Promise.reject(error);
      }
      return run(...checkedArgs);
    };
  const async: AsyncKernels = {
    matmulAsync: checked(asyncChecks.matmulAsync, chunked.matmulAsync),
    localEnergyAsync: checked(asyncChecks.localEnergyAsync, chunked.localEnergyAsync),
    energyFlowRunAsync: checked(asyncChecks.energyFlowRunAsync, chunked.energyFlowRunAsync),
  };
  return { ...sync, ...async };
}

/** Compile and instantiate the module; throws NativeLoadError (not built, or does not load, with fixes). */
export function loadWasmKernels(): Kernels {
  const path = wasmModulePath();
  const build = isCheckout()
    ? 'build it: `npm run build:wasm` (needs clang, lld, wasi-libc and libc++ for wasm32-wasi; README "WebAssembly backend")'
    : 'reinstall cimm: its package ships wasm/cimm.wasm';
  const js = 'or use the pure-TypeScript backend: CIMM_BACKEND=js';
  if (!existsSync(path)) {
    const what = process.env.CIMM_WASM_MODULE ? `CIMM_WASM_MODULE=${path} does not exist` : `${path} is not built`;
    throw new NativeLoadError(`the WebAssembly module is missing: ${what}`, [], [build, js]);
  }
  let core: WasmCore<Exports>;
  try {
    core = new WasmCore<Exports>(new WebAssembly.Module(readFileSync(path)));
  } catch (e) {
    const text = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeLoadError(`the WebAssembly module ${path} does not load`, [text], [build, js]);
  }
  return wasmKernels(core, path);
}
