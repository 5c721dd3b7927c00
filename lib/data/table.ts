/**
 * A user's CSV as training data: a header naming the columns, one target column, the rest
 * features. Numeric features are standardized, z = (x − μ) / σ, and categorical ones
 * one-hot encoded; μ, σ and the categories come from the training rows only (the
 * validation rows must not leak into them). A regression target is standardized the same
 * way (predictions are mapped back); a classification target becomes a class index into
 * the sorted labels. Every bad value is reported with its line in the file (1-based, the
 * line a multi-line quoted record starts on) and its column; cimm does not impute.
 */
import { readFileSync } from 'node:fs';
import { didYouMean } from '../cli/suggest.js';
import { type BadRow, CimmDataError } from '../errors.js';
import { oneOf } from '../is.js';
import { Random } from '../random.js';
import { parseCsvRecords } from './csv.js';

export type TaskKind = 'regression' | 'classification';
export const TASK_KINDS: readonly TaskKind[] = ['regression', 'classification'];

/** A parsed file whose rows all have the header's columns. */
export interface Table {
  source: string;
  columns: string[];
  /** rows[i][j] is column j of row i (trimmed text). */
  rows: string[][];
  /** rows[i] starts on line lines[i] of the file. */
  lines: number[];
}

export interface NumericFeature {
  name: string;
  kind: 'numeric';
  /** μ and σ of the training rows (σ = 1 for a constant column, so z = x − μ). */
  mean: number;
  std: number;
}

export interface CategoricalFeature {
  name: string;
  kind: 'categorical';
  /** The training rows' values, sorted: one input each (one-hot); an unseen value is all zeros. */
  categories: string[];
}

export type Feature = NumericFeature | CategoricalFeature;

/** Everything needed to turn a row of the CSV into the model's input and its output back into a prediction. */
export interface Preprocessing {
  target: string;
  task: TaskKind;
  features: Feature[];
  /** Regression: μ, σ of the training targets (the model predicts (y − μ)/σ). Null for classification. */
  targetScale: { mean: number; std: number } | null;
  /** Classification: the labels, sorted; output c is the logit of classes[c]. Null for regression. */
  classes: string[] | null;
}

/** The largest number of bad fields listed in one message (all are in `badRows`). */
const SHOWN = 5;

function dataError(source: string, bad: BadRow[]): CimmDataError {
  const shown = bad
    .slice(0, SHOWN)
    .map((b) => `line ${b.line}: ${b.reason}`)
    .join('; ');
  const more = bad.length > SHOWN ? ` (and ${bad.length - SHOWN} more)` : '';
  return new CimmDataError(`cimm: ${source} has ${bad.length} bad field(s): ${shown}${more}`, bad);
}

/**
 * A decimal number, strictly: digits with an optional sign, point and exponent. Not '',
 * not 'NaN', 'Infinity', '0x10' or '1,5' (Number() would take some of those); a number
 * that overflows to ±Infinity is not finite and is refused too.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
export function parseDecimal(text: string): number {
  if (!DECIMAL.test(text)) return Number.NaN;
  const v = Number(text);
  return Number.isFinite(v) ? v : Number.NaN;
}

/**
 * Column j of a table as numbers (NaN where a field is not a decimal number), parsed once
 * per table and column: the plan, the statistics and the encoding all read it.
 */
const parsedColumns = new WeakMap<Table, Map<number, Float64Array>>();
function columnNumbers(table: Table, j: number): Float64Array {
  let byColumn = parsedColumns.get(table);
  if (!byColumn) {
    byColumn = new Map();
    parsedColumns.set(table, byColumn);
  }
  let values = byColumn.get(j);
  if (!values) {
    values = Float64Array.from(table.rows, (r) => parseDecimal(r[j]));
    byColumn.set(j, values);
  }
  return values;
}

