/**
 * The fuzz harness's runner: random calls of every kernel of every backend that loads and of
 * the public API on each backend, in batches, each batch in a child process (fuzz/child.ts).
 * A child that dies is a crash at the call it had started (its signal recorded); one that
 * stays silent past the call timeout is killed and is a hang; the batch then resumes after
 * that call. Every call is a pure function of (seed, index): a failure is printed with a
 * standalone reproducer (fuzz/reproduce.ts) and can be replayed with --replay.
 *
 *   npm run fuzz -- --calls 100000 --seed 1 [--backends rust,cpp] [--sets kernels,facade]
 *                   [--jobs 2] [--batch 5000] [--timeout 10] [--json out.json] [--allow FILE]
 *   npm run fuzz -- --replay kernels:cpp:1:1234
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { availableBackends } from '../lib/backend.js';
import { CLASSES, FAILURE_CLASSES, type OutcomeClass } from './classify.js';
import { uncoveredKernels } from './kernels.js';
import type { CallRecord } from './plan.js';
import { reproducer } from './reproduce.js';
import { makeCall, type TargetSetName } from './targets.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

export interface FuzzOptions {
  /** Calls per backend and target set. */
  calls: number;
  seed: number;
  backends?: string[];
  sets?: TargetSetName[];
  /** Child processes at once. */
  jobs?: number;
  /** Calls per child process. */
  batch?: number;
  /** Seconds without an answer before a call counts as a hang. */
  timeout?: number;
  /** Called with a line of progress now and then. */
  log?: (line: string) => void;
}

/** One failing call: where, what, and how to run it again. */
export interface Finding {
  set: TargetSetName;
  backend: string;
  seed: number;
  index: number;
  target: string;
  cls: OutcomeClass;
  detail: string;
  mutations: string[];
}

export interface FuzzRow {
  set: TargetSetName;
  backend: string;
  calls: number;
  counts: Record<OutcomeClass, number>;
  /** Per target: counts of each class seen. */
  targets: Record<string, Partial<Record<OutcomeClass, number>>>;
}

export interface FuzzReport {
  seed: number;
  calls: number;
  rows: FuzzRow[];
  findings: Finding[];
  seconds: number;
}

const emptyCounts = () => Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<OutcomeClass, number>;

interface Batch {
  set: TargetSetName;
  backend: string;
  from: number;
  to: number;
}

function tally(row: FuzzRow, target: string, cls: OutcomeClass): void {
  const t = row.targets[target] ?? {};
  t[cls] = (t[cls] ?? 0) + 1;
  row.targets[target] = t;
}

/** Run one batch to its end, restarting the child after a crash or hang. */
async function runBatch(b: Batch, o: Required<FuzzOptions>, row: FuzzRow, findings: Finding[]): Promise<void> {
  let from = b.from;
  while (from < b.to) {
    from = await new Promise<number>((resolve) => {
      const child: ChildProcess = spawn(
        process.execPath,
        [
          '--import',
          pathToFileURL(join(here, 'register.mjs')).href,
          join(here, 'child.ts'),
          b.set,
          b.backend,
          String(o.seed),
          String(from),
          String(b.to),
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { ...process.env, CIMM_BACKEND: '' } },
      );
      let started = -1;
      let finished = false;
      let stderr = '';
      let pending = '';
      let timer: NodeJS.Timeout | undefined;
      let hung = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          hung = true;
          child.kill('SIGKILL');
        }, o.timeout * 1000);
      };
      arm();
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      child.stdio[3]?.on('data', (d: Buffer) => {
        pending += d.toString();
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
          arm();
          if (line === 'done') finished = true;
          else if (line.startsWith('start ')) started = Number(line.slice(6));
          else {
            const out = JSON.parse(line) as { i: number; target: string; cls: OutcomeClass; detail?: string };
            const cls = out.cls;
            // `uncaught` reports the call that was running; it is an extra outcome, not the call's own.
            if (cls !== 'uncaught') row.calls++;
            row.counts[cls]++;
            const target = out.target === '?' ? makeCall(b.set, b.backend, o.seed, out.i).target : out.target;
            tally(row, target, cls);
            if (FAILURE_CLASSES.includes(cls)) record(out.i, cls, out.detail ?? '');
          }
        }
      });
      const record = (index: number, cls: OutcomeClass, detail: string) => {
        const call = makeCall(b.set, b.backend, o.seed, index);
        findings.push({
          set: b.set,
          backend: b.backend,
          seed: o.seed,
          index,
          target: call.target,
          cls,
          detail,
          mutations: call.mutations,
        });
      };
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (finished && code === 0) return resolve(b.to);
        // The call that was running when the child died or went silent.
        const at = Math.max(started, from);
        const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400);
        const cls: OutcomeClass = hung ? 'hang' : 'crash';
        row.calls++;
        row.counts[cls]++;
        const target = makeCall(b.set, b.backend, o.seed, at).target;
        tally(row, target, cls);
        record(
          at,
          cls,
          hung ? `no answer in ${o.timeout} s` : `${signal ?? `exit code ${code}`}${tail ? `: ${tail}` : ''}`,
        );
        resolve(at + 1);
      });
    });
  }
}

