/**
 * The optim family on wasm (native/wasm/optim.cpp): the SGD and Adam steps, their measured
 * twins, and the reductions and probes the optimizers call.
 */

import type { AdamStepMeasuredOptions, Kernels, Real, SgdStepOptions } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import {
  alongside,
  bits,
  bool,
  disjoint,
  dtypeOf,
  EMPTY32,
  f32,
  fields,
  inDtype,
  num,
  optionsObject,
  sameLength,
  sumsOut,
} from './args.js';
import { type Dtype, entry, everyFinite, IN, INOUT, OUT, type Pointer, type WasmCore, type WithF64 } from './core.js';

type SgdScalars = [lr: number, momentum: number, dampening: number, weightDecay: number];
type SgdFlags = [nesterov: number, maximize: number, firstStep: number];
type AdamScalars = [
  beta1: number,
  beta2: number,
  stepSize: number,
  bc2Sqrt: number,
  epsilon: number,
  weightDecay: number,
  decay: number,
];
type AdamFlags = [amsgrad: number, maximize: number];

export type OptimExports = WithF64<
  {
    cimm_sgd_step(p: Pointer, g: Pointer, buf: Pointer, n: number, ...rest: [...SgdScalars, ...SgdFlags]): number;
    cimm_adam_step(
      p: Pointer,
      g: Pointer,
      m: Pointer,
      v: Pointer,
      vMax: Pointer,
      n: number,
      ...rest: [...AdamScalars, ...AdamFlags]
    ): number;
    cimm_sgd_step_measured(
      p: Pointer,
      g: Pointer,
      buf: Pointer,
      before: Pointer,
      n: number,
      ...rest: [...SgdScalars, ...SgdFlags, out: Pointer]
    ): number;
    cimm_adam_step_measured(
      p: Pointer,
      g: Pointer,
      m: Pointer,
      v: Pointer,
      vMax: Pointer,
      before: Pointer,
      n: number,
      ...rest: [...AdamScalars, ...AdamFlags, metricScale: number, metricEpsilon: number, out: Pointer]
    ): number;
    cimm_first_non_finite(x: Pointer, n: number): number;
    cimm_l2_norm(x: Pointer, n: number): number;
    cimm_zero_non_finite(x: Pointer, n: number): number;
    cimm_scale_in_place(x: Pointer, n: number, s: number): void;
  },
  | 'cimm_sgd_step'
  | 'cimm_adam_step'
  | 'cimm_sgd_step_measured'
  | 'cimm_adam_step_measured'
  | 'cimm_first_non_finite'
  | 'cimm_l2_norm'
  | 'cimm_zero_non_finite'
  | 'cimm_scale_in_place'
>;

/** The options' number fields in the order of the C ABI. */
const SGD_SCALARS = ['learningRate', 'momentum', 'dampening', 'weightDecay'] as const;
const ADAM_SCALARS = ['beta1', 'beta2', 'stepSize', 'bc2Sqrt', 'epsilon', 'weightDecay', 'decay'] as const;

/** SGD's hyperparameters, each field read once and checked (`prefix` names the object: "options."). */
function sgdOptions(value: unknown, prefix: string) {
  const o = optionsObject('options', value);
  const scalars = fields(o, SGD_SCALARS, prefix).values as SgdScalars;
  const flags = [
    bool(`${prefix}nesterov`, o.nesterov),
    bool(`${prefix}maximize`, o.maximize),
    bool(`${prefix}firstStep`, o.firstStep),
  ] as const;
  const [learningRate, momentum, dampening, weightDecay] = scalars;
  const [nesterov, maximize, firstStep] = flags;
  /** The options as read, for the js reference (a getter runs once). */
  const read: SgdStepOptions = { learningRate, momentum, dampening, weightDecay, nesterov, maximize, firstStep };
  return { scalars, flags: bits(flags) as SgdFlags, read };
}

