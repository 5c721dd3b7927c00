/**
 * One queued comparison run, executed: the same `runJob` the local worker-thread pool calls
 * (lib/compare/pool.ts, worker.ts), on the backend and cimm version the coordinator named,
 * so a run gives the same numbers whichever worker, machine or thread runs it.
 */
import '../index.js';
import { kernels, setBackend } from '../backend.js';
import { runJob } from '../compare/run.js';
import { packageVersion } from '../paths.js';
import { encodeNumbers, type RunSpec } from './jobs.js';

/** Refuse a job enqueued by another cimm version: its result would not be the one its id names. */
export function checkVersion(version: string): void {
  if (version !== packageVersion()) {
    throw new Error(
      `the job was enqueued by cimm ${version}, this worker runs cimm ${packageVersion()}: run workers of the coordinator's version`,
    );
  }
}

/** Run `spec` here; the result with NaN, ±Infinity and −0 encoded for JSON (encodeNumbers). */
export async function executeRun(spec: RunSpec): Promise<unknown> {
  checkVersion(spec.version);
  if (kernels().describe().name !== spec.backend) setBackend(spec.backend);
  // awaited: the same code serves a runJob that returns its result or a promise of it
  return encodeNumbers(await runJob({ id: 0, ...spec.job }));
}
