/**
 * An optimizer's state as data, and its binary form.
 *
 * `OptimizerState` is what `Optimizer.state()` returns: the optimizer's kind and JSON
 * config, JSON scalars (step counts), and its tensors (moment buffers) by name
 * `<parameter>/<slot>`, e.g. `"dense.weight/m"`.
 *
 * Binary form (`encodeOptimizerState`), little-endian:
 *
 *   bytes 0–7    magic "CIMMOPT1" (ASCII; the digit is the format version)
 *   bytes 8–11   H, the byte length of the header (uint32)
 *   bytes 12…    the header: UTF-8 JSON {kind, config, scalars, tensors: [[name, length], …]},
 *                padded with spaces so that the data starts at a multiple of 8
 *   then         each tensor's f32 values in header order, raw IEEE bits
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
  /** State tensors by `<parameter>/<slot>`. */
  tensors: Record<string, Float32Array>;
}

const MAGIC = 'CIMMOPT1';
const PREFIX = 12;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Copy n f32 values' bytes from `src` (at byte `from`) to `dst` (at byte `to`), as little-endian. */
function copyF32Bytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  if (LITTLE_ENDIAN) {
    dst.set(src.subarray(from, from + 4 * n), to);
    return;
  }
  for (let i = 0; i < 4 * n; i += 4) {
    dst[to + i] = src[from + i + 3];
    dst[to + i + 1] = src[from + i + 2];
    dst[to + i + 2] = src[from + i + 1];
    dst[to + i + 3] = src[from + i];
  }
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The binary form of an optimizer state (see the module comment). */
export function encodeOptimizerState(state: OptimizerState): Uint8Array {
  const names = Object.keys(state.tensors);
  const header = JSON.stringify({
    kind: state.kind,
    config: state.config,
    scalars: state.scalars,
    tensors: names.map((name) => [name, state.tensors[name].length]),
  });
  let text = new TextEncoder().encode(header);
  const padded = Math.ceil((PREFIX + text.length) / 8) * 8 - PREFIX;
  if (padded !== text.length) text = new TextEncoder().encode(header + ' '.repeat(padded - text.length));
  const values = names.reduce((sum, name) => sum + state.tensors[name].length, 0);
  const out = new Uint8Array(PREFIX + text.length + 4 * values);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, PREFIX);
  let at = PREFIX + text.length;
  for (const name of names) {
    const t = state.tensors[name];
    copyF32Bytes(bytesOf(t), 0, out, at, t.length);
    at += 4 * t.length;
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
  if (bytes.length < PREFIX || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw corrupt(bytes, `it does not start with "${MAGIC}"`);
  }
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
      (t) => Array.isArray(t) && t.length === 2 && typeof t[0] === 'string' && Number.isSafeInteger(t[1]) && t[1] >= 0,
    )
  ) {
    throw corrupt(bytes, 'its header lacks kind, scalars or tensors');
  }
  const entries = header.tensors as [string, number][];
  const values = entries.reduce((sum, [, n]) => sum + n, 0);
  if (PREFIX + headerLength + 4 * values !== bytes.length) {
    throw corrupt(bytes, `${values} values announced, ${(bytes.length - PREFIX - headerLength) / 4} present`);
  }
  const tensors: Record<string, Float32Array> = {};
  let at = PREFIX + headerLength;
  for (const [name, n] of entries) {
    if (Object.hasOwn(tensors, name)) throw corrupt(bytes, `tensor ${JSON.stringify(name)} appears twice`);
    const t = new Float32Array(n);
    copyF32Bytes(bytes, at, bytesOf(t), 0, n);
    setOwn(tensors, name, t);
    at += 4 * n;
  }
  return { kind: header.kind, config: header.config, scalars: header.scalars as unknown as OptimizerScalars, tensors };
}
