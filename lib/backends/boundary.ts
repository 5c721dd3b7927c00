/**
 * The JS side of the native boundary for options objects (docs/boundary.md, "Options
 * objects at the native boundary"). BOUNDARY_OPTIONS (lib/kernels.ts) says, for every kernel
 * that takes an options object, where the object sits (`at`), its name in errors and its
 * fields in order; natively the object is replaced in place by its fields as positional
 * scalars (a field that is one of a list of names crosses as its index).
 * `positional(kernel, native)` turns such a native function back into the kernel's own
 * signature: it reads the object once, each field once (one property read: a getter runs
 * once), in the declared order, checks each field's kind, and calls the addon with plain
 * numbers and booleans — so no user code runs during the native call, and a property read
 * costs what a JS property read costs (a Node-API read costs hundreds of ns). Ranges,
 * finiteness and integrality stay checked natively.
 *
 * The types below derive each addon function's positional signature from the Kernels
 * interface and the generated BoundaryLayout (BOUNDARY_OPTIONS's field order at type level),
 * so no field order is written by hand outside BOUNDARY_OPTIONS.
 */
import { argumentError } from '../errors.js';
import {
  type AnyKernels,
  type AsyncKernelName,
  BOUNDARY_OPTIONS,
  type BoundaryOptions,
  type OptionsKernelName,
} from '../kernels.js';
import type { BoundaryLayout } from './boundary-layout.js';
import { READERS } from './boundary-readers.js';

/**
 * The native side of an async call's abort: the addon's task holds it and checks it between
 * work units (crate/src/binding/abort.rs, native/src/binding/async_worker.hpp).
 */
export interface NativeAbortFlag {
  raise(): void;
}

/** An async kernel's arguments with the addon's AbortFlag in place of the trailing AbortSignal. */
type Flagged<P extends unknown[]> = P extends [...infer Init, (AbortSignal | undefined)?]
  ? [...Init, flag: NativeAbortFlag]
  : never;

/** A kernel's arguments as a native backend's JS side passes them on (async: with the flag). */
export type KernelArgs<K extends keyof AnyKernels> = K extends AsyncKernelName
  ? Flagged<Parameters<AnyKernels[K]>>
  : Parameters<AnyKernels[K]>;

/** How a field's value crosses: a boolean as a boolean, a number as a number, a name as its index. */
type Crossing<T> = [T] extends [boolean] ? boolean : number;

/** Kernel K's options object type. */
type OptionsOf<K extends OptionsKernelName> = KernelArgs<K>[BoundaryLayout[K]['at']];

/** The values of fields `Names` of object type O, in that order, as they cross. */
type Crossed<O, Names extends readonly unknown[]> = { [I in keyof Names]: Crossing<O[Names[I] & keyof O]> };

/** Kernel K's fields as they cross, in order. */
export type BoundaryFields<K extends OptionsKernelName> = Crossed<OptionsOf<K>, BoundaryLayout[K]['fields']>;

/** P with its element at index A replaced by the elements of F. */
type Splice<
  P extends unknown[],
  A extends number,
  F extends unknown[],
  Head extends unknown[] = [],
> = Head['length'] extends A
  ? P extends [unknown, ...infer Tail]
    ? [...Head, ...F, ...Tail]
    : never
  : P extends [infer X, ...infer Rest]
    ? Splice<Rest, A, F, [...Head, X]>
    : never;

/** Kernel K's arguments as the addon takes them: the options object replaced by its fields. */
export type PositionalArgs<K extends OptionsKernelName> = Splice<
  KernelArgs<K>,
  BoundaryLayout[K]['at'],
  BoundaryFields<K>
>;

/** Kernel K as an addon exports it. */
export type NativeKernel<K extends keyof AnyKernels> = (
  ...args: K extends OptionsKernelName ? PositionalArgs<K> : KernelArgs<K>
) => ReturnType<AnyKernels[K]>;

