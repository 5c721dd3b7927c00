/**
 * The public API's targets, keyed by export name of lib/index.ts (or by a scenario of
 * fuzz/scenarios.ts, whose names start with `fuzz`). The facade validates everything, so
 * every backend sees only what it lets through: these run on each backend in turn
 * (setBackend), with every mutation, the js backend included.
 */
import type { Ctx, Param, Plan, Rng, TargetSpec } from './plan.js';

type ArrayParam = Extract<Param, { kind: 'array' }>;
type Len = (c: Ctx) => number;
const n: Len = (c) => c.dims.n;
const arr = (
  name: string,
  el: ArrayParam['el'],
  len: Len,
  role: ArrayParam['role'] = 'in',
  fill?: ArrayParam['fill'],
) => ({ kind: 'array', name, el, len, role, fill }) as Param;
const outOpt = (name: string, el: ArrayParam['el'], len: Len): Param => ({
  kind: 'array',
  name,
  el,
  len,
  role: 'out',
  optional: true,
});
const num = (name: string, valid: (c: Ctx) => number, optional = true): Param => ({
  kind: 'number',
  name,
  valid,
  optional,
});
const int = (name: string, valid: (c: Ctx) => number, optional = true): Param => ({
  kind: 'int',
  name,
  valid,
  optional,
});
const bool = (name: string): Param => ({ kind: 'bool', name, optional: true });
const oneOf = (name: string, choices: readonly string[]): Param => ({ kind: 'enum', name, choices, optional: true });
const opts = (name: string, fields: Param[], optional = true): Param => ({ kind: 'options', name, fields, optional });
const fixed = (name: string, v: Plan): Param => ({ kind: 'bytes', name, make: () => v });
const between = (lo: number, hi: number) => (c: Ctx) => c.rng.uniform(lo, hi);
const oneDim = (r: Rng) => ({ n: r.length(32) });
const grid = (r: Rng) => ({ nx: r.range(1, 10), ny: r.range(1, 10) });
const cells: Len = (c) => c.dims.nx * c.dims.ny;
const gridFields = (extra: Param[], out: boolean): Param[] => [
  int('nx', (c) => c.dims.nx, false),
  int('ny', (c) => c.dims.ny, false),
  num('h', between(0.5, 2)),
  oneOf('boundary', ['periodic', 'zeroFlux']),
  ...extra,
  ...(out ? [outOpt('out', 'f64', cells)] : []),
];
const OPTIMIZERS = ['SGD', 'Adam', 'AdamW', 'Prodigy'];

