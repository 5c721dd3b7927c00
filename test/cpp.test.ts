/**
 * The cpp backend beyond the shared kernel suite: selection by CIMM_BACKEND, native length
 * checks mapped to CimmArgumentError, results independent of CIMM_THREADS, the scalar path
 * (CIMM_SIMD=scalar) against the reference, and loading in worker threads. Skipped (by name, with the reason printed in helpers.ts) when the addon is
 * not built.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { cppAddonPath } from '../lib/backends/cpp.js';
import { CPP_ADDON_EXPORTS } from '../lib/backends/cpp-addon.js';
import { CimmArgumentError } from '../lib/errors.js';
import { primeTable } from '../lib/primes.js';
import { backends, reference, relativeError } from './helpers.js';

const cpp = backends.find((b) => b.name === 'cpp')?.kernels;

describe.skipIf(!cpp)('cpp backend', () => {
  const kernels = cpp!;
  const saved = process.env.CIMM_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.CIMM_BACKEND;
    else process.env.CIMM_BACKEND = saved;
  });

  test('CIMM_BACKEND=cpp selects it and backendInfo describes it', async () => {
    vi.resetModules();
    process.env.CIMM_BACKEND = 'cpp';
    const lib = await import('../lib/index.js');
    const info = lib.backendInfo();
    expect(info).toMatchObject({ name: 'cpp', forced: true });
    expect(['avx2+fma', 'scalar']).toContain(info.simdPath);
    if (info.simdPath === 'avx2+fma') expect(info.cpuFeatures).toEqual(expect.arrayContaining(['avx2', 'fma']));
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  test('the addon exports exactly the functions its declared interface lists (lib/backends/cpp-addon.ts)', () => {
    const addon = createRequire(import.meta.url)(cppAddonPath()) as Record<string, unknown>;
    expect(Object.keys(addon).sort()).toEqual([...CPP_ADDON_EXPORTS].sort());
    for (const name of CPP_ADDON_EXPORTS) expect(typeof addon[name], name).toBe('function');
  });

  test('native argument checks name the parameter, as CimmArgumentError', () => {
    const f32 = (n: number) => new Float32Array(n);
    const cases: [string, () => unknown, string][] = [
      ['out', () => kernels.localEnergy(new Float64Array(3), 2, new Float64Array(2)), 'a Float64Array of length 3'],
      ['primeCount', () => kernels.localEnergy(new Float64Array(1), 1_000_001, new Float64Array(1)), 'an integer'],
      ['primeCount', () => kernels.localEnergy(new Float64Array(1), 2.5, new Float64Array(1)), 'an integer'],
      ['r', () => kernels.localEnergy(f32(1) as unknown as Float64Array, 2, new Float64Array(1)), 'a Float64Array'],
      [
        'x',
        () => kernels.nonlocalEnergy(f32(0), f32(0), f32(3), { lengthScale: 1, softening: 0.1 }),
        'a non-empty Float32Array',
      ],
      [
        'y',
        () => kernels.nonlocalEnergy(f32(2), f32(3), f32(4), { lengthScale: 1, softening: 0.1 }),
        'a Float32Array of length 2',
      ],
      [
        'points',
        () => kernels.nonlocalEnergy(f32(2), f32(2), f32(3), { lengthScale: 1, softening: 0.1 }),
        'a Float32Array of M×2 values',
      ],
      [
        'points',
        () => kernels.nonlocalEnergy(f32(2), f32(2), f32(0), { lengthScale: 1, softening: 0.1 }),
        'a Float32Array of M×2 values',
      ],
      [
        'params.lengthScale',
        () => kernels.nonlocalEnergy(f32(2), f32(2), f32(2), { lengthScale: '1' as unknown as number, softening: 0.1 }),
        'a number',
      ],
      ['y', () => kernels.distance(f32(2), f32(1)), 'a Float32Array of length 2'],
      // options and params fields are named options.<field> / params.<field>
      ['options.learningRate', () => kernels.sgdStep(f32(2), f32(2), f32(2), {} as never), 'a number'],
      [
        'options.decay',
        () => kernels.prodigyUpdate(f32(2), f32(2), f32(2), { stepSize: 1, epsilon: 1e-8 } as never),
        'a number',
      ],
      [
        'params.m',
        () =>
          kernels.matmul(
            { transA: false, transB: false, m: -1, n: 1, k: 1, alpha: 1, beta: 0 },
            f32(0),
            f32(1),
            f32(0),
          ),
        'an integer >= 0',
      ],
      [
        'params.alpha',
        () =>
          kernels.coupling(new Float64Array(1), { beta: 1, gamma: 1, lambdaCosmo: 0 } as never, new Float64Array(1)),
        'a number',
      ],
      [
        'params.epsilon',
        () =>
          kernels.updateEnergy(
            f32(1),
            f32(1),
            f32(1),
            f32(0),
            { metricScale: 1, epsilon: 'x' } as never,
            new Float64Array(3),
          ),
        'a number',
      ],
      [
        'params.h',
        () => kernels.laplacian(new Float64Array(1), 1, 1, { h: 0, boundary: 'periodic' }, new Float64Array(1)),
        'a finite number > 0',
      ],
      [
        'params.boundary',
        () => kernels.laplacian(new Float64Array(1), 1, 1, { h: 1, boundary: 'open' as never }, new Float64Array(1)),
        'one of "periodic", "zeroFlux"',
      ],
    ];
    for (const [parameter, call, expected] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error, parameter).toBeInstanceOf(CimmArgumentError);
      expect((error as CimmArgumentError).parameter).toBe(parameter);
      expect((error as Error).message.startsWith(`Expected ${expected}`), parameter).toBe(true);
      expect((error as Error).message).toContain(` for ${parameter} but received `);
      // a field of the wrong kind is found by the JS side's reader before the call
      // (lib/backends/boundary.ts); anything else by the addon, whose TypeError is the cause
      const readInJs = parameter.includes('.') && (expected === 'a number' || expected.startsWith('one of'));
      if (readInJs) expect((error as Error).cause, parameter).toBeUndefined();
      else expect((error as Error).cause, parameter).toBeInstanceOf(TypeError);
    }
  });

  test('results do not depend on CIMM_THREADS (bit for bit)', () => {
    // Large enough calls to take the thread pool (r.len·N >= 2^18, M·d >= 2^17).
    const script = `
      const addon = require(${JSON.stringify(cppAddonPath())});
      const r = Float64Array.from({ length: 5003 }, (_, i) => i * 0.37 - 900);
      const out = new Float64Array(r.length);
      addon.localEnergy(r, 500, out);
      let s = 1;
      const f = (n) => Float32Array.from({ length: n }, () => ((s = (s * 69069 + 1) >>> 0) / 2 ** 32) * 2 - 1);
      const d = 300, x = f(d), y = f(d), z = f(1000 * d);
      const e = addon.nonlocalEnergy(x, y, z, 12, 1e-3);
      process.stdout.write(JSON.stringify({ threads: addon.threadCount(), local: Buffer.from(out.buffer).toString('base64'), e }));
    `;
    const run = (threads: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', script], { env: { ...process.env, CIMM_THREADS: threads } }).toString(),
      );
    const one = run('1');
    const three = run('3');
    expect(one.threads).toBe(1);
    expect(three.threads).toBe(3);
    expect(three.local).toBe(one.local);
    expect(Object.is(three.e, one.e)).toBe(true);
  });

  test('the scalar path (CIMM_SIMD=scalar) agrees with the js reference', () => {
    const script = `
      const addon = require(${JSON.stringify(cppAddonPath())});
      const r = Float64Array.from(JSON.parse(process.argv[1]));
      const out = new Float64Array(r.length);
      addon.localEnergy(r, 300, out);
      const x = new Float32Array([0.5, -1, 2, 0.25, 3]), y = new Float32Array([1, 1, -1, 0, 0.5]);
      const z = Float32Array.from({ length: 5 * 77 }, (_, i) => Math.sin(i));
      const e = addon.nonlocalEnergy(x, y, z, 1.5, 0.01);
      process.stdout.write(JSON.stringify({ simd: addon.simdPath(), out: [...out], e, dist: addon.distance(x, y) }));
    `;
    const r = Array.from({ length: 23 }, (_, i) => i * 13.7 - 150);
    const got = JSON.parse(
      execFileSync(process.execPath, ['-e', script, JSON.stringify(r)], {
        env: { ...process.env, CIMM_SIMD: 'scalar' },
      }).toString(),
    );
    expect(got.simd).toBe('scalar');
    const want = new Float64Array(r.length);
    reference.localEnergy(Float64Array.from(r), 300, want);
    const p = primeTable(300);
    for (let i = 0; i < r.length; i++) {
      let scale = 0;
      for (let k = 0; k < 300; k++) scale += 1 / (r[i] * r[i] + p[k] * p[k]);
      expect(Math.abs(got.out[i] - want[i])).toBeLessThanOrEqual(1e-14 * (1 + Math.abs(r[i])) * scale);
    }
    const x = new Float32Array([0.5, -1, 2, 0.25, 3]);
    const y = new Float32Array([1, 1, -1, 0, 0.5]);
    const z = Float32Array.from({ length: 5 * 77 }, (_, i) => Math.sin(i));
    expect(relativeError(got.e, reference.nonlocalEnergy(x, y, z, { lengthScale: 1.5, softening: 0.01 }))).toBeLessThan(
      1e-12,
    );
    expect(relativeError(got.dist, reference.distance(x, y))).toBeLessThan(1e-12);
  });

  test('loads and computes in worker threads', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData);
      const out = new Float64Array(1);
      addon.localEnergy(new Float64Array([1]), 2, out);
      parentPort.postMessage(out[0]);
    `;
    const results = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: cppAddonPath() });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    for (const v of results) expect(v).toBeCloseTo(-0.25, 14);
  });
});
