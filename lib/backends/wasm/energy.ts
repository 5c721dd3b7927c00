/** The energy family on wasm (native/wasm/energy.cpp): design eqs. 3–4 and the distance. */

import { argumentError } from '../../errors.js';
import type { AsyncKernels, Kernels } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { f32, f64, lengthIs, num, optionsObject } from './args.js';
import { IN, OUT, type Pointer, type WasmCore } from './core.js';

export interface EnergyExports {
  cimm_local_energy(r: Pointer, len: number, primeCount: number, out: Pointer): void;
  cimm_nonlocal_energy(x: Pointer, y: Pointer, d: number, points: Pointer, m: number, l: number, s: number): number;
  cimm_distance(x: Pointer, y: Pointer, d: number): number;
}

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = {
  /** the length of points (M·d); exp and sqrt per point from libm: near parity up to a few thousand */
  nonlocalEnergy: 4096,
  distance: 256,
};
const MAX_PRIME_COUNT = 1_000_000; // cimm::kMaxPrimeCount

/** localEnergy's prime count: an integer in [0, MAX_PRIME_COUNT]. */
function primeCountOf(value: unknown): number {
  const n = num('primeCount', value);
  if (!(n >= 0 && n <= MAX_PRIME_COUNT && Number.isInteger(n))) {
    throw argumentError('primeCount', `an integer >= 0 and <= ${MAX_PRIME_COUNT}`, value);
  }
  return n;
}

export function energyKernels(core: WasmCore<EnergyExports>) {
  return {
    localEnergy(r, primeCount, out) {
      f64('r', r);
      const n = primeCountOf(primeCount);
      f64('out', out);
      lengthIs('out', out, r.length, `a Float64Array of length ${r.length}`);
      core.run('localEnergy', [r, out], [IN, OUT], (e, [pr, po]) => e.cimm_local_energy(pr, r.length, n, po));
    },

    nonlocalEnergy(x, y, points, params) {
      // the options first, each field read once, then the arrays (a getter may resize one)
      const o = optionsObject('params', params);
      const read = {
        lengthScale: num('params.lengthScale', o.lengthScale),
        softening: num('params.softening', o.softening),
      };
      f32('x', x);
      if (x.length === 0) throw argumentError('x', 'a non-empty Float32Array', x);
      f32('y', y);
      lengthIs('y', y, x.length, `a Float32Array of length ${x.length}`);
      f32('points', points);
      if (points.length === 0 || points.length % x.length !== 0) {
        throw argumentError('points', `a Float32Array of M×${x.length} values (M >= 1)`, points);
      }
      if (core.below(points.length, CROSSOVER.nonlocalEnergy)) return js.nonlocalEnergy(x, y, points, read);
      return core.run('nonlocalEnergy', [x, y, points], [IN, IN, IN], (e, [px, py, pp]) =>
        e.cimm_nonlocal_energy(px, py, x.length, pp, points.length / x.length, read.lengthScale, read.softening),
      );
    },

    distance(x, y) {
      f32('x', x);
      f32('y', y);
      lengthIs('y', y, x.length, `a Float32Array of length ${x.length}`);
      if (core.below(x.length, CROSSOVER.distance)) return js.distance(x, y);
      return core.run('distance', [x, y], [IN, IN], (e, [px, py]) => e.cimm_distance(px, py, x.length));
    },
  } satisfies Partial<Kernels>;
}

/** The checks localEnergyAsync makes before queuing any work (the native bindings'). */
export const energyAsyncChecks = {
  localEnergyAsync(
    ...args: Parameters<AsyncKernels['localEnergyAsync']>
  ): Parameters<AsyncKernels['localEnergyAsync']> {
    const [r, primeCount] = args;
    f64('r', r);
    primeCountOf(primeCount);
    return args;
  },
};
