/** The fractal family on wasm (native/wasm/fractal.cpp): design eq. 8, its backward rule, the bound check. */

import type { Kernels } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { f32, finite, sameLength } from './args.js';
import { apart, IN, OUT, type Pointer, type WasmCore } from './core.js';

export interface FractalExports {
  cimm_fractal_step(z: Pointer, offset: number, out: Pointer, n: number): void;
  cimm_fractal_step_backward(z: Pointer, gradOut: Pointer, gradZ: Pointer, n: number): void;
  cimm_max_abs(x: Pointer, n: number): number;
}

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = { fractalStep: 256, fractalStepBackward: 256, maxAbs: 1024 };
const nothing = () => undefined;

export function fractalKernels(core: WasmCore<FractalExports>) {
  return {
    fractalStep(z, offset, out) {
      f32('z', z);
      const c = finite('offset', offset);
      f32('out', out);
      sameLength('out', out, z.length, 'z');
      if (core.below(z.length, CROSSOVER.fractalStep)) return js.fractalStep(apart(z, out), offset, out);
      // elementwise: streamed in cache-sized pieces (core.ts), one pass over memory each way
      core.stream(
        'fractalStep',
        z.length,
        [z, out],
        [IN, OUT],
        (e, [pz, po], n) => e.cimm_fractal_step(pz, c, po, n),
        nothing,
      );
    },

    fractalStepBackward(z, gradOut, gradZ) {
      f32('z', z);
      f32('gradOut', gradOut);
      f32('gradZ', gradZ);
      sameLength('gradOut', gradOut, z.length, 'z');
      sameLength('gradZ', gradZ, z.length, 'z');
      if (core.below(z.length, CROSSOVER.fractalStepBackward))
        return js.fractalStepBackward(apart(z, gradZ), apart(gradOut, gradZ), gradZ);
      core.stream(
        'fractalStepBackward',
        z.length,
        [z, gradOut, gradZ],
        [IN, IN, OUT],
        (e, [pz, pg, po], n) => e.cimm_fractal_step_backward(pz, pg, po, n),
        nothing,
      );
    },

    maxAbs(x) {
      f32('x', x);
      if (core.below(x.length, CROSSOVER.maxAbs)) return js.maxAbs(x);
      return core.run('maxAbs', [x], [IN], (e, [px]) => e.cimm_max_abs(px, x.length));
    },
  } satisfies Partial<Kernels>;
}
