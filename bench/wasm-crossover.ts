/**
 * Where the wasm backend's call overtakes the js loop (docs/notes-wasm.md "Crossovers"): each
 * kernel timed on the module itself (the routing of small calls to js off) and on js at sizes
 * from 1 to 16 Ki, interleaved, in one process; prints wasm/js per size and the smallest size
 * from which wasm stays ahead. The crossovers in lib/backends/wasm/<family>.ts come from here.
 *
 *     node dist/bench/wasm-crossover.js [rounds] [kernel-regex]
 */
import { readFileSync } from 'node:fs';
import { jsKernels } from '../lib/backends/js/index.js';
import { WasmCore } from '../lib/backends/wasm/core.js';
import { type Exports, wasmKernels, wasmModulePath } from '../lib/backends/wasm.js';
import type { Kernels } from '../lib/kernels.js';
import { uniformF32, uniformF64 } from './cases/common.js';

const rounds = Number(process.argv[2] ?? 5);
const only = process.argv[3] ? new RegExp(process.argv[3]) : undefined;
const core = new WasmCore<Exports>(new WebAssembly.Module(readFileSync(wasmModulePath())));
core.routeSmall = false;
const wasm = wasmKernels(core, wasmModulePath());

/** A call of `kernel` at size n on backend k (fresh arrays per size, reused across calls). */
type Make = (n: number) => (k: Kernels) => unknown;
const SIZES = [1, 4, 16, 64, 256, 1024, 4096, 16_384];
const e32 = new Float32Array(0);
const SGD = {
  learningRate: 1e-3,
  momentum: 0.9,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
  maximize: false,
  firstStep: false,
};
const ADAM = {
  beta1: 0.9,
  beta2: 0.999,
  stepSize: 1e-3,
  bc2Sqrt: 0.1,
  epsilon: 1e-8,
  weightDecay: 0,
  decay: 1,
  amsgrad: false,
  maximize: false,
};

