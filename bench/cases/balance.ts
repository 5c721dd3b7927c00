/**
 * Bench cases for the entropy-balanced learning rate (docs/theory.md, "Entropy-balanced
 * learning rate"), at n = 1e6 f32 parameters (the optimizer rows also at n = 1e7, where every
 * pass runs at memory speed), per backend:
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
import { Adam } from '../../lib/optim/adam.js';
import { EntropyBalancedOptimizer } from '../../lib/optim/entropy-balanced.js';
import type { BenchCase, BenchRow } from '../harness.js';
import { type BackendList, checkArray, onBackend, uniformF32 } from './common.js';

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
          k.updateEnergy(p0(), after(), g(), v(), { metricScale: 1 / Math.sqrt(1 - 0.999), epsilon: 1e-8 }, out);
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

  cases.push(...stepCases(SIZE, N, backends, p0, g));
  // n = 1e7: 40 MB per array, far beyond the caches: the memory-bound regime
  cases.push(
    ...stepCases(
      'n=1e7',
      10 * N,
      backends,
      lazy(() => uniformF32(10 * N, 43)),
      lazy(() => uniformF32(10 * N, 44)),
    ),
  );
  return cases;
}

/**
 * The optimizer rows at one size: lib's Adam step, the same step measured
 * (Adam.measuredStep), and the entropy-balanced step over Adam, fused and generic.
 */
function stepCases(
  size: string,
  n: number,
  backends: BackendList,
  p0: () => Float32Array,
  g: () => Float32Array,
): BenchCase[] {
  const exact = checkArray(0);
  const adam: BenchCase = {
    kernel: 'adamOptimizerStep',
    size,
    check: exact,
    contenders: backends.map((k) => {
      const state = lazy(() => ({ x: p0().slice(), opt: new Adam({ learningRate: 1e-3 }) }));
      return {
        backend: k.name,
        run: () =>
          onBackend(k.name, () => {
            const { x, opt } = state();
            opt.step({ x }, { x: g() });
            return x;
          }),
      };
    }),
  };
  const measured: BenchCase = {
    kernel: 'adamMeasuredStep',
    size,
    check: exact,
    contenders: backends.map((k) => {
      const state = lazy(() => ({
        x: p0().slice(),
        before: { x: new Float32Array(n) },
        sums: new Float64Array(3),
        opt: new Adam({ learningRate: 1e-3 }),
      }));
      return {
        backend: k.name,
        run: () =>
          onBackend(k.name, () => {
            const s = state();
            s.opt.measuredStep({ x: s.x }, { x: g() }, s.before, s.sums);
            return s.x;
          }),
      };
    }),
  };
  return [
    adam,
    measured,
    balancedCase('entropyBalancedStep', size, false, backends, p0, g),
    balancedCase('entropyBalancedStepGeneric', size, true, backends, p0, g),
  ];
}

/** EntropyBalancedOptimizer over Adam, its inner step fused (the default) or generic. */
function balancedCase(
  kernel: string,
  size: string,
  generic: boolean,
  backends: BackendList,
  p0: () => Float32Array,
  g: () => Float32Array,
): BenchCase {
  return {
    kernel,
    size,
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
          onBackend(k.name, () => {
            const s = state();
            // a loss that keeps falling: the loop turns every step (the first only records)
            s.opt.step({ x: s.x }, { x: g() }, { loss: 1 / (1 + s.t++) });
            return s.x;
          }),
      };
    }),
  };
}

/** The rule's overhead over the inner Adam step, per size and backend, from rows of the same run. */
export function balanceReport(rows: BenchRow[]): string[] {
  const ms = (kernel: string, size: string, backend: string) => {
    const r = rows.find((x) => x.kernel === kernel && x.size === size && x.backend === backend);
    return r ? 1000 / r.hz : undefined;
  };
  const lines: string[] = [];
  const balanced = rows.filter((r) => r.kernel === 'entropyBalancedStep');
  for (const size of [...new Set(balanced.map((r) => r.size))]) {
    const found: string[] = [];
    for (const backend of [...new Set(balanced.filter((r) => r.size === size).map((r) => r.backend))]) {
      const adam = ms('adamOptimizerStep', size, backend);
      const fused = ms('entropyBalancedStep', size, backend);
      if (adam === undefined || fused === undefined) continue;
      const over = (t: number) => `${Math.round(100 * (t / adam - 1))}%`;
      const generic = ms('entropyBalancedStepGeneric', size, backend);
      const measured = ms('adamMeasuredStep', size, backend);
      const slope = ms('updateSlope', size, backend);
      const meter = ms('updateEnergy', size, backend);
      const f = (t: number) => (t < 10 ? t.toFixed(2) : t.toFixed(1));
      found.push(
        `  ${backend.padEnd(5)} Adam step ${f(adam)} ms; entropy-balanced ${f(fused)} ms (overhead ${over(fused)})` +
          (generic === undefined ? '' : `, generic path ${f(generic)} ms (overhead ${over(generic)})`) +
          (measured === undefined ? '' : `; measured Adam step ${f(measured)} ms (+${over(measured)})`) +
          (slope === undefined ? '' : `, end slope ${f(slope)} ms`) +
          (meter === undefined ? '' : `, updateEnergy ${f(meter)} ms`),
      );
    }
    if (found.length) lines.push(`entropy-balanced step over Adam at ${size}:`, ...found);
  }
  return lines;
}
