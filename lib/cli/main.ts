/**
 * The `cimm` command line: info, train (a task, or your own CSV with --data), predict, compare,
 * build-native, and bench (in a checkout).
 *
 * Exit codes: 0 success; 1 failure (a run or a bench failed, an I/O error, a backend that
 * cannot load); 2 usage error (unknown command or option, bad value, an unusable --resume
 * file, a bad CIMM_BACKEND); 130 interrupted by SIGINT (compare writes the partial report
 * first, train its checkpoint). `--json` prints one machine-readable JSON document on stdout
 * and turns progress bars off; progress goes to stderr, and only when stderr is a TTY.
 * Errors print as one line, `cimm: <what went wrong>` (a backend that cannot load adds its
 * causes and fixes); CIMM_DEBUG=1 prints the stack as well.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, CommanderError, Option } from 'commander';
import { probeWritable } from '../atomic-file.js';
import { BACKEND_NAMES, backendInfo, kernels } from '../backend.js';
import { describePlatform, hostPlatform } from '../backends/rust.js';
import {
  budget,
  buildReport,
  OPTIMIZER_ENTRIES,
  planJobs,
  REGIME,
  RL_DEFAULT_ALPHA,
  runJobs,
  STEP_SIZE_ENTRIES,
  summaryLines,
  TASK_NAMES,
  type TaskName,
  writeReport,
} from '../compare/index.js';
import { type JobResult, MAX_RUN_STEPS, TaskRun } from '../compare/run.js';
import { CimmArgumentError, CimmBackendError, CimmDataError } from '../errors.js';
import { optimizerFromConfig } from '../optim/index.js';
import { packageRoot, packageVersion } from '../paths.js';
import type { QueueOutcome } from '../queue/coordinator.js';
import { loadQueue } from '../queue/load.js';
import { BuildNativeError, buildNative } from './build-native.js';
import { predictCommand, rejectDataOptions, trainDataCommand } from './data.js';
import { didYouMean } from './suggest.js';
import { UsageError } from './usage.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** The benchmarks ship with the source checkout only (they need its devDependencies). */
const benchScript = () => join(packageRoot(), 'dist', 'bench', 'run.js');
const hasBench = () => existsSync(benchScript());

const USAGE = `Usage: cimm <command> [options]

Commands:
  info     [--json]                       backend, CPU features, SIMD path, threads
  train    --task T --optimizer O [--lr X] [--steps N] [--seed S] [--batch-size N | --full-batch]
           [--checkpoint FILE] [--checkpoint-every N] [--json]
  train    --resume FILE [--steps N] [--checkpoint FILE] [--checkpoint-every N] [--json]
                                          continue a saved run (bit-for-bit; Ctrl-C saves and exits 130)
  train    --data FILE.csv --target COLUMN [--task regression|classification] [--model mlp:64,64]
           [--optimizer O] [--lr X] [--epochs N] [--batch-size N] [--seed S] [--validation 0.2]
           [--categorical a,b] [--ignore a,b] [--checkpoint FILE [--checkpoint-every N]] [--resume [FILE]]
           [--save model.json] [--json]       train on your own CSV (the task is inferred when not given)
  predict  --model model.json --data FILE.csv [--out predictions.csv] [--json]
                                          predict with a model saved by train --data … --save
  train    --queue URL [--checkpoint-store DIR|redis] <train options>
                                          one training job on a BullMQ queue; resumed on another worker if one dies
  compare  [--quick] [--tasks a,b] [--optimizers a,b] [--variants] [--learning-rates a,b] [--seeds N] [--out DIR]
           [--workers N | --queue URL [--retry-failed]] [--steps N] [--verbose] [--json]
  worker   --queue URL [--concurrency N] [--lock-duration MS] [--verbose]
                                          run queued compare runs and training jobs until SIGTERM
  build-native                            build the C++ backend from source (needs cmake and a C++17 compiler)
${hasBench() ? '  bench    [--quick] [--filter REGEX]     the kernel benchmarks (npm run bench)\n' : ''}
Tasks: ${TASK_NAMES.join(', ')}
Optimizers: ${OPTIMIZER_ENTRIES.map((e) => e.name).join(', ')}; on cliff-walking: ${STEP_SIZE_ENTRIES.join(', ')}
Options: -v, --version prints cimm's version; CIMM_DEBUG=1 prints an error's stack.
Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted (SIGINT).`;

