/**
 * `npm run bench`: every kernel at small, medium and large sizes on every backend that
 * loads, agreement asserted before timing, a table of ops/s and ratios to js, and the rows
 * written to bench/results/latest.json.
 *
 * Options: --quick (1 round, short timings), --rounds N, --max-time S, --filter REGEX,
 * --out FILE.
 */
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { availableBackends, backendInfo, getBackend } from '../lib/backend.js';
import { packageRoot } from '../lib/paths.js';
import { asyncCases, asyncReport } from './cases/async.js';
import { balanceCases, balanceReport } from './cases/balance.js';
import { energyCases } from './cases/energy.js';
import { fitReport, fitRows } from './cases/fit.js';
import { flowCases } from './cases/flow.js';
import { fractalCases, fractalSummary } from './cases/fractal.js';
import { nnCases } from './cases/nn.js';
import { optimCases, optimReport } from './cases/optim.js';
import { prodigyCases, prodigyReport } from './cases/prodigy.js';
import { qdtCases } from './cases/qdt.js';
import { tfjsCases, tfjsReport } from './cases/tfjs.js';
import { type BenchCase, type BenchRow, formatTable, runCase } from './harness.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'max-time': { type: 'string' },
    filter: { type: 'string' },
    out: { type: 'string' },
  },
});

const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
const maxTime = Number(values['max-time'] ?? (values.quick ? 0.2 : 1));
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
if (!(maxTime > 0)) throw new Error(`--max-time must be a positive number of seconds, got ${values['max-time']}`);
const filter = values.filter ? new RegExp(values.filter) : undefined;
const outFile = values.out ?? join(packageRoot(), 'bench', 'results', 'latest.json');

const backends = availableBackends().map((name) => getBackend(name));
const info = backendInfo();
console.log(
  `cimm bench: backends ${backends.map((b) => b.name).join(', ')}; active ${info.name} (${info.simdPath}, ` +
    `${info.threads} threads, CPU ${info.cpuFeatures.join(' ') || 'n/a'}); ${rounds} round(s) × ${maxTime}s`,
);

const cases: BenchCase[] = [
  ...energyCases(backends),
  ...flowCases(backends),
  ...qdtCases(backends),
  ...(await optimCases(backends)),
  ...balanceCases(backends),
  ...prodigyCases(backends),
  ...fractalCases(backends, filter),
  ...nnCases(backends),
  ...tfjsCases(backends),
]
  .filter((c) => !filter || filter.test(`${c.kernel} ${c.size}`))
  // Cases with a `prepare` hook (they load a peer such as TensorFlow.js, which slows plain JS
  // in the whole process) run last, in their order; every other js baseline is measured first.
  .sort((a, b) => Number(a.prepare !== undefined) - Number(b.prepare !== undefined));

const rows: BenchRow[] = [];
// Training (Trainer.fit, sync and async) has its own timer, since benchmark.js cannot time
// a promise (bench/cases/fit.ts); it runs before any peer loads, like the js baselines.
let fitRowsDone = false;
const fitRowsOnce = async () => {
  if (fitRowsDone) return;
  fitRowsDone = true;
  rows.push(...(await fitRows(backends, { rounds, maxTime, filter, log: (s) => process.stdout.write(s) })));
};
for (const c of cases) {
  if (c.prepare) await fitRowsOnce();
  process.stdout.write(`  ${c.kernel} ${c.size} …`);
  await c.prepare?.();
  const caseRows = runCase(c, { rounds, maxTime });
  rows.push(...caseRows);
  process.stdout.write(` ${caseRows.map((r) => `${r.backend} ${r.hz.toPrecision(3)}/s`).join(', ')}\n`);
}

await fitRowsOnce();
// The async rows are timed outside the harness (awaited calls), interleaved with their sync twin.
rows.push(...(await asyncCases(backends, { rounds, maxTime, filter })));

console.log(`\n${formatTable(rows)}\n`);
for (const line of fractalSummary(rows)) console.log(line);
for (const line of optimReport(rows)) console.log(line);
for (const line of balanceReport(rows)) console.log(line);
for (const line of prodigyReport(rows)) console.log(line);
for (const line of fitReport(rows)) console.log(line);
for (const line of tfjsReport(rows)) console.log(line);
for (const line of asyncReport(rows)) console.log(line);
writeFileAtomic(outFile, `${JSON.stringify(rows, null, 2)}\n`);
console.log(`wrote ${rows.length} rows to ${relative(process.cwd(), outFile) || outFile}`);
