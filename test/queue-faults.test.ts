/**
 * Faults with real processes: `cimm worker` (the built dist, like test/cli.test.ts) against
 * a real redis-server. A worker stopped with SIGTERM finishes its job and exits 0; a worker
 * killed with SIGKILL mid-job has its job retried by another (BullMQ's stalled-job check,
 * lock 1 s here), and the report is complete with nothing counted twice; a training job
 * whose worker is killed resumes on another worker from its last checkpoint, bit for bit;
 * the command line's --queue forms give the local report byte for byte.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { planJobs, runJobs } from '../lib/compare/index.js';
import { KEY_PREFIX, QUEUE_NAME, redisOptions, runOnQueue } from '../lib/queue/index.js';
import { describeRedis, type RedisServer, startRedis } from './redis.js';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin', 'cimm');

/** These tests run the built command line: it must be newer than the sources it is built from. */
function checkBuilt(): void {
  const built = join(root, 'dist', 'lib', 'queue', 'worker.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build:ts` before the queue fault tests');
  const sources = [
    join(root, 'lib', 'cli', 'main.ts'),
    ...readdirSync(join(root, 'lib', 'queue')).map((f) => join(root, 'lib', 'queue', f)),
  ];
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (
    statSync(built).mtimeMs < newest - 1000 ||
    statSync(join(root, 'dist', 'lib', 'cli', 'main.js')).mtimeMs < newest - 1000
  )
    throw new Error('dist/ is older than lib/queue or lib/cli: run `npm run build:ts` before the queue fault tests');
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function cimm(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, CIMM_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b) => {
    out += b;
  });
  child.stderr?.on('data', (b) => {
    out += b;
  });
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, out: () => out, exit };
}

const worker = (url: string, concurrency = 1) =>
  cimm(['worker', '--queue', url, '--concurrency', String(concurrency), '--lock-duration', '1000', '--verbose']);

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const timeless = (text: string) => text.replace(/"ms":\d+/g, '"ms":0');

