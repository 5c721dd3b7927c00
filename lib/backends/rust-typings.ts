/**
 * A compile-time check, no run-time code: the typings napi-rs generates for the Rust addon
 * (crate/index.d.cts, written by `npm run build:rust` from the `#[napi]` signatures and their
 * `ts_arg_type`s, and committed so that a clone type-checks before any build) must be
 * assignable to what the facade calls, `NativeAddon` (lib/backends/native.ts, from the
 * `Kernels` interface). `npm run typecheck` then fails when a Rust export drifts from the
 * interface: an argument missing, added, of another type, or two arguments of different
 * types swapped; with options objects, a field missing, misnamed or mistyped.
 *
 * The interface's methods are compared as function-typed properties (`Strict`), so that
 * parameters are checked contravariantly (a method's parameters are bivariant in TypeScript:
 * a Float32Array export would pass for a `Float32Array | Float64Array` parameter).
 */
import type * as RustAddon from '../../crate/index.cjs';
import type { NativeAddon } from './native.js';

/** T's methods as function-typed properties (strictly checked parameters). */
type Strict<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => R : T[K];
};

type Assignable<Actual extends Expected, Expected> = Actual;

/**
 * Compiles only while the Rust addon's generated typings fit the kernels interface. Not
 * exported, so that the shipped declarations (dist/) never reference crate/index.d.cts, which
 * the package does not contain; tsc checks the constraint all the same.
 */
// biome-ignore lint/correctness/noUnusedVariables: a compile-time check, used by nothing
type RustAddonTypings = Assignable<Strict<typeof RustAddon>, Strict<NativeAddon>>;
