/**
 * Aliasing, decided once: for every kernel of lib/kernels.ts, which of its typed-array
 * arguments may share memory and what happens when they do (docs/notes-alias.md has the
 * rules and why). The facade (lib/energy.ts, lib/coupling.ts, lib/fractal.ts, lib/linalg.ts,
 * lib/flow.ts, lib/quantum.ts, …) passes each call's arrays through `separate` before it
 * calls the active backend, so every backend sees only what the table allows: arrays that
 * share no memory, or an input that is exactly its output where the kernel is elementwise
 * and in place by design. Every backend then gives the same result, and the native
 * bindings' own overlap checks (kept as the last line of memory safety) never fire from
 * the facade.
 *
 * Three rules for a pair (input, output):
 * - `inPlace`: the kernel reads element i of the input before it writes element i of the
 *   output, so the exact same view is computed in place; a partial overlap is computed from
 *   a copy of the input taken before the call (what an in-place call would give if it read
 *   the input first).
 * - `copy`: any overlap, an exact alias included, is computed from a copy of the input.
 * - `reject`: any overlap is a CimmArgumentError naming both parameters.
 */
import { argumentError } from './errors.js';
import { type AsyncKernelName, DECLARED_KERNELS, type DeclaredKernelName, type KernelName } from './kernels.js';

/** How two views relate in memory (`overlapOf`). */
export type Overlap =
  /** No byte in common (or either view is empty, detached or out of bounds). */
  | 'disjoint'
  /** The same bytes viewed by the same element type: the same array for a kernel. */
  | 'same'
  /** Some bytes in common, but not the same view. */
  | 'partial'
  /**
   * Two different SharedArrayBuffer objects (e.g. one and its structuredClone, or one posted
   * to a worker twice) may be one memory, and JS cannot tell whether they are: when their
   * byte ranges would overlap were they one buffer, the answer is "perhaps".
   */
  | 'possible';

function isSharedArrayBuffer(buffer: ArrayBufferLike): boolean {
  // instanceof first (the common, cheap cases); the tag also recognizes another realm's.
  if (buffer instanceof ArrayBuffer) return false;
  if (typeof SharedArrayBuffer === 'undefined') return false;
  return buffer instanceof SharedArrayBuffer || Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

function isGrowable(buffer: ArrayBufferLike): boolean {
  return (buffer as { growable?: boolean }).growable === true;
}

/**
 * How the memory of two typed-array (or DataView) views relates, at the time of the call:
 * byte ranges, so views of different dtypes and byte offsets compare correctly. A view of
 * no bytes — empty, on a detached buffer, or a view of a resizable ArrayBuffer that the
 * buffer shrank past (its byteLength is then 0) — overlaps nothing. A length-tracking view
 * of a resizable buffer counts with its current length.
 */
export function overlapOf(a: ArrayBufferView, b: ArrayBufferView): Overlap {
  const aBuffer = a.buffer;
  const bBuffer = b.buffer;
  // The common case first, and cheaply: two buffers, one of them not shared.
  if (aBuffer !== bBuffer && (aBuffer instanceof ArrayBuffer || bBuffer instanceof ArrayBuffer)) return 'disjoint';
  const aLength = a.byteLength;
  const bLength = b.byteLength;
  if (aLength === 0 || bLength === 0) return 'disjoint';
  const aStart = a.byteOffset;
  const bStart = b.byteOffset;
  const apart = aStart >= bStart + bLength || bStart >= aStart + aLength;
  if (aBuffer === bBuffer) {
    if (apart) return 'disjoint';
    return aStart === bStart && aLength === bLength && a.constructor === b.constructor ? 'same' : 'partial';
  }
  if (apart || !isSharedArrayBuffer(aBuffer) || !isSharedArrayBuffer(bBuffer)) return 'disjoint';
  // Two SharedArrayBuffer objects of one memory have one byteLength (a growable one may be
  // seen at two lengths while another thread grows it, so it is not ruled out that way).
  const sameLength = aBuffer.byteLength === bBuffer.byteLength;
  return sameLength || isGrowable(aBuffer) || isGrowable(bBuffer) ? 'possible' : 'disjoint';
}

/** Whether two views may share memory ('same', 'partial' or 'possible'). */
export function mayOverlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return overlapOf(a, b) !== 'disjoint';
}

