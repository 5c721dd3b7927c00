/**
 * The outcome classes of one fuzz call, and how a call that returned or threw is put in one.
 * Crash (a signal or an abnormal exit) and hang (no answer within the call timeout) are
 * decided by the parent (fuzz/run.ts); everything else here, in the child.
 */
import type { CallRecord } from './plan.js';

export const CLASSES = [
  /** Returned; every check passed. An AbortError from a requested abort and a CimmDivergenceError count here. */
  'result',
  /** Threw an error whose message names one of the call's parameters (see namesParameter). */
  'named',
  /** A hostile getter's or valueOf's own exception, passed through unchanged (correct behaviour). */
  'propagated',
  /** Threw an error naming no parameter: a Cimm error, or a native error with a code, without a name in it. */
  'unnamed',
  /**
   * Threw a JS engine error (TypeError, RangeError, … without a code) in the engine's own wording
   * ("Cannot read properties of null", "… is not a function", "… on a detached ArrayBuffer"),
   * or any such error naming no parameter, or a non-Error.
   */
  'jsException',
  /** A valid kernel call (no mutation at all) rejected with a named error. */
  'rejectedValid',
  /** Returned NaN, or wrote NaN, from finite, moderate input where the kernel's contract says finite in → finite out. */
  'silentNaN',
  /** An input the kernel must not write changed. */
  'inputWritten',
  /** A guard byte outside the views handed to the call changed: an out-of-bounds write. */
  'oob',
  /** An exception escaped the call (unhandled rejection, uncaught exception) after it settled. */
  'uncaught',
  /** The child died: a signal (SIGSEGV, SIGABRT, …) or a non-zero exit during the call. */
  'crash',
  /** No answer within the call timeout; the child was killed. */
  'hang',
] as const;

export type OutcomeClass = (typeof CLASSES)[number];

/** The classes a clean run has none of (the CI test and the exit code fail on them). */
export const FAILURE_CLASSES: readonly OutcomeClass[] = [
  'unnamed',
  'jsException',
  'rejectedValid',
  'silentNaN',
  'inputWritten',
  'oob',
  'uncaught',
  'crash',
  'hang',
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether an error message names a parameter: the name as a whole word, but a name of one or
 * two characters (x, y, a, b, m, v, d, p0 …) only where it reads as a name — after "for",
 * "of", "argument" or "parameter", before "must", "is", "has", ":", "[", ".length" or
 * "(", or in quotes — so that "Expected a finite number" does not count as naming `a`. The
 * napi-rs placeholder `$name` never counts.
 */
export function namesParameter(message: string, names: readonly string[]): boolean {
  if (message.includes('$name')) return false;
  for (const name of names) {
    const n = escapeRegExp(name);
    const pattern =
      name.length > 2
        ? new RegExp(`(^|[^A-Za-z0-9_$])${n}([^A-Za-z0-9_]|$)`)
        : new RegExp(
            `((for|of|argument|parameter|param)\\s+['"\`]?${n}\\b)|(\\b${n}['"\`]?\\s*(must|is|has|should|:|\\[|\\.length|\\())|(['"\`]${n}['"\`])|(\\b[A-Za-z]+\\.${n}\\b)`,
          );
    if (pattern.test(message)) return true;
  }
  return false;
}

/** The engine's own wording (V8): property reads of null, calls of non-functions, detached or resized buffers, bad lengths. */
const ENGINE_MESSAGE =
  /Cannot read properties of|Cannot set properties of|is not a function|is not a constructor|is not iterable|Cannot convert|Cannot perform|Invalid typed array length|Invalid array length|out of bounds|Array buffer allocation failed|is not defined|Maximum call stack/;

const ENGINE_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError']);

/** The error's class, or undefined when it is a fine outcome (abort, divergence, a getter's own throw). */
export function classifyError(error: unknown, call: CallRecord): OutcomeClass {
  if (!(error instanceof Error)) return 'jsException';
  const e = error as Error & { code?: unknown };
  if (e.message === 'fuzz: a getter that throws') return 'propagated';
  if (e.name === 'AbortError' || e.code === 'ERR_CIMM_DIVERGENCE') return 'result';
  // An engine error stays one even when its text happens to hold a name ("Cannot read properties of null (reading 'alpha')").
  if (ENGINE_ERRORS.has(e.constructor.name) && e.code === undefined && ENGINE_MESSAGE.test(e.message))
    return 'jsException';
  if (namesParameter(e.message, call.citable))
    return call.valid && call.mutations.length === 0 && call.set === 'kernels' ? 'rejectedValid' : 'named';
  if (ENGINE_ERRORS.has(e.constructor.name) && e.code === undefined) return 'jsException';
  return 'unnamed';
}

/** Every number in a value (typed arrays, arrays, plain objects' own data properties), depth-limited. */
export function hasNaN(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return Number.isNaN(value);
  if (depth > 3 || value === null || typeof value !== 'object') return false;
  if (value instanceof Float32Array || value instanceof Float64Array) {
    if (value.buffer.byteLength === 0) return false;
    for (let i = 0; i < value.length; i++) if (Number.isNaN(value[i])) return true;
    return false;
  }
  if (ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some((v) => hasNaN(v, depth + 1));
  for (const key of Object.keys(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d && 'value' in d && hasNaN(d.value, depth + 1)) return true;
  }
  return false;
}

/** Whether every number reachable in the arguments is finite (NaN, ±∞ anywhere: the NaN contract does not apply). */
export function allFinite(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth > 3 || value === null || typeof value !== 'object') return true;
  if (value instanceof Float32Array || value instanceof Float64Array) {
    for (let i = 0; i < value.length; i++) if (!Number.isFinite(value[i])) return false;
    return true;
  }
  if (ArrayBuffer.isView(value)) return true;
  if (Array.isArray(value)) return value.every((v) => allFinite(v, depth + 1));
  for (const key of Object.keys(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d && 'value' in d && !allFinite(d.value, depth + 1)) return false;
  }
  return true;
}

/** A copy of a view's bytes (for the inputs-unchanged check); undefined for a detached or non-view value. */
export function snapshot(value: unknown): Uint8Array | undefined {
  if (!ArrayBuffer.isView(value)) return undefined;
  try {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  } catch {
    return undefined;
  }
}

/** Whether a view's bytes differ from a snapshot (a view that shrank or was detached is not compared). */
export function changed(value: unknown, before: Uint8Array): boolean {
  if (!ArrayBuffer.isView(value) || value.byteLength !== before.length) return false;
  const now = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  for (let i = 0; i < now.length; i++) if (now[i] !== before[i]) return true;
  return false;
}