/** Parsed options of one command (commander's values). */
type Values = Record<string, string | boolean | undefined>;

function int(name: string, v: string | boolean | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

/** --steps: an integer ≥ min and ≤ MAX_RUN_STEPS (a saved run of more would not load again). */
function runLength(v: string | boolean | undefined, dflt: number, min: number): number {
  const n = int('steps', v, dflt, min);
  if (n > MAX_RUN_STEPS) throw new UsageError(`--steps must be at most ${MAX_RUN_STEPS}, got ${v}`);
  return n;
}

function list<T extends string>(
  name: string,
  v: string | boolean | undefined,
  allowed: readonly string[],
): T[] | undefined {
  if (v === undefined) return undefined;
  const items = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) {
    if (!allowed.includes(i)) {
      throw new UsageError(
        `--${name}: unknown ${JSON.stringify(i)}${didYouMean(i, allowed)} (known: ${allowed.join(', ')})`,
      );
    }
  }
  if (!items.length) throw new UsageError(`--${name} is empty`);
  return items as T[];
}

/** A comma-separated list of positive finite numbers. */
function numbers(name: string, v: string | boolean): number[] {
  const items = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new UsageError(`--${name} is empty`);
  return items.map((i) => {
    const n = Number(i);
    if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`--${name}: ${i} is not a positive number`);
    return n;
  });
}

/** A progress bar on stderr (cli-progress), only on a TTY and never with --json. */
function progressBar(enabled: boolean, unit = 'runs') {
  const bar = enabled
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: `[{bar}] {value}/{total} ${unit}, ETA {eta}s {label}`, hideCursor: true },
        cliProgress.Presets.legacy,
      )
    : undefined;
  let started = false;
  return {
    update(done: number, total: number, label: string) {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0, { label: '' });
        started = true;
      }
      bar.update(done, { label });
    },
    stop() {
      if (started) bar?.stop();
    },
  };
}

function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(
    json
      ? `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`
      : `${text}\n`,
  );
}

async function info(v: Values): Promise<number> {
  const i = backendInfo();
  print(
    Boolean(v.json),
    { ...i, cores: cpus().length },
    `backend ${i.name} (${i.simdPath}), ${i.threads} threads, ${cpus().length} cores${i.source ? `, from ${i.source}` : ''}\n` +
      `CPU features: ${i.cpuFeatures.join(' ') || 'n/a'}\n` +
      `platform ${describePlatform(hostPlatform())}, Node ${i.node}, cimm ${packageVersion()}\n` +
      i.backends.map((b) => `  ${b.name}: ${b.available ? 'available' : `unavailable (${b.error})`}`).join('\n'),
  );
  return EXIT.ok;
}

/** Load a train checkpoint; any problem with the file is a usage error (exit 2). */
function loadRun(path: string): TaskRun {
  try {
    return TaskRun.load(path);
  } catch (e) {
    if (!(e instanceof CimmArgumentError)) throw e;
    throw new UsageError(`--resume ${path}: not a usable checkpoint: ${e.message}`);
  }
}

/** A resumed run keeps its job: an option given on the command line must agree with it. */
function sameAsCheckpoint(name: string, given: string | boolean | undefined, saved: unknown, equal: boolean): void {
  if (given !== undefined && !equal) {
    throw new UsageError(
      `--${name} ${given} does not match the checkpoint's ${name} ${saved} (leave it out to resume)`,
    );
  }
}

