/**
 * Turning a call plan (plain JSON, fuzz/plan.ts) into live arguments, and checking the guard
 * bytes afterwards. Every function here uses only the others in this file and the language,
 * so a reproducer can print their source (Function.prototype.toString) and run standalone:
 * BUILDER_SOURCE lists them in dependency-free order.
 */
import type { ArrayPlan, GuardRecord, Hostile, Plan, SpecialNumber } from './plan.js';

/** mulberry32: the array contents' generator (one 32-bit seed per array, so a plan stays small). */
export function fuzzRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A special number from its JSON spelling (JSON has no NaN, ±∞ or −0). */
export function fuzzNumber(v: number | SpecialNumber): number {
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (v === '-0') return -0;
  return v;
}

/** The element value i of a fill: moderate values, or a domain, or hostile specials. */
export function fuzzElement(fill: string, next: () => number, isInt: boolean, isBig: boolean): number | bigint {
  if (isBig) return BigInt(Math.floor(next() * 200) - 100);
  if (isInt) return Math.floor(next() * 200) - 100;
  const u = next();
  if (fill === 'zeros') return 0;
  if (fill === 'nonneg') return u < 0.1 ? 0 : next() * 4;
  if (fill === 'positive') return 0.05 + next() * 4;
  if (fill === 'unit') return next();
  if (fill === 'special') {
    const specials = [Number.NaN, Infinity, -Infinity, -0, 3.4e38, -3.4e38, 1e300, 5e-324, 1e-40, 65504];
    if (u < 0.3) return specials[Math.floor(next() * specials.length)];
  }
  return (next() - 0.5) * 4;
}

/** The fill pattern of guard bytes: 0xa5 then the byte's index low bits (never a float of a plausible value). */
export function fuzzGuardByte(i: number): number {
  return (0xa5 ^ (i * 0x3b)) & 0xff;
}

/** Allocate one array plan with guard margins; returns the view and records its guard. */
export function fuzzMakeArray(p: ArrayPlan, guards: GuardRecord[]): unknown {
  const g = globalThis as unknown as Record<string, new (...a: unknown[]) => ArrayBufferView & ArrayLike<unknown>>;
  if (p.ctor === 'Array') {
    const next = fuzzRandom(p.seed);
    return Array.from({ length: p.length }, () => fuzzElement(p.fill, next, false, false));
  }
  const Ctor = g[p.ctor === 'DataView' ? 'Uint8Array' : p.ctor];
  const bpe = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const before = p.before * bpe;
  const bytes = before + (p.length + p.after) * bpe;
  let buffer: ArrayBuffer | SharedArrayBuffer;
  if (p.backing === 'shared') buffer = new SharedArrayBuffer(bytes);
  else if (p.backing === 'resizable' || p.backing === 'tracking') {
    const AB = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    buffer = new AB(bytes, { maxByteLength: bytes * 2 + 64 });
  } else buffer = new ArrayBuffer(bytes);
  const all = new Uint8Array(buffer);
  for (let i = 0; i < all.length; i++) all[i] = fuzzGuardByte(i);
  const view =
    p.backing === 'tracking' && p.after === 0
      ? new Ctor(buffer, before)
      : new Ctor(buffer, before, p.ctor === 'DataView' ? p.length : p.length);
  const next = fuzzRandom(p.seed);
  const isBig = p.ctor.startsWith('Big');
  const isInt = !p.ctor.startsWith('Float') && !isBig;
  const w = view as unknown as { [i: number]: unknown };
  for (let i = 0; i < p.length; i++) w[i] = fuzzElement(p.fill, next, isInt, isBig);
  const out = p.ctor === 'DataView' ? new DataView(buffer, before, p.length) : view;
  guards.push({ buffer, byteOffset: before, byteLength: p.length * bpe, original: all.slice() });
  if (p.detach && buffer instanceof ArrayBuffer) structuredClone(buffer, { transfer: [buffer] });
  return out;
}

/** The buffer behind argument `target` (a typed array, or an options object's array field). */
export function fuzzBufferOf(value: unknown): ArrayBuffer | SharedArrayBuffer | undefined {
  if (ArrayBuffer.isView(value)) return value.buffer;
  if (value && typeof value === 'object') {
    // The first array-valued data property (never a getter: reading one would fire it).
    for (const key of Object.keys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key);
      if (d && 'value' in d && ArrayBuffer.isView(d.value)) return d.value.buffer;
    }
  }
  return undefined;
}

/** Do what a hostile getter or valueOf does to the buffer of args[target]. */
export function fuzzHostileAction(h: Hostile, args: unknown[], reads: number): void {
  const buffer = fuzzBufferOf(args[h.target]);
  if (h.action === 'throw') throw new Error('fuzz: a getter that throws');
  if (!buffer || (h.once !== false && reads > 1)) return;
  try {
    if (buffer instanceof ArrayBuffer && (h.action === 'detach' || h.action === 'transfer')) {
      structuredClone(buffer, { transfer: [buffer] });
    } else if (h.action === 'shrink' && (buffer as ArrayBuffer & { resizable?: boolean }).resizable) {
      (buffer as ArrayBuffer & { resize(n: number): void }).resize(0);
    } else if (h.action === 'grow' && (buffer as ArrayBuffer & { resizable?: boolean }).resizable) {
      const b = buffer as ArrayBuffer & { resize(n: number): void; maxByteLength: number };
      b.resize(b.maxByteLength);
    }
  } catch {
    // The buffer was detached already: nothing left to do to it.
  }
}

