/**
 * The `wasm` backend: the C++ kernel core compiled to WebAssembly with 128-bit SIMD
 * (scripts/build-wasm.mjs → wasm/cimm.wasm, shipped in the package), the tier between the
 * native addons and pure TypeScript: it runs wherever Node runs, with no native binary.
 *
 * Every call checks its arguments here, with the Node-API binding's messages (the module
 * trusts its caller), then stages the typed arrays in one scratch arena in linear memory:
 * each input is copied in once, each output copied out once (an in/out array both). The arena
 * is one malloc'd block, regrown when a call needs more and kept between calls (per-call
 * allocation is dear: toolchain-notes.md). Copying gives every overlap the semantics of
 * "computed from a copy of the inputs", which the native bindings give too where they allow
 * an overlap; where they reject one (the optimizer steps, matmul's c, the stencils' out),
 * this glue rejects it the same way. README "WebAssembly backend" has the copy cost measured.
 *
 * The kernels on Real arrays (lib/kernels.ts) have one definition each here: the dtype of the
 * call's deciding array (as the binding's by_dtype picks it) chooses the module's f32 entry
 * point or its `_f64` twin (`entry`), and the same checks run in that dtype (`real`).
 *
 * The module is built without threads (one thread per instance) and without exceptions: an
 * allocation failure inside a kernel traps; the trap becomes an Error and the next call gets a
 * fresh instance, the caller's arrays untouched (outputs are copied out only after a call
 * returns).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argumentError } from '../errors.js';
import type {
  ActivationName,
  AdamStepMeasuredOptions,
  AsyncKernels,
  EnergyFlowRunParams,
  FlowBoundary,
  Kernels,
  MatmulParams,
  Real,
  SgdStepOptions,
} from '../kernels.js';
import { isCheckout, packageRoot } from '../paths.js';
import { chunkedAsyncKernels } from './js/async.js';
import { NativeLoadError } from './native.js';
import { type PositionalKernels, withOptionObjects } from './positional.js';

/** Where the module is: wasm/cimm.wasm in the package, or the path in CIMM_WASM_MODULE. */
export function wasmModulePath(): string {
  return process.env.CIMM_WASM_MODULE || join(packageRoot(), 'wasm', 'cimm.wasm');
}

type Pointer = number;
/** The dtype of a kernel call on Real arrays: the constructor of its deciding array. */
type Dtype = Float32ArrayConstructor | Float64ArrayConstructor;

/** The module's exports (native/wasm/exports.cpp); lengths and pointers are wasm32 size_t. */
interface CoreExports {
  memory: WebAssembly.Memory;
  /** The WASI reactor's initializer: the C++ static constructors. */
  _initialize(): void;
  cimm_alloc(bytes: number): Pointer;
  cimm_free(p: Pointer): void;
  cimm_local_energy(r: Pointer, len: number, primeCount: number, out: Pointer): void;
  cimm_nonlocal_energy(x: Pointer, y: Pointer, d: number, points: Pointer, m: number, l: number, s: number): number;
  cimm_distance(x: Pointer, y: Pointer, d: number): number;
  cimm_fractal_step(z: Pointer, offset: number, out: Pointer, n: number): void;
  cimm_fractal_step_backward(z: Pointer, gradOut: Pointer, gradZ: Pointer, n: number): void;
  cimm_max_abs(x: Pointer, n: number): number;
  cimm_matmul(
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Pointer,
    b: Pointer,
    beta: number,
    c: Pointer,
  ): void;
  cimm_axpby(alpha: number, x: Pointer, beta: number, y: Pointer, n: number): void;
  cimm_dot(x: Pointer, y: Pointer, n: number): number;
  cimm_sum(x: Pointer, n: number): number;
  cimm_activation_forward(activation: number, x: Pointer, shift: number, out: Pointer, n: number): void;
  cimm_activation_backward(activation: number, y: Pointer, gradOut: Pointer, gradPre: Pointer, n: number): void;
  cimm_sgd_step(
    p: Pointer,
    g: Pointer,
    buf: Pointer,
    n: number,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: number,
    maximize: number,
    firstStep: number,
  ): number;
  cimm_adam_step(
    p: Pointer,
    g: Pointer,
    m: Pointer,
    v: Pointer,
    vMax: Pointer,
    n: number,
    beta1: number,
    beta2: number,
    stepSize: number,
    bc2Sqrt: number,
    epsilon: number,
    weightDecay: number,
    decay: number,
    amsgrad: number,
    maximize: number,
  ): number;
  cimm_sgd_step_measured(
    p: Pointer,
    g: Pointer,
    buf: Pointer,
    before: Pointer,
    n: number,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: number,
    maximize: number,
    firstStep: number,
    out: Pointer,
  ): number;
  cimm_adam_step_measured(
    p: Pointer,
    g: Pointer,
    m: Pointer,
    v: Pointer,
    vMax: Pointer,
    before: Pointer,
    n: number,
    beta1: number,
    beta2: number,
    stepSize: number,
    bc2Sqrt: number,
    epsilon: number,
    weightDecay: number,
    decay: number,
    amsgrad: number,
    maximize: number,
    metricScale: number,
    metricEpsilon: number,
    out: Pointer,
  ): number;
  cimm_prodigy_accumulate(
    p: Pointer,
    g: Pointer,
    p0: Pointer,
    m: Pointer,
    v: Pointer,
    s: Pointer,
    n: number,
    beta1: number,
    beta2: number,
    beta3: number,
    momentScale: number,
    varianceScale: number,
    sScale: number,
    weightDecay: number,
    out: Pointer,
  ): void;
  cimm_prodigy_update(
    p: Pointer,
    m: Pointer,
    v: Pointer,
    n: number,
    stepSize: number,
    eps: number,
    decay: number,
  ): number;
  cimm_first_non_finite(x: Pointer, n: number): number;
  cimm_update_energy(
    before: Pointer,
    after: Pointer,
    grads: Pointer,
    metric: Pointer,
    n: number,
    metricScale: number,
    epsilon: number,
    out: Pointer,
  ): void;
  cimm_update_slope(before: Pointer, after: Pointer, grads: Pointer, n: number): number;
  cimm_energy_flow_step(
    energy: Pointer,
    potential: Pointer,
    source: Pointer,
    nx: number,
    ny: number,
    h: number,
    dt: number,
    beta: number,
    gamma: number,
    kappa: number,
    boundary: number,
    out: Pointer,
  ): void;
  cimm_energy_flow_max_step(
    potential: Pointer,
    nx: number,
    ny: number,
    h: number,
    beta: number,
    gamma: number,
    boundary: number,
  ): number;
  cimm_laplacian(energy: Pointer, nx: number, ny: number, h: number, boundary: number, out: Pointer): void;
  cimm_grid_sums(x: Pointer, n: number, out: Pointer): void;
  cimm_l2_norm(x: Pointer, n: number): number;
  cimm_zero_non_finite(x: Pointer, n: number): number;
  cimm_scale_in_place(x: Pointer, n: number, s: number): void;
  cimm_coupling(t: Pointer, n: number, alpha: number, beta: number, gamma: number, lambda: number, out: Pointer): void;
  cimm_scale_transition(t: Pointer, n: number, scaleCoupling: number, criticalTime: number, out: Pointer): void;
  cimm_shannon_entropy(p: Pointer, n: number): number;
  cimm_hermitian_eigenvalues(re: Pointer, im: Pointer, d: number, out: Pointer): void;
}

