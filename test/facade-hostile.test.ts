/**
 * The public facade against hostile input (issue 15 item 3; the fuzz findings attributed to
 * the facade, docs/notes-fuzz.md): every options object is read once, first, so a getter
 * that detaches, shrinks or resizes an input runs before the input is checked; a detached
 * or shrunk input is an argument error naming it; `abortable` rejects a non-AbortSignal
 * before any work starts; `describeValue` never throws; Trainer.fit names its data.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { abortable } from '../lib/async.js';
import { kernels as activeKernels, setBackend } from '../lib/backend.js';
import { coupling } from '../lib/coupling.js';
import { localEnergy, localEnergyAsync, nonlocalEnergy } from '../lib/energy.js';
import { CimmArgumentError, CimmDivergenceError, describeValue, typeOf } from '../lib/errors.js';
import { laplacian } from '../lib/flow.js';
import { fractalTransform } from '../lib/fractal.js';
import { matmul, matmulAsync } from '../lib/linalg.js';
import { MeanSquaredError } from '../lib/nn/losses.js';
import { mlp } from '../lib/nn/sequential.js';
import { Adam } from '../lib/optim/index.js';
import { hermitianEigenvalues } from '../lib/quantum.js';
import { Trainer } from '../lib/train/trainer.js';
import { backends, reference } from './helpers.js';

const initialBackend = activeKernels().name;
afterAll(() => {
  setBackend(initialBackend);
});

interface Resizable extends ArrayBuffer {
  resize(byteLength: number): void;
}
/** A resizable ArrayBuffer (ES2024; not in this project's TypeScript lib yet). */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => Resizable;

/** Detach `a`'s buffer (as a transfer to a worker would). */
function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

/** The error `fn` throws (or the promise rejects with). */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function expectNamed(error: unknown, parameter: string): void {
  expect(error).toBeInstanceOf(CimmArgumentError);
  expect((error as CimmArgumentError).parameter).toBe(parameter);
}

describe.each(backends.map((b) => [b.name] as const))('options read once, first [%s]', (name) => {
  test('nonlocalEnergy: a getter that shrinks x to length 0 is an error naming x (was a hang on js)', async () => {
    setBackend(name);
    const buffer = new ResizableArrayBuffer(8, { maxByteLength: 8 });
    const x = new Float32Array(buffer); // length-tracking
    const y = new Float32Array(2);
    const points = new Float32Array(8);
    const error = await errorOf(() =>
      nonlocalEnergy(x, y, points, {
        get lengthScale() {
          buffer.resize(0);
          return 1;
        },
      }),
    );
    expectNamed(error, 'x');
  });

  test('fractalTransform: a getter that detaches z is an error naming z (was an engine TypeError)', async () => {
    setBackend(name);
    const z = new Float32Array([0.1, 0.2, 0.3]);
    const error = await errorOf(() =>
      fractalTransform(z, {
        steps: 0,
        get start() {
          detach(z);
          return 4;
        },
      }),
    );
    expectNamed(error, 'z');
  });

  test('hermitianEigenvalues: a getter that detaches re is an error naming it (was a plain RangeError on js)', async () => {
    setBackend(name);
    const re = new Float64Array([2, 1, 1, 2]);
    const error = await errorOf(() =>
      hermitianEigenvalues(re, null, {
        get tolerance() {
          detach(re);
          return 1e-9;
        },
      }),
    );
    expect(error).toBeInstanceOf(CimmArgumentError);
    expect((error as Error).message).toMatch(/\bre\b/);
  });

  test('coupling: a getter on options.out that detaches t is an error naming t (was an engine TypeError on wasm)', async () => {
    setBackend(name);
    const t = new Float64Array([0.5, 1, 2]);
    const error = await errorOf(() =>
      coupling(t, {
        get out() {
          detach(t);
          return undefined;
        },
      }),
    );
    expectNamed(error, 't');
  });

  test('laplacian: a getter that resizes energy below the grid is an error naming energy', async () => {
    setBackend(name);
    const buffer = new ResizableArrayBuffer(4 * 8, { maxByteLength: 4 * 8 });
    const energy = new Float64Array(buffer);
    const error = await errorOf(() =>
      laplacian(energy, {
        nx: 2,
        ny: 2,
        get h() {
          buffer.resize(8);
          return 1;
        },
      }),
    );
    expectNamed(error, 'energy');
  });

  test('each options field is read exactly once', () => {
    setBackend(name);
    const reads: Record<string, number> = {};
    const counted = <T extends object>(fields: T): T => {
      const o = {};
      for (const [k, v] of Object.entries(fields)) {
        Object.defineProperty(o, k, {
          enumerable: true,
          get() {
            reads[k] = (reads[k] ?? 0) + 1;
            return v;
          },
        });
      }
      return o as T;
    };
    const a = new Float32Array([1, 2, 3, 4]);
    matmul(a, a, counted({ m: 2, n: 2, k: 2 }), counted({ alpha: 1, beta: 0, transA: false, transB: true }));
    localEnergy(new Float64Array([1, 2]), counted({ primeCount: 5 }));
    fractalTransform(new Float32Array([0.1]), counted({ steps: 2, start: 4, bound: 'rescale' as const }));
    expect(reads).toEqual({
      m: 1,
      n: 1,
      k: 1,
      alpha: 1,
      beta: 1,
      transA: 1,
      transB: 1,
      primeCount: 1,
      steps: 1,
      start: 1,
      bound: 1,
    });
  });

  test('a detached input given directly is an error naming it', async () => {
    setBackend(name);
    const r = new Float64Array([1, 2]);
    detach(r);
    expectNamed(await errorOf(() => localEnergy(r)), 'r');
    const z = new Float32Array([0.1]);
    detach(z);
    expectNamed(await errorOf(() => fractalTransform(z)), 'z');
  });

  test('a signal that is not an AbortSignal is an error naming signal', async () => {
    setBackend(name);
    const a = new Float32Array(4);
    const bad = { aborted: false } as unknown as AbortSignal;
    expectNamed(await errorOf(() => matmulAsync(a, a, { m: 2, n: 2, k: 2 }, { signal: bad })), 'signal');
    expectNamed(await errorOf(() => localEnergyAsync(new Float64Array(2), { signal: bad })), 'signal');
  });
});

