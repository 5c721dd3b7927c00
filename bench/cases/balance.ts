/**
 * Bench cases for the entropy-balanced learning rate (docs/theory.md, "Entropy-balanced
 * learning rate"), at n = 1e6 f32 parameters, per backend:
 *
 * - `updateEnergy`: the meter kernel alone (reads before, after, grads and Adam's v: 16
 *   bytes per parameter);
 * - `adamOptimizerStep`: lib's Adam optimizer step (validation, gradient check, fused kernel);
 * - `entropyBalancedStep`: EntropyBalancedOptimizer over the same Adam (meter readings, the
 *   QPL loop, a snapshot copy of the parameters, the inner step, the updateEnergy reduction).
 *
 * The two optimizer rows run in the same process, interleaved by the harness; their ratio is
 * the rule's overhead (balanceReport). Agreement: every backend's parameters after the first
 * step are bit-identical to js's (the kernels and the meter sums are).
 */
import { backendInfo, setBackend } from '../../lib/backend.js';
import type { BackendName } from '../../lib/kernels.js';
import { Adam } from '../../lib/optim/adam.js';
import { EntropyBalancedOptimizer } from '../../lib/optim/entropy-balanced.js';
import type { BenchCase, BenchRow } from '../harness.js';
import { type BackendList, checkArray, uniformF32 } from './common.js';

const N = 1_000_000;
const SIZE = 'n=1e6';

/** A value built on first use. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** Run `body` with `name` as the active backend, then put the previous one back. */
function on<T>(name: BackendName, body: () => T): T {
  const previous = backendInfo().name;
  setBackend(name);
  try {
    return body();
  } finally {
    setBackend(previous);
  }
}

export function balanceCases(backends: BackendList): BenchCase[] {
  const p0 = lazy(() => uniformF32(N, 41));
  const g = lazy(() => uniformF32(N, 42));
  const after = lazy(() => Float32Array.from(p0(), (p, i) => p + 1e-3 * g()[i]));
  const v = lazy(() => g().map((x) => x * x));
  const exact = checkArray(0);
  const cases: BenchCase[] = [];

  cases.push({
    kernel: 'updateEnergy',
    size: SIZE,
    check: exact,
    contenders: backends.map((k) => {
      const out = new Float64Array(3);
      return {
        backend: k.name,
        run: () => {
          k.updateEnergy(p0(), after(), g(), v(), 1 / Math.sqrt(1 - 0.999), 1e-8, out);
          return out;
        },
      };
    }),
  });

  cases.push({
    kernel: 'adamOptimizerStep',
    size: SIZE,
    check: exact,
    contenders: backends.map((k) => {
      const state = lazy(() => ({ x: p0().slice(), opt: new Adam({ learningRate: 1e-3 }) }));
      return {
        backend: k.name,
        run: () =>
          on(k.name, () => {
            const { x, opt } = state();
            opt.step({ x }, { x: g() });
            return x;
          }),
      };
    }),
  });

  cases.push({
    kernel: 'entropyBalancedStep',
    size: SIZE,
    check: exact,
    contenders: backends.map((k) => {
      const state = lazy(() => ({
        x: p0().slice(),
        opt: new EntropyBalancedOptimizer({ base: 'adam', learningRate: 1e-3, computeMeter: null }),
        t: 0,
      }));
      return {
        backend: k.name,
        run: () =>
          on(k.name, () => {
            const s = state();
            // a loss that keeps falling: the loop turns every step (the first only records)
            s.opt.step({ x: s.x }, { x: g() }, { loss: 1 / (1 + s.t++) });
            return s.x;
          }),
      };
    }),
  });
  return cases;
}

/** The rule's overhead over the inner Adam step, per backend, from rows of the same run. */
export function balanceReport(rows: BenchRow[]): string[] {
  const at = (kernel: string, backend: string) => rows.find((r) => r.kernel === kernel && r.backend === backend);
  const lines: string[] = [];
  for (const backend of [...new Set(rows.filter((r) => r.kernel === 'entropyBalancedStep').map((r) => r.backend))]) {
    const adam = at('adamOptimizerStep', backend);
    const balanced = at('entropyBalancedStep', backend);
    const meter = at('updateEnergy', backend);
    if (!adam || !balanced) continue;
    lines.push(
      `  ${backend.padEnd(5)} Adam step ${(1000 / adam.hz).toFixed(2)} ms, entropy-balanced ${(1000 / balanced.hz).toFixed(2)} ms ` +
        `(overhead ${((100 * (adam.hz / balanced.hz - 1)) | 0).toString().padStart(3)}%)` +
        (meter ? `, of which updateEnergy ${(1000 / meter.hz).toFixed(2)} ms` : ''),
    );
  }
  return lines.length ? [`entropy-balanced step over Adam at ${SIZE}:`, ...lines] : [];
}