/** Kernel K as the native backends' JS side calls it: with its options object. */
export type ObjectKernel<K extends keyof AnyKernels> = (...args: KernelArgs<K>) => ReturnType<AnyKernels[K]>;

// ---- compile-time checks: the generated layout is BOUNDARY_OPTIONS's, and fits the interface ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** One layout per kernel of BOUNDARY_OPTIONS, no other (else boundary-layout.ts is stale: `npm run gen`). */
const layoutPerKernel: Same<keyof BoundaryLayout, OptionsKernelName> = true;
/** The kernels whose layout does not name exactly the fields of their options object. */
type Misnamed = {
  [K in OptionsKernelName]: Same<BoundaryLayout[K]['fields'][number], keyof OptionsOf<K>> extends true ? never : K;
}[OptionsKernelName];
/** A compile error names such a kernel. */
const layoutNamesEveryField: [Misnamed] extends [never] ? true : Misnamed = true;
void layoutPerKernel;
void layoutNamesEveryField;

// ---- the reader ----

type Field = readonly [name: string, kind: BoundaryOptions['fields'][string]];
/** A native function or a reader, as the builders below see them (typed by `positional`). */
type AnyFunction = (...args: unknown[]) => unknown;

/** The error for field `j` (or, with j = −1, the object itself) of an options argument. */
function fieldError(b: BoundaryOptions, fields: readonly Field[], j: number, value: unknown) {
  if (j < 0) return argumentError(b.name, 'an options object', value);
  const [name, kind] = fields[j];
  const what =
    kind === 'number'
      ? 'a number'
      : kind === 'boolean'
        ? 'a boolean'
        : `one of ${kind.map((c) => JSON.stringify(c)).join(', ')}`;
  return argumentError(`${b.name}.${name}`, what, value);
}

/** Whether `o` can be an options object: a non-null object, not an array or a typed array (or DataView). */
function isOptionsObject(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && !ArrayBuffer.isView(o);
}

/** What the native function's exceptions become (lib/backends/native.ts: fromNativeError). */
export type MapError = (error: unknown) => unknown;

export interface PositionalOptions {
  /** Applied to what the native call throws (not to the reader's own errors); default: as it is. */
  mapError?: MapError;
}

/** What a generated reader (lib/backends/boundary-readers.ts) is built from. */
export interface ReaderParts {
  /** The addon's function, taking the fields positionally. */
  native: AnyFunction;
  /** The error for field j of the options argument (j = −1: the argument itself). */
  bad: (j: number, value: unknown) => Error;
  isOptionsObject: (o: unknown) => o is Record<string, unknown>;
  mapError: MapError;
}

/**
 * Kernel `kernel` (one of BOUNDARY_OPTIONS) with its options object, calling `native`, the
 * addon's function that takes the fields positionally. Built once per kernel at load. A
 * non-object options argument is a CimmArgumentError naming `options`/`params`; a field of
 * the wrong kind one naming `options.<field>`/`params.<field>`, before the native call.
 * Arguments after the object (arrays, an async kernel's flag) are passed on as they are. The
 * error mapping lives in the reader (one per kernel) rather than in a wrapper around it: a
 * wrapper shared by every kernel is one call site for all of them, which V8 cannot inline.
 */
export function positional<K extends OptionsKernelName>(
  kernel: K,
  native: NativeKernel<K>,
  { mapError = (error) => error }: PositionalOptions = {},
): ObjectKernel<K> {
  if (!Object.hasOwn(BOUNDARY_OPTIONS, kernel)) {
    throw new Error(`positional: ${String(kernel)} takes no options object (BOUNDARY_OPTIONS)`);
  }
  const b: BoundaryOptions = BOUNDARY_OPTIONS[kernel];
  const fields = Object.entries(b.fields);
  const bad = (j: number, value: unknown) => fieldError(b, fields, j, value);
  const reader = READERS[kernel]({ native: native as unknown as AnyFunction, bad, isOptionsObject, mapError });
  return reader as unknown as ObjectKernel<K>;
}
