/**
 * THE allowlist of known failures: the one place where the CI fuzz test (test/fuzz.test.ts)
 * is told to skip a failing class, each entry with the cause, the owner of the fix and a
 * reproducer (docs/notes-fuzz.md lists them in full). The harness itself hides nothing: the
 * table and `npm run fuzz` count and print every finding, allowlisted or not, and exit
 * non-zero on any. Empty this list as the fixes land; an entry that matches nothing in a
 * run is reported by the test so that a stale entry does not linger.
 */
import type { OutcomeClass } from './classify.js';
import type { Finding } from './run.js';

export interface KnownFailure {
  /** Backends it applies to. */
  backends: readonly string[];
  set: 'kernels' | 'facade';
  cls: OutcomeClass;
  /** Targets it applies to (a kernel or facade export name); all when absent. */
  targets?: readonly string[];
  /** The finding's detail must match (the error message, or the signal). */
  detail?: RegExp;
  /** The call's mutations (in words) must match. */
  mutation?: RegExp;
  /** The cause, in one line, and who fixes it. */
  reason: string;
  /** Found by the long runs only: the short CI run need not meet it (exempt from the stale-entry check). */
  rare?: boolean;
}

const NATIVE = ['rust', 'cpp', 'wasm'] as const;
const ALL = ['rust', 'cpp', 'wasm', 'js'] as const;

export const KNOWN_FAILURES: readonly KnownFailure[] = [
  // --- kernels -------------------------------------------------------------------------
  {
    backends: ['wasm'],
    set: 'kernels',
    cls: 'jsException',
    targets: ['matmulAsync'],
    detail: /Invalid typed array length/,
    reason:
      'the wasm glue reads params twice: a getter changes m/n/k between the check and the allocation (read once; wasm helper)',
    rare: true,
  },
  {
    backends: ['wasm'],
    set: 'kernels',
    cls: 'hang',
    targets: ['matmulAsync'],
    mutation: /getter on params\.(m|n|k) that does flip/,
    reason:
      'the wasm glue reads params twice: a getter turns n into 2³² after the check and the call runs past the timeout (read once; wasm helper)',
    rare: true,
  },
  {
    backends: NATIVE,
    set: 'kernels',
    cls: 'uncaught',
    detail: /unhandled rejection: CimmArgumentError/,
    reason:
      "lib/async.ts abortable starts the work, then signal.addEventListener throws for a signal that is not an AbortSignal: the work's own rejection is left unhandled (reported at a later call; lead)",
  },
  {
    backends: NATIVE,
    set: 'kernels',
    cls: 'jsException',
    targets: ['matmulAsync', 'localEnergyAsync', 'energyFlowRunAsync'],
    detail: /addEventListener is not a function/,
    reason:
      'lib/async.ts abortable calls signal.addEventListener on a signal that is not an AbortSignal: a TypeError naming nothing (lead)',
  },
  // --- the public API ----------------------------------------------------------------------
  {
    backends: ALL,
    set: 'facade',
    cls: 'unnamed',
    targets: ['fuzzTrainerFit'],
    detail: /for grads\[/,
    reason:
      'Trainer.fit does not check that x and y are finite: ±∞ in the data surfaces as the optimizer\'s error about grads["0.weight"], naming neither x nor y (lead: lib/train/trainer.ts)',
    rare: true,
  },
  {
    backends: ALL,
    set: 'facade',
    cls: 'jsException',
    detail: /DataView\.prototype\.byteLength on a detached ArrayBuffer/,
    reason: 'describeValue (lib/errors.ts) reads byteLength of a detached DataView while writing the error (lead)',
    rare: true,
  },
  {
    backends: ['wasm'],
    set: 'facade',
    cls: 'unnamed',
    detail: /whose buffer is not detached/,
    reason:
      "an options getter detaches an input after the facade validated it: the wasm kernel rejects the detached array, naming its own parameter (z for the facade's x); the facade must validate after reading options (alias helper, lead)",
  },
  {
    backends: ALL,
    set: 'facade',
    cls: 'jsException',
    detail: /on a detached ArrayBuffer/,
    reason:
      'an options getter (or a detached input) leaves a detached array that the facade or a js/wasm kernel then copies (TypedArray set/slice → TypeError; validate after reading options: alias helper, lead, wasm helper)',
  },
  {
    backends: ['js'],
    set: 'facade',
    cls: 'hang',
    targets: ['nonlocalEnergy'],
    mutation: /getter on options\.\w+ that does shrink/,
    reason:
      'nonlocalEnergy reads its options after checking x and y: a getter shrinks x to length 0 and the js kernel loops forever with d = 0 (alias helper: read options first; lead: js reference)',
    rare: true,
  },
  {
    backends: ['js'],
    set: 'facade',
    cls: 'jsException',
    targets: ['nonlocalEnergy', 'hermitianEigenvalues'],
    detail: /^RangeError: cimm: /,
    reason:
      'an options getter detaches an input after validation; the js kernel reads undefined and the facade reports a plain RangeError (overflow, no convergence) naming no parameter (alias helper)',
  },
];

/** The allowlist entry a finding falls under, if any. */
export function knownFailure(f: Finding, list: readonly KnownFailure[] = KNOWN_FAILURES): KnownFailure | undefined {
  return list.find(
    (k) =>
      k.backends.includes(f.backend) &&
      k.set === f.set &&
      k.cls === f.cls &&
      (!k.targets || k.targets.includes(f.target)) &&
      (!k.detail || k.detail.test(f.detail)) &&
      (!k.mutation || k.mutation.test(f.mutations.join('; '))),
  );
}
