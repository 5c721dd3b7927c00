/**
 * The queue's cost (issue 13's targets), measured on one machine against a loopback
 * redis-server this script starts (bench/redis-server.ts):
 *
 * 1. Overhead: the same plan on the local pool of 2 worker threads and on the queue with 2
 *    `cimm worker` processes (concurrency 1 each), rounds interleaved (local, queue, queue,
 *    local, …), wall time of the sweep. The queue's time is taken two ways: "cold" from the
 *    workers' spawn (like the local pool, whose threads start inside its time) and "warm"
 *    from the coordinator's start (a cluster's workers outlive one sweep). The ratio of each
 *    queue round to the local round beside it is reported, and their median. The queue's
 *    results are checked equal to the local pool's (wall times aside).
 * 2. Scale-out: K worker processes with simulated 10 ms jobs (a sleep, so the workers'
 *    CPU does not limit what the coordinator shows), 200·K jobs a round: jobs per second
 *    through the coordinator, and the coordinator's and Redis's CPU time per job, which say
 *    how far one coordinator and one Redis go on bigger machines.
 *
 * `node dist/bench/queue.js [--tasks a,b] [--rounds N] [--workers 1,2,4,8,16] [--skip-overhead]
 * [--skip-scale] [--out FILE]`. The plan is the quick comparison (`--tasks` narrows it).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { backendInfo } from '../lib/backend.js';
import { type CompareOptions, planJobs, runJobs, TASK_NAMES, type TaskName } from '../lib/compare/index.js';
import type { JobResult } from '../lib/compare/run.js';
import { packageRoot } from '../lib/paths.js';
import { redisOptions, runOnQueue, startWorker } from '../lib/queue/index.js';
import { startRedis } from './redis-server.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1,2,4,8,16' },
    'job-ms': { type: 'string', default: '10' },
    'skip-overhead': { type: 'boolean', default: false },
    'skip-scale': { type: 'boolean', default: false },
    'simulated-worker': { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});

const jobMs = Number(values['job-ms']);

const timeless = (results: JobResult[]) => JSON.stringify(results.map((r) => ({ ...r, ms: 0 })));
const bin = join(packageRoot(), 'bin', 'cimm');
const script = new URL(import.meta.url).pathname;

/** Start `count` worker processes; resolves when each is taking jobs. */
async function workers(count: number, args: (i: number) => string[]) {
  const procs = Array.from({ length: count }, (_v, i) =>
    spawn(process.execPath, args(i), { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve, reject) => {
          let out = '';
          const seen = (b: Buffer) => {
            out += b;
            if (/ready|taking jobs/.test(out)) resolve();
          };
          p.stdout?.on('data', seen);
          p.stderr?.on('data', seen);
          p.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it was ready:\n${out}`)));
        }),
    ),
  );
  return {
    async stop() {
      await Promise.all(procs.map((p) => new Promise((resolve) => (p.once('exit', resolve), p.kill('SIGTERM')))));
    },
  };
}

async function main() {
  const tasks = values.tasks?.split(',') as TaskName[] | undefined;
  for (const t of tasks ?? []) if (!TASK_NAMES.includes(t)) throw new Error(`--tasks: unknown task ${t}`);
  const rounds = Number(values.rounds);
  const redis = await startRedis();
  // Ctrl-C: stop the server this script started (the workers stop with their parent's signal)
  process.once('SIGINT', () => void redis.stop().then(() => process.exit(130)));
  const admin = new Redis(redisOptions(redis.url));
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    backend: backendInfo().name,
    node: process.versions.node,
  };
  try {
    if (!values['skip-overhead']) {
      const options: CompareOptions = { quick: true, ...(tasks ? { tasks } : {}) };
      const { jobs } = planJobs(options);
      console.log(
        `overhead: ${jobs.length} runs (the quick plan${tasks ? ` on ${tasks.join(', ')}` : ''}), ${rounds} round(s) of each`,
      );
      const local: number[] = [];
      const cold: number[] = [];
      const warm: number[] = [];
      let reference: string | undefined;
      const order = Array.from({ length: rounds }, (_v, i) => (i % 2 ? ['queue', 'local'] : ['local', 'queue'])).flat();
      for (const kind of order) {
        if (kind === 'local') {
          const t0 = performance.now();
          const r = await runJobs(jobs, { workers: 2 });
          local.push((performance.now() - t0) / 1000);
          reference ??= timeless(r.results);
          if (timeless(r.results) !== reference) throw new Error('two local rounds differ');
        } else {
          await admin.flushdb();
          const t0 = performance.now();
          const pool = await workers(2, () => [bin, 'worker', '--queue', redis.url]);
          const t1 = performance.now();
          const r = await runOnQueue(jobs, { url: redis.url });
          cold.push((performance.now() - t0) / 1000);
          warm.push((performance.now() - t1) / 1000);
          await pool.stop();
          if (r.failed.length || r.aborted)
            throw new Error(`the queue round did not complete: ${r.failed.length} failed`);
          reference ??= timeless(r.results);
          if (timeless(r.results) !== reference) throw new Error("the queue's results differ from the local pool's");
        }
        console.log(
          kind === 'local'
            ? `  local pool: ${local.at(-1)?.toFixed(1)} s`
            : `  queue: ${cold.at(-1)?.toFixed(1)} s from the workers' spawn, ${warm.at(-1)?.toFixed(1)} s from the coordinator's start`,
        );
      }
      // each queue round against the local round beside it (round i's pair: local i, queue i)
      const median = (xs: number[]) => {
        const o = [...xs].sort((a, b) => a - b);
        return o.length % 2 ? o[(o.length - 1) / 2] : (o[o.length / 2 - 1] + o[o.length / 2]) / 2;
      };
      const coldRatios = cold.map((q, i) => q / local[i]);
      const warmRatios = warm.map((q, i) => q / local[i]);
      out.overhead = {
        runs: jobs.length,
        tasks: tasks ?? 'all',
        localSeconds: local,
        queueColdSeconds: cold,
        queueWarmSeconds: warm,
        coldRatios,
        warmRatios,
        coldRatio: median(coldRatios),
        warmRatio: median(warmRatios),
      };
      const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
      console.log(
        `  queue / local pool, pair by pair: cold ${list(coldRatios)} (median ${median(coldRatios).toFixed(3)}×), ` +
          `warm ${list(warmRatios)} (median ${median(warmRatios).toFixed(3)}×) — results identical`,
      );
    }
    if (!values['skip-scale']) {
      const counts = (values.workers ?? '').split(',').map(Number);
      const rows: Record<string, number>[] = [];
      console.log(`scale-out: simulated ${jobMs} ms jobs, 200 per worker process`);
      console.log('  workers  jobs  seconds  jobs/s  ideal jobs/s  coordinator CPU ms/job  redis CPU ms/job');
      for (const k of counts) {
        await admin.flushdb();
        const pool = await workers(k, () => [script, '--simulated-worker', redis.url, '--job-ms', String(jobMs)]);
        let seeds = 1;
        while (planJobs({ quick: true, seeds }).jobs.length < 200 * k) seeds++;
        const plan = planJobs({ quick: true, seeds }).jobs.slice(0, 200 * k);
        const cpu0 = process.cpuUsage();
        const redis0 = await redisCpu(admin);
        const t0 = performance.now();
        const r = await runOnQueue(plan, { url: redis.url });
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const redisMs = (await redisCpu(admin)) - redis0;
        await pool.stop();
        if (r.results.length !== plan.length) throw new Error(`scale-out round with ${k} workers did not complete`);
        const row = {
          workers: k,
          jobs: plan.length,
          seconds,
          jobsPerSecond: plan.length / seconds,
          idealJobsPerSecond: (1000 / jobMs) * k,
          coordinatorCpuMsPerJob: (cpu.user + cpu.system) / 1000 / plan.length,
          redisCpuMsPerJob: redisMs / plan.length,
        };
        rows.push(row);
        console.log(
          `  ${String(k).padStart(7)}  ${String(row.jobs).padStart(4)}  ${seconds.toFixed(2).padStart(7)}  ${row.jobsPerSecond.toFixed(0).padStart(6)}  ${row.idealJobsPerSecond.toFixed(0).padStart(12)}  ${row.coordinatorCpuMsPerJob.toFixed(3).padStart(22)}  ${row.redisCpuMsPerJob.toFixed(3).padStart(16)}`,
        );
      }
      out.scaleOut = { jobMs, rows };
    }
  } finally {
    admin.disconnect();
    await redis.stop();
  }
  if (values.out) writeFileAtomic(values.out, `${JSON.stringify(out, null, 2)}\n`);
}

/** Redis's CPU time so far, in ms (INFO cpu). */
async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
}

// A child of the scale-out measurement: a worker whose comparison runs are a sleep.
if (values['simulated-worker']) {
  const worker = await startWorker({
    url: values['simulated-worker'],
    concurrency: Number(values.concurrency),
    runCompare: async () => {
      await new Promise((r) => setTimeout(r, jobMs));
      return { simulated: true };
    },
  });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
} else {
  await main();
}
