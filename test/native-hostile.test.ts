/**
 * The native bindings against hostile arguments (issue 15, items 3 and 5): an options getter
 * that detaches, shrinks or grows a buffer the call also receives; resizable and shared
 * buffers; objects whose valueOf would run JS; grid and matrix sizes whose products overflow.
 *
 * What a binding must do (native/src/binding/args.hpp): read and validate every scalar and
 * every options field (each exactly once) before it takes any typed array's data pointer, so
 * a getter's change to a buffer is seen as the buffer is afterwards — a detached or
 * out-of-bounds view has length 0, a length-tracking view of a resizable buffer its new
 * length — and the length checks turn it into an error naming a parameter, never a read or
 * write of freed memory. Resizable and SharedArrayBuffer views work like any other view.
 *
 * Backends: cpp and rust (both bindings read their options first since the rust branch's
 * merge; main's rust addon before it crashed on energyFlowStep with an `h` getter that shrinks
 * `energy`, issue 15). The wording of <what> differs between the two bindings; the parameter
 * named and the shape of the message are common.
 */
import { describe, expect, test } from 'vitest';
import { CimmArgumentError } from '../lib/errors.js';
import type { Kernels } from '../lib/kernels.js';
import { backends } from './helpers.js';

const HOSTILE = ['cpp', 'rust'];
const under = backends.filter((b) => HOSTILE.includes(b.name));

type Attack = 'detach' | 'shrink to 0' | 'shrink by one' | 'grow by one';
const ATTACKS: Attack[] = ['detach', 'shrink to 0', 'shrink by one', 'grow by one'];

type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

/** ES2024's resizable ArrayBuffer (Node 20 has it; the project's TypeScript lib is ES2022). */
interface Resizable extends ArrayBuffer {
  resize(byteLength: number): void;
}
const ResizableBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => Resizable;

/** Arrays on resizable buffers (length-tracking views), by argument name, and the attack on one. */
class Arena {
  readonly buffers = new Map<string, Resizable>();

  array<C extends FloatCtor>(name: string, ctor: C, values: ArrayLike<number>): InstanceType<C> {
    const bytes = values.length * ctor.BYTES_PER_ELEMENT;
    const buffer = new ResizableBuffer(bytes, { maxByteLength: bytes + 64 });
    const view = new ctor(buffer) as InstanceType<C>;
    view.set(values);
    this.buffers.set(name, buffer);
    return view;
  }

  attack(name: string, attack: Attack, elementBytes: number): void {
    const buffer = this.buffers.get(name);
    if (!buffer) throw new Error(`no array ${name}`);
    if (attack === 'detach') structuredClone(buffer, { transfer: [buffer] });
    else if (attack === 'shrink to 0') buffer.resize(0);
    else if (attack === 'shrink by one') buffer.resize(buffer.byteLength - elementBytes);
    else buffer.resize(buffer.byteLength + elementBytes);
  }
}

/** `fields` as an object whose `trigger` getter runs `effect` first; counts each field's reads. */
function hostileOptions<T extends object>(fields: T, trigger: keyof T, effect: () => void) {
  const reads = new Map<PropertyKey, number>();
  const options = new Proxy(fields, {
    get(target, key, receiver) {
      reads.set(key, (reads.get(key) ?? 0) + 1);
      if (key === trigger) effect();
      return Reflect.get(target, key, receiver);
    },
  });
  return { options, reads };
}

const seq = (n: number, scale = 0.1) => Array.from({ length: n }, (_, i) => (i + 1) * scale);

/** A call whose options object can attack one of its arrays, and the arrays it needs. */
interface HostileCase {
  kernel: string;
  /** Arrays the call reads or writes whatever its options (an attack on one must be an error). */
  needed: string[];
  /** Element size of each array. */
  bytes: Record<string, number>;
  /** The call with a fresh arena; `wrap` turns the options object into the hostile one. */
  run(k: Kernels, arena: Arena, wrap: <T extends object>(fields: T) => T): unknown;
}

const FLOW = { h: 1, dt: 0.05, beta: 0.25, gamma: 0.35, kappa: 0.1, boundary: 'periodic' as const };
const SGD = {
  learningRate: 0.1,
  momentum: 0.9,
  dampening: 0,
  weightDecay: 0.01,
  nesterov: false,
  maximize: false,
  firstStep: true,
};
const ADAM = {
  beta1: 0.9,
  beta2: 0.999,
  stepSize: 0.01,
  bc2Sqrt: 0.5,
  epsilon: 1e-8,
  weightDecay: 0,
  decay: 1,
  amsgrad: false,
  maximize: false,
  metricScale: 1,
  metricEpsilon: 1e-12,
};

