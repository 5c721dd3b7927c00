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
const FLOW = ['energyFlowStep', 'energyFlowMaxStep', 'energyFlowRunAsync', 'laplacian'];

export const KNOWN_FAILURES: readonly KnownFailure[] = [
  // --- kernels -------------------------------------------------------------------------
  {
    backends: ['rust', 'cpp'],
    set: 'kernels',
    cls: 'crash',
    targets: FLOW,
    mutation: /getter on params\.\w+ that does (shrink|detach|transfer)|valueOf does (shrink|detach|transfer)/,
    reason:
      'a params getter shrinks or detaches an array after the binding took its data pointer: use after free, SIGSEGV (issue 15 item 3; rust and cpp helpers)',
  },
  {
    backends: ['rust'],
    set: 'kernels',
    cls: 'unnamed',
    reason:
      'napi-rs conversion errors name no parameter ("Failed to convert napi value … into rust type `f64`", "Get TypedArray info failed", "Expected $name, got N"; issue 15 item 5; rust helper)',
  },
  {
    backends: ['rust'],
    set: 'kernels',
    cls: 'jsException',
    detail: /Cannot convert undefined or null to object/,
    reason: 'lib/backends/rust.ts reads a null or undefined params object before the addon checks it (rust helper)',
  },
  {
    backends: ['wasm'],
    set: 'kernels',
    cls: 'jsException',
    detail: /on a detached ArrayBuffer/,
    reason:
      'the wasm glue copies a detached array (TypedArray set/slice/every → engine TypeError naming nothing; wasm helper)',
  },
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
    cls: 'jsException',
    targets: [
      'sgdStep',
      'adamStep',
      'prodigyAccumulate',
      'prodigyUpdate',
      'matmul',
      'coupling',
      'scaleTransition',
      'nonlocalEnergy',
      'updateEnergy',
      'laplacian',
    ],
    detail: /Cannot read properties of (null|undefined)/,
    reason:
      'the temporary positional adapter (lib/backends/positional.ts) reads the fields of a null or undefined options object (lead; goes when the bindings take the objects)',
  },
  // --- the public API ----------------------------------------------------------------------
  {
    backends: ALL,
    set: 'facade',
    cls: 'unnamed',
    targets: ['fuzzStateBytes'],
    reason:
      'restoreOptimizer of corrupted bytes: the error names a garbled option or nothing, never the state and its field (issue 15 item 6; state helper)',
  },
  {
    backends: NATIVE,
    set: 'facade',
    cls: 'unnamed',
    targets: ['fuzzOptimizerStep'],
    detail: /for values but|a value of type number/,
    reason:
      'a grads getter hands the check an array and the kernel NaN; the kernel then names its own `values` (read grads once; state helper)',
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
