/**
 * Bench cases for the entropy-balanced learning rate (docs/theory.md, "Entropy-balanced
 * learning rate"), at n = 1e6 f32 parameters, per backend:
 *
 * - `updateEnergy`: the meter kernel alone (reads before, after, grads and Adam's v: 16
 *   bytes per parameter);
 * - `updateSlope`: the end slope's kernel (Σ g·Δ alone: before, after, grads, 12 bytes);
 * - `adamOptimizerStep`: lib's Adam optimizer step (validation, gradient check, fused kernel);
 * - `adamMeasuredStep`: the same step measured in the same pass (Adam.measuredStep, the
 *   adamStepMeasured kernel: the Adam step plus the snapshot, 32 bytes);
 * - `entropyBalancedStep`: EntropyBalancedOptimizer over the same Adam (meter readings, the
 *   QPL loop, the end slope, the measured step);
 * - `entropyBalancedStepGeneric`: the same with the inner Adam on the generic path (a
 *   snapshot copy, the plain step, updateEnergy: what the rule did before the measured step).
 *
 * The rows run in the same process; the optimizer rows' ratios are the rule's overhead
 * (balanceReport). Agreement: every backend's parameters after the first step are
 * bit-identical to js's (the kernels and the meter sums are).
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
    kernel: 'updateSlope',
    size: SIZE,
    check: exact,
    contenders: backends.map((k) => ({ backend: k.name, run: () => [k.updateSlope(p0(), after(), g())] })),
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
    kernel: 'adamMeasuredStep',
    size: SIZE,
    check: exact,
    contenders: backends.map((k) => {
      const state = lazy(() => ({
        x: p0().slice(),
        before: { x: new Float32Array(N) },
        sums: new Float64Array(3),
        opt: new Adam({ learningRate: 1e-3 }),
      }));
      return {
        backend: k.name,
        run: () =>
          on(k.name, () => {
            const s = state();
            s.opt.measuredStep({ x: s.x }, { x: g() }, s.before, s.sums);
            return s.x;
          }),
      };
    }),
  });

  for (const [kernel, generic] of [
    ['entropyBalancedStep', false],
    ['entropyBalancedStepGeneric', true],
  ] as const) {
    cases.push(balancedCase(kernel, generic, backends, p0, g));
  }
  return cases;
}

/** EntropyBalancedOptimizer over Adam, its inner step fused (the default) or generic. */
function balancedCase(
  kernel: string,
  generic: boolean,
  backends: BackendList,
  p0: () => Float32Array,
  g: () => Float32Array,
): BenchCase {
  return {
    kernel,
    size: SIZE,
    check: checkArray(0),
    contenders: backends.map((k) => {
      const state = lazy(() => {
        const opt = new EntropyBalancedOptimizer({ base: 'adam', learningRate: 1e-3, computeMeter: null });
        // the generic path of Optimizer.measuredStep: snapshot copy, plain step, updateEnergy
        if (generic) Object.defineProperty(opt.inner, 'fusesMeasurement', { get: () => false });
        return { x: p0().slice(), opt, t: 0 };
      });
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
  };
}

/** The rule's overhead over the inner Adam step, per backend, from rows of the same run. */
export function balanceReport(rows: BenchRow[]): string[] {
  const ms = (kernel: string, backend: string) => {
    const r = rows.find((x) => x.kernel === kernel && x.backend === backend);
    return r ? 1000 / r.hz : undefined;
  };
  const lines: string[] = [];
  for (const backend of [...new Set(rows.filter((r) => r.kernel === 'entropyBalancedStep').map((r) => r.backend))]) {
    const adam = ms('adamOptimizerStep', backend);
    const balanced = ms('entropyBalancedStep', backend);
    if (adam === undefined || balanced === undefined) continue;
    const over = (t: number) => `${Math.round(100 * (t / adam - 1))}%`.padStart(4);
    const generic = ms('entropyBalancedStepGeneric', backend);
    const measured = ms('adamMeasuredStep', backend);
    const slope = ms('updateSlope', backend);
    const meter = ms('updateEnergy', backend);
    lines.push(
      `  ${backend.padEnd(5)} Adam step ${adam.toFixed(2)} ms; entropy-balanced ${balanced.toFixed(2)} ms (overhead ${over(balanced)})` +
        (generic === undefined ? '' : `, generic path ${generic.toFixed(2)} ms (overhead ${over(generic)})`) +
        (measured === undefined ? '' : `; measured Adam step ${measured.toFixed(2)} ms (+${over(measured).trim()})`) +
        (slope === undefined ? '' : `, end slope ${slope.toFixed(2)} ms`) +
        (meter === undefined ? '' : `, updateEnergy ${meter.toFixed(2)} ms`),
    );
  }
  return lines.length ? [`entropy-balanced step over Adam at ${SIZE}:`, ...lines] : [];
}
