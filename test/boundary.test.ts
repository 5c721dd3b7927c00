/**
 * Options objects at the native boundary (docs/boundary.md, "Options objects at the native
 * boundary"): BOUNDARY_OPTIONS (lib/kernels.ts) declares, for every kernel that takes one, where the object sits and its
 * fields in order; natively the fields are positional scalars in that order.
 *
 * - the Rust addon's generated typings (crate/index.d.cts) name the parameters at `at …
 *   at + count − 1` as the declared fields, in order, of the declared kinds: a swapped pair
 *   of scalars in a Rust signature (which the type check cannot see: both are numbers) fails
 *   here;
 * - the JS reader (lib/backends/boundary.ts over the generated boundary-readers.ts) passes
 *   the fields in order, a name as its index, and names a wrong one `options.<field>` /
 *   `params.<field>`;
 * - on the rust and cpp backends, a getter on each field runs exactly once per call, in the
 *   declared order, and an options argument that is not an object is an error naming it.
 *
 * The source files read here are the checkout's (beside this file), also when test:package
 * runs the suite against an installed package, which has neither.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type NativeKernel, positional } from '../lib/backends/boundary.js';
import { CimmArgumentError } from '../lib/errors.js';
import {
  ASYNC_KERNEL_NAMES,
  BOUNDARY_OPTIONS,
  DECLARED_KERNELS,
  type DeclaredKernelName,
  type OptionsKernelName,
} from '../lib/kernels.js';
import { backends, declaredSample } from './helpers.js';

const KERNELS = Object.keys(BOUNDARY_OPTIONS) as OptionsKernelName[];
const fieldsOf = (k: OptionsKernelName) => Object.entries(BOUNDARY_OPTIONS[k].fields);

const f32 = (n: number) => new Float32Array(n).fill(0.5);
const f64 = (n: number) => new Float64Array(n).fill(0.5);

const SGD = {
  learningRate: 0.1,
  momentum: 0.9,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
  maximize: false,
  firstStep: true,
};
const ADAM = {
  beta1: 0.9,
  beta2: 0.999,
  stepSize: 0.01,
  bc2Sqrt: 0.1,
  epsilon: 1e-8,
  weightDecay: 0,
  decay: 1,
  amsgrad: false,
  maximize: false,
};
const MATMUL = { transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0.5 };
const FLOW = { h: 1, dt: 0.01, beta: 0.1, gamma: 0.2, boundary: 'zeroFlux' };

type Call = { fields: Record<string, unknown>; args: (o: unknown) => unknown[] };

/** A declared kernel's valid call, from its declaration (test/helpers.ts `declaredSample`). */
function declaredCall(k: DeclaredKernelName): Call {
  const { arrays, options } = declaredSample(k);
  const at = BOUNDARY_OPTIONS[k].at;
  return {
    fields: options,
    args: (o) => {
      const args: unknown[] = arrays.map(([, type, length]) => (type === 'f32' ? f32 : f64)(length));
      args.splice(at, 0, o);
      return args;
    },
  };
}

/** A valid call of every kernel with an options object: its fields' values, and its arguments around `o`. */
const CALLS: Record<OptionsKernelName, Call> = {
  ...(Object.fromEntries(
    Object.keys(DECLARED_KERNELS).map((k) => [k, declaredCall(k as DeclaredKernelName)]),
  ) as Record<DeclaredKernelName, Call>),
  sgdStep: { fields: SGD, args: (o) => [f32(4), f32(4), f32(4), o] },
  sgdStepMeasured: { fields: SGD, args: (o) => [f32(4), f32(4), f32(4), f32(4), o, f64(3)] },
  adamStep: { fields: ADAM, args: (o) => [f32(4), f32(4), f32(4), f32(4), f32(4), o] },
  adamStepMeasured: {
    fields: { ...ADAM, metricScale: 1, metricEpsilon: 1e-8 },
    args: (o) => [f32(4), f32(4), f32(4), f32(4), f32(4), f32(4), o, f64(3)],
  },
  prodigyAccumulate: {
    fields: { beta1: 0.9, beta2: 0.999, beta3: 0.99, momentScale: 0.1, varianceScale: 0.01, sScale: 1, weightDecay: 0 },
    args: (o) => [f32(4), f32(4), f32(4), f32(4), f32(4), f32(4), o],
  },
  prodigyUpdate: { fields: { stepSize: 0.1, epsilon: 1e-8, decay: 0 }, args: (o) => [f32(4), f32(4), f32(4), o] },
  matmul: { fields: MATMUL, args: (o) => [o, f32(4), f32(4), f32(4)] },
  matmulAsync: { fields: MATMUL, args: (o) => [o, f32(4), f32(4), f32(4)] },
  coupling: { fields: { alpha: 1, beta: 0.5, gamma: 2, lambdaCosmo: 0.1 }, args: (o) => [f64(4), o, f64(4)] },
  scaleTransition: { fields: { scaleCoupling: 1, criticalTime: 0 }, args: (o) => [f64(4), o, f64(4)] },
  nonlocalEnergy: { fields: { lengthScale: 1, softening: 0.1 }, args: (o) => [f32(2), f32(2), f32(4), o] },
  energyFlowStep: {
    fields: { ...FLOW, kappa: 0.3 },
    args: (o) => [f64(4), f64(4), f64(4), 2, 2, o, f64(4)],
  },
  energyFlowRunAsync: { fields: FLOW, args: (o) => [f64(4), f64(4), f64(4), 2, 2, o, f64(2)] },
  energyFlowMaxStep: {
    fields: { h: 1, beta: 0.1, gamma: 0.2, boundary: 'periodic' },
    args: (o) => [f64(4), 2, 2, o],
  },
  laplacian: { fields: { h: 1, boundary: 'zeroFlux' }, args: (o) => [f64(4), 2, 2, o, f64(4)] },
  updateEnergy: { fields: { metricScale: 1, epsilon: 1e-8 }, args: (o) => [f32(4), f32(4), f32(4), f32(4), o, f64(3)] },
};

