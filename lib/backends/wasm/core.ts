/**
 * The wasm backend's instance of the module and its scratch arena (lib/backends/wasm.ts has
 * the overview): typed arrays are staged into one block of linear memory, the kernel runs on
 * the staged copies, outputs are copied back. Each family file (lib/backends/wasm/<family>.ts)
 * declares its own exports and calls `run` or `stream`.
 */
import type { Real } from '../../kernels.js';

export type Pointer = number;
/** The dtype of a kernel call on Real arrays: the constructor of its deciding array. */
export type Dtype = Float32ArrayConstructor | Float64ArrayConstructor;

/** What every instance of the module exports besides the kernels (native/wasm/runtime.cpp). */
export interface BaseExports {
  memory: WebAssembly.Memory;
  /** The WASI reactor's initializer: the C++ static constructors. */
  _initialize(): void;
  cimm_alloc(bytes: number): Pointer;
  cimm_free(p: Pointer): void;
}

/** Exports E plus, for each name in K, its `_f64` twin: the same signature on f64 arrays. */
export type WithF64<E, K extends keyof E & string> = E & { [P in K as `${P}_f64`]: E[P] };

/** The entry point `name` for arrays of `dtype`: the f32 one, or its `_f64` twin. */
export function entry<E, K extends keyof E & string>(e: WithF64<E, K>, name: K, dtype: Dtype): E[K] {
  return dtype === Float64Array ? ((e as Record<string, unknown>)[`${name}_f64`] as E[K]) : e[name];
}

/** What an array does in a call: read by the kernel (copied in), written (copied out), or both. */
export const IN = 1;
export const OUT = 2;
export const INOUT = IN | OUT;
export type Role = typeof IN | typeof OUT | typeof INOUT;

const ALIGN = 16;
const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;
/** The arena grows in steps of 1 MiB at least, so small calls of varying size do not regrow it. */
const ARENA_STEP = 1 << 20;

/**
 * Elements per piece of a streamed call (`stream`): 256 Ki (1 MiB of f32 per array, the pieces
 * of a call together within the L3 cache), so each array crosses main memory once, as in the js
 * reference, instead of three times (copy in, kernel, copy out). Chosen by bench/wasm-copies.ts
 * (16 Ki … 1 Mi measured; docs/notes-wasm.md "Copies").
 */
export const STREAM_PIECE = 262_144;

/**
 * The WASI imports of the module serve only libc++'s abort path (a message to stderr before the
 * trap): every one answers ENOSYS, and none grants access to anything.
 */
function wasiStubs(module: WebAssembly.Module): WebAssembly.Imports {
  const ENOSYS = 52;
  const wasi: Record<string, () => number> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    if (entry.module !== 'wasi_snapshot_preview1' || entry.kind !== 'function') {
      throw new Error(`the module imports ${entry.module}.${entry.name}, which this glue does not provide`);
    }
    wasi[entry.name] = () => ENOSYS;
  }
  return { wasi_snapshot_preview1: wasi };
}

/** `combine` of a streamed step's "every value finite" flags (1 or 0). */
export const everyFinite = (a: number, b: number) => (a === 1 && b === 1 ? 1 : 0);