/** The whole run: every (set, backend) pair, `calls` calls each, in batches over `jobs` children. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const missing = uncoveredKernels();
  if (missing.length > 0) throw new Error(`fuzz/kernels.ts has no generator for ${missing.join(', ')}`);
  const o: Required<FuzzOptions> = {
    backends: availableBackends(),
    sets: ['kernels', 'facade'],
    jobs: Math.max(1, availableParallelism()),
    batch: 5000,
    timeout: 10,
    log: () => {},
    ...options,
  };
  const started = Date.now();
  const rows: FuzzRow[] = [];
  const findings: Finding[] = [];
  const batches: { batch: Batch; row: FuzzRow }[] = [];
  for (const backend of o.backends) {
    for (const set of o.sets) {
      const row: FuzzRow = { set, backend, calls: 0, counts: emptyCounts(), targets: {} };
      rows.push(row);
      for (let from = 0; from < o.calls; from += o.batch) {
        batches.push({ batch: { set, backend, from, to: Math.min(o.calls, from + o.batch) }, row });
      }
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const { batch, row } = batches[next++];
      await runBatch(batch, o, row, findings);
      o.log(
        `${batch.set} ${batch.backend} [${batch.from}, ${batch.to}) done (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, batches.length) }, worker));
  findings.sort((a, b) => a.backend.localeCompare(b.backend) || a.set.localeCompare(b.set) || a.index - b.index);
  return { seed: o.seed, calls: o.calls, rows, findings, seconds: (Date.now() - started) / 1000 };
}

const COLUMNS: [OutcomeClass, string][] = [
  ['named', 'named error'],
  ['unnamed', 'unnamed error'],
  ['jsException', 'JS exception'],
  ['result', 'result'],
  ['propagated', 'getter threw'],
  ['rejectedValid', 'valid rejected'],
  ['silentNaN', 'silent NaN'],
  ['inputWritten', 'input written'],
  ['oob', 'OOB write'],
  ['uncaught', 'uncaught'],
  ['crash', 'crash'],
  ['hang', 'hang'],
];

/** The per-backend table (markdown). */
export function formatTable(report: FuzzReport): string {
  const head = ['backend', 'set', 'calls', ...COLUMNS.map(([, t]) => t)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of report.rows) {
    lines.push(`| ${[r.backend, r.set, r.calls, ...COLUMNS.map(([c]) => r.counts[c])].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** One line per distinct failure cause: (backend, set, target, class, message without numbers), its first call and count. */
export function distinctFindings(findings: readonly Finding[]): { key: string; first: Finding; count: number }[] {
  const groups = new Map<string, { key: string; first: Finding; count: number }>();
  for (const f of findings) {
    // Numbers, strings, paths and the name after "for" (a bit flip garbles it) do not make a new cause.
    const shape = f.detail
      .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')
      .replace(/"[^"]*"/g, '"…"')
      .replace(/\/tmp\/\S+/g, '/tmp/…')
      .replace(/ for \S+ but/, ' for … but');
    const key = `${f.backend} ${f.set} ${f.target} ${f.cls}: ${shape}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { key, first: f, count: 1 });
  }
  return [...groups.values()];
}

export function callOf(f: Finding): CallRecord {
  return makeCall(f.set, f.backend, f.seed, f.index);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      backends: { type: 'string' },
      sets: { type: 'string' },
      jobs: { type: 'string' },
      batch: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'string' },
      replay: { type: 'string' },
      reproducers: { type: 'string', default: '3' },
    },
  });
  if (values.replay) {
    const [set, backend, seed, index] = values.replay.split(':');
    const call = makeCall(set as TargetSetName, backend, Number(seed), Number(index));
    console.log(reproducer(call));
    return;
  }
  const int = (name: string, v: string | undefined, min: number) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    return x;
  };
  const report = await runFuzz({
    calls: int('calls', values.calls, 1),
    seed: int('seed', values.seed, 0),
    ...(values.backends ? { backends: values.backends.split(',') } : {}),
    ...(values.sets ? { sets: values.sets.split(',') as TargetSetName[] } : {}),
    ...(values.jobs ? { jobs: int('jobs', values.jobs, 1) } : {}),
    ...(values.batch ? { batch: int('batch', values.batch, 1) } : {}),
    ...(values.timeout ? { timeout: int('timeout', values.timeout, 1) } : {}),
    log: (line) => console.error(line),
  });
  console.log(
    `cimm fuzz: seed ${report.seed}, ${report.calls} calls per backend and set, ${report.seconds.toFixed(0)} s\n`,
  );
  console.log(formatTable(report));
  const distinct = distinctFindings(report.findings);
  const perCause = int('reproducers', values.reproducers, 0);
  if (distinct.length > 0) console.log(`\n${distinct.length} distinct failure causes:`);
  for (const [i, d] of distinct.entries()) {
    console.log(
      `\n${d.count}× ${d.key}\n   first: --replay ${d.first.set}:${d.first.backend}:${d.first.seed}:${d.first.index} (${d.first.mutations.join('; ') || 'valid call'})`,
    );
    if (i < perCause) console.log(reproducer(callOf(d.first)));
  }
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ ...report, distinct: distinct.map((d) => ({ key: d.key, count: d.count, first: d.first })) }, null, 1)}\n`,
    );
  }
  process.exitCode = report.findings.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
