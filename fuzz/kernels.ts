/**
 * THE table of kernel argument generators, keyed by kernel name (lib/kernels.ts KERNEL_NAMES
 * and ASYNC_KERNEL_NAMES). Each entry lists the kernel's positional parameters with their
 * valid domains; fuzz/plan.ts makes the hostile variants. A signature change is one entry
 * here (the options objects of families.md "The boundary" are `opts(...)` parameters).
 */
import {
  ASYNC_KERNEL_NAMES,
  BOUNDARY_OPTIONS,
  DECLARED_KERNELS,
  type DeclaredKernel,
  KERNEL_NAMES,
} from '../lib/kernels.js';
import type { CallRecord, Ctx, Fill, Param, Rng, TargetSpec } from './plan.js';

// Parameter constructors (short, so one kernel reads as one line per parameter).
type ArrayParam = Extract<Param, { kind: 'array' }>;
type Len = (c: Ctx) => number;
const n: Len = (c) => c.dims.n;
const inp = (name: string, el: ArrayParam['el'], len: Len, fill?: Fill): Param => ({
  kind: 'array',
  name,
  el,
  len,
  role: 'in',
  fill,
});
const out = (name: string, el: ArrayParam['el'], len: Len): Param => ({ kind: 'array', name, el, len, role: 'out' });
const inout = (name: string, el: ArrayParam['el'], len: Len, fill?: Fill): Param => ({
  kind: 'array',
  name,
  el,
  len,
  role: 'inout',
  fill,
});
const num = (name: string, valid: (c: Ctx) => number): Param => ({ kind: 'number', name, valid });
const int = (name: string, valid: (c: Ctx) => number): Param => ({ kind: 'int', name, valid });
/** primeCount: valid up to 10⁶ primes, but n·10⁶ terms take seconds (a slow valid call, not a hang). */
const primeCount: Param = { kind: 'int', name: 'primeCount', valid: (c) => c.rng.range(0, 40), costlyAbove: 4096 };
const bool = (name: string, valid?: (c: Ctx) => boolean): Param => ({ kind: 'bool', name, valid });
const oneOf = (name: string, choices: readonly string[]): Param => ({ kind: 'enum', name, choices });
const opts = (name: string, fields: Param[]): Param => ({ kind: 'options', name, fields });
const signal: Param = { kind: 'signal', name: 'signal', optional: true };
const value = (key: string) => (c: Ctx) => c.values[key] as number;
const flag = (key: string) => (c: Ctx) => c.values[key] as boolean;
const between = (lo: number, hi: number) => (c: Ctx) => c.rng.uniform(lo, hi);

/** MatmulParams (matmul and matmulAsync). */
const matmulFields: Param[] = [
  bool('transA'),
  bool('transB'),
  int('m', (c) => c.dims.m),
  int('n', (c) => c.dims.n),
  int('k', (c) => c.dims.k),
  num('alpha', between(-2, 2)),
  num('beta', between(-2, 2)),
];

const ACTIVATIONS = ['identity', 'tanh', 'sigmoid', 'relu'] as const;
const BOUNDARIES = ['periodic', 'zeroFlux'] as const;

const oneDim = (r: Rng) => ({ n: r.length() });
const grid = (r: Rng) => ({ nx: r.range(1, 12), ny: r.range(1, 12) });
const cells: Len = (c) => c.dims.nx * c.dims.ny;

/** The flow kernels' coefficients: dt within the monotone step of h, β, γ (moderate values stay finite). */
const flowFields = (withDt: boolean, withKappa: boolean): Param[] => [
  num('h', between(0.5, 2)),
  ...(withDt ? [num('dt', between(0.001, 0.02))] : []),
  num('beta', between(0, 1)),
  num('gamma', between(-1, 1)),
  ...(withKappa ? [num('kappa', between(-1, 1))] : []),
  oneOf('boundary', BOUNDARIES),
];

/** sgdStep's hyperparameters, chosen once so the momentum buffer's length can follow them. */
function prepareSgd(c: Ctx): void {
  const momentum = c.rng.chance(0.5) ? 0 : c.rng.uniform(0, 0.99);
  const dampening = c.rng.chance(0.5) ? 0 : c.rng.uniform(0, 1);
  c.values.momentum = momentum;
  c.values.dampening = dampening;
  c.values.nesterov = momentum > 0 && dampening === 0 && c.rng.chance(0.5);
}
const sgdFields: Param[] = [
  num('learningRate', between(0, 0.5)),
  num('momentum', value('momentum')),
  num('dampening', value('dampening')),
  num('weightDecay', between(0, 0.1)),
  bool('nesterov', flag('nesterov')),
  bool('maximize'),
  bool('firstStep'),
];
const momentumLength: Len = (c) => (c.values.momentum === 0 && c.rng.chance(0.5) ? 0 : c.dims.n);

