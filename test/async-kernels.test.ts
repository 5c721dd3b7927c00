/**
 * The async kernels (lib/kernels.ts AsyncKernels; docs/theory.md, "Async kernels"):
 * bit-identical to the sync kernels on every backend, inputs copied during the call (so a
 * detach or transfer right after it changes nothing), the event loop free while they run,
 * AbortSignal support, argument errors before any work, many calls at once.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setBackend } from '../lib/backend.js';
import { positional } from '../lib/backends/boundary.js';
import { cppAddonPath } from '../lib/backends/cpp.js';
import type { NativeAddon } from '../lib/backends/native.js';
import { hostPlatform, resolveRustAddon } from '../lib/backends/rust.js';
import { localEnergy, localEnergyAsync } from '../lib/energy.js';
import { CimmArgumentError } from '../lib/errors.js';
import { EnergyFlow } from '../lib/flow.js';
import type { EnergyFlowRunParams, Kernels, MatmulParams } from '../lib/kernels.js';
import { matmul, matmulAsync } from '../lib/linalg.js';
import { isCheckout, packageRoot, packageVersion } from '../lib/paths.js';
import { backends, describeEachBackend, randomF32 } from './helpers.js';

/** Resolves to the error `promise` rejects with (fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function expectAbortError(promise: Promise<unknown>): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(DOMException);
  expect((error as DOMException).name).toBe('AbortError');
}

async function expectArgumentRejection(promise: Promise<unknown>, parameter: string): Promise<void> {
  const error = await rejection(promise);
  expect(error, `expected an error naming ${parameter}`).toBeInstanceOf(CimmArgumentError);
  // a field of params is named `params.<field>` (cpp) or by its bare name
  expect((error as CimmArgumentError).parameter).toMatch(new RegExp(`^(params\\.)?${parameter}$`));
}

/** Same length and the same bits at every index (f32 or f64). */
function expectSameBits(got: Float32Array | Float64Array, want: Float32Array | Float64Array, what: string): void {
  expect(got.constructor, what).toBe(want.constructor);
  expect(got.length, what).toBe(want.length);
  const a = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  const b = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const e = Math.floor(i / got.BYTES_PER_ELEMENT);
      throw new Error(`${what}[${e}]: ${got[e]} vs sync ${want[e]}`);
    }
  }
}

/** Detaches a typed array's buffer the way a transfer to a worker does. */
function detach(x: Float32Array | Float64Array): void {
  structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
}

function syncMatmul(k: Kernels, p: MatmulParams, a: Float32Array, b: Float32Array, c?: Float32Array): Float32Array {
  const out = p.beta !== 0 && c ? c.slice() : new Float32Array(p.m * p.n);
  k.matmul({ transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k, alpha: p.alpha, beta: p.beta }, a, b, out);
  return out;
}

function f64(n: number, seed: number, lo: number, hi: number): Float64Array {
  return Float64Array.from(randomF32(n, seed), (v) => lo + ((v + 1) / 2) * (hi - lo));
}

const FLOW: EnergyFlowRunParams = { h: 0.5, dt: 0.05, beta: 0.25, gamma: 0.35, boundary: 'zeroFlux' };

/** E after each of `kappas.length` sync steps: [E_last, E_before_last]. */
function syncRun(
  k: Kernels,
  energy: Float64Array,
  potential: Float64Array,
  source: Float64Array,
  nx: number,
  ny: number,
  params: EnergyFlowRunParams,
  kappas: Float64Array,
): [Float64Array, Float64Array] {
  let cur = energy.slice();
  let prev = energy.slice();
  for (const kappa of kappas) {
    k.energyFlowStep(cur, potential, source, nx, ny, { ...params, kappa }, prev);
    [cur, prev] = [prev, cur];
  }
  return [cur, prev];
}

// the addons' own tasks (AbortFlag, libuv); wasm's async kernels are the js backend's chunking
const nativeBackends = backends.filter((b) => b.name === 'rust' || b.name === 'cpp');

