/**
 * The coordinator of a comparison on the queue (`cimm compare --queue URL`): enqueues every
 * run of the plan as a BullMQ job whose id is the hash of what determines its result
 * (jobs.ts), so runs already in Redis — from an earlier, interrupted coordinator, or from
 * another one running the same plan — are reused, not run again; then gathers the results
 * in plan order, as the local pool does, so the same plan gives the same report.
 *
 * Results arrive two ways: BullMQ's event stream (QueueEvents: fast, carries the result)
 * and a reconciliation pass over the runs still pending every `reconcileMs` (reads each
 * job's state and result from its key: catches whatever the stream missed, as across a
 * Redis restart). A result is recorded once per run, however often it is seen.
 */
import { type JobsOptions, Queue, QueueEvents } from 'bullmq';
import type { PoolOutcome } from '../compare/pool.js';
import type { JobResult } from '../compare/run.js';
import type { Job } from '../compare/spec.js';
import { integer } from '../is.js';
import { checkRedis, KEY_PREFIX, QUEUE_NAME, redisOptions } from './connection.js';
import { COMPARE_RUN, decodeNumbers, jobId, runSpec } from './jobs.js';

export interface QueueRunOptions {
  /** The queue's Redis URL. */
  url: string;
  /** Called once per run as its result arrives (reused results first). */
  onResult?: (result: JobResult, done: number, total: number) => void;
  /** Stops waiting (the jobs stay queued: a later coordinator picks them up). */
  signal?: AbortSignal;
  /** Retry runs that failed in an earlier sweep (default: report them failed again). */
  retryFailed?: boolean;
  /** Milliseconds between reconciliation passes (default 2,000). */
  reconcileMs?: number;
}

/** A run whose job failed: which run, and the error. */
export interface FailedRun {
  id: number;
  task: string;
  optimizer: string;
  lr: number | null;
  seed: number;
  error: string;
}

export interface QueueOutcome extends PoolOutcome {
  /** Runs whose job failed (threw, or its worker died more often than allowed). */
  failed: FailedRun[];
  /** Runs whose result was already in Redis when the sweep started. */
  reused: number;
  /** Runs this coordinator added to the queue. */
  enqueued: number;
}

/** Job options: keep every result and failure (they are the store), one attempt (runs are deterministic). */
const JOB_OPTIONS: JobsOptions = { removeOnComplete: false, removeOnFail: false, attempts: 1 };

/** Run `jobs` on the queue at `options.url` and gather their results in plan order. */
export async function runOnQueue(jobs: readonly Job[], options: QueueRunOptions): Promise<QueueOutcome> {
  const reconcileMs = integer('reconcileMs', options.reconcileMs ?? 2000, { min: 10 });
  await checkRedis(options.url);
  const connection = redisOptions(options.url);
  const specs = jobs.map((j) => runSpec(j));
  // runs by job id (a plan lists each run once, but two entries of one run would share it)
  const plan = new Map<string, number[]>();
  specs.forEach((s, i) => {
    const id = jobId(COMPARE_RUN, s);
    plan.set(id, [...(plan.get(id) ?? []), i]);
  });
  const pending = new Set(plan.keys());
  const results: JobResult[] = [];
  const failed: FailedRun[] = [];

  const queue = new Queue(QUEUE_NAME, { connection, prefix: KEY_PREFIX });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: KEY_PREFIX });
  // each reconnects by itself; reconcile() catches up with what was missed
  queue.on('error', () => {});
  events.on('error', () => {});

  const complete = (id: string, value: unknown) => {
    if (!pending.delete(id)) return;
    for (const i of plan.get(id) ?? []) {
      const r = decodeNumbers(value) as JobResult;
      r.id = jobs[i].id; // the position in this plan (the job's data leaves it out)
      results.push(r);
      options.onResult?.(r, results.length, jobs.length);
    }
  };
  const fail = (id: string, error: string) => {
    if (!pending.delete(id)) return;
    for (const i of plan.get(id) ?? []) {
      const j = jobs[i];
      failed.push({ id: j.id, task: j.task, optimizer: j.optimizer, lr: j.lr, seed: j.seed, error });
    }
  };
  /** Read the pending jobs' states; returns those not in Redis at all. */
  const reconcile = async (retryFailed: boolean): Promise<string[]> => {
    const missing: string[] = [];
    const ids = [...pending];
    for (let at = 0; at < ids.length; at += 500) {
      const chunk = ids.slice(at, at + 500);
      const found = await Promise.all(chunk.map((id) => queue.getJob(id)));
      for (const [k, job] of found.entries()) {
        const id = chunk[k];
        if (!job) missing.push(id);
        else if (job.finishedOn) {
          const state = await job.getState();
          if (state === 'completed') complete(id, job.returnvalue);
          else if (state === 'failed') {
            if (retryFailed) await job.retry('failed');
            else fail(id, job.failedReason ?? 'failed');
          }
        }
      }
    }
    return missing;
  };

  try {
    await events.waitUntilReady();
    const missing = await reconcile(options.retryFailed ?? false);
    const reused = results.length;
    for (let at = 0; at < missing.length; at += 1000) {
      await queue.addBulk(
        missing.slice(at, at + 1000).map((id) => ({
          name: COMPARE_RUN,
          data: specs[(plan.get(id) as number[])[0]],
          opts: { ...JOB_OPTIONS, jobId: id },
        })),
      );
    }
    events.on('completed', ({ jobId: id, returnvalue }) => complete(id, returnvalue));
    events.on('failed', ({ jobId: id, failedReason }) => fail(id, failedReason));
    const signal = options.signal;
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let passes = Promise.resolve();
      const done = () => {
        if (timer) clearInterval(timer);
        clearInterval(check);
        signal?.removeEventListener('abort', done);
        void passes.then(resolve);
      };
      const check = setInterval(() => {
        if (pending.size === 0) done();
      }, 20);
      timer = setInterval(() => {
        passes = passes.then(async () => {
          try {
            const gone = await reconcile(false);
            // a job that vanished (removed by hand, or lost with an un-persisted Redis) is enqueued again
            if (gone.length)
              await queue.addBulk(
                gone.map((id) => ({
                  name: COMPARE_RUN,
                  data: specs[(plan.get(id) as number[])[0]],
                  opts: { ...JOB_OPTIONS, jobId: id },
                })),
              );
          } catch {
            // Redis is restarting or loading: the next pass tries again
          }
        });
      }, reconcileMs);
      signal?.addEventListener('abort', done);
      if (signal?.aborted) done();
    });
    results.sort((a, b) => a.id - b.id);
    failed.sort((a, b) => a.id - b.id);
    return {
      results,
      failed,
      aborted: pending.size > 0,
      reused,
      enqueued: missing.length,
    };
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  }
}