describe.each(backends.map((b) => [b.name] as const))('detached and shrunk arrays [%s]', (name) => {
  test('an optimizer step with a detached parameter or gradient names it (fuzz facade:cpp:1:4943)', () => {
    setBackend(name);
    for (const which of ['params', 'grads'] as const) {
      const params = { w: new Float64Array(12).fill(0.5), b: new Float64Array(6).fill(0.1) };
      const grads = { w: new Float64Array(12).fill(0.01), b: new Float64Array(6).fill(0.02) };
      detach(which === 'params' ? params.b : grads.b);
      const adam = new Adam({ learningRate: 1e-3 });
      expect(() => adam.step(params, grads)).toThrow(
        expect.objectContaining({ name: 'CimmArgumentError', parameter: `${which}["b"]` }),
      );
    }
  });

  // the js kernels trust the facade (lib/kernels.ts); the native bindings read a view shrunk to
  // nothing as an empty one (a run of 0 steps, docs/boundary.md); the wasm glue refuses it
  test.runIf(name === 'wasm')(
    'energyFlowRunAsync with a params getter that shrinks kappas names kappas (fuzz kernels:wasm:1:10437)',
    async () => {
      const k = (backends.find((b) => b.name === name) ?? { kernels: reference }).kernels;
      const buffer = new ResizableArrayBuffer(4 * 8, { maxByteLength: 8 * 8 });
      const kappas = new Float64Array(buffer, 0, 4).fill(0.1);
      const grid = () => new Float64Array(16).fill(1);
      const params = {
        h: 1,
        dt: 0.01,
        beta: 0.1,
        get gamma() {
          buffer.resize(0);
          return 0.2;
        },
        boundary: 'periodic' as const,
      };
      await expect(k.energyFlowRunAsync(grid(), grid(), grid(), 4, 4, params, kappas)).rejects.toMatchObject({
        name: 'CimmArgumentError',
        parameter: 'kappas',
      });
    },
  );
});

describe('the js reference', () => {
  test('nonlocalEnergy with d = 0 is an error naming x, not an endless loop', () => {
    const empty = new Float32Array(0);
    const error = (() => {
      try {
        reference.nonlocalEnergy(empty, empty, new Float32Array(4), { lengthScale: 1, softening: 1e-3 });
      } catch (e) {
        return e;
      }
    })();
    expectNamed(error, 'x');
    expect(() =>
      reference.nonlocalEnergy(new Float32Array(2), new Float32Array(2), new Float32Array(3), {
        lengthScale: 1,
        softening: 1e-3,
      }),
    ).toThrow(/points/);
  });
});

describe('abortable', () => {
  test('a signal that is not an AbortSignal rejects naming signal before the work starts', async () => {
    let started = false;
    const p = abortable({} as AbortSignal, 'the test', async () => {
      started = true;
      throw new Error('the work ran');
    });
    const error = await errorOf(() => p);
    expectNamed(error, 'signal');
    expect(started).toBe(false);
  });

  test('undefined and a real AbortSignal still run the work', async () => {
    await expect(abortable(undefined, 'the test', async () => 1)).resolves.toBe(1);
    await expect(abortable(new AbortController().signal, 'the test', async () => 2)).resolves.toBe(2);
  });
});

describe('describeValue', () => {
  test('never throws: a detached DataView, a view without a constructor', () => {
    const view = new DataView(new ArrayBuffer(8));
    detach(view);
    expect(describeValue(view)).toBe('DataView(detached)');
    const odd = new Float32Array(2);
    Object.defineProperty(odd, 'constructor', {
      get() {
        throw new Error('hostile');
      },
    });
    expect(() => describeValue(odd)).not.toThrow();
    expect(() => typeOf(odd)).not.toThrow();
  });
});

describe('Trainer.fit on hostile data', () => {
  const make = () =>
    new Trainer({ model: mlp([2, 3, 1], { seed: 1 }), loss: new MeanSquaredError(), optimizer: new Adam() });

  test('±∞ and NaN in x or y are errors naming data.x / data.y and the row', async () => {
    const x = new Float32Array([0.1, 0.2, 0.3, Number.POSITIVE_INFINITY]);
    const error = await errorOf(() => make().fit({ x, y: new Float32Array(2) }));
    expectNamed(error, 'data.x');
    expect((error as Error).message).toMatch(/row 1/);
    const yError = await errorOf(() => make().fit({ x: new Float32Array(4), y: new Float32Array([0, Number.NaN]) }));
    expectNamed(yError, 'data.y');
  });

  test('finite data that overflows f32 is a divergence of the step, not an error about grads (facade:cpp:2:2453)', async () => {
    const x = new Float32Array([0.5, 3.4e38, -0.2, 0.1]);
    const error = await errorOf(() => make().fit({ x, y: new Float32Array([1, 2]) }, { batchSize: 2 }));
    expect(error).toBeInstanceOf(CimmDivergenceError);
    expect((error as CimmDivergenceError).step).toBe(1);
    expect((error as Error).message).toMatch(/largest \|x\| 3\.39/);
  });
});
