/**
 * The one checkpoint format of cimm's training loop (`Trainer.fit` and the comparison's
 * `TaskRun`, hence `cimm train`): a JSON file
 *
 *   { "format": "cimm-checkpoint", "version": 2, "kind": "fit" | "task-run",
 *     "sha256": hex SHA-256 of the canonical body, "body": { … } }
 *
 * The canonical body is `JSON.stringify(body)` (key order as written, numbers in their
 * shortest round-trip form), so the checksum of a file we wrote is reproduced exactly by
 * re-serializing the parsed body; a truncated file, a flipped bit or a hand edit fails it
 * before a single field is trusted. A file must moreover be byte for byte what
 * `checkpointText` writes: a flip that leaves every value equal (a 17th significant digit
 * that rounds to the same double, the final newline) is refused as well. After the checksum every field is still validated
 * like user input (types, ranges, finiteness, consistency with the model and optimizer
 * the loader has): a checksum proves the file is the one written, not that a writer of
 * another version of cimm meant the same thing by it.
 *
 * Writes are atomic (lib/atomic-file.ts: a temporary file beside the target, fsync,
 * rename). A writer killed mid-write leaves its `.NAME.PID.tmp`; the next save to the
 * same path removes those of processes that no longer exist. The output path is checked
 * before the work starts (`checkOutputPath`): its directory must exist (nothing is
 * created recursively) and the path must not be a directory.
 *
 * Version history: 1 was the Trainer's unsigned `cimm-checkpoint`; the comparison wrote
 * its own `cimm-task-run` (v1 full batch, v2 mini-batched). Both are refused with an error
 * that says what they are: neither carries a checksum, and a task-run file was written by
 * the hand-written f64 MLP the tasks no longer use (docs/theory.md, "One training stack").
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { probeWritable, writeFileAtomic } from '../atomic-file.js';
import { CimmArgumentError, describeValue, typeOf } from '../errors.js';

export const CHECKPOINT_FORMAT = 'cimm-checkpoint';
export const CHECKPOINT_VERSION = 2;

/** Which loop wrote a checkpoint: a `Trainer.fit` or a comparison `TaskRun`. */
export type CheckpointKind = 'fit' | 'task-run';

/** A checkpoint file's top level. */
export interface CheckpointFile<B = unknown> {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  kind: CheckpointKind;
  sha256: string;
  body: B;
}

/** An error in a checkpoint: names the file (or "checkpoint") and the field. */
export class CimmCheckpointError extends CimmArgumentError {
  constructor(
    /** The file's path, or a description of where the checkpoint came from. */
    readonly source: string,
    /** The field, as a dotted path (`body.progress.epoch`), or '' for the file as a whole. */
    readonly field: string,
    expected: string,
    detail: string,
  ) {
    super(field === '' ? source : `${source}: ${field}`, expected, `cimm: checkpoint ${source}: ${detail}`);
    this.name = 'CimmCheckpointError';
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The file's text for `body` (a JSON-safe value). */
export function checkpointText<B>(kind: CheckpointKind, body: B): string {
  const canonical = JSON.stringify(body);
  return `{"format":${JSON.stringify(CHECKPOINT_FORMAT)},"version":${CHECKPOINT_VERSION},"kind":${JSON.stringify(kind)},"sha256":"${sha256(canonical)}","body":${canonical}}\n`;
}

/** The file's object for `body` (what `checkpointText` writes, parsed). */
export function checkpointObject<B>(kind: CheckpointKind, body: B): CheckpointFile<B> {
  return JSON.parse(checkpointText(kind, body)) as CheckpointFile<B>;
}

/**
 * The body of a parsed checkpoint, after checking its format, version, kind and checksum.
 * `source` names it in errors (the file's path).
 */
export function openCheckpoint(saved: unknown, kind: CheckpointKind, source = 'checkpoint'): unknown {
  const fail = (field: string, expected: string, value: unknown, why = '') =>
    new CimmCheckpointError(
      source,
      field,
      expected,
      `${field === '' ? '' : `${field}: `}expected ${expected} but found ${describeValue(value)} of type ${typeOf(value)}${why}`,
    );
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved))
    throw fail('', 'a checkpoint (a JSON object)', saved);
  const c = saved as Partial<CheckpointFile> & Record<string, unknown>;
  if (c.format !== CHECKPOINT_FORMAT) {
    const what =
      c.format === 'cimm-task-run'
        ? " (the comparison runner's old format: it has no checksum and was trained by the tasks' old " +
          'hand-written f64 model, so it cannot continue on the nn/ layers: start the run again)'
        : '';
    throw fail('format', JSON.stringify(CHECKPOINT_FORMAT), c.format, what);
  }
  if (c.version !== CHECKPOINT_VERSION) {
    const what = c.version === 1 ? ' (version 1 had no checksum and no validated fields: start the run again)' : '';
    throw fail('version', String(CHECKPOINT_VERSION), c.version, what);
  }
  if (c.kind !== kind) {
    const other = c.kind === 'fit' ? 'a Trainer.fit' : c.kind === 'task-run' ? 'a cimm train / comparison run' : '';
    throw fail('kind', JSON.stringify(kind), c.kind, other ? ` (this file is ${other} checkpoint)` : '');
  }
  if (typeof c.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(c.sha256))
    throw fail('sha256', 'a SHA-256 hex digest', c.sha256);
  if (c.body === null || typeof c.body !== 'object' || Array.isArray(c.body))
    throw fail('body', 'the checkpoint body (an object)', c.body);
  const actual = sha256(JSON.stringify(c.body));
  if (actual !== c.sha256) {
    throw new CimmCheckpointError(
      source,
      'sha256',
      'a body matching its checksum',
      `the body does not match its SHA-256 (saved ${c.sha256}, computed ${actual}): the file was damaged or edited`,
    );
  }
  return c.body;
}