describeEachBackend('async kernels', ({ name, kernels: k }) => {
  test('matmulAsync equals matmul bit for bit (random shapes, transposes, α, β)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          m: fc.integer({ min: 0, max: 40 }),
          n: fc.integer({ min: 0, max: 40 }),
          k: fc.integer({ min: 0, max: 40 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          alpha: fc.constantFrom(1, -0.5, 2.25),
          beta: fc.constantFrom(0, 1, 0.5),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        async (p) => {
          const a = randomF32(p.m * p.k, p.seed);
          const b = randomF32(p.k * p.n, p.seed + 1);
          const c = randomF32(p.m * p.n, p.seed + 2);
          const want = syncMatmul(k, p, a, b, c);
          const got = await k.matmulAsync(p, a, b, p.beta !== 0 ? c : undefined);
          expectSameBits(got, want, `matmulAsync ${JSON.stringify(p)}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('localEnergyAsync equals localEnergy bit for bit (random lengths, prime counts, the threaded size)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 1e6 }),
        async (len, primes, seed) => {
          const r = f64(len, seed, -50, 50);
          const want = new Float64Array(len);
          k.localEnergy(r, primes, want);
          expectSameBits(await k.localEnergyAsync(r, primes), want, `localEnergyAsync(${len}, ${primes})`);
        },
      ),
      { numRuns: 25 },
    );
    // Above every backend's threading threshold (2^18 terms) and several abort units.
    const r = f64(20_000, 9, 0, 100);
    const want = new Float64Array(r.length);
    k.localEnergy(r, 120, want);
    expectSameBits(await k.localEnergyAsync(r, 120), want, 'localEnergyAsync(20000, 120)');
  });

  test('energyFlowRunAsync equals its steps taken one call at a time, bit for bit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom<EnergyFlowRunParams['boundary']>('periodic', 'zeroFlux'),
        fc.integer({ min: 1, max: 1e6 }),
        async (nx, ny, steps, boundary, seed) => {
          const cells = nx * ny;
          const e = f64(cells, seed, 0, 1);
          const psi = f64(cells, seed + 1, -0.5, 0.5);
          const src = f64(cells, seed + 2, -0.2, 0.2);
          const kappas = f64(steps, seed + 3, -1, 1);
          const params = { ...FLOW, boundary };
          const [cur, prev] = syncRun(k, e, psi, src, nx, ny, params, kappas);
          const got = await k.energyFlowRunAsync(e, psi, src, nx, ny, params, kappas);
          expectSameBits(got.energy, cur, 'energy');
          expectSameBits(got.previous, prev, 'previous');
        },
      ),
      { numRuns: 25 },
    );
  });

  test('inputs detached, transferred or overwritten right after the call change nothing', async () => {
    const p: MatmulParams = { transA: true, transB: false, m: 70, n: 33, k: 50, alpha: 1.5, beta: 0.5 };
    const a = randomF32(p.m * p.k, 1);
    const b = randomF32(p.k * p.n, 2);
    const c = randomF32(p.m * p.n, 3);
    const want = syncMatmul(k, p, a, b, c);
    const pending = k.matmulAsync(p, a, b, c);
    detach(a);
    b.fill(Number.NaN);
    detach(c);
    expect(a.length).toBe(0);
    expectSameBits(await pending, want, 'matmulAsync after a detach');

    const r = f64(5000, 4, 0, 30);
    const le = new Float64Array(r.length);
    k.localEnergy(r, 40, le);
    const pendingLe = k.localEnergyAsync(r, 40);
    detach(r);
    expectSameBits(await pendingLe, le, 'localEnergyAsync after a detach');

    const [nx, ny] = [17, 9];
    const e = f64(nx * ny, 5, 0, 1);
    const psi = f64(nx * ny, 6, -1, 1);
    const src = f64(nx * ny, 7, -1, 1);
    const kappas = f64(20, 8, -1, 1);
    const [cur] = syncRun(k, e, psi, src, nx, ny, FLOW, kappas);
    const pendingRun = k.energyFlowRunAsync(e, psi, src, nx, ny, FLOW, kappas);
    for (const x of [e, psi, src, kappas]) detach(x);
    expectSameBits((await pendingRun).energy, cur, 'energyFlowRunAsync after a detach');
  });

  test('a signal already aborted rejects with an AbortError', async () => {
    const signal = AbortSignal.abort();
    const p: MatmulParams = { transA: false, transB: false, m: 4, n: 4, k: 4, alpha: 1, beta: 0 };
    const x = randomF32(16, 1);
    await expectAbortError(k.matmulAsync(p, x, x, undefined, signal));
    await expectAbortError(k.localEnergyAsync(new Float64Array(4), 3, signal));
    const g = new Float64Array(4);
    await expectAbortError(k.energyFlowRunAsync(g, g, g, 2, 2, FLOW, g, signal));
    const error = await rejection(k.localEnergyAsync(g, 3, AbortSignal.abort('why')));
    expect((error as Error).cause).toBe('why');
  });

  test('an abort while the work runs rejects with an AbortError; the backend works on', async () => {
    // Long enough that the abort lands first even on a many-core machine: 2^33 multiply-adds
    // on native (about 10 ms at 1 TFLOP/s), 2^25 in 8 chunks on js.
    const p: MatmulParams =
      name === 'js'
        ? { transA: false, transB: false, m: 512, n: 256, k: 256, alpha: 1, beta: 0 }
        : { transA: false, transB: false, m: 4096, n: 2048, k: 1024, alpha: 1, beta: 0 };
    const a = randomF32(p.m * p.k, 1);
    const b = randomF32(p.k * p.n, 2);
    const controller = new AbortController();
    const pending = k.matmulAsync(p, a, b, undefined, controller.signal);
    setTimeout(() => controller.abort(), 1);
    await expectAbortError(pending);

    const sync = new AbortController();
    const right = k.localEnergyAsync(f64(50_000, 3, 0, 10), 100, sync.signal);
    sync.abort(); // before the work could start: it is skipped
    await expectAbortError(right);

    const small: MatmulParams = { ...p, m: 9, n: 7, k: 5 };
    const x = randomF32(45, 4);
    const y = randomF32(35, 5);
    expectSameBits(await k.matmulAsync(small, x, y, undefined), syncMatmul(k, small, x, y), 'after an abort');
  });

  test('bad arguments reject naming the parameter', async () => {
    const x = randomF32(6, 1);
    const p: MatmulParams = { transA: false, transB: false, m: 2, n: 3, k: 3, alpha: 1, beta: 0 };
    if (name !== 'js') {
      // The js kernels trust the facade; the native ones check what memory safety needs.
      await expectArgumentRejection(k.matmulAsync({ ...p, m: -1 }, x, x, undefined), 'm');
      await expectArgumentRejection(k.matmulAsync(p, x.subarray(1), randomF32(9, 2), undefined), 'a');
      await expectArgumentRejection(k.matmulAsync({ ...p, beta: 1 }, x, randomF32(9, 2), undefined), 'c');
      await expectArgumentRejection(k.localEnergyAsync(new Float64Array(3), -2), 'primeCount');
      const g = new Float64Array(6);
      await expectArgumentRejection(k.energyFlowRunAsync(g, g, g, 2, 4, FLOW, g), 'energy');
      await expectArgumentRejection(k.energyFlowRunAsync(g, g, g, 2, 3, { ...FLOW, h: 0 }, g), 'h');
      await expectArgumentRejection(k.energyFlowRunAsync(g, g, g, 2, 3, FLOW, Float64Array.of(Number.NaN)), 'kappas');
    }
  });

  test('many concurrent calls, some aborted, all settle with the sync results', async () => {
    const calls = Array.from({ length: 48 }, (_, i) => {
      const p: MatmulParams = {
        transA: i % 2 === 0,
        transB: i % 3 === 0,
        m: 5 + (i % 11) * 7,
        n: 3 + (i % 5) * 13,
        k: 1 + (i % 7) * 9,
        alpha: 1,
        beta: 0,
      };
      const a = randomF32(p.m * p.k, i + 1);
      const b = randomF32(p.k * p.n, i + 100);
      const controller = new AbortController();
      const promise = k.matmulAsync(p, a, b, undefined, controller.signal);
      if (i % 4 === 3) controller.abort();
      return { i, promise, want: syncMatmul(k, p, a, b) };
    });
    // Handlers on every promise at once: the aborted ones reject before the others resolve.
    const settled = await Promise.allSettled(calls.map((c) => c.promise));
    for (const { i, want } of calls) {
      const result = settled[i];
      if (i % 4 === 3) {
        expect(result.status, `call ${i}`).toBe('rejected');
        expect(((result as PromiseRejectedResult).reason as DOMException).name).toBe('AbortError');
      } else {
        expect(result.status, `call ${i}`).toBe('fulfilled');
        expectSameBits((result as PromiseFulfilledResult<Float32Array>).value, want, `call ${i}`);
      }
    }
  });

  test('the event loop runs while a long async matmul computes (a timer fires)', async () => {
    // 2^32 multiply-adds on native (several ms even at 1 TFLOP/s), 2^26 in 16 chunks on js.
    const size = name === 'js' ? 256 : 1024;
    const p: MatmulParams = { transA: false, transB: true, m: 4 * size, n: size, k: size, alpha: 1, beta: 0 };
    const a = randomF32(p.m * p.k, 1);
    const b = randomF32(p.k * p.n, 2);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await k.matmulAsync(p, a, b, undefined);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

/**
 * The addon of a native backend itself, to see what the task does after an abort: found as
 * the backend loaders find it (a checkout's build, or the installed platform package).
 */
function addonOf(name: 'rust' | 'cpp'): NativeAddon {
  const require = createRequire(join(packageRoot(), 'package.json'));
  if (name === 'cpp') return require(cppAddonPath()) as NativeAddon;
  const { addon } = resolveRustAddon({
    host: hostPlatform(),
    root: packageRoot(),
    version: packageVersion(),
    checkout: isCheckout(),
    load: (id) => require(id),
    exists: existsSync,
  });
  return addon;
}

describe.each(nativeBackends.map((b) => [b.name] as const))('native async tasks [%s]', (name) => {
  test('a task whose flag is raised before it starts skips its work and rejects', async () => {
    const addon = addonOf(name as 'rust' | 'cpp');
    // Blockers keep every libuv pool thread (4 by default) busy, so the task stays queued.
    const blockers = Array.from({ length: 8 }, () => {
      const flag = new addon.AbortFlag();
      return { flag, task: addon.localEnergyAsync(f64(1 << 16, 1, 0, 100), 5000, flag) };
    });
    const flag = new addon.AbortFlag();
    const p: MatmulParams = { transA: false, transB: false, m: 64, n: 64, k: 64, alpha: 1, beta: 0 };
    const task = positional('matmulAsync', addon.matmulAsync)(
      p,
      randomF32(p.m * p.k, 1),
      randomF32(p.k * p.n, 2),
      undefined,
      flag,
    );
    flag.raise();
    for (const b of blockers) b.flag.raise();
    const [settled, ...blocked] = await Promise.allSettled([task, ...blockers.map((b) => b.task)]);
    expect(settled.status).toBe('rejected');
    expect(((settled as PromiseRejectedResult).reason as Error).message).toMatch(/was aborted/);
    // A blocker already running when its flag went up may be a single work unit and finish;
    // a queued one rejects. Either way each one settles, none with another error.
    for (const s of blocked) {
      if (s.status === 'rejected') expect((s.reason as Error).message).toMatch(/was aborted/);
    }
  });

  test('a raised flag stops a running matmul between units (it rejects instead of resolving)', async () => {
    const addon = addonOf(name as 'rust' | 'cpp');
    const flag = new addon.AbortFlag();
    // 2^34 multiply-adds: a second or more here, in 64 Rust panels or 16 C++ k-slices.
    const p: MatmulParams = { transA: false, transB: false, m: 4096, n: 4096, k: 1024, alpha: 1, beta: 0 };
    const task = positional('matmulAsync', addon.matmulAsync)(
      p,
      randomF32(p.m * p.k, 1),
      randomF32(p.k * p.n, 2),
      undefined,
      flag,
    );
    setTimeout(() => flag.raise(), 5);
    await expect(task).rejects.toThrow(/was aborted/);
  });

  test('an object that is not an AbortFlag is refused', () => {
    const addon = addonOf(name as 'rust' | 'cpp');
    expect(() => addon.localEnergyAsync(new Float64Array(2), 3, {} as never)).toThrow(/AbortFlag/);
  });
});

describeEachBackend('async facades', ({ name }) => {
  beforeAll(() => {
    setBackend(name);
  });
  afterAll(() => {
    setBackend('js');
  });

  test('matmulAsync equals matmul, into a new array or into out', async () => {
    const a = randomF32(6 * 5, 1);
    const b = randomF32(4 * 5, 2);
    const shape = { m: 6, n: 4, k: 5 };
    const want = matmul(a, b, shape, { transB: true, alpha: 0.5 });
    expectSameBits(await matmulAsync(a, b, shape, { transB: true, alpha: 0.5 }), want, 'new');
    const out = randomF32(24, 3);
    const wantOut = matmul(a, b, shape, { transB: true, beta: 2, out: out.slice() });
    const got = await matmulAsync(a, b, shape, { transB: true, beta: 2, out });
    expect(got).toBe(out);
    expectSameBits(out, wantOut, 'out');
  });

  test('an out detached before the result arrives is an error naming out', async () => {
    const a = randomF32(12, 1);
    const out = new Float32Array(16);
    const pending = matmulAsync(a, a, { m: 4, n: 4, k: 3 }, { transB: true, out });
    detach(out);
    await expectArgumentRejection(pending, 'out');
    const le = new Float64Array(3);
    const pendingLe = localEnergyAsync(Float64Array.of(1, 2, 3), { out: le });
    detach(le);
    await expectArgumentRejection(pendingLe, 'out');
  });

  test('bad arguments reject naming the parameter, before any work', async () => {
    const a = randomF32(6, 1);
    await expectArgumentRejection(matmulAsync(a, a, { m: -1, n: 2, k: 3 }), 'm');
    await expectArgumentRejection(matmulAsync(a, a, { m: 2, n: 3, k: 3 }), 'b');
    await expectArgumentRejection(matmulAsync(a, a, { m: 2, n: 2, k: 3 }, { beta: 1 }), 'beta');
    await expectArgumentRejection(matmulAsync(a, a, { m: 2, n: 2, k: 3 }, { signal: {} as AbortSignal }), 'signal');
    await expectArgumentRejection(
      matmulAsync(Float32Array.of(1, Number.NaN, 0, 0, 0, 0), randomF32(9, 2), { m: 2, n: 3, k: 3 }, { transB: true }),
      'a',
    );
    await expectArgumentRejection(localEnergyAsync(Float64Array.of(Number.POSITIVE_INFINITY)), 'r');
    await expectArgumentRejection(localEnergyAsync(Float64Array.of(1), { primeCount: 1.5 }), 'primeCount');
    const flow = new EnergyFlow({ nx: 3, ny: 2 });
    await expectArgumentRejection(flow.runAsync(-1), 'steps');
    await expectArgumentRejection(flow.runAsync(1, { signal: 'stop' as never }), 'signal');
  });

  test('localEnergyAsync equals localEnergy', async () => {
    const r = f64(3001, 2, -20, 20);
    expectSameBits(await localEnergyAsync(r, { primeCount: 33 }), localEnergy(r, { primeCount: 33 }), 'localEnergy');
    await expectAbortError(localEnergyAsync(r, { signal: AbortSignal.abort() }));
  });

  test('EnergyFlow.runAsync is run() bit for bit: E, the previous E, t, sub-steps', async () => {
    const nx = 24;
    const ny = 10;
    const options = {
      nx,
      ny,
      h: 0.5,
      dt: 0.6, // above the stable limit: two or more sub-steps per step
      boundary: 'zeroFlux' as const,
      energy: f64(nx * ny, 1, 0, 1),
      potential: f64(nx * ny, 2, -1, 1),
      quantumSource: f64(nx * ny, 3, -0.3, 0.3),
    };
    const sync = new EnergyFlow(options);
    const both = new EnergyFlow(options);
    expect(sync.run(7)).toBe(await both.runAsync(7));
    expect(sync.substeps).toBeGreaterThan(7);
    expectSameBits(both.energy, sync.energy, 'energy');
    expectSameBits(both.rate() as Float64Array, sync.rate() as Float64Array, 'rate');
    expect(both.t).toBe(sync.t);
    expect(both.substeps).toBe(sync.substeps);
    sync.run(2);
    await both.runAsync(2);
    expectSameBits(both.energy, sync.energy, 'energy after a second run');
    expect(await both.runAsync(0)).toBe(0);
  });

  test('EnergyFlow.runAsync over more sub-steps than one kernel call takes (2^16) is run() bit for bit', async () => {
    const options = { nx: 3, ny: 2, dt: 0.01, energy: f64(6, 7, 0, 1), potential: f64(6, 8, -1, 1) };
    const sync = new EnergyFlow(options);
    const both = new EnergyFlow(options);
    expect(await both.runAsync(70_001)).toBe(sync.run(70_001));
    expectSameBits(both.energy, sync.energy, 'energy');
    expectSameBits(both.rate() as Float64Array, sync.rate() as Float64Array, 'rate');
    expect(both.t).toBe(sync.t);
  });

  test('EnergyFlow.runAsync: the flow is busy while it runs, and an abort leaves it as it was', async () => {
    const flow = new EnergyFlow({ nx: 64, ny: 64, dt: 0.5, energy: f64(64 * 64, 4, 0, 1) });
    const before = flow.energy.slice();
    const [t, substeps] = [flow.t, flow.substeps];
    const controller = new AbortController();
    const pending = flow.runAsync(2000, { signal: controller.signal });
    expect(() => flow.step()).toThrow(/runAsync is running/);
    expect(() => flow.setEnergy(before)).toThrow(/runAsync is running/);
    await expect(flow.runAsync(1)).rejects.toThrow(/runAsync is running/);
    controller.abort();
    await expectAbortError(pending);
    expectSameBits(flow.energy, before, 'energy after an abort');
    expect([flow.t, flow.substeps]).toEqual([t, substeps]);
    expect(flow.step()).toBe(1);
    await expectAbortError(flow.runAsync(1, { signal: AbortSignal.abort() }));
  });
});
