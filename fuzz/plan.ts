/**
 * The vocabulary of the fuzz harness: a target's parameters (the per-target tables in
 * fuzz/kernels.ts and fuzz/facade.ts are written in it), the JSON plan of one call, the
 * generator of valid calls and the mutations that make them hostile. A call is a pure
 * function of (seed, index), so any call is reproduced from those two numbers alone.
 */

export type SpecialNumber = 'NaN' | 'Infinity' | '-Infinity' | '-0';
/** How an array's buffer is made: plain, SharedArrayBuffer, resizable, or a length-tracking view of a resizable one. */
export type Backing = 'plain' | 'shared' | 'resizable' | 'tracking';
/** The contents of an array: moderate values (the default), a domain, or hostile specials. */
export type Fill = 'moderate' | 'nonneg' | 'positive' | 'unit' | 'zeros' | 'special';

export interface ArrayPlan {
  t: 'array';
  /** A global constructor name (Float32Array, Int32Array, DataView, …) or 'Array'. */
  ctor: string;
  length: number;
  /** Guard elements before and after the view. */
  before: number;
  after: number;
  backing: Backing;
  fill: Fill;
  seed: number;
  /** Detach the buffer after building (a detached typed array). */
  detach?: boolean;
}

/** What a hostile getter or valueOf does when read: to the buffer of argument `target`. */
export interface Hostile {
  action: 'detach' | 'transfer' | 'shrink' | 'grow' | 'throw' | 'flip';
  target: number;
  /** The options field that carries the getter. */
  field?: string;
  /** Act on the first read only (default) or on every read. */
  once?: boolean;
  /** flip: the value of the second and later reads. */
  second?: number | SpecialNumber;
}

export type Plan =
  | ArrayPlan
  | { t: 'num'; v: number | SpecialNumber }
  | { t: 'value'; v: string | boolean | null | number | readonly unknown[] | Record<string, unknown> }
  | { t: 'undefined' }
  | { t: 'bigint'; v: string }
  | { t: 'symbol' }
  | { t: 'function' }
  | { t: 'alias'; of: number; offset: number; length: number; ctor: string }
  | { t: 'signal'; aborted: boolean }
  | { t: 'valueOf'; v: number | SpecialNumber; hostile: Hostile }
  | { t: 'object'; fields: Record<string, Plan>; hostile?: Hostile[] };

/** One allocated buffer's guard: the view's byte range and the buffer's bytes at creation. */
export interface GuardRecord {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
  original: Uint8Array;
}

// ---------------------------------------------------------------------------------------
// Randomness: one generator per (seed, index).

