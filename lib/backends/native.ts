/**
 * Shared plumbing for the native backends: loading an addon with every cause recorded,
 * and turning native argument errors into CimmArgumentError.
 */
import { CimmArgumentError } from '../errors.js';

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

/** Wrap every function of a native kernels object so its errors arrive in the facade's form. */
export function withNativeErrors<T extends object>(kernels: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kernels)) {
    if (typeof value !== 'function') {
      out[key] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    out[key] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (error) {
        throw fromNativeError(error);
      }
    };
  }
  return out as T;
}