const CASES: HostileCase[] = [
  {
    kernel: 'energyFlowStep',
    needed: ['energy', 'potential', 'source', 'out'],
    bytes: { energy: 8, potential: 8, source: 8, out: 8 },
    run: (k, a, wrap) =>
      k.energyFlowStep(
        a.array('energy', Float64Array, seq(12)),
        a.array('potential', Float64Array, seq(12, 0.01)),
        a.array('source', Float64Array, seq(12, 0)),
        4,
        3,
        wrap({ ...FLOW }),
        a.array('out', Float64Array, seq(12, 0)),
      ),
  },
  {
    kernel: 'energyFlowMaxStep',
    needed: ['potential'],
    bytes: { potential: 8 },
    run: (k, a, wrap) =>
      k.energyFlowMaxStep(a.array('potential', Float64Array, seq(12, 0.01)), 4, 3, wrap({ ...FLOW })),
  },
  {
    kernel: 'sgdStepMeasured',
    needed: ['params', 'grads', 'momentumBuffer', 'before', 'out'],
    bytes: { params: 4, grads: 4, momentumBuffer: 4, before: 4, out: 8 },
    run: (k, a, wrap) =>
      k.sgdStepMeasured(
        a.array('params', Float32Array, seq(10)),
        a.array('grads', Float32Array, seq(10, 0.01)),
        a.array('momentumBuffer', Float32Array, seq(10, 0)),
        a.array('before', Float32Array, seq(10, 0)),
        wrap({ ...SGD }),
        a.array('out', Float64Array, [0, 0, 0]),
      ),
  },
  {
    kernel: 'adamStepMeasured',
    needed: ['params', 'grads', 'm', 'v', 'before', 'out'],
    bytes: { params: 8, grads: 8, m: 8, v: 8, before: 8, out: 8 },
    run: (k, a, wrap) =>
      k.adamStepMeasured(
        a.array('params', Float64Array, seq(10)),
        a.array('grads', Float64Array, seq(10, 0.01)),
        a.array('m', Float64Array, seq(10, 0)),
        a.array('v', Float64Array, seq(10, 0)),
        a.array('vMax', Float64Array, []),
        a.array('before', Float64Array, seq(10, 0)),
        wrap({ ...ADAM }),
        a.array('out', Float64Array, [0, 0, 0]),
      ),
  },
];

const PRODIGY = {
  beta1: 0.9,
  beta2: 0.999,
  beta3: 0.99,
  momentScale: 0.1,
  varianceScale: 0.001,
  sScale: 0.01,
  weightDecay: 0,
};

