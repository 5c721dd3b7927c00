/** The linalg family on wasm (native/wasm/linalg.cpp): the GEMM, axpby, the reductions, the activations. */

import { argumentError } from '../../errors.js';
import type { AsyncKernels, Kernels, MatmulParams } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import {
  ACTIVATIONS,
  bool,
  code,
  dimension,
  dtypeOf,
  f32,
  finite,
  matrixOf,
  optionsObject,
  real,
  sameLength,
} from './args.js';
import { apart, entry, IN, INOUT, OUT, overlap, type Pointer, type WasmCore, type WithF64 } from './core.js';

export type LinalgExports = WithF64<
  {
    cimm_matmul(
      transA: number,
      transB: number,
      m: number,
      n: number,
      k: number,
      alpha: number,
      a: Pointer,
      b: Pointer,
      beta: number,
      c: Pointer,
    ): void;
    cimm_axpby(alpha: number, x: Pointer, beta: number, y: Pointer, n: number): void;
    cimm_dot(x: Pointer, y: Pointer, n: number): number;
    cimm_sum(x: Pointer, n: number): number;
    cimm_activation_forward(activation: number, x: Pointer, shift: number, out: Pointer, n: number): void;
    cimm_activation_backward(activation: number, y: Pointer, gradOut: Pointer, gradPre: Pointer, n: number): void;
  },
  'cimm_matmul' | 'cimm_activation_forward' | 'cimm_activation_backward'
>;

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = {
  /** m·n·k */
  matmul: 256,
  axpby: 256,
  dot: 1024,
  sum: 256,
  /** identity and relu; tanh and sigmoid call libm's tanh and exp, slower in wasm than V8's Math */
  activation: 256,
  activationLibm: 16_384,
  activationBackward: 256,
};
const nothing = () => undefined;

export function linalgKernels(core: WasmCore<LinalgExports>) {
  return {
    matmul(params, a, b, c) {
      // the options first, each field read once, then the arrays (a getter may resize one)
      const read = matmulParams(params, 'params.');
      const { transA: ta, transB: tb, m: mm, n: nn, k: kk, alpha: al, beta: be } = read;
      const dtype = dtypeOf('c', c);
      real('a', a, dtype);
      real('b', b, dtype);
      real('c', c, dtype);
      matrixOf('a', a, ta ? kk : mm, ta ? mm : kk, dtype);
      matrixOf('b', b, tb ? nn : kk, tb ? kk : nn, dtype);
      matrixOf('c', c, mm, nn, dtype);
      if (overlap(a, c) || overlap(b, c)) {
        throw argumentError('c', 'an array that does not overlap a or b', c);
      }
      if (core.below(mm * nn * kk, CROSSOVER.matmul)) return js.matmul(read, a, b, c);
      // β = 0 overwrites c without reading it: c need not be copied in.
      core.run('matmul', [a, b, c], [IN, IN, be === 0 ? OUT : INOUT], (e, [pa, pb, pc]) =>
        entry(e, 'cimm_matmul', dtype)(ta ? 1 : 0, tb ? 1 : 0, mm, nn, kk, al, pa, pb, be, pc),
      );
    },

    axpby(alpha, x, beta, y) {
      const al = finite('alpha', alpha);
      f32('x', x);
      const be = finite('beta', beta);
      f32('y', y);
      sameLength('x', x, y.length, 'y');
      if (core.below(y.length, CROSSOVER.axpby)) return js.axpby(al, apart(x, y), be, y);
      core.stream(
        'axpby',
        y.length,
        [x, y],
        [IN, be === 0 ? OUT : INOUT],
        (e, [px, py], n) => e.cimm_axpby(al, px, be, py, n),
        nothing,
      );
    },

    dot(x, y) {
      f32('x', x);
      f32('y', y);
      sameLength('y', y, x.length, 'x');
      if (core.below(x.length, CROSSOVER.dot)) return js.dot(x, y);
      return core.run('dot', [x, y], [IN, IN], (e, [px, py]) => e.cimm_dot(px, py, x.length));
    },

    sum(x) {
      f32('x', x);
      if (core.below(x.length, CROSSOVER.sum)) return js.sum(x);
      return core.run('sum', [x], [IN], (e, [px]) => e.cimm_sum(px, x.length));
    },

    activationForward(activation, x, shift, out) {
      const act = code('activation', activation, ACTIVATIONS);
      const dtype = dtypeOf('out', out);
      real('x', x, dtype);
      const s = finite('shift', shift);
      sameLength('x', x, out.length, 'out', dtype);
      const crossover = act === 1 || act === 2 ? CROSSOVER.activationLibm : CROSSOVER.activation;
      if (core.below(out.length, crossover)) return js.activationForward(activation, apart(x, out), shift, out);
      core.stream(
        'activationForward',
        out.length,
        [x, out],
        [IN, OUT],
        (e, [px, po], n) => entry(e, 'cimm_activation_forward', dtype)(act, px, s, po, n),
        nothing,
      );
    },

    activationBackward(activation, y, gradOut, gradPre) {
      const act = code('activation', activation, ACTIVATIONS);
      const dtype = dtypeOf('gradPre', gradPre);
      real('y', y, dtype);
      real('gradOut', gradOut, dtype);
      sameLength('y', y, gradPre.length, 'gradPre', dtype);
      sameLength('gradOut', gradOut, gradPre.length, 'gradPre', dtype);
      if (core.below(gradPre.length, CROSSOVER.activationBackward))
        return js.activationBackward(activation, apart(y, gradPre), apart(gradOut, gradPre), gradPre);
      core.stream(
        'activationBackward',
        gradPre.length,
        [y, gradOut, gradPre],
        [IN, IN, OUT],
        (e, [py, pg, po], n) => entry(e, 'cimm_activation_backward', dtype)(act, py, pg, po, n),
        nothing,
      );
    },
  } satisfies Partial<Kernels>;
}

/** matmul's params, each field read once and checked, named `<prefix><field>`. */
function matmulParams(params: unknown, prefix: string): MatmulParams {
  const o = optionsObject('params', params);
  return {
    transA: bool(`${prefix}transA`, o.transA),
    transB: bool(`${prefix}transB`, o.transB),
    m: dimension(`${prefix}m`, o.m),
    n: dimension(`${prefix}n`, o.n),
    k: dimension(`${prefix}k`, o.k),
    alpha: finite(`${prefix}alpha`, o.alpha),
    beta: finite(`${prefix}beta`, o.beta),
  };
}

/**
 * The checks matmulAsync makes before queuing any work (the native bindings', which name the
 * fields bare); returns the arguments to run with, params as read (a getter runs once).
 */
export const linalgAsyncChecks = {
  matmulAsync(...args: Parameters<AsyncKernels['matmulAsync']>): Parameters<AsyncKernels['matmulAsync']> {
    const [params, a, b, c, signal] = args;
    const read = matmulParams(params, '');
    const { transA: ta, transB: tb, m, n, k, beta } = read;
    matrixOf('a', f32('a', a), ta ? k : m, ta ? m : k);
    matrixOf('b', f32('b', b), tb ? n : k, tb ? k : n);
    if (beta !== 0) matrixOf('c', f32('c', c), m, n);
    return [read, a, b, c, signal];
  },
};
