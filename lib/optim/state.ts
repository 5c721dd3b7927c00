/**
 * An optimizer's state as data, and its binary form.
 *
 * `OptimizerState` is what `Optimizer.state()` returns: the optimizer's kind and JSON
 * config, JSON scalars (step counts), and its tensors (moment buffers) by name
 * `<parameter>/<slot>`, e.g. `"dense.weight/m"`.
 *
 * Binary form (`encodeOptimizerState`), little-endian, format version 3 (written by default):
 *
 *   bytes 0–7    magic "CIMMOPT3" (ASCII; the digit is the format version)
 *   bytes 8–11   H, the byte length of the header (uint32)
 *   bytes 12…    the header: UTF-8 JSON {kind, config, scalars, tensors: [[name, length, dtype], …]},
 *                dtype "float32" or "float64", padded with spaces so that the data starts at a
 *                multiple of 8
 *   then         each tensor's values in header order, raw IEEE bits (4 bytes per f32, 8 per f64)
 *   last 32      the SHA-256 of every byte before it
 *
 * The checksum is verified before a byte of the header is parsed, so a flipped bit or a
 * truncated file is refused as such; the contents are then validated like user input by
 * the optimizer's loadState (types, ranges, finiteness, second moments ≥ 0, step counts,
 * one length per parameter): the checksum proves the bytes are the ones written, not
 * that they mean what this version of cimm means by them.
 *
 * Older versions still load (a saved state stays loadable), with the same validation but
 * without the checksum's guarantee: version 1 ("CIMMOPT1", f32 tensors, [name, length]
 * entries) and version 2 ("CIMMOPT2", [name, length, dtype] entries) are version 3 without
 * the trailing digest. A bit flip that turns "CIMMOPT3" into "CIMMOPT2" or "CIMMOPT1"
 * is still refused: the digest's 32 bytes are then values the header did not announce.
 * `encodeOptimizerState(state, { version })` writes 1 or 2 for an older reader
 * (docs/notes-state.md).
 *
 * The tensors are copied byte for byte (byte-swapped on a big-endian host), never through
 * a JS number, so every bit, NaN payloads included, round-trips; the JSON numbers
 * round-trip exactly because JSON.stringify prints the shortest decimal that parses back
 * to the same double.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { CimmArgumentError, describeValue, typeOf } from '../errors.js';

/** Step counts: the optimizer's, and each parameter's (Adam's t is per parameter, as in PyTorch). */
export interface OptimizerScalars {
  /** step() calls so far. */
  iterations: number;
  /** Updates applied to each parameter so far. */
  steps: Record<string, number>;
  /** Optimizer-wide scalars (Prodigy's d, dMax, dNumerator, k); absent for the others. */
  global?: Record<string, number>;
}

export interface OptimizerState<C = unknown> {
  /** The optimizer's registered name: "SGD", "Adam", "AdamW", … */
  kind: string;
  /** Its JSON configuration (getConfig()). */
  config: C;
  scalars: OptimizerScalars;
  /** State tensors by `<parameter>/<slot>`, each of its parameter's dtype. */
  tensors: Record<string, Float32Array | Float64Array>;
}

/** The magic of each format version (index 0 unused). */
const MAGICS = ['', 'CIMMOPT1', 'CIMMOPT2', 'CIMMOPT3'] as const;
/** The version encodeOptimizerState writes by default. */
export const OPTIMIZER_STATE_VERSION = 3;
const PREFIX = 12;
/** Bytes of the version 3 trailer (a SHA-256). */
const DIGEST = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Copy n values of `size` bytes (4 or 8) from `src` (at byte `from`) to `dst` (at byte `to`), as little-endian. */
function copyValueBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number, size: number): void {
  if (LITTLE_ENDIAN) {
    dst.set(src.subarray(from, from + size * n), to);
    return;
  }
  for (let i = 0; i < size * n; i += size) {
    for (let b = 0; b < size; b++) dst[to + i + b] = src[from + i + size - 1 - b];
  }
}

const bytesOf = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const dtypeName = (a: Float32Array | Float64Array) => (a instanceof Float64Array ? 'float64' : 'float32');
const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());

/**
 * An error in a saved optimizer state: names where it came from (a file's path, or
 * "state") and the field (`state.scalars.steps["w"]`, `state.tensors["w/v"]`, or '' for
 * the bytes as a whole). A CimmArgumentError whose `parameter` is `source: field`.
 */
