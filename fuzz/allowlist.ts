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

export const KNOWN_FAILURES: readonly KnownFailure[] = [
  // Empty: every cause the harness found is fixed (docs/fuzzing.md lists them and where).
  // --- kernels -----------------------------------------------------------------------------
  // --- the public API ----------------------------------------------------------------------
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
