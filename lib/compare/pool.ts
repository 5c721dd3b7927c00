/**
 * Run comparison jobs on a pool of min(workers, jobs) worker threads. Each job is
 * independent and deterministic, and results are returned in job order, so a parallel
 * run equals a serial one (test/compare.test.ts checks it). `workers: 0` runs serially
 * in this thread. An aborted signal stops dispatching, ends the workers and returns the
 * jobs that completed.
 */
import { Worker } from 'node:worker_threads';
import '../index.js';
import { type JobResult, runJob } from './run.js';
import type { Job } from './spec.js';

export interface PoolOptions {
  /** Worker threads (0: run in this thread). */
  workers: number;
  /** Called after each job completes (progress bars, partial reports). */
  onResult?: (result: JobResult, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface PoolOutcome {
  results: JobResult[];
  /** True when the signal stopped the run before every job completed. */
  aborted: boolean;
}

export async function runJobs(jobs: readonly Job[], options: PoolOptions): Promise<PoolOutcome> {
  const { signal, onResult } = options;
  const results: JobResult[] = [];
  const n = Math.min(options.workers, jobs.length);
  if (n <= 0) {
    for (const job of jobs) {
      if (signal?.aborted) break;
      const r = runJob(job);
      results.push(r);
      onResult?.(r, results.length, jobs.length);
      // yield so a SIGINT handler can run between jobs
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { results: byId(results), aborted: results.length < jobs.length };
  }

  const url = new URL('./worker.js', import.meta.url);
  const workers: Worker[] = [];
  let next = 0;
  return await new Promise<PoolOutcome>((resolve, reject) => {
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      Promise.all(workers.map((w) => w.terminate())).then(() => {
        if (error) reject(error);
        else resolve({ results: byId(results), aborted: results.length < jobs.length });
      }, reject);
    };
    const onAbort = () => finish();
    signal?.addEventListener('abort', onAbort);
    const dispatch = (w: Worker) => {
      if (signal?.aborted || next >= jobs.length) return;
      w.postMessage(jobs[next++]);
    };
    for (let i = 0; i < n; i++) {
      const w = new Worker(url);
      workers.push(w);
      w.on('message', (msg: { ok: true; result: JobResult } | { ok: false; id: number; error: string }) => {
        if (settled) return;
        if (!msg.ok) {
          finish(new Error(`job ${msg.id} failed: ${msg.error}`));
          return;
        }
        results.push(msg.result);
        onResult?.(msg.result, results.length, jobs.length);
        if (results.length === jobs.length) finish();
        else dispatch(w);
      });
      w.on('error', (e) => finish(e));
      dispatch(w);
    }
    if (signal?.aborted) finish();
  });
}

function byId(results: JobResult[]): JobResult[] {
  return results.sort((a, b) => a.id - b.id);
}