function prepareAdam(c: Ctx): void {
  c.values.amsgrad = c.rng.chance(0.5);
}
const vMaxLength: Len = (c) => (!c.values.amsgrad && c.rng.chance(0.5) ? 0 : c.dims.n);
const adamScalars: Param[] = [
  num('beta1', between(0, 0.99)),
  num('beta2', between(0.5, 0.9999)),
  num('stepSize', between(0, 0.1)),
  num('bc2Sqrt', between(0.01, 1)),
  num('epsilon', between(1e-8, 1e-3)),
  num('weightDecay', between(0, 0.1)),
  num('decay', between(0.9, 1)),
  bool('amsgrad', flag('amsgrad')),
  bool('maximize'),
];

/** Finite in, finite out, except where the kernel's math defines NaN (its doc in lib/kernels.ts). */
const shannonDefined = (_c: CallRecord, args: unknown[]): boolean => {
  const p = args[0] as Float64Array;
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  return p.length > 0 && total > 0;
};

export const KERNEL_TARGETS: Record<string, TargetSpec> = {
  localEnergy: {
    dims: oneDim,
    params: [inp('r', 'f64', n), primeCount, out('out', 'f64', n)],
  },
  nonlocalEnergy: {
    dims: (r) => ({ d: r.range(1, 8), m: r.range(1, 30) }),
    params: [
      inp('x', 'f32', (c) => c.dims.d),
      inp('y', 'f32', (c) => c.dims.d),
      inp('points', 'f32', (c) => c.dims.d * c.dims.m),
      opts('params', [num('lengthScale', between(0.1, 3)), num('softening', between(1e-3, 1))]),
    ],
  },
  distance: { dims: oneDim, params: [inp('x', 'f32', n), inp('y', 'f32', n)] },
  fractalStep: { dims: oneDim, params: [inp('z', 'f32', n), num('offset', between(-2, 2)), out('out', 'f32', n)] },
  fractalStepBackward: {
    dims: oneDim,
    params: [inp('z', 'f32', n), inp('gradOut', 'f32', n), out('gradZ', 'f32', n)],
  },
  maxAbs: { dims: oneDim, params: [inp('x', 'f32', n)] },
  matmul: {
    dims: (r) => ({ m: r.range(0, 12), n: r.range(0, 12), k: r.range(0, 12) }),
    params: [
      opts('params', matmulFields),
      inp('a', 'real', (c) => c.dims.m * c.dims.k),
      inp('b', 'real', (c) => c.dims.k * c.dims.n),
      inout('c', 'real', (c) => c.dims.m * c.dims.n),
    ],
  },
  axpby: {
    dims: oneDim,
    params: [num('alpha', between(-2, 2)), inp('x', 'f32', n), num('beta', between(-2, 2)), inout('y', 'f32', n)],
  },
  dot: { dims: oneDim, params: [inp('x', 'f32', n), inp('y', 'f32', n)] },
  sum: { dims: oneDim, params: [inp('x', 'f32', n)] },
  activationForward: {
    dims: oneDim,
    params: [
      oneOf('activation', ACTIVATIONS),
      inp('x', 'real', n),
      num('shift', between(-2, 2)),
      out('out', 'real', n),
    ],
  },
  activationBackward: {
    dims: oneDim,
    params: [
      oneOf('activation', ACTIVATIONS),
      inp('y', 'real', n),
      inp('gradOut', 'real', n),
      out('gradPre', 'real', n),
    ],
  },
  sgdStep: {
    dims: oneDim,
    prepare: prepareSgd,
    params: [
      inout('params', 'real', n),
      inp('grads', 'real', n),
      inout('momentumBuffer', 'real', momentumLength),
      opts('options', sgdFields),
    ],
  },
  adamStep: {
    dims: oneDim,
    prepare: prepareAdam,
    params: [
      inout('params', 'real', n),
      inp('grads', 'real', n),
      inout('m', 'real', n),
      inout('v', 'real', n, 'nonneg'),
      inout('vMax', 'real', vMaxLength, 'nonneg'),
      opts('options', adamScalars),
    ],
  },
  sgdStepMeasured: {
    dims: oneDim,
    prepare: prepareSgd,
    params: [
      inout('params', 'real', n),
      inp('grads', 'real', n),
      inout('momentumBuffer', 'real', momentumLength),
      out('before', 'real', n),
      opts('options', sgdFields),
      out('out', 'f64', () => 3),
    ],
  },
  adamStepMeasured: {
    dims: oneDim,
    prepare: prepareAdam,
    params: [
      inout('params', 'real', n),
      inp('grads', 'real', n),
      inout('m', 'real', n),
      inout('v', 'real', n, 'nonneg'),
      inout('vMax', 'real', vMaxLength, 'nonneg'),
      out('before', 'real', n),
      opts('options', [...adamScalars, num('metricScale', between(0.5, 2)), num('metricEpsilon', between(1e-8, 1e-3))]),
      out('out', 'f64', () => 3),
    ],
  },
  prodigyAccumulate: {
    dims: oneDim,
    params: [
      inp('params', 'real', n),
      inp('grads', 'real', n),
      inp('p0', 'real', n),
      inout('m', 'real', n),
      inout('v', 'real', n, 'nonneg'),
      inout('s', 'real', n),
      opts('options', [
        num('beta1', between(0, 0.99)),
        num('beta2', between(0.5, 0.999)),
        num('beta3', between(0.5, 0.999)),
        num('momentScale', between(0, 1)),
        num('varianceScale', between(0, 1)),
        num('sScale', between(0, 1)),
        num('weightDecay', between(0, 0.1)),
      ]),
    ],
  },
  prodigyUpdate: {
    dims: oneDim,
    params: [
      inout('params', 'real', n),
      inp('m', 'real', n),
      inp('v', 'real', n, 'nonneg'),
      opts('options', [
        num('stepSize', between(0, 0.1)),
        num('epsilon', between(1e-8, 1e-3)),
        num('decay', between(-0.01, 0)),
      ]),
    ],
  },
  firstNonFinite: { dims: oneDim, params: [inp('values', 'real', n)] },
  memoryCopy: { dims: oneDim, params: [inp('src', 'f32', n), out('dst', 'f32', n)] },
  energyFlowStep: {
    dims: grid,
    params: [
      inp('energy', 'f64', cells, 'nonneg'),
      inp('potential', 'f64', cells),
      inp('source', 'f64', cells),
      int('nx', (c) => c.dims.nx),
      int('ny', (c) => c.dims.ny),
      opts('params', flowFields(true, true)),
      out('out', 'f64', cells),
    ],
  },
  energyFlowMaxStep: {
    dims: grid,
    params: [
      inp('potential', 'f64', cells),
      int('nx', (c) => c.dims.nx),
      int('ny', (c) => c.dims.ny),
      opts('params', flowFields(false, false)),
    ],
  },
  laplacian: {
    dims: grid,
    params: [
      inp('energy', 'f64', cells),
      int('nx', (c) => c.dims.nx),
      int('ny', (c) => c.dims.ny),
      opts('params', [num('h', between(0.5, 2)), oneOf('boundary', BOUNDARIES)]),
      out('out', 'f64', cells),
    ],
  },
  gridSums: { dims: oneDim, params: [inp('x', 'f64', n), out('out', 'f64', () => 3)] },
  l2Norm: { dims: oneDim, params: [inp('x', 'real', n)] },
  zeroNonFinite: { dims: oneDim, params: [inout('x', 'real', n)] },
  scaleInPlace: { dims: oneDim, params: [inout('x', 'real', n), num('s', between(-2, 2))] },
  updateEnergy: {
    dims: oneDim,
    params: [
      inp('before', 'real', n),
      inp('after', 'real', n),
      inp('grads', 'real', n),
      inp('metric', 'real', (c) => (c.rng.chance(0.3) ? 0 : c.dims.n), 'nonneg'),
      opts('params', [num('metricScale', between(0, 2)), num('epsilon', between(1e-8, 1e-3))]),
      out('out', 'f64', () => 3),
    ],
  },
  updateSlope: { dims: oneDim, params: [inp('before', 'real', n), inp('after', 'real', n), inp('grads', 'real', n)] },
  coupling: {
    dims: oneDim,
    params: [
      inp('t', 'f64', n),
      opts('params', [
        num('alpha', between(-2, 2)),
        num('beta', between(0, 2)),
        num('gamma', between(-3, 3)),
        num('lambdaCosmo', between(-2, 2)),
      ]),
      out('out', 'f64', n),
    ],
  },
  scaleTransition: {
    dims: oneDim,
    params: [
      inp('t', 'f64', n),
      opts('params', [num('scaleCoupling', between(-3, 3)), num('criticalTime', between(-2, 2))]),
      out('out', 'f64', n),
    ],
  },
  shannonEntropy: { dims: oneDim, params: [inp('p', 'f64', n, 'nonneg')], finite: shannonDefined },
  hermitianEigenvalues: {
    dims: (r) => ({ d: r.range(0, 8) }),
    params: [
      inp('re', 'f64', (c) => c.dims.d * c.dims.d),
      inp('im', 'f64', (c) => c.dims.d * c.dims.d),
      int('d', (c) => c.dims.d),
      out('out', 'f64', (c) => c.dims.d),
    ],
  },
  matmulAsync: {
    dims: (r) => ({ m: r.range(0, 10), n: r.range(0, 10), k: r.range(0, 10) }),
    dtypes: ['f32'],
    params: [
      opts('params', matmulFields),
      inp('a', 'f32', (c) => c.dims.m * c.dims.k),
      inp('b', 'f32', (c) => c.dims.k * c.dims.n),
      inp('c', 'f32', (c) => c.dims.m * c.dims.n),
      signal,
    ],
    weight: 0.5,
  },
  localEnergyAsync: {
    dims: oneDim,
    params: [inp('r', 'f64', n), primeCount, signal],
    weight: 0.5,
  },
  energyFlowRunAsync: {
    dims: (r) => ({ ...grid(r), steps: r.range(0, 4) }),
    params: [
      inp('energy', 'f64', cells, 'nonneg'),
      inp('potential', 'f64', cells),
      inp('source', 'f64', cells),
      int('nx', (c) => c.dims.nx),
      int('ny', (c) => c.dims.ny),
      opts('params', flowFields(true, false)),
      inp('kappas', 'f64', (c) => c.dims.steps),
      signal,
    ],
    weight: 0.5,
  },
};

