/**
 * `cimm build-native`: build the C++ backend (native/, CMakeLists.txt) from source where cimm
 * is installed, into build/Release/cimm_cpp.node, which cimm then loads when the prebuilt Rust
 * binary does not (or with CIMM_BACKEND=cpp). It is the explicit replacement of an install
 * script: nothing builds at `npm install`.
 *
 * Needs cmake ≥ 3.15 and a C++17 compiler on PATH. The build tools (cmake-js, node-addon-api,
 * node-api-headers, at the versions of cimm's package.json) come from the checkout's
 * devDependencies when they resolve, otherwise npm installs them into build-tools/ inside the
 * package for this build only: consumers who never build install none of them. cmake-js builds
 * offline against node-api-headers (`binary.napi_versions`), downloading no Node headers.
 * Every step prints what it runs; the tools' output is shown as it comes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cppAddonPath } from '../backends/cpp.js';
import { type NativeAddon, nativeKernels } from '../backends/native.js';
import { packageRoot } from '../paths.js';

/** The packages cmake-js needs; their versions are cimm's devDependencies. */
export const BUILD_TOOLS = ['cmake-js', 'node-addon-api', 'node-api-headers'] as const;

/** An operational failure of the build: printed as one line, exit 1. */
export class BuildNativeError extends Error {}

const say = (text: string) => process.stderr.write(`cimm build-native: ${text}\n`);

/** The first line of `command --version`, or null when it does not run. */
function versionOf(command: string): string | null {
  const r = spawnSync(command, ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  return r.status === 0 ? (r.stdout.split('\n')[0]?.trim() ?? '') : null;
}

/** Run a command with its output shown; throws BuildNativeError when it fails. */
function run(command: string, args: string[], what: string, cwd: string): void {
  say(`${what}: ${[command, ...args].join(' ')}`);
  const r = spawnSync(command, args, {
    stdio: 'inherit',
    cwd,
    shell: process.platform === 'win32' && command === 'npm',
  });
  if (r.error) throw new BuildNativeError(`${what} failed: ${r.error.message}`);
  if (r.status !== 0) throw new BuildNativeError(`${what} failed (exit ${r.status ?? r.signal}); its output is above`);
}

/** Where cmake-js and node-addon-api resolve from `from`, or null when one does not. */
function resolveTools(from: string): { cmakeJs: string; addonApi: string } | null {
  const require = createRequire(join(from, 'package.json'));
  try {
    return {
      cmakeJs: join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js'),
      addonApi: dirname(require.resolve('node-addon-api/package.json')),
    };
  } catch {
    return null;
  }
}

/** npm as a command: the npm running this (npx) when known, else `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  if (cli && /npm-cli\.js$/.test(cli)) return [process.execPath, [cli]];
  return ['npm', []];
}

function installTools(root: string): { cmakeJs: string; addonApi: string } {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const specs = BUILD_TOOLS.map((name) => {
    const version = manifest.devDependencies?.[name];
    if (!version) throw new BuildNativeError(`package.json names no version of ${name}`);
    return `${name}@${version}`;
  });
  const dir = join(root, 'build-tools');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "description": "cimm build-native tools" }\n');
  const [npm, pre] = npmCommand();
  run(
    npm,
    [...pre, 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', dir, ...specs],
    `installing the build tools (${specs.join(', ')}) into ${dir}`,
    dir,
  );
  const tools = resolveTools(dir);
  if (!tools) throw new BuildNativeError(`npm installed the build tools but they do not resolve from ${dir}`);
  return tools;
}

/** Build the C++ addon; returns the path of the addon, which loads. Throws BuildNativeError. */
export function buildNative(): string {
  const root = packageRoot();
  if (!existsSync(join(root, 'CMakeLists.txt')) || !existsSync(join(root, 'native', 'src'))) {
    throw new BuildNativeError(`${root} has no CMakeLists.txt or native/src: nothing to build`);
  }
  const cmake = versionOf('cmake');
  if (cmake === null) {
    throw new BuildNativeError(
      'cmake is not on PATH: install cmake ≥ 3.15 (Debian/Ubuntu: apt-get install cmake g++; macOS: brew install cmake) and retry',
    );
  }
  const compilers = process.platform === 'win32' ? [] : [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  const compiler = compilers.map((c) => versionOf(c as string)).find((v) => v !== null);
  if (process.platform !== 'win32' && !compiler) {
    throw new BuildNativeError(
      'no C++ compiler on PATH (tried $CXX, c++, g++, clang++): install a C++17 compiler (Debian/Ubuntu: apt-get install g++) and retry',
    );
  }
  say(`${cmake}; ${compiler ?? 'the MSVC toolchain cmake finds'}`);

  let tools = resolveTools(root);
  if (tools) say(`using cmake-js and node-addon-api from ${dirname(dirname(tools.addonApi))}`);
  else tools = installTools(root);

  const out = join(root, 'build');
  run(
    process.execPath,
    [
      tools.cmakeJs,
      'build',
      '--directory',
      root,
      '--out',
      out,
      '--log-level',
      'info',
      `--CDCIMM_NODE_ADDON_API_DIR=${tools.addonApi}`,
    ],
    `building the C++ addon with cmake-js into ${out}`,
    root,
  );

  const addon = process.env.CIMM_CPP_ADDON ? join(out, 'Release', 'cimm_cpp.node') : cppAddonPath();
  let loaded: NativeAddon;
  try {
    loaded = createRequire(import.meta.url)(addon) as NativeAddon;
  } catch (e) {
    throw new BuildNativeError(`built ${addon}, but it does not load: ${(e as Error).message.split('\n')[0]}`);
  }
  const info = nativeKernels('cpp', loaded, addon).describe();
  say(
    `built ${addon} (SIMD path ${info.simdPath}, ${info.threads} threads). cimm uses it when the prebuilt ` +
      'Rust binary does not load; CIMM_BACKEND=cpp forces it.',
  );
  return addon;
}