/** The kernels on Real arrays: each has an f64 twin, `<name>_f64`, of the same signature on f64 arrays. */
type RealExport =
  | 'cimm_matmul'
  | 'cimm_activation_forward'
  | 'cimm_activation_backward'
  | 'cimm_sgd_step'
  | 'cimm_adam_step'
  | 'cimm_sgd_step_measured'
  | 'cimm_adam_step_measured'
  | 'cimm_prodigy_accumulate'
  | 'cimm_prodigy_update'
  | 'cimm_first_non_finite'
  | 'cimm_l2_norm'
  | 'cimm_zero_non_finite'
  | 'cimm_scale_in_place'
  | 'cimm_update_energy'
  | 'cimm_update_slope';

type Exports = CoreExports & { [K in RealExport as `${K}_f64`]: CoreExports[K] };

/** The entry point of `name` for arrays of `dtype`: the f32 one, or its `_f64` twin. */
function entry<K extends RealExport>(e: Exports, name: K, dtype: Dtype): CoreExports[K] {
  return dtype === Float64Array ? (e[`${name}_f64`] as CoreExports[K]) : e[name];
}

// ---------------------------------------------------------------------------------------
// Argument checks: the Node-API binding's (native/src/binding.cpp), message for message.

function f32(name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) throw argumentError(name, 'a Float32Array', value);
  return value;
}

function f64(name: string, value: unknown): Float64Array {
  if (!(value instanceof Float64Array)) throw argumentError(name, 'a Float64Array', value);
  return value;
}

/** The dtype of a call's deciding array (the binding's by_dtype): Float32Array or Float64Array. */
function dtypeOf(name: string, value: unknown): Dtype {
  if (value instanceof Float64Array) return Float64Array;
  if (value instanceof Float32Array) return Float32Array;
  throw argumentError(name, 'a Float32Array or Float64Array', value);
}

/**
 * An array of the call's dtype (the binding's real_array): an empty Float32Array or
 * Float64Array stands for an unused array and is taken whatever its dtype.
 */
function real(name: string, value: unknown, dtype: Dtype): Real {
  if (value instanceof dtype) return value;
  if (value instanceof Float32Array || value instanceof Float64Array) {
    if (value.length === 0) return value;
    throw argumentError(name, `a ${dtype.name} (the dtype of params)`, value);
  }
  throw argumentError(name, `a ${dtype.name}`, value);
}

/** A number as the dtype's scalar: Math.fround for f32, itself for f64 (the binding's static_cast<T>). */
const inDtype = (dtype: Dtype, x: number) => (dtype === Float64Array ? x : Math.fround(x));

function num(name: string, value: unknown): number {
  if (typeof value !== 'number') throw argumentError(name, 'a number', value);
  return value;
}

function finite(name: string, value: unknown): number {
  if (!Number.isFinite(num(name, value))) throw argumentError(name, 'a finite number', value);
  return value as number;
}

function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw argumentError(name, 'a boolean', value);
  return value;
}

/** Rejects `a` unless it has `length` elements (`what` says why). */
function lengthIs(name: string, a: Real, length: number, what: string): void {
  if (a.length !== length) throw argumentError(name, what, a);
}

/** `<name>` must have the length of `<other>`, as the binding's same_length_as words it (in the call's dtype). */
function sameLength(name: string, a: Real, length: number, other: string, dtype: Dtype = Float32Array): void {
  lengthIs(name, a, length, `a ${dtype.name} of length ${length} (the length of ${other})`);
}

