/**
 * What only the wasm backend has: the module file and its load errors, the scratch arena
 * (regrown between calls of different sizes, never leaking one call's data into another),
 * copy semantics for overlapping arrays, f64 arrays staged beside f32 ones, the argument checks
 * of the f64 entry points (the cpp binding's messages, word for word), and the description
 * backendInfo() reports. The kernels' agreement with the js reference, f32 and f64, is checked by
 * the backend-parametrized suites (optim-f64, nn-f64, …).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { NativeLoadError } from '../lib/backends/native.js';
import { loadWasmKernels, wasmModulePath } from '../lib/backends/wasm.js';
import { atOffset, backends, expectError, expectSameBits, randomF32, reference } from './helpers.js';

const wasm = backends.find((b) => b.name === 'wasm')?.kernels;
const cpp = backends.find((b) => b.name === 'cpp')?.kernels;

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
    expect(
      k.adamStep(p, g, m, v, empty, {
        beta1: 0.9,
        beta2: 0.999,
        stepSize: 1e-3,
        bc2Sqrt: 0.1,
        epsilon: 1e-8,
        weightDecay: 0,
        decay: 1,
        amsgrad: false,
        maximize: false,
      }),
    ).toBe(true);
    expect(
      reference.adamStep(pr, g.slice(), mr, vr, empty, {
        beta1: 0.9,
        beta2: 0.999,
        stepSize: 1e-3,
        bc2Sqrt: 0.1,
        epsilon: 1e-8,
        weightDecay: 0,
        decay: 1,
        amsgrad: false,
        maximize: false,
      }),
    ).toBe(true);
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

  test('f64 calls and f32 calls share the arena; an f64 view at an offset reads and writes only its elements', () => {
    const n = 29;
    const p = atOffset(Float64Array.from(randomF32(n, 4)), 3);
    const g = atOffset(Float64Array.from(randomF32(n, 5)), 1);
    const whole = new Float64Array(p.buffer);
    const outside = [...whole.subarray(0, 3), ...whole.subarray(3 + n)];
    const want = p.slice();
    const empty = new Float64Array(0);
    for (let step = 0; step < 3; step++) {
      // an f32 call in between: the arena holds one call's arrays at a time, of either dtype
      expect(k.sum(randomF32(7, step))).toBe(reference.sum(randomF32(7, step)));
      expect(
        k.sgdStep(p, g, empty, {
          learningRate: 0.1,
          momentum: 0,
          dampening: 0,
          weightDecay: 1e-2,
          nesterov: false,
          maximize: false,
          firstStep: step === 0,
        }),
      ).toBe(true);
      expect(
        reference.sgdStep(want, g, empty, {
          learningRate: 0.1,
          momentum: 0,
          dampening: 0,
          weightDecay: 1e-2,
          nesterov: false,
          maximize: false,
          firstStep: step === 0,
        }),
      ).toBe(true);
    }
    expect([...p]).toEqual([...want]);
    expect([...whole.subarray(0, 3), ...whole.subarray(3 + n)]).toEqual(outside);
  });

  test('bad f64 calls are rejected with the cpp binding’s messages, word for word', () => {
    const [a, b] = [new Float64Array(4), new Float64Array(4)];
    const short = new Float64Array(3);
    const f32 = new Float32Array(4);
    const out = new Float64Array(3);
    const o = { learningRate: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    const cases: [string, string, (kernels: typeof k) => unknown][] = [
      [
        'params',
        'Expected a Float32Array or Float64Array for params but received Array(0) of type Array',
        (x) =>
          x.sgdStep([] as unknown as Float64Array, b, b, {
            learningRate: 0.1,
            momentum: 0,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: true,
          }),
      ],
      [
        'grads',
        'Expected a Float64Array (the dtype of params) for grads but received Float32Array(4) of type Float32Array',
        (x) =>
          x.sgdStep(a, f32, new Float64Array(0), {
            learningRate: 0.1,
            momentum: 0,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: true,
          }),
      ],
      [
        'grads',
        'Expected a Float64Array of length 4 (the length of params) for grads but received Float64Array(3) of type Float64Array',
        (x) =>
          x.adamStep(a, short, b, b.slice(), a.slice(0, 0), {
            beta1: 0.9,
            beta2: 0.999,
            stepSize: 1e-3,
            bc2Sqrt: 1,
            epsilon: 1e-8,
            weightDecay: 0,
            decay: 1,
            amsgrad: false,
            maximize: false,
          }),
      ],
      [
        'momentumBuffer',
        'Expected a Float64Array that does not overlap params for momentumBuffer but received Float64Array(4) of type Float64Array',
        (x) =>
          x.sgdStep(a, b, a, {
            learningRate: 0.1,
            momentum: 0.9,
            dampening: 0,
            weightDecay: 0,
            nesterov: false,
            maximize: false,
            firstStep: true,
          }),
      ],
      [
        'before',
        'Expected a Float64Array (the dtype of params) for before but received Float32Array(4) of type Float32Array',
        (x) => x.sgdStepMeasured(a, b, new Float64Array(0), f32, { ...o, firstStep: true }, out),
      ],
      [
        'out',
        'Expected a Float64Array that does not overlap params for out but received Float64Array(3) of type Float64Array',
        (x) => x.sgdStepMeasured(a, b, new Float64Array(0), a.slice(), { ...o, firstStep: true }, a.subarray(0, 3)),
      ],
      [
        'v',
        'Expected a Float64Array (the dtype of params) for v but received Float32Array(4) of type Float32Array',
        (x) => x.prodigyUpdate(a, b, f32, { stepSize: 0.1, epsilon: 1e-8, decay: 0 }),
      ],
      [
        'metric',
        'Expected a Float64Array of length 4 (the length of before) for metric but received Float64Array(3) of type Float64Array',
        (x) => x.updateEnergy(a, b, a.slice(), short, { metricScale: 1, epsilon: 0 }, out),
      ],
      [
        'x',
        'Expected a Float32Array or Float64Array for x but received Int32Array(2) of type Int32Array',
        (x) => x.l2Norm(new Int32Array(2) as unknown as Float64Array),
      ],
      [
        'b',
        'Expected a Float64Array (the dtype of params) for b but received Float32Array(4) of type Float32Array',
        (x) => x.matmul({ transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0 }, a, f32, b),
      ],
      [
        'c',
        'Expected a 2×2 matrix (a Float64Array of length 4) for c but received Float64Array(3) of type Float64Array',
        (x) => x.matmul({ transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0 }, a, b, short),
      ],
      [
        'gradOut',
        'Expected a Float64Array of length 3 (the length of gradPre) for gradOut but received Float64Array(4) of type Float64Array',
        (x) => x.activationBackward('tanh', short.slice(), a, short),
      ],
    ];
    for (const [parameter, message, call] of cases) {
      expectError(() => call(k), parameter, message);
      if (cpp) expectError(() => call(cpp), parameter, message);
    }
  });
});
