/**
 * What only the wasm backend has: the module file and its load errors, the scratch arena
 * (regrown between calls of different sizes, never leaking one call's data into another),
 * copy semantics for overlapping arrays, and the description backendInfo() reports. The
 * kernels' agreement with the js reference is checked by the backend-parametrized suites.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { NativeLoadError } from '../lib/backends/native.js';
import { loadWasmKernels, wasmModulePath } from '../lib/backends/wasm.js';
import { atOffset, backends, expectSameBits, randomF32, reference } from './helpers.js';

const wasm = backends.find((b) => b.name === 'wasm')?.kernels;

describe('wasm module loading', () => {
  const saved = process.env.CIMM_WASM_MODULE;
  afterEach(() => {
    if (saved === undefined) delete process.env.CIMM_WASM_MODULE;
    else process.env.CIMM_WASM_MODULE = saved;
  });

  test('a missing module is a NativeLoadError naming the file and the fixes', () => {
    process.env.CIMM_WASM_MODULE = '/nonexistent/cimm.wasm';
    let error: unknown;
    try {
      loadWasmKernels();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NativeLoadError);
    expect((error as Error).message).toBe(
      'the WebAssembly module is missing: CIMM_WASM_MODULE=/nonexistent/cimm.wasm does not exist',
    );
    // a checkout says how to build it, an installed package to reinstall (it ships the module)
    expect((error as NativeLoadError).solutions.join('\n')).toMatch(
      /(npm run build:wasm|reinstall cimm)[\s\S]*CIMM_BACKEND=js/,
    );
  });

  test('a file that is not a WebAssembly module does not load, with the engine’s reason', () => {
    process.env.CIMM_WASM_MODULE = new URL(import.meta.url).pathname;
    expect(() => loadWasmKernels()).toThrow(NativeLoadError);
  });
});

describe.skipIf(!wasm)('wasm backend', () => {
  const k = wasm as NonNullable<typeof wasm>;

  test('describes itself: one thread, wasm SIMD, the module file', () => {
    const d = k.describe();
    expect(d).toEqual({
      name: 'wasm',
      simdPath: 'wasm-simd128',
      cpuFeatures: [],
      threads: 1,
      source: wasmModulePath(),
    });
    expect(existsSync(wasmModulePath())).toBe(true);
  });

  test('calls of growing and shrinking sizes reuse and regrow the arena without mixing data', () => {
    for (const n of [3, 1 << 20, 5, (1 << 21) + 3, 17, 0]) {
      const z = randomF32(n, n + 1, 0.5);
      const got = new Float32Array(n).fill(Number.NaN);
      const want = new Float32Array(n);
      k.fractalStep(z, 0.125, got);
      reference.fractalStep(z, 0.125, want);
      expectSameBits(got, want, `fractalStep n=${n}`);
      expect(k.sum(z)).toBe(reference.sum(z));
    }
  });

  test('inputs are never written; views at an offset read and write only their elements', () => {
    const n = 37;
    const p = atOffset(randomF32(n, 1), 3);
    const g = atOffset(randomF32(n, 2), 1);
    const m = atOffset(new Float32Array(n), 2);
    const v = atOffset(new Float32Array(n), 5);
    const gBefore = g.slice();
    const whole = new Float32Array(p.buffer);
    const outside = [...whole.subarray(0, 3), ...whole.subarray(3 + n)];
    const [pr, mr, vr] = [p.slice(), m.slice(), v.slice()];
    const empty = new Float32Array(0);
    expect(k.adamStep(p, g, m, v, empty, 0.9, 0.999, 1e-3, 0.1, 1e-8, 0, 1, false, false)).toBe(true);
    expect(reference.adamStep(pr, g.slice(), mr, vr, empty, 0.9, 0.999, 1e-3, 0.1, 1e-8, 0, 1, false, false)).toBe(
      true,
    );
    expectSameBits(p, pr, 'params');
    expectSameBits(m, mr, 'm');
    expectSameBits(v, vr, 'v');
    expectSameBits(g, gBefore, 'grads (read only)');
    expect([...whole.subarray(0, 3), ...whole.subarray(3 + n)]).toEqual(outside);
  });

  test('an output overlapping its input without being it is computed from a copy of the input', () => {
    const buffer = randomF32(12, 9, 0.5);
    const z = buffer.slice(0, 8);
    const want = new Float32Array(8);
    reference.fractalStep(z, 0.25, want);
    k.fractalStep(buffer.subarray(0, 8), 0.25, buffer.subarray(4, 12));
    expectSameBits(buffer.subarray(4, 12), want, 'out');
  });
});
