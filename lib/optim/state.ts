/**
 * An optimizer's state as data, and its binary form.
 *
 * `OptimizerState` is what `Optimizer.state()` returns: the optimizer's kind and JSON
 * config, JSON scalars (step counts), and its tensors (moment buffers) by name
 * `<parameter>/<slot>`, e.g. `"dense.weight/m"`.
 *
 * Binary form (`encodeOptimizerState`), little-endian:
 *
 *   bytes 0–7    magic "CIMMOPT1" (ASCII; the digit is the format version), or "CIMMOPT2"
 *                when a tensor is f64
 *   bytes 8–11   H, the byte length of the header (uint32)
 *   bytes 12…    the header: UTF-8 JSON {kind, config, scalars, tensors: [[name, length], …]},
 *                padded with spaces so that the data starts at a multiple of 8; version 2
 *                writes [name, length, dtype], dtype "float32" or "float64"
 *   then         each tensor's values in header order, raw IEEE bits (4 bytes per f32, 8 per f64)
 *
 * A state with only f32 tensors is written as version 1, byte for byte as before Float64
 * parameters existed; one with an f64 tensor is version 2, which a reader of version 1
 * rejects by its magic instead of misreading (docs/theory.md, "Float64 parameters").
 *
 * The tensors are copied byte for byte (byte-swapped on a big-endian host), never through
 * a JS number, so every bit, NaN payloads included, round-trips; the JSON numbers
 * round-trip exactly because JSON.stringify prints the shortest decimal that parses back
 * to the same double.
 */
import { argumentError, type CimmArgumentError } from '../errors.js';

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

const MAGIC = 'CIMMOPT1';
/** The magic of a state holding an f64 tensor (its header records each tensor's dtype). */
const MAGIC_F64 = 'CIMMOPT2';
const PREFIX = 12;
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

/** The binary form of an optimizer state (see the module comment). */
export function encodeOptimizerState(state: OptimizerState): Uint8Array {
  const names = Object.keys(state.tensors);
  const f64 = names.some((name) => state.tensors[name] instanceof Float64Array);
  const header = JSON.stringify({
    kind: state.kind,
    config: state.config,
    scalars: state.scalars,
    tensors: names.map((name) => {
      const t = state.tensors[name];
      return f64 ? [name, t.length, dtypeName(t)] : [name, t.length];
    }),
  });
  let text = new TextEncoder().encode(header);
  const padded = Math.ceil((PREFIX + text.length) / 8) * 8 - PREFIX;
  if (padded !== text.length) text = new TextEncoder().encode(header + ' '.repeat(padded - text.length));
  const bytes = names.reduce((sum, name) => sum + state.tensors[name].byteLength, 0);
  const out = new Uint8Array(PREFIX + text.length + bytes);
  out.set(new TextEncoder().encode(f64 ? MAGIC_F64 : MAGIC), 0);
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, PREFIX);
  let at = PREFIX + text.length;
  for (const name of names) {
    const t = state.tensors[name];
    copyValueBytes(bytesOf(t), 0, out, at, t.length, t.BYTES_PER_ELEMENT);
    at += t.byteLength;
  }
  return out;
}

function corrupt(bytes: Uint8Array, why: string): CimmArgumentError {
  return argumentError('state', `an encoded cimm optimizer state (${why})`, bytes);
}

/** obj[key] = value as an own data property, even for a key such as "__proto__". */
export function setOwn<T>(obj: Record<string, T>, key: string, value: NoInfer<T>): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);

/**
 * Decode `encodeOptimizerState`'s bytes. Checks the framing (magic, lengths, header shape);
 * the optimizer's loadState checks the contents.
 */
export function decodeOptimizerState(bytes: Uint8Array): OptimizerState {
  if (!(bytes instanceof Uint8Array)) throw argumentError('state', 'a Uint8Array', bytes);
  const magic = bytes.length < PREFIX ? '' : new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC && magic !== MAGIC_F64) {
    throw corrupt(bytes, `it does not start with "${MAGIC}" or "${MAGIC_F64}"`);
  }
  const version2 = magic === MAGIC_F64;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (PREFIX + headerLength > bytes.length) throw corrupt(bytes, 'its header is cut short');
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)),
    );
  } catch {
    throw corrupt(bytes, 'its header is not JSON');
  }
  if (
    !isRecord(header) ||
    typeof header.kind !== 'string' ||
    !isRecord(header.scalars) ||
    !Array.isArray(header.tensors) ||
    !header.tensors.every(
      (t) =>
        Array.isArray(t) &&
        t.length === (version2 ? 3 : 2) &&
        typeof t[0] === 'string' &&
        Number.isSafeInteger(t[1]) &&
        t[1] >= 0 &&
        (!version2 || t[2] === 'float32' || t[2] === 'float64'),
    )
  ) {
    throw corrupt(bytes, `its header lacks kind, scalars or tensors${version2 ? ' (with their dtypes)' : ''}`);
  }
  const entries = (header.tensors as [string, number, string?][]).map(
    ([name, n, dtype]) => [name, n, dtype === 'float64' ? 8 : 4] as const,
  );
  const announced = entries.reduce((sum, [, n, size]) => sum + n * size, 0);
  if (PREFIX + headerLength + announced !== bytes.length) {
    const present = bytes.length - PREFIX - headerLength;
    throw corrupt(
      bytes,
      version2
        ? `${announced} bytes of values announced, ${present} present`
        : `${announced / 4} values announced, ${present / 4} present`,
    );
  }
  const tensors: Record<string, Float32Array | Float64Array> = {};
  let at = PREFIX + headerLength;
  for (const [name, n, size] of entries) {
    if (Object.hasOwn(tensors, name)) throw corrupt(bytes, `tensor ${JSON.stringify(name)} appears twice`);
    const t = size === 8 ? new Float64Array(n) : new Float32Array(n);
    copyValueBytes(bytes, at, bytesOf(t), 0, n, size);
    setOwn(tensors, name, t);
    at += size * n;
  }
  return { kind: header.kind, config: header.config, scalars: header.scalars as unknown as OptimizerScalars, tensors };
}
