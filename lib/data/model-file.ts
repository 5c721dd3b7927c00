/**
 * The file `cimm train --data … --save model.json` writes and `cimm predict --model` reads:
 * one JSON document with a format name and version, the preprocessing (columns, kinds,
 * categories, standardization statistics, class labels), the Sequential model's config and
 * its weights (float32, base64, as the trainer's checkpoints store them), and a summary of
 * the training run. Written atomically; read back with every field checked, an error naming
 * the file and the field.
 */
import { readFileSync } from 'node:fs';
import { base64Bytes, writeFileAtomic } from '../atomic-file.js';
import { CimmDataError } from '../errors.js';
import { Sequential } from '../nn/sequential.js';
import {
  type Decoded,
  decodeOutputs,
  type Encoded,
  encodeTable,
  type Feature,
  inputWidth,
  outputWidth,
  type Preprocessing,
  TASK_KINDS,
  type Table,
  type TaskKind,
} from './table.js';

export const MODEL_FORMAT = 'cimm-csv-model';
export const MODEL_VERSION = 1;

/** What the training run was, for the record (not needed to predict). */
export interface TrainingSummary {
  data: string;
  rows: number;
  trainRows: number;
  validationRows: number;
  seed: number;
  model: string;
  optimizer: string;
  learningRate: number;
  epochs: number;
  batchSize: number;
  steps: number;
  /** Scores on the training and validation rows at the end (validation null without one). */
  train: Record<string, number>;
  validation: Record<string, number> | null;
}

export interface ModelFile {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  preprocessing: Preprocessing;
  model: { layers: object[] };
  /** Parameter name (Sequential's `<layer>.<name>`) → float32 bytes, little-endian, base64. */
  params: Record<string, string>;
  training: TrainingSummary;
}

/** The JSON document for a trained model. */
export function modelFileBody(model: Sequential, prep: Preprocessing, training: TrainingSummary): ModelFile {
  const params: Record<string, string> = {};
  for (const [name, v] of Object.entries(model.params)) params[name] = base64Bytes(v);
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    preprocessing: prep,
    model: model.getConfig(),
    params,
    training,
  };
}

/** Write the model file atomically (a crash leaves the old file or the new one). */
export function saveModelFile(path: string, model: Sequential, prep: Preprocessing, training: TrainingSummary): void {
  writeFileAtomic(path, `${JSON.stringify(modelFileBody(model, prep, training), null, 1)}\n`);
}

/** A loaded model file: the rebuilt model with its weights, and the preprocessing. */
export interface LoadedModel {
  path: string;
  model: Sequential;
  prep: Preprocessing;
  training: TrainingSummary;
}

class FieldChecker {
  constructor(readonly path: string) {}
  fail(field: string, what: string, value?: unknown): never {
    const got = value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 60);
    throw new CimmDataError(`cimm: ${this.path}: field "${field}" should be ${what} (found ${got})`);
  }
  object(field: string, v: unknown): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'an object', v);
    return v as Record<string, unknown>;
  }
  string(field: string, v: unknown): string {
    if (typeof v !== 'string' || v === '') this.fail(field, 'a non-empty string', v);
    return v;
  }
  number(field: string, v: unknown, positive = false): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && !(v > 0)))
      this.fail(field, positive ? 'a positive finite number' : 'a finite number', v);
    return v;
  }
  labels(field: string, v: unknown, min: number): string[] {
    if (!Array.isArray(v) || v.length < min || v.some((s) => typeof s !== 'string'))
      this.fail(field, `an array of at least ${min} string(s)`, v);
    if (new Set(v).size !== v.length) this.fail(field, 'distinct labels', v);
    return v as string[];
  }
}

