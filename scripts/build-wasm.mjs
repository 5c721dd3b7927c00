#!/usr/bin/env node
/**
 * `npm run build:wasm`: compile the C++ kernel core (the sources of CMakeLists.txt's
 * `cimm_kernels` library, read from there, less the thread pool) to one WebAssembly module,
 * wasm/cimm.wasm, for the `wasm` backend (lib/backends/wasm.ts).
 *
 * Toolchain, all from Debian 12's archive (no emscripten, no download at build time):
 *   apt-get install clang-14 lld-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 \
 *     libclang-rt-14-dev-wasm32
 * clang targets wasm32-wasi with 128-bit SIMD (-msimd128; every engine since Node 16.4 runs
 * it); wasi-libc gives libm and malloc, libc++ the containers the core uses. The module is
 * built without threads (native/wasm/parallel.cpp runs parallel_for inline) and without
 * exceptions (an allocation failure traps). Its WASI imports serve only abort paths; the glue
 * answers them without granting any capability. The same flags as the native build where
 * they decide bits: -ffp-contract=off (and wasm baseline SIMD has no fused multiply-add), so
 * the scalar kernels, which the wasm build compiles, round like the js reference.
 *
 * CIMM_WASM_CXX names the compiler (default: clang++-14, else clang++); WASI_SYSROOT a
 * sysroot other than Debian's (whose headers and libraries are in the compiler's default
 * search path for the wasm32-wasi target).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (text) => console.log(`build:wasm: ${text}`);
const APT =
  'apt-get install clang-14 lld-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32';

/** The core's sources: cimm_kernels in CMakeLists.txt, with the single-thread pool for parallel.cpp. */
export function coreSources() {
  const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
  const block = /add_library\(cimm_kernels STATIC([^)]*)\)/.exec(cmake);
  if (!block) throw new Error('build:wasm: CMakeLists.txt has no add_library(cimm_kernels STATIC …)');
  const sources = block[1].split(/\s+/).filter((s) => s.endsWith('.cpp'));
  return sources.map((s) => (s === 'native/src/parallel.cpp' ? 'native/wasm/parallel.cpp' : s));
}

/**
 * The wasm build's own sources: every .cpp of native/wasm (the families' C ABI, one file each,
 * the wasm SIMD kernels, the runtime), so that a family file added there needs no edit here.
 */
export function wasmSources() {
  return readdirSync(join(root, 'native', 'wasm'))
    .filter((f) => f.endsWith('.cpp') && f !== 'parallel.cpp')
    .sort()
    .map((f) => `native/wasm/${f}`);
}

/**
 * A clang++ that compiles and links C++ for wasm32-wasi (the compiler, lld, wasi-libc and
 * libc++ all present), or why not: a probe builds one tiny reactor before the real build.
 */
function compiler() {
  const candidates = process.env.CIMM_WASM_CXX ? [process.env.CIMM_WASM_CXX] : ['clang++-14', 'clang++'];
  const cxx = candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!cxx) return { missing: `no clang++ found (tried ${candidates.join(', ')})` };
  const dir = mkdtempSync(join(tmpdir(), 'cimm-wasm-probe-'));
  try {
    writeFileSync(
      join(dir, 'probe.cpp'),
      '#include <cmath>\n#include <vector>\nextern "C" double probe(double x) { return std::exp(x); }\n',
    );
    const sysroot = process.env.WASI_SYSROOT ? [`--sysroot=${process.env.WASI_SYSROOT}`] : [];
    const args = ['--target=wasm32-wasi', '-O1', ...sysroot, '-mexec-model=reactor', '-Wl,--export=probe'];
    const probe = spawnSync(cxx, [...args, 'probe.cpp', '-o', 'probe.wasm'], { cwd: dir, encoding: 'utf8' });
    if (probe.status !== 0) {
      const why = (probe.stderr || '').trim().split('\n')[0];
      return { missing: `${cxx} cannot build for wasm32-wasi (${why || `exit ${probe.status}`})` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { cxx };
}

const COMPILE = [
  '--target=wasm32-wasi',
  '-std=c++17',
  '-O3',
  '-DNDEBUG',
  // 128-bit SIMD, saturating float→int and sign extension: all in Node ≥ 16.4 and every
  // browser since 2021. Not bulk memory: with it clang 14 lowers thread_local (the GEMM's
  // packing buffers) to real TLS, which needs the threads proposal; without it they are
  // plain globals.
  '-msimd128',
  '-mnontrapping-fptoint',
  '-msign-ext',
  '-fno-exceptions',
  '-fno-rtti',
  '-ffp-contract=off',
  '-fno-math-errno',
  '-fvisibility=hidden',
  '-Wall',
  '-Wextra',
  '-Wpedantic',
  '-Werror',
  '-Inative/src',
  '-Inative/wasm',
];

const LINK = [
  '--target=wasm32-wasi',
  // a WASI reactor: no main; `_initialize` runs the static constructors, once, before any call
  '-mexec-model=reactor',
  // a 4 GiB ceiling (wasm32's), 1 MiB of stack (the kernels keep small chunks on the stack)
  '-Wl,--max-memory=4294967296',
  '-Wl,-z,stack-size=1048576',
  '-Wl,--strip-all',
];

function main() {
  const found = compiler();
  if (!found.cxx) {
    // The wasm tier is optional where it is built from a clone (a published package ships the
    // module): without the toolchain the build goes on without it and the backend is absent,
    // as the C++ one is without cmake. CI sets CIMM_REQUIRE_WASM=1, so it cannot skip.
    const text = `${found.missing}; on Debian 12: ${APT}`;
    if (process.env.CIMM_REQUIRE_WASM === '1') throw new Error(`build:wasm: ${text}`);
    say(`skipped, the wasm backend will be absent: ${text} (CIMM_REQUIRE_WASM=1 makes this an error)`);
    return;
  }
  const cxx = found.cxx;
  const sysroot = process.env.WASI_SYSROOT ? [`--sysroot=${process.env.WASI_SYSROOT}`] : [];
  const objects = join(root, 'build-wasm');
  mkdirSync(objects, { recursive: true });
  const sources = [...coreSources(), ...wasmSources()];
  const outputs = [];
  for (const source of sources) {
    const object = join(objects, `${source.replace(/[/\\]/g, '_')}.o`);
    execFileSync(cxx, [...COMPILE, ...sysroot, '-c', source, '-o', object], { cwd: root, stdio: 'inherit' });
    outputs.push(object);
  }
  const out = join(root, 'wasm', 'cimm.wasm');
  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.tmp`;
  execFileSync(cxx, [...LINK, ...sysroot, ...outputs, '-o', partial], { cwd: root, stdio: 'inherit' });
  renameSync(partial, out);
  rmSync(objects, { recursive: true, force: true });
  const module = new WebAssembly.Module(readFileSync(out));
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  const foreign = imports.filter((name) => !name.startsWith('wasi_snapshot_preview1.'));
  if (foreign.length > 0) throw new Error(`build:wasm: the module imports ${foreign.join(', ')}`);
  say(`${sources.length} sources with ${cxx} → wasm/cimm.wasm (${(statSync(out).size / 1024).toFixed(0)} KiB)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