export class Rng {
  private a: number;
  constructor(seed: number, index: number) {
    // splitmix-style mixing of the two numbers into one 32-bit state.
    let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
    this.a = (h ^ (h >>> 16)) >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  seed32(): number {
    return this.int(2 ** 32);
  }
  /** A length: mostly small, sometimes past SIMD widths, rarely past the thread threshold. */
  length(max = 48): number {
    const u = this.next();
    if (u < 0.7) return this.range(0, max);
    if (u < 0.99) return this.range(max + 1, 700);
    return this.range(20_000, 80_000);
  }
}

// ---------------------------------------------------------------------------------------
// The parameter vocabulary of the target tables.

export type Dtype = 'f32' | 'f64';

/** What a valid call's generator knows: the sizes, the dtype, and values picked in `prepare`. */
export interface Ctx {
  rng: Rng;
  dims: Record<string, number>;
  dtype: Dtype;
  values: Record<string, number | boolean | string>;
}

export type Role = 'in' | 'out' | 'inout';

export type Param =
  | {
      kind: 'array';
      name: string;
      el: 'f32' | 'f64' | 'real';
      len: (c: Ctx) => number;
      role: Role;
      fill?: Fill;
      /** The facade accepts a plain number here too (coupling(t: number)). */
      optional?: boolean;
    }
  | { kind: 'number'; name: string; valid: (c: Ctx) => number; optional?: boolean }
  | {
      kind: 'int';
      name: string;
      valid: (c: Ctx) => number;
      optional?: boolean;
      /** Valid values above this cost seconds (primeCount ≤ 10⁶): mutations then use invalid sizes only. */
      costlyAbove?: number;
    }
  | { kind: 'bool'; name: string; valid?: (c: Ctx) => boolean; optional?: boolean }
  | { kind: 'enum'; name: string; choices: readonly string[]; valid?: (c: Ctx) => string; optional?: boolean }
  | { kind: 'options'; name: string; fields: Param[]; optional?: boolean }
  | { kind: 'signal'; name: string; optional?: boolean }
  | { kind: 'bytes'; name: string; make: (c: Ctx) => Plan; optional?: boolean };

export interface TargetSpec {
  params: Param[];
  /** Random valid sizes. */
  dims: (r: Rng) => Record<string, number>;
  /** Pick values that other parameters depend on (into ctx.values) before the parameters are built. */
  prepare?: (c: Ctx) => void;
  /** Array dtypes a valid call may use for `real` arrays (default f32 and f64 when any is real). */
  dtypes?: readonly Dtype[];
  /**
   * The NaN contract: a call whose inputs are all finite and moderate returns no NaN (in its
   * result or any written array). A function decides per call (shannonEntropy of zero mass is
   * NaN by definition). Default true.
   */
  finite?: boolean | ((c: CallRecord, args: unknown[]) => boolean);
  /** Relative frequency among the targets of its set (default 1). */
  weight?: number;
  /** Scenario parameters that are the harness's own controls (loop counts, sizes it allocates): never mutated. */
  fixed?: readonly string[];
  /** Names an error may cite besides the parameters' (the library's own names for them, e.g. `matrix` for re/im). */
  citable?: readonly string[];
}

/** One generated call: JSON (for the child, the report and the reproducer). */
export interface CallRecord {
  set: string;
  target: string;
  backend: string;
  seed: number;
  index: number;
  plans: Plan[];
  /** Each top-level argument's parameter name and role (options: 'in'). */
  names: string[];
  roles: Role[];
  /** Every name an error may cite: parameters, `options.field` spellings and bare field names. */
  citable: string[];
  dims: Record<string, number>;
  values: Record<string, number | boolean | string>;
  dtype: Dtype;
  /** What was made hostile, in words (empty for a valid call). */
  mutations: string[];
  /** No value mutation: finite, moderate inputs (the NaN contract applies). */
  moderate: boolean;
  /** Two array arguments share memory (the inputs-unchanged check does not apply). */
  aliased: boolean;
  /** A getter or valueOf may detach, resize or throw during the call. */
  hostile: boolean;
  /** Only layout changed (offset, shared, resizable): the call is valid. */
  valid: boolean;
}

// ---------------------------------------------------------------------------------------
// Valid arguments.

const FLOAT_CTOR = { f32: 'Float32Array', f64: 'Float64Array' } as const;

export function arrayPlan(r: Rng, ctor: string, length: number, fill: Fill = 'moderate'): ArrayPlan {
  return {
    t: 'array',
    ctor,
    length,
    before: r.range(1, 4),
    after: r.range(1, 4),
    backing: 'plain',
    fill,
    seed: r.seed32(),
  };
}

export function numPlan(v: number): Plan {
  if (Number.isNaN(v)) return { t: 'num', v: 'NaN' };
  if (v === Infinity) return { t: 'num', v: 'Infinity' };
  if (v === -Infinity) return { t: 'num', v: '-Infinity' };
  if (Object.is(v, -0)) return { t: 'num', v: '-0' };
  return { t: 'num', v };
}

function validPlan(p: Param, c: Ctx): Plan {
  switch (p.kind) {
    case 'array': {
      const ctor = p.el === 'real' ? FLOAT_CTOR[c.dtype] : FLOAT_CTOR[p.el];
      return arrayPlan(c.rng, ctor, p.len(c), p.fill);
    }
    case 'number':
    case 'int':
      return numPlan(p.valid(c));
    case 'bool':
      return { t: 'value', v: p.valid ? p.valid(c) : c.rng.chance(0.5) };
    case 'enum':
      return { t: 'value', v: p.valid ? p.valid(c) : c.rng.pick(p.choices) };
    case 'options': {
      const fields: Record<string, Plan> = {};
      for (const f of p.fields) {
        if (f.optional && c.rng.chance(0.3)) continue;
        fields[f.name] = validPlan(f, c);
      }
      return { t: 'object', fields };
    }
    case 'signal':
      return p.optional && c.rng.chance(0.6) ? { t: 'undefined' } : { t: 'signal', aborted: c.rng.chance(0.05) };
    case 'bytes':
      return p.make(c);
  }
}

// ---------------------------------------------------------------------------------------
// Mutations: each returns a replacement plan and says what it did.

interface Mutated {
  plan: Plan;
  what: string;
  /** Values stay finite and moderate (layout-only changes). */
  moderate?: boolean;
  /** The call stays valid (layout only). */
  valid?: boolean;
  aliased?: boolean;
  hostile?: boolean;
}

const WRONG_CTORS = [
  'Float32Array',
  'Float64Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint32Array',
  'BigInt64Array',
  'DataView',
  'Array',
];

const NON_VALUES: readonly Plan[] = [
  { t: 'undefined' },
  { t: 'value', v: null },
  { t: 'value', v: '1' },
  { t: 'value', v: true },
  { t: 'value', v: {} },
  { t: 'value', v: [1, 2] },
  { t: 'bigint', v: '3' },
  { t: 'symbol' },
  { t: 'function' },
];

const BAD_NUMBERS: readonly (number | SpecialNumber)[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  1e308,
  -1e308,
  5e-324,
  3.5e38,
  -3.5e38,
  2 ** 53 + 2,
  -1,
  0,
  -0.5,
  1e-300,
  1e20,
];

const BAD_SIZES: readonly (number | SpecialNumber)[] = [
  -1,
  0,
  1.5,
  0.5,
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 53,
  1e15,
  65_536,
  -(2 ** 31),
];

/** Where a layout change leaves the values alone: odd offset, shared, resizable, tracking. */
function relayout(r: Rng, p: ArrayPlan): Mutated {
  const backing = r.pick(['plain', 'shared', 'resizable', 'tracking'] as const);
  const before = r.range(0, 9) | 1;
  const after = backing === 'tracking' ? 0 : r.range(0, 5);
  return {
    plan: { ...p, backing, before, after },
    what: `${backing} backing, view at element ${before}${backing === 'tracking' ? ' (length-tracking)' : ''}`,
    moderate: true,
    valid: true,
  };
}

function mutateArray(r: Rng, p: ArrayPlan, index: number, arrays: number[]): Mutated {
  const u = r.int(9);
  if (u === 0) {
    const ctor = r.pick(WRONG_CTORS.filter((c) => c !== p.ctor));
    return { plan: { ...p, ctor }, what: `a ${ctor} instead of ${p.ctor}` };
  }
  if (u === 1) {
    const length = r.pick([p.length + 1, Math.max(0, p.length - 1), 0, p.length * 2 + 3, p.length + 1000]);
    return { plan: { ...p, length }, what: `length ${length} instead of ${p.length}` };
  }
  if (u === 2) return { plan: { ...p, fill: 'special' }, what: 'NaN, ±∞, −0 and huge values inside' };
  if (u === 3) return { plan: { ...p, detach: true }, what: 'a detached buffer' };
  if (u === 4 && arrays.length > 1) {
    const of = r.pick(arrays.filter((a) => a !== index));
    return {
      plan: { t: 'alias', of, offset: r.range(-1, 3), length: p.length, ctor: p.ctor },
      what: `a view overlapping argument ${of}`,
      aliased: true,
      // Not moderate: the overlap may reach into the other view's guard bytes or domain (a metric read from grads).
    };
  }
  if (u === 5) {
    const v = r.pick(NON_VALUES);
    return { plan: v, what: `${v.t === 'value' ? JSON.stringify(v.v) : v.t} instead of an array` };
  }
  if (u === 6) return { plan: { t: 'value', v: { length: p.length } }, what: 'an array-like object' };
  return relayout(r, p);
}

function mutateScalar(r: Rng, p: Param, plan: Plan, arrays: number[]): Mutated {
  const u = r.int(10);
  if (u < 2) {
    const v = r.pick(NON_VALUES);
    return { plan: v, what: `${v.t === 'value' ? JSON.stringify(v.v) : v.t} for ${p.name}` };
  }
  if (u === 2 && arrays.length > 0 && (p.kind === 'number' || p.kind === 'int')) {
    const target = r.pick(arrays);
    const action = r.pick(['detach', 'shrink', 'transfer', 'throw'] as const);
    const v = plan.t === 'num' ? plan.v : 1;
    return {
      plan: { t: 'valueOf', v, hostile: { action, target } },
      what: `an object whose valueOf does ${action} on argument ${target}`,
      hostile: true,
    };
  }
  if (p.kind === 'bool') {
    const v = r.pick([0, 1, 'true', 'false']);
    return { plan: { t: 'value', v }, what: `${JSON.stringify(v)} for ${p.name}` };
  }
  if (p.kind === 'enum') {
    const v = r.pick(['nope', '', p.choices[0].toUpperCase(), 3]);
    return { plan: { t: 'value', v }, what: `${JSON.stringify(v)} for ${p.name}` };
  }
  if (p.kind === 'int') {
    const valid = plan.t === 'num' && typeof plan.v === 'number' ? plan.v : 1;
    const cap = p.costlyAbove;
    const sizes =
      cap === undefined ? BAD_SIZES : BAD_SIZES.filter((s) => typeof s !== 'number' || s <= cap || s > 2 ** 31);
    const v = r.chance(0.3) ? r.pick([valid + 1, valid - 1, valid * 2, valid + 0.5]) : r.pick(sizes);
    return { plan: { t: 'num', v }, what: `${v} for ${p.name}` };
  }
  const v = r.pick(BAD_NUMBERS);
  return { plan: { t: 'num', v }, what: `${v} for ${p.name}` };
}

function mutateOptions(
  r: Rng,
  p: Extract<Param, { kind: 'options' }>,
  plan: Extract<Plan, { t: 'object' }>,
  arrays: number[],
  c: Ctx,
): Mutated {
  const u = r.int(8);
  const names = p.fields.map((f) => f.name);
  if (u === 0) {
    const v = r.pick(NON_VALUES.filter((x) => !(x.t === 'value' && x.v !== null && typeof x.v === 'object')));
    return { plan: v, what: `${v.t === 'value' ? JSON.stringify(v.v) : v.t} for ${p.name}` };
  }
  if (u === 1 && names.length > 0) {
    const drop = r.pick(names);
    const fields = { ...plan.fields };
    delete fields[drop];
    return { plan: { ...plan, fields }, what: `${p.name}.${drop} missing` };
  }
  if (u === 2) {
    return {
      plan: { ...plan, fields: { ...plan.fields, extraField: { t: 'num', v: 1 } } },
      what: `${p.name} with an extra field`,
      moderate: true,
      valid: true,
    };
  }
  if ((u === 3 || u === 4) && names.length > 0) {
    const f = r.pick(p.fields);
    const inner =
      f.kind === 'options' ? undefined : mutateParam(r, f, plan.fields[f.name] ?? validPlan(f, c), -1, [], c);
    if (inner) {
      return {
        ...inner,
        plan: { ...plan, fields: { ...plan.fields, [f.name]: inner.plan } },
        what: `in ${p.name}, ${inner.what}`,
      };
    }
  }
  if (names.length === 0) return { plan: { t: 'value', v: 7 }, what: `7 for ${p.name}` };
  // A getter on one field (the case the issue's random getters missed: `h` resizing `energy`).
  const field = r.pick(names);
  const target = arrays.length > 0 ? r.pick(arrays) : -1;
  const action = r.pick(['detach', 'shrink', 'transfer', 'throw', 'flip', 'grow', 'shrink', 'detach'] as const);
  const second = r.pick(['NaN', 2 ** 32, -1, 'Infinity'] as const);
  const once = r.chance(0.7);
  return {
    plan: { ...plan, hostile: [{ action, target, field, once, second }] },
    what: `a getter on ${p.name}.${field} that does ${action}${action === 'flip' ? ` (then ${second})` : ''} on argument ${target}`,
    hostile: true,
  };
}

function mutateParam(r: Rng, p: Param, plan: Plan, index: number, arrays: number[], c: Ctx): Mutated {
  if (p.kind === 'array' && plan.t === 'array') return mutateArray(r, plan, index, arrays);
  if (p.kind === 'options' && plan.t === 'object') return mutateOptions(r, p, plan, arrays, c);
  if (p.kind === 'signal') {
    const v = r.pick<Plan>([
      { t: 'value', v: { aborted: false } },
      { t: 'value', v: 'signal' },
      { t: 'signal', aborted: true },
    ]);
    return { plan: v, what: `${JSON.stringify(v)} for ${p.name}`, moderate: v.t === 'signal', valid: v.t === 'signal' };
  }
  if (p.kind === 'bytes') return { plan: { t: 'value', v: null }, what: `null for ${p.name}` };
  return mutateScalar(r, p, plan, arrays);
}

/** Every name an error may cite for a parameter list. */
function citableNames(params: Param[], prefix = ''): string[] {
  const out: string[] = [];
  for (const p of params) {
    out.push(`${prefix}${p.name}`);
    if (prefix) out.push(p.name);
    if (p.kind === 'options') out.push(...citableNames(p.fields, `${p.name}.`));
  }
  return out;
}

export interface GenerateOptions {
  set: string;
  backend: string;
  seed: number;
  index: number;
  /** Mutate at all (false: valid calls and layout changes only, for a backend that trusts its caller). */
  mutate: boolean;
}

/** The call (seed, index) of a target set: a pure function of its arguments. */
export function generateCall(targets: Record<string, TargetSpec>, o: GenerateOptions): CallRecord {
  const r = new Rng(o.seed, o.index);
  const names = Object.keys(targets).sort();
  let total = 0;
  for (const n of names) total += targets[n].weight ?? 1;
  let pickAt = r.next() * total;
  let target = names[names.length - 1];
  for (const n of names) {
    pickAt -= targets[n].weight ?? 1;
    if (pickAt < 0) {
      target = n;
      break;
    }
  }
  const spec = targets[target];
  const hasReal = JSON.stringify(spec.params.map((p) => (p.kind === 'array' ? p.el : ''))).includes('real');
  const dtypes = spec.dtypes ?? (hasReal ? ['f32', 'f64'] : ['f64']);
  const c: Ctx = { rng: r, dims: spec.dims(r), dtype: r.pick(dtypes), values: {} };
  spec.prepare?.(c);
  const plans = spec.params.map((p) => (p.optional && r.chance(0.15) ? ({ t: 'undefined' } as Plan) : validPlan(p, c)));
  const arrays = plans.flatMap((p, i) => (p.t === 'array' ? [i] : []));
  const record: CallRecord = {
    set: o.set,
    target,
    backend: o.backend,
    seed: o.seed,
    index: o.index,
    plans,
    names: spec.params.map((p) => p.name),
    roles: spec.params.map((p) => (p.kind === 'array' ? p.role : 'in')),
    citable: [...citableNames(spec.params), ...(spec.citable ?? [])],
    dims: c.dims,
    values: c.values,
    dtype: c.dtype,
    mutations: [],
    moderate: true,
    aliased: false,
    hostile: false,
    valid: true,
  };
  const u = r.next();
  // 30% valid (a fifth of those with a layout change), 60% one mutation, 10% two.
  const count = !o.mutate ? (u < 0.25 ? 1 : 0) : u < 0.24 ? 0 : u < 0.3 ? -1 : u < 0.9 ? 1 : 2;
  const mutable = spec.params.flatMap((p, i) => (spec.fixed?.includes(p.name) ? [] : [i]));
  for (let m = 0; m < Math.abs(count) && mutable.length > 0; m++) {
    let i = r.pick(mutable);
    if (count < 0 || !o.mutate) {
      // layout only: an array argument moved to another kind of buffer
      if (arrays.length === 0) break;
      i = r.pick(arrays);
      const mu = relayout(r, plans[i] as ArrayPlan);
      plans[i] = mu.plan;
      record.mutations.push(`${record.names[i]}: ${mu.what}`);
      continue;
    }
    const mu = mutateParam(r, spec.params[i], plans[i], i, arrays, c);
    plans[i] = mu.plan;
    record.mutations.push(`${record.names[i]}: ${mu.what}`);
    if (!mu.moderate) record.moderate = false;
    if (!mu.valid) record.valid = false;
    if (mu.aliased) record.aliased = true;
    if (mu.hostile) record.hostile = true;
    // A getter that shrinks or grows needs a resizable target.
    for (const h of mu.plan.t === 'object'
      ? (mu.plan.hostile ?? [])
      : mu.plan.t === 'valueOf'
        ? [mu.plan.hostile]
        : []) {
      const t = plans[h.target];
      if ((h.action === 'shrink' || h.action === 'grow') && t?.t === 'array')
        plans[h.target] = { ...t, backing: 'resizable' };
    }
  }
  // All-size wraparound: every int parameter 2^16 or 2^32 at once (nx·ny wraps in u32 or u64·8).
  if (o.mutate && record.mutations.length > 0 && r.chance(0.05)) {
    const big = r.pick([2 ** 16, 2 ** 32, 2 ** 31, 2 ** 21]);
    spec.params.forEach((p, i) => {
      if (p.kind === 'int' && p.costlyAbove === undefined && !spec.fixed?.includes(p.name))
        plans[i] = { t: 'num', v: big };
    });
    record.mutations.push(`every size ${big}`);
    record.valid = false;
  }
  return record;
}
