/** Backend selection: priority order, CIMM_BACKEND, forced failures with their causes. */
import { afterEach, beforeEach, describe, expect, onTestFinished, test, vi } from 'vitest';

type Lib = typeof import('../lib/index.js');

async function freshLib(env?: string): Promise<Lib> {
  vi.resetModules();
  if (env === undefined) delete process.env.CIMM_BACKEND;
  else process.env.CIMM_BACKEND = env;
  return import('../lib/index.js');
}

describe('backend selection', () => {
  const saved = process.env.CIMM_BACKEND;
  beforeEach(() => {
    delete process.env.CIMM_BACKEND;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.CIMM_BACKEND;
    else process.env.CIMM_BACKEND = saved;
  });

  test('without CIMM_BACKEND the highest-priority available backend is active', async () => {
    const lib = await freshLib();
    const available = lib.availableBackends();
    expect(available.at(-1)).toBe('js');
    expect(lib.kernels().name).toBe(available[0]);
    const info = lib.backendInfo();
    expect(info.name).toBe(available[0]);
    expect(info.forced).toBe(false);
    expect(info.backends.map((b) => b.name)).toEqual(['rust', 'cpp', 'js']);
    for (const b of info.backends) expect(b.available).toBe(available.includes(b.name));
  });

  test('CIMM_BACKEND=js forces the reference backend', async () => {
    const lib = await freshLib('js');
    expect(lib.kernels().name).toBe('js');
    expect(lib.backendInfo()).toMatchObject({ name: 'js', forced: true, simdPath: 'none' });
  });

  test('an unknown CIMM_BACKEND is an argument error', async () => {
    const lib = await freshLib('gpu');
    expect(() => lib.kernels()).toThrow('Expected one of "rust", "cpp", "js" for CIMM_BACKEND but received "gpu"');
  });

  test('a forced backend that cannot load throws with its cause and remedies, never falls back', async () => {
    const lib = await freshLib('rust');
    lib.registerBackend({
      name: 'rust',
      priority: 3,
      load: () => {
        throw new Error('outer failure', { cause: new Error('no such file: cimm.linux-x64-gnu.node') });
      },
      remedy: 'run npm run build:rust',
    });
    let error: unknown;
    try {
      lib.kernels();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(lib.CimmBackendError);
    const message = (error as Error).message;
    expect(message).toContain('the rust backend was requested (CIMM_BACKEND=rust) but could not be loaded');
    expect(message).toContain('cause: outer failure');
    expect(message).toContain('caused by: no such file: cimm.linux-x64-gnu.node');
    expect(message).toMatch(/possible solutions:\n {4}- run npm run build:rust\n {4}- or unset CIMM_BACKEND/);
    expect(() => lib.setBackend('rust')).toThrow("requested (setBackend('rust'))");
  });

  test('an unavailable backend is skipped silently when nothing is forced', async () => {
    const lib = await freshLib();
    lib.registerBackend({
      name: 'rust',
      priority: 3,
      load: () => {
        throw new Error('missing');
      },
      remedy: '',
    });
    expect(lib.kernels().name).not.toBe('rust');
    expect(lib.backendInfo().backends.find((b) => b.name === 'rust')).toEqual({
      name: 'rust',
      available: false,
      error: 'missing',
    });
  });

  test('backendInfo reports the SIMD path and CPU features of a native backend', async () => {
    const lib = await freshLib();
    const info = lib.backendInfo();
    if (info.name === 'js') {
      expect(info.simdPath).toBe('none');
    } else {
      expect(['avx2+fma', 'scalar', 'neon']).toContain(info.simdPath);
      expect(Array.isArray(info.cpuFeatures)).toBe(true);
      expect(info.threads).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('kernel registry', () => {
  test('the js backend implements exactly the listed kernels', async () => {
    const { ASYNC_KERNEL_NAMES, KERNEL_NAMES } = await import('../lib/kernels.js');
    const { jsKernels } = await import('../lib/backends/js/index.js');
    const methods = Object.keys(jsKernels).filter((k) => k !== 'name' && k !== 'describe');
    expect(methods.sort()).toEqual([...KERNEL_NAMES, ...ASYNC_KERNEL_NAMES].sort());
  });

  test('a native addon missing a kernel is refused with the names of what is missing', async () => {
    const { nativeKernels } = await import('../lib/backends/native.js');
    const { ASYNC_KERNEL_NAMES, KERNEL_NAMES } = await import('../lib/kernels.js');
    const stale = { localEnergy: () => {}, cpuFeatures: () => [], simdPath: () => 'scalar', threadCount: () => 1 };
    const missing = [...KERNEL_NAMES.filter((k) => k !== 'localEnergy'), ...ASYNC_KERNEL_NAMES, 'AbortFlag'].join(', ');
    expect(missing.startsWith('nonlocalEnergy, distance')).toBe(true);
    expect(() => nativeKernels('cpp', stale as never, '/tmp/old.node')).toThrow(
      `the cpp addon at /tmp/old.node lacks ${missing}: it is out of date, rebuild it`,
    );
  });

  test('native argument errors become CimmArgumentError naming the parameter', async () => {
    const { nativeKernels } = await import('../lib/backends/native.js');
    const { CimmArgumentError } = await import('../lib/errors.js');
    const fail = () => {
      throw Object.assign(new Error('Expected a Float64Array of length 3 for out but received Float64Array(2)'), {
        code: 'InvalidArg',
      });
    };
    const { ASYNC_KERNEL_NAMES, KERNEL_NAMES } = await import('../lib/kernels.js');
    const addon = {
      ...Object.fromEntries([...KERNEL_NAMES, ...ASYNC_KERNEL_NAMES, 'AbortFlag'].map((k) => [k, fail])),
      cpuFeatures: () => [],
      simdPath: () => 'scalar',
      threadCount: () => 1,
    };
    const k = nativeKernels('rust', addon as never, 'x');
    let error: unknown;
    try {
      k.localEnergy(new Float64Array(3), 1, new Float64Array(2));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CimmArgumentError);
    expect((error as InstanceType<typeof CimmArgumentError>).parameter).toBe('out');
  });
});

describe('the rust loader (napi-rs layout: crate/ build, then the cimm-<platform> package)', () => {
  type Options = Parameters<typeof import('../lib/backends/rust.js').resolveRustAddon>[0];
  const addon = { localEnergy: () => 0 };
  const missing = (id: string) =>
    Object.assign(new Error(`Cannot find module '${id}'\nRequire stack: …`), { code: 'MODULE_NOT_FOUND' });
  const options = (over: Partial<Options> = {}): Options => ({
    host: { platform: 'linux', arch: 'x64', musl: false, glibc: '2.36' },
    root: '/pkg',
    version: '0.1.0',
    checkout: false,
    exists: () => false,
    load: (id) => {
      if (id === 'cimm-linux-x64-gnu') return addon;
      if (id === 'cimm-linux-x64-gnu/package.json') return { version: '0.1.0' };
      throw missing(id);
    },
    ...over,
  });
  async function failure(over: Partial<Options>) {
    const { resolveRustAddon } = await import('../lib/backends/rust.js');
    const { NativeLoadError } = await import('../lib/backends/native.js');
    try {
      resolveRustAddon(options(over));
    } catch (e) {
      expect(e).toBeInstanceOf(NativeLoadError);
      return e as InstanceType<typeof NativeLoadError>;
    }
    throw new Error('resolveRustAddon did not throw');
  }

  test('the table of platforms matches package.json napi.targets and the npm/<platform> packages', async () => {
    const { RUST_TARGETS } = await import('../lib/backends/rust.js');
    const { readFileSync } = await import('node:fs');
    const root = new URL('..', import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
    expect(Object.values(RUST_TARGETS)).toEqual(pkg.napi.targets);
    for (const [name, triple] of Object.entries(RUST_TARGETS)) {
      const sub = JSON.parse(readFileSync(new URL(`npm/${name}/package.json`, root), 'utf8'));
      expect(sub).toMatchObject({ name: `cimm-${name}`, version: pkg.version, main: `cimm.${name}.node` });
      expect(sub.os).toEqual([{ linux: 'linux', darwin: 'darwin', win32: 'win32' }[name.split('-')[0]]]);
      expect(triple).toContain({ x64: 'x86_64', arm64: 'aarch64' }[name.split('-')[1]] as string);
      if (name.endsWith('-gnu')) expect(sub.libc).toEqual(['glibc']);
    }
    // the release writes optionalDependencies (napi pre-publish); the checkout lists none
    expect(pkg.optionalDependencies).toBeUndefined();
  });

  test('loads the platform package, or a local build first', async () => {
    const { resolveRustAddon } = await import('../lib/backends/rust.js');
    expect(resolveRustAddon(options())).toEqual({ addon, from: 'cimm-linux-x64-gnu' });
    const local = { local: true };
    const r = resolveRustAddon(
      options({
        exists: (p) => p === '/pkg/crate/cimm.linux-x64-gnu.node',
        load: (id) => (id.startsWith('/pkg/') ? local : addon),
      }),
    );
    expect(r).toEqual({ addon: local, from: '/pkg/crate/cimm.linux-x64-gnu.node' });
  });

  test('a missing platform package: says so, and the fix installs it', async () => {
    const e = await failure({
      load: (id) => {
        throw missing(id);
      },
    });
    expect(e.message).toBe('the Rust addon for linux-x64-gnu (glibc 2.36) did not load');
    expect(e.causes[0]).toMatch(
      /^the platform package cimm-linux-x64-gnu is not installed \(npm leaves optional dependencies out with --omit=optional/,
    );
    expect(e.solutions[0]).toBe('install it: `npm install cimm-linux-x64-gnu@0.1.0`');
    expect(e.solutions.join('\n')).toContain('npx cimm build-native');
    expect(e.solutions.join('\n')).not.toContain('npm run');
    expect(e.message + e.causes.join('')).not.toMatch(/wasi|npm\/cli\/issues\/4828/);
  });

  test('in a checkout the fix is npm run build:rust', async () => {
    const e = await failure({
      checkout: true,
      load: (id) => {
        throw missing(id);
      },
    });
    expect(e.solutions[0]).toBe('build the Rust addon here: `npm run build:rust` (needs cargo)');
  });

  test('an unsupported platform lists the prebuilt ones and the source build', async () => {
    const e = await failure({ host: { platform: 'linux', arch: 'x64', musl: true } });
    expect(e.message).toBe(
      'cimm has no prebuilt Rust binary for linux-x64-musl (musl or another libc than glibc); prebuilt: linux-x64-gnu, linux-arm64-gnu, darwin-x64, darwin-arm64, win32-x64-msvc (the linux binaries need glibc)',
    );
    expect(e.solutions[0]).toMatch(/^build the C\+\+ backend from source: `npx cimm build-native`/);
    const bsd = await failure({ host: { platform: 'freebsd', arch: 'x64' } });
    expect(bsd.message).toMatch(/^cimm has no prebuilt Rust binary for freebsd-x64; prebuilt: /);
  });

  test('a version mismatch and a binary that does not load name the real cause', async () => {
    const old = await failure({
      load: (id) => (id.endsWith('package.json') ? { version: '0.0.9' } : addon),
    });
    expect(old.causes[0]).toBe(
      'cimm-linux-x64-gnu is version 0.0.9, cimm is 0.1.0: the binary must come from the same release',
    );
    expect(old.solutions[0]).toBe('install the matching binary: `npm install cimm-linux-x64-gnu@0.1.0`');
    const dl = await failure({
      host: { platform: 'linux', arch: 'x64', musl: false, glibc: '2.12' },
      load: (id) => {
        if (id.endsWith('package.json')) return { version: '0.1.0' };
        throw new Error("/lib64/libc.so.6: version `GLIBC_2.14' not found");
      },
    });
    expect(dl.causes[0]).toBe(
      "cimm-linux-x64-gnu is installed but its binary does not load: /lib64/libc.so.6: version `GLIBC_2.14' not found (it needs glibc ≥ 2.17; this system has 2.12)",
    );
    expect(dl.solutions[0]).toMatch(/^build the C\+\+ backend from source: `npx cimm build-native`/);
    const broken = await failure({
      load: (id) => {
        if (id.endsWith('package.json')) return { version: '0.1.0' };
        throw new Error('cimm.linux-x64-gnu.node: invalid ELF header');
      },
    });
    expect(broken.causes[0]).toBe(
      'cimm-linux-x64-gnu is installed but its binary does not load: cimm.linux-x64-gnu.node: invalid ELF header',
    );
    expect(broken.solutions[0]).toBe('reinstall it: `npm install cimm-linux-x64-gnu@0.1.0`');
  });

  test('a forced backend prints the platform, the causes and the fixes', async () => {
    const saved = process.env.CIMM_BACKEND;
    onTestFinished(() => {
      if (saved === undefined) delete process.env.CIMM_BACKEND;
      else process.env.CIMM_BACKEND = saved;
    });
    const lib = await freshLib('rust');
    const { NativeLoadError } = await import('../lib/backends/native.js');
    lib.registerBackend({
      name: 'rust',
      priority: 3,
      load: () => {
        throw new NativeLoadError(
          'the Rust addon for x did not load',
          ['first cause', 'second cause'],
          ['fix one', 'fix two'],
        );
      },
      remedy: 'unused',
    });
    const message = (() => {
      try {
        lib.kernels();
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toMatch(
      /could not be loaded on (linux-\w+-(gnu \(glibc [\d.]+\)|musl)|darwin-\w+|win32-\w+-msvc), Node /,
    );
    expect(message).toContain(
      '  cause: the Rust addon for x did not load\n    caused by: first cause\n    caused by: second cause\n' +
        '  possible solutions:\n    - fix one\n    - fix two\n    - or unset CIMM_BACKEND',
    );
    expect(message).not.toContain('unused');
  });
});

describe('the cpp loader', () => {
  test('an unbuilt addon says how to build it', async () => {
    const saved = process.env.CIMM_CPP_ADDON;
    process.env.CIMM_CPP_ADDON = '/nonexistent/cimm_cpp.node';
    try {
      const { loadCppKernels } = await import('../lib/backends/cpp.js');
      expect(() => loadCppKernels()).toThrow(
        'the C++ addon is not built: CIMM_CPP_ADDON=/nonexistent/cimm_cpp.node does not exist',
      );
      try {
        loadCppKernels();
      } catch (e) {
        // a checkout: the npm script; an installed package: npx cimm build-native
        expect((e as { solutions: string[] }).solutions[0]).toBe(
          'build it: `npm run build:cpp` (needs cmake and a C++17 compiler)',
        );
      }
    } finally {
      if (saved === undefined) delete process.env.CIMM_CPP_ADDON;
      else process.env.CIMM_CPP_ADDON = saved;
    }
  });
});
