/** The flow family on wasm (native/wasm/flow.cpp): eqs. 10–11, the energy flow and its grid reductions. */

import { argumentError } from '../../errors.js';
import type { AsyncKernels, Kernels } from '../../kernels.js';
import { jsKernels as js } from '../js/index.js';
import { BOUNDARIES, code, f64, field, grid, gridDim, lengthIs, optionsObject, outputGrid } from './args.js';
import { IN, OUT, type Pointer, type WasmCore } from './core.js';

export interface FlowExports {
  cimm_energy_flow_step(
    energy: Pointer,
    potential: Pointer,
    source: Pointer,
    nx: number,
    ny: number,
    h: number,
    dt: number,
    beta: number,
    gamma: number,
    kappa: number,
    boundary: number,
    out: Pointer,
  ): void;
  cimm_energy_flow_max_step(
    potential: Pointer,
    nx: number,
    ny: number,
    h: number,
    beta: number,
    gamma: number,
    boundary: number,
  ): number;
  cimm_laplacian(energy: Pointer, nx: number, ny: number, h: number, boundary: number, out: Pointer): void;
  cimm_grid_sums(x: Pointer, n: number, out: Pointer): void;
}

/** Below these sizes a call runs the js reference (measured crossovers: docs/notes-wasm.md, core.ts `below`). */
const CROSSOVER = {
  /** four grids staged whole (a stencil is not streamed): near parity at 64² cells */
  energyFlowStep: 16_384,
  energyFlowMaxStep: 1024,
  laplacian: 1024,
  gridSums: 1024,
};

/** A step's coefficients: h, dt, β, γ of params (a run's too), in the binding's order. */
function coefficients(p: Record<string, unknown>) {
  return {
    h: field(p, 'h', 'positive'),
    dt: field(p, 'dt', 'nonNegative'),
    beta: field(p, 'beta', 'nonNegative'),
    gamma: field(p, 'gamma'),
  };
}

export function flowKernels(core: WasmCore<FlowExports>) {
  const scratch3 = new Float64Array(3);
  return {
    energyFlowStep(energy, potential, source, nx, ny, params, out) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      const cells = x * y;
      // the options before the arrays, each field read once (a getter may resize an array)
      const p = optionsObject('params', params);
      const { h, dt, beta, gamma } = coefficients(p);
      const kappa = field(p, 'kappa');
      const boundary = code('boundary', p.boundary, BOUNDARIES);
      grid('energy', energy, cells);
      grid('potential', potential, cells);
      grid('source', source, cells);
      outputGrid(out, cells, [
        ['energy', energy],
        ['potential', potential],
        ['source', source],
      ]);
      if (core.below(cells, CROSSOVER.energyFlowStep)) {
        const read = { h, dt, beta, gamma, kappa, boundary: BOUNDARIES[boundary] };
        return js.energyFlowStep(energy, potential, source, x, y, read, out);
      }
      core.run('energyFlowStep', [energy, potential, source, out], [IN, IN, IN, OUT], (e, [pe, pp, ps, po]) =>
        e.cimm_energy_flow_step(pe, pp, ps, x, y, h, dt, beta, gamma, kappa, boundary, po),
      );
    },

    energyFlowMaxStep(potential, nx, ny, params) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      const p = optionsObject('params', params);
      const h = field(p, 'h', 'positive');
      const beta = field(p, 'beta', 'nonNegative');
      const gamma = field(p, 'gamma');
      const boundary = code('boundary', p.boundary, BOUNDARIES);
      grid('potential', potential, x * y);
      if (core.below(x * y, CROSSOVER.energyFlowMaxStep)) {
        return js.energyFlowMaxStep(potential, x, y, { h, beta, gamma, boundary: BOUNDARIES[boundary] });
      }
      return core.run('energyFlowMaxStep', [potential], [IN], (e, [pp]) =>
        e.cimm_energy_flow_max_step(pp, x, y, h, beta, gamma, boundary),
      );
    },

    laplacian(energy, nx, ny, params, out) {
      const x = gridDim('nx', nx);
      const y = gridDim('ny', ny);
      const p = optionsObject('params', params);
      const h = field(p, 'h', 'positive', 'params.');
      const b = code('params.boundary', p.boundary, BOUNDARIES);
      grid('energy', energy, x * y);
      outputGrid(out, x * y, [['energy', energy]]);
      if (core.below(x * y, CROSSOVER.laplacian))
        return js.laplacian(energy, x, y, { h, boundary: BOUNDARIES[b] }, out);
      core.run('laplacian', [energy, out], [IN, OUT], (e, [pe, po]) => e.cimm_laplacian(pe, x, y, h, b, po));
    },

    gridSums(x, out) {
      f64('x', x);
      f64('out', out);
      lengthIs('out', out, 3, 'a Float64Array of length 3');
      if (core.below(x.length, CROSSOVER.gridSums)) return js.gridSums(x, out);
      core.run('gridSums', [x, scratch3], [IN, OUT], (e, [px, po]) => e.cimm_grid_sums(px, x.length, po));
      out.set(scratch3);
    },
  } satisfies Partial<Kernels>;
}

/** The checks energyFlowRunAsync makes before queuing any work (the native bindings'). */
export const flowAsyncChecks = {
  energyFlowRunAsync(
    ...args: Parameters<AsyncKernels['energyFlowRunAsync']>
  ): Parameters<AsyncKernels['energyFlowRunAsync']> {
    const [energy, potential, source, nx, ny, params, kappas, signal] = args;
    const cells = gridDim('nx', nx) * gridDim('ny', ny);
    const p = optionsObject('params', params);
    // the coefficients as read, for the run (a getter runs once)
    const read = { ...coefficients(p), boundary: BOUNDARIES[code('boundary', p.boundary, BOUNDARIES)] };
    grid('energy', energy, cells);
    grid('potential', potential, cells);
    grid('source', source, cells);
    if (!f64('kappas', kappas).every(Number.isFinite)) {
      throw argumentError('kappas', 'a Float64Array of finite numbers', kappas);
    }
    return [energy, potential, source, nx, ny, read, kappas, signal];
  },
};
