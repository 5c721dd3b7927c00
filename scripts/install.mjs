#!/usr/bin/env node
/**
 * `npm install` hook: build the C++ backend (build/Release/cimm_cpp.node) from source when
 * cmake, a C++ compiler and cmake-js are present. It never fails the install: when it cannot
 * build, it prints one line saying why and exits 0 (cimm then uses the rust or js backend).
 * It is skipped when the Rust addon already loads (set CIMM_BUILD_CPP=1 to build anyway), and
 * with CIMM_SKIP_NATIVE_BUILD=1. The build log goes to build/cimm-install.log.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const note = (text) => console.log(`cimm: ${text}`);

/** True when `command --version` runs. */
function runs(command) {
  const r = spawnSync(command, ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' });
  return r.status === 0;
}

/** True when the Rust addon (prebuilt or built here) loads on this platform. */
function rustLoads() {
  try {
    createRequire(import.meta.url)(join(root, 'crate', 'index.cjs'));
    return true;
  } catch {
    return false;
  }
}

function main() {
  if (process.env.CIMM_SKIP_NATIVE_BUILD === '1') {
    note('CIMM_SKIP_NATIVE_BUILD=1: not building the C++ backend');
    return;
  }
  // The build-from-source tier is for platforms with no prebuilt Rust binary.
  if (process.env.CIMM_BUILD_CPP !== '1' && rustLoads()) {
    note('the prebuilt Rust backend loads: not building the C++ backend (npm run build:cpp builds it anyway)');
    return;
  }
  if (!runs('cmake')) {
    note('cmake not found: not building the C++ backend (the js backend works without it)');
    return;
  }
  if (process.platform !== 'win32') {
    const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
    if (!compilers.some(runs)) {
      note('no C++ compiler found: not building the C++ backend (the js backend works without it)');
      return;
    }
  }
  let cmakeJs;
  try {
    cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  } catch {
    note('cmake-js is not installed: not building the C++ backend (npm run build:cpp builds it later)');
    return;
  }
  const build = spawnSync(
    process.execPath,
    [cmakeJs, 'build', '--log-level', 'warn', '--directory', root, '--out', join(root, 'build')],
    { cwd: root, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const log = join(root, 'build', 'cimm-install.log');
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, `${build.stdout ?? ''}${build.stderr ?? ''}${build.error ? String(build.error) : ''}\n`);
  const addon = join(root, 'build', 'Release', 'cimm_cpp.node');
  if (build.status !== 0) {
    note(`the C++ backend did not build (see ${relative(process.cwd(), log) || log}); using the other backends`);
    return;
  }
  try {
    createRequire(import.meta.url)(addon);
  } catch (error) {
    note(`the C++ backend built but does not load (${String(error).split('\n')[0]}); using the other backends`);
    return;
  }
  note(`built the C++ backend (${relative(root, addon)})`);
}

try {
  main();
} catch (error) {
  note(`skipped the C++ backend build: ${String(error).split('\n')[0]}`);
}
process.exit(0);
