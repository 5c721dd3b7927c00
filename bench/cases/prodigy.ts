/**
 * Bench cases for Prodigy (docs/theory.md, "Prodigy"): one step over one tensor of n f32
 * parameters, i.e. both passes (prodigyAccumulate, then prodigyUpdate), per backend, next
 * to the adamStep rows of bench/cases/optim.ts.
 *
 * Bytes moved per parameter: pass 1 reads p, g, p0, m, v, s and writes m, v, s (36 bytes);
 * pass 2 reads p, m, v and writes p (16 bytes): 52 bytes, against Adam's 28 in one pass.
 * The parameters cannot move before the reductions over every tensor are complete, so
 * the second pass re-reads p, m and v.
 */
import type { BenchCase, BenchRow } from '../harness.js';
import { type BackendList, checkArray, uniformF32 } from './common.js';

const SIZES: [label: string, n: number][] = [
  ['n=1e6', 1_000_000],
  ['n=1e7', 10_000_000],
];

export const PRODIGY_BYTES = 52;

// prodigyopt's first step with its defaults: d = d0 = 1e-6, η = 1, β = (0.9, 0.999).
const D = 1e-6;
const BETA1 = 0.9;
const BETA2 = 0.999;
const BETA3 = Math.sqrt(BETA2);

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

export function prodigyCases(backends: BackendList): BenchCase[] {
  return SIZES.map(([size, n]) => {
    const p0 = lazy(() => uniformF32(n, 41));
    const g = lazy(() => uniformF32(n, 42));
    return {
      kernel: 'prodigyStep',
      size,
      check: checkArray(0),
      contenders: backends.map((k) => {
        const state = lazy(() => ({
          p: p0().slice(),
          m: new Float32Array(n),
          v: new Float32Array(n),
          s: new Float32Array(n),
        }));
        return {
          backend: k.name,
          run: () => {
            const { p, m, v, s } = state();
            k.prodigyAccumulate(p, g(), p0(), m, v, s, {
              beta1: BETA1,
              beta2: BETA2,
              beta3: BETA3,
              momentScale: D * (1 - BETA1),
              varianceScale: D * D * (1 - BETA2),
              sScale: D,
              weightDecay: 0,
            });
            k.prodigyUpdate(p, m, v, { stepSize: D, epsilon: D * 1e-8, decay: 0 });
            return p;
          },
        };
      }),
    };
  });
}

/** Lines: each backend's prodigyStep time over its adamStep time at n = 1e7, and GB/s. */
export function prodigyReport(rows: BenchRow[]): string[] {
  const at = (kernel: string, backend: string) =>
    rows.find((r) => r.kernel === kernel && r.size === 'n=1e7' && r.backend === backend);
  const out: string[] = [];
  for (const r of rows.filter((x) => x.kernel === 'prodigyStep' && x.size === 'n=1e7')) {
    const adam = at('adamStep', r.backend);
    const gbs = (r.hz * 1e7 * PRODIGY_BYTES) / 1e9;
    out.push(
      `prodigyStep n=1e7 ${r.backend}: ${gbs.toFixed(1)} GB/s (${PRODIGY_BYTES} B/param)` +
        (adam ? `, ${(adam.hz / r.hz).toFixed(2)}× adamStep's time` : ''),
    );
  }
  return out;
}