/** What the facade does when the two arrays of a pair overlap (module comment). */
export type AliasRule = 'inPlace' | 'copy' | 'reject';

/**
 * One pair of a kernel's typed-array parameters that may not simply share memory:
 * [first, second, rule]. For `inPlace` and `copy` the first is the input that is copied and
 * the second the output it overlaps; for `reject` the error names the second and says which
 * first it overlaps (as the native bindings word it).
 */
export type AliasPair<P extends string = string> = readonly [first: P, second: P, rule: AliasRule];

/** A kernel's typed-array parameters, by the names of lib/kernels.ts, and its rules. */
export interface KernelAliasing<R extends string = string, W extends string = string> {
  /** Parameters only read. Two read-only arrays may share memory unless a pair says otherwise. */
  reads: readonly R[];
  /** Parameters written (in/out arrays included). */
  writes: readonly W[];
  /**
   * Every pair that involves a written array, with its rule (a pair not listed may share
   * memory freely: two read-only arrays); the optimizer kernels also list their read-only
   * pairs, which they reject too ("no array may overlap another").
   */
  pairs: readonly AliasPair<R | W>[];
}

function kernel<const R extends string, const W extends string>(
  reads: readonly R[],
  writes: readonly W[],
  pairs: readonly AliasPair<R | W>[],
): KernelAliasing<R, W> {
  return { reads, writes, pairs };
}

/** Every pair of `names` rejected, in parameter order: "no array may overlap another". */
function allApart<const P extends string>(names: readonly P[]): AliasPair<P>[] {
  const pairs: AliasPair<P>[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) pairs.push([names[i], names[j], 'reject']);
  }
  return pairs;
}

/** A kernel that writes no array: its arrays may share memory freely. */
const READ_ONLY = <const R extends string>(...reads: R[]) => kernel(reads, [], []);

type DeclaredArrays<K extends DeclaredKernelName> = (typeof DECLARED_KERNELS)[K]['arrays'];
type WithRole<K extends DeclaredKernelName, R extends 'in' | 'out'> = {
  [P in keyof DeclaredArrays<K>]: DeclaredArrays<K>[P] extends { role: R } ? P : never;
}[keyof DeclaredArrays<K>] &
  string;

/**
 * The declared kernels' rows, from their declarations (lib/kernels.ts DECLARED_KERNELS): an
 * input that overlaps an output is read from a copy taken before the call (`copy`, what the
 * generated bindings also do), and two outputs may not overlap (`reject`).
 */
const DECLARED_ALIASING = Object.fromEntries(
  Object.entries(DECLARED_KERNELS).map(([name, d]) => {
    const arrays = Object.entries(d.arrays);
    const reads = arrays.filter(([, a]) => a.role === 'in').map(([p]) => p);
    const writes = arrays.filter(([, a]) => a.role === 'out').map(([p]) => p);
    const pairs: AliasPair<string>[] = [
      ...reads.flatMap((r) => writes.map((w): AliasPair<string> => [r, w, 'copy'])),
      ...allApart(writes),
    ];
    return [name, kernel(reads, writes, pairs)];
  }),
) as { readonly [K in DeclaredKernelName]: KernelAliasing<WithRole<K, 'in'>, WithRole<K, 'out'>> };

/**
 * The table: for every kernel (sync and async), its typed-array parameters and the rule of
 * each pair. docs/notes-alias.md gives each row's reason.
 */