/** The declared fields as the valid call gives them, in the declared order: what crosses. */
function crossed(k: OptionsKernelName): unknown[] {
  return fieldsOf(k).map(([name, kind]) =>
    Array.isArray(kind) ? kind.indexOf(CALLS[k].fields[name] as string) : CALLS[k].fields[name],
  );
}

function caught(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function rejected(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectNamed(error: unknown, parameter: string, what?: string) {
  expect(error, parameter).toBeInstanceOf(CimmArgumentError);
  expect((error as CimmArgumentError).parameter).toBe(parameter);
  expect((error as Error).message).toMatch(new RegExp(`^Expected ${what ?? '.+'} for ${parameter} but received `));
}

describe('crate/index.d.cts: the Rust signatures take the declared fields in order', () => {
  const typings = readFileSync(new URL('../crate/index.d.cts', import.meta.url), 'utf8');
  /** The parameters [name, type] of an exported function of the typings. */
  function parameters(fn: string): [string, string][] {
    const line = typings.split('\n').find((l) => l.startsWith(`export declare function ${fn}(`));
    if (line === undefined) throw new Error(`crate/index.d.cts has no function ${fn}`);
    const list = line.slice(line.indexOf('(') + 1, line.lastIndexOf('):'));
    return list.split(/, (?=\w+\??: )/).map((p) => {
      const colon = p.indexOf(': ');
      return [p.slice(0, colon).replace(/\?$/, ''), p.slice(colon + 2)];
    });
  }

  test.each(KERNELS)('%s', (k) => {
    const { at } = BOUNDARY_OPTIONS[k];
    const fields = fieldsOf(k);
    const params = parameters(k);
    const kindOf = (kind: (typeof fields)[number][1]) => (Array.isArray(kind) ? 'number' : kind);
    expect(params.slice(at, at + fields.length)).toEqual(fields.map(([name, kind]) => [name, kindOf(kind)]));
    // the rest is the TS signature's other parameters (an async kernel's flag for its signal)
    const around =
      CALLS[k].args(undefined).length - 1 + ((ASYNC_KERNEL_NAMES as readonly string[]).includes(k) ? 1 : 0);
    expect(params.length).toBe(around + fields.length);
  });
});

test("lib/backends/boundary-layout.ts (the types' field order) is what BOUNDARY_OPTIONS gives: `npm run gen`", () => {
  const text = readFileSync(new URL('../lib/backends/boundary-layout.ts', import.meta.url), 'utf8').replace(
    /\s+/g,
    ' ',
  );
  const layouts = [...text.matchAll(/(\w+): \{ at: (\d+); fields: \[([^\]]*)\];? \}/g)].map(([, k, at, list]) => [
    k,
    Number(at),
    [...list.matchAll(/'(\w+)'/g)].map((m) => m[1]),
  ]);
  expect(layouts).toEqual(KERNELS.map((k) => [k, BOUNDARY_OPTIONS[k].at, Object.keys(BOUNDARY_OPTIONS[k].fields)]));
});

describe('the JS reader (generated: lib/backends/boundary-readers.ts)', () => {
  /** positional(k) over a native function that records what it receives. */
  function recording(k: OptionsKernelName) {
    const received: unknown[][] = [];
    const native = ((...args: unknown[]) => {
      received.push(args);
      return 'result';
    }) as unknown as NativeKernel<typeof k>;
    const read = positional(k, native) as unknown as (...args: unknown[]) => unknown;
    return { read, received };
  }

  test.each(KERNELS)('%s: the fields in declared order in place of the object, the rest as given', (k) => {
    const { read, received } = recording(k);
    const { at } = BOUNDARY_OPTIONS[k];
    const args = CALLS[k].args({ ...CALLS[k].fields });
    const extra = { flag: true };
    expect(read(...args, extra)).toBe('result');
    expect(received).toEqual([[...args.slice(0, at), ...crossed(k), ...args.slice(at + 1), extra]]);
  });

  test.each(KERNELS)('%s: a field of the wrong kind, or missing, names it', (k) => {
    const { read, received } = recording(k);
    const { name } = BOUNDARY_OPTIONS[k];
    for (const [field, kind] of fieldsOf(k)) {
      const what =
        kind === 'number'
          ? 'a number'
          : kind === 'boolean'
            ? 'a boolean'
            : `one of ${(kind as readonly string[]).map((c) => JSON.stringify(c)).join(', ')}`;
      const wrongs =
        kind === 'number' ? ['1', true, null, 1n] : kind === 'boolean' ? [1, 'true', null] : [0, 'open', null];
      for (const wrong of [...wrongs, undefined]) {
        const o = { ...CALLS[k].fields, [field]: wrong };
        if (wrong === undefined) delete o[field];
        const args = CALLS[k].args(o);
        expectNamed(
          caught(() => read(...args)),
          `${name}.${field}`,
          what.replace(/[()]/g, '\\$&'),
        );
      }
    }
    expect(received).toEqual([]);
  });

  test.each(KERNELS)('%s: an options argument that is no options object names it', (k) => {
    const { read, received } = recording(k);
    const { name } = BOUNDARY_OPTIONS[k];
    for (const wrong of [
      null,
      undefined,
      5,
      'x',
      true,
      [],
      [1, 2],
      new Float64Array(3),
      new DataView(new ArrayBuffer(8)),
      () => 0,
    ]) {
      expectNamed(
        caught(() => read(...CALLS[k].args(wrong))),
        name,
        'an options object',
      );
    }
    expect(received).toEqual([]);
  });

  test("what the native call throws goes through mapError; the reader's own errors do not", () => {
    const thrown = new TypeError('native');
    const mapped: unknown[] = [];
    const read = positional(
      'laplacian',
      (() => {
        throw thrown;
      }) as never,
      {
        mapError: (e) => {
          mapped.push(e);
          return new Error('mapped', { cause: e });
        },
      },
    ) as unknown as (...args: unknown[]) => unknown;
    const error = caught(() => read(...CALLS.laplacian.args({ ...CALLS.laplacian.fields })));
    expect((error as Error).message).toBe('mapped');
    expect((error as Error).cause).toBe(thrown);
    expectNamed(
      caught(() => read(...CALLS.laplacian.args({ h: 1, boundary: 3 }))),
      'params.boundary',
    );
    expect(mapped).toEqual([thrown]);
  });

  test('a getter that throws: its error, as it is', () => {
    const { read } = recording('laplacian');
    const boom = new Error('boom');
    const o = {
      h: 1,
      get boundary(): string {
        throw boom;
      },
    };
    expect(caught(() => read(...CALLS.laplacian.args(o)))).toBe(boom);
  });
});

test('positional refuses a kernel that takes no options object', () => {
  expect(() => positional('dot' as OptionsKernelName, (() => 0) as never)).toThrow(/dot takes no options object/);
});

const NATIVE = backends.filter((b) => b.name === 'rust' || b.name === 'cpp');

describe.each(NATIVE.map((b) => [b.name, b.kernels] as const))('options objects on %s', (_name, kernels) => {
  const call = (k: OptionsKernelName, args: unknown[]) =>
    (kernels as unknown as Record<string, (...a: unknown[]) => unknown>)[k](...args);

  test.each(KERNELS)('%s: each field getter runs exactly once per call, in the declared order', async (k) => {
    const reads: string[] = [];
    const o = {};
    for (const [field, value] of Object.entries(CALLS[k].fields)) {
      Object.defineProperty(o, field, {
        enumerable: true,
        get() {
          reads.push(field);
          return value;
        },
      });
    }
    await call(k, CALLS[k].args(o));
    expect(reads).toEqual(fieldsOf(k).map(([field]) => field));
    reads.length = 0;
    await call(k, CALLS[k].args(o));
    expect(reads).toHaveLength(fieldsOf(k).length);
  });

  test.each(KERNELS)('%s: an options argument that is not an object is an error naming it', async (k) => {
    const { name } = BOUNDARY_OPTIONS[k];
    for (const wrong of [null, undefined, 3, 'x', [], new Float32Array(2), () => 0]) {
      expectNamed(await rejected(() => call(k, CALLS[k].args(wrong))), name, 'an options object');
    }
  });

  const withChoices = KERNELS.filter((k) => fieldsOf(k).some(([, kind]) => Array.isArray(kind)));
  test.each(withChoices)("%s: a name that is none of its field's names is an error naming the field", async (k) => {
    for (const [field] of fieldsOf(k).filter(([, kind]) => Array.isArray(kind))) {
      const o = { ...CALLS[k].fields, [field]: 'open' };
      expectNamed(
        await rejected(() => call(k, CALLS[k].args(o))),
        `${BOUNDARY_OPTIONS[k].name}.${field}`,
        'one of "periodic", "zeroFlux"',
      );
    }
  });
});
