/** The balance family on wasm (native/wasm/balance.cpp): the update energy and slope of an optimizer step. */

import type { Kernels } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { alongside, dtypeOf, f64, lengthIs, num, optionsObject, real } from './args.js';
import { entry, IN, OUT, type Pointer, type WasmCore, type WithF64 } from './core.js';

export type BalanceExports = WithF64<
  {
    cimm_update_energy(
      before: Pointer,
      after: Pointer,
      grads: Pointer,
      metric: Pointer,
      n: number,
      metricScale: number,
      epsilon: number,
      out: Pointer,
    ): void;
    cimm_update_slope(before: Pointer, after: Pointer, grads: Pointer, n: number): number;
  },
  'cimm_update_energy' | 'cimm_update_slope'
>;

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = { updateEnergy: 256, updateSlope: 256 };

export function balanceKernels(core: WasmCore<BalanceExports>) {
  const scratch3 = new Float64Array(3);
  return {
    updateEnergy(before, after, grads, metric, params, out) {
      const dtype = dtypeOf('before', before);
      // the options' fields, read once each, before the other arrays
      const o = optionsObject('params', params);
      const scale = num('params.metricScale', o.metricScale);
      const eps = num('params.epsilon', o.epsilon);
      const n = before.length;
      // an empty metric is w = 1: the kernel takes a null pointer for it
      real('metric', metric, dtype);
      alongside(dtype, n, 'before', [
        ['after', after],
        ['grads', grads],
        ['metric', metric, metric.length !== 0],
      ]);
      f64('out', out);
      lengthIs('out', out, 3, 'a Float64Array of length 3');
      if (core.below(n, CROSSOVER.updateEnergy))
        return js.updateEnergy(before, after, grads, metric, { metricScale: scale, epsilon: eps }, out);
      core.run(
        'updateEnergy',
        [before, after, grads, metric, scratch3],
        [IN, IN, IN, IN, OUT],
        (e, [pb, pa, pg, pm, po]) =>
          entry(e, 'cimm_update_energy', dtype)(pb, pa, pg, metric.length > 0 ? pm : 0, n, scale, eps, po),
      );
      out.set(scratch3);
    },

    updateSlope(before, after, grads) {
      const dtype = dtypeOf('before', before);
      alongside(dtype, before.length, 'before', [
        ['after', after],
        ['grads', grads],
      ]);
      if (core.below(before.length, CROSSOVER.updateSlope)) return js.updateSlope(before, after, grads);
      return core.run('updateSlope', [before, after, grads], [IN, IN, IN], (e, [pb, pa, pg]) =>
        entry(e, 'cimm_update_slope', dtype)(pb, pa, pg, before.length),
      );
    },
  } satisfies Partial<Kernels>;
}
