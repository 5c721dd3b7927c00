/**
 * One error format for every bad argument (sharp's pattern):
 * "Expected <what> for <name> but received <value> of type <type>".
 */

/** Thrown by the facade (and mapped from native errors) when an argument is invalid. */
export class CimmArgumentError extends TypeError {
  readonly code = 'ERR_CIMM_ARGUMENT';
  constructor(
    readonly parameter: string,
    readonly expected: string,
    message: string,
  ) {
    super(message);
    this.name = 'CimmArgumentError';
  }
}

/** Thrown when a requested backend cannot be loaded, with every cause chained. */
export class CimmBackendError extends Error {
  readonly code = 'ERR_CIMM_BACKEND';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CimmBackendError';
  }
}

/** Where a run went non-finite: the step, the parameter and the first bad entry. */
export interface DivergenceDetails {
  /** The step count including the step that diverged (1 for the first step); undefined when not known. */
  step?: number;
  /** The parameter (tensor name) that went non-finite, or the quantity (e.g. "loss"). */
  parameter: string;
  /** Index of the first non-finite entry, when a tensor. */
  index?: number;
  /** The non-finite value found there. */
  value?: number;
}

/**
 * Thrown when a training step made the parameters (or the loss) non-finite: the run
 * diverged. The step has completed (the optimizer's step count includes it); callers
 * branch on this class, never on the message. A RangeError, so code that caught
 * RangeErrors before keeps working.
 */
export class CimmDivergenceError extends RangeError {
  readonly code = 'ERR_CIMM_DIVERGENCE';
  readonly step: number | undefined;
  readonly parameter: string;
  readonly index: number | undefined;
  readonly value: number | undefined;
  constructor(message: string, details: DivergenceDetails) {
    super(message);
    this.name = 'CimmDivergenceError';
    this.step = details.step;
    this.parameter = details.parameter;
    this.index = details.index;
    this.value = details.value;
  }
}

/**
 * A short, printable rendering of any value for error messages. Never throws: it runs while
 * an error is being built, where a second error would hide the first (a detached DataView's
 * byteLength throws, a hostile constructor or Symbol.toStringTag getter may).
 */
export function describeValue(value: unknown): string {
  try {
    return describeValueUnsafe(value);
  } catch {
    return typeof value === 'object' && value !== null ? '[object (unprintable)]' : typeof value;
  }
}

function describeValueUnsafe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) {
    const length = 'length' in value ? (value as { length: number }).length : viewByteLength(value);
    return `${value.constructor.name}(${length})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  return Object.prototype.toString.call(value);
}

/** A DataView's byteLength, or "detached" (the getter throws on a detached or out-of-bounds view). */
function viewByteLength(view: ArrayBufferView): number | string {
  try {
    return view.byteLength;
  } catch {
    return 'detached';
  }
}

/** The type word used in messages: typed arrays by constructor name, null as null. */
export function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) {
    try {
      return value.constructor.name;
    } catch {
      return 'object';
    }
  }
  if (Array.isArray(value)) return 'Array';
  return typeof value;
}

/** Build the error for parameter `name` that expected `what` and received `value`. */
export function argumentError(name: string, what: string, value: unknown): CimmArgumentError {
  return new CimmArgumentError(
    name,
    what,
    `Expected ${what} for ${name} but received ${describeValue(value)} of type ${typeOf(value)}`,
  );
}

/** The same error for a parameter one level down ("momentum" → "baseOptions.momentum"); others unchanged. */
export function prefixError(error: unknown, prefix: string): unknown {
  if (!(error instanceof CimmArgumentError) || prefix === '') return error;
  const renamed = new CimmArgumentError(
    `${prefix}${error.parameter}`,
    error.expected,
    error.message.replace(` for ${error.parameter} but`, ` for ${prefix}${error.parameter} but`),
  );
  renamed.cause = error;
  return renamed;
}

/** One rejected row of a data file, with its 1-based line number. */
export interface BadRow {
  line: number;
  reason: string;
}

/** Thrown when a data file fails validation; `badRows` lists every rejected row. */
export class CimmDataError extends Error {
  readonly code = 'ERR_CIMM_DATA';
  constructor(
    message: string,
    readonly badRows: readonly BadRow[] = [],
  ) {
    super(message);
    this.name = 'CimmDataError';
  }
}
