/**
 * The declared kernels on wasm (lib/kernels.ts DECLARED_KERNELS; their C entry points are
 * generated into native/wasm/declared.cpp by scripts/gen-kernels.mjs): one glue for all of
 * them, read from the declarations, with the checks the generated Node-API bindings make —
 * the options object read as the native backends read it (lib/backends/boundary.ts, each
 * field once), integer fields in their declared range, then
 * the arrays, their dtypes and declared lengths, two outputs apart. The arrays are staged
 * apart in linear memory (an input that overlaps an output is read as it was before the
 * call, as the bindings' copies give), and the entry point takes the fields, then each
 * array's pointer and length.
 */
import { argumentError } from '../../errors.js';
import {
  BOUNDARY_OPTIONS,
  DECLARED_KERNELS,
  type DeclaredArray,
  type DeclaredKernel,
  type DeclaredKernelName,
  type Kernels,
  type OptionsKernelName,
  type Real,
} from '../../kernels.js';
import { positional } from '../boundary.js';
import { jsKernels as js } from '../js/index.js';
import { disjoint, f32, f64 } from './args.js';
import { IN, OUT, type Pointer, type Role, type WasmCore } from './core.js';

/** camelCase → snake_case, as the generator names the entry points (cimm_energy_terms). */
const snake = (name: string) => name.replace(/[A-Z0-9]+/g, (m, i) => (i === 0 ? m : `_${m}`)).toLowerCase();

type Entry = (...args: number[]) => number | undefined;
export type DeclaredExports = Record<`cimm_${string}`, Entry>;

const dtypeName = (a: DeclaredArray) => (a.type === 'f32' ? 'Float32Array' : 'Float64Array');

/** An array's declared length rule, with the other array it names as an index. */
interface Rule {
  nonEmpty: boolean;
  fixed?: number;
  like?: number;
  rowsOf?: number;
}

/** The declared lengths of `views`, as the generated bindings check them (shape.rs / shape.hpp). */
function checkLengths(names: readonly string[], types: readonly string[], rules: readonly Rule[], views: Real[]): void {
  for (let i = 0; i < views.length; i++) {
    const v = views[i];
    const r = rules[i];
    const type = types[i];
    if (r.nonEmpty && v.length === 0) throw argumentError(names[i], `a non-empty ${type}`, v);
    if (r.fixed !== undefined && v.length !== r.fixed) {
      throw argumentError(names[i], `a ${type} of length ${r.fixed}`, v);
    }
    if (r.like !== undefined && v.length !== views[r.like].length) {
      const n = views[r.like].length;
      throw argumentError(names[i], `a ${type} of length ${n} (the length of ${names[r.like]})`, v);
    }
    if (r.rowsOf !== undefined) {
      const d = views[r.rowsOf].length;
      if (d === 0 || v.length === 0 || v.length % d !== 0) {
        throw argumentError(names[i], `a ${type} of M×${d} values (M >= 1, ${d} the length of ${names[r.rowsOf]})`, v);
      }
    }
  }
}

/**
 * One declared kernel over the module. Everything the declaration decides is computed once
 * here, so that a call does only its checks, the staging and the call (small calls are the
 * glue's cost: no map, no spread of the arguments on the way).
 */
function declaredKernel(core: WasmCore<DeclaredExports>, name: DeclaredKernelName, d: DeclaredKernel) {
  const options = (
    BOUNDARY_OPTIONS as Partial<Record<string, (typeof BOUNDARY_OPTIONS)[keyof typeof BOUNDARY_OPTIONS]>>
  )[name];
  const at = options ? options.at : -1;
  const fields = options ? Object.entries(options.fields) : [];
  const labels = fields.map(([field]) => `${options?.name}.${field}`);
  const ranges = fields.map(([field]) => d.integers?.[field]);
  const declared = Object.entries(d.arrays);
  const names = declared.map(([n]) => n);
  const types = declared.map(([, a]) => dtypeName(a));
  const rules: Rule[] = declared.map(([, a]) => ({
    nonEmpty: a.nonEmpty === true,
    fixed: typeof a.length === 'number' ? a.length : undefined,
    like: typeof a.length === 'string' ? names.indexOf(a.length) : undefined,
    rowsOf: typeof a.length === 'object' ? names.indexOf(a.length.multipleOf) : undefined,
  }));
  const roles: Role[] = declared.map(([, a]) => (a.role === 'in' ? IN : OUT));
  const outputs = declared.flatMap(([, a], i) => (a.role === 'out' ? [i] : []));
  const crossover = d.wasmCrossover ? names.indexOf(d.wasmCrossover.array) : -1;
  const below = d.wasmCrossover?.length ?? 0;
  const entry = `cimm_${snake(name)}` as const;
  const reference = (js as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
  // `args`: the positional form (the options fields in the object's place), as the native
  // addons take it; the options object itself is read by the native backends' reader
  // (lib/backends/boundary.ts `positional`, below), so its rules live in one place
  const count = fields.length;
  const run = (...args: unknown[]): unknown => {
    // integer fields in their declared range, before any array (the bindings' order)
    const scalars: number[] = [];
    for (let j = 0; j < count; j++) {
      const value = args[at + j];
      const range = ranges[j];
      if (range && !(Number.isInteger(value) && (value as number) >= range[0] && (value as number) <= range[1])) {
        throw argumentError(labels[j], `an integer >= ${range[0]} and <= ${range[1]}`, value);
      }
      scalars.push(value === true ? 1 : value === false ? 0 : (value as number));
    }
    // the arrays: the arguments around the options object, in order
    const views: Real[] = [];
    for (let i = 0; i < names.length; i++) {
      const value = args[at >= 0 && i >= at ? i + count : i];
      views.push(types[i] === 'Float32Array' ? f32(names[i], value) : f64(names[i], value));
    }
    checkLengths(names, types, rules, views);
    if (outputs.length > 1) disjoint(outputs.map((i) => [names[i], views[i]]));
    if (crossover >= 0 && core.below(views[crossover].length, below)) {
      // below the measured crossover: the js reference, with the options as read (no getter runs twice)
      const call: unknown[] = views.slice();
      if (options) {
        const read: Record<string, unknown> = {};
        for (let j = 0; j < count; j++) read[fields[j][0]] = args[at + j];
        call.splice(at, 0, read);
      }
      return reference(...call);
    }
    return core.run(name, views, roles, (e, pointers: Pointer[]) => {
      const call = scalars;
      for (let i = 0; i < views.length; i++) call.push(pointers[i], views[i].length);
      return (e[entry] as Entry)(...call);
    });
  };
  return options ? positional(name as OptionsKernelName, run as never) : run;
}

/** Every declared kernel over the module. */
export function declaredKernels(core: WasmCore<DeclaredExports>): Pick<Kernels, DeclaredKernelName> {
  return Object.fromEntries(
    Object.entries(DECLARED_KERNELS).map(([name, d]) => [
      name,
      declaredKernel(core, name as DeclaredKernelName, d as DeclaredKernel),
    ]),
  ) as unknown as Pick<Kernels, DeclaredKernelName>;
}