/** Labels sorted numerically when all are numbers ("2" before "10"), else by code unit. */
function sortLabels(labels: Iterable<string>): string[] {
  const list = [...new Set(labels)];
  const numeric = list.every((l) => !Number.isNaN(parseDecimal(l)));
  return list.sort((a, b) => (numeric ? parseDecimal(a) - parseDecimal(b) : a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Parse CSV text into a Table. Errors (CimmDataError, naming the source and the line): an
 * empty file, a header without rows, an empty or repeated column name, a row with fewer or
 * more fields than the header (naming the first missing column, or the header's last).
 */
export function readTable(text: string, source: string): Table {
  const csv = parseCsvRecords(text, source);
  const columns = csv.header;
  const seen = new Map<string, number>();
  columns.forEach((name, j) => {
    if (name === '')
      throw new CimmDataError(`cimm: ${source} line ${csv.headerLine}: column ${j + 1} of the header has no name`);
    const before = seen.get(name);
    if (before !== undefined) {
      throw new CimmDataError(
        `cimm: ${source} line ${csv.headerLine}: the header names column ${JSON.stringify(name)} twice (columns ${before + 1} and ${j + 1})`,
      );
    }
    seen.set(name, j);
  });
  if (csv.records.length === 0) throw new CimmDataError(`cimm: ${source} has a header but no rows`);
  const bad: BadRow[] = [];
  csv.records.forEach((r, i) => {
    const line = csv.lines[i];
    if (r.length < columns.length) {
      bad.push({
        line,
        reason: `column ${JSON.stringify(columns[r.length])} is missing (the row has ${r.length} field(s), the header ${columns.length})`,
      });
    } else if (r.length > columns.length) {
      bad.push({
        line,
        reason: `${r.length} fields, more than the header's ${columns.length} (the last column is ${JSON.stringify(columns.at(-1))})`,
      });
    }
  });
  if (bad.length) throw dataError(source, bad);
  return { source, columns, rows: csv.records, lines: csv.lines };
}

/** Read a CSV file into a Table; a file that cannot be read is a CimmDataError naming it. */
export function readTableFile(path: string): Table {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new CimmDataError(`cimm: cannot read ${path}: ${why}`);
  }
  return readTable(text, path);
}

/** The index of column `name`, or a CimmDataError with did-you-mean and the columns there are. */
export function columnIndex(table: Table, name: string, role: string): number {
  const j = table.columns.indexOf(name);
  if (j < 0) {
    throw new CimmDataError(
      `cimm: ${table.source} has no column ${JSON.stringify(name)} (the ${role})${didYouMean(name, table.columns)}; its columns are ${table.columns.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  }
  return j;
}

export interface ColumnPlanOptions {
  target: string;
  /** Default: inferred (a column of text, or of at most 10 distinct integers, is classification). */
  task?: TaskKind;
  /** Columns to treat as categories even when they hold numbers (codes, zip codes). */
  categorical?: readonly string[];
  /** Columns that are not features (identifiers, free text). */
  ignore?: readonly string[];
}

/** What to train: the target, the task and each feature column's kind, with the reasons said. */
export interface ColumnPlan {
  target: string;
  task: TaskKind;
  /** Why this task, when it was inferred (null when --task was given). */
  inferred: string | null;
  features: { name: string; kind: 'numeric' | 'categorical' }[];
  /** Remarks for the user (a column that looks like an identifier). */
  notes: string[];
}

/** At most this many distinct integer targets make an omitted --task classification. */
export const MAX_INFERRED_CLASSES = 10;

/**
 * Decide the task and the feature kinds. A column is numeric when most of its fields are
 * decimal numbers (then the others are errors, naming their rows, at encoding); otherwise
 * categorical. The target must exist (did-you-mean otherwise), and so must every column
 * named in `categorical` and `ignore`.
 */
export function planColumns(table: Table, opts: ColumnPlanOptions): ColumnPlan {
  const t = columnIndex(table, opts.target, 'target');
  const categorical = new Set(opts.categorical ?? []);
  const ignore = new Set(opts.ignore ?? []);
  for (const c of categorical) columnIndex(table, c, 'categorical column');
  for (const c of ignore) columnIndex(table, c, 'ignored column');
  if (ignore.has(opts.target))
    throw new CimmDataError(`cimm: the target ${JSON.stringify(opts.target)} cannot also be ignored`);
  const numbers = (j: number) => columnNumbers(table, j).reduce((n, v) => n + (Number.isNaN(v) ? 0 : 1), 0);
  const filled = (j: number) => table.rows.reduce((n, r) => n + (r[j] === '' ? 0 : 1), 0);

  const notes: string[] = [];
  const features: ColumnPlan['features'] = [];
  table.columns.forEach((name, j) => {
    if (j === t || ignore.has(name)) return;
    const nonEmpty = filled(j);
    if (nonEmpty === 0) {
      throw new CimmDataError(
        `cimm: ${table.source}: column ${JSON.stringify(name)} is empty in every row (drop it from the file or leave it out with --ignore ${name})`,
      );
    }
    const kind = categorical.has(name) || numbers(j) * 2 <= nonEmpty ? 'categorical' : 'numeric';
    if (kind === 'categorical') {
      const distinct = new Set(table.rows.map((r) => r[j])).size;
      if (distinct === table.rows.length && table.rows.length > 10) {
        notes.push(
          `column ${JSON.stringify(name)} has a different value in every row (an identifier?); it is one-hot encoded as ${distinct} inputs — leave it out with --ignore ${name}`,
        );
      }
    }
    features.push({ name, kind });
  });
  if (features.length === 0)
    throw new CimmDataError(
      `cimm: ${table.source} has no feature columns besides the target ${JSON.stringify(opts.target)}`,
    );

  if (opts.task !== undefined)
    return { target: opts.target, task: oneOf('task', opts.task, TASK_KINDS), inferred: null, features, notes };
  const values = table.rows.map((r) => r[t]).filter((v) => v !== '');
  const numeric = [...columnNumbers(table, t)].filter((v) => !Number.isNaN(v));
  let task: TaskKind;
  let inferred: string;
  if (numeric.length * 2 <= values.length) {
    task = 'classification';
    inferred = `the target ${JSON.stringify(opts.target)} holds text`;
  } else {
    const distinct = new Set(numeric);
    const integers = [...distinct].every(Number.isInteger);
    if (integers && numeric.length === values.length && distinct.size <= MAX_INFERRED_CLASSES) {
      task = 'classification';
      inferred = `the target ${JSON.stringify(opts.target)} holds ${distinct.size} distinct integers; --task regression fits it as a number`;
    } else {
      task = 'regression';
      inferred = `the target ${JSON.stringify(opts.target)} holds numbers`;
    }
  }
  return { target: opts.target, task, inferred, features, notes };
}

/**
 * A seeded split of rows [0, n): a Fisher–Yates shuffle with the library's RNG; the first
 * ⌊n·fraction⌋ rows of the permutation are the validation rows. Both lists ascending.
 */
export function splitRows(n: number, fraction: number, seed: number): { train: Uint32Array; validation: Uint32Array } {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Random(seed).shuffle(perm);
  const v = Math.floor(n * fraction);
  return { train: perm.slice(v).sort(), validation: perm.slice(0, v).sort() };
}

/** The numbers of column j, or every bad field (line and column) in `bad`. */
function numericColumn(table: Table, j: number, bad: BadRow[], hint: string): Float64Array {
  const name = table.columns[j];
  const values = columnNumbers(table, j);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isNaN(values[i])) continue;
    const text = table.rows[i][j];
    bad.push({
      line: table.lines[i],
      reason:
        text === ''
          ? `column ${JSON.stringify(name)} is empty (missing values are not filled in: fill or drop the row)`
          : `column ${JSON.stringify(name)} is ${JSON.stringify(text)}, not a number${hint}`,
    });
  }
  return values;
}

/** The text of categorical column j; an empty field is an error (missing values are not filled in). */
function textColumn(table: Table, j: number, bad: BadRow[], what: string): string[] {
  const name = table.columns[j];
  return table.rows.map((r, i) => {
    if (r[j] === '') bad.push({ line: table.lines[i], reason: `column ${JSON.stringify(name)} is empty (${what})` });
    return r[j];
  });
}

/** μ and σ (population) of values[rows], σ = 1 when the rows are constant (z = x − μ then). */
function meanStd(values: Float64Array, rows: ArrayLike<number>): { mean: number; std: number } {
  let mean = 0;
  for (let i = 0; i < rows.length; i++) mean += values[rows[i]];
  mean /= rows.length;
  let ss = 0;
  for (let i = 0; i < rows.length; i++) ss += (values[rows[i]] - mean) ** 2;
  const std = Math.sqrt(ss / rows.length);
  return { mean, std: std > 0 ? std : 1 };
}

/**
 * The preprocessing of `plan`, with statistics from `trainRows` only. Every field of every
 * row (training or validation) is checked first: one CimmDataError lists the bad ones.
 */
export function fitPreprocessing(table: Table, plan: ColumnPlan, trainRows: ArrayLike<number>): Preprocessing {
  if (trainRows.length === 0) throw new CimmDataError(`cimm: ${table.source}: no training rows are left`);
  const bad: BadRow[] = [];
  const t = columnIndex(table, plan.target, 'target');
  const targetHint =
    plan.task === 'regression' ? ' (the target of a regression; --task classification treats it as labels)' : '';
  const target =
    plan.task === 'regression'
      ? numericColumn(table, t, bad, targetHint)
      : textColumn(table, t, bad, 'the target is missing');
  const features = plan.features.map((f): Feature => {
    const j = columnIndex(table, f.name, 'feature');
    if (f.kind === 'numeric') {
      const values = numericColumn(
        table,
        j,
        bad,
        ` (the column is numeric; --categorical ${f.name} treats it as categories)`,
      );
      return { name: f.name, kind: 'numeric', ...meanStd(values, trainRows) };
    }
    const values = textColumn(table, j, bad, 'missing values are not filled in: fill or drop the row');
    return { name: f.name, kind: 'categorical', categories: sortLabels(Array.from(trainRows, (i) => values[i])) };
  });
  if (bad.length) throw dataError(table.source, sortBad(bad));
  if (plan.task === 'regression') {
    return {
      target: plan.target,
      task: 'regression',
      features,
      targetScale: meanStd(target as Float64Array, trainRows),
      classes: null,
    };
  }
  const classes = sortLabels(target as string[]);
  if (classes.length < 2) {
    throw new CimmDataError(
      `cimm: ${table.source}: the target ${JSON.stringify(plan.target)} has only one class (${JSON.stringify(classes[0])}); classification needs at least 2`,
    );
  }
  return { target: plan.target, task: 'classification', features, targetScale: null, classes };
}

/** Bad fields in file order (line, then as found). */
function sortBad(bad: BadRow[]): BadRow[] {
  return bad
    .map((b, k) => ({ b, k }))
    .sort((p, q) => p.b.line - q.b.line || p.k - q.k)
    .map((p) => p.b);
}

/** The model's input width: one per numeric feature, one per category. */
export function inputWidth(prep: Preprocessing): number {
  return prep.features.reduce((n, f) => n + (f.kind === 'numeric' ? 1 : f.categories.length), 0);
}

/** The model's output width: 1 for regression, one logit per class. */
export function outputWidth(prep: Preprocessing): number {
  return prep.task === 'regression' ? 1 : (prep.classes as string[]).length;
}

export interface Encoded {
  /** rows × inputWidth(prep), standardized / one-hot. */
  x: Float32Array;
  rows: number;
  /** The encoded target (standardized value or class index) when the table has the target column, else null. */
  y: Float32Array | null;
  /** The target as written (numbers for regression, labels for classification), or null. */
  target: Float64Array | string[] | null;
  /** Categorical values the training rows did not have (encoded as all zeros), per column. */
  unseen: { column: string; count: number; firstLine: number; value: string }[];
}

/**
 * Encode a table with a fitted preprocessing. Feature columns are found by name (order and
 * extra columns do not matter; a missing one is an error with did-you-mean). With
 * `target: 'required'` the target column must be there; 'optional' encodes it when present.
 * A classification label the model does not know is an error when the target is required
 * (training) and is kept as text otherwise (prediction scores it as a miss).
 */
export function encodeTable(table: Table, prep: Preprocessing, opts: { target: 'required' | 'optional' }): Encoded {
  const n = table.rows.length;
  const width = inputWidth(prep);
  const x = new Float32Array(n * width);
  const bad: BadRow[] = [];
  const unseen: Encoded['unseen'] = [];
  let offset = 0;
  for (const f of prep.features) {
    const j = columnIndex(table, f.name, 'feature');
    if (f.kind === 'numeric') {
      const values = numericColumn(table, j, bad, ' (the model reads it as a number)');
      for (let i = 0; i < n; i++) x[i * width + offset] = (values[i] - f.mean) / f.std;
      offset += 1;
    } else {
      const values = textColumn(table, j, bad, 'missing values are not filled in: fill or drop the row');
      const index = new Map(f.categories.map((c, k) => [c, k]));
      let miss: Encoded['unseen'][number] | undefined;
      for (let i = 0; i < n; i++) {
        const k = index.get(values[i]);
        if (k !== undefined) x[i * width + offset + k] = 1;
        else if (values[i] !== '') {
          if (miss) miss.count++;
          else miss = { column: f.name, count: 1, firstLine: table.lines[i], value: values[i] };
        }
      }
      if (miss) unseen.push(miss);
      offset += f.categories.length;
    }
  }
  let y: Float32Array | null = null;
  let target: Encoded['target'] = null;
  const t = table.columns.indexOf(prep.target);
  if (t < 0 && opts.target === 'required') columnIndex(table, prep.target, 'target');
  if (t >= 0) {
    if (prep.task === 'regression') {
      const values = numericColumn(table, t, bad, ' (the target of a regression)');
      const { mean, std } = prep.targetScale as { mean: number; std: number };
      y = Float32Array.from(values, (v) => (v - mean) / std);
      target = values.slice(); // the caller's copy, not the parsed column kept for this table
    } else {
      const labels = textColumn(table, t, bad, 'the target is missing');
      const index = new Map((prep.classes as string[]).map((c, k) => [c, k]));
      y = new Float32Array(n);
      labels.forEach((l, i) => {
        const k = index.get(l);
        if (k === undefined && l !== '' && opts.target === 'required') {
          bad.push({
            line: table.lines[i],
            reason: `column ${JSON.stringify(prep.target)} is ${JSON.stringify(l)}, not a known class`,
          });
        }
        y![i] = k ?? -1;
      });
      target = labels;
    }
  }
  if (bad.length) throw dataError(table.source, sortBad(bad));
  return { x, rows: n, y, target, unseen };
}

/** Predictions decoded from the model's outputs (rows × outputWidth). */
export type Decoded =
  | { task: 'regression'; values: Float64Array }
  | { task: 'classification'; labels: string[]; probabilities: Float64Array };

/** Map outputs back: regression ŷ = μ + σ·o; classification softmax probabilities and the most probable label. */
export function decodeOutputs(prep: Preprocessing, outputs: Float32Array, rows: number): Decoded {
  if (prep.task === 'regression') {
    const { mean, std } = prep.targetScale as { mean: number; std: number };
    return { task: 'regression', values: Float64Array.from(outputs.subarray(0, rows), (o) => mean + std * o) };
  }
  const classes = prep.classes as string[];
  const c = classes.length;
  const probabilities = new Float64Array(rows * c);
  const labels: string[] = [];
  for (let r = 0; r < rows; r++) {
    // softmax shifted by the row maximum (no overflow); ties go to the first class
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let k = 0; k < c; k++) {
      if (outputs[r * c + k] > max) {
        max = outputs[r * c + k];
        best = k;
      }
    }
    let s = 0;
    for (let k = 0; k < c; k++) s += probabilities[r * c + k] = Math.exp(outputs[r * c + k] - max);
    for (let k = 0; k < c; k++) probabilities[r * c + k] /= s;
    labels.push(classes[best]);
  }
  return { task: 'classification', labels, probabilities };
}

/** Scores of predictions against the written target: RMSE, MAE and R² for regression; accuracy for classification. */
export type Scores =
  | { task: 'regression'; rows: number; rmse: number; mae: number; r2: number }
  | { task: 'classification'; rows: number; accuracy: number };

export function score(decoded: Decoded, target: Float64Array | string[], rows: ArrayLike<number>): Scores {
  if (decoded.task === 'regression') {
    const y = target as Float64Array;
    let mean = 0;
    for (let i = 0; i < rows.length; i++) mean += y[rows[i]];
    mean /= rows.length;
    let se = 0;
    let ae = 0;
    let st = 0;
    for (let i = 0; i < rows.length; i++) {
      const d = decoded.values[rows[i]] - y[rows[i]];
      se += d * d;
      ae += Math.abs(d);
      st += (y[rows[i]] - mean) ** 2;
    }
    return {
      task: 'regression',
      rows: rows.length,
      rmse: Math.sqrt(se / rows.length),
      mae: ae / rows.length,
      r2: st > 0 ? 1 - se / st : Number.NaN,
    };
  }
  const labels = target as string[];
  let hits = 0;
  for (let i = 0; i < rows.length; i++) if (decoded.labels[rows[i]] === labels[rows[i]]) hits++;
  return { task: 'classification', rows: rows.length, accuracy: hits / rows.length };
}

/** One line for a score: "RMSE 1.23, MAE 0.98, R² 0.87" or "accuracy 0.93". */
export function scoreText(s: Scores): string {
  if (s.task === 'regression') {
    return `RMSE ${s.rmse.toPrecision(4)}, MAE ${s.mae.toPrecision(4)}, R² ${Number.isNaN(s.r2) ? 'n/a' : s.r2.toFixed(4)}`;
  }
  return `accuracy ${s.accuracy.toFixed(4)}`;
}
