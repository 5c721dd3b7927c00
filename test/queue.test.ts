/**
 * The comparison and training jobs on BullMQ over a real redis-server (test/redis.ts):
 * results identical to the local pool's, byte for byte in report.json; the same plan
 * enqueued twice runs once; a job that throws fails alone; a Redis restart mid-sweep; the
 * eviction-policy check. Workers here run in this process (runs inline: the sources are
 * TypeScript); test/queue-faults.test.ts kills real worker processes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type CompareOptions, planJobs, runJobs, writeReport } from '../lib/compare/index.js';
import type { JobResult } from '../lib/compare/run.js';
import type { Job } from '../lib/compare/spec.js';
import { CimmArgumentError } from '../lib/errors.js';
import { trainArgs } from '../lib/queue/cli.js';
import {
  CimmQueueError,
  canonicalJson,
  decodeNumbers,
  encodeNumbers,
  jobId,
  type QueueWorker,
  redisOptions,
  runOnQueue,
  runSpec,
  startWorker,
} from '../lib/queue/index.js';
import { describeRedis, type RedisServer, startRedis } from './redis.js';

/** A small plan with every kind of task (objective full batch and mini-batch, RL) and a diverging setting. */
const SMALL_PLAN: CompareOptions = {
  tasks: ['rosenbrock', 'iris', 'cliff-walking'],
  optimizers: ['SGD', 'Adam', 'EntropyBalanced', 'fixed'],
  learningRates: [0.01, 1],
  seeds: 2,
  steps: 60,
};

/** Results without their wall times (the one field that differs between two runs of a plan). */
const timeless = (results: JobResult[]) => results.map((r) => ({ ...r, ms: 0 }));