// The kernels whose hyperparameters cross as one options object (lib/kernels.ts, "kernels:
// options objects"): the same attacks.
CASES.push(
  {
    kernel: 'sgdStep',
    needed: ['params', 'grads', 'momentumBuffer'],
    bytes: { params: 4, grads: 4, momentumBuffer: 4 },
    run: (k, a, wrap) =>
      k.sgdStep(
        a.array('params', Float32Array, seq(10)),
        a.array('grads', Float32Array, seq(10, 0.01)),
        a.array('momentumBuffer', Float32Array, seq(10, 0)),
        wrap({ ...SGD }),
      ),
  },
  {
    kernel: 'adamStep',
    needed: ['params', 'grads', 'm', 'v'],
    bytes: { params: 8, grads: 8, m: 8, v: 8 },
    run: (k, a, wrap) => {
      const { metricScale: _s, metricEpsilon: _e, ...adam } = ADAM;
      return k.adamStep(
        a.array('params', Float64Array, seq(10)),
        a.array('grads', Float64Array, seq(10, 0.01)),
        a.array('m', Float64Array, seq(10, 0)),
        a.array('v', Float64Array, seq(10, 0)),
        a.array('vMax', Float64Array, []),
        wrap(adam),
      );
    },
  },
  {
    kernel: 'prodigyAccumulate',
    needed: ['params', 'grads', 'p0', 'm', 'v', 's'],
    bytes: { params: 4, grads: 4, p0: 4, m: 4, v: 4, s: 4 },
    run: (k, a, wrap) =>
      k.prodigyAccumulate(
        a.array('params', Float32Array, seq(10)),
        a.array('grads', Float32Array, seq(10, 0.01)),
        a.array('p0', Float32Array, seq(10)),
        a.array('m', Float32Array, seq(10, 0)),
        a.array('v', Float32Array, seq(10, 0)),
        a.array('s', Float32Array, seq(10, 0)),
        wrap({ ...PRODIGY }),
      ),
  },
  {
    kernel: 'prodigyUpdate',
    needed: ['params', 'm', 'v'],
    bytes: { params: 8, m: 8, v: 8 },
    run: (k, a, wrap) =>
      k.prodigyUpdate(
        a.array('params', Float64Array, seq(10)),
        a.array('m', Float64Array, seq(10, 0.01)),
        a.array('v', Float64Array, seq(10, 0.001)),
        wrap({ stepSize: 0.01, epsilon: 1e-8, decay: 0 }),
      ),
  },
  {
    kernel: 'matmul',
    needed: ['a', 'b', 'c'],
    bytes: { a: 4, b: 4, c: 4 },
    run: (k, a, wrap) =>
      k.matmul(
        wrap({ transA: false, transB: false, m: 2, n: 3, k: 4, alpha: 1, beta: 0.5 }),
        a.array('a', Float32Array, seq(8)),
        a.array('b', Float32Array, seq(12)),
        a.array('c', Float32Array, seq(6)),
      ),
  },
  {
    kernel: 'coupling',
    needed: ['t', 'out'],
    bytes: { t: 8, out: 8 },
    run: (k, a, wrap) =>
      k.coupling(
        a.array('t', Float64Array, seq(9)),
        wrap({ alpha: 1, beta: 0.2, gamma: 0.3, lambdaCosmo: 0.1 }),
        a.array('out', Float64Array, seq(9, 0)),
      ),
  },
  {
    kernel: 'scaleTransition',
    needed: ['t', 'out'],
    bytes: { t: 8, out: 8 },
    run: (k, a, wrap) =>
      k.scaleTransition(
        a.array('t', Float64Array, seq(9)),
        wrap({ scaleCoupling: 0.5, criticalTime: 1 }),
        a.array('out', Float64Array, seq(9, 0)),
      ),
  },
  {
    kernel: 'nonlocalEnergy',
    needed: ['x', 'y', 'points'],
    bytes: { x: 4, y: 4, points: 4 },
    run: (k, a, wrap) =>
      k.nonlocalEnergy(
        a.array('x', Float32Array, seq(3)),
        a.array('y', Float32Array, seq(3, 0.2)),
        a.array('points', Float32Array, seq(12, 0.05)),
        wrap({ lengthScale: 1.5, softening: 0.01 }),
      ),
  },
  {
    kernel: 'updateEnergy',
    needed: ['before', 'after', 'grads', 'out'],
    bytes: { before: 4, after: 4, grads: 4, out: 8 },
    run: (k, a, wrap) =>
      k.updateEnergy(
        a.array('before', Float32Array, seq(10)),
        a.array('after', Float32Array, seq(10, 0.11)),
        a.array('grads', Float32Array, seq(10, 0.01)),
        a.array('metric', Float32Array, []),
        wrap({ metricScale: 1, epsilon: 1e-8 }),
        a.array('out', Float64Array, [0, 0, 0]),
      ),
  },
  {
    kernel: 'laplacian',
    needed: ['energy', 'out'],
    bytes: { energy: 8, out: 8 },
    run: (k, a, wrap) =>
      k.laplacian(
        a.array('energy', Float64Array, seq(12)),
        4,
        3,
        wrap({ h: 0.5, boundary: 'periodic' as const }),
        a.array('out', Float64Array, seq(12, 0)),
      ),
  },
);