/** Whether two non-empty arrays share memory. */
export function overlap(a: Real, b: Real): boolean {
  if (a.length === 0 || b.length === 0 || a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * `input`, or a copy of it where it overlaps `output` without being it: for a call routed to
 * the js reference, which does not copy such inputs itself in every kernel, the semantics of a
 * staged call ("computed from a copy of the inputs").
 */
export function apart<T extends Real>(input: T, output: Real): T {
  return overlap(input, output) && !same(input, output) ? (input.slice() as T) : input;
}

/** Whether a and b are the same elements (same buffer, offset and length). */
const same = (a: Real, b: Real) =>
  a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;

/**
 * One instance of the module, E its exports (the family files each see their own part). An
 * instance that trapped is dropped and the next call starts a fresh one.
 */
export class WasmCore<E = BaseExports> {
  private instance: (E & BaseExports) | undefined;
  private arena = 0;
  private arenaBytes = 0;
  private heap = new ArrayBuffer(0);
  private f32 = new Float32Array(0);
  private f64 = new Float64Array(0);
  /** Elements per piece of a streamed call (STREAM_PIECE; another value only to measure it). */
  piece = STREAM_PIECE;
  /**
   * Whether calls below a kernel's measured crossover run the js reference instead (`below`);
   * false only to measure the module itself (bench/wasm-crossover.ts).
   */
  routeSmall = true;

  /**
   * Whether a call of `size` runs on the js reference: below `crossover`, the size under which
   * the module's call (checks, staging, copies) was measured slower than the js loop
   * (docs/notes-wasm.md, "Crossovers"). The caller has checked the arguments already.
   */
  below(size: number, crossover: number): boolean {
    return this.routeSmall && size < crossover;
  }

  constructor(private readonly module: WebAssembly.Module) {
    this.exports();
  }

  exports(): E & BaseExports {
    if (!this.instance) {
      const instance = new WebAssembly.Instance(this.module, wasiStubs(this.module)).exports as unknown as E &
        BaseExports;
      instance._initialize();
      this.instance = instance;
      this.arena = 0;
      this.arenaBytes = 0;
    }
    return this.instance;
  }

  /** The heap views, renewed when the memory has grown (growth detaches the old buffer). */
  private views(): void {
    const buffer = this.exports().memory.buffer;
    if (buffer !== this.heap) {
      this.heap = buffer;
      this.f32 = new Float32Array(buffer);
      this.f64 = new Float64Array(buffer);
    }
  }

  /** An arena of `total` bytes at least (the old one is freed, not copied: it holds nothing live). */
  private reserve(total: number): void {
    if (total <= this.arenaBytes) return;
    const ex = this.exports();
    if (this.arena) ex.cimm_free(this.arena);
    this.arena = 0;
    this.arenaBytes = 0;
    const bytes = Math.max(aligned(total), ARENA_STEP);
    const p = bytes <= 0xffff_0000 ? ex.cimm_alloc(bytes) >>> 0 : 0;
    if (p === 0) {
      throw new RangeError(
        `cimm wasm backend: the call needs ${total} bytes of WebAssembly memory, which could not be allocated (wasm32 addresses 4 GiB at most)`,
      );
    }
    this.arena = p;
    this.arenaBytes = bytes;
  }

  /**
   * Places `arrays` in the arena, one after another (16-byte aligned), copies in those whose role
   * includes IN, and returns their addresses. An OUT-only array is not copied in: the arena's
   * old contents stand there until the kernel overwrites them.
   */
  private stage(arrays: readonly Real[], roles: readonly Role[]): Pointer[] {
    let total = 0;
    for (const a of arrays) total += aligned(a.byteLength);
    this.reserve(total);
    this.views();
    const pointers: Pointer[] = [];
    let p = this.arena;
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      pointers.push(p);
      if (roles[i] & IN && a.length > 0) {
        if (a instanceof Float32Array) this.f32.set(a, p >>> 2);
        else this.f64.set(a, p >>> 3);
      }
      p += aligned(a.byteLength);
    }
    return pointers;
  }

  /** Copies the arrays whose role includes OUT back from their staged addresses. */
  private unstage(arrays: readonly Real[], roles: readonly Role[], pointers: readonly Pointer[]): void {
    this.views();
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      if (!(roles[i] & OUT) || a.length === 0) continue;
      if (a instanceof Float32Array) a.set(this.f32.subarray(pointers[i] >>> 2, (pointers[i] >>> 2) + a.length));
      else a.set(this.f64.subarray(pointers[i] >>> 3, (pointers[i] >>> 3) + a.length));
    }
  }

  /** Calls body; a trap drops the instance (the next call starts a fresh one) and becomes an Error. */
  private guard<R>(kernel: string, body: (e: E & BaseExports) => R): R {
    try {
      return body(this.exports());
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) {
        this.instance = undefined;
        throw new Error(
          `cimm wasm backend: ${kernel} trapped (${error.message}); the next call starts a new instance`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /**
   * Stage, run, copy back: every array crosses into linear memory whole. Outputs are copied out
   * only after the kernel returns, so a trap leaves the caller's arrays untouched.
   */
  run<R>(kernel: string, arrays: readonly Real[], roles: readonly Role[], body: (e: E, p: Pointer[]) => R): R {
    const pointers = this.stage(arrays, roles);
    const result = this.guard(kernel, (e) => body(e, pointers));
    this.unstage(arrays, roles, pointers);
    return result;
  }

  /**
   * An elementwise kernel (element i of every output depends on element i of the inputs only;
   * all arrays of length n, or empty for an unused optional array) run piece by piece: each
   * piece of STREAM_PIECE elements is staged, computed and copied back while it is in cache.
   * The bits are those of one whole call. `combine` folds the pieces' results in index order
   * (e.g. "every step finite": AND). Where an output overlaps another array without being it,
   * a piece could read what an earlier piece wrote: such calls run whole (`run`), which gives
   * "computed from a copy of the inputs". A trap mid-call may leave earlier pieces written.
   */
  stream<R>(
    kernel: string,
    n: number,
    arrays: readonly Real[],
    roles: readonly Role[],
    body: (e: E, p: Pointer[], count: number) => R,
    combine: (a: R, b: R) => R,
  ): R {
    const piece = this.piece;
    if (n <= piece || !this.streamable(arrays, roles)) {
      return this.run(kernel, arrays, roles, (e, p) => body(e, p, n));
    }
    // the arena holds one piece of each array, laid out once; each piece is copied in, computed
    // and copied out while it is in cache
    const slots = arrays.map((a) => (a.length === 0 ? 0 : aligned(piece * a.BYTES_PER_ELEMENT)));
    this.reserve(slots.reduce((x, y) => x + y, 0));
    const pointers: Pointer[] = [];
    for (let i = 0, p = this.arena; i < arrays.length; p += slots[i], i++) pointers.push(p);
    let result: R | undefined;
    for (let lo = 0; lo < n; lo += piece) {
      const count = Math.min(piece, n - lo);
      this.views();
      for (let i = 0; i < arrays.length; i++) {
        const a = arrays[i];
        if (!(roles[i] & IN) || a.length === 0) continue;
        if (a instanceof Float32Array) this.f32.set(a.subarray(lo, lo + count), pointers[i] >>> 2);
        else this.f64.set(a.subarray(lo, lo + count), pointers[i] >>> 3);
      }
      const r = this.guard(kernel, (e) => body(e, pointers, count));
      this.views();
      for (let i = 0; i < arrays.length; i++) {
        const a = arrays[i];
        if (!(roles[i] & OUT) || a.length === 0) continue;
        const at = a instanceof Float32Array ? pointers[i] >>> 2 : pointers[i] >>> 3;
        a.set((a instanceof Float32Array ? this.f32 : this.f64).subarray(at, at + count), lo);
      }
      result = result === undefined ? r : combine(result, r);
    }
    return result as R;
  }

  /** Whether no output shares memory with another array except by being the same elements. */
  private streamable(arrays: readonly Real[], roles: readonly Role[]): boolean {
    for (let i = 0; i < arrays.length; i++) {
      if (!(roles[i] & OUT)) continue;
      for (let j = 0; j < arrays.length; j++) {
        if (j !== i && overlap(arrays[i], arrays[j]) && !same(arrays[i], arrays[j])) return false;
      }
    }
    return true;
  }

  /** The f64 values the kernel wrote at `p` (a staged Float64Array of `count`). */
  doubles(p: Pointer, count: number): number[] {
    this.views();
    return Array.from(this.f64.subarray(p >>> 3, (p >>> 3) + count));
  }
}
