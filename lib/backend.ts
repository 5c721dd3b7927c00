/**
 * Backend selection (design.md §1): rust → cpp → wasm → js by priority, forced with
 * CIMM_BACKEND=rust|cpp|wasm|js or setBackend(). wasm is the C++ core compiled to WebAssembly
 * (lib/backends/wasm.ts): no native binary, so it loads wherever the package is installed. A forced backend that cannot load is an error
 * listing every cause and what to do; without a forced choice an unavailable backend is
 * skipped silently (set CIMM_DEBUG=1 to see why).
 */
import { arch, platform, versions } from 'node:process';
import { loadCppKernels } from './backends/cpp.js';
import { jsKernels } from './backends/js/index.js';
import { NativeLoadError } from './backends/native.js';
import { describePlatform, hostPlatform, loadRustKernels } from './backends/rust.js';
import { loadWasmKernels } from './backends/wasm.js';
import { CimmBackendError } from './errors.js';
import { oneOf } from './is.js';
import type { BackendDescription, BackendName, Kernels } from './kernels.js';

export interface BackendEntry {
  name: BackendName;
  priority: number;
  load: () => Kernels;
  /**
   * What to do when it does not load (a loader that throws NativeLoadError brings its own
   * fixes, fitted to the cause; this is the fallback).
   */
  remedy: string;
}

const BACKENDS: BackendEntry[] = [
  {
    name: 'rust',
    priority: 4,
    load: loadRustKernels,
    remedy: 'reinstall cimm with its platform package (npm installs cimm-<platform> with it), or use CIMM_BACKEND=js',
  },
  {
    name: 'cpp',
    priority: 3,
    load: loadCppKernels,
    remedy: 'rebuild it with `npx cimm build-native` (needs cmake and a C++17 compiler), or use CIMM_BACKEND=js',
  },
  {
    name: 'wasm',
    priority: 2,
    load: loadWasmKernels,
    remedy: 'reinstall cimm (its package ships wasm/cimm.wasm), or use CIMM_BACKEND=js',
  },
  { name: 'js', priority: 1, load: () => jsKernels, remedy: '' },
];

export const BACKEND_NAMES: readonly BackendName[] = ['rust', 'cpp', 'wasm', 'js'];

const loaded = new Map<BackendName, Kernels>();
const failures = new Map<BackendName, unknown>();
let active: Kernels | undefined;
let forced = false;

function causeText(error: unknown): string {
  const lines: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 8; depth++) {
    lines.push(e instanceof Error ? e.message.split('\n')[0] : String(e));
    if (e instanceof NativeLoadError) lines.push(...e.causes);
    e = e instanceof Error ? e.cause : undefined;
  }
  return lines.join('\n    caused by: ');
}

function tryLoad(entry: BackendEntry): Kernels | undefined {
  const hit = loaded.get(entry.name);
  if (hit) return hit;
  if (failures.has(entry.name)) return undefined;
  try {
    const k = entry.load();
    loaded.set(entry.name, k);
    return k;
  } catch (error) {
    failures.set(entry.name, error);
    if (process.env.CIMM_DEBUG) console.warn(`cimm: ${entry.name} backend unavailable: ${causeText(error)}`);
    return undefined;
  }
}

function unavailable(name: BackendName, how: string): CimmBackendError {
  const entry = BACKENDS.find((b) => b.name === name);
  const cause = entry ? failures.get(name) : new Error(`the ${name} backend is not part of this build`);
  const solutions =
    cause instanceof NativeLoadError
      ? [...cause.solutions]
      : [entry?.remedy || 'choose another backend with CIMM_BACKEND=rust|cpp|wasm|js'];
  const forcedBy = how.startsWith('CIMM_BACKEND') ? 'CIMM_BACKEND' : 'the forced choice';
  solutions.push(`or unset ${forcedBy} to fall back automatically to the best backend that loads`);
  return new CimmBackendError(
    `cimm: the ${name} backend was requested (${how}) but could not be loaded on ${describePlatform(hostPlatform())}, Node ${versions.node}.\n` +
      `  cause: ${causeText(cause)}\n  possible solutions:\n${solutions.map((s) => `    - ${s}`).join('\n')}`,
    { cause },
  );
}

/**
 * Register (or replace) a backend loader, as TF.js's registerBackend does. Replacing one
 * forgets its earlier load result; the active backend is re-chosen on next use.
 */
export function registerBackend(entry: BackendEntry): void {
  oneOf('entry.name', entry.name, BACKEND_NAMES);
  const i = BACKENDS.findIndex((b) => b.name === entry.name);
  if (i >= 0) BACKENDS.splice(i, 1);
  BACKENDS.push(entry);
  loaded.delete(entry.name);
  failures.delete(entry.name);
  active = undefined;
  forced = false;
}

/** The kernels of one named backend; throws CimmBackendError if it cannot load. */
export function getBackend(name: BackendName, how = `getBackend('${name}')`): Kernels {
  oneOf('name', name, BACKEND_NAMES);
  const entry = BACKENDS.find((b) => b.name === name);
  const k = entry && tryLoad(entry);
  if (!k) throw unavailable(name, how);
  return k;
}

/** The active kernels: the forced backend, else the highest-priority one that loads. */
export function kernels(): Kernels {
  if (active) return active;
  const requested = process.env.CIMM_BACKEND;
  if (requested) {
    const name = oneOf('CIMM_BACKEND', requested, BACKEND_NAMES);
    active = getBackend(name, `CIMM_BACKEND=${name}`);
    forced = true;
    return active;
  }
  for (const entry of [...BACKENDS].sort((a, b) => b.priority - a.priority)) {
    const k = tryLoad(entry);
    if (k) {
      active = k;
      return k;
    }
  }
  active = jsKernels;
  return active;
}

/** Force a backend for the rest of the process (throws if it cannot load). */
export function setBackend(name: BackendName): Kernels {
  active = getBackend(name, `setBackend('${name}')`);
  forced = true;
  return active;
}

/** Every backend that loads here, in priority order. */
export function availableBackends(): BackendName[] {
  return [...BACKENDS]
    .sort((a, b) => b.priority - a.priority)
    .filter((b) => tryLoad(b) !== undefined)
    .map((b) => b.name);
}

export interface BackendInfo extends BackendDescription {
  /** True when chosen by CIMM_BACKEND or setBackend(). */
  forced: boolean;
  platform: string;
  arch: string;
  node: string;
  /** Every known backend: whether it loads, and why not. */
  backends: { name: BackendName; available: boolean; error?: string }[];
}

/** Which backend is active, the CPU features detected and the SIMD path taken. */
export function backendInfo(): BackendInfo {
  const k = kernels();
  const backends = BACKEND_NAMES.map((name) => {
    const entry = BACKENDS.find((b) => b.name === name);
    const ok = entry ? tryLoad(entry) !== undefined : false;
    const cause = entry ? failures.get(name) : new Error('not part of this build');
    return ok ? { name, available: true } : { name, available: false, error: causeText(cause) };
  });
  return { ...k.describe(), forced, platform, arch, node: versions.node, backends };
}