const kernels: Record<string, Make> = {
  fractalStep: (n) => {
    const [z, out] = [uniformF32(n, 1, -0.6, 0.6), new Float32Array(n)];
    return (k) => k.fractalStep(z, 0.125, out);
  },
  fractalStepBackward: (n) => {
    const [z, g, out] = [uniformF32(n, 1), uniformF32(n, 2), new Float32Array(n)];
    return (k) => k.fractalStepBackward(z, g, out);
  },
  maxAbs: (n) => {
    const x = uniformF32(n, 1);
    return (k) => k.maxAbs(x);
  },
  axpby: (n) => {
    const [x, y] = [uniformF32(n, 1), uniformF32(n, 2)];
    return (k) => k.axpby(0.5, x, 0.25, y);
  },
  dot: (n) => {
    const [x, y] = [uniformF32(n, 1), uniformF32(n, 2)];
    return (k) => k.dot(x, y);
  },
  sum: (n) => {
    const x = uniformF32(n, 1);
    return (k) => k.sum(x);
  },
  activationForward: (n) => {
    const [x, out] = [uniformF32(n, 1), new Float32Array(n)];
    return (k) => k.activationForward('tanh', x, 0, out);
  },
  activationBackward: (n) => {
    const [y, g, out] = [uniformF32(n, 1, -0.9, 0.9), uniformF32(n, 2), new Float32Array(n)];
    return (k) => k.activationBackward('tanh', y, g, out);
  },
  matmul: (n) => {
    const s = Math.max(1, Math.round(Math.cbrt(n)));
    const [a, b, c] = [uniformF32(s * s, 1), uniformF32(s * s, 2), new Float32Array(s * s)];
    return (k) => k.matmul({ transA: false, transB: false, m: s, n: s, k: s, alpha: 1, beta: 0 }, a, b, c);
  },
  distance: (n) => {
    const [x, y] = [uniformF32(n, 1), uniformF32(n, 2)];
    return (k) => k.distance(x, y);
  },
  nonlocalEnergy: (n) => {
    const d = Math.max(1, Math.round(Math.sqrt(n)));
    const [x, y, points] = [uniformF32(d, 1), uniformF32(d, 2), uniformF32(d * d, 3)];
    return (k) => k.nonlocalEnergy(x, y, points, { lengthScale: 1, softening: 1e-3 });
  },
  localEnergy: (n) => {
    const [r, out] = [uniformF64(n, 1, 0.5, 4), new Float64Array(n)];
    return (k) => k.localEnergy(r, 10, out);
  },
  coupling: (n) => {
    const [t, out] = [uniformF64(n, 1, 0, 10), new Float64Array(n)];
    return (k) => k.coupling(t, { alpha: 0.5, beta: 0.1, gamma: 2, lambdaCosmo: 0.3 }, out);
  },
  scaleTransition: (n) => {
    const [t, out] = [uniformF64(n, 1, 0, 10), new Float64Array(n)];
    return (k) => k.scaleTransition(t, { scaleCoupling: 0.5, criticalTime: 5 }, out);
  },
  shannonEntropy: (n) => {
    const p = uniformF64(n, 1, 0, 1);
    return (k) => k.shannonEntropy(p);
  },
  hermitianEigenvalues: (n) => {
    const d = Math.max(1, Math.round(Math.sqrt(n)));
    const re = uniformF64(d * d, 1);
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) re[i * d + j] = re[j * d + i];
    const [im, out] = [new Float64Array(d * d), new Float64Array(d)];
    return (k) => k.hermitianEigenvalues(re, im, d, out);
  },
  sgdStep: (n) => {
    const [p, g, b] = [uniformF32(n, 1), uniformF32(n, 2, -1e-3, 1e-3), new Float32Array(n)];
    return (k) => k.sgdStep(p, g, b, SGD);
  },
  adamStep: (n) => {
    const [p, g, m, v] = [uniformF32(n, 1), uniformF32(n, 2, -1e-3, 1e-3), new Float32Array(n), new Float32Array(n)];
    return (k) => k.adamStep(p, g, m, v, e32, ADAM);
  },
  adamStepMeasured: (n) => {
    const [p, g, m, v] = [uniformF32(n, 1), uniformF32(n, 2, -1e-3, 1e-3), new Float32Array(n), new Float32Array(n)];
    const [before, out] = [new Float32Array(n), new Float64Array(3)];
    const options = {
      beta1: 0.9,
      beta2: 0.999,
      stepSize: 1e-3,
      bc2Sqrt: 0.1,
      epsilon: 1e-8,
      weightDecay: 0,
      decay: 1,
      amsgrad: false,
      maximize: false,
      metricScale: 1,
      metricEpsilon: 1e-12,
    };
    return (k) => k.adamStepMeasured(p, g, m, v, e32, before, options, out);
  },
  prodigyUpdate: (n) => {
    const [p, m, v] = [uniformF32(n, 1), uniformF32(n, 2), uniformF32(n, 3, 0, 1)];
    return (k) => k.prodigyUpdate(p, m, v, { stepSize: 1e-6, epsilon: 1e-8, decay: 1 });
  },
  updateEnergy: (n) => {
    const [b, a, g, out] = [uniformF32(n, 1), uniformF32(n, 2), uniformF32(n, 3), new Float64Array(3)];
    return (k) => k.updateEnergy(b, a, g, e32, { metricScale: 1, epsilon: 1e-12 }, out);
  },
  updateSlope: (n) => {
    const [b, a, g] = [uniformF32(n, 1), uniformF32(n, 2), uniformF32(n, 3)];
    return (k) => k.updateSlope(b, a, g);
  },
  firstNonFinite: (n) => {
    const x = uniformF32(n, 1);
    return (k) => k.firstNonFinite(x);
  },
  l2Norm: (n) => {
    const x = uniformF32(n, 1);
    return (k) => k.l2Norm(x);
  },
  scaleInPlace: (n) => {
    const x = uniformF32(n, 1);
    return (k) => k.scaleInPlace(x, 1);
  },
  gridSums: (n) => {
    const [x, out] = [uniformF64(n, 1), new Float64Array(3)];
    return (k) => k.gridSums(x, out);
  },
  energyFlowStep: (n) => {
    const s = Math.max(1, Math.round(Math.sqrt(n)));
    const [e, p, src, out] = [
      uniformF64(s * s, 1, 0, 1),
      uniformF64(s * s, 2),
      uniformF64(s * s, 3),
      new Float64Array(s * s),
    ];
    const params = { h: 1, dt: 0.01, beta: 0.1, gamma: 0.1, kappa: 0.01, boundary: 'periodic' as const };
    return (k) => k.energyFlowStep(e, p, src, s, s, params, out);
  },
};

/** Seconds per call of f: calls repeated for about 5 ms. */
function perCall(f: () => unknown): number {
  let calls = 0;
  const t0 = process.hrtime.bigint();
  let t = t0;
  do {
    for (let i = 0; i < 8; i++) f();
    calls += 8;
    t = process.hrtime.bigint();
  } while (t - t0 < 5_000_000n);
  return Number(t - t0) / 1e9 / calls;
}

console.log(`wasm/js (js time / wasm time; > 1: wasm faster), best of ${rounds} interleaved rounds`);
console.log(`| kernel | ${SIZES.join(' | ')} | wasm ahead from |`);
console.log(`|---|${SIZES.map(() => '---|').join('')}---|`);
for (const [name, make] of Object.entries(kernels)) {
  if (only && !only.test(name)) continue;
  const ratios = SIZES.map((n) => {
    const call = make(n);
    let [w, j] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    for (let r = 0; r < rounds; r++) {
      w = Math.min(
        w,
        perCall(() => call(wasm)),
      );
      j = Math.min(
        j,
        perCall(() => call(jsKernels)),
      );
    }
    return j / w;
  });
  let from = SIZES.length;
  while (from > 0 && ratios[from - 1] >= 1) from--;
  const ahead = from === SIZES.length ? 'never' : `n = ${SIZES[from]}`;
  console.log(`| ${name} | ${ratios.map((r) => `${r.toFixed(2)}×`).join(' | ')} | ${ahead} |`);
}
