/**
 * `cimm train --data FILE.csv --target COLUMN …` and `cimm predict --model model.json --data
 * FILE.csv`: the command-line side of lib/data/ (option parsing, output paths checked before
 * any work, progress, Ctrl-C, the printed summary). Every file is written atomically, and
 * only once its content is complete: the model file after training finished, the
 * predictions after every row was predicted; the checkpoint is the Trainer's own.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { probeWritable, writeFileAtomic } from '../atomic-file.js';
import { stringifyCsv } from '../data/csv.js';
import { loadModelFile, predictTable, saveModelFile } from '../data/model-file.js';
import { readTableFile, type Scores, score, scoreText, TASK_KINDS, type TaskKind } from '../data/table.js';
import { namedOptimizer, OPTIMIZER_NAMES, parseModelSpec, TRAIN_CSV_DEFAULTS, trainCsv } from '../data/train-csv.js';
import { CimmArgumentError, CimmDataError } from '../errors.js';
import { didYouMean } from './suggest.js';
import { UsageError } from './usage.js';

type Values = Record<string, string | boolean | undefined>;

/** What main.ts lends these commands: its progress bar and its printer (text or --json). */
export interface CliContext {
  progressBar(
    enabled: boolean,
    unit?: string,
  ): { update(done: number, total: number, label: string): void; stop(): void };
  print(json: boolean, value: unknown, text: string): void;
  exit: { ok: number; failure: number; usage: number; interrupted: number };
}

/** The options of `train` that only the task mode takes, and those only --data takes. */
export const DATA_ONLY_OPTIONS = ['target', 'model', 'epochs', 'validation', 'save', 'categorical', 'ignore'] as const;
const TASK_ONLY_OPTIONS = ['steps', 'fullBatch'] as const;
const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** In task mode (no --data), an option of the data mode is a usage error rather than silently unused. */
export function rejectDataOptions(v: Values): void {
  for (const k of DATA_ONLY_OPTIONS) {
    if (v[k] !== undefined) throw new UsageError(`${flag(k)} is an option of train --data FILE.csv (no --data given)`);
  }
}

