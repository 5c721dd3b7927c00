/**
 * Bench cases for the optimizer kernels (docs/theory.md, "Optimizers"): one fused Adam or
 * SGD-with-momentum step over n f32 parameters, per backend, plus the copy probe the
 * memory-bandwidth fraction is measured against, and TensorFlow.js's WASM Adam as a peer
 * row when `@tensorflow/tfjs-backend-wasm` is installed.
 *
 * `adamStepF64` is the same Adam step on Float64Array parameters, gradients and state (f64
 * arithmetic; docs/theory.md, "Float64 parameters"), beside the f32 row: 56 bytes per
 * parameter, twice f32's, so at memory speed it takes about twice as long.
 *
 * Bytes moved per parameter: Adam reads p, g, m, v and writes p, m, v (28 bytes); SGD with
 * momentum reads p, g, b and writes p, b (20 bytes); the copy reads 4 and writes 4 (8 bytes;
 * large copies use non-temporal stores, so no extra read of the destination). The
 * bandwidth limit is the best copy rate measured in the same run, on the same threads.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BenchCase, BenchRow, Contender } from '../harness.js';
import { type BackendList, checkArray, uniformF32 } from './common.js';

const SIZES: [label: string, n: number][] = [
  ['n=1e3', 1_000],
  ['n=1e5', 100_000],
  ['n=1e7', 10_000_000],
];

const BYTES = { adamStep: 28, adamStepF64: 56, sgdStep: 20, memoryCopy: 8 } as const;

// Step 1 of Adam (m = v = 0 at the start, so a peer that counts its own steps agrees on the
// checked first step); lr 1e-3 keeps repeated steps finite.
const LR = 1e-3;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
const STEP_SIZE = LR / (1 - BETA1);
const BC2_SQRT = Math.sqrt(1 - BETA2);

interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor1d(values: Float32Array): { dispose(): void };
  variable(t: unknown): { name: string; dataSync(): Float32Array };
  train: {
    adam(lr: number, b1: number, b2: number, eps: number): { applyGradients(g: Record<string, unknown>): void };
  };
}

/** TensorFlow.js with the WASM backend, or why not. */
async function loadTfjsWasm(): Promise<Tf | string> {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('@tensorflow/tfjs-backend-wasm');
  } catch {
    return '@tensorflow/tfjs-backend-wasm is not installed';
  }
  try {
    // Specifiers in variables: the packages are optional peers, not compile-time imports.
    const coreName = '@tensorflow/tfjs-core';
    const wasmName = '@tensorflow/tfjs-backend-wasm';
    const tf = (await import(coreName)) as Tf;
    const wasm = (await import(wasmName)) as { setWasmPaths(prefix: string): void };
    // The .wasm files sit in the package's dist/, next to its main module.
    const dist = dirname(require.resolve(wasmName));
    const folder = existsSync(join(dist, 'tfjs-backend-wasm.wasm')) ? dist : join(dist, '..', 'dist');
    wasm.setWasmPaths(`${folder}/`);
    if (!(await tf.setBackend('wasm'))) return 'tf.setBackend("wasm") failed';
    await tf.ready();
    return tf;
  } catch (error) {
    return `@tensorflow/tfjs-backend-wasm did not load: ${(error as Error).message.split('\n')[0]}`;
  }
}

const EMPTY = new Float32Array(0);

/** Adam's step 1 in plain f64 JS, rounded to f32 only when stored. */
function plainAdam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array): void {
  for (let i = 0; i < p.length; i++) {
    const mi = BETA1 * m[i] + (1 - BETA1) * g[i];
    const vi = BETA2 * v[i] + (1 - BETA2) * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] -= (STEP_SIZE * mi) / (Math.sqrt(vi) / BC2_SQRT + EPS);
  }
}

/** A value built on first use (the n = 1e7 arrays are only allocated when their case runs). */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

