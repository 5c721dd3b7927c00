/**
 * Bench cases for the fractal transform (design eq. 8), the GEMM and the fractal layer
 * (eq. 9), with two yardsticks measured in the same process:
 * - `bandwidthProbe copy n=1e7`: `memoryCopy`, dst ← src over 40 MB with streaming stores on
 *   the kernels' threads (js: TypedArray.set, a memcpy) — the machine's memory bandwidth,
 *   against which the bandwidth-bound fractal step is reported (GB/s and fraction);
 * - a `tfjs-wasm` peer row for matmul: TensorFlow.js 4.22's WASM backend (XNNPACK, SIMD, one
 *   thread in Node), wasm files from the package's local dist/ folder. Its timed operation is
 *   tf.matMul on tensors created beforehand plus dataSync() (the copy out of the wasm heap
 *   into a Float32Array, as the other contenders' results are) and dispose().
 * `fractalSummary` turns the rows into GB/s and GFLOP/s lines.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fractalOffset } from '../../lib/fractal.js';
import type { Kernels } from '../../lib/kernels.js';
import { FractalLayer } from '../../lib/nn/fractal-layer.js';
import type { BenchCase, BenchRow, Contender } from '../harness.js';
import { type BackendList, checkArray, uniformF32 } from './common.js';

const STEP_SIZES: [label: string, n: number][] = [
  ['n=1e3', 1_000],
  ['n=1e5', 100_000],
  ['n=1e7', 10_000_000],
];
const BIG = 10_000_000;
const MATMUL_SIZES = [64, 256, 512];
const LAYER = { batch: 256, inputSize: 512, outputSize: 512, levels: 3 };
const LAYER_LABEL = `batch=${LAYER.batch},${LAYER.inputSize}x${LAYER.outputSize},L=${LAYER.levels}`;

/** Bytes one call moves: one f32 read and one f32 written per element (STREAM counting). */
const bytesPerCall = (n: number) => 8 * n;
const matmulLabel = (s: number) => `${s}x${s}x${s}`;

type Tf = typeof import('@tensorflow/tfjs-core');

/** TensorFlow.js on its WASM backend, wasm binaries from the local package (no download). */
async function loadTfjsWasm(): Promise<Tf | string> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(`${dist}/`);
    if (!(await tf.setBackend('wasm'))) return 'tf.setBackend("wasm") returned false';
    await tf.ready();
    return tf;
  } catch (error) {
    return (error as Error).message;
  }
}

/** |A|·|B|: the scale of a GEMM's rounding error, computed once with the js kernels. */
function gemmScale(js: Kernels, s: number, a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(s * s);
  js.matmul(
    { transA: false, transB: false, m: s, n: s, k: s, alpha: 1, beta: 0 },
    a.map(Math.abs),
    b.map(Math.abs),
    out,
  );
  return out;
}