/** Read and open a checkpoint file; an unreadable or non-JSON file is a CimmCheckpointError. */
export function readCheckpoint(path: string, kind: CheckpointKind): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CimmCheckpointError(path, '', 'a readable file', `cannot read it (${(e as Error).message})`);
  }
  return parseCheckpoint(text, kind, path);
}

/** openCheckpoint() of a file's text (what readCheckpoint read from `path`). */
export function parseCheckpoint(text: string, kind: CheckpointKind, path: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CimmCheckpointError(
      path,
      '',
      'JSON',
      `not JSON (${(e as Error).message}); a truncated file is a checkpoint whose writer did not use cimm's atomic save`,
    );
  }
  const body = openCheckpoint(parsed, kind, path);
  // The checksum covers the body's values (its canonical form); the file must also be those
  // exact bytes, so that a flip that keeps a value (a 17th significant digit, a cut final
  // newline) is refused too: nothing but what cimm wrote loads from a file.
  if (text !== checkpointText(kind, body))
    throw new CimmCheckpointError(
      path,
      '',
      'the bytes cimm wrote',
      'its values match its SHA-256 but its bytes are not the ones cimm writes (a digit, a space or the final newline changed): the file was damaged or re-formatted',
    );
  return body;
}

/**
 * Validate a field of a checkpoint body with one of lib/is.ts's checks, turning its error
 * into a CimmCheckpointError naming the file and the field (`body.progress.epoch`).
 */
export function field<T>(source: string, name: string, check: (name: string) => T): T {
  try {
    return check(name);
  } catch (e) {
    if (!(e instanceof CimmArgumentError) || e instanceof CimmCheckpointError) throw e;
    const name = e.parameter === '' ? 'body' : `body.${e.parameter}`;
    const message = e.message.replace(` for ${e.parameter} but`, ` for ${name} but`);
    throw new CimmCheckpointError(source, name, e.expected, message);
  }
}

/** The temporary files writeFileAtomic leaves for `path` when its writer is killed. */
function staleTemporaries(path: string): string[] {
  const name = basename(path);
  const prefix = `.${name}.`;
  let entries: string[];
  try {
    entries = readdirSync(dirname(path));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const pid = Number(e.slice(prefix.length, -4));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    if (alive(pid)) continue;
    out.push(join(dirname(path), e));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `path` can take a checkpoint: its directory exists and is a directory, `path` is not
 * one, and a file can be created beside it (probeWritable). Call before the work starts; `option` names the parameter in the error.
 */
export function checkOutputPath(option: string, path: unknown): string {
  if (typeof path !== 'string' || path === '')
    throw new CimmArgumentError(
      option,
      'a file path',
      `Expected a file path for ${option} but received ${describeValue(path)}`,
    );
  const dir = dirname(path);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {}
  if (!isDir)
    throw new CimmArgumentError(
      option,
      'a file in an existing directory',
      `Expected a file in an existing directory for ${option} but the directory ${dir} does not exist (create it first)`,
    );
  let target = false;
  try {
    target = statSync(path).isDirectory();
  } catch {}
  if (target)
    throw new CimmArgumentError(
      option,
      'a file path',
      `Expected a file path for ${option} but ${path} is a directory; name a file in it`,
    );
  const unwritable = probeWritable(path);
  if (unwritable)
    throw new CimmArgumentError(
      option,
      'a writable file path',
      `Expected a writable file path for ${option} but a file cannot be created in ${dir} (${unwritable.code ?? unwritable.message})`,
    );
  return path;
}

/**
 * Write a checkpoint atomically, after removing the temporary files a killed writer left
 * for the same path. The directory is not created (checkOutputPath checked it exists).
 */
export function saveCheckpoint<B>(path: string, kind: CheckpointKind, body: B): void {
  for (const stale of staleTemporaries(path)) {
    try {
      unlinkSync(stale);
    } catch {}
  }
  writeFileAtomic(path, checkpointText(kind, body), { createDirectory: false });
}

// ---------------------------------------------------------------------------------------
// Numbers that JSON cannot carry.

/**
 * A number as JSON: finite values as numbers, the rest (NaN, ±Infinity, −0) as strings,
 * because JSON.stringify turns NaN into null and −0 into 0, and a resumed run must see
 * exactly the numbers it saved.
 */
export type SavedNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

export function saveNumber(x: number): SavedNumber {
  if (Object.is(x, -0)) return '-0';
  return Number.isFinite(x) ? x : (String(x) as SavedNumber);
}

/** A SavedNumber back (throws a CimmArgumentError naming `name` for anything else). */
export function loadNumber(name: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
  throw new CimmArgumentError(
    name,
    'a number',
    `Expected a number (or "NaN", "Infinity", "-Infinity", "-0") for ${name} but received ${describeValue(v)} of type ${typeOf(v)}`,
  );
}

/** Base64 of `length` little-endian values of `bytesPer` bytes each, decoded (or a CimmArgumentError). */
export function base64Values(name: string, v: unknown, length: number, bytesPer: number, what: string): Buffer {
  const bytes = typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? Buffer.from(v, 'base64') : undefined;
  if (!bytes || bytes.length !== length * bytesPer)
    throw new CimmArgumentError(
      name,
      `base64 of ${length} ${what}`,
      `Expected base64 of ${length} ${what} for ${name} but received ${describeValue(v)} of type ${typeOf(v)}`,
    );
  return bytes;
}
