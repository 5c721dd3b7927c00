/** The prodigy family on wasm (native/wasm/prodigy.cpp): Prodigy's accumulation and update passes. */

import type { Kernels, ProdigyAccumulateOptions, ProdigyUpdateOptions, Real } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { alongside, disjoint, dtypeOf, fields, optionsObject } from './args.js';
import { entry, everyFinite, IN, INOUT, OUT, type Pointer, type WasmCore, type WithF64 } from './core.js';

type AccumulateScalars = [
  beta1: number,
  beta2: number,
  beta3: number,
  momentScale: number,
  varianceScale: number,
  sScale: number,
  weightDecay: number,
];

export type ProdigyExports = WithF64<
  {
    cimm_prodigy_accumulate(
      p: Pointer,
      g: Pointer,
      p0: Pointer,
      m: Pointer,
      v: Pointer,
      s: Pointer,
      n: number,
      ...rest: [...AccumulateScalars, out: Pointer]
    ): void;
    cimm_prodigy_update(
      p: Pointer,
      m: Pointer,
      v: Pointer,
      n: number,
      stepSize: number,
      eps: number,
      decay: number,
    ): number;
  },
  'cimm_prodigy_accumulate' | 'cimm_prodigy_update'
>;

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = { prodigyAccumulate: 256, prodigyUpdate: 16 };

/** The options' fields in the order of the C ABI. */
const ACCUMULATE = [
  'beta1',
  'beta2',
  'beta3',
  'momentScale',
  'varianceScale',
  'sScale',
  'weightDecay',
] as const satisfies readonly (keyof ProdigyAccumulateOptions)[];
const UPDATE = ['stepSize', 'epsilon', 'decay'] as const satisfies readonly (keyof ProdigyUpdateOptions)[];

export function prodigyKernels(core: WasmCore<ProdigyExports>) {
  const scratch3 = new Float64Array(3);
  return {
    prodigyAccumulate(params, grads, p0, m, v, s, options) {
      // the dtype, then the options' fields, read once each, then the other arrays
      const dtype = dtypeOf('params', params);
      const { read, values } = fields(optionsObject('options', options), ACCUMULATE, 'options.');
      const h = values as AccumulateScalars;
      const arrays: [string, Real][] = [
        ['grads', grads],
        ['p0', p0],
        ['m', m],
        ['v', v],
        ['s', s],
      ];
      alongside(dtype, params.length, 'params', arrays);
      disjoint([['params', params], ...arrays], dtype);
      if (core.below(params.length, CROSSOVER.prodigyAccumulate)) {
        return js.prodigyAccumulate(params, grads, p0, m, v, s, read);
      }
      core.run(
        'prodigyAccumulate',
        [params, grads, p0, m, v, s, scratch3],
        [IN, IN, IN, INOUT, INOUT, INOUT, OUT],
        (e, [pp, pg, pq, pm, pv, ps, po]) =>
          entry(e, 'cimm_prodigy_accumulate', dtype)(pp, pg, pq, pm, pv, ps, params.length, ...h, po),
      );
      return [scratch3[0], scratch3[1]];
    },

    prodigyUpdate(params, m, v, options) {
      const dtype = dtypeOf('params', params);
      const { read, values: h } = fields(optionsObject('options', options), UPDATE, 'options.');
      const arrays: [string, Real][] = [
        ['m', m],
        ['v', v],
      ];
      alongside(dtype, params.length, 'params', arrays);
      disjoint([['params', params], ...arrays], dtype);
      if (core.below(params.length, CROSSOVER.prodigyUpdate)) return js.prodigyUpdate(params, m, v, read);
      // elementwise: streamed in cache-sized pieces (core.ts); finite when every piece is
      const finite = core.stream(
        'prodigyUpdate',
        params.length,
        [params, m, v],
        [INOUT, IN, IN],
        (e, [pp, pm, pv], n) => entry(e, 'cimm_prodigy_update', dtype)(pp, pm, pv, n, h[0], h[1], h[2]),
        everyFinite,
      );
      return finite === 1;
    },
  } satisfies Partial<Kernels>;
}
