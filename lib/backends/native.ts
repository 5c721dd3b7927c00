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
  type AnyKernels,
  ASYNC_KERNEL_NAMES,
  type AsyncKernelName,
  type AsyncKernels,
  BOUNDARY_OPTIONS,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  type OptionsKernelName,
} from '../kernels.js';
import { type NativeAbortFlag, type NativeKernel, type ObjectKernel, positional } from './boundary.js';

export type { NativeAbortFlag } from './boundary.js';

/**
 * What a native addon exports: every kernel, a kernel with an options object taking its fields
 * positionally (lib/backends/boundary.ts derives the signatures from the Kernels interface and
 * BOUNDARY_OPTIONS), an async kernel an AbortFlag instead of the AbortSignal.
 */
export type NativeAddon = { [K in keyof AnyKernels]: NativeKernel<K> } & {
  AbortFlag: new () => NativeAbortFlag;
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
  // the JS side's own errors (the options reader) are already named
  if (!(error instanceof Error) || error instanceof CimmArgumentError) return error;
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
  addon: NativeAddon,
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

const isOptionsKernel = (k: string): k is OptionsKernelName => Object.hasOwn(BOUNDARY_OPTIONS, k);

/**
 * Kernel `k` of the addon with the interface's arguments, its native errors mapped: an options
 * object read by `positional`, whose reader maps them itself.
 */
function objectKernel<K extends keyof AnyKernels>(addon: NativeAddon, k: K): ObjectKernel<K> {
  const native = addon[k] as NativeKernel<K>;
  if (!isOptionsKernel(k)) return withNativeErrors(native as unknown as ObjectKernel<K>);
  return positional(k, native as NativeKernel<typeof k>, { mapError: fromNativeError }) as unknown as ObjectKernel<K>;
}

/** The async kernels of an addon, each behind an AbortSignal. */
function nativeAsyncKernels(addon: NativeAddon): AsyncKernels {
  const matmulAsync = objectKernel(addon, 'matmulAsync');
  const localEnergyAsync = objectKernel(addon, 'localEnergyAsync');
  const energyFlowRunAsync = objectKernel(addon, 'energyFlowRunAsync');
  return {
    matmulAsync: (params, a, b, c, signal) =>
      abortableCall(addon, 'matmulAsync', signal, (flag) => matmulAsync(params, a, b, c, flag)),
    localEnergyAsync: (r, primeCount, signal) =>
      abortableCall(addon, 'localEnergyAsync', signal, (flag) => localEnergyAsync(r, primeCount, flag)),
    energyFlowRunAsync: (energy, potential, source, nx, ny, params, kappas, signal) =>
      abortableCall(addon, 'energyFlowRunAsync', signal, (flag) =>
        energyFlowRunAsync(energy, potential, source, nx, ny, params, kappas, flag),
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
  // a kernel with an options object: read in JS, its fields passed positionally (boundary.ts)
  const kernels = Object.fromEntries(KERNEL_NAMES.map((k) => [k, objectKernel(addon, k)])) as unknown as Pick<
    Kernels,
    KernelName
  >;
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
