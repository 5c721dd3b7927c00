/**
 * One long training job on the queue (`cimm train --queue URL …`). The worker runs the
 * ordinary `cimm train` command in a child process, with `--checkpoint` on a new job and
 * `--resume` when the job's store already holds a checkpoint, and keeps that checkpoint in
 * a store every worker can read: a directory the user names (shared by NFS or a volume) or
 * Redis. The checkpoint is the train command's own file, handled as opaque bytes, so its
 * resume guarantee (bit-for-bit, docs/theory.md "One run, resumable") carries over: a job
 * whose worker dies is taken over by another worker from its last checkpoint.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Job as BullJob, Queue, UnrecoverableError, WaitingError } from 'bullmq';
import { Redis } from 'ioredis';
import { writeFileAtomic } from '../atomic-file.js';
import { kernels } from '../backend.js';
import { argumentError } from '../errors.js';
import type { BackendName } from '../kernels.js';
import { packageRoot, packageVersion } from '../paths.js';
import { checkRedis, KEY_PREFIX, QUEUE_NAME, redisOptions } from './connection.js';
import { checkVersion } from './execute.js';
import { jobId, TRAIN } from './jobs.js';

/** Where a training job's checkpoint lives: Redis, or `<dir>/<job id>.json` in a shared directory. */
export type CheckpointStore = { kind: 'redis' } | { kind: 'dir'; dir: string };

export interface TrainData {
  version: string;
  backend: BackendName;
  /** `cimm train` options (`--task iris`, …) without --checkpoint, --resume, --json. */
  args: string[];
  store: CheckpointStore;
}

/** The Redis key of a job's checkpoint in the Redis store. */
export const checkpointKey = (id: string) => `${KEY_PREFIX}:checkpoint:${id}`;

/** The store named by `--checkpoint-store` (`redis`, or an absolute directory path). */
export function checkpointStore(value: string | undefined): CheckpointStore {
  if (value === undefined || value === 'redis') return { kind: 'redis' };
  if (!isAbsolute(value) || !existsSync(value) || !statSync(value).isDirectory())
    throw argumentError(
      'checkpoint-store',
      '"redis" or an existing directory, as an absolute path every worker sees',
      value,
    );
  return { kind: 'dir', dir: value };
}

/** What the worker needs from its surroundings. */
export interface TrainContext {
  data: TrainData;
  closing: () => boolean;
  onClosing: (f: () => void) => () => void;
  client: Redis;
  log: (line: string) => void;
}

/**
 * Run a training job on this worker: resume from the store's checkpoint when there is one,
 * keep the store's copy current, and on close() stop the child at its next step (it saves
 * its checkpoint: `cimm train` on SIGINT) and hand the job back to the queue.
 */
