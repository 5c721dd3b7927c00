/** The qdt family on wasm (native/wasm/qdt.cpp): QDT/QBE eqs. 1, 2, 6, 15. */

import { argumentError } from '../../errors.js';
import type { Kernels } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { f64, finite, lengthIs, num, optionsObject } from './args.js';
import { apart, IN, OUT, type Pointer, type WasmCore } from './core.js';

export interface QdtExports {
  cimm_coupling(t: Pointer, n: number, alpha: number, beta: number, gamma: number, lambda: number, out: Pointer): void;
  cimm_scale_transition(t: Pointer, n: number, scaleCoupling: number, criticalTime: number, out: Pointer): void;
  cimm_shannon_entropy(p: Pointer, n: number): number;
  cimm_hermitian_eigenvalues(re: Pointer, im: Pointer, d: number, out: Pointer): void;
}

const MAX_DIMENSION = 4096; // cimm::kMaxDimension
/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = {
  /** an exp, a sin and a cos per element from wasi-libc's libm, slower than V8's Math (notes) */
  coupling: 16_384,
  scaleTransition: 256,
  /** a log per element from libm: near parity at 10³ */
  shannonEntropy: 4096,
  /** d */
  hermitianEigenvalues: 4,
};
const nothing = () => undefined;

/** `out` of the length of t (the elementwise qdt kernels). */
function outLikeT(out: unknown, t: Float64Array): Float64Array {
  const o = f64('out', out);
  lengthIs('out', o, t.length, `a Float64Array of length ${t.length} (the length of t)`);
  return o;
}

export function qdtKernels(core: WasmCore<QdtExports>) {
  return {
    coupling(t, params, out) {
      // the options first, each field read once, then the arrays (a getter may resize one)
      const o = optionsObject('params', params);
      const read = {
        alpha: finite('params.alpha', o.alpha),
        beta: finite('params.beta', o.beta),
        gamma: finite('params.gamma', o.gamma),
        lambdaCosmo: finite('params.lambdaCosmo', o.lambdaCosmo),
      };
      const c = [read.alpha, read.beta, read.gamma, read.lambdaCosmo] as const;
      f64('t', t);
      outLikeT(out, t);
      if (core.below(t.length, CROSSOVER.coupling)) return js.coupling(apart(t, out), read, out);
      core.stream(
        'coupling',
        t.length,
        [t, out],
        [IN, OUT],
        (e, [pt, po], n) => e.cimm_coupling(pt, n, ...c, po),
        nothing,
      );
    },

    scaleTransition(t, params, out) {
      const o = optionsObject('params', params);
      const lambda = finite('params.scaleCoupling', o.scaleCoupling);
      const tc = finite('params.criticalTime', o.criticalTime);
      f64('t', t);
      outLikeT(out, t);
      if (core.below(t.length, CROSSOVER.scaleTransition)) {
        return js.scaleTransition(apart(t, out), { scaleCoupling: lambda, criticalTime: tc }, out);
      }
      core.stream(
        'scaleTransition',
        t.length,
        [t, out],
        [IN, OUT],
        (e, [pt, po], n) => e.cimm_scale_transition(pt, n, lambda, tc, po),
        nothing,
      );
    },

    shannonEntropy(p) {
      f64('p', p);
      if (core.below(p.length, CROSSOVER.shannonEntropy)) return js.shannonEntropy(p);
      return core.run('shannonEntropy', [p], [IN], (e, [pp]) => e.cimm_shannon_entropy(pp, p.length));
    },

    hermitianEigenvalues(re, im, d, out) {
      const dv = num('d', d);
      if (!(dv >= 0 && dv <= MAX_DIMENSION && Number.isInteger(dv))) {
        throw argumentError('d', `an integer in [0, ${MAX_DIMENSION}]`, d);
      }
      const matrix = `a d×d matrix of length ${dv * dv} (d = ${dv})`;
      f64('re', re);
      lengthIs('re', re, dv * dv, matrix);
      f64('im', im);
      lengthIs('im', im, dv * dv, matrix);
      f64('out', out);
      lengthIs('out', out, dv, `a Float64Array of length ${dv} (d)`);
      if (core.below(dv, CROSSOVER.hermitianEigenvalues)) return js.hermitianEigenvalues(re, im, dv, out);
      core.run('hermitianEigenvalues', [re, im, out], [IN, IN, OUT], (e, [pr, pi, po]) =>
        e.cimm_hermitian_eigenvalues(pr, pi, dv, po),
      );
    },
  } satisfies Partial<Kernels>;
}
