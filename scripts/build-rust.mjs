#!/usr/bin/env node
/**
 * `npm run build:rust`: build the napi-rs addon into crate/cimm.<platform>.node (napi build
 * --platform --release; the loader in lib/backends/rust.ts finds it there in a checkout, and
 * the release copies it into npm/<platform>/, the per-platform package).
 *
 * On Linux x64 with glibc it links against glibc 2.17 instead of this machine's glibc, so the
 * binary runs on any glibc ≥ 2.17 (RHEL 7, Debian 8, Ubuntu 14.04 and later): the linker is
 * gcc from napi-rs's cross toolchain over a glibc 2.17 sysroot, the npm package
 * @napi-rs/cross-toolchain-x64-target-x86_64 (48 MB, extracted once into
 * node_modules/.cache/). The glibc floor is then checked with `objdump -T`: a binary that needs
 * more than 2.17 fails the build. `napi build --use-napi-cross` would do the same but does not
 * work here: @napi-rs/cross-toolchain 1.0.5 fetches target packages at 1.0.5, which are not
 * published (1.0.0 is the latest), and unpacks them with @napi-rs/lzma, which needs Node ≥ 22.20.
 *
 * `--target aarch64-unknown-linux-gnu` on the same host cross-builds linux-arm64-gnu the same way
 * (@napi-rs/cross-toolchain-x64-target-aarch64; `rustup target add aarch64-unknown-linux-gnu`
 * first; the release workflow's recipe, not run in this repository's CI).
 *
 * CIMM_RUST_TOOLCHAIN=host links with the host toolchain instead (the binary then needs this
 * machine's glibc). Other hosts and targets build with the host toolchain (macOS, Windows).
 * Extra arguments are passed to `napi build`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (text) => console.log(`build:rust: ${text}`);

/**
 * The cross toolchains for a Linux x64 host, by target: npm packages holding one .tar.xz each
 * (gcc, binutils, a glibc 2.17 sysroot). The versions are the latest published per package.
 */
const TOOLCHAINS = {
  'x86_64-unknown-linux-gnu': {
    name: '@napi-rs/cross-toolchain-x64-target-x86_64',
    version: '1.0.0',
    platform: 'linux-x64-gnu',
  },
  'aarch64-unknown-linux-gnu': {
    name: '@napi-rs/cross-toolchain-x64-target-aarch64',
    version: '1.0.3',
    platform: 'linux-arm64-gnu',
  },
};
export const GLIBC_FLOOR = '2.17';

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`build:rust: ${command} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function isGlibcLinuxX64() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  return Boolean(process.report?.getReport?.().header?.glibcVersionRuntime);
}

/** Fetch and unpack a target's toolchain once; returns its directory. */
function crossToolchain(triple) {
  const tc = TOOLCHAINS[triple];
  const dir = join(root, 'node_modules', '.cache', 'cimm', `cross-toolchain-${triple}-${tc.version}`);
  if (existsSync(join(dir, 'bin', `${triple}-gcc`))) return dir;
  const t0 = Date.now();
  say(`fetching ${tc.name}@${tc.version} from npm (~50 MB, once) into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const npm = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npm', process.platform === 'win32' ? ['--shell'] : []];
  run(npm[0], [...npm[1], 'pack', `${tc.name}@${tc.version}`, '--silent', '--pack-destination', staging]);
  const tgz = readdirSync(staging).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack ${tc.name} left no tarball in ${staging}`);
  run('tar', ['xzf', join(staging, tgz), '-C', staging]);
  mkdirSync(join(staging, 'toolchain'));
  // needs xz (Debian: xz-utils); @napi-rs/cli unpacks with @napi-rs/lzma, which needs Node ≥ 22.20
  run('tar', ['xJf', join(staging, 'package', `${triple}.tar.xz`), '-C', join(staging, 'toolchain')]);
  renameSync(join(staging, 'toolchain'), dir);
  rmSync(staging, { recursive: true, force: true });
  say(`toolchain ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

/** The highest GLIBC_x.y symbol version a shared object needs (objdump -T), or null without objdump. */
export function glibcFloor(file, objdump = 'objdump') {
  let text;
  try {
    text = execFileSync(objdump, ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch {
    return null;
  }
  const versions = [...text.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [+m[1], +m[2], +(m[3] ?? 0)]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const top = versions.at(-1);
  return top ? top.slice(0, top[2] ? 3 : 2).join('.') : '0';
}

const newer = (a, b) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
};

function main() {
  const extra = process.argv.slice(2);
  const napi = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
  const args = [
    napi,
    'build',
    '--manifest-path',
    'crate/Cargo.toml',
    '--platform',
    '--release',
    '--features',
    'node',
    '--output-dir',
    'crate',
    '--no-js',
    '--dts',
    'index.d.cts',
  ];
  const env = { ...process.env };
  const at = extra.findIndex((a) => a === '--target' || a === '-t' || a.startsWith('--target='));
  const target =
    at < 0 ? 'x86_64-unknown-linux-gnu' : extra[at].includes('=') ? extra[at].split('=')[1] : extra[at + 1];
  const portable = process.env.CIMM_RUST_TOOLCHAIN !== 'host' && target in TOOLCHAINS && isGlibcLinuxX64();
  let tc;
  if (portable) {
    tc = crossToolchain(target);
    const upper = target.toUpperCase().replaceAll('-', '_');
    const lower = target.replaceAll('-', '_');
    env[`CARGO_TARGET_${upper}_LINKER`] = join(tc, 'bin', `${target}-gcc`);
    env[`CC_${lower}`] = join(tc, 'bin', `${target}-gcc`);
    env[`AR_${lower}`] = join(tc, 'bin', `${target}-ar`);
    if (at < 0) args.push('--target', target);
    say(`linking against glibc ${GLIBC_FLOOR} with ${env[`CARGO_TARGET_${upper}_LINKER`]}`);
  }
  run(process.execPath, [...args, ...extra], { env });
  if (portable) {
    const file = join(root, 'crate', `cimm.${TOOLCHAINS[target].platform}.node`);
    const floor = glibcFloor(file, join(tc, 'bin', `${target}-objdump`)) ?? glibcFloor(file);
    if (floor === null) say('objdump not found: the glibc floor is not checked');
    else if (newer(floor, GLIBC_FLOOR)) {
      console.error(`build:rust: ${file} needs GLIBC_${floor}, more than the ${GLIBC_FLOOR} it must run on`);
      process.exit(1);
    } else say(`${file}: needs glibc ≤ ${floor} (objdump -T), within the ${GLIBC_FLOOR} floor`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