/** Build one argument from its plan (arguments before it are already in `args`). */
export function fuzzBuild(p: Plan, args: unknown[], guards: GuardRecord[]): unknown {
  switch (p.t) {
    case 'array':
      return fuzzMakeArray(p, guards);
    case 'num':
      return fuzzNumber(p.v);
    case 'value':
      return p.v;
    case 'undefined':
      return undefined;
    case 'bigint':
      return BigInt(p.v);
    case 'symbol':
      return Symbol('fuzz');
    case 'function':
      return () => 1;
    case 'alias': {
      const base = args[p.of] as ArrayBufferView;
      const g = globalThis as unknown as Record<string, new (b: ArrayBufferLike, o: number, n: number) => unknown>;
      const bpe = (g[p.ctor] as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      if (!ArrayBuffer.isView(base) || base.buffer.byteLength === 0) return new g[p.ctor](new ArrayBuffer(0), 0, 0);
      let at = Math.min(base.buffer.byteLength, Math.max(0, base.byteOffset + p.offset * bpe));
      at -= at % bpe;
      const n = Math.max(0, Math.min(p.length, Math.floor((base.buffer.byteLength - at) / bpe)));
      const view = new g[p.ctor](base.buffer, at, n);
      // The alias is handed to the call too: its bytes are not margins.
      const record = guards.find((r) => r.buffer === base.buffer);
      if (record) guards.push({ ...record, byteOffset: at, byteLength: n * bpe });
      return view;
    }
    case 'signal': {
      const c = new AbortController();
      if (p.aborted) c.abort();
      return c.signal;
    }
    case 'valueOf': {
      let reads = 0;
      return {
        valueOf() {
          reads++;
          fuzzHostileAction(p.hostile, args, reads);
          return fuzzNumber(p.v);
        },
      };
    }
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(p.fields)) o[k] = fuzzBuild(f, args, guards);
      for (const h of p.hostile ?? []) {
        const field = h.field ?? '';
        const stored = o[field];
        let reads = 0;
        Object.defineProperty(o, field, {
          enumerable: true,
          get() {
            reads++;
            fuzzHostileAction(h, args, reads);
            if (h.action === 'flip') return reads === 1 ? stored : fuzzNumber(h.second ?? 'NaN');
            return stored;
          },
        });
      }
      return o;
    }
  }
}

/** Build every argument of a call, in order (a getter or alias refers to earlier ones by index). */
export function fuzzBuildArgs(plans: Plan[]): { args: unknown[]; guards: GuardRecord[] } {
  const args: unknown[] = [];
  const guards: GuardRecord[] = [];
  const deferred: number[] = [];
  // Hostile objects refer to arguments by index, including later ones: build them last.
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i];
    if (p.t === 'object' || p.t === 'valueOf' || p.t === 'alias') deferred.push(i);
    else args[i] = fuzzBuild(p, args, guards);
  }
  for (const i of deferred) args[i] = fuzzBuild(plans[i], args, guards);
  return { args, guards };
}

/**
 * The guard check: every byte of every allocated buffer outside the views handed out must
 * still hold its fill pattern. Returns the first changed byte's description, or undefined.
 * A buffer that was detached or resized is skipped (its margins are gone).
 */
export function fuzzCheckGuards(guards: GuardRecord[]): string | undefined {
  const byBuffer = new Map<ArrayBufferLike, GuardRecord[]>();
  for (const g of guards) {
    const list = byBuffer.get(g.buffer) ?? [];
    list.push(g);
    byBuffer.set(g.buffer, list);
  }
  for (const [buffer, list] of byBuffer) {
    const original = list[0].original;
    if (buffer.byteLength !== original.length) continue;
    const now = new Uint8Array(buffer);
    // The gaps between the views handed out (sorted by start) are the margins.
    const spans = list.map((g) => [g.byteOffset, g.byteOffset + g.byteLength]).sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [start, end] of [...spans, [now.length, now.length]]) {
      for (let i = at; i < start; i++) {
        if (now[i] !== original[i]) {
          return `byte ${i} of a ${now.length}-byte buffer (views ${spans.map(([a, b]) => `[${a}, ${b})`).join(' ')}) changed from ${original[i]} to ${now[i]}`;
        }
      }
      at = Math.max(at, end);
    }
  }
  return undefined;
}

/** The builder's functions, in an order a reproducer can paste them. */
export const BUILDER_FUNCTIONS = [
  fuzzRandom,
  fuzzNumber,
  fuzzElement,
  fuzzGuardByte,
  fuzzMakeArray,
  fuzzBufferOf,
  fuzzHostileAction,
  fuzzBuild,
  fuzzBuildArgs,
  fuzzCheckGuards,
] as const;