/** A new run from the command line (no --resume). */
function newRun(v: Values): TaskRun {
  if (!v.task) throw new UsageError('train needs --task');
  if (!v.optimizer) throw new UsageError('train needs --optimizer');
  const task = list<TaskName>('task', v.task, TASK_NAMES)?.[0] as TaskName;
  const rl = task === 'cliff-walking';
  const known = rl ? STEP_SIZE_ENTRIES : OPTIMIZER_ENTRIES.map((e) => e.name);
  const optimizer = list('optimizer', v.optimizer, known)?.[0] as string;
  const lr = learningRate(v.lr);
  const entry = OPTIMIZER_ENTRIES.find((e) => e.name === optimizer);
  if (entry) {
    try {
      optimizerFromConfig(entry.kind, { ...entry.options, learningRate: lr ?? entry.defaultLearningRate });
    } catch (e) {
      throw new UsageError(`--optimizer ${optimizer} is not available in this build: ${(e as Error).message}`);
    }
  }
  const steps = runLength(v.steps, budget(false).steps[task], 1);
  const batchSize = trainBatchSize(v, task);
  const job = {
    id: 0,
    task,
    optimizer,
    lr: lr ?? (rl ? (optimizer === 'fixed' ? RL_DEFAULT_ALPHA : null) : (entry?.defaultLearningRate ?? null)),
    seed: int('seed', v.seed, 0, 0),
    steps,
    points: Math.min(steps, 20),
    atDefault: lr === null,
    ...(batchSize === null ? {} : { taskOptions: { batchSize } }),
  };
  try {
    return new TaskRun(job);
  } catch (e) {
    // a value the rule or optimizer refuses (--lr with 1/n, an initial α out of range)
    if (e instanceof CimmArgumentError)
      throw new UsageError(`--lr ${v.lr} does not apply to ${optimizer}: ${e.message}`);
    throw e;
  }
}

/**
 * The batch size of a new run: the comparison's regime for the task (REGIME), or
 * --batch-size N, or none with --full-batch. A task with no data rows runs full batch
 * and refuses --batch-size.
 */
function trainBatchSize(v: Values, task: TaskName): number | null {
  if (v.batchSize !== undefined && v.fullBatch) throw new UsageError('give --batch-size or --full-batch, not both');
  const regime = REGIME[task];
  if (v.fullBatch) return null;
  if (v.batchSize === undefined) return regime.batchSize;
  if (regime.batchSize === null) throw new UsageError(`--batch-size: ${task} runs full batch (${regime.reason})`);
  return int('batch-size', v.batchSize, 0, 1);
}

function learningRate(v: string | boolean | undefined): number | null {
  if (v === undefined) return null;
  const lr = Number(v);
  if (!(lr > 0 && Number.isFinite(lr))) throw new UsageError(`--lr must be a positive number, got ${v}`);
  return lr;
}

/**
 * One task with one optimizer, as a resumable job: --checkpoint saves the run atomically
 * every --checkpoint-every steps, at the end and on Ctrl-C; --resume continues a saved
 * run bit-for-bit (the task, optimizer, η and seed come from the file; --steps may change
 * the length).
 */