/** Whether two non-empty arrays share memory. */
function overlap(a: Real, b: Real): boolean {
  if (a.length === 0 || b.length === 0 || a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Rejects the later of any two arrays that share memory, naming the earlier (the call's dtype in the message). */
function disjoint(arrays: readonly [string, Real][], dtype: Dtype = Float32Array): void {
  for (let i = 0; i < arrays.length; i++) {
    for (let j = i + 1; j < arrays.length; j++) {
      if (overlap(arrays[i][1], arrays[j][1])) {
        throw argumentError(arrays[j][0], `a ${dtype.name} that does not overlap ${arrays[i][0]}`, arrays[j][1]);
      }
    }
  }
}

/** A Float64Array(3) of sums sharing no memory with the call's float arrays. */
function sumsOut(value: unknown, arrays: readonly [string, Real][]): Float64Array {
  const out = f64('out', value);
  lengthIs('out', out, 3, 'a Float64Array of length 3');
  for (const [name, a] of arrays) {
    if (overlap(out, a)) throw argumentError('out', `a Float64Array that does not overlap ${name}`, out);
  }
  return out;
}

function optionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw argumentError(name, 'an options object', value);
  }
  return value as Record<string, unknown>;
}

const ACTIVATIONS: readonly ActivationName[] = ['identity', 'tanh', 'sigmoid', 'relu'];
const BOUNDARIES: readonly FlowBoundary[] = ['periodic', 'zeroFlux'];

function code<T extends string>(name: string, value: unknown, choices: readonly T[]): number {
  const i = typeof value === 'string' ? choices.indexOf(value as T) : -1;
  if (i < 0) throw argumentError(name, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
  return i;
}

/** A grid dimension nx or ny. */
function gridDim(name: string, value: unknown): number {
  const v = num(name, value);
  if (!(v >= 1 && v <= 4294967296 && Number.isInteger(v))) throw argumentError(name, 'an integer >= 1', value);
  return v;
}

/** A finite field of a params object, optionally > 0 or >= 0. */
function field(
  params: Record<string, unknown>,
  name: string,
  sign: 'any' | 'positive' | 'nonNegative' = 'any',
): number {
  const value = params[name];
  const v = num(name, value);
  if (sign === 'positive' && !(Number.isFinite(v) && v > 0)) throw argumentError(name, 'a finite number > 0', value);
  if (sign === 'nonNegative' && !(Number.isFinite(v) && v >= 0)) {
    throw argumentError(name, 'a finite number >= 0', value);
  }
  if (!Number.isFinite(v)) throw argumentError(name, 'a finite number', value);
  return v;
}

/** A grid of exactly `cells` values. */
function grid(name: string, value: unknown, cells: number): Float64Array {
  const a = f64(name, value);
  lengthIs(name, a, cells, `a Float64Array of length ${cells}`);
  return a;
}

/** An output grid of `cells` values sharing no memory with the inputs (the stencil reads neighbours). */
function outputGrid(value: unknown, cells: number, inputs: readonly [string, Float64Array][]): Float64Array {
  const out = grid('out', value, cells);
  for (const [name, a] of inputs) {
    if (overlap(out, a)) throw argumentError('out', `a Float64Array that does not overlap ${name}`, out);
  }
  return out;
}

function dimension(name: string, value: unknown): number {
  const v = num(name, value);
  if (!(v >= 0 && v <= 2147483647 && Number.isInteger(v))) {
    throw argumentError(name, 'an integer >= 0 and <= 2147483647', value);
  }
  return v;
}

const MAX_PRIME_COUNT = 1_000_000; // cimm::kMaxPrimeCount
const MAX_DIMENSION = 4096; // cimm::kMaxDimension

// ---------------------------------------------------------------------------------------
// The instance and its scratch arena.

/** What an array does in a call: read by the kernel (copied in), written (copied out), or both. */
const IN = 1;
const OUT = 2;
const INOUT = IN | OUT;
type Role = typeof IN | typeof OUT | typeof INOUT;

const ALIGN = 16;
const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;
/** The arena grows in steps of 1 MiB at least, so small calls of varying size do not regrow it. */
const ARENA_STEP = 1 << 20;

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

class WasmCore {
  private instance: Exports | undefined;
  private arena = 0;
  private arenaBytes = 0;
  private heap = new ArrayBuffer(0);
  private f32 = new Float32Array(0);
  private f64 = new Float64Array(0);

  constructor(private readonly module: WebAssembly.Module) {
    this.exports();
  }

  exports(): Exports {
    if (!this.instance) {
      const instance = new WebAssembly.Instance(this.module, wasiStubs(this.module)).exports as unknown as Exports;
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

  /**
   * Places `arrays` in the arena, one after another (16-byte aligned), copies in those whose role
   * includes IN, and returns their addresses.
   */
  stage(arrays: readonly Real[], roles: readonly Role[]): Pointer[] {
    let total = 0;
    for (const a of arrays) total += aligned(a.byteLength);
    const ex = this.exports();
    if (total > this.arenaBytes) {
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
  unstage(arrays: readonly Real[], roles: readonly Role[], pointers: readonly Pointer[]): void {
    this.views();
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      if (!(roles[i] & OUT) || a.length === 0) continue;
      if (a instanceof Float32Array) a.set(this.f32.subarray(pointers[i] >>> 2, (pointers[i] >>> 2) + a.length));
      else a.set(this.f64.subarray(pointers[i] >>> 3, (pointers[i] >>> 3) + a.length));
    }
  }

  /** Stage, run, copy back; a trap drops the instance (the next call starts a fresh one). */
  run<R>(kernel: string, arrays: readonly Real[], roles: readonly Role[], body: (e: Exports, p: Pointer[]) => R): R {
    const pointers = this.stage(arrays, roles);
    let result: R;
    try {
      result = body(this.exports(), pointers);
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
    this.unstage(arrays, roles, pointers);
    return result;
  }

  /** Three f64 sums written by the kernel at `p` (staged as a Float64Array(3) OUT). */
  sums(p: Pointer): [number, number, number] {
    this.views();
    const i = p >>> 3;
    return [this.f64[i], this.f64[i + 1], this.f64[i + 2]];
  }
}

/** The Kernels over one instance of the module. */
function wasmKernels(core: WasmCore, path: string): Kernels {
  const scratch3 = new Float64Array(3);
  // TEMPORARY (lib/backends/positional.ts): the options kernels below still take their scalars positionally
  const positional: PositionalKernels<Omit<Kernels, keyof AsyncKernels>> = {
    name: 'wasm',
    describe: () => ({ name: 'wasm', simdPath: 'wasm-simd128', cpuFeatures: [], threads: 1, source: path }),

    localEnergy(r, primeCount, out) {
      f64('r', r);
      const n = primeCountOf(primeCount);
      f64('out', out);
      lengthIs('out', out, r.length, `a Float64Array of length ${r.length}`);
      core.run('localEnergy', [r, out], [IN, OUT], (e, [pr, po]) => e.cimm_local_energy(pr, r.length, n, po));
    },

    nonlocalEnergy(x, y, points, lengthScale, softening) {
      f32('x', x);
      if (x.length === 0) throw argumentError('x', 'a non-empty Float32Array', x);
      f32('y', y);
      lengthIs('y', y, x.length, `a Float32Array of length ${x.length}`);
      f32('points', points);
      if (points.length === 0 || points.length % x.length !== 0) {
        throw argumentError('points', `a Float32Array of M×${x.length} values (M >= 1)`, points);
      }
      const l = num('lengthScale', lengthScale);
      const s = num('softening', softening);
      return core.run('nonlocalEnergy', [x, y, points], [IN, IN, IN], (e, [px, py, pp]) =>
        e.cimm_nonlocal_energy(px, py, x.length, pp, points.length / x.length, l, s),
      );
    },

    distance(x, y) {
      f32('x', x);
      f32('y', y);
      lengthIs('y', y, x.length, `a Float32Array of length ${x.length}`);
      return core.run('distance', [x, y], [IN, IN], (e, [px, py]) => e.cimm_distance(px, py, x.length));
    },

    fractalStep(z, offset, out) {
      f32('z', z);
      const c = finite('offset', offset);
      f32('out', out);
      sameLength('out', out, z.length, 'z');
      core.run('fractalStep', [z, out], [IN, OUT], (e, [pz, po]) => e.cimm_fractal_step(pz, c, po, z.length));
    },

    fractalStepBackward(z, gradOut, gradZ) {
      f32('z', z);
      f32('gradOut', gradOut);
      f32('gradZ', gradZ);
      sameLength('gradOut', gradOut, z.length, 'z');
      sameLength('gradZ', gradZ, z.length, 'z');
      core.run('fractalStepBackward', [z, gradOut, gradZ], [IN, IN, OUT], (e, [pz, pg, po]) =>
        e.cimm_fractal_step_backward(pz, pg, po, z.length),
      );
    },

    maxAbs(x) {
      f32('x', x);
      return core.run('maxAbs', [x], [IN], (e, [px]) => e.cimm_max_abs(px, x.length));
    },

    matmul(transA, transB, m, n, k, alpha, a, b, beta, c) {
      const ta = bool('transA', transA);
      const tb = bool('transB', transB);
      const mm = dimension('m', m);
      const nn = dimension('n', n);
      const kk = dimension('k', k);
      const al = finite('alpha', alpha);
      const dtype = dtypeOf('c', c);
      real('a', a, dtype);
      real('b', b, dtype);
      const be = finite('beta', beta);
      real('c', c, dtype);
      matrixOf('a', a, ta ? kk : mm, ta ? mm : kk, dtype);
      matrixOf('b', b, tb ? nn : kk, tb ? kk : nn, dtype);
      matrixOf('c', c, mm, nn, dtype);
      if (overlap(a, c) || overlap(b, c)) throw argumentError('c', 'an array that does not overlap a or b', c);
      // β = 0 overwrites c without reading it: c need not be copied in.
      core.run('matmul', [a, b, c], [IN, IN, be === 0 ? OUT : INOUT], (e, [pa, pb, pc]) =>
        entry(e, 'cimm_matmul', dtype)(ta ? 1 : 0, tb ? 1 : 0, mm, nn, kk, al, pa, pb, be, pc),
      );
    },

    axpby(alpha, x, beta, y) {
      const al = finite('alpha', alpha);
      f32('x', x);
      const be = finite('beta', beta);
      f32('y', y);
      sameLength('x', x, y.length, 'y');
      core.run('axpby', [x, y], [IN, be === 0 ? OUT : INOUT], (e, [px, py]) => e.cimm_axpby(al, px, be, py, y.length));
    },

    dot(x, y) {
      f32('x', x);
      f32('y', y);
      sameLength('y', y, x.length, 'x');
      return core.run('dot', [x, y], [IN, IN], (e, [px, py]) => e.cimm_dot(px, py, x.length));
    },

    sum(x) {
      f32('x', x);
      return core.run('sum', [x], [IN], (e, [px]) => e.cimm_sum(px, x.length));
    },

    activationForward(activation, x, shift, out) {
      const act = code('activation', activation, ACTIVATIONS);
      const dtype = dtypeOf('out', out);
      real('x', x, dtype);
      const s = finite('shift', shift);
      sameLength('x', x, out.length, 'out', dtype);
      core.run('activationForward', [x, out], [IN, OUT], (e, [px, po]) =>
        entry(e, 'cimm_activation_forward', dtype)(act, px, s, po, out.length),
      );
    },

    activationBackward(activation, y, gradOut, gradPre) {
      const act = code('activation', activation, ACTIVATIONS);
      const dtype = dtypeOf('gradPre', gradPre);
      real('y', y, dtype);
      real('gradOut', gradOut, dtype);
      sameLength('y', y, gradPre.length, 'gradPre', dtype);
      sameLength('gradOut', gradOut, gradPre.length, 'gradPre', dtype);
      core.run('activationBackward', [y, gradOut, gradPre], [IN, IN, OUT], (e, [py, pg, po]) =>
        entry(e, 'cimm_activation_backward', dtype)(act, py, pg, po, gradPre.length),
      );
    },

    sgdStep(
      params,
      grads,
      momentumBuffer,
      learningRate,
      momentum,
      dampening,
      weightDecay,
      nesterov,
      maximize,
      firstStep,
    ) {
      const dtype = dtypeOf('params', params);
      real('grads', grads, dtype);
      real('momentumBuffer', momentumBuffer, dtype);
      const h = [
        num('learningRate', learningRate),
        num('momentum', momentum),
        num('dampening', dampening),
        num('weightDecay', weightDecay),
      ] as const;
      const flags = [bool('nesterov', nesterov), bool('maximize', maximize), bool('firstStep', firstStep)] as const;
      const n = params.length;
      sameLength('grads', grads, n, 'params', dtype);
      const buffered = inDtype(dtype, h[1]) !== 0;
      if (buffered) sameLength('momentumBuffer', momentumBuffer, n, 'params', dtype);
      disjoint(
        [
          ['params', params],
          ['grads', grads],
          ['momentumBuffer', momentumBuffer],
        ],
        dtype,
      );
      const buf = buffered ? momentumBuffer : EMPTY32;
      return (
        core.run('sgdStep', [params, grads, buf], [INOUT, IN, INOUT], (e, [pp, pg, pb]) =>
          entry(e, 'cimm_sgd_step', dtype)(pp, pg, pb, n, ...h, ...bits(flags)),
        ) === 1
      );
    },

    adamStep(
      params,
      grads,
      m,
      v,
      vMax,
      beta1,
      beta2,
      stepSize,
      bc2Sqrt,
      epsilon,
      weightDecay,
      decay,
      amsgrad,
      maximize,
    ) {
      const dtype = dtypeOf('params', params);
      real('grads', grads, dtype);
      real('m', m, dtype);
      real('v', v, dtype);
      real('vMax', vMax, dtype);
      const h = [
        num('beta1', beta1),
        num('beta2', beta2),
        num('stepSize', stepSize),
        num('bc2Sqrt', bc2Sqrt),
        num('epsilon', epsilon),
        num('weightDecay', weightDecay),
        num('decay', decay),
      ] as const;
      const flags = [bool('amsgrad', amsgrad), bool('maximize', maximize)] as const;
      const n = params.length;
      sameLength('grads', grads, n, 'params', dtype);
      sameLength('m', m, n, 'params', dtype);
      sameLength('v', v, n, 'params', dtype);
      if (flags[0]) sameLength('vMax', vMax, n, 'params', dtype);
      disjoint(
        [
          ['params', params],
          ['grads', grads],
          ['m', m],
          ['v', v],
          ['vMax', vMax],
        ],
        dtype,
      );
      const w = flags[0] ? vMax : EMPTY32;
      return (
        core.run('adamStep', [params, grads, m, v, w], [INOUT, IN, INOUT, INOUT, INOUT], (e, [pp, pg, pm, pv, pw]) =>
          entry(e, 'cimm_adam_step', dtype)(pp, pg, pm, pv, pw, n, ...h, ...bits(flags)),
        ) === 1
      );
    },

    sgdStepMeasured(params, grads, momentumBuffer, before, options, out) {
      // the dtype first, then the options' fields, read once each, before any other array is
      // looked at (the binding's order)
      const dtype = dtypeOf('params', params);
      const o = optionsObject('options', options) as Partial<Record<keyof SgdStepOptions, unknown>>;
      const h = [
        num('options.learningRate', o.learningRate),
        num('options.momentum', o.momentum),
        num('options.dampening', o.dampening),
        num('options.weightDecay', o.weightDecay),
      ] as const;
      const flags = [
        bool('options.nesterov', o.nesterov),
        bool('options.maximize', o.maximize),
        bool('options.firstStep', o.firstStep),
      ] as const;
      real('grads', grads, dtype);
      real('momentumBuffer', momentumBuffer, dtype);
      real('before', before, dtype);
      const n = params.length;
      sameLength('grads', grads, n, 'params', dtype);
      const buffered = inDtype(dtype, h[1]) !== 0;
      if (buffered) sameLength('momentumBuffer', momentumBuffer, n, 'params', dtype);
      sameLength('before', before, n, 'params', dtype);
      const named: [string, Real][] = [
        ['params', params],
        ['grads', grads],
        ['momentumBuffer', momentumBuffer],
        ['before', before],
      ];
      disjoint(named, dtype);
      sumsOut(out, named);
      const buf = buffered ? momentumBuffer : EMPTY32;
      const finiteStep = core.run(
        'sgdStepMeasured',
        [params, grads, buf, before, scratch3],
        [INOUT, IN, INOUT, OUT, OUT],
        (e, [pp, pg, pb, pq, po]) =>
          entry(e, 'cimm_sgd_step_measured', dtype)(pp, pg, pb, pq, n, ...h, ...bits(flags), po),
      );
      out.set(scratch3);
      return finiteStep === 1;
    },

    adamStepMeasured(params, grads, m, v, vMax, before, options, out) {
      const dtype = dtypeOf('params', params);
      const o = optionsObject('options', options) as Partial<Record<keyof AdamStepMeasuredOptions, unknown>>;
      const h = [
        num('options.beta1', o.beta1),
        num('options.beta2', o.beta2),
        num('options.stepSize', o.stepSize),
        num('options.bc2Sqrt', o.bc2Sqrt),
        num('options.epsilon', o.epsilon),
        num('options.weightDecay', o.weightDecay),
        num('options.decay', o.decay),
      ] as const;
      const flags = [bool('options.amsgrad', o.amsgrad), bool('options.maximize', o.maximize)] as const;
      const metric = [
        num('options.metricScale', o.metricScale),
        num('options.metricEpsilon', o.metricEpsilon),
      ] as const;
      real('grads', grads, dtype);
      real('m', m, dtype);
      real('v', v, dtype);
      real('vMax', vMax, dtype);
      real('before', before, dtype);
      const n = params.length;
      sameLength('grads', grads, n, 'params', dtype);
      sameLength('m', m, n, 'params', dtype);
      sameLength('v', v, n, 'params', dtype);
      if (flags[0]) sameLength('vMax', vMax, n, 'params', dtype);
      sameLength('before', before, n, 'params', dtype);
      const named: [string, Real][] = [
        ['params', params],
        ['grads', grads],
        ['m', m],
        ['v', v],
        ['vMax', vMax],
        ['before', before],
      ];
      disjoint(named, dtype);
      sumsOut(out, named);
      const w = flags[0] ? vMax : EMPTY32;
      const finiteStep = core.run(
        'adamStepMeasured',
        [params, grads, m, v, w, before, scratch3],
        [INOUT, IN, INOUT, INOUT, INOUT, OUT, OUT],
        (e, [pp, pg, pm, pv, pw, pq, po]) =>
          entry(e, 'cimm_adam_step_measured', dtype)(pp, pg, pm, pv, pw, pq, n, ...h, ...bits(flags), ...metric, po),
      );
      out.set(scratch3);
      return finiteStep === 1;
    },

    prodigyAccumulate(
      params,
      grads,
      p0,
      m,
      v,
      s,
      beta1,
      beta2,
      beta3,
      momentScale,
      varianceScale,
      sScale,
      weightDecay,
    ) {
      const dtype = dtypeOf('params', params);
      real('grads', grads, dtype);
      real('p0', p0, dtype);
      real('m', m, dtype);
      real('v', v, dtype);
      real('s', s, dtype);
      const h = [
        num('beta1', beta1),
        num('beta2', beta2),
        num('beta3', beta3),
        num('momentScale', momentScale),
        num('varianceScale', varianceScale),
        num('sScale', sScale),
        num('weightDecay', weightDecay),
      ] as const;
      const n = params.length;
      sameLength('grads', grads, n, 'params', dtype);
      sameLength('p0', p0, n, 'params', dtype);
      sameLength('m', m, n, 'params', dtype);
      sameLength('v', v, n, 'params', dtype);
      sameLength('s', s, n, 'params', dtype);
      disjoint(
        [
          ['params', params],
          ['grads', grads],
          ['p0', p0],
          ['m', m],
          ['v', v],
          ['s', s],
        ],
        dtype,
      );
      core.run(
        'prodigyAccumulate',
        [params, grads, p0, m, v, s, scratch3],
        [IN, IN, IN, INOUT, INOUT, INOUT, OUT],
        (e, [pp, pg, pq, pm, pv, ps, po]) =>
          entry(e, 'cimm_prodigy_accumulate', dtype)(pp, pg, pq, pm, pv, ps, n, ...h, po),
      );
      return [scratch3[0], scratch3[1]];
    },

    prodigyUpdate(params, m, v, stepSize, epsilon, decay) {
      const dtype = dtypeOf('params', params);
      real('m', m, dtype);
      real('v', v, dtype);
      const h = [num('stepSize', stepSize), num('epsilon', epsilon), num('decay', decay)] as const;
      const n = params.length;
      sameLength('m', m, n, 'params', dtype);
      sameLength('v', v, n, 'params', dtype);
      disjoint(
        [
          ['params', params],
          ['m', m],
          ['v', v],
        ],
        dtype,
      );
      return (
        core.run('prodigyUpdate', [params, m, v], [INOUT, IN, IN], (e, [pp, pm, pv]) =>
          entry(e, 'cimm_prodigy_update', dtype)(pp, pm, pv, n, ...h),
        ) === 1
      );
    },

    firstNonFinite(values) {
      const dtype = dtypeOf('values', values);
      return core.run('firstNonFinite', [values], [IN], (e, [px]) =>
        entry(e, 'cimm_first_non_finite', dtype)(px, values.length),
      );
    },

    memoryCopy(src, dst) {
      f32('src', src);
      f32('dst', dst);
      sameLength('dst', dst, src.length, 'src');
      disjoint([
        ['src', src],
        ['dst', dst],
      ]);
      // The copy is the kernel: staged, it would be three copies (in, the module's, out), so the
      // probe copies directly, as the js backend does (one memcpy; the module has no threads).
      dst.set(src);
    },

    energyFlowStep(energy, potential, source, nx, ny, params, out) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      const cells = x * y;
      grid('energy', energy, cells);
      grid('potential', potential, cells);
      grid('source', source, cells);
      const p = optionsObject('params', params);
      const h = field(p, 'h', 'positive');
      const dt = field(p, 'dt', 'nonNegative');
      const beta = field(p, 'beta', 'nonNegative');
      const gamma = field(p, 'gamma');
      const kappa = field(p, 'kappa');
      const boundary = code('boundary', p.boundary, BOUNDARIES);
      outputGrid(out, cells, [
        ['energy', energy],
        ['potential', potential],
        ['source', source],
      ]);
      core.run('energyFlowStep', [energy, potential, source, out], [IN, IN, IN, OUT], (e, [pe, pp, ps, po]) =>
        e.cimm_energy_flow_step(pe, pp, ps, x, y, h, dt, beta, gamma, kappa, boundary, po),
      );
    },

    energyFlowMaxStep(potential, nx, ny, params) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      grid('potential', potential, x * y);
      const p = optionsObject('params', params);
      const h = field(p, 'h', 'positive');
      const beta = field(p, 'beta', 'nonNegative');
      const gamma = field(p, 'gamma');
      const boundary = code('boundary', p.boundary, BOUNDARIES);
      return core.run('energyFlowMaxStep', [potential], [IN], (e, [pp]) =>
        e.cimm_energy_flow_max_step(pp, x, y, h, beta, gamma, boundary),
      );
    },

    laplacian(energy, nx, ny, h, boundary, out) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      grid('energy', energy, x * y);
      const spacing = num('h', h);
      if (!(Number.isFinite(spacing) && spacing > 0)) throw argumentError('h', 'a finite number > 0', h);
      const b = code('boundary', boundary, BOUNDARIES);
      outputGrid(out, x * y, [['energy', energy]]);
      core.run('laplacian', [energy, out], [IN, OUT], (e, [pe, po]) => e.cimm_laplacian(pe, x, y, spacing, b, po));
    },

    gridSums(x, out) {
      f64('x', x);
      f64('out', out);
      lengthIs('out', out, 3, 'a Float64Array of length 3');
      core.run('gridSums', [x, scratch3], [IN, OUT], (e, [px, po]) => e.cimm_grid_sums(px, x.length, po));
      out.set(scratch3);
    },

    l2Norm(x) {
      const dtype = dtypeOf('x', x);
      return core.run('l2Norm', [x], [IN], (e, [px]) => entry(e, 'cimm_l2_norm', dtype)(px, x.length));
    },

    zeroNonFinite(x) {
      const dtype = dtypeOf('x', x);
      return core.run('zeroNonFinite', [x], [INOUT], (e, [px]) =>
        entry(e, 'cimm_zero_non_finite', dtype)(px, x.length),
      );
    },

    scaleInPlace(x, s) {
      const dtype = dtypeOf('x', x);
      const factor = num('s', s);
      core.run('scaleInPlace', [x], [INOUT], (e, [px]) => entry(e, 'cimm_scale_in_place', dtype)(px, x.length, factor));
    },

    updateEnergy(before, after, grads, metric, metricScale, epsilon, out) {
      const dtype = dtypeOf('before', before);
      real('after', after, dtype);
      real('grads', grads, dtype);
      real('metric', metric, dtype);
      const scale = num('metricScale', metricScale);
      const eps = num('epsilon', epsilon);
      f64('out', out);
      const n = before.length;
      sameLength('after', after, n, 'before', dtype);
      sameLength('grads', grads, n, 'before', dtype);
      if (metric.length !== 0) sameLength('metric', metric, n, 'before', dtype);
      lengthIs('out', out, 3, 'a Float64Array of length 3');
      // an empty metric is w = 1: the kernel takes a null pointer for it
      core.run(
        'updateEnergy',
        [before, after, grads, metric, scratch3],
        [IN, IN, IN, IN, OUT],
        (e, [pb, pa, pg, pm, po]) =>
          entry(e, 'cimm_update_energy', dtype)(pb, pa, pg, metric.length > 0 ? pm : 0, n, scale, eps, po),
      );
      out.set(scratch3);
    },

    updateSlope(before, after, grads) {
      const dtype = dtypeOf('before', before);
      real('after', after, dtype);
      real('grads', grads, dtype);
      const n = before.length;
      sameLength('after', after, n, 'before', dtype);
      sameLength('grads', grads, n, 'before', dtype);
      return core.run('updateSlope', [before, after, grads], [IN, IN, IN], (e, [pb, pa, pg]) =>
        entry(e, 'cimm_update_slope', dtype)(pb, pa, pg, n),
      );
    },

    coupling(t, alpha, beta, gamma, lambdaCosmo, out) {
      f64('t', t);
      const c = [
        finite('alpha', alpha),
        finite('beta', beta),
        finite('gamma', gamma),
        finite('lambdaCosmo', lambdaCosmo),
      ] as const;
      f64('out', out);
      lengthIs('out', out, t.length, `a Float64Array of length ${t.length} (the length of t)`);
      core.run('coupling', [t, out], [IN, OUT], (e, [pt, po]) => e.cimm_coupling(pt, t.length, ...c, po));
    },

    scaleTransition(t, scaleCoupling, criticalTime, out) {
      f64('t', t);
      const lambda = finite('scaleCoupling', scaleCoupling);
      const tc = finite('criticalTime', criticalTime);
      f64('out', out);
      lengthIs('out', out, t.length, `a Float64Array of length ${t.length} (the length of t)`);
      core.run('scaleTransition', [t, out], [IN, OUT], (e, [pt, po]) =>
        e.cimm_scale_transition(pt, t.length, lambda, tc, po),
      );
    },

    shannonEntropy(p) {
      f64('p', p);
      return core.run('shannonEntropy', [p], [IN], (e, [pp]) => e.cimm_shannon_entropy(pp, p.length));
    },

    hermitianEigenvalues(re, im, d, out) {
      const dv = num('d', d);
      if (!(dv >= 0 && dv <= MAX_DIMENSION && Number.isInteger(dv))) {
        throw argumentError('d', `an integer in [0, ${MAX_DIMENSION}]`, d);
      }
      const matrix = `a d×d matrix of length ${dv * dv} (d = ${dv})`;
      f64('re', re);
      lengthIs('re', re, dv * dv, matrix);
      f64('im', im);
      lengthIs('im', im, dv * dv, matrix);
      f64('out', out);
      lengthIs('out', out, dv, `a Float64Array of length ${dv} (d)`);
      core.run('hermitianEigenvalues', [re, im, out], [IN, IN, OUT], (e, [pr, pi, po]) =>
        e.cimm_hermitian_eigenvalues(pr, pi, dv, po),
      );
    },
  };
  // The async kernels: the js backend's chunking over this module's sync kernels (one thread
  // here as there: chunks on the main thread, yielding to the event loop between them), after
  // the checks the native bindings make before queuing any work.
  const sync = withOptionObjects<Omit<Kernels, keyof AsyncKernels>>(positional);
  const chunked = chunkedAsyncKernels(sync);
  const checked =
    <A extends unknown[], R>(check: (...args: A) => void, run: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      try {
        check(...args);
      } catch (error) {
        return Promise.reject(error);
      }
      return run(...args);
    };
  const async: AsyncKernels = {
    matmulAsync: checked((params: MatmulParams, a: Float32Array, b: Float32Array, c: Float32Array | undefined) => {
      const o = optionsObject('params', params);
      const ta = bool('transA', o.transA);
      const tb = bool('transB', o.transB);
      const [m, n, k] = [dimension('m', o.m), dimension('n', o.n), dimension('k', o.k)];
      finite('alpha', o.alpha);
      const beta = finite('beta', o.beta);
      matrixOf('a', f32('a', a), ta ? k : m, ta ? m : k);
      matrixOf('b', f32('b', b), tb ? n : k, tb ? k : n);
      if (beta !== 0) matrixOf('c', f32('c', c), m, n);
    }, chunked.matmulAsync),
    localEnergyAsync: checked((r: Float64Array, primeCount: number) => {
      f64('r', r);
      primeCountOf(primeCount);
    }, chunked.localEnergyAsync),
    energyFlowRunAsync: checked(
      (
        energy: Float64Array,
        potential: Float64Array,
        source: Float64Array,
        nx: number,
        ny: number,
        params: EnergyFlowRunParams,
        kappas: Float64Array,
      ) => {
        const cells = gridDim('nx', nx) * gridDim('ny', ny);
        grid('energy', energy, cells);
        grid('potential', potential, cells);
        grid('source', source, cells);
        const p = optionsObject('params', params);
        field(p, 'h', 'positive');
        field(p, 'dt', 'nonNegative');
        field(p, 'beta', 'nonNegative');
        field(p, 'gamma');
        code('boundary', p.boundary, BOUNDARIES);
        if (!f64('kappas', kappas).every(Number.isFinite)) {
          throw argumentError('kappas', 'a Float64Array of finite numbers', kappas);
        }
      },
      chunked.energyFlowRunAsync,
    ),
  };
  return { ...sync, ...async };
}

/** `v` must hold a rows × cols matrix (the binding's wording, in the call's dtype). */
function matrixOf(name: string, v: Real, rows: number, cols: number, dtype: Dtype = Float32Array): void {
  lengthIs(name, v, rows * cols, `a ${rows}×${cols} matrix (a ${dtype.name} of length ${rows * cols})`);
}

/** localEnergy's prime count: an integer in [0, MAX_PRIME_COUNT]. */
function primeCountOf(value: unknown): number {
  const n = num('primeCount', value);
  if (!(n >= 0 && n <= MAX_PRIME_COUNT && Number.isInteger(n))) {
    throw argumentError('primeCount', `an integer >= 0 and <= ${MAX_PRIME_COUNT}`, value);
  }
  return n;
}

const EMPTY32 = new Float32Array(0);

/** Booleans as the module's int flags. */
function bits<T extends readonly boolean[]>(flags: T): { [K in keyof T]: number } {
  return flags.map((f) => (f ? 1 : 0)) as { [K in keyof T]: number };
}

/** Compile and instantiate the module; throws NativeLoadError (not built, or does not load, with fixes). */
export function loadWasmKernels(): Kernels {
  const path = wasmModulePath();
  const build = isCheckout()
    ? 'build it: `npm run build:wasm` (needs clang, lld, wasi-libc and libc++ for wasm32-wasi; README "WebAssembly backend")'
    : 'reinstall cimm: its package ships wasm/cimm.wasm';
  const js = 'or use the pure-TypeScript backend: CIMM_BACKEND=js';
  if (!existsSync(path)) {
    const what = process.env.CIMM_WASM_MODULE ? `CIMM_WASM_MODULE=${path} does not exist` : `${path} is not built`;
    throw new NativeLoadError(`the WebAssembly module is missing: ${what}`, [], [build, js]);
  }
  let core: WasmCore;
  try {
    core = new WasmCore(new WebAssembly.Module(readFileSync(path)));
  } catch (e) {
    const text = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeLoadError(`the WebAssembly module ${path} does not load`, [text], [build, js]);
  }
  return wasmKernels(core, path);
}
