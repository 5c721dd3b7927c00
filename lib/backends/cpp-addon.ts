/**
 * The declared interface of the C++ addon: exactly what native/src/binding/ registers (each
 * family's `register_<family>` in native/src/binding/<family>.cpp, plus addon.cpp's AbortFlag,
 * cpuFeatures, simdPath and threadCount), with the arguments each entry point reads, in its
 * order. Written from the binding, not derived from lib/kernels.ts, so that the two are
 * checked against each other — except an options object's fields, which the binding reads at
 * the positions of the generated layout (native/src/binding/boundary.hpp, from
 * BOUNDARY_OPTIONS), so they are declared from the same declaration (`BoundaryFields`):
 *
 * - at compile time (`npm run typecheck`, and every build): `loadCppKernels` passes a
 *   CppAddon where lib/backends/native.ts wants a NativeAddon, so a kernel the addon lacks or
 *   declares with another shape does not compile;
 * - at run time (test/cpp.test.ts): the addon's export names equal CPP_ADDON_EXPORTS, which
 *   the type below makes list every member of CppAddon and nothing else.
 *
 * The declared kernels (lib/kernels.ts DECLARED_KERNELS) are the exception: their entry points
 * are generated from their declarations (native/src/binding/declared.cpp), so their shapes are
 * taken from the same declarations here (`NativeKernel`), and their names from DECLARED_KERNELS.
 *
 * Adding a hand-bound kernel: its line here and in its family's binding file.
 */

import type { ActivationName, EnergyFlowRunResult, Real } from '../kernels.js';
import { DECLARED_KERNELS, type DeclaredKernelName } from '../kernels.js';
import type { BoundaryFields as Fields, NativeAbortFlag, NativeKernel } from './boundary.js';

/** The generated entry points of the declared kernels. */
type DeclaredEntries = { [K in DeclaredKernelName]: NativeKernel<K> };

export interface CppAddon extends DeclaredEntries {
  // ---- energy (binding/energy.cpp) ----
  localEnergy: (r: Float64Array, primeCount: number, out: Float64Array) => void;
  localEnergyAsync: (r: Float64Array, primeCount: number, flag: NativeAbortFlag) => Promise<Float64Array>;
  nonlocalEnergy: (
    ...args: [x: Float32Array, y: Float32Array, points: Float32Array, ...params: Fields<'nonlocalEnergy'>]
  ) => number;
  distance: (x: Float32Array, y: Float32Array) => number;

  // ---- fractal (binding/fractal.cpp) ----
  fractalStep: (z: Float32Array, offset: number, out: Float32Array) => void;
  fractalStepBackward: (z: Float32Array, gradOut: Float32Array, gradZ: Float32Array) => void;
  maxAbs: (x: Float32Array) => number;

  // ---- linalg (binding/linalg.cpp) ----
  matmul: (...args: [...params: Fields<'matmul'>, a: Real, b: Real, c: Real]) => void;
  matmulAsync: (
    ...args: [
      ...params: Fields<'matmulAsync'>,
      a: Float32Array,
      b: Float32Array,
      c: Float32Array | undefined,
      flag: NativeAbortFlag,
    ]
  ) => Promise<Float32Array>;
  axpby: (alpha: number, x: Float32Array, beta: number, y: Float32Array) => void;
  dot: (x: Float32Array, y: Float32Array) => number;
  sum: (x: Float32Array) => number;
  activationForward: (activation: ActivationName, x: Real, shift: number, out: Real) => void;
  activationBackward: (activation: ActivationName, y: Real, gradOut: Real, gradPre: Real) => void;

  // ---- qdt (binding/qdt.cpp) ----
  coupling: (...args: [t: Float64Array, ...params: Fields<'coupling'>, out: Float64Array]) => void;
  scaleTransition: (...args: [t: Float64Array, ...params: Fields<'scaleTransition'>, out: Float64Array]) => void;
  shannonEntropy: (p: Float64Array) => number;
  hermitianEigenvalues: (re: Float64Array, im: Float64Array, d: number, out: Float64Array) => void;