export const FACADE_TARGETS: Record<string, TargetSpec> = {
  coupling: {
    dims: oneDim,
    params: [
      arr('t', 'f64', n),
      opts('options', [
        num('alpha', between(-2, 2)),
        num('beta', between(0, 2)),
        num('gamma', between(-3, 3)),
        num('lambdaCosmo', between(-2, 2)),
        outOpt('out', 'f64', n),
      ]),
    ],
  },
  scaleTransition: {
    dims: oneDim,
    params: [
      arr('t', 'f64', n),
      opts('options', [
        num('scaleCoupling', between(-3, 3)),
        num('criticalTime', between(-2, 2)),
        outOpt('out', 'f64', n),
      ]),
    ],
  },
  localEnergy: {
    dims: oneDim,
    params: [
      arr('r', 'f64', n),
      opts('options', [
        { kind: 'int', name: 'primeCount', valid: (c) => c.rng.range(0, 30), optional: true, costlyAbove: 4096 },
        outOpt('out', 'f64', n),
      ]),
    ],
  },
  localEnergyAsync: {
    dims: oneDim,
    weight: 0.5,
    params: [
      arr('r', 'f64', n),
      opts('options', [
        { kind: 'int', name: 'primeCount', valid: (c) => c.rng.range(0, 30), optional: true, costlyAbove: 4096 },
        outOpt('out', 'f64', n),
        { kind: 'signal', name: 'signal', optional: true },
      ]),
    ],
  },
  nonlocalEnergy: {
    dims: (r) => ({ d: r.range(1, 6), m: r.range(1, 20) }),
    params: [
      arr('x', 'f32', (c) => c.dims.d),
      arr('y', 'f32', (c) => c.dims.d),
      arr('points', 'f32', (c) => c.dims.d * c.dims.m),
      opts('options', [num('lengthScale', between(0.1, 3)), num('softening', between(1e-3, 1))]),
    ],
  },
  distance: { dims: oneDim, params: [arr('x', 'f32', n), arr('y', 'f32', n)] },
  shannonEntropy: {
    dims: (r) => ({ n: r.range(1, 32) }),
    params: [arr('p', 'f64', n, 'in', 'positive')],
  },
  fractalStep: {
    dims: oneDim,
    params: [
      arr('z', 'f32', n, 'in', 'unit'),
      num('offset', between(-0.5, 0.5), false),
      opts('options', [outOpt('out', 'f32', n)]),
    ],
  },
  fractalTransform: {
    dims: oneDim,
    params: [
      arr('z', 'f32', n, 'in', 'unit'),
      opts('options', [
        int('steps', (c) => c.rng.range(0, 4)),
        int('start', (c) => c.rng.range(1, 50)),
        oneOf('bound', ['rescale', 'check']),
        outOpt('out', 'f32', n),
      ]),
    ],
    finite: false,
  },
  energyFlowMaxStep: {
    dims: grid,
    params: [
      arr('potential', 'f64', cells),
      opts('options', gridFields([num('beta', between(0, 1)), num('gamma', between(-1, 1))], false), false),
    ],
  },
  energyFlowStep: {
    dims: grid,
    params: [
      arr('energy', 'f64', cells, 'in', 'nonneg'),
      arr('potential', 'f64', cells),
      arr('source', 'f64', cells),
      opts(
        'options',
        gridFields(
          [
            num('beta', between(0, 1)),
            num('gamma', between(-1, 1)),
            num('dt', between(0.001, 0.02), false),
            num('kappa', between(-1, 1)),
          ],
          true,
        ),
        false,
      ),
    ],
  },
  laplacian: { dims: grid, params: [arr('energy', 'f64', cells), opts('options', gridFields([], true), false)] },
  matmul: {
    dims: (r) => ({ m: r.range(1, 8), n: r.range(1, 8), k: r.range(1, 8) }),
    params: [
      arr('a', 'f32', (c) => c.dims.m * c.dims.k),
      arr('b', 'f32', (c) => c.dims.k * c.dims.n),
      opts(
        'shape',
        [int('m', (c) => c.dims.m, false), int('n', (c) => c.dims.n, false), int('k', (c) => c.dims.k, false)],
        false,
      ),
      opts('options', [
        num('alpha', between(-2, 2)),
        num('beta', between(-2, 2)),
        outOpt('out', 'f32', (c) => c.dims.m * c.dims.n),
      ]),
    ],
  },
  matmulAsync: {
    dims: (r) => ({ m: r.range(1, 8), n: r.range(1, 8), k: r.range(1, 8) }),
    weight: 0.5,
    params: [
      arr('a', 'f32', (c) => c.dims.m * c.dims.k),
      arr('b', 'f32', (c) => c.dims.k * c.dims.n),
      opts(
        'shape',
        [int('m', (c) => c.dims.m, false), int('n', (c) => c.dims.n, false), int('k', (c) => c.dims.k, false)],
        false,
      ),
      opts('options', [num('alpha', between(-2, 2)), { kind: 'signal', name: 'signal', optional: true }]),
    ],
  },
  hermitianEigenvalues: {
    citable: ['matrix'],
    dims: (r) => ({ d: r.range(1, 6) }),
    params: [
      arr('re', 'f64', (c) => c.dims.d * c.dims.d),
      arr('im', 'f64', (c) => c.dims.d * c.dims.d),
      opts('options', [outOpt('out', 'f64', (c) => c.dims.d), num('tolerance', between(1e-12, 1e-3))]),
    ],
  },
  vonNeumannEntropy: {
    citable: ['rho', 'matrix'],
    dims: (r) => ({ d: r.range(1, 6) }),
    params: [
      arr('re', 'f64', (c) => c.dims.d * c.dims.d),
      arr('im', 'f64', (c) => c.dims.d * c.dims.d),
      opts('options', [num('base', between(1.5, 10)), num('tolerance', between(1e-12, 1e-3))]),
    ],
  },
  landauerBound: {
    dims: () => ({}),
    params: [num('temperatureKelvin', between(1, 500), false), num('bits', between(0, 10))],
  },
  informationRate: {
    dims: () => ({}),
    params: [num('energy', between(0, 10), false), num('temperatureKelvin', between(1, 500), false)],
  },
  fuzzOptimizerStep: {
    fixed: ['kind', 'steps'],
    dims: (r) => ({ n: r.range(0, 40), b: r.range(1, 6) }),
    dtypes: ['f32', 'f64'],
    weight: 2,
    params: [
      { kind: 'enum', name: 'kind', choices: OPTIMIZERS },
      opts('options', [num('learningRate', between(0, 0.1)), num('weightDecay', between(0, 0.1))]),
      opts('params', [arr('w', 'real', n, 'inout'), arr('b', 'real', (c) => c.dims.b, 'inout')], false),
      opts('grads', [arr('w', 'real', n), arr('b', 'real', (c) => c.dims.b)], false),
      int('steps', (c) => c.rng.range(1, 3), false),
    ],
  },
  fuzzStateBytes: {
    fixed: ['kind', 'length', 'flips', 'truncate'],
    citable: ['state'],
    dims: (r) => ({ n: r.range(1, 16) }),
    weight: 1,
    params: [
      { kind: 'enum', name: 'kind', choices: OPTIMIZERS },
      int('length', n, false),
      { kind: 'bytes', name: 'flips', make: (c) => flipList(c) },
      int('truncate', (c) => (c.rng.chance(0.2) ? c.rng.range(1, 40) : 0), false),
    ],
    finite: false,
  },
  fuzzTrainerFit: {
    fixed: ['sizes'],
    citable: ['options'],
    dims: (r) => ({ rows: r.range(1, 12), in: r.range(1, 3), out: r.range(1, 2) }),
    weight: 0.3,
    params: [
      fixed('sizes', { t: 'value', v: [2, 3, 1] }),
      opts('options', [
        oneOf('activation', ['identity', 'tanh', 'sigmoid', 'relu']),
        int('seed', (c) => c.rng.range(0, 9)),
      ]),
      arr('x', 'f32', (c) => c.dims.rows * 2),
      arr('y', 'f32', (c) => c.dims.rows),
      opts('fit', [
        int('epochs', (c) => c.rng.range(1, 2)),
        int('batchSize', (c) => c.rng.range(1, 8)),
        num('validationSplit', between(0, 0.5)),
        bool('shuffle'),
        int('seed', (c) => c.rng.range(0, 9)),
        int('maxSteps', (c) => c.rng.range(1, 20)),
      ]),
    ],
  },
  fuzzResume: {
    fixed: ['flips', 'truncate', 'replace'],
    citable: ['checkpoint', 'resumeFrom'],
    dims: () => ({}),
    weight: 0.15,
    params: [
      { kind: 'bytes', name: 'flips', make: (c) => flipList(c) },
      int('truncate', (c) => (c.rng.chance(0.2) ? c.rng.range(1, 200) : 0), false),
      { kind: 'bytes', name: 'replace', make: (c) => replacement(c) },
    ],
    finite: false,
  },
};

/** Bit positions to flip in saved bytes: none (a clean round trip), one, or a few. */
function flipList(c: Ctx): Plan {
  const k = c.rng.pick([0, 1, 1, 1, 2, 5]);
  return { t: 'value', v: Array.from({ length: k }, () => c.rng.int(1 << 20)) };
}

/** A checkpoint field replaced by a hostile value (the issue's `job.points = 1e15`, string epochs, …). */
function replacement(c: Ctx): Plan {
  if (c.rng.chance(0.4)) return { t: 'value', v: [] };
  const field = c.rng.pick([
    'body.progress.epoch',
    'body.progress.step',
    'body.history',
    'body.model',
    'format',
    'version',
    'body',
  ]);
  const v = c.rng.pick<unknown>(['1', -1, 1e15, null, {}, [], 1.5, 'NaN']);
  return { t: 'value', v: [field, v] as unknown[] };
}