export const KERNEL_ALIASING = {
  // energy
  localEnergy: kernel(['r'], ['out'], [['r', 'out', 'inPlace']]),
  localEnergyAsync: READ_ONLY('r'),
  nonlocalEnergy: READ_ONLY('x', 'y', 'points'),
  distance: READ_ONLY('x', 'y'),
  // fractal
  fractalStep: kernel(['z'], ['out'], [['z', 'out', 'inPlace']]),
  fractalStepBackward: kernel(
    ['z', 'gradOut'],
    ['gradZ'],
    [
      ['z', 'gradZ', 'copy'],
      ['gradOut', 'gradZ', 'inPlace'],
    ],
  ),
  maxAbs: READ_ONLY('x'),
  // linalg
  matmul: kernel(
    ['a', 'b'],
    ['c'],
    [
      ['a', 'c', 'reject'],
      ['b', 'c', 'reject'],
    ],
  ),
  matmulAsync: READ_ONLY('a', 'b', 'c'),
  axpby: kernel(['x'], ['y'], [['x', 'y', 'inPlace']]),
  dot: READ_ONLY('x', 'y'),
  sum: READ_ONLY('x'),
  activationForward: kernel(['x'], ['out'], [['x', 'out', 'inPlace']]),
  activationBackward: kernel(
    ['y', 'gradOut'],
    ['gradPre'],
    [
      ['y', 'gradPre', 'inPlace'],
      ['gradOut', 'gradPre', 'inPlace'],
    ],
  ),
  // qdt
  coupling: kernel(['t'], ['out'], [['t', 'out', 'inPlace']]),
  scaleTransition: kernel(['t'], ['out'], [['t', 'out', 'inPlace']]),
  shannonEntropy: READ_ONLY('p'),
  hermitianEigenvalues: kernel(
    ['re', 'im'],
    ['out'],
    [
      ['re', 'out', 'copy'],
      ['im', 'out', 'copy'],
    ],
  ),
  // flow
  energyFlowStep: kernel(
    ['energy', 'potential', 'source'],
    ['out'],
    [
      ['energy', 'out', 'reject'],
      ['potential', 'out', 'reject'],
      ['source', 'out', 'reject'],
    ],
  ),
  energyFlowRunAsync: READ_ONLY('energy', 'potential', 'source', 'kappas'),
  energyFlowMaxStep: READ_ONLY('potential'),
  laplacian: kernel(['energy'], ['out'], [['energy', 'out', 'reject']]),
  gridSums: kernel(['x'], ['out'], [['x', 'out', 'reject']]),
  // optim
  sgdStep: kernel(['grads'], ['params', 'momentumBuffer'], allApart(['params', 'grads', 'momentumBuffer'])),
  adamStep: kernel(['grads'], ['params', 'm', 'v', 'vMax'], allApart(['params', 'grads', 'm', 'v', 'vMax'])),
  sgdStepMeasured: kernel(
    ['grads'],
    ['params', 'momentumBuffer', 'before', 'out'],
    allApart(['params', 'grads', 'momentumBuffer', 'before', 'out']),
  ),
  adamStepMeasured: kernel(
    ['grads'],
    ['params', 'm', 'v', 'vMax', 'before', 'out'],
    allApart(['params', 'grads', 'm', 'v', 'vMax', 'before', 'out']),
  ),
  firstNonFinite: READ_ONLY('values'),
  memoryCopy: kernel(['src'], ['dst'], [['src', 'dst', 'reject']]),
  l2Norm: READ_ONLY('x'),
  zeroNonFinite: kernel([], ['x'], []),
  scaleInPlace: kernel([], ['x'], []),
  // prodigy
  prodigyAccumulate: kernel(
    ['params', 'grads', 'p0'],
    ['m', 'v', 's'],
    allApart(['params', 'grads', 'p0', 'm', 'v', 's']),
  ),
  prodigyUpdate: kernel(['m', 'v'], ['params'], allApart(['params', 'm', 'v'])),
  // balance
  updateEnergy: kernel(
    ['before', 'after', 'grads', 'metric'],
    ['out'],
    [
      ['before', 'out', 'reject'],
      ['after', 'out', 'reject'],
      ['grads', 'out', 'reject'],
      ['metric', 'out', 'reject'],
    ],
  ),
  updateSlope: READ_ONLY('before', 'after', 'grads'),
  ...DECLARED_ALIASING,
} as const satisfies Record<KernelName | AsyncKernelName, KernelAliasing>;

