/**
 * The short fuzz run (issue 15, item 4): every kernel of every backend that loads, 10⁴ calls
 * each with a fixed seed, and the public API on each backend, each batch in a child process
 * (fuzz/run.ts). One test per backend and failure class: it fails with the reproducers of
 * what it found, or is skipped with the reason when every finding of that class is on the
 * allowlist (fuzz/allowlist.ts, the only place that may excuse one). The long run is
 * `npm run fuzz -- --calls 100000 --seed N` (docs/notes-fuzz.md).
 *
 * CIMM_FUZZ_CALLS and CIMM_FUZZ_FACADE_CALLS change the counts (e.g. for a sanitizer build).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { KNOWN_FAILURES, knownFailure } from '../fuzz/allowlist.js';
import { FAILURE_CLASSES } from '../fuzz/classify.js';
import { reproducer } from '../fuzz/reproduce.js';
import { callOf, distinctFindings, type Finding, type FuzzReport, formatTable, runFuzz } from '../fuzz/run.js';
import { backends } from './helpers.js';

const SEED = 20_261_204;
const CALLS = Number(process.env.CIMM_FUZZ_CALLS ?? 10_000);
const FACADE_CALLS = Number(process.env.CIMM_FUZZ_FACADE_CALLS ?? 2_000);
const names = backends.map((b) => b.name);

let kernelsRun: FuzzReport;
let facadeRun: FuzzReport;

beforeAll(async () => {
  kernelsRun = await runFuzz({ calls: CALLS, seed: SEED, backends: names, sets: ['kernels'] });
  facadeRun = await runFuzz({ calls: FACADE_CALLS, seed: SEED, backends: names, sets: ['facade'] });
  console.log(
    `fuzz (seed ${SEED}): kernels ${kernelsRun.seconds.toFixed(0)} s, facade ${facadeRun.seconds.toFixed(0)} s`,
  );
  console.log(formatTable({ ...kernelsRun, rows: [...kernelsRun.rows, ...facadeRun.rows] }));
}, 900_000);

function explain(findings: readonly Finding[]): string {
  return distinctFindings(findings)
    .map((d) => `${d.count}× ${d.key}\n${reproducer(callOf(d.first))}`)
    .join('\n\n');
}

describe.each(names)('fuzz [%s]', (backend) => {
  test('every call answered and was counted', () => {
    for (const run of [kernelsRun, facadeRun]) {
      for (const row of run.rows.filter((r) => r.backend === backend)) {
        expect(row.calls, `${row.set} calls`).toBe(run.calls);
      }
    }
  });

  for (const set of ['kernels', 'facade'] as const) {
    test.for(FAILURE_CLASSES)(`${set}: no %s`, (cls, ctx) => {
      const run = set === 'kernels' ? kernelsRun : facadeRun;
      const found = run.findings.filter((f) => f.backend === backend && f.cls === cls);
      const unknown = found.filter((f) => !knownFailure(f));
      expect(unknown.length, `${unknown.length} ${cls} finding(s):\n${explain(unknown)}`).toBe(0);
      if (found.length > 0) {
        const reasons = [...new Set(found.map((f) => knownFailure(f)?.reason))];
        ctx.skip(`${found.length} known (fuzz/allowlist.ts): ${reasons.join('; ')}`);
      }
    });
  }
});

test('every allowlist entry still matches something (an entry for a fixed cause is removed)', (ctx) => {
  if (CALLS < 10_000 || FACADE_CALLS < 2_000) ctx.skip('a shorter run than the allowlist was made for');
  const all = [...kernelsRun.findings, ...facadeRun.findings];
  const stale = KNOWN_FAILURES.filter(
    (k) => !k.rare && names.some((b) => k.backends.includes(b)) && !all.some((f) => knownFailure(f, [k]) === k),
  );
  expect(stale.map((k) => k.reason)).toEqual([]);
});