async function train(v: Values): Promise<number> {
  if (v.queue !== undefined) return await trainQueued(v);
  const json = Boolean(v.json);
  const resumePath = v.resume === undefined ? undefined : resolve(String(v.resume));
  let run: TaskRun;
  if (resumePath) {
    run = loadRun(resumePath);
    const job = run.job;
    sameAsCheckpoint('task', v.task, job.task, v.task === job.task);
    sameAsCheckpoint('optimizer', v.optimizer, job.optimizer, v.optimizer === job.optimizer);
    sameAsCheckpoint('lr', v.lr, job.lr, learningRate(v.lr) === job.lr);
    sameAsCheckpoint('seed', v.seed, job.seed, Number(v.seed) === job.seed);
    const savedBatch = (job.taskOptions?.batchSize as number | undefined) ?? null;
    sameAsCheckpoint('batch-size', v.batchSize, savedBatch ?? 'none', Number(v.batchSize) === savedBatch);
    sameAsCheckpoint('full-batch', v.fullBatch, `batch size ${savedBatch}`, savedBatch === null);
    if (v.steps !== undefined) {
      const steps = runLength(v.steps, 0, Math.max(1, run.stepsDone));
      run.setSteps(steps);
    }
  } else {
    run = newRun(v);
  }
  const startedAt = run.stepsDone;
  // resuming without --checkpoint keeps saving to the file it resumed from
  const path = v.checkpoint ? resolve(String(v.checkpoint)) : resumePath;
  if (path) checkpointTarget(String(v.checkpoint ?? v.resume), path);
  const every = int('checkpoint-every', v.checkpointEvery, Math.max(1, Math.ceil(run.job.steps / 10)), 1);
  const rl = run.task.kind === 'rl';

  // Ctrl-C aborts the loop after the current step; it writes the checkpoint and stops
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const bar = progressBar(!json && Boolean(process.stderr.isTTY), rl ? 'episodes' : 'steps');
  const t0 = performance.now();
  try {
    // the one training loop (lib/train/loop.ts), giving the event loop a turn every 20 ms
    // (a task's step can take microseconds); it saves every `every` steps and when it
    // stops (Ctrl-C included)
    await run.run(run.job.steps, {
      signal: abort.signal,
      sliceMs: 20,
      onProgress: (done, total) => bar.update(done, total, ''),
      ...(path ? { checkpoint: { path, every } } : {}),
    });
  } finally {
    bar.stop();
    // still listening until here: a second Ctrl-C must not kill the process mid-save
    process.off('SIGINT', onSigint);
  }
  const ms = Math.round(performance.now() - t0);
  const result = run.result();
  const { task, optimizer, lr, seed, steps } = run.job;
  const target = run.task.target;
  const batchSize = (run.job.taskOptions?.batchSize as number | undefined) ?? null;
  const out = {
    task,
    optimizer,
    lr,
    seed,
    steps,
    batchSize,
    batchCount: run.batchCount,
    stepsDone: run.stepsDone,
    target,
    finalMetric: result.finalMetric,
    finalLoss: result.finalLoss,
    stepsToTarget: result.stepsToTarget,
    diverged: result.diverged,
    ...(result.error === undefined ? {} : { error: result.error }),
    curve: result.curve,
    ms,
    resumedFrom: resumePath ? { path: resumePath, step: startedAt } : null,
    checkpoint: path ?? null,
    interrupted,
  };
  const unit = rl ? 'episodes' : 'steps';
  const lines = [
    `${task} with ${optimizer} (η ${lr ?? 'n/a'}, seed ${seed}, ${batchSize === null ? 'full batch' : `batches of ${batchSize}, ${run.batchCount} an epoch`}): ` +
      `${run.stepsDone - startedAt} ${unit} in ${ms} ms` +
      (resumePath ? ` (resumed at ${startedAt})` : ''),
    ...result.curve.map(
      (p) =>
        `  ${String(p.step).padStart(6)}  loss ${p.loss.toPrecision(5)}  ${target.metric} ${p.metric.toPrecision(5)}`,
    ),
    `${interrupted ? `interrupted at ${run.stepsDone}/${steps} ${unit}: ` : 'final '}${target.metric} ${result.finalMetric}; ` +
      `target ${target.direction === 'max' ? '≥' : '≤'} ${target.value} ` +
      `${result.stepsToTarget === null ? 'not reached' : `reached at step ${result.stepsToTarget}`}${result.diverged ? ' (diverged)' : ''}`,
  ];
  if (path) lines.push(`checkpoint: ${path}${interrupted ? ` (continue with --resume ${path})` : ''}`);
  else if (interrupted) lines.push('no --checkpoint given: the progress is not saved');
  print(json, out, lines.join('\n'));
  if (interrupted) return EXIT.interrupted;
  return result.diverged ? EXIT.failure : EXIT.ok;
}