export function fractalCases(backends: BackendList, filter?: RegExp): BenchCase[] {
  const wanted = (kernel: string, size: string) => !filter || filter.test(`${kernel} ${size}`);
  const cases: BenchCase[] = [];
  const js = backends.find((k) => k.name === 'js');
  if (!js) throw new Error('the fractal bench cases need the js backend');

  // Eq. 8, one step Z ← Z⊙Z + c at the default first offset; inputs inside the bound.
  const c = fractalOffset(4);
  for (const [size, n] of STEP_SIZES) {
    if (!wanted('fractalTransform', size)) continue;
    const z = uniformF32(n, 1, -0.6, 0.6);
    cases.push({
      kernel: 'fractalTransform',
      size,
      check: checkArray(0),
      contenders: backends.map((k) => {
        const out = new Float32Array(n);
        return { backend: k.name, run: () => (k.fractalStep(z, c, out), out) };
      }),
    });
  }
  if (wanted('fractalTransform', 'n=1e7,in-place')) {
    const z = uniformF32(BIG, 1, -0.6, 0.6);
    cases.push({
      kernel: 'fractalTransform',
      size: 'n=1e7,in-place',
      // Each contender iterates its own copy; the check compares everyone's first step.
      check: checkArray(0),
      contenders: backends.map((k) => {
        const own = z.slice();
        return { backend: k.name, run: () => (k.fractalStep(own, c, own), own) };
      }),
    });
  }
  if (wanted('bandwidthProbe', 'copy n=1e7')) {
    const src = uniformF32(BIG, 2);
    cases.push({
      kernel: 'bandwidthProbe',
      size: 'copy n=1e7',
      check: checkArray(0),
      contenders: backends.map((k) => {
        const dst = new Float32Array(BIG);
        return { backend: k.name, run: () => (k.memoryCopy(src, dst), dst) };
      }),
    });
  }

  if (wanted('fractalLayer', LAYER_LABEL)) {
    const { batch, inputSize, outputSize, levels } = LAYER;
    const x = uniformF32(batch * inputSize, 5, -1, 1);
    const g = uniformF32(batch * outputSize, 6, -1, 1);
    const layers = backends.map((k) => new FractalLayer({ inputSize, outputSize, levels, seed: 7, kernels: k }));
    // One forward and one backward (3 GEMMs); compared on ∂L/∂Z, relative to its largest entry.
    cases.push({
      kernel: 'fractalLayer',
      size: LAYER_LABEL,
      check: (got, reference, backend) => {
        const scale = js.maxAbs(reference as Float32Array);
        checkArray(1e-4 * scale)(got, reference, backend);
      },
      contenders: backends.map((k, i) => ({
        backend: k.name,
        run: () => {
          const layer = layers[i];
          layer.forward(x, batch);
          layer.backward(g);
          return layer.gradZ;
        },
      })),
    });
  }
  // Last, and TensorFlow.js loaded only when the first of these runs: plain JS runs 20–50%
  // slower in a process that has loaded tfjs (toolchain notes), so every case before these
  // keeps its js baseline clean, and these compare js and tfjs-wasm in the same conditions.
  let tfjs: Promise<Tf | string> | undefined;
  for (const s of MATMUL_SIZES.filter((size) => wanted('matmul', matmulLabel(size)))) {
    const a = uniformF32(s * s, 3);
    const b = uniformF32(s * s, 4);
    const scale = gemmScale(js, s, a, b);
    const contenders: Contender[] = backends.map((k) => {
      const out = new Float32Array(s * s);
      return {
        backend: k.name,
        run: () => (k.matmul({ transA: false, transB: false, m: s, n: s, k: s, alpha: 1, beta: 0 }, a, b, out), out),
      };
    });
    cases.push({
      kernel: 'matmul',
      size: matmulLabel(s),
      // f32 sums in some order vs the js f64 sums: 2k·2^-24·(|A||B|)_ij (see test/fractal.test.ts)
      check: checkArray(2 * s * 2 ** -24, (i) => scale[i] + 1e-30),
      contenders,
      prepare: async () => {
        if (!tfjs) {
          tfjs = loadTfjsWasm();
          const failed = await tfjs;
          if (typeof failed === 'string') console.warn(`\n  (no tfjs-wasm peer row: ${failed})`);
        }
        const tf = await tfjs;
        if (typeof tf === 'string') return;
        const ta = tf.tensor2d(a, [s, s]);
        const tb = tf.tensor2d(b, [s, s]);
        contenders.push({
          backend: 'tfjs-wasm',
          run: () => {
            const t = tf.matMul(ta, tb);
            const data = t.dataSync() as Float32Array;
            t.dispose();
            return data;
          },
        });
      },
    });
  }
  return cases;
}

/** GB/s, GFLOP/s and the fractal step's fraction of the measured copy bandwidth. */
export function fractalSummary(rows: BenchRow[]): string[] {
  const hz = (kernel: string, size: string, backend: string) =>
    rows.find((r) => r.kernel === kernel && r.size === size && r.backend === backend)?.hz;
  const lines: string[] = [];
  const backendNames = [...new Set(rows.map((r) => r.backend))];
  for (const b of backendNames) {
    const copy = hz('bandwidthProbe', 'copy n=1e7', b);
    const copyGBs = copy && (bytesPerCall(BIG) * copy) / 1e9;
    for (const size of ['n=1e7', 'n=1e7,in-place']) {
      const step = hz('fractalTransform', size, b);
      if (!step) continue;
      const gbs = (bytesPerCall(BIG) * step) / 1e9;
      const fraction = copyGBs
        ? `, ${((100 * gbs) / copyGBs).toFixed(0)}% of its copy probe (${copyGBs.toFixed(1)} GB/s)`
        : '';
      lines.push(`fractalTransform ${size} ${b}: ${gbs.toFixed(1)} GB/s${fraction}`);
    }
    for (const s of MATMUL_SIZES) {
      const m = hz('matmul', matmulLabel(s), b);
      if (m) lines.push(`matmul ${matmulLabel(s)} ${b}: ${((2 * s ** 3 * m) / 1e9).toFixed(1)} GFLOP/s`);
    }
    const layer = hz('fractalLayer', LAYER_LABEL, b);
    if (layer) {
      const flops = 6 * LAYER.batch * LAYER.inputSize * LAYER.outputSize;
      lines.push(`fractalLayer ${LAYER_LABEL} ${b}: ${((flops * layer) / 1e9).toFixed(1)} GFLOP/s in its 3 GEMMs`);
    }
  }
  return lines;
}