export class CimmStateError extends CimmArgumentError {
  constructor(
    /** The file's path, or "state" when the state was passed as bytes or an object. */
    readonly source: string,
    /** The field, or '' for the encoding as a whole. */
    readonly field: string,
    expected: string,
    message: string,
  ) {
    super(source === 'state' ? field || 'state' : field === '' ? source : `${source}: ${field}`, expected, message);
    this.name = 'CimmStateError';
  }
}

/** Options of encodeOptimizerState. */
export interface EncodeStateOptions {
  /**
   * The format version (default 3, with its checksum). 2 and 1 write what older versions of
   * cimm read: no checksum; version 1 holds only f32 tensors.
   */
  version?: 1 | 2 | 3;
}

/** The binary form of an optimizer state (see the module comment). */
export function encodeOptimizerState(state: OptimizerState, opts: EncodeStateOptions = {}): Uint8Array {
  const version = opts.version ?? OPTIMIZER_STATE_VERSION;
  if (version !== 1 && version !== 2 && version !== 3)
    throw new CimmArgumentError(
      'version',
      '1, 2 or 3',
      `Expected 1, 2 or 3 for version but received ${describeValue(version)}`,
    );
  const names = Object.keys(state.tensors);
  if (version === 1) {
    const f64 = names.find((name) => state.tensors[name] instanceof Float64Array);
    if (f64 !== undefined)
      throw new CimmArgumentError(
        'version',
        '2 or 3 (the state holds a Float64Array)',
        `Expected version 2 or 3 for a state with the Float64Array tensor ${JSON.stringify(f64)} but received 1 (version 1 holds only f32 tensors)`,
      );
  }
  const header = JSON.stringify({
    kind: state.kind,
    config: state.config,
    scalars: state.scalars,
    tensors: names.map((name) => {
      const t = state.tensors[name];
      return version === 1 ? [name, t.length] : [name, t.length, dtypeName(t)];
    }),
  });
  let text = new TextEncoder().encode(header);
  const padded = Math.ceil((PREFIX + text.length) / 8) * 8 - PREFIX;
  if (padded !== text.length) text = new TextEncoder().encode(header + ' '.repeat(padded - text.length));
  const bytes = names.reduce((sum, name) => sum + state.tensors[name].byteLength, 0);
  const body = PREFIX + text.length + bytes;
  const out = new Uint8Array(body + (version === 3 ? DIGEST : 0));
  out.set(new TextEncoder().encode(MAGICS[version]), 0);
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, PREFIX);
  let at = PREFIX + text.length;
  for (const name of names) {
    const t = state.tensors[name];
    copyValueBytes(bytesOf(t), 0, out, at, t.length, t.BYTES_PER_ELEMENT);
    at += t.byteLength;
  }
  if (version === 3) out.set(sha256(out.subarray(0, body)), body);
  return out;
}

/** obj[key] = value as an own data property, even for a key such as "__proto__". */
export function setOwn<T>(obj: Record<string, T>, key: string, value: NoInfer<T>): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** Where a state came from, for decodeOptimizerState and loadState. */
export interface StateSource {
  /** The file's path (errors name it); default "state". */
  source?: string;
}

/**
 * Decode `encodeOptimizerState`'s bytes (any version). Checks the checksum (version 3)
 * and the framing (magic, lengths, header shape); the optimizer's loadState checks the
 * contents. Nothing here loops or allocates by a count read from the bytes before the
 * count is checked against the bytes' length.
 */