function count(name: string, v: string | boolean | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

function names(v: string | boolean | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * An output file named by --<option>: its directory exists (cimm creates none the user did
 * not ask for), it is not a directory, and it is none of the files this command reads.
 */
function outputPath(option: string, given: string, reads: { option: string; path: string }[]): string {
  const path = resolve(given);
  let dirOk = false;
  try {
    dirOk = statSync(dirname(path)).isDirectory();
  } catch {}
  if (!dirOk)
    throw new UsageError(`--${option} ${given}: the directory ${dirname(path)} does not exist (create it first)`);
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`--${option} ${given}: ${path} is a directory; name a file in it`);
  for (const r of reads) {
    if (r.path === path)
      throw new UsageError(`--${option} ${given} is the file --${r.option} reads; name another file`);
  }
  // found now, not at the first save after the training
  const unwritable = probeWritable(path);
  if (unwritable)
    throw new UsageError(
      `--${option} ${given}: a file cannot be created in ${dirname(path)} (${unwritable.code ?? unwritable.message})`,
    );
  return path;
}

/** `cimm train --data FILE.csv --target COLUMN …` */
export async function trainDataCommand(v: Values, cli: CliContext): Promise<number> {
  const json = Boolean(v.json);
  for (const k of TASK_ONLY_OPTIONS) {
    if (v[k] !== undefined)
      throw new UsageError(`${flag(k)} is not an option of train --data (use --epochs and --batch-size)`);
  }
  if (typeof v.target !== 'string') throw new UsageError('train --data needs --target COLUMN (the column to predict)');
  const data = resolve(String(v.data));
  let task: TaskKind | undefined;
  if (v.task !== undefined) {
    task = String(v.task) as TaskKind;
    if (!TASK_KINDS.includes(task))
      throw new UsageError(
        `--task with --data is regression or classification, got ${JSON.stringify(v.task)}${didYouMean(String(v.task), TASK_KINDS)}`,
      );
  }
  const model = v.model === undefined ? TRAIN_CSV_DEFAULTS.model : String(v.model);
  try {
    parseModelSpec(model);
  } catch (e) {
    throw new UsageError(`--model ${model}: ${(e as Error).message}`);
  }
  const optimizer = v.optimizer === undefined ? TRAIN_CSV_DEFAULTS.optimizer : String(v.optimizer);
  if (!OPTIMIZER_NAMES.some((n) => n.toLowerCase() === optimizer.toLowerCase())) {
    throw new UsageError(
      `--optimizer: unknown ${JSON.stringify(optimizer)}${didYouMean(optimizer, OPTIMIZER_NAMES)} (known: ${OPTIMIZER_NAMES.join(', ')})`,
    );
  }
  let learningRate: number | undefined;
  if (v.lr !== undefined) {
    learningRate = Number(v.lr);
    if (!(learningRate > 0 && Number.isFinite(learningRate)))
      throw new UsageError(`--lr must be a positive number, got ${v.lr}`);
  }
  try {
    namedOptimizer(optimizer, learningRate);
  } catch (e) {
    throw new UsageError(
      `--optimizer ${optimizer}${v.lr === undefined ? '' : ` --lr ${v.lr}`}: ${(e as Error).message}`,
    );
  }
  const epochs = count('epochs', v.epochs, TRAIN_CSV_DEFAULTS.epochs, 1);
  const batchSize = count('batch-size', v.batchSize, TRAIN_CSV_DEFAULTS.batchSize, 1);
  const seed = count('seed', v.seed, TRAIN_CSV_DEFAULTS.seed, 0);
  const validation = v.validation === undefined ? TRAIN_CSV_DEFAULTS.validation : Number(v.validation);
  if (!(validation >= 0 && validation <= 0.9))
    throw new UsageError(`--validation must be a fraction in [0, 0.9], got ${v.validation}`);
  const every = count('checkpoint-every', v.checkpointEvery, 0, 1);

  // Output paths, before any work: a typo in a directory must not cost a training run.
  const reads = [{ option: 'data', path: data }];
  let resumeFrom: string | undefined;
  if (v.resume !== undefined) {
    const from = v.resume === true ? v.checkpoint : v.resume;
    if (typeof from !== 'string')
      throw new UsageError('--resume needs a checkpoint: --resume FILE, or --checkpoint FILE --resume');
    resumeFrom = resolve(from);
    if (!existsSync(resumeFrom) || statSync(resumeFrom).isDirectory())
      throw new UsageError(`--resume: there is no checkpoint file ${resumeFrom}`);
  }
  // resuming without --checkpoint keeps saving to the file it resumed from
  const checkpointGiven = typeof v.checkpoint === 'string' ? v.checkpoint : resumeFrom;
  const checkpoint = checkpointGiven === undefined ? undefined : outputPath('checkpoint', checkpointGiven, reads);
  const save =
    v.save === undefined
      ? undefined
      : outputPath('save', String(v.save), [
          ...reads,
          ...(checkpoint ? [{ option: 'checkpoint', path: checkpoint }] : []),
          ...(resumeFrom ? [{ option: 'resume', path: resumeFrom }] : []),
        ]);
  if (v.checkpointEvery !== undefined && !checkpoint)
    throw new UsageError('--checkpoint-every needs --checkpoint FILE');

  // Ctrl-C: listened for only once fit has given control back. A fit that yields between
  // steps then stops after the current one and keeps its checkpoint (exit 130); a
  // synchronous fit is not listened to, so Ctrl-C ends the process as usual — every file is
  // written atomically (the last checkpoint stays whole, no model file is written).
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  const bar = cli.progressBar(!json && Boolean(process.stderr.isTTY), 'steps');
  const t0 = performance.now();
  const notes: string[] = [];
  let stepped = false;
  let result: Awaited<ReturnType<typeof trainCsv>>;
  try {
    result = await trainCsv({
      data,
      target: v.target,
      task,
      categorical: names(v.categorical),
      ignore: names(v.ignore),
      model,
      optimizer,
      learningRate,
      epochs,
      batchSize,
      seed,
      validation,
      ...(checkpoint ? { checkpoint: { path: checkpoint, every } } : {}),
      ...(resumeFrom ? { resumeFrom } : {}),
      signal: controller.signal,
      onStep: (done, total, loss) => {
        stepped = true;
        bar.update(done, total, `loss ${loss.toPrecision(4)}`);
      },
      onFitStarted: () => process.on('SIGINT', onSigint),
      onPlan: (plan) => {
        notes.push(...(plan.inferred ? [`--task inferred: ${plan.task} (${plan.inferred})`] : []), ...plan.notes);
        for (const n of notes) process.stderr.write(`note: ${n}\n`);
      },
    });
  } catch (e) {
    // fit refused the checkpoint before its first step (another run's columns, model or
    // optimizer; a damaged file): a usage error, as with --resume of a task
    if (resumeFrom && !stepped && (e instanceof CimmArgumentError || e instanceof SyntaxError)) {
      throw new UsageError(
        `--resume ${resumeFrom}: not a checkpoint of this run (same data and options): ${(e as Error).message.replace(/^cimm: /, '')}`,
      );
    }
    throw e;
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
  }
  const ms = Math.round(performance.now() - t0);
  const { plan, prep, history, summary, scores, interrupted } = result;
  if (!interrupted && save) saveModelFile(save, result.model, prep, summary);

  const out = {
    ...summary,
    target: prep.target,
    task: prep.task,
    inferred: plan.inferred,
    features: prep.features.map((f) => ({ name: f.name, kind: f.kind })),
    classes: prep.classes,
    stopReason: history.stopReason,
    epochsDone: history.epochs.length,
    history: history.epochs,
    scores,
    ms,
    checkpoint: checkpoint ?? null,
    resumedFrom: resumeFrom ?? null,
    saved: interrupted ? null : (save ?? null),
    interrupted,
    notes,
  };
  const shown = everyNth(history.epochs, 10);
  const lines = [
    `${prep.task} of ${JSON.stringify(prep.target)} on ${summary.rows} rows (${summary.trainRows} training, ${summary.validationRows} validation; ` +
      `${prep.features.length} columns → ${result.model.inputSize} inputs${prep.classes ? `, ${prep.classes.length} classes` : ''})`,
    `${summary.model} with ${summary.optimizer} (η ${summary.learningRate}, batches of ${summary.batchSize}, seed ${summary.seed}): ` +
      `${summary.steps} steps in ${ms} ms${resumeFrom ? ` (resumed from ${resumeFrom})` : ''}`,
    ...shown.map(
      (e) =>
        `  epoch ${String(e.epoch + 1).padStart(4)}  loss ${e.loss.toPrecision(5)}${e.valLoss === null ? '' : `  validation loss ${e.valLoss.toPrecision(5)}`}`,
    ),
    `${interrupted ? 'at the interruption: ' : ''}training rows: ${scoreText(scores.train)}` +
      (scores.validation ? `; validation rows: ${scoreText(scores.validation)}` : ''),
  ];
  if (checkpoint)
    lines.push(`checkpoint: ${checkpoint}${interrupted ? ` (continue with --checkpoint ${checkpoint} --resume)` : ''}`);
  else if (interrupted) lines.push('interrupted; no --checkpoint given: the progress is not saved');
  if (save) lines.push(interrupted ? `not saved to ${save}: the run did not finish` : `model saved to ${save}`);
  cli.print(json, out, lines.join('\n'));
  return interrupted ? cli.exit.interrupted : cli.exit.ok;
}

/** At most about `n` items, evenly spaced, always with the last. */
function everyNth<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const step = Math.ceil(items.length / n);
  return items.filter((_, i) => i % step === 0 || i === items.length - 1);
}