/** --queue URL, checked: a bad URL is a usage error. */
async function queueUrl(v: Values): Promise<string> {
  const { redisOptions } = await loadQueue();
  try {
    redisOptions(String(v.queue), '--queue');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return String(v.queue);
}

/**
 * `cimm train --queue URL …`: submit the run as one job (lib/queue/train.ts), or find the
 * one submitted with the same options, and wait for it. Ctrl-C stops waiting; the job stays
 * queued and the same command waits for it again.
 */
async function trainQueued(v: Values): Promise<number> {
  const json = Boolean(v.json);
  const url = await queueUrl(v);
  const { checkpointStore, saveCheckpoint, submitTrain, trainArgs } = await loadQueue();
  if (v.resume !== undefined)
    throw new UsageError('--resume does not go with --queue: a queued job resumes from its own checkpoint store');
  newRun(v); // the same checks as a local run, before anything is queued
  let store: ReturnType<typeof checkpointStore>;
  try {
    store = checkpointStore(v.checkpointStore === undefined ? undefined : String(v.checkpointStore));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const path = v.checkpoint ? resolve(String(v.checkpoint)) : undefined;
  if (path) checkpointTarget(String(v.checkpoint), path);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  const submitted = await submitTrain({ url, args: trainArgs(v), store, signal: controller.signal }).finally(() =>
    process.off('SIGINT', onSigint),
  );
  const result = submitted.result;
  if (!result) {
    print(
      json,
      { job: submitted.id, interrupted: true },
      `interrupted: training job ${submitted.id} stays on the queue; the same command waits for it again`,
    );
    return EXIT.interrupted;
  }
  if (path && submitted.checkpoint) saveCheckpoint(path, submitted.checkpoint);
  const target = result.target as { metric: string; direction: string; value: number };
  print(
    json,
    { job: submitted.id, ...result, checkpoint: path ?? null },
    `training job ${submitted.id}${submitted.existed ? ' (submitted before)' : ''}: ${result.task} with ${result.optimizer}, ` +
      `${result.stepsDone} steps; final ${target.metric} ${result.finalMetric}; ` +
      `target ${target.direction === 'max' ? '≥' : '≤'} ${target.value} ` +
      `${result.stepsToTarget === null ? 'not reached' : `reached at step ${result.stepsToTarget}`}${result.diverged ? ' (diverged)' : ''}` +
      (path ? `\ncheckpoint: ${path}` : ''),
  );
  return result.diverged ? EXIT.failure : EXIT.ok;
}

/** `cimm worker --queue URL`: lib/queue/cli.ts. */
async function worker(v: Values): Promise<number> {
  if (v.queue === undefined) throw new UsageError('worker needs --queue redis://HOST:PORT[/DB]');
  const url = await queueUrl(v);
  const { workerCommand } = await loadQueue();
  return await workerCommand({
    url,
    concurrency: int('concurrency', v.concurrency, 1, 1),
    lockDuration: int('lock-duration', v.lockDuration, 30_000, 100),
    verbose: Boolean(v.verbose),
  });
}

/** A file's directory must exist: cimm creates no directory the user did not ask for. */
function existingDirectory(option: string, given: string, dir: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {}
  if (!isDir) throw new UsageError(`--${option} ${given}: the directory ${dir} does not exist (create it first)`);
}

/** --checkpoint FILE: its directory exists and FILE is not a directory (checked before the run, not at its end). */
function checkpointTarget(given: string, path: string): void {
  existingDirectory('checkpoint', given, dirname(path));
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {}
  if (isDir) throw new UsageError(`--checkpoint ${given}: ${path} is a directory; name a file in it`);
  // found now, not at the first save after the training
  const unwritable = probeWritable(path);
  if (unwritable)
    throw new UsageError(
      `--checkpoint ${given}: a file cannot be created in ${dirname(path)} (${unwritable.code ?? unwritable.message})`,
    );
}

async function compareCommand(v: Values): Promise<number> {
  const json = Boolean(v.json);
  const verbose = Boolean(v.verbose);
  const options = {
    quick: Boolean(v.quick),
    tasks: list<TaskName>('tasks', v.tasks, TASK_NAMES),
    optimizers: list('optimizers', v.optimizers, [...OPTIMIZER_ENTRIES.map((e) => e.name), ...STEP_SIZE_ENTRIES]),
    variants: Boolean(v.variants),
    learningRates: v.learningRates === undefined ? undefined : numbers('learning-rates', v.learningRates),
    seeds: int('seeds', v.seeds, 3, 1),
    steps: v.steps === undefined ? undefined : runLength(v.steps, 0, 1),
  };
  const { jobs, skipped, grids } = planJobs(options);
  const workers = int('workers', v.workers, Math.min(cpus().length, jobs.length), 0);
  if (v.queue !== undefined && v.workers !== undefined) throw new UsageError('give --workers or --queue, not both');
  const url = v.queue === undefined ? undefined : await queueUrl(v);
  const queue = url ? await loadQueue() : undefined;
  const out = resolve(String(v.out ?? join('reports', v.quick ? 'quick' : 'latest')));
  // --out DIR is created, not its parent (the default reports/<quick|latest> is created as needed)
  if (v.out !== undefined) existingDirectory('out', String(v.out), dirname(out));
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`--out ${v.out}: ${out} is a file, not a directory`);
  kernels(); // a forced backend that cannot load fails here, before any worker starts
  for (const s of skipped) process.stderr.write(`note: skipping ${s.optimizer}: ${s.reason}\n`);
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const bar = progressBar(!json && Boolean(process.stderr.isTTY));
  const t0 = Date.now();
  const onResult = (r: JobResult, done: number, total: number) => {
    bar.update(done, total, `${r.task} ${r.optimizer}`);
    if (verbose) {
      process.stderr.write(
        `run ${done}/${total}: ${r.task} ${r.optimizer} η=${r.lr ?? 'n/a'} seed=${r.seed} final=${r.finalMetric} (${r.ms} ms)\n`,
      );
    }
  };
  const outcome: Pick<QueueOutcome, 'results' | 'aborted'> & Partial<QueueOutcome> =
    queue && url
      ? await queue.runOnQueue(jobs, { url, signal: controller.signal, onResult, retryFailed: Boolean(v.retryFailed) })
      : await runJobs(jobs, { workers, signal: controller.signal, onResult });
  bar.stop();
  const elapsed = (Date.now() - t0) / 1000;
  const failed = outcome.failed ?? [];
  for (const f of failed)
    process.stderr.write(`failed: ${f.task} ${f.optimizer} η=${f.lr ?? 'n/a'} seed=${f.seed}: ${f.error}\n`);
  const built = buildReport(options, jobs.length, outcome.results, skipped, grids);
  const report = queue ? queue.withFailures(built, failed) : built;
  // still listening while the plots render (~1 s): a second Ctrl-C must not lose the report
  const { files, note } = await writeReport(report, out, elapsed).finally(() => process.off('SIGINT', onSigint));
  if (note) process.stderr.write(`note: ${note}\n`);
  const table = report.summary.selfTuning.map(
    (s) =>
      `  ${s.optimizer.padEnd(22)} ${s.reached}/${s.counted} tasks within 1.5× of the reference; ` +
      `reaches the target on ${s.reachedAtDefault.length}/${s.ranAtDefault}`,
  );
  print(
    json,
    report,
    `${interrupted ? 'interrupted: ' : ''}${report.jobs.done}/${report.jobs.total} runs in ${elapsed.toFixed(1)} s ` +
      `${url ? `on the queue (${outcome.reused} reused, ${outcome.enqueued} enqueued, ${failed.length} failed)` : `on ${workers} worker(s)`}\n` +
      `best-tuned final metric per task (mean over seeds):\n${summaryLines(report).join('\n')}\n` +
      `self-tuning summary (at defaults):\n${table.join('\n')}\n` +
      `wrote ${files.length} files under ${out} (report.md, report.json, index.html, plots/)`,
  );
  return interrupted ? EXIT.interrupted : failed.length ? EXIT.failure : EXIT.ok;
}

async function bench(v: Values): Promise<number> {
  const script = benchScript();
  const pass = [...(v.quick ? ['--quick'] : []), ...(v.filter ? ['--filter', String(v.filter)] : [])];
  return await new Promise<number>((done) => {
    const child = spawn(process.execPath, [script, ...pass], { stdio: 'inherit' });
    child.on('exit', (code, signal) =>
      done(signal === 'SIGINT' ? EXIT.interrupted : code === 0 ? EXIT.ok : EXIT.failure),
    );
  });
}

/** What the --data and predict commands (./data.ts) use of this module. */
const cliContext = { progressBar, print, exit: EXIT };

/** train: on your own CSV with --data, else one task. */
async function trainAction(v: Values): Promise<number> {
  if (v.data !== undefined && v.queue !== undefined) {
    throw new UsageError('--queue takes a task run (--task …), not --data: train a CSV on one machine');
  }
  if (v.data !== undefined) return trainDataCommand(v, cliContext);
  rejectDataOptions(v);
  if (v.resume === true) throw new UsageError('--resume needs a checkpoint file: --resume FILE');
  return train(v);
}

/** The commander program; each action stores its command's exit code. */
function program(setCode: (code: Promise<number>) => void): Command {
  const cli = new Command('cimm')
    .description('cimm: entropy-balanced learning rates, QBE and QDT kernels — tasks, comparison, benchmarks')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .version(packageVersion(), '-v, --version', "print cimm's version")
    .addHelpText('after', `\n${USAGE.slice(USAGE.indexOf('Tasks:'))}`);
  const json = new Option('--json', 'one machine-readable JSON document on stdout');
  cli
    .command('info')
    .description('backend, CPU features, SIMD path, threads')
    .addOption(json)
    .action((v: Values) => setCode(info(v)));
  cli
    .command('train')
    .description('train one task with one optimizer (or step-size rule)')
    .option('--task <name>', `one of ${TASK_NAMES.join(', ')}; with --data: regression or classification`)
    .option('--optimizer <name>', 'an optimizer (a step-size rule on cliff-walking)')
    .option('--lr <number>', 'learning rate (default: the optimizer default)')
    .option('--steps <n>', 'steps (episodes on cliff-walking)')
    .option('--seed <n>', 'seed', undefined)
    .option('--batch-size <n>', "rows a step (default: the comparison's batch size for the task)")
    .option('--full-batch', 'the whole training set every step')
    .option('--checkpoint <file>', 'save the run (atomically) every --checkpoint-every steps, at the end and on Ctrl-C')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default: a tenth of the run)')
    .option(
      '--resume [file]',
      'continue a saved run bit-for-bit (task, optimizer, lr, seed come from the file); with --data, FILE defaults to --checkpoint',
    )
    .option('--data <file>', 'train on your own CSV (a header line, then rows)')
    .option('--target <column>', 'with --data: the column to predict')
    .option('--model <spec>', 'with --data: linear or mlp:H1,H2[:activation] (default mlp:64,64)')
    .option('--epochs <n>', 'with --data: passes over the training rows (default 50)')
    .option('--validation <fraction>', 'with --data: rows held out, a seeded split (default 0.2)')
    .option('--categorical <list>', 'with --data: columns to one-hot encode even if they hold numbers')
    .option('--ignore <list>', 'with --data: columns that are not features')
    .option('--save <file>', 'with --data: write the trained model and its preprocessing (atomically) for predict')
    .option('--queue <url>', 'submit the run as one job to the BullMQ queue at this Redis URL and wait for it')
    .option('--checkpoint-store <dir|redis>', 'with --queue: where workers keep the checkpoint (default redis)')
    .addOption(json)
    .action((v: Values) => setCode(trainAction(v)));
  cli
    .command('predict')
    .description('predict a CSV with a model saved by train --data … --save')
    .option('--model <file>', 'the model file')
    .option('--data <file>', 'the CSV to predict (the target column is optional; if present, the score is reported)')
    .option('--out <file>', 'write the predictions as CSV (atomically) instead of to stdout')
    .addOption(json)
    .action((v: Values) => setCode(predictCommand(v, cliContext)));
  cli
    .command('compare')
    .description('every task × optimizer × learning rate × seed, report under --out')
    .option('--quick', 'the short budget (a few minutes on 2 cores)')
    .option('--tasks <list>', 'comma-separated tasks')
    .option('--optimizers <list>', 'comma-separated optimizers and step-size rules')
    .option('--variants', "add the entropy-balanced rule's named variants (EB/…)")
    .option('--learning-rates <list>', "comma-separated η (or η₀) to sweep instead of the budget's grid")
    .option('--seeds <n>', 'seeds per configuration (default 3)')
    .option('--out <dir>', 'report directory (default reports/quick or reports/latest)')
    .option('--workers <n>', 'worker threads (0 = serial; default min(cores, jobs))')
    .option('--steps <n>', 'override the step budget of every task')
    .option('--queue <url>', 'run on the BullMQ queue at this Redis URL (start `cimm worker`s on it)')
    .option('--retry-failed', 'with --queue: retry runs that failed in an earlier sweep')
    .option('--verbose', 'one line per finished run on stderr')
    .addOption(json)
    .action((v: Values) => setCode(compareCommand(v)));
  cli
    .command('worker')
    .description('run queued compare runs and training jobs until SIGTERM')
    .option('--queue <url>', 'the Redis URL of the queue, redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'jobs at once (default 1)')
    .option('--lock-duration <ms>', "a dead worker's job is retried after about twice this (default 30000)")
    .option('--verbose', 'one line per job event on stderr')
    .action((v: Values) => setCode(worker(v)));
  cli
    .command('build-native')
    .description('build the C++ backend from source (needs cmake and a C++17 compiler)')
    .action(() => setCode(Promise.resolve().then(() => (buildNative(), EXIT.ok))));
  if (hasBench()) {
    cli
      .command('bench')
      .description('the kernel benchmarks (npm run bench)')
      .option('--quick', 'one short round')
      .option('--filter <regex>', 'only cases whose "kernel size" matches')
      .action((v: Values) => setCode(bench(v)));
  }
  return cli;
}

/** CIMM_BACKEND is checked before any command runs: a bad value is a usage error. */
function checkBackendVariable(): void {
  const value = process.env.CIMM_BACKEND;
  if (value && !(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(
      `CIMM_BACKEND=${value} is not a backend${didYouMean(value, BACKEND_NAMES)} (known: ${BACKEND_NAMES.join(', ')}; unset it to choose automatically)`,
    );
  }
}

/** A thrown error as the user sees it: one line (a backend error keeps its causes and fixes). */
function failureText(e: unknown): string {
  if (process.env.CIMM_DEBUG && e instanceof Error && e.stack) return e.stack;
  if (e instanceof CimmBackendError) return e.message.replace(/^cimm: /, '');
  const text = e instanceof Error ? e.message : String(e);
  // many of the library's messages carry their own "cimm: " prefix: print it once
  return text.split('\n')[0].replace(/^cimm: /, '');
}

export async function main(argv: string[]): Promise<number> {
  let code: Promise<number> = Promise.resolve(EXIT.ok);
  try {
    if (argv.length === 0) throw new UsageError('no command given');
    if (argv[0] === 'help') argv = ['--help'];
    if (argv[0] === 'bench' && !hasBench()) {
      throw new UsageError(
        'the benchmarks are part of the source checkout, not of the installed package: clone the repository, then `npm ci && npm run build && npm run bench`',
      );
    }
    checkBackendVariable();
    await program((c) => {
      code = c;
    }).parseAsync(argv, { from: 'user' });
    return await code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') {
        return EXIT.ok;
      }
      const message = e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)$/, '; did you mean $1?');
      process.stderr.write(`cimm: ${message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`cimm: ${e.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    const hint =
      process.env.CIMM_DEBUG ||
      e instanceof BuildNativeError ||
      e instanceof CimmBackendError ||
      e instanceof CimmDataError
        ? ''
        : ' (CIMM_DEBUG=1 shows where)';
    process.stderr.write(`cimm: ${failureText(e)}${hint}\n`);
    return EXIT.failure;
  }
}

process.exitCode = await main(process.argv.slice(2));