export function decodeOptimizerState(bytes: Uint8Array, opts: StateSource = {}): OptimizerState {
  const source = opts.source ?? 'state';
  const corrupt = (why: string) =>
    new CimmStateError(
      source,
      '',
      'an encoded cimm optimizer state',
      source === 'state'
        ? `Expected an encoded cimm optimizer state (${why}) for state but received ${describeValue(bytes)} of type ${typeOf(bytes)}`
        : `cimm: optimizer state ${source}: not a usable cimm optimizer state: ${why}`,
    );
  if (!(bytes instanceof Uint8Array))
    throw new CimmStateError(
      source,
      '',
      'a Uint8Array',
      `Expected a Uint8Array for ${source} but received ${describeValue(bytes)} of type ${typeOf(bytes)}`,
    );
  const magic = bytes.length < PREFIX ? '' : new TextDecoder().decode(bytes.subarray(0, 8));
  const version = MAGICS.indexOf(magic as (typeof MAGICS)[number]);
  if (version < 1) throw corrupt(`it does not start with "${MAGICS[3]}", "${MAGICS[2]}" or "${MAGICS[1]}"`);
  let end = bytes.length;
  if (version === 3) {
    // the checksum first: nothing of a damaged state is read
    end = bytes.length - DIGEST;
    if (end < PREFIX) throw corrupt('it is cut short before its checksum');
    const saved = bytes.subarray(end);
    const actual = sha256(bytes.subarray(0, end));
    if (!actual.every((b, i) => b === saved[i]))
      throw corrupt('its bytes do not match their SHA-256: the state was damaged, cut short or edited');
  }
  const withDtype = version >= 2;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (PREFIX + headerLength > end) throw corrupt('its header is cut short');
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)),
    );
  } catch {
    throw corrupt('its header is not JSON');
  }
  if (
    !isRecord(header) ||
    typeof header.kind !== 'string' ||
    !isRecord(header.scalars) ||
    !Array.isArray(header.tensors) ||
    !header.tensors.every(
      (t) =>
        Array.isArray(t) &&
        t.length === (withDtype ? 3 : 2) &&
        typeof t[0] === 'string' &&
        Number.isSafeInteger(t[1]) &&
        t[1] >= 0 &&
        (!withDtype || t[2] === 'float32' || t[2] === 'float64'),
    )
  ) {
    throw corrupt(`its header lacks kind, scalars or tensors${withDtype ? ' (with their dtypes)' : ''}`);
  }
  const entries = (header.tensors as [string, number, string?][]).map(
    ([name, n, dtype]) => [name, n, dtype === 'float64' ? 8 : 4] as const,
  );
  const announced = entries.reduce((sum, [, n, size]) => sum + n * size, 0);
  if (PREFIX + headerLength + announced !== end) {
    const present = end - PREFIX - headerLength;
    throw corrupt(
      withDtype
        ? `${announced} bytes of values announced, ${present} present`
        : `${announced / 4} values announced, ${present / 4} present`,
    );
  }
  const tensors: Record<string, Float32Array | Float64Array> = {};
  let at = PREFIX + headerLength;
  for (const [name, n, size] of entries) {
    if (Object.hasOwn(tensors, name)) throw corrupt(`tensor ${JSON.stringify(name)} appears twice`);
    const t = size === 8 ? new Float64Array(n) : new Float32Array(n);
    copyValueBytes(bytes, at, bytesOf(t), 0, n, size);
    setOwn(tensors, name, t);
    at += size * n;
  }
  return { kind: header.kind, config: header.config, scalars: header.scalars as unknown as OptimizerScalars, tensors };
}

/** The format version of encoded bytes (1, 2 or 3), or undefined when they do not start with a known magic. */
export function optimizerStateVersion(bytes: Uint8Array): 1 | 2 | 3 | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < 8) return undefined;
  const v = MAGICS.indexOf(new TextDecoder().decode(bytes.subarray(0, 8)) as (typeof MAGICS)[number]);
  return v >= 1 ? (v as 1 | 2 | 3) : undefined;
}

/**
 * Rename a loader's CimmArgumentError (`state.scalars.iterations`) into a CimmStateError
 * naming `source` (a file); others pass through.
 */
export function stateError(error: unknown, source: string): unknown {
  if (!(error instanceof CimmArgumentError) || error instanceof CimmStateError || source === 'state') return error;
  const e = new CimmStateError(
    source,
    error.parameter,
    error.expected,
    `cimm: optimizer state ${source}: ${error.message}`,
  );
  e.cause = error;
  return e;
}

/** Write an encoded state to `path` atomically (lib/atomic-file.ts); the directory must exist. */
export function writeOptimizerStateFile(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes, { createDirectory: false });
}

/** Read a state file's bytes; an unreadable file is a CimmStateError naming it. */
export function readOptimizerStateFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CimmStateError(
      path,
      '',
      'a readable file',
      `cimm: optimizer state ${path}: cannot read it (${(e as Error).message})`,
    );
  }
}