/** Adam's hyperparameters (and, `measured`, the metric's), each field read once and checked. */
function adamOptions(value: unknown, prefix: string, measured: boolean) {
  const o = optionsObject('options', value);
  const scalars = fields(o, ADAM_SCALARS, prefix).values as AdamScalars;
  const amsgrad = bool(`${prefix}amsgrad`, o.amsgrad);
  const flags = bits([amsgrad, bool(`${prefix}maximize`, o.maximize)]) as AdamFlags;
  const metric = measured
    ? ([num(`${prefix}metricScale`, o.metricScale), num(`${prefix}metricEpsilon`, o.metricEpsilon)] as const)
    : ([1, 0] as const);
  const [beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay] = scalars;
  const [metricScale, metricEpsilon] = metric;
  const maximize = flags[1] === 1;
  /** The options as read, for the js reference (a getter runs once). */
  const read: AdamStepMeasuredOptions = {
    ...{ beta1, beta2, stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize },
    ...{ metricScale, metricEpsilon },
  };
  return { scalars, flags, amsgrad, metric, read };
}

/** SGD's arrays after its options: momentumBuffer is used (length n) only when momentum ≠ 0 in the dtype. */
function sgdArrays(dtype: Dtype, params: Real, grads: unknown, momentumBuffer: unknown, momentum: number) {
  const buffered = inDtype(dtype, momentum) !== 0;
  alongside(dtype, params.length, 'params', [
    ['grads', grads],
    ['momentumBuffer', momentumBuffer, buffered],
  ]);
  const named: [string, Real][] = [
    ['params', params],
    ['grads', grads as Real],
    ['momentumBuffer', momentumBuffer as Real],
  ];
  disjoint(named, dtype);
  return { named, buf: buffered ? (momentumBuffer as Real) : EMPTY32 };
}

/** Adam's arrays after its options: vMax is used (length n) only with amsgrad. */
function adamArrays(dtype: Dtype, params: Real, grads: unknown, m: unknown, v: unknown, vMax: unknown, ams: boolean) {
  alongside(dtype, params.length, 'params', [
    ['grads', grads],
    ['m', m],
    ['v', v],
    ['vMax', vMax, ams],
  ]);
  const named: [string, Real][] = [
    ['params', params],
    ['grads', grads as Real],
    ['m', m as Real],
    ['v', v as Real],
    ['vMax', vMax as Real],
  ];
  disjoint(named, dtype);
  return { named, w: ams ? (vMax as Real) : EMPTY32 };
}

/** A measured step's extra arrays: `before` (length n) and the sums' `out`, disjoint from the rest. */
function measuredArrays(dtype: Dtype, n: number, named: [string, Real][], before: unknown, out: unknown) {
  alongside(dtype, n, 'params', [['before', before]]);
  const all: [string, Real][] = [...named, ['before', before as Real]];
  disjoint(all, dtype);
  return sumsOut(out, all);
}

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = {
  sgdStep: 256,
  adamStep: 256,
  measured: 256,
  firstNonFinite: 256,
  l2Norm: 256,
  zeroNonFinite: 256,
  scaleInPlace: 1024,
};
const nothing = () => undefined;

