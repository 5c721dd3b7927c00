/**
 * The `rust` backend: the napi-rs addon, prebuilt per platform in napi-rs's layout. The root
 * package holds no binary; each platform's binary is its own package, `cimm-<platform>`
 * (npm/<platform>/ in the repository), which the root lists in `optionalDependencies` at
 * release so that npm installs only the one matching `os`, `cpu` and `libc`.
 *
 * Load order (as napi-rs's generated loader, less its WASI fallback, which cimm does not
 * build): a local build `crate/cimm.<platform>.node` (a checkout after `npm run build:rust`),
 * then the package `cimm-<platform>`, whose version must equal cimm's. When nothing loads,
 * the error names the platform, each real cause, and fixes that work where cimm is
 * installed (sharp's pattern).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Kernels } from '../kernels.js';
import { isCheckout, packageRoot, packageVersion } from '../paths.js';
import { type NativeAddon, NativeLoadError, nativeKernels } from './native.js';

/** napi-rs platform names (`platformArchABI`) of the targets in package.json's `napi.targets`. */
export const RUST_TARGETS: Readonly<Record<string, string>> = {
  'linux-x64-gnu': 'x86_64-unknown-linux-gnu',
  'linux-arm64-gnu': 'aarch64-unknown-linux-gnu',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64-msvc': 'x86_64-pc-windows-msvc',
};

/** The oldest glibc the linux-gnu binaries run on (scripts/build-rust.mjs links against it). */
export const GLIBC_FLOOR = '2.17';

export interface HostPlatform {
  platform: string;
  arch: string;
  /** Linux only: true on musl (Alpine) or another libc than glibc. */
  musl?: boolean;
  /** Linux with glibc: its version, for messages (null when unknown). */
  glibc?: string | null;
}

function reportedGlibc(): string | null {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

/**
 * This process's platform. glibc or musl is read from /usr/bin/ldd as napi-rs's loader does
 * (process.report takes ~15 ms); the glibc version, only messages need, is read on demand.
 */
export function hostPlatform(): HostPlatform {
  if (process.platform !== 'linux') return { platform: process.platform, arch: process.arch };
  let musl: boolean;
  try {
    musl = readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    musl = reportedGlibc() === null;
  }
  let version: string | null | undefined;
  return {
    platform: 'linux',
    arch: process.arch,
    musl,
    get glibc() {
      if (musl) return null;
      if (version === undefined) version = reportedGlibc();
      return version;
    },
  };
}

/** The napi-rs platform name: linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc, … */
export function platformName(host: HostPlatform): string {
  if (host.platform === 'linux') return `linux-${host.arch}-${host.musl ? 'musl' : 'gnu'}`;
  if (host.platform === 'win32') return `win32-${host.arch}-msvc`;
  return `${host.platform}-${host.arch}`;
}

/** "linux-x64-gnu (glibc 2.36)": the platform as the messages print it. */
export function describePlatform(host: HostPlatform): string {
  const name = platformName(host);
  if (host.platform !== 'linux') return name;
  if (host.musl) return `${name} (musl or another libc than glibc)`;
  return host.glibc ? `${name} (glibc ${host.glibc})` : name;
}

export interface RustResolveOptions {
  host: HostPlatform;
  /** The cimm package root. */
  root: string;
  /** cimm's version: the platform package's must equal it. */
  version: string;
  /** True in a source checkout (crate/ present): fixes say `npm run …` instead of `npx cimm …`. */
  checkout: boolean;
  /** Loads a module (a path or a package name) resolved from cimm's own location. */
  load: (id: string) => unknown;
  exists: (path: string) => boolean;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e));
const notFound = (e: unknown, id: string) =>
  (e as { code?: string })?.code === 'MODULE_NOT_FOUND' && errorText(e).includes(`'${id}`);

function olderGlibc(a: string, b: string): boolean {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  }
  return false;
}

/**
 * Find and load the addon for `o.host`: returns it with the path it came from, or throws a
 * NativeLoadError whose causes and solutions fit the case (unsupported platform, package not
 * installed, version mismatch, a binary the system cannot load).
 */
export function resolveRustAddon(o: RustResolveOptions): { addon: NativeAddon; from: string } {
  const name = platformName(o.host);
  const where = describePlatform(o.host);
  const pkg = `cimm-${name}`;
  const buildFix = o.checkout
    ? 'build the Rust addon here: `npm run build:rust` (needs cargo)'
    : 'build the C++ backend from source: `npx cimm build-native` (needs cmake and a C++17 compiler), then it is used automatically';
  const jsFix = 'or use the pure-TypeScript backend: CIMM_BACKEND=js (same results, slower)';
  const causes: string[] = [];
  const solutions: string[] = [];

  const local = join(o.root, 'crate', `cimm.${name}.node`);
  if (o.exists(local)) {
    try {
      return { addon: o.load(local) as NativeAddon, from: local };
    } catch (e) {
      causes.push(`the local build ${local} does not load: ${errorText(e)}`);
    }
  }

  if (!(name in RUST_TARGETS)) {
    const musl = o.host.platform === 'linux' && o.host.musl;
    throw new NativeLoadError(
      `cimm has no prebuilt Rust binary for ${where}; prebuilt: ${Object.keys(RUST_TARGETS).join(', ')}` +
        (musl ? ' (the linux binaries need glibc)' : ''),
      causes,
      [buildFix, jsFix],
    );
  }

  let version: string | undefined;
  try {
    version = (o.load(`${pkg}/package.json`) as { version?: string }).version;
  } catch (e) {
    if (!notFound(e, pkg)) throw e;
    causes.push(
      `the platform package ${pkg} is not installed (npm leaves optional dependencies out with --omit=optional or --no-optional, ` +
        'and a lockfile written on another platform may lack it)',
    );
    if (!o.checkout) solutions.push(`install it: \`npm install ${pkg}@${o.version}\``);
  }
  if (version !== undefined && version !== o.version) {
    causes.push(`${pkg} is version ${version}, cimm is ${o.version}: the binary must come from the same release`);
    solutions.push(`install the matching binary: \`npm install ${pkg}@${o.version}\``);
  } else if (version !== undefined) {
    try {
      return { addon: o.load(pkg) as NativeAddon, from: pkg };
    } catch (e) {
      const glibc = o.host.glibc;
      const tooOld = Boolean(glibc && olderGlibc(glibc, GLIBC_FLOOR));
      causes.push(
        `${pkg} is installed but its binary does not load: ${errorText(e)}` +
          (tooOld ? ` (it needs glibc ≥ ${GLIBC_FLOOR}; this system has ${glibc})` : ''),
      );
      // a reinstall cannot help a system older than the binary's floor
      if (!tooOld) solutions.push(`reinstall it: \`npm install ${pkg}@${o.version}\``);
    }
  }
  solutions.push(buildFix, jsFix);
  throw new NativeLoadError(`the Rust addon for ${where} did not load`, causes, solutions);
}

/** Load the addon for this process; throws NativeLoadError (causes and fixes) when it cannot. */
export function loadRustKernels(): Kernels {
  const require = createRequire(import.meta.url);
  const { addon, from } = resolveRustAddon({
    host: hostPlatform(),
    root: packageRoot(),
    version: packageVersion(),
    checkout: isCheckout(),
    load: (id) => require(id),
    exists: existsSync,
  });
  return nativeKernels('rust', addon, from);
}
