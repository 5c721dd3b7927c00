/**
 * What the async operations share (the async kernels; docs/theory.md, "Async kernels"): one
 * AbortSignal validation, one AbortError, one way to race work against a signal, and the
 * copy of a result into a caller's `out`.
 */
import { argumentError } from './errors.js';

/**
 * The error an aborted operation rejects with: a DOMException named "AbortError" (what
 * fetch and Node's own APIs give), its cause the signal's reason.
 */
export function abortError(signal: AbortSignal, what = 'the operation'): DOMException {
  const error = new DOMException(`cimm: ${what} was aborted`, 'AbortError');
  // The options form `new DOMException(message, { name, cause })` runs on Node 20 but is not
  // in TypeScript's lib yet: the cause is set as it would set it.
  Object.defineProperty(error, 'cause', { value: signal.reason, writable: true, configurable: true });
  return error;
}

/** An optional AbortSignal option: undefined, or an AbortSignal (else an argument error naming it). */
export function abortSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw argumentError(name, 'an AbortSignal', value);
}

/**
 * Races `work` against `signal`: rejects with an AbortError as soon as the signal aborts
 * (calling `onAbort` first, which tells the work to stop), else settles as `work` does.
 * `start` runs only when the signal has not aborted yet; what it throws becomes a rejection.
 * The work's own late settlement after an abort is consumed, never an unhandled rejection.
 */
export function abortable<T>(
  signal: AbortSignal | undefined,
  what: string,
  start: () => Promise<T>,
  onAbort?: () => void,
): Promise<T> {
  // A signal that is not an AbortSignal is an argument error before any work starts (the
  // callers check it too; this is the last line, so that no started work is left unhandled).
  try {
    abortSignal('signal', signal);
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  let work: Promise<T>;
  try {
    work = start();
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      onAbort?.();
      reject(abortError(signal, what));
    };
    signal.addEventListener('abort', stop, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', stop);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', stop);
        reject(error);
      },
    );
  });
}

/** Rejects (throws inside an async function) with the AbortError when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/**
 * Copies an async result into the caller's `out` (named `name`), which was checked at the
 * call but may have been detached, transferred or resized since: that is an argument error
 * naming it, never a write out of bounds.
 */
export function deliver<T extends Float32Array | Float64Array>(name: string, result: T, out: T): T {
  if (out.length !== result.length) {
    throw argumentError(
      name,
      `an array of length ${result.length} when the result arrives (it was detached or resized)`,
      out,
    );
  }
  out.set(result);
  return out;
}