export async function optimCases(backends: BackendList): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  const big = SIZES[SIZES.length - 1][1];

  // The copy probe, on the size whose bandwidth matters.
  const src = lazy(() => uniformF32(big, 30));
  cases.push({
    kernel: 'memoryCopy',
    size: 'n=1e7',
    check: checkArray(0),
    contenders: backends.map((k) => {
      const dst = lazy(() => new Float32Array(big));
      return { backend: k.name, run: () => (k.memoryCopy(src(), dst()), dst()) };
    }),
  });

  // TensorFlow.js is loaded by the case that uses it, just before it runs (its `prepare`),
  // and bench/run.ts runs such cases last: plain JS runs 20–50% slower in a process that has
  // loaded tfjs, so no other case's js baseline is measured after it.
  let tfjs: Promise<Tf | string> | undefined;

  for (const [size, n] of SIZES) {
    const p0 = lazy(() => uniformF32(n, 31));
    const g = lazy(() => uniformF32(n, 32));
    const contenders: Contender[] = backends.map((k) => {
      const state = lazy(() => ({ p: p0().slice(), m: new Float32Array(n), v: new Float32Array(n) }));
      return {
        backend: k.name,
        run: () => {
          const { p, m, v } = state();
          k.adamStep(p, g(), m, v, EMPTY, {
            beta1: BETA1,
            beta2: BETA2,
            stepSize: STEP_SIZE,
            bc2Sqrt: BC2_SQRT,
            epsilon: EPS,
            weightDecay: 0,
            decay: 1,
            amsgrad: false,
            maximize: false,
          });
          return p;
        },
      };
    });
    if (n === big) {
      // A plain f64 JS loop, as one would write Adam without f32 care: the honest JS baseline
      // next to the js reference (which rounds every operation to f32 with Math.fround).
      const state = lazy(() => ({ p: p0().slice(), m: new Float32Array(n), v: new Float32Array(n) }));
      contenders.push({
        backend: 'js-f64',
        run: () => {
          const { p, m, v } = state();
          plainAdam(p, g(), m, v);
          return p;
        },
      });
    }
    const addPeer = async () => {
      tfjs ??= loadTfjsWasm();
      const tf = await tfjs;
      if (typeof tf === 'string') {
        console.log(`\n  (tfjs-wasm peer row skipped: ${tf})`);
        return;
      }
      const peer = lazy(() => ({
        variable: tf.variable(tf.tensor1d(p0())),
        grad: tf.tensor1d(g()),
        adam: tf.train.adam(LR, BETA1, BETA2, EPS),
      }));
      contenders.push({
        backend: 'tfjs-wasm',
        run: () => {
          const { variable, grad, adam } = peer();
          adam.applyGradients({ [variable.name]: grad });
          return variable;
        },
      });
    };
    // Native backends agree with js bit for bit; js-f64 and TF.js round differently: within
    // 1e-6 of parameters of magnitude ≤ 1 after a 1e-3 step.
    const exact = checkArray(0);
    const close = checkArray(1e-6);
    cases.push({
      kernel: 'adamStep',
      size,
      check: (got, want, backend) =>
        backend === 'tfjs-wasm'
          ? close((got as { dataSync(): Float32Array }).dataSync(), want, backend)
          : backend === 'js-f64'
            ? close(got, want, backend)
            : exact(got, want, backend),
      contenders,
      ...(n === big ? { prepare: addPeer } : {}),
    });
  }

  // The same Adam step on f64 arrays: bit-identical across backends, as the f32 step.
  for (const [size, n] of SIZES) {
    const p0 = lazy(() => Float64Array.from(uniformF32(n, 31), (x, i) => x + 1e-9 * Math.sin(i)));
    const g = lazy(() => Float64Array.from(uniformF32(n, 32)));
    cases.push({
      kernel: 'adamStepF64',
      size,
      check: checkArray(0),
      contenders: backends.map((k) => {
        const state = lazy(() => ({ p: p0().slice(), m: new Float64Array(n), v: new Float64Array(n) }));
        return {
          backend: k.name,
          run: () => {
            const { p, m, v } = state();
            k.adamStep(p, g(), m, v, EMPTY, {
              beta1: BETA1,
              beta2: BETA2,
              stepSize: STEP_SIZE,
              bc2Sqrt: BC2_SQRT,
              epsilon: EPS,
              weightDecay: 0,
              decay: 1,
              amsgrad: false,
              maximize: false,
            });
            return p;
          },
        };
      }),
    });
  }

  for (const [size, n] of SIZES) {
    const p0 = lazy(() => uniformF32(n, 33));
    const g = lazy(() => uniformF32(n, 34));
    cases.push({
      kernel: 'sgdStep',
      size,
      check: checkArray(0),
      contenders: backends.map((k) => {
        const state = lazy(() => ({ p: p0().slice(), b: new Float32Array(n) }));
        let first = true;
        return {
          backend: k.name,
          run: () => {
            const { p, b } = state();
            k.sgdStep(p, g(), b, {
              learningRate: 1e-3,
              momentum: 0.9,
              dampening: 0,
              weightDecay: 0,
              nesterov: false,
              maximize: false,
              firstStep: first,
            });
            first = false;
            return p;
          },
        };
      }),
    });
  }
  return cases;
}

