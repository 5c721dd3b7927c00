/**
 * Shared plumbing for the native backends (rust, cpp): both addons export the kernel
 * functions under the interface's names plus cpuFeatures/simdPath/threadCount, and the
 * async kernels with an AbortFlag in place of the AbortSignal. Loading checks that every
 * kernel is there (a stale build fails loudly, naming what is missing) and turns native
 * argument errors into CimmArgumentError.
 */
import { abortable } from '../async.js';
import { CimmArgumentError } from '../errors.js';
import {
  ASYNC_KERNEL_NAMES,
  type AsyncKernelName,
  type AsyncKernels,
  BOUNDARY_OPTIONS,
  DECLARED_KERNELS,
  type EnergyFlowRunParams,
  type EnergyFlowRunResult,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  type MatmulParams,
} from '../kernels.js';

/**
 * The native side of an async call's abort: the addon's task holds it and checks it between
 * work units (crate/src/binding/abort.rs, native/src/binding/async_worker.hpp).
 */
export interface NativeAbortFlag {
  raise(): void;
}

/** The async kernels as an addon exports them: an AbortFlag instead of the AbortSignal. */
export interface NativeAsyncKernels {
  AbortFlag: new () => NativeAbortFlag;
  matmulAsync(
    params: MatmulParams,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array | undefined,
    flag: NativeAbortFlag,
  ): Promise<Float32Array>;
  localEnergyAsync(r: Float64Array, primeCount: number, flag: NativeAbortFlag): Promise<Float64Array>;
  energyFlowRunAsync(
    energy: Float64Array,
    potential: Float64Array,
    source: Float64Array,
    nx: number,
    ny: number,
    params: EnergyFlowRunParams,
    kappas: Float64Array,
    flag: NativeAbortFlag,
  ): Promise<EnergyFlowRunResult>;
}

/** What a native addon exports. */
export type NativeAddon = Omit<Kernels, 'name' | 'describe' | AsyncKernelName> &
  NativeAsyncKernels & {
    cpuFeatures(): string[];
    simdPath(): string;
    threadCount(): number;
  };

/**
 * A native addon that cannot load: what failed (the message), each underlying cause, and fixes
 * that work where cimm is installed. backend.ts prints all three when the backend was forced.
 */
export class NativeLoadError extends Error {
  constructor(
    message: string,
    readonly causes: readonly string[],
    readonly solutions: readonly string[],
  ) {
    super(message);
    this.name = 'NativeLoadError';
  }
}

/** A native error message in the facade's format names its parameter: recover it. */
const NATIVE_MESSAGE = /^Expected (.+?) for ([A-Za-z_][\w.[\]]*) but received /;

export function fromNativeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const m = NATIVE_MESSAGE.exec(error.message);
  if (!m) return error;
  const wrapped = new CimmArgumentError(m[2], m[1], error.message);
  wrapped.cause = error;
  return wrapped;
}

function withNativeErrors<F extends (...args: never[]) => unknown>(fn: F): F {
  return ((...args: Parameters<F>) => {
    try {
      return fn(...args);
    } catch (error) {
      throw fromNativeError(error);
    }
  }) as F;
}

/**
 * An async kernel of the addon behind the AbortSignal interface: the addon copies the inputs
 * and queues its task during `call` (argument errors are thrown there, before anything is
 * queued, and become rejections); an abort raises the task's flag and rejects at once.
 */
function abortableCall<T>(
  addon: NativeAsyncKernels,
  what: AsyncKernelName,
  signal: AbortSignal | undefined,
  call: (flag: NativeAbortFlag) => Promise<T>,
): Promise<T> {
  const flag = new addon.AbortFlag();
  return abortable(
    signal,
    what,
    () => {
      try {
        return call(flag).catch((error: unknown) => {
          throw fromNativeError(error);
        });
      } catch (error) {
        throw fromNativeError(error);
      }
    },
    () => flag.raise(),
  );
}

/** The async kernels of an addon, each behind an AbortSignal. */
function nativeAsyncKernels(addon: NativeAsyncKernels): AsyncKernels {
  return {
    matmulAsync: (params, a, b, c, signal) =>
      abortableCall(addon, 'matmulAsync', signal, (flag) => addon.matmulAsync(params, a, b, c, flag)),
    localEnergyAsync: (r, primeCount, signal) =>
      abortableCall(addon, 'localEnergyAsync', signal, (flag) => addon.localEnergyAsync(r, primeCount, flag)),
    energyFlowRunAsync: (energy, potential, source, nx, ny, params, kappas, signal) =>
      abortableCall(addon, 'energyFlowRunAsync', signal, (flag) =>
        addon.energyFlowRunAsync(energy, potential, source, nx, ny, params, kappas, flag),
      ),
  };
}

/** The Kernels of a loaded addon; throws if the addon lacks a kernel. */
export function nativeKernels(name: 'rust' | 'cpp', addon: NativeAddon, path: string): Kernels {
  const missing = [...KERNEL_NAMES, ...ASYNC_KERNEL_NAMES, 'AbortFlag' as const].filter(
    (k) => typeof addon[k] !== 'function',
  );
  if (missing.length > 0) {
    throw new Error(`the ${name} addon at ${path} lacks ${missing.join(', ')}: it is out of date, rebuild it`);
  }
  const wrapped = Object.fromEntries(KERNEL_NAMES.map((k) => [k, withNativeErrors(addon[k])]));
  // TEMPORARY (replaced by the boundary branch's positional reader): declared kernels take their options' fields positionally
  for (const k of Object.keys(DECLARED_KERNELS) as (keyof typeof DECLARED_KERNELS)[]) {
    const b = BOUNDARY_OPTIONS[k];
    const fn = addon[k] as unknown as (...a: unknown[]) => unknown;
    wrapped[k] = withNativeErrors((...args: unknown[]) => {
      const o = args[b.at] as Record<string, unknown>;
      if (o === null || typeof o !== 'object')
        throw new CimmArgumentError(b.name, 'an options object', `Expected an options object for ${b.name}`);
      return fn(...args.slice(0, b.at), ...Object.keys(b.fields).map((f) => o[f]), ...args.slice(b.at + 1));
    });
  }
  // both addons take the options objects themselves (binding/args.rs, native/src/binding/args.hpp)
  const kernels = wrapped as Pick<Kernels, KernelName>;
  return {
    name,
    describe: () => ({
      name,
      simdPath: addon.simdPath(),
      cpuFeatures: addon.cpuFeatures(),
      threads: addon.threadCount(),
      source: path,
    }),
    ...kernels,
    ...nativeAsyncKernels(addon),
  };
}
