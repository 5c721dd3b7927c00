/**
 * The queue's parts of the command line (lib/cli/main.ts calls these): `cimm worker`, and
 * the `--queue` forms of `train` and `compare`. Kept here so main.ts only dispatches.
 */
import type { CompareReport } from '../compare/index.js';
import { checkRedis, displayUrl } from './connection.js';
import type { FailedRun } from './coordinator.js';
import { startWorker } from './worker.js';

/** Parsed options of one command (commander's values). */
type Values = Record<string, string | boolean | undefined>;

/** Options of `cimm train` that are about where the job runs or saves, not what it computes. */
const NOT_PART_OF_THE_RUN = new Set(['queue', 'checkpoint', 'checkpointStore', 'resume', 'json']);

/**
 * The `cimm train` arguments of a queued job, from the parsed options: every option that
 * determines the run, sorted by name, so the same run gives the same job id however its
 * options were ordered.
 */
export function trainArgs(v: Values): string[] {
  const out: string[] = [];
  for (const key of Object.keys(v).sort()) {
    const value = v[key];
    if (NOT_PART_OF_THE_RUN.has(key) || value === undefined || value === false) continue;
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    out.push(...(value === true ? [flag] : [flag, String(value)]));
  }
  return out;
}

/**
 * `cimm worker --queue URL [--concurrency N] [--lock-duration MS] [--verbose]`: run jobs
 * until SIGTERM or SIGINT, then finish the comparison runs in hand, hand training jobs back
 * at their checkpoint, and exit 0.
 */
export async function workerCommand(options: {
  url: string;
  concurrency: number;
  lockDuration: number;
  verbose: boolean;
}): Promise<number> {
  const log = options.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  await checkRedis(options.url); // an unreachable Redis or a wrong eviction policy fails before anything starts
  const worker = await startWorker({ ...options, ...(log ? { log } : {}) });
  process.stderr.write(
    `cimm worker: taking jobs from ${displayUrl(options.url)} (concurrency ${options.concurrency}); SIGTERM or Ctrl-C stops it\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.stderr.write(`cimm worker: ${signal}: finishing the jobs in hand\n`);
      resolve();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await worker.close();
  process.stderr.write(`cimm worker: stopped after ${worker.completed.length} job(s)\n`);
  return 0;
}

/** The report with the failed runs added (only when there are some: a clean report is the local one). */
export function withFailures(report: CompareReport, failed: FailedRun[]): CompareReport & { failed?: FailedRun[] } {
  return failed.length ? { ...report, failed } : report;
}
