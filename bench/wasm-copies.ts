/**
 * The copy cost of the wasm backend (docs/notes-wasm.md "Copies"): for the bandwidth-bound
 * kernels at 10⁷ elements, the time of a whole-array call (each array copied into linear memory
 * whole, the kernel, each output copied back whole) against a streamed call (the same in pieces
 * that stay in cache, lib/backends/wasm/core.ts `stream`), each beside the same call with the
 * kernel left out (the copies alone), and js's time. Variants interleaved, the best of `rounds`,
 * in one process.
 *
 *     node dist/bench/wasm-copies.js [rounds]
 */
import { readFileSync } from 'node:fs';
import { jsKernels } from '../lib/backends/js/index.js';
import { IN, INOUT, OUT, type Pointer, type Role, WasmCore } from '../lib/backends/wasm/core.js';
import type { FractalExports } from '../lib/backends/wasm/fractal.js';
import type { OptimExports } from '../lib/backends/wasm/optim.js';
import { wasmModulePath } from '../lib/backends/wasm.js';
import { uniformF32 } from './cases/common.js';

type Exports = FractalExports & OptimExports;
const rounds = Number(process.argv[2] ?? 9);
const N = 10_000_000;
const core = new WasmCore<Exports>(new WebAssembly.Module(readFileSync(wasmModulePath())));

// the minimum: on a loaded machine, the least disturbed round
const best = (xs: number[]) => Math.min(...xs);
function time(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

interface Case {
  name: string;
  arrays: Float32Array[];
  roles: Role[];
  kernel: (e: Exports, p: Pointer[], n: number) => unknown;
  js: () => void;
  /** The JS-heap traffic any wasm call must make at least: one TypedArray.set per array read, per array written. */
  floor: () => void;
}

const z = uniformF32(N, 1, -0.6, 0.6);
const out = new Float32Array(N);
const [p, g, m, v] = [uniformF32(N, 2), uniformF32(N, 3, -1e-3, 1e-3), new Float32Array(N), new Float32Array(N)];
const empty = new Float32Array(0);
const scratch = new Float32Array(N);
const cases: Case[] = [
  {
    name: 'fractalStep z → out',
    arrays: [z, out],
    roles: [IN, OUT],
    kernel: (e, [pz, po], n) => e.cimm_fractal_step(pz, 0.125, po, n),
    js: () => jsKernels.fractalStep(z, 0.125, out),
    floor: () => out.set(z),
  },
  {
    name: 'adamStep',
    arrays: [p, g, m, v, empty],
    roles: [INOUT, IN, INOUT, INOUT, INOUT],
    kernel: (e, [pp, pg, pm, pv, pw], n) =>
      e.cimm_adam_step(pp, pg, pm, pv, pw, n, 0.9, 0.999, 1e-3, 0.1, 1e-8, 0, 1, 0, 0),
    js: () =>
      jsKernels.adamStep(p, g, m, v, empty, {
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
    // four arrays read, three written: p, m, v each copied onto a scratch array and back
    floor: () => {
      scratch.set(p);
      scratch.set(g);
      scratch.set(m);
      scratch.set(v);
      p.set(scratch);
      m.set(scratch);
      v.set(scratch);
    },
  },
];

const PIECES = [Number.POSITIVE_INFINITY, 16_384, 262_144, 1_048_576];
const label = (piece: number) => (Number.isFinite(piece) ? `streamed ${piece / 1024}Ki` : 'whole');
for (const c of cases) {
  const times = new Map<string, number[]>();
  const add = (k: string, ms: number) => times.set(k, [...(times.get(k) ?? []), ms]);
  for (let r = 0; r < rounds; r++) {
    add('js', time(c.js));
    add('floor', time(c.floor));
    for (const piece of PIECES) {
      core.piece = piece;
      add(
        label(piece),
        time(() => core.stream(c.name, N, c.arrays, c.roles, c.kernel, () => 0)),
      );
      add(
        `${label(piece)} copies only`,
        time(() =>
          core.stream(
            c.name,
            N,
            c.arrays,
            c.roles,
            () => 0,
            () => 0,
          ),
        ),
      );
    }
  }
  const js = best(times.get('js') ?? []);
  const floor = best(times.get('floor') ?? []);
  console.log(`\n${c.name}, n = 1e7 (best of ${rounds}; js ${js.toFixed(1)} ms)`);
  console.log(
    `the copies any wasm call must make (TypedArray.set, each array once each way): ${floor.toFixed(1)} ms, so wasm ≤ ${(js / floor).toFixed(2)}× js here`,
  );
  console.log('| variant | ms | copies only, ms | copy share | wasm vs js |');
  console.log('|---|---|---|---|---|');
  for (const piece of PIECES) {
    const all = best(times.get(label(piece)) ?? []);
    const copies = best(times.get(`${label(piece)} copies only`) ?? []);
    console.log(
      `| ${label(piece)} | ${all.toFixed(1)} | ${copies.toFixed(1)} | ${((100 * copies) / all).toFixed(0)}% | ${(js / all).toFixed(2)}× |`,
    );
  }
}
