/**
 * Shared plumbing for the native backends (rust, cpp): both addons export the kernel
 * functions under the interface's names plus cpuFeatures/simdPath/threadCount. Loading
 * checks that every kernel is there (a stale build fails loudly, naming what is missing)
 * and turns native argument errors into CimmArgumentError.
 */
import { CimmArgumentError } from '../errors.js';
import { KERNEL_NAMES, type Kernels } from '../kernels.js';

/** What a native addon exports. */
export type NativeAddon = Omit<Kernels, 'name' | 'describe'> & {
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

/** The Kernels of a loaded addon; throws if the addon lacks a kernel. */
export function nativeKernels(name: 'rust' | 'cpp', addon: NativeAddon, path: string): Kernels {
  const missing = KERNEL_NAMES.filter((k) => typeof addon[k] !== 'function');
  if (missing.length > 0) {
    throw new Error(`the ${name} addon at ${path} lacks ${missing.join(', ')}: it is out of date, rebuild it`);
  }
  const kernels = Object.fromEntries(KERNEL_NAMES.map((k) => [k, withNativeErrors(addon[k])])) as Pick<
    Kernels,
    (typeof KERNEL_NAMES)[number]
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
  };
}