export async function processTrain(job: BullJob, token: string | undefined, ctx: TrainContext): Promise<unknown> {
  const { data, client } = ctx;
  checkVersion(data.version);
  // where the run saves is this worker's choice, never the job's
  const owned = data.args.find((a) => ['--checkpoint', '--resume', '--json', '--queue'].includes(a.split('=')[0]));
  if (owned) throw new UnrecoverableError(`a training job's options may not include ${owned}`);
  const id = String(job.id);
  const work = mkdtempSync(join(tmpdir(), 'cimm-train-'));
  try {
    const file = data.store.kind === 'dir' ? join(data.store.dir, `${id}.json`) : join(work, 'checkpoint.json');
    if (data.store.kind === 'redis') {
      const saved = await client.getBuffer(checkpointKey(id));
      if (saved) writeFileSync(file, saved);
    }
    const resume = existsSync(file);
    if (resume) ctx.log(`train ${id}: resuming from its checkpoint`);
    // the child keeps saving to the file it resumed from
    const args = [...data.args, ...(resume ? ['--resume', file] : ['--checkpoint', file]), '--json'];
    const guard = fileURLToPath(new URL('./guard.js', import.meta.url));
    const child = spawn(process.execPath, ['--import', guard, join(packageRoot(), 'bin', 'cimm'), 'train', ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, CIMM_BACKEND: data.backend },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b) => {
      stdout += b;
    });
    child.stderr?.on('data', (b) => {
      stderr += b;
    });
    // the Redis store follows the file: upload each new checkpoint the child writes
    let uploaded = '';
    const upload = async () => {
      if (data.store.kind !== 'redis' || !existsSync(file)) return;
      const s = statSync(file);
      const stamp = `${s.mtimeMs} ${s.size} ${s.ino}`;
      if (stamp === uploaded) return;
      uploaded = stamp;
      await client.set(checkpointKey(id), readFileSync(file));
    };
    let uploads = Promise.resolve();
    const timer = setInterval(() => {
      uploads = uploads.then(upload).catch(() => {});
    }, 200);
    const stop = () => child.kill('SIGINT');
    const unlisten = ctx.onClosing(stop);
    if (ctx.closing()) stop();
    const code = await exited(child);
    clearInterval(timer);
    unlisten();
    await uploads;
    await upload();
    if (code === 130) {
      // stopped by close(): its checkpoint is saved; another worker continues from it
      ctx.log(`train ${id}: handed back at its checkpoint`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const lastLine = stderr.trim().split('\n').at(-1) ?? '';
    if (code === 2) throw new UnrecoverableError(`cimm train refused the job: ${lastLine}`);
    if (code !== 0 && code !== 1) throw new Error(`cimm train exited with code ${code}: ${lastLine}`);
    try {
      return JSON.parse(stdout);
    } catch {
      throw new Error(`cimm train exited with code ${code} without its JSON result: ${lastLine}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 128)));
  });
}

export interface SubmitTrainOptions {
  url: string;
  /** `cimm train` options, without --checkpoint, --resume or --json. */
  args: string[];
  store: CheckpointStore;
  signal?: AbortSignal;
  /** Milliseconds between looks at the job (default 500). */
  pollMs?: number;
}

export interface SubmittedTrain {
  /** The job id (the hash of version, backend and options). */
  id: string;
  /** The train command's JSON result; undefined when `signal` stopped the wait. */
  result?: Record<string, unknown>;
  /** The final checkpoint's bytes (from the store). */
  checkpoint?: Buffer;
  /** True when the job was already in the queue (submitted before). */
  existed: boolean;
}

/**
 * Submit one training job (or find the one already submitted with the same options) and
 * wait for it. Throws the job's error when it failed.
 */
export async function submitTrain(options: SubmitTrainOptions): Promise<SubmittedTrain> {
  await checkRedis(options.url);
  const data: TrainData = {
    version: packageVersion(),
    backend: kernels().describe().name,
    args: options.args,
    store: options.store,
  };
  // the store does not change the result: it is not part of the id
  const id = jobId(TRAIN, { version: data.version, backend: data.backend, args: data.args });
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(options.url), prefix: KEY_PREFIX });
  queue.on('error', () => {});
  try {
    const existed = (await queue.getJob(id)) !== undefined;
    if (!existed) await queue.add(TRAIN, data, { jobId: id, removeOnComplete: false, removeOnFail: false });
    for (;;) {
      if (options.signal?.aborted) return { id, existed };
      const job = await queue.getJob(id).catch(() => undefined);
      if (job?.finishedOn) {
        const state = await job.getState();
        if (state === 'failed') throw new Error(`training job ${id} failed: ${job.failedReason}`);
        if (state === 'completed') {
          const checkpoint = await readCheckpoint(options.url, id, job.data as TrainData);
          return { id, result: job.returnvalue, existed, ...(checkpoint ? { checkpoint } : {}) };
        }
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
    }
  } finally {
    await queue.close().catch(() => {});
  }
}

async function readCheckpoint(url: string, id: string, data: TrainData): Promise<Buffer | undefined> {
  if (data.store.kind === 'redis') {
    const client = new Redis(redisOptions(url));
    try {
      return (await client.getBuffer(checkpointKey(id))) ?? undefined;
    } finally {
      client.disconnect();
    }
  }
  const path = join(data.store.dir, `${id}.json`);
  return existsSync(path) ? readFileSync(path) : undefined;
}

/** Write a finished job's checkpoint to a local file (the coordinator's --checkpoint FILE). */
export function saveCheckpoint(path: string, bytes: Buffer): void {
  writeFileAtomic(path, bytes);
}
