/**
 * A queue worker (`cimm worker --queue URL`): a BullMQ Worker on the `cimm` queue that runs
 * comparison runs on a pool of worker threads (one per unit of concurrency, so the main
 * thread stays free to renew the jobs' locks) and training jobs as `cimm train` child
 * processes (lib/queue/train.ts). A run that throws fails its job with the error; the rest
 * go on. close() stops taking jobs, finishes the comparison runs in hand and hands training
 * jobs back to the queue at their next checkpoint.
 */
import { Worker as ThreadWorker } from 'node:worker_threads';
import { type Job as BullJob, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { argumentError } from '../errors.js';
import { integer } from '../is.js';
import { KEY_PREFIX, QUEUE_NAME, redisOptions } from './connection.js';
import { executeRun } from './execute.js';
import { COMPARE_RUN, type RunSpec, TRAIN } from './jobs.js';
import { processTrain, type TrainData } from './train.js';

export interface QueueWorkerOptions {
  /** The queue's Redis URL. */
  url: string;
  /** Jobs at once (threads for comparison runs). Default 1. */
  concurrency?: number;
  /**
   * How long a job's lock lives without renewal, in ms (BullMQ's lockDuration, renewed every
   * half of it); a job whose worker died is retried by another worker within about twice this.
   * Default 30,000.
   */
  lockDuration?: number;
  /** Run comparison runs in this thread instead of worker threads (tests from TypeScript sources). */
  inline?: boolean;
  /** Replaces executeRun for comparison runs (the scale-out benchmark's simulated jobs). */
  runCompare?: (spec: RunSpec) => Promise<unknown>;
  /** One line per event (job taken, done, failed); default none. */
  log?: (line: string) => void;
}

export interface QueueWorker {
  /** Stop taking jobs; finish the runs in hand, hand training jobs back; then disconnect. */
  close(): Promise<void>;
  /** Jobs this worker completed (tests count them: nothing runs twice). */
  readonly completed: string[];
  readonly bull: Worker;
}

/** Start a worker; resolves once it is connected and taking jobs. */
export async function startWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const concurrency = integer('concurrency', options.concurrency ?? 1, { min: 1 });
  const lockDuration = integer('lockDuration', options.lockDuration ?? 30_000, { min: 100 });
  const log = options.log ?? (() => {});
  const pool = options.inline || options.runCompare ? undefined : new ThreadPool(concurrency);
  const runCompare = options.runCompare ?? (pool ? (spec: RunSpec) => pool.run(spec) : executeRun);
  let closing = false;
  const closingListeners = new Set<() => void>();
  const completed: string[] = [];
  let store: Redis | undefined;
  const processor = async (job: BullJob, token?: string): Promise<unknown> => {
    log(`${job.name} ${job.id}: started`);
    if (job.name === COMPARE_RUN) return await runCompare(job.data as RunSpec);
    if (job.name === TRAIN) {
      store ??= new Redis(redisOptions(options.url));
      return await processTrain(job, token, {
        data: job.data as TrainData,
        closing: () => closing,
        onClosing: (f) => {
          closingListeners.add(f);
          return () => closingListeners.delete(f);
        },
        client: store,
        log,
      });
    }
    throw new UnrecoverableError(`unknown job name ${JSON.stringify(job.name)} (this worker runs cimm's own jobs)`);
  };
  const bull: Worker = new Worker(QUEUE_NAME, processor, {
    connection: redisOptions(options.url),
    prefix: KEY_PREFIX,
    concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // a job whose worker died this often is probably what kills workers (out of memory): fail it
    maxStalledCount: 3,
    autorun: false,
  });
  bull.on('completed', (job) => {
    completed.push(String(job.id));
    log(`${job.name} ${job.id}: completed`);
  });
  bull.on('failed', (job, error) => log(`${job?.name} ${job?.id}: failed: ${error.message}`));
  bull.on('error', (error) => log(`worker error: ${error.message}`));
  await bull.waitUntilReady();
  void bull.run();
  return {
    completed,
    bull,
    async close() {
      closing = true;
      for (const f of closingListeners) f();
      await bull.close();
      await pool?.close();
      store?.disconnect();
    },
  };
}

/** Worker threads running executeRun, one job each at a time. */
class ThreadPool {
  private idle: ThreadWorker[] = [];
  private waiting: ((w: ThreadWorker) => void)[] = [];
  private all = new Set<ThreadWorker>();

  constructor(private readonly size: number) {
    if (size < 1) throw argumentError('size', 'an integer ≥ 1', size);
  }

  private spawn(): ThreadWorker {
    const w = new ThreadWorker(new URL('./thread.js', import.meta.url));
    this.all.add(w);
    return w;
  }

  private acquire(): Promise<ThreadWorker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(w: ThreadWorker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  async run(spec: RunSpec): Promise<unknown> {
    const w = await this.acquire();
    return await new Promise((resolve, reject) => {
      const onMessage = (msg: { ok: true; value: unknown } | { ok: false; error: string }) => {
        w.off('error', onError);
        this.release(w);
        if (msg.ok) resolve(msg.value);
        else reject(new Error(msg.error));
      };
      const onError = (e: Error) => {
        // a thread that crashed is replaced, not reused
        w.off('message', onMessage);
        this.all.delete(w);
        void w.terminate();
        const next = this.waiting.shift();
        if (next) next(this.spawn());
        reject(e);
      };
      w.once('message', onMessage);
      w.once('error', onError);
      w.postMessage(spec);
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
    this.idle = [];
  }
}