/** `cimm predict --model model.json --data FILE.csv [--out predictions.csv]` */
export async function predictCommand(v: Values, cli: CliContext): Promise<number> {
  const json = Boolean(v.json);
  if (typeof v.model !== 'string')
    throw new UsageError('predict needs --model FILE (a file written by train --data … --save)');
  if (typeof v.data !== 'string') throw new UsageError('predict needs --data FILE.csv');
  const modelPath = resolve(v.model);
  const data = resolve(v.data);
  const out =
    v.out === undefined
      ? undefined
      : outputPath('out', String(v.out), [
          { option: 'data', path: data },
          { option: 'model', path: modelPath },
        ]);
  let loaded: ReturnType<typeof loadModelFile>;
  try {
    loaded = loadModelFile(modelPath);
  } catch (e) {
    if (e instanceof CimmDataError) throw new UsageError(`--model ${v.model}: ${e.message.replace(/^cimm: /, '')}`);
    throw e;
  }
  const table = readTableFile(data);
  const { encoded, decoded } = predictTable(loaded, table);
  const { prep } = loaded;
  const used = new Set([prep.target, ...prep.features.map((f) => f.name)]);
  const notes = [
    ...encoded.unseen.map(
      (u) =>
        `column ${JSON.stringify(u.column)}: ${u.count} row(s) have a category the training rows did not have (first ${JSON.stringify(u.value)} on line ${u.firstLine}); encoded as none of the known ones`,
    ),
  ];
  const unused = table.columns.filter((c) => !used.has(c));
  if (unused.length) notes.push(`columns the model does not read: ${unused.map((c) => JSON.stringify(c)).join(', ')}`);
  let scores: Scores | null = null;
  if (encoded.target) {
    const all = Uint32Array.from({ length: encoded.rows }, (_, i) => i);
    scores = score(decoded, encoded.target, all);
    if (decoded.task === 'classification') {
      const known = new Set(prep.classes);
      const strangers = (encoded.target as string[]).filter((l) => !known.has(l)).length;
      if (strangers)
        notes.push(
          `${strangers} row(s) have a ${JSON.stringify(prep.target)} label the model does not know (counted as misses)`,
        );
    }
  }
  for (const n of notes) process.stderr.write(`note: ${n}\n`);

  const header = ['prediction', ...(prep.classes ?? []).map((c) => `p(${c})`)];
  const records: string[][] = [];
  for (let r = 0; r < encoded.rows; r++) {
    if (decoded.task === 'regression') records.push([String(decoded.values[r])]);
    else {
      const c = header.length - 1;
      records.push([decoded.labels[r], ...Array.from(decoded.probabilities.subarray(r * c, (r + 1) * c), String)]);
    }
  }
  const csv = stringifyCsv([header, ...records]);
  if (out) writeFileAtomic(out, csv);
  const summary = {
    model: modelPath,
    data,
    rows: encoded.rows,
    task: prep.task,
    target: prep.target,
    scores,
    out: out ?? null,
    notes,
  };
  if (json) {
    cli.print(true, out ? summary : { ...summary, header, predictions: records }, '');
  } else if (out) {
    cli.print(
      false,
      summary,
      `${encoded.rows} predictions written to ${out}${scores ? `; against ${JSON.stringify(prep.target)}: ${scoreText(scores)}` : ''}`,
    );
  } else {
    process.stdout.write(csv);
    if (scores) process.stderr.write(`against ${JSON.stringify(prep.target)}: ${scoreText(scores)}\n`);
  }
  return cli.exit.ok;
}