describeRedis('queue faults: real worker processes', () => {
  let redis: RedisServer;
  let last: Proc | undefined;
  const dirs: string[] = [];
  const tmp = () => {
    dirs.push(mkdtempSync(join(tmpdir(), 'cimm-queue-faults-')));
    return dirs[dirs.length - 1];
  };

  beforeAll(async () => {
    checkBuilt();
    redis = await startRedis();
  });
  afterAll(async () => {
    last?.child.kill('SIGTERM');
    await last?.exit;
    await redis?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('SIGTERM: the worker finishes its job and exits 0; SIGKILL mid-job: the job is retried, counted once', async () => {
    const plan = planJobs({
      tasks: ['iris'],
      optimizers: ['Adam', 'SGD'],
      learningRates: [0.01, 1],
      seeds: 3,
      steps: 600,
    });
    const expected = (await runJobs(plan.jobs, { workers: 0 })).results;
    let done = 0;
    const sweep = runOnQueue(plan.jobs, {
      url: redis.url,
      reconcileMs: 300,
      onResult: (_r, n) => {
        done = n;
      },
    });
    const a = worker(redis.url);
    await until('two results', () => done >= 2);
    a.child.kill('SIGTERM');
    expect(await a.exit).toBe(0);
    expect(a.out()).toMatch(/SIGTERM: finishing the jobs in hand[\s\S]*stopped after \d+ job/);
    const afterTerm = done;
    const b = worker(redis.url);
    await until('two more results', () => done >= afterTerm + 2);
    b.child.kill('SIGKILL');
    await b.exit;
    last = worker(redis.url, 2);
    const outcome = await sweep;
    expect(outcome).toMatchObject({ aborted: false, failed: [] });
    expect(outcome.results.map((r) => ({ ...r, ms: 0 }))).toEqual(expected.map((r) => ({ ...r, ms: 0 })));
    // the job B was running when it died was started twice and completed once
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: KEY_PREFIX });
    try {
      const jobs = await queue.getJobs(['completed']);
      expect(jobs.length).toBe(plan.jobs.length);
      expect(jobs.filter((j) => j.attemptsStarted > 1).length).toBeGreaterThanOrEqual(1);
    } finally {
      await queue.close();
    }
  });

  it('cimm compare --queue: a coordinator killed mid-sweep and started again reuses what is done; the local report.json byte for byte', async () => {
    const args = [
      '--tasks',
      'rosenbrock,cliff-walking',
      '--optimizers',
      'Adam,fixed',
      '--seeds',
      '2',
      '--steps',
      '400',
    ];
    const [localDir, queueDir] = [tmp(), tmp()];
    const l = cimm(['compare', ...args, '--workers', '2', '--out', join(localDir, 'r')]);
    const first = cimm(['compare', ...args, '--queue', redis.url, '--out', join(queueDir, 'r')]);
    const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: KEY_PREFIX });
    try {
      const before = await queue.getCompletedCount();
      await until('three runs done', async () => (await queue.getCompletedCount()) >= before + 3);
    } finally {
      await queue.close();
    }
    first.child.kill('SIGKILL');
    await first.exit;
    const q = cimm(['compare', ...args, '--queue', redis.url, '--out', join(queueDir, 'r')]);
    expect(await l.exit, l.out()).toBe(0);
    expect(await q.exit, q.out()).toBe(0);
    const [, reused, enqueued] = /on the queue \((\d+) reused, (\d+) enqueued, 0 failed\)/.exec(q.out()) ?? [];
    expect(Number(reused)).toBeGreaterThanOrEqual(3);
    expect(Number(reused) + Number(enqueued)).toBeLessThanOrEqual(
      JSON.parse(readFileSync(join(localDir, 'r', 'report.json'), 'utf8')).jobs.total,
    );
    expect(timeless(readFileSync(join(queueDir, 'r', 'report.json'), 'utf8'))).toBe(
      timeless(readFileSync(join(localDir, 'r', 'report.json'), 'utf8')),
    );
  });

  it('a training job handed back on SIGTERM, then its worker killed, resumes on another worker bit for bit', async () => {
    const dir = tmp();
    const store = join(dir, 'store');
    mkdirSync(store);
    const run = ['--task', 'iris', '--optimizer', 'Adam', '--steps', '12000', '--checkpoint-every', '500'];
    const local = cimm(['train', ...run, '--checkpoint', join(dir, 'local.json')]);
    // the worker left by the first test would take the job too: stop it, so the workers below get it
    last?.child.kill('SIGTERM');
    await last?.exit;
    const a = worker(redis.url);
    const submit = cimm([
      'train',
      '--queue',
      redis.url,
      '--checkpoint-store',
      store,
      ...run,
      '--checkpoint',
      join(dir, 'queued.json'),
      '--json',
    ]);
    const saved = () => readdirSync(store).filter((f) => f.endsWith('.json'));
    await until('a first checkpoint in the store', () => saved().length === 1);
    const file = join(store, saved()[0]);
    // SIGTERM: the worker stops the run at its next step, saves, hands the job back, exits 0
    a.child.kill('SIGTERM');
    expect(await a.exit, a.out()).toBe(0);
    expect(a.out()).toMatch(/handed back at its checkpoint/);
    // the checkpoint is the train command's file, opaque here: watch its bytes
    const handedBack = readFileSync(file);
    const b = worker(redis.url);
    await until('the next worker to resume and save', () => !readFileSync(file).equals(handedBack));
    expect(b.out()).toMatch(/resuming from its checkpoint/);
    b.child.kill('SIGKILL');
    await b.exit;
    // the guard stops the orphaned `cimm train` child: the checkpoint stops changing
    await new Promise((r) => setTimeout(r, 300));
    const stamp = statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 1200));
    expect(statSync(file).mtimeMs).toBe(stamp);
    last = worker(redis.url);
    expect(await submit.exit, submit.out()).toBe(0);
    expect(await local.exit, local.out()).toBe(0);
    const result = JSON.parse(submit.out().slice(submit.out().indexOf('{')));
    expect(result.resumedFrom.step).toBeGreaterThan(0);
    expect(result.stepsDone).toBe(12000);
    expect(readFileSync(join(dir, 'queued.json')).equals(readFileSync(join(dir, 'local.json')))).toBe(true);
  });

  it('train --queue with the Redis store; usage errors exit 2', async () => {
    const dir = tmp();
    const run = ['--task', 'rosenbrock', '--optimizer', 'Adam', '--steps', '300'];
    const [local, queued] = [
      cimm(['train', ...run, '--checkpoint', join(dir, 'local.json')]),
      cimm(['train', '--queue', redis.url, ...run, '--checkpoint', join(dir, 'queued.json')]),
    ];
    expect(await local.exit, local.out()).toBe(0);
    expect(await queued.exit, queued.out()).toBe(0);
    expect(readFileSync(join(dir, 'queued.json')).equals(readFileSync(join(dir, 'local.json')))).toBe(true);
    const usage = [
      ['compare', '--queue', 'http://127.0.0.1:1'],
      ['compare', '--queue', redis.url, '--workers', '2'],
      ['worker'],
      ['train', '--queue', redis.url, '--resume', join(dir, 'local.json')],
      ['train', '--queue', redis.url, ...run, '--checkpoint-store', 'relative/dir'],
    ];
    const runs = usage.map((args) => cimm(args));
    for (const [i, p] of runs.entries()) expect(await p.exit, `${usage[i].join(' ')}\n${p.out()}`).toBe(2);
  });
});