/** The async kernels: the attack happens during the call; the promise must reject naming a parameter. */
const ASYNC_CASES: HostileCase[] = [
  {
    kernel: 'energyFlowRunAsync',
    needed: ['energy', 'potential', 'source'],
    bytes: { energy: 8, potential: 8, source: 8, kappas: 8 },
    run: (k, a, wrap) =>
      k.energyFlowRunAsync(
        a.array('energy', Float64Array, seq(12)),
        a.array('potential', Float64Array, seq(12, 0.01)),
        a.array('source', Float64Array, seq(12, 0)),
        4,
        3,
        wrap({ h: 1, dt: 0.05, beta: 0.25, gamma: 0.35, boundary: 'periodic' as const }),
        a.array('kappas', Float64Array, [0.1, 0.2]),
      ),
  },
  {
    kernel: 'matmulAsync',
    needed: ['a', 'b'],
    bytes: { a: 4, b: 4, c: 4 },
    run: (k, a, wrap) =>
      k.matmulAsync(
        wrap({ transA: false, transB: false, m: 2, n: 3, k: 4, alpha: 1, beta: 0 }),
        a.array('a', Float32Array, seq(8)),
        a.array('b', Float32Array, seq(12)),
        a.array('c', Float32Array, seq(6)),
      ),
  },
];

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.skipIf(under.length === 0).each(under.map((b) => [b.name, b.kernels] as const))(
  'native bindings against hostile arguments [%s]',
  (name, k) => {
    for (const c of CASES) {
      for (const target of Object.keys(c.bytes)) {
        test.each(ATTACKS)(`${c.kernel}: an options getter that does "%s" to ${target}`, (attack) => {
          const arena = new Arena();
          let fired = 0;
          const wrap = <T extends object>(fields: T): T => {
            const trigger = Object.keys(fields)[0] as keyof T;
            return hostileOptions(fields, trigger, () => {
              fired++;
              arena.attack(target, attack, c.bytes[target]);
            }).options;
          };
          const error = caught(() => c.run(k, arena, wrap));
          expect(fired).toBe(1);
          if (c.needed.includes(target)) {
            // the binding sees the buffer as the getter left it: a length no longer right
            expect(error).toBeInstanceOf(CimmArgumentError);
            expect((error as Error).message).toMatch(/^Expected .* for \w+ but received /);
            // …and names one of the call's arrays (an options field was read before any of them)
            expect([...arena.buffers.keys()]).toContain((error as CimmArgumentError).parameter);
          } else if (error !== undefined) {
            expect(error).toBeInstanceOf(CimmArgumentError);
          }
        });
      }
    }

    for (const c of ASYNC_CASES) {
      for (const target of c.needed) {
        test.each(ATTACKS)(`${c.kernel}: an options getter that does "%s" to ${target}`, async (attack) => {
          const arena = new Arena();
          const wrap = <T extends object>(fields: T): T =>
            hostileOptions(fields, Object.keys(fields)[0] as keyof T, () =>
              arena.attack(target, attack, c.bytes[target]),
            ).options;
          let error: unknown;
          try {
            await c.run(k, arena, wrap);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(CimmArgumentError);
          expect([...arena.buffers.keys()]).toContain((error as CimmArgumentError).parameter);
        });
      }
    }

    test('every options field is read exactly once per call', async () => {
      const calls: [string, (wrap: <T extends object>(f: T) => T) => unknown][] = [...CASES, ...ASYNC_CASES].map(
        (c) => [c.kernel, (w) => c.run(k, new Arena(), w)],
      );
      for (const [kernel, call] of calls) {
        const all: Map<PropertyKey, number>[] = [];
        const fieldsOf: string[][] = [];
        await call(<T extends object>(fields: T): T => {
          const { options, reads } = hostileOptions(fields, '' as keyof T, () => {});
          all.push(reads);
          fieldsOf.push(Object.keys(fields));
          return options;
        });
        // every field the kernel reads is read once (energyFlowMaxStep has no use for dt and kappa)
        expect(all.length, kernel).toBe(1);
        const reads = all[0];
        expect(reads.size, kernel).toBeGreaterThanOrEqual(2);
        for (const [field, n] of reads) {
          expect(fieldsOf[0], kernel).toContain(field);
          expect(n, `${kernel}: ${String(field)}`).toBe(1);
        }
      }
    });

    test('a number argument that is an object is an error, its valueOf never called', () => {
      const x = Float32Array.of(1, -2, 3);
      const y = new Float32Array(3);
      let called = 0;
      const sneaky = {
        valueOf() {
          called++;
          structuredClone(y.buffer, { transfer: [y.buffer] });
          return 0.5;
        },
      } as unknown as number;
      const error = caught(() => k.fractalStep(x, sneaky, y));
      expect(error).toBeInstanceOf(CimmArgumentError);
      expect((error as CimmArgumentError).parameter).toBe('offset');
      expect(called).toBe(0);
      expect(y.length).toBe(3);
    });

    test('resizable and SharedArrayBuffer views compute like plain arrays', () => {
      const values = seq(12, 0.3);
      const plain = { e: Float64Array.from(values), out: new Float64Array(12) };
      const rab = new ResizableBuffer(96, { maxByteLength: 256 });
      const growing = new Float64Array(rab);
      growing.set(values);
      const sab = new Float64Array(new SharedArrayBuffer(12 * 8 + 16), 8, 12);
      const shared = new Float64Array(new SharedArrayBuffer(96));
      shared.set(values);
      k.laplacian(plain.e, 4, 3, { h: 0.5, boundary: 'periodic' }, plain.out);
      k.laplacian(growing, 4, 3, { h: 0.5, boundary: 'periodic' }, sab);
      expect([...sab]).toEqual([...plain.out]);
      k.laplacian(shared, 4, 3, { h: 0.5, boundary: 'zeroFlux' }, plain.out);
      const want = new Float64Array(12);
      k.laplacian(Float64Array.from(values), 4, 3, { h: 0.5, boundary: 'zeroFlux' }, want);
      expect([...plain.out]).toEqual([...want]);
      // a length-tracking view follows its buffer: after a grow its length is checked anew
      rab.resize(128);
      expect(growing.length).toBe(16);
      expect(
        caught(() => k.laplacian(growing, 4, 3, { h: 0.5, boundary: 'periodic' }, new Float64Array(12))),
      ).toBeInstanceOf(CimmArgumentError);
      // a view left out of bounds by a shrink has length 0
      const offset = new Float64Array(rab, 64, 4);
      rab.resize(32);
      expect(offset.length).toBe(0);
      const sums = Float64Array.of(7, 7, 7);
      k.gridSums(offset, sums);
      const none = Float64Array.of(7, 7, 7);
      k.gridSums(new Float64Array(0), none);
      expect([...sums]).toEqual([...none]);
    });

    test('grid sizes whose product overflows are errors naming ny, never a wrap', async () => {
      const empty = new Float64Array(0);
      const huge = 2 ** 32;
      const expectNy = (error: unknown) => {
        expect(error).toBeInstanceOf(CimmArgumentError);
        expect((error as CimmArgumentError).parameter).toBe('ny');
        expect((error as Error).message).toMatch(/^Expected an integer with nx·ny <= 4294967296 for ny but received/);
      };
      expectNy(caught(() => k.laplacian(empty, huge, huge, { h: 1, boundary: 'periodic' }, empty)));
      expectNy(caught(() => k.energyFlowStep(empty, empty, empty, huge, huge, FLOW, empty)));
      expectNy(caught(() => k.energyFlowMaxStep(empty, huge, huge, FLOW)));
      expectNy(caught(() => k.laplacian(empty, 65536, 65537, { h: 1, boundary: 'periodic' }, empty)));
      let error: unknown;
      try {
        await k.energyFlowRunAsync(empty, empty, empty, huge, huge, FLOW, empty);
      } catch (e) {
        error = e;
      }
      expectNy(error);
    });

    test('matrix sizes whose products are too large are errors naming the dimension', async () => {
      const cppWording = /^Expected dimensions whose products? (m·n )?fits? in memory for/;
      const big = 2 ** 31 - 1;
      const empty = new Float32Array(0);
      const error = caught(() =>
        k.matmul({ transA: false, transB: false, m: big, n: big, k: big, alpha: 1, beta: 0 }, empty, empty, empty),
      );
      expect(error).toBeInstanceOf(CimmArgumentError);
      // a field of params is named params.<field> (cpp) or, for a value out of range, by the kernel's name (rust)
      expect((error as CimmArgumentError).parameter).toMatch(/^(params\.)?(m|k)$/);
      if (name === 'cpp') expect((error as Error).message).toMatch(cppWording);
      let rejected: unknown;
      try {
        await k.matmulAsync(
          { transA: false, transB: false, m: big, n: big, k: 1, alpha: 1, beta: 0 },
          empty,
          empty,
          undefined,
        );
      } catch (e) {
        rejected = e;
      }
      expect(rejected).toBeInstanceOf(CimmArgumentError);
      expect((rejected as CimmArgumentError).parameter).toMatch(/^(params\.)?m$/);
      // k = 0 makes a and b empty and valid; a 10^7 × 10^7 result cannot be allocated: an
      // error naming the dimension (main's addon aborted the process: V8's allocation failure
      // in napi_create_arraybuffer is fatal)
      let unallocatable: unknown;
      try {
        await k.matmulAsync(
          { transA: false, transB: false, m: 1e7, n: 1e7, k: 0, alpha: 1, beta: 0 },
          empty,
          empty,
          undefined,
        );
      } catch (e) {
        unallocatable = e;
      }
      // both check m·n against V8's typed-array limit before allocating (an allocator may abort
      // on an absurd size instead of failing: ASan's does)
      expect(unallocatable).toBeInstanceOf(CimmArgumentError);
      expect((unallocatable as CimmArgumentError).parameter).toBe('params.m');
      expect((unallocatable as Error).message).toMatch(cppWording);
    });
  },
);
