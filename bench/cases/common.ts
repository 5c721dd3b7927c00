/** Inputs and agreement checks shared by the bench cases. */
import { backendInfo, setBackend } from '../../lib/backend.js';
import type { BackendName, Kernels } from '../../lib/kernels.js';
import { Random } from '../../lib/random.js';

/** Uniform f32 values in [lo, hi), deterministic for a seed. */
export function uniformF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

export function uniformF64(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const rng = new Random(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

/** Throws unless two scalars agree to `rel` relative. */
export function checkScalar(rel: number) {
  return (got: unknown, want: unknown, backend: string) => {
    const [g, w] = [got as number, want as number];
    const e = Math.abs(g - w) / Math.max(Math.abs(w), 1e-300);
    if (!(e <= rel)) throw new Error(`${backend} disagrees with js: ${g} vs ${w} (relative ${e} > ${rel})`);
  };
}

/** Throws unless arrays agree elementwise within `tol`·scale_i. */
export function checkArray(tol: number, scale: (i: number) => number = () => 1) {
  return (got: unknown, want: unknown, backend: string) => {
    const [g, w] = [got as ArrayLike<number>, want as ArrayLike<number>];
    if (g.length !== w.length) throw new Error(`${backend}: length ${g.length} vs ${w.length}`);
    for (let i = 0; i < w.length; i++) {
      const e = Math.abs(g[i] - w[i]) / scale(i);
      if (!(e <= tol)) throw new Error(`${backend} disagrees with js at ${i}: ${g[i]} vs ${w[i]} (${e} > ${tol})`);
    }
  };
}

export type BackendList = Kernels[];

/** Run `body` with cimm's `name` backend active (setBackend is a table lookup), then put the previous one back. */
export function onBackend<T>(name: BackendName, body: () => T): T {
  const previous = backendInfo().name;
  setBackend(name);
  try {
    return body();
  } finally {
    setBackend(previous);
  }
}