async function reportJson(options: CompareOptions, results: JobResult[]): Promise<string> {
  const { jobs, skipped, grids } = planJobs(options);
  const dir = mkdtempSync(join(tmpdir(), 'cimm-queue-report-'));
  try {
    await writeReport(buildReport(options, jobs.length, timeless(results), skipped, grids), dir);
    return readFileSync(join(dir, 'report.json'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('queue: job ids and result encoding', () => {
  const { jobs } = planJobs(SMALL_PLAN);
  it('a job id is the hash of what determines the result, not of the position in the plan', () => {
    const ids = jobs.map((j) => jobId('compare-run', runSpec(j)));
    expect(new Set(ids).size).toBe(jobs.length);
    expect(planJobs(SMALL_PLAN).jobs.map((j) => jobId('compare-run', runSpec(j)))).toEqual(ids);
    const j = jobs[3];
    const id = ids[3];
    expect(jobId('compare-run', runSpec({ ...j, id: 999 }))).toBe(id);
    for (const changed of [
      { ...j, seed: j.seed + 1 },
      { ...j, lr: 0.5 },
      { ...j, steps: j.steps + 1 },
      { ...j, taskOptions: { batchSize: 7 } },
    ])
      expect(jobId('compare-run', runSpec(changed))).not.toBe(id);
    expect(jobId('compare-run', runSpec(j, { version: '9.9.9' }))).not.toBe(id);
    expect(jobId('compare-run', runSpec(j, { backend: 'js' }))).not.toBe(
      jobId('compare-run', runSpec(j, { backend: 'cpp' })),
    );
    expect(id).toMatch(/^compare-run-[0-9a-f]{32}$/);
  });

  it("a training job's options are sorted and leave out where it runs and saves", () => {
    const args = trainArgs({
      task: 'iris',
      optimizer: 'Adam',
      seed: '1',
      fullBatch: true,
      lr: undefined,
      queue: 'redis://h',
      json: true,
      checkpoint: 'f',
      checkpointStore: '/s',
    });
    expect(args).toEqual(['--full-batch', '--optimizer', 'Adam', '--seed', '1', '--task', 'iris']);
    expect(trainArgs({ seed: '1', fullBatch: true, optimizer: 'Adam', task: 'iris' })).toEqual(args);
  });

  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
  });

  it('NaN, ±Infinity and −0 survive the trip through JSON', () => {
    const value = {
      a: Number.NaN,
      b: [Number.POSITIVE_INFINITY, -0, Number.NEGATIVE_INFINITY, 1.5],
      c: 'NaN',
      d: null,
    };
    const back = decodeNumbers(JSON.parse(JSON.stringify(encodeNumbers(value)))) as typeof value;
    expect(back.a).toBeNaN();
    expect(Object.is(back.b[1], -0)).toBe(true);
    expect(back.b).toEqual([Number.POSITIVE_INFINITY, -0, Number.NEGATIVE_INFINITY, 1.5]);
    expect(back.c).toBe('NaN');
    expect(back.d).toBeNull();
  });

  it('a bad queue URL is an error naming the parameter', () => {
    for (const url of ['http://localhost:6379', 'localhost:6379', 'redis://', 'redis://h:1/x', 'redis://h/1?a=b'])
      expect(() => redisOptions(url, '--queue'), url).toThrow(CimmArgumentError);
    expect(() => redisOptions('nope', '--queue')).toThrow(/--queue/);
    expect(redisOptions('redis://u:p%40ss@example:7000/3')).toMatchObject({
      host: 'example',
      port: 7000,
      db: 3,
      username: 'u',
      password: 'p@ss',
    });
  });
});

describeRedis('queue: a sweep on BullMQ over a real Redis', () => {
  let redis: RedisServer;
  let worker: QueueWorker;
  let local: JobResult[];
  const { jobs } = planJobs(SMALL_PLAN);

  beforeAll(async () => {
    redis = await startRedis();
    worker = await startWorker({ url: redis.url, inline: true, concurrency: 2 });
    local = (await runJobs(jobs, { workers: 0 })).results;
  });
  afterAll(async () => {
    await worker?.close();
    await redis?.stop();
  });

  it('gives the local pool’s report.json byte for byte; enqueued again, nothing runs twice', async () => {
    const seen: number[] = [];
    const first = await runOnQueue(jobs, { url: redis.url, onResult: (_r, done) => seen.push(done) });
    expect(first).toMatchObject({ aborted: false, failed: [], reused: 0, enqueued: jobs.length });
    expect(seen).toEqual(jobs.map((_j, i) => i + 1));
    expect(first.results.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    expect(first.results.some((r) => r.diverged && Number.isNaN(r.finalMetric))).toBe(true); // the codec is exercised
    expect(timeless(first.results)).toEqual(timeless(local));
    expect(await reportJson(SMALL_PLAN, first.results)).toBe(await reportJson(SMALL_PLAN, local));
    expect(worker.completed.length).toBe(jobs.length);

    // a coordinator started again (or a second one) finds every result in Redis
    const again = await runOnQueue(jobs, { url: redis.url });
    expect(again).toMatchObject({ aborted: false, reused: jobs.length, enqueued: 0 });
    expect(timeless(again.results)).toEqual(timeless(local));
    expect(worker.completed.length).toBe(jobs.length);

    // two coordinators at once on a new plan: each run is one job
    const other = planJobs({ ...SMALL_PLAN, tasks: ['rosenbrock'], seeds: 3 }).jobs;
    const [a, b] = await Promise.all([runOnQueue(other, { url: redis.url }), runOnQueue(other, { url: redis.url })]);
    expect(timeless(a.results)).toEqual(timeless(b.results));
    const fresh = other.filter((j) => j.seed === 2).length; // seeds 0 and 1 ran in the first plan
    expect(worker.completed.length).toBe(jobs.length + fresh);
    expect(new Set(worker.completed).size).toBe(worker.completed.length);
  });

  it('a run that throws fails alone, with its error; the rest complete', async () => {
    const plan = planJobs({ ...SMALL_PLAN, tasks: ['rosenbrock'], optimizers: ['Adam'], seeds: 1 }).jobs;
    const bad: Job = { ...plan[0], id: plan.length, optimizer: 'no-such-optimizer' };
    const outcome = await runOnQueue([...plan, bad], { url: redis.url });
    expect(outcome.results.map((r) => r.id)).toEqual(plan.map((j) => j.id));
    expect(outcome.failed).toEqual([
      expect.objectContaining({
        id: bad.id,
        optimizer: 'no-such-optimizer',
        error: expect.stringMatching(/unknown optimizer no-such-optimizer/),
      }),
    ]);
    expect(outcome.aborted).toBe(false);
  });

  it('survives a Redis restart mid-sweep (AOF), with every run counted once', async () => {
    const plan = planJobs({ ...SMALL_PLAN, tasks: ['iris'], optimizers: ['Adam', 'SGD'], seeds: 3, steps: 150 }).jobs;
    const expected = (await runJobs(plan, { workers: 0 })).results;
    let restarted: Promise<void> | undefined;
    const outcome = await runOnQueue(plan, {
      url: redis.url,
      reconcileMs: 300,
      onResult: (_r, done) => {
        if (done === 3) restarted = redis.restart();
      },
    });
    await restarted;
    expect(restarted).toBeDefined();
    expect(outcome).toMatchObject({ aborted: false, failed: [] });
    expect(timeless(outcome.results)).toEqual(timeless(expected));
  });

  it('refuses a Redis whose eviction policy is not noeviction, saying how to fix it', async () => {
    const admin = new Redis(redisOptions(redis.url));
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await expect(runOnQueue(jobs.slice(0, 1), { url: redis.url })).rejects.toThrow(CimmQueueError);
      await expect(runOnQueue(jobs.slice(0, 1), { url: redis.url })).rejects.toThrow(
        /maxmemory-policy allkeys-lru; BullMQ needs noeviction.*CONFIG SET maxmemory-policy noeviction/,
      );
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });
});