export function optimKernels(core: WasmCore<OptimExports>) {
  const scratch3 = new Float64Array(3);
  return {
    sgdStep(params, grads, momentumBuffer, options) {
      // the dtype first, then the options' fields, read once each, before any other array is
      // looked at (the binding's order: a getter may resize an array)
      const dtype = dtypeOf('params', params);
      const { scalars, flags, read } = sgdOptions(options, 'options.');
      const { buf } = sgdArrays(dtype, params, grads, momentumBuffer, scalars[1]);
      if (core.below(params.length, CROSSOVER.sgdStep)) return js.sgdStep(params, grads, momentumBuffer, read);
      // elementwise: streamed in cache-sized pieces (core.ts); finite when every piece is
      const finite = core.stream(
        'sgdStep',
        params.length,
        [params, grads, buf],
        [INOUT, IN, INOUT],
        (e, [pp, pg, pb], n) => entry(e, 'cimm_sgd_step', dtype)(pp, pg, pb, n, ...scalars, ...flags),
        everyFinite,
      );
      return finite === 1;
    },

    adamStep(params, grads, m, v, vMax, options) {
      const dtype = dtypeOf('params', params);
      const o = adamOptions(options, 'options.', false);
      const { w } = adamArrays(dtype, params, grads, m, v, vMax, o.amsgrad);
      if (core.below(params.length, CROSSOVER.adamStep)) return js.adamStep(params, grads, m, v, vMax, o.read);
      const finite = core.stream(
        'adamStep',
        params.length,
        [params, grads, m, v, w],
        [INOUT, IN, INOUT, INOUT, INOUT],
        (e, [pp, pg, pm, pv, pw], n) =>
          entry(e, 'cimm_adam_step', dtype)(pp, pg, pm, pv, pw, n, ...o.scalars, ...o.flags),
        everyFinite,
      );
      return finite === 1;
    },

    sgdStepMeasured(params, grads, momentumBuffer, before, options, out) {
      // the dtype first, then the options' fields, read once each, before any other array is
      // looked at (the binding's order)
      const dtype = dtypeOf('params', params);
      const { scalars, flags, read } = sgdOptions(options, 'options.');
      const { named, buf } = sgdArrays(dtype, params, grads, momentumBuffer, scalars[1]);
      const sums = measuredArrays(dtype, params.length, named, before, out);
      if (core.below(params.length, CROSSOVER.measured)) {
        return js.sgdStepMeasured(params, grads, momentumBuffer, before, read, out);
      }
      const finite = core.run(
        'sgdStepMeasured',
        [params, grads as Real, buf, before, scratch3],
        [INOUT, IN, INOUT, OUT, OUT],
        (e, [pp, pg, pb, pq, po]) =>
          entry(e, 'cimm_sgd_step_measured', dtype)(pp, pg, pb, pq, params.length, ...scalars, ...flags, po),
      );
      sums.set(scratch3);
      return finite === 1;
    },

    adamStepMeasured(params, grads, m, v, vMax, before, options, out) {
      const dtype = dtypeOf('params', params);
      const o = adamOptions(options, 'options.', true);
      const { named, w } = adamArrays(dtype, params, grads, m, v, vMax, o.amsgrad);
      const sums = measuredArrays(dtype, params.length, named, before, out);
      if (core.below(params.length, CROSSOVER.measured)) {
        return js.adamStepMeasured(params, grads, m, v, vMax, before, o.read, out);
      }
      const finite = core.run(
        'adamStepMeasured',
        [params, grads as Real, m as Real, v as Real, w, before, scratch3],
        [INOUT, IN, INOUT, INOUT, INOUT, OUT, OUT],
        (e, [pp, pg, pm, pv, pw, pq, po]) =>
          entry(e, 'cimm_adam_step_measured', dtype)(
            pp,
            pg,
            pm,
            pv,
            pw,
            pq,
            params.length,
            ...o.scalars,
            ...o.flags,
            ...o.metric,
            po,
          ),
      );
      sums.set(scratch3);
      return finite === 1;
    },

    firstNonFinite(values) {
      const dtype = dtypeOf('values', values);
      if (core.below(values.length, CROSSOVER.firstNonFinite)) return js.firstNonFinite(values);
      return core.run('firstNonFinite', [values], [IN], (e, [px]) =>
        entry(e, 'cimm_first_non_finite', dtype)(px, values.length),
      );
    },

    memoryCopy(src, dst) {
      f32('src', src);
      f32('dst', dst);
      sameLength('dst', dst, src.length, 'src');
      disjoint([
        ['src', src],
        ['dst', dst],
      ]);
      // The copy is the kernel: staged, it would be three copies (in, the module's, out), so the
      // probe copies directly, as the js backend does (one memcpy; the module has no threads).
      dst.set(src);
    },

    l2Norm(x) {
      const dtype = dtypeOf('x', x);
      if (core.below(x.length, CROSSOVER.l2Norm)) return js.l2Norm(x);
      return core.run('l2Norm', [x], [IN], (e, [px]) => entry(e, 'cimm_l2_norm', dtype)(px, x.length));
    },

    zeroNonFinite(x) {
      const dtype = dtypeOf('x', x);
      if (core.below(x.length, CROSSOVER.zeroNonFinite)) return js.zeroNonFinite(x);
      // a count: the pieces' counts add up exactly
      return core.stream(
        'zeroNonFinite',
        x.length,
        [x],
        [INOUT],
        (e, [px], n) => entry(e, 'cimm_zero_non_finite', dtype)(px, n),
        (a, b) => a + b,
      );
    },

    scaleInPlace(x, s) {
      const dtype = dtypeOf('x', x);
      const factor = num('s', s);
      if (core.below(x.length, CROSSOVER.scaleInPlace)) return js.scaleInPlace(x, factor);
      core.stream(
        'scaleInPlace',
        x.length,
        [x],
        [INOUT],
        (e, [px], n) => entry(e, 'cimm_scale_in_place', dtype)(px, n, factor),
        nothing,
      );
    },
  } satisfies Partial<Kernels>;
}