/**
 * A declared kernel's target, from its declaration (lib/kernels.ts DECLARED_KERNELS): each
 * array `dims.n` long unless its length is declared (a number, another's, or M rows of
 * another, M random), the options fields near its sample (numbers ×[0.5, 2], integers in
 * [min, min(max, 2·sample)]), in signature order.
 */
function declaredTarget(name: string, d: DeclaredKernel): TargetSpec {
  const lengthOf = (array: string): Len => {
    const rule = d.arrays[array].length;
    if (rule === undefined) return d.arrays[array].nonEmpty ? (c) => Math.max(1, c.dims.n) : n;
    if (typeof rule === 'number') return () => rule;
    if (typeof rule === 'string') return lengthOf(rule);
    const of = lengthOf(rule.multipleOf);
    return (c) => c.dims.m * of(c);
  };
  const params: Param[] = Object.entries(d.arrays).map(([array, a]) =>
    (a.role === 'in' ? inp : out)(array, a.type, lengthOf(array)),
  );
  const options = (
    BOUNDARY_OPTIONS as Partial<Record<string, (typeof BOUNDARY_OPTIONS)[keyof typeof BOUNDARY_OPTIONS]>>
  )[name];
  if (options) {
    const sample = d.sample ?? {};
    const integers: Readonly<Record<string, readonly [number, number]>> = d.integers ?? {};
    const fields = Object.entries(options.fields).map(([field, kind]): Param => {
      const at = sample[field];
      const range = integers[field];
      if (kind === 'boolean') return bool(field);
      if (Array.isArray(kind)) return oneOf(field, kind);
      if (range) return int(field, (c) => c.rng.range(range[0], Math.min(range[1], 2 * Number(at ?? range[0]))));
      return num(field, (c) => Number(at ?? 1) * c.rng.uniform(0.5, 2));
    });
    params.splice(options.at, 0, opts(options.name, fields));
  }
  return { dims: (r) => ({ n: r.length(), m: r.range(1, 8) }), params };
}

for (const [name, d] of Object.entries(DECLARED_KERNELS)) KERNEL_TARGETS[name] ??= declaredTarget(name, d);

/** Kernels the table does not cover (the harness refuses to start while this is non-empty). */
export function uncoveredKernels(): string[] {
  return [...KERNEL_NAMES, ...ASYNC_KERNEL_NAMES].filter((k) => !(k in KERNEL_TARGETS));
}
