/**
 * What an options object costs at the native boundary (docs/boundary.md, "Options objects"):
 * the smallest calls of the kernels that take one, in one process, interleaved, ns per call.
 *
 *     node dist/bench/boundary-cost.js [--old-rust FILE] [--old-cpp FILE] [--rounds 15] [--calls 20000]
 *
 * Columns, per native backend:
 * - `object`: an addon that reads the options object natively, field by field through
 *   Node-API (the build before the positional boundary: pass its .node files with --old-rust /
 *   --old-cpp; they are loaded beside this build's), behind the same error mapping the
 *   backend has;
 * - `reader`: this build's backend as the library loads it: the object read once in JS
 *   (lib/backends/boundary.ts), its fields passed positionally;
 * - `positional`: this build's addon called with the positional scalars directly (no object
 *   at all): the floor the reader adds to;
 * and the js backend beside. Before timing, every variant of a backend runs each row once on
 * fresh inputs and must leave bit-identical outputs.
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getBackend } from '../lib/backend.js';
import { fromNativeError, type NativeAddon } from '../lib/backends/native.js';
import { BOUNDARY_OPTIONS, type Kernels, type OptionsKernelName } from '../lib/kernels.js';
import { uniformF32, uniformF64 } from './cases/common.js';

const { values } = parseArgs({
  options: {
    'old-rust': { type: 'string' },
    'old-cpp': { type: 'string' },
    rounds: { type: 'string', default: '15' },
    calls: { type: 'string', default: '20000' },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const require = createRequire(import.meta.url);

/** A row: a kernel and a function making one call's arguments (fresh arrays each time). */
interface Row {
  label: string;
  kernel: OptionsKernelName;
  args: () => unknown[];
}

const SGD = {
  learningRate: 1e-3,
  momentum: 0.9,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
  maximize: false,
  firstStep: false,
};
const ADAM = {
  beta1: 0.9,
  beta2: 0.999,
  stepSize: 1e-3,
  bc2Sqrt: 0.1,
  epsilon: 1e-8,
  weightDecay: 0,
  decay: 1,
  amsgrad: false,
  maximize: false,
};
const f32 = (n: number, seed: number) => uniformF32(n, seed);
const f64 = (n: number, seed: number) => uniformF64(n, seed);

const sgd = (n: number): Row => ({
  label: `sgdStep n=${n}`,
  kernel: 'sgdStep',
  args: () => [f32(n, 1), f32(n, 2), new Float32Array(n), { ...SGD }],
});
const adam = (n: number): Row => ({
  label: `adamStep n=${n}`,
  kernel: 'adamStep',
  args: () => [f32(n, 1), f32(n, 2), new Float32Array(n), new Float32Array(n), new Float32Array(0), { ...ADAM }],
});
const prodigy = (n: number): Row => ({
  label: `prodigyUpdate n=${n}`,
  kernel: 'prodigyUpdate',
  args: () => [f32(n, 1), f32(n, 2), uniformF32(n, 3, 0, 1), { stepSize: 1e-3, epsilon: 1e-8, decay: 0 }],
});
const matmul = (s: number): Row => ({
  label: `matmul ${s}x${s}x${s}`,
  kernel: 'matmul',
  args: () => [
    { transA: false, transB: false, m: s, n: s, k: s, alpha: 1, beta: 0 },
    f32(s * s, 1),
    f32(s * s, 2),
    new Float32Array(s * s),
  ],
});
const coupling = (n: number): Row => ({
  label: `coupling n=${n}`,
  kernel: 'coupling',
  args: () => [
    uniformF64(n, 1, 0, 10),
    { alpha: 0.45, beta: 0.25, gamma: 0.35, lambdaCosmo: 1.2 },
    new Float64Array(n),
  ],
});
const laplacian = (s: number): Row => ({
  label: `laplacian ${s}x${s}`,
  kernel: 'laplacian',
  args: () => [f64(s * s, 1), s, s, { h: 1, boundary: 'periodic' }, new Float64Array(s * s)],
});

const ROWS: Row[] = [
  sgd(1),
  sgd(1000),
  adam(1),
  adam(1000),
  prodigy(1),
  prodigy(1000),
  matmul(1),
  matmul(8),
  coupling(1),
  coupling(1000),
  laplacian(1),
  laplacian(16),
];

/** The arguments with the options object replaced by its fields, as the addon takes them. */
function spliced(kernel: OptionsKernelName, args: unknown[]): unknown[] {
  const { at, fields } = BOUNDARY_OPTIONS[kernel];
  const o = args[at] as Record<string, unknown>;
  const crossed = Object.entries(fields).map(([name, kind]) =>
    Array.isArray(kind) ? kind.indexOf(o[name] as string) : o[name],
  );
  return [...args.slice(0, at), ...crossed, ...args.slice(at + 1)];
}

type Fn = (...args: unknown[]) => unknown;

