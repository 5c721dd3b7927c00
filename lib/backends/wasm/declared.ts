/**
 * The declared kernels on wasm (lib/kernels.ts DECLARED_KERNELS; their C entry points are
 * generated into native/wasm/declared.cpp by scripts/gen-kernels.mjs): one glue for all of
 * them, read from the declarations, with the checks the generated Node-API bindings make —
 * the options fields first (each read once), integer fields in their declared range, then
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
  type Real,
} from '../../kernels.js';
import { bool, disjoint, f32, f64, num, optionsObject } from './args.js';
import { IN, OUT, type Pointer, type Role, type WasmCore } from './core.js';

/** camelCase → snake_case, as the generator names the entry points (cimm_energy_terms). */
const snake = (name: string) => name.replace(/[A-Z0-9]+/g, (m, i) => (i === 0 ? m : `_${m}`)).toLowerCase();

type Entry = (...args: number[]) => number | undefined;
export type DeclaredExports = Record<`cimm_${string}`, Entry>;

const dtypeName = (a: DeclaredArray) => (a.type === 'f32' ? 'Float32Array' : 'Float64Array');

/** The declared lengths of `arrays`, as the generated bindings check them (shape.rs / shape.hpp). */
function checkLengths(declared: [string, DeclaredArray][], arrays: Map<string, Real>): void {
  for (const [name, a] of declared) {
    const v = arrays.get(name) as Real;
    const type = dtypeName(a);
    if (a.nonEmpty && v.length === 0) throw argumentError(name, `a non-empty ${type}`, v);
    if (typeof a.length === 'number') {
      if (v.length !== a.length) throw argumentError(name, `a ${type} of length ${a.length}`, v);
    } else if (typeof a.length === 'string') {
      const n = (arrays.get(a.length) as Real).length;
      if (v.length !== n) throw argumentError(name, `a ${type} of length ${n} (the length of ${a.length})`, v);
    } else if (a.length !== undefined) {
      const other = a.length.multipleOf;
      const d = (arrays.get(other) as Real).length;
      if (d === 0 || v.length === 0 || v.length % d !== 0) {
        throw argumentError(name, `a ${type} of M×${d} values (M >= 1, ${d} the length of ${other})`, v);
      }
    }
  }
}

/** One declared kernel over the module. */
function declaredKernel(core: WasmCore<DeclaredExports>, name: DeclaredKernelName, d: DeclaredKernel) {
  const options = (
    BOUNDARY_OPTIONS as Partial<Record<string, (typeof BOUNDARY_OPTIONS)[keyof typeof BOUNDARY_OPTIONS]>>
  )[name];
  const fields = options ? Object.entries(options.fields) : [];
  const declared = Object.entries(d.arrays);
  const roles: Role[] = declared.map(([, a]) => (a.role === 'in' ? IN : OUT));
  const outputs = declared.filter(([, a]) => a.role === 'out').map(([n]) => n);
  const entry = `cimm_${snake(name)}` as const;
  const integers: Readonly<Record<string, readonly [number, number]>> = d.integers ?? {};
  return (...args: unknown[]): unknown => {
    // the options first, each field read once (a getter may resize an array argument)
    const scalars: number[] = [];
    if (options) {
      const o = optionsObject(options.name, args[options.at]);
      for (const [field, kind] of fields) {
        const label = `${options.name}.${field}`;
        const value = o[field];
        if (kind === 'boolean') {
          scalars.push(bool(label, value) ? 1 : 0);
          continue;
        }
        const x = num(label, value);
        const range = integers[field];
        if (range && !(Number.isInteger(x) && x >= range[0] && x <= range[1])) {
          throw argumentError(label, `an integer >= ${range[0]} and <= ${range[1]}`, value);
        }
        scalars.push(x);
      }
    }
    const positional = options ? [...args.slice(0, options.at), ...args.slice(options.at + 1)] : args;
    const arrays = new Map<string, Real>();
    declared.forEach(([n, a], i) => {
      arrays.set(n, a.type === 'f32' ? f32(n, positional[i]) : f64(n, positional[i]));
    });
    checkLengths(declared, arrays);
    if (outputs.length > 1) disjoint(outputs.map((n) => [n, arrays.get(n) as Real]));
    const staged = [...arrays.values()];
    return core.run(name, staged, roles, (e, pointers: Pointer[]) =>
      (e[entry] as Entry)(...scalars, ...pointers.flatMap((p, i) => [p, staged[i].length])),
    );
  };
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