/**
 * Lines summarizing the optimizer rows: memory bandwidth (GB/s and the fraction of the
 * best copy rate of the run) and the targets for Adam at n = 1e7.
 */
export function optimReport(rows: BenchRow[]): string[] {
  const at = (kernel: string, size: string, backend: string) =>
    rows.find((r) => r.kernel === kernel && r.size === size && r.backend === backend);
  const copies = rows.filter((r) => r.kernel === 'memoryCopy');
  if (copies.length === 0) return [];
  const n = 1e7;
  const gbps = (r: BenchRow) => (BYTES[r.kernel as keyof typeof BYTES] * n * r.hz) / 1e9;
  const best = copies.reduce((a, b) => (gbps(b) > gbps(a) ? b : a));
  const limit = gbps(best);
  const lines = [
    `optimizer steps at n=1e7, bytes moved per parameter: Adam 28, SGD+momentum 20, copy 8;`,
    `bandwidth limit = best copy in this run: ${limit.toFixed(1)} GB/s (${best.backend})`,
  ];
  for (const r of rows.filter((x) => x.size === 'n=1e7' && x.kernel in BYTES)) {
    lines.push(
      `  ${r.kernel.padEnd(10)} ${r.backend.padEnd(9)} ${(1000 / r.hz).toFixed(2).padStart(8)} ms  ` +
        `${gbps(r).toFixed(1).padStart(5)} GB/s  ${((100 * gbps(r)) / limit).toFixed(0).padStart(3)}% of the limit`,
    );
  }
  for (const backend of ['rust', 'cpp', 'js']) {
    const [f32, f64] = [at('adamStep', 'n=1e7', backend), at('adamStepF64', 'n=1e7', backend)];
    if (f32 && f64) {
      lines.push(
        `  Adam f64/f32 time, ${backend}: ${(f32.hz / f64.hz).toFixed(2)}× (2× at memory speed: twice the bytes)`,
      );
    }
  }
  const rust = at('adamStep', 'n=1e7', 'rust');
  const js = at('adamStep', 'n=1e7', 'js');
  const peer = at('adamStep', 'n=1e7', 'tfjs-wasm');
  const plain = at('adamStep', 'n=1e7', 'js-f64');
  if (rust && js) {
    const target = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const vsJs = rust.hz / js.hz;
    const share = gbps(rust) / limit;
    lines.push(`targets (Adam, n=1e7, rust): ≥ 5× js: ${vsJs.toFixed(2)}× ${target(vsJs >= 5)}`);
    if (plain) {
      const vsPlain = rust.hz / plain.hz;
      lines.push(
        `                             (≥ 5× a plain f64 JS loop: ${vsPlain.toFixed(2)}× ${target(vsPlain >= 5)})`,
      );
    }
    lines.push(
      `                             ≥ 70% of the bandwidth limit: ${(100 * share).toFixed(0)}% ${target(share >= 0.7)}`,
    );
    if (peer) {
      const vsPeer = rust.hz / peer.hz;
      lines.push(`                             ≥ 5× tfjs-wasm: ${vsPeer.toFixed(2)}× ${target(vsPeer >= 5)}`);
    } else {
      lines.push(
        '                             ≥ 5× tfjs-wasm: not measured (@tensorflow/tfjs-backend-wasm not installed)',
      );
    }
  }
  return lines;
}