/**
 * `() => fn(a0, a1, …)` with the arguments spelled out (compiled once), so that every variant
 * pays the same plain call and no spread.
 */
function caller(fn: Fn, args: unknown[]): () => unknown {
  const names = args.map((_, i) => `a${i}`);
  const make = new Function('fn', ...names, `return () => fn(${names.join(', ')});`);
  return make(fn, ...args) as () => unknown;
}

/** How a variant calls a row's kernel: with the object (`object`, `reader`, js) or positionally. */
interface Variant {
  name: string;
  fn: (kernel: OptionsKernelName) => Fn;
  positional: boolean;
}

/** An old addon's kernel behind the error mapping main's backend had (lib/backends/native.ts). */
function mapped(f: Fn): Fn {
  return (...args) => {
    try {
      return f(...args);
    } catch (error) {
      throw fromNativeError(error);
    }
  };
}

// unbound: the kernels use no `this`, and a bound function would cost its own call
const backendKernel = (k: Kernels) => (kernel: OptionsKernelName) => k[kernel] as unknown as Fn;

function variantsOf(name: 'rust' | 'cpp', old: string | undefined): Variant[] {
  let kernels: Kernels;
  try {
    kernels = getBackend(name);
  } catch (error) {
    console.warn(`[boundary-cost] no ${name} backend: ${(error as Error).message.split('\n')[0]}`);
    return [];
  }
  const source = kernels.describe().source;
  const addon = (source ? require(source) : undefined) as NativeAddon | undefined;
  const out: Variant[] = [];
  if (old) {
    const oldAddon = require(old) as Record<string, Fn>;
    out.push({ name: `${name} object`, fn: (kernel) => mapped(oldAddon[kernel]), positional: false });
  }
  out.push({ name: `${name} reader`, fn: backendKernel(kernels), positional: false });
  if (addon) {
    const raw = addon as unknown as Record<string, Fn>;
    out.push({ name: `${name} positional`, fn: (kernel) => raw[kernel], positional: true });
  }
  return out;
}

const VARIANTS: Variant[] = [
  ...variantsOf('rust', values['old-rust']),
  ...variantsOf('cpp', values['old-cpp']),
  { name: 'js', fn: backendKernel(getBackend('js')), positional: false },
];

/** Every typed array of a call's arguments, after one call on fresh inputs. */
function outputs(v: Variant, row: Row): ArrayBufferView[] {
  const args = row.args();
  caller(v.fn(row.kernel), v.positional ? spliced(row.kernel, args) : args)();
  return args.filter((a): a is ArrayBufferView => ArrayBuffer.isView(a));
}

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

// agreement first: the variants of one backend leave the same bits
for (const row of ROWS) {
  for (const backend of ['rust', 'cpp']) {
    const mine = VARIANTS.filter((v) => v.name.startsWith(`${backend} `));
    const [first, ...rest] = mine.map((v) => outputs(v, row));
    rest.forEach((got, i) => {
      if (!got.every((a, j) => sameBytes(a, first[j]))) {
        throw new Error(`${row.label}: ${mine[i + 1].name} disagrees with ${mine[0].name}`);
      }
    });
  }
}

/** ns per call, each round's batch, per row and variant. */
const times = new Map<string, number[]>();
const key = (row: Row, v: Variant) => `${row.label}\u0000${v.name}`;
const prepared = ROWS.map((row) =>
  VARIANTS.map((v) => {
    const args = row.args();
    return { row, v, run: caller(v.fn(row.kernel), v.positional ? spliced(row.kernel, args) : args) };
  }),
);
for (const group of prepared) for (const { run } of group) for (let i = 0; i < 2000; i++) run(); // warm up

for (let r = 0; r < rounds; r++) {
  for (const group of prepared) {
    // rotate the order each round
    for (let j = 0; j < group.length; j++) {
      const { row, v, run } = group[(j + r) % group.length];
      const n = row.label.includes('1000') || row.label.includes('16x16') ? calls / 20 : calls;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) run();
      const ns = Number(process.hrtime.bigint() - t0) / n;
      const list = times.get(key(row, v)) ?? [];
      list.push(ns);
      times.set(key(row, v), list);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const ns = (row: Row, name: string) => {
  const v = VARIANTS.find((x) => x.name === name);
  return v ? median(times.get(key(row, v)) ?? []) : Number.NaN;
};

const header = ['row', ...VARIANTS.map((v) => v.name), 'reader/object rust', 'reader/object cpp'];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of ROWS) {
  const cells = VARIANTS.map((v) => ns(row, v.name).toFixed(0));
  const ratio = (b: string) => (ns(row, `${b} reader`) / ns(row, `${b} object`)).toFixed(2);
  console.log(`| ${[row.label, ...cells, ratio('rust'), ratio('cpp')].join(' | ')} |`);
}
console.log(
  `\nns per call, median of ${rounds} interleaved rounds of ${calls} calls (${calls / 20} at n = 1000 and 16x16); ` +
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
);
