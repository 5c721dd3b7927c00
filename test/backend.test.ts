/** Backend selection: priority order, CIMM_BACKEND, forced failures with their causes. */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';

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
    expect(message).toContain('possible solutions: run npm run build:rust');
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
    const { KERNEL_NAMES } = await import('../lib/kernels.js');
    const { jsKernels } = await import('../lib/backends/js/index.js');
    const methods = Object.keys(jsKernels).filter((k) => k !== 'name' && k !== 'describe');
    expect(methods.sort()).toEqual([...KERNEL_NAMES].sort());
  });

  test('a native addon missing a kernel is refused with the names of what is missing', async () => {
    const { nativeKernels } = await import('../lib/backends/native.js');
    const { KERNEL_NAMES } = await import('../lib/kernels.js');
    const stale = { localEnergy: () => {}, cpuFeatures: () => [], simdPath: () => 'scalar', threadCount: () => 1 };
    const missing = KERNEL_NAMES.filter((k) => k !== 'localEnergy').join(', ');
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
    const { KERNEL_NAMES } = await import('../lib/kernels.js');
    const addon = {
      ...Object.fromEntries(KERNEL_NAMES.map((k) => [k, fail])),
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