export type AliasedKernel = keyof typeof KERNEL_ALIASING;

/** The typed-array parameter names of a kernel. */
export type ArrayParameter<K extends AliasedKernel> =
  | (typeof KERNEL_ALIASING)[K]['reads'][number]
  | (typeof KERNEL_ALIASING)[K]['writes'][number];

/** A call's arrays by parameter name (an absent one, e.g. an optional out, is skipped). */
export type CallArrays<K extends AliasedKernel> = { readonly [P in ArrayParameter<K>]?: ArrayBufferView | undefined };

function copyOf<T extends ArrayBufferView>(view: T): T {
  return (view as unknown as { slice(): T }).slice();
}

function article(word: string): string {
  return /^[aeiouAEIOU]/.test(word) ? 'an' : 'a';
}

/** How `separate` names a call's arrays in its errors. */
export interface SeparateOptions<P extends string> {
  /**
   * The caller's names for the kernel's parameters where they differ (the facade's `out` is
   * matmul's `c`), so the error names what the user passed.
   */
  names?: { readonly [Q in P]?: string };
  /**
   * Arrays the caller owns (a layer's buffers): a rejected pair with one of them names the
   * other, the user's, as the parameter.
   */
  internal?: readonly P[];
}

/**
 * A call's arrays as the table allows them for `kernel`: the same object when nothing
 * overlaps (or only an exact in-place alias), else a new one in which each input to be
 * copied is a copy taken now (before the call). Throws a CimmArgumentError for a rejected
 * pair, naming the second parameter (the first when the second is internal) and, in the
 * message, the other.
 */
export function separate<K extends AliasedKernel, A extends CallArrays<K>>(
  kernel: K,
  arrays: A,
  how: SeparateOptions<ArrayParameter<K>> = {},
): A {
  const entry: KernelAliasing = KERNEL_ALIASING[kernel];
  let result = arrays as Record<string, ArrayBufferView | undefined>;
  for (const [first, second, rule] of entry.pairs) {
    const a = result[first];
    const b = result[second];
    if (a === undefined || b === undefined) continue;
    const overlap = overlapOf(a, b);
    if (overlap === 'disjoint' || (overlap === 'same' && rule === 'inPlace')) continue;
    let copied = rule === 'reject' ? undefined : first;
    // A possible (unprovable) overlap is resolved by copying a read-only array of the pair
    // even under `reject`, so that no call is refused for what may not be an overlap.
    if (copied === undefined && overlap === 'possible') {
      if (!entry.writes.includes(first)) copied = first;
      else if (!entry.writes.includes(second)) copied = second;
    }
    if (copied === undefined) throw overlapError(first, second, result, overlap, how);
    if (result === (arrays as object)) result = { ...result };
    result[copied] = copyOf(result[copied] as ArrayBufferView);
  }
  return result as A;
}

function overlapError(
  first: string,
  second: string,
  arrays: Record<string, ArrayBufferView | undefined>,
  overlap: Overlap,
  how: SeparateOptions<string>,
): Error {
  const label = (p: string) => how.names?.[p] ?? p;
  const [named, other] = how.internal?.includes(second) ? [first, second] : [second, first];
  const value = arrays[named] as ArrayBufferView;
  const type = value.constructor.name;
  const why = overlap === 'possible' ? ' (another SharedArrayBuffer object of its length, maybe the same memory)' : '';
  return argumentError(label(named), `${article(type)} ${type} that does not overlap ${label(other)}${why}`, value);
}