function checkPreprocessing(c: FieldChecker, raw: unknown): Preprocessing {
  const p = c.object('preprocessing', raw);
  const target = c.string('preprocessing.target', p.target);
  if (!TASK_KINDS.includes(p.task as TaskKind)) c.fail('preprocessing.task', `one of ${TASK_KINDS.join(', ')}`, p.task);
  const task = p.task as TaskKind;
  if (!Array.isArray(p.features) || p.features.length === 0)
    c.fail('preprocessing.features', 'a non-empty array', p.features);
  const names = new Set<string>();
  const features = (p.features as unknown[]).map((rawF, i): Feature => {
    const field = `preprocessing.features[${i}]`;
    const f = c.object(field, rawF);
    const name = c.string(`${field}.name`, f.name);
    if (names.has(name) || name === target) c.fail(`${field}.name`, 'a column named once', name);
    names.add(name);
    if (f.kind === 'numeric') {
      return {
        name,
        kind: 'numeric',
        mean: c.number(`${field}.mean`, f.mean),
        std: c.number(`${field}.std`, f.std, true),
      };
    }
    if (f.kind !== 'categorical') c.fail(`${field}.kind`, '"numeric" or "categorical"', f.kind);
    return { name, kind: 'categorical', categories: c.labels(`${field}.categories`, f.categories, 1) };
  });
  if (task === 'regression') {
    const s = c.object('preprocessing.targetScale', p.targetScale);
    const targetScale = {
      mean: c.number('preprocessing.targetScale.mean', s.mean),
      std: c.number('preprocessing.targetScale.std', s.std, true),
    };
    return { target, task, features, targetScale, classes: null };
  }
  return { target, task, features, targetScale: null, classes: c.labels('preprocessing.classes', p.classes, 2) };
}

/** Read and check a model file; every problem is a CimmDataError naming the file and the field. */
export function loadModelFile(path: string): LoadedModel {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new CimmDataError(`cimm: cannot read the model file ${path}: ${why}`);
  }
  const c: FieldChecker = new FieldChecker(path);
  const b = c.object('(top level)', body);
  if (b.format !== MODEL_FORMAT) {
    c.fail(
      'format',
      `"${MODEL_FORMAT}" (a file written by cimm train --data … --save; a training checkpoint is not a model file)`,
      b.format,
    );
  }
  if (b.version !== MODEL_VERSION)
    c.fail('version', `${MODEL_VERSION} (this cimm reads version ${MODEL_VERSION})`, b.version);
  const prep = checkPreprocessing(c, b.preprocessing);
  let model: Sequential;
  try {
    model = Sequential.fromConfig(c.object('model', b.model) as { layers: object[] });
  } catch (e) {
    return c.fail('model', `a Sequential config (${(e as Error).message})`, b.model);
  }
  if (model.inputSize !== inputWidth(prep))
    c.fail('model', `a model of ${inputWidth(prep)} inputs (the preprocessing's width)`, model.inputSize);
  if (model.outputSize !== outputWidth(prep))
    c.fail('model', `a model of ${outputWidth(prep)} outputs (the task's)`, model.outputSize);
  const params = c.object('params', b.params);
  for (const [name, v] of Object.entries(model.params)) {
    const text = params[name];
    const bytes = typeof text === 'string' ? Buffer.from(text, 'base64') : undefined;
    if (!bytes || bytes.length !== v.byteLength) c.fail(`params.${name}`, `${v.length} float32 values in base64`, text);
    new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(bytes);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) c.fail(`params.${name}`, 'finite weights', `${v[bad]} at index ${bad}`);
  }
  const extra = Object.keys(params).filter((k) => !(k in model.params));
  if (extra.length) c.fail('params', `the model's parameters only (${Object.keys(model.params).join(', ')})`, extra);
  return { path, model, prep, training: (b.training ?? {}) as TrainingSummary };
}

/** The model's outputs for every row of x (rows × outputSize), in batches, copied out of the layers' buffers. */
export function forwardRows(model: Sequential, x: Float32Array, rows: number, batchSize = 256): Float32Array {
  const inSize = model.inputSize;
  const outSize = model.outputSize;
  const out = new Float32Array(rows * outSize);
  for (let start = 0; start < rows; start += batchSize) {
    const n = Math.min(batchSize, rows - start);
    out.set(model.forward(x.subarray(start * inSize, (start + n) * inSize), n), start * outSize);
  }
  return out;
}

/** Encode a table with the model's preprocessing and predict every row. */
export function predictTable(
  loaded: Pick<LoadedModel, 'model' | 'prep'>,
  table: Table,
): { encoded: Encoded; decoded: Decoded } {
  const encoded = encodeTable(table, loaded.prep, { target: 'optional' });
  const decoded = decodeOutputs(loaded.prep, forwardRows(loaded.model, encoded.x, encoded.rows), encoded.rows);
  return { encoded, decoded };
}