  // ---- flow (binding/flow.cpp) ----
  energyFlowStep: (
    ...args: [
      energy: Float64Array,
      potential: Float64Array,
      source: Float64Array,
      nx: number,
      ny: number,
      ...params: Fields<'energyFlowStep'>,
      out: Float64Array,
    ]
  ) => void;
  energyFlowRunAsync: (
    ...args: [
      energy: Float64Array,
      potential: Float64Array,
      source: Float64Array,
      nx: number,
      ny: number,
      ...params: Fields<'energyFlowRunAsync'>,
      kappas: Float64Array,
      flag: NativeAbortFlag,
    ]
  ) => Promise<EnergyFlowRunResult>;
  energyFlowMaxStep: (
    ...args: [potential: Float64Array, nx: number, ny: number, ...params: Fields<'energyFlowMaxStep'>]
  ) => number;
  laplacian: (
    ...args: [energy: Float64Array, nx: number, ny: number, ...params: Fields<'laplacian'>, out: Float64Array]
  ) => void;
  gridSums: (x: Float64Array, out: Float64Array) => void;

  // ---- optim (binding/optim.cpp) ----
  sgdStep: (...args: [params: Real, grads: Real, momentumBuffer: Real, ...options: Fields<'sgdStep'>]) => boolean;
  adamStep: (
    ...args: [params: Real, grads: Real, m: Real, v: Real, vMax: Real, ...options: Fields<'adamStep'>]
  ) => boolean;
  sgdStepMeasured: (
    ...args: [
      params: Real,
      grads: Real,
      momentumBuffer: Real,
      before: Real,
      ...options: Fields<'sgdStepMeasured'>,
      out: Float64Array,
    ]
  ) => boolean;
  adamStepMeasured: (
    ...args: [
      params: Real,
      grads: Real,
      m: Real,
      v: Real,
      vMax: Real,
      before: Real,
      ...options: Fields<'adamStepMeasured'>,
      out: Float64Array,
    ]
  ) => boolean;
  firstNonFinite: (values: Real) => number;
  memoryCopy: (src: Float32Array, dst: Float32Array) => void;
  l2Norm: (x: Real) => number;
  zeroNonFinite: (x: Real) => number;
  scaleInPlace: (x: Real, s: number) => void;

  // ---- prodigy (binding/prodigy.cpp) ----
  prodigyAccumulate: (
    ...args: [params: Real, grads: Real, p0: Real, m: Real, v: Real, s: Real, ...options: Fields<'prodigyAccumulate'>]
  ) => [number, number];
  prodigyUpdate: (...args: [params: Real, m: Real, v: Real, ...options: Fields<'prodigyUpdate'>]) => boolean;

  // ---- balance (binding/balance.cpp) ----
  updateEnergy: (
    ...args: [
      before: Real,
      after: Real,
      grads: Real,
      metric: Real,
      ...params: Fields<'updateEnergy'>,
      out: Float64Array,
    ]
  ) => void;
  updateSlope: (before: Real, after: Real, grads: Real) => number;

  // ---- the module (binding/addon.cpp, binding/async_worker.hpp) ----
  AbortFlag: new () => NativeAbortFlag;
  cpuFeatures: () => string[];
  simdPath: () => string;
  threadCount: () => number;
}

/** The names of the hand-bound exports: every member of CppAddon but the declared kernels (checked below). */
const BOUND_EXPORTS = [
  'localEnergy',
  'localEnergyAsync',
  'nonlocalEnergy',
  'distance',
  'fractalStep',
  'fractalStepBackward',
  'maxAbs',
  'matmul',
  'matmulAsync',
  'axpby',
  'dot',
  'sum',
  'activationForward',
  'activationBackward',
  'coupling',
  'scaleTransition',
  'shannonEntropy',
  'hermitianEigenvalues',
  'energyFlowStep',
  'energyFlowRunAsync',
  'energyFlowMaxStep',
  'laplacian',
  'gridSums',
  'sgdStep',
  'adamStep',
  'sgdStepMeasured',
  'adamStepMeasured',
  'firstNonFinite',
  'memoryCopy',
  'l2Norm',
  'zeroNonFinite',
  'scaleInPlace',
  'prodigyAccumulate',
  'prodigyUpdate',
  'updateEnergy',
  'updateSlope',
  'AbortFlag',
  'cpuFeatures',
  'simdPath',
  'threadCount',
] as const satisfies readonly (keyof CppAddon)[];

/** The names the addon exports: every member of CppAddon, nothing else. */
export const CPP_ADDON_EXPORTS: readonly (keyof CppAddon)[] = [
  ...BOUND_EXPORTS,
  ...(Object.keys(DECLARED_KERNELS) as DeclaredKernelName[]),
];

/** A member of CppAddon missing from the lists makes this `false` (a compile error). */
type Unlisted = Exclude<keyof CppAddon, (typeof BOUND_EXPORTS)[number] | DeclaredKernelName>;
export const CPP_ADDON_EXPORTS_COMPLETE: [Unlisted] extends [never] ? true : false = true;
