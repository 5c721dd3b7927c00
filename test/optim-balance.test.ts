/**
 * The entropy-balanced learning rate (docs/theory.md, "Entropy-balanced learning rate"):
 *
 * - the updateEnergy kernel on every backend. Tolerance: none. Every backend sums the same
 *   f64 terms in one canonical order (fixed ranges, 16 accumulators, a fixed combine), so
 *   the sums are bit-identical to the js reference on a sweep of lengths, random inputs
 *   (fast-check), views at an offset and arrays split over threads;
 * - the QPL loop (balanceStep): bounded η under adversarial readings, NaN and negative
 *   readings rejected, convergence to the balance under stationary meters, no oscillation
 *   blow-up (fast-check);
 * - EntropyBalancedOptimizer: least squares reaches the target from initial rates 10⁶ apart,
 *   the reported quantities against their definitions, state round trips bit for bit, a
 *   resumed run continues identically, every backend gives the same trajectory bit for bit,
 *   and every bad option or observation gives a clear error and changes nothing.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { backendInfo, setBackend } from '../lib/backend.js';
import { sumSplit } from '../lib/backends/js/balance.js';
import {
  BALANCE_DEFAULTS,
  type BalanceReport,
  balanceConfig,
  balanceStep,
  EMPTY_BALANCE,
  EntropyBalancedOptimizer,
  LeastSquaresTask,
  landauerBound,
  registerEnergyMeter,
  restoreOptimizer,
  type TensorMap,
} from '../lib/index.js';
import type { BalanceState } from '../lib/optim/balance.js';
import { atOffset, backends, describeEachBackend, expectError, reference, values } from './helpers.js';

// ---------------------------------------------------------------------------------------
// Helpers.

function update(n: number, seed: number) {
  const before = values(n, seed, 4);
  const step = values(n, seed + 1, 1e-2);
  const after = Float32Array.from(before, (b, i) => b + step[i]);
  return { before, after, grads: values(n, seed + 2, 10), metric: values(n, seed + 3, 2).map((v) => v * v) };
}

const sums = (k: typeof reference, u: ReturnType<typeof update>, metric: Float32Array, scale = 1 / 0.3) => {
  const out = new Float64Array(3);
  k.updateEnergy(u.before, u.after, u.grads, metric, scale, 1e-8, out);
  return out;
};

const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const copy = (m: TensorMap): TensorMap => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.slice()]));

// ---------------------------------------------------------------------------------------
// The kernel.

describe('updateEnergy: the definition', () => {
  test('by hand: Σ wΔ², Σ gΔ, Σ |gΔ|', () => {
    const before = Float32Array.of(1, 2, -3);
    const after = Float32Array.of(1.5, 1, -3);
    const grads = Float32Array.of(2, 4, 7);
    const out = new Float64Array(3);
    // Δ = (0.5, −1, 0): Σ Δ² = 1.25, Σ gΔ = 1 − 4 = −3, Σ |gΔ| = 5
    reference.updateEnergy(before, after, grads, new Float32Array(0), 1, 0, out);
    expect([...out]).toEqual([1.25, -3, 5]);
    // w = √(4, 0, 9)·0.5 + 0.5 = (1.5, 0.5, 2): Σ wΔ² = 0.375 + 0.5 = 0.875
    reference.updateEnergy(before, after, grads, Float32Array.of(4, 0, 9), 0.5, 0.5, out);
    expect([...out]).toEqual([0.875, -3, 5]);
  });

  test('the canonical order is a faithful sum: within n·ε of an exactly rounded sum', () => {
    for (const n of [1, 17, 1000, 100_003]) {
      const u = update(n, n);
      const got = sums(reference, u, u.metric);
      // the same terms summed with Neumaier compensation
      const exact = [0, 0, 0];
      const comp = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const d = u.after[i] - u.before[i];
        const w = Math.fround(Math.sqrt(u.metric[i])) * (1 / 0.3) + 1e-8;
        const terms = [w * (d * d), u.grads[i] * d, Math.abs(u.grads[i] * d)];
        for (let k = 0; k < 3; k++) {
          const t = exact[k] + terms[k];
          comp[k] += Math.abs(exact[k]) >= Math.abs(terms[k]) ? exact[k] - t + terms[k] : terms[k] - t + exact[k];
          exact[k] = t;
        }
      }
      const abs = [exact[0] + comp[0], got[2], got[2]];
      for (let k = 0; k < 3; k++) {
        expect(Math.abs(got[k] - (exact[k] + comp[k]))).toBeLessThanOrEqual(n * Number.EPSILON * abs[k] + 1e-300);
      }
    }
  });

  test('the split depends only on the length (ranges of a multiple of 16, at most 64)', () => {
    for (const n of [0, 1, 15, 16, 17, 1 << 15, (1 << 15) + 1, 1_000_000, 64 * (1 << 15) + 3, 10_000_000]) {
      const [chunk, units] = sumSplit(n);
      expect(chunk % 16).toBe(0);
      expect(units).toBeGreaterThanOrEqual(1);
      expect(units).toBeLessThanOrEqual(64);
      expect(chunk * units).toBeGreaterThanOrEqual(n);
      if (n > 0) expect(chunk * (units - 1)).toBeLessThan(n);
    }
  });
});

describeEachBackend('updateEnergy', ({ name, kernels }) => {
  const same = (got: Float64Array, want: Float64Array, what: string) => {
    for (let k = 0; k < 3; k++) expect(Object.is(got[k], want[k]), `${what}[${k}]: ${got[k]} vs ${want[k]}`).toBe(true);
  };

  test('bit-identical to js on lengths around the SIMD width, with and without a metric, at offsets', () => {
    for (const n of [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 65, 1000, 1003]) {
      const u = update(n, n + 1);
      for (const metric of [new Float32Array(0), u.metric]) {
        const want = sums(reference, u, metric);
        same(sums(kernels, u, metric), want, `n=${n}`);
        const out = new Float64Array(3);
        const m = metric.length ? atOffset(metric, 3) : metric;
        kernels.updateEnergy(atOffset(u.before, 1), atOffset(u.after, 2), atOffset(u.grads, 5), m, 1 / 0.3, 1e-8, out);
        same(out, want, `n=${n} at offsets`);
      }
    }
  });

  test('bit-identical to js on random inputs (fast-check)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e15), max: Math.fround(1e15) });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(f32, f32, f32, fc.float({ noNaN: true, min: 0, max: Math.fround(1e10) })), {
          maxLength: 200,
        }),
        fc.boolean(),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (rows, weighted, scale, eps) => {
          const col = (j: number) => Float32Array.from(rows, (r) => r[j]);
          const [before, after, grads, metric] = [col(0), col(1), col(2), weighted ? col(3) : new Float32Array(0)];
          const want = new Float64Array(3);
          const got = new Float64Array(3);
          reference.updateEnergy(before, after, grads, metric, scale, eps, want);
          kernels.updateEnergy(before, after, grads, metric, scale, eps, got);
          same(got, want, 'random');
        },
      ),
      { numRuns: 200 },
    );
  });

  test('bit-identical to js on arrays split over threads (n = 2^18 + 17 and 10^6 + 3)', () => {
    for (const n of [(1 << 18) + 17, 1_000_003]) {
      const u = update(n, 7);
      same(sums(kernels, u, u.metric), sums(reference, u, u.metric), `n=${n}`);
      same(sums(kernels, u, new Float32Array(0)), sums(reference, u, new Float32Array(0)), `n=${n}, no metric`);
    }
  });

  if (name !== 'js') {
    test('lengths are checked natively, naming the parameter', () => {
      const x = new Float32Array(4);
      const out = new Float64Array(3);
      const want = 'Expected a Float32Array of length 4 (the length of before) for grads but received';
      expectError(
        () => kernels.updateEnergy(x, x, new Float32Array(3), x, 1, 0, out),
        'grads',
        new RegExp(`^${want.replace(/[()]/g, '\\$&')}`),
      );
      expectError(() => kernels.updateEnergy(x, x, x, new Float32Array(2), 1, 0, out), 'metric');
      expectError(() => kernels.updateEnergy(x, x, x, x, 1, 0, new Float64Array(2)), 'out');
      expectError(() => kernels.updateEnergy(x, new Float64Array(4) as never, x, x, 1, 0, out), 'after');
    });
  }
});

// ---------------------------------------------------------------------------------------
// The QPL loop.

describe('the QPL loop (balanceStep)', () => {
  const c = balanceConfig({ etaMin: 1e-6, etaMax: 1e4 });
  const reading = (bits: number, scale = 1) => ({ bits, scale });

  test('defaults and validation', () => {
    expect(balanceConfig({})).toEqual({ ...BALANCE_DEFAULTS });
    expectError(() => balanceConfig({ etaMin: 0 }), 'etaMin');
    expectError(() => balanceConfig({ etaMin: 2, etaMax: 1 }), 'etaMax');
    expectError(() => balanceConfig({ smoothing: 0 }), 'smoothing');
    expectError(() => balanceConfig({ maxChange: 1 }), 'maxChange');
    expectError(() => balanceConfig({ gain: -1 }), 'gain');
    expectError(() => balanceConfig({ lambda: 0 }), 'lambda');
    expectError(() => balanceConfig({ informationFloor: -1 }), 'informationFloor');
  });

  test('NaN, infinite and negative readings are rejected', () => {
    const s = EMPTY_BALANCE;
    expectError(() => balanceStep(c, s, 1, Number.NaN, reading(1), 2), 'energy');
    expectError(() => balanceStep(c, s, 1, -1, reading(1), 2), 'energy');
    expectError(() => balanceStep(c, s, 1, Number.POSITIVE_INFINITY, reading(1), 2), 'energy');
    expectError(() => balanceStep(c, s, 1, 1, reading(Number.NaN), 2), 'information.bits');
    expectError(() => balanceStep(c, s, 1, 1, reading(1, -1), 2), 'information.scale');
    expectError(() => balanceStep(c, s, 0, 1, reading(1), 2), 'eta');
  });

  test('the modes: hold without a reading, idle, no-information, balance', () => {
    const s = EMPTY_BALANCE;
    expect(balanceStep(c, s, 0.5, null, reading(1), 2)).toEqual({
      eta: 0.5,
      state: s,
      residual: null,
      qpl: null,
      mode: 'hold',
    });
    const idle = balanceStep(c, s, 0.5, 0, reading(0), 2);
    expect(idle.mode).toBe('idle');
    expect(idle.eta).toBeGreaterThan(0.5); // nothing moved: grow
    expect(balanceStep(c, s, 0.5, 0, reading(0), 0).eta).toBe(0.5); // a clock that did not tick
    const none = balanceStep(c, s, 0.5, 1, reading(-3), 2);
    expect(none.mode).toBe('no-information');
    expect(none.eta).toBeCloseTo(0.25, 14); // a shrink acts at once, by maxChange
    const b = balanceStep(c, s, 0.5, 2, reading(8), 2);
    expect(b.mode).toBe('balance');
    expect(b.residual).toBeCloseTo(Math.log(2 / (0.5 * 8)), 14);
    expect(b.qpl).toBe((0.5 * 8 - 2) / c.lambda);
    // the floor: I below informationFloor × scale counts as the floor
    const floored = balanceStep(c, s, 1, 1e-12, reading(1e-20, 1), 2);
    expect(floored.residual).toBeCloseTo(Math.log(1e-12 / c.informationFloor), 10);
  });

  const energy = fc.oneof(
    fc.constant(0),
    fc.constant(Number.MIN_VALUE),
    fc.constant(1e300),
    fc.double({ min: 0, max: 1e10, noNaN: true }),
  );
  const bits = fc.oneof(
    fc.constant(0),
    fc.constant(-1e300),
    fc.constant(1e300),
    fc.constant(5e-324),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  );
  const turn = fc.option(fc.tuple(energy, bits, fc.double({ min: 0, max: 1e10, noNaN: true })), { freq: 8 });

  test('η stays in [etaMin, etaMax] and moves by at most maxChange per step, whatever the readings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(turn, { maxLength: 300 }),
        fc.double({ min: 1e-6, max: 1e4, noNaN: true }),
        fc.constantFrom(0, 1, 2),
        (turns, eta0, order) => {
          let eta = eta0;
          let state: BalanceState = EMPTY_BALANCE;
          for (const t of turns) {
            const r = t
              ? balanceStep(c, state, eta, t[0], reading(t[1], t[2]), order)
              : balanceStep(c, state, eta, null, null, order);
            expect(r.eta).toBeGreaterThanOrEqual(c.etaMin);
            expect(r.eta).toBeLessThanOrEqual(c.etaMax);
            expect(Math.abs(Math.log(r.eta / eta))).toBeLessThanOrEqual(Math.log(c.maxChange) * (1 + 1e-12));
            expect(Number.isFinite(r.state.potential)).toBe(true);
            expect(Math.abs(r.state.potential)).toBeLessThanOrEqual(Math.log(c.maxChange) / c.gain + 1e-12);
            [eta, state] = [r.eta, r.state];
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('stationary meters, compute kind (E does not depend on η): η converges to E/I from any start (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: 1e-5, max: 1e3, noNaN: true }),
        (e, i, eta0) => {
          const target = e / i;
          fc.pre(target > 1e-5 && target < 1e3);
          let eta = eta0;
          let state: BalanceState = EMPTY_BALANCE;
          for (let t = 0; t < 400; t++) ({ eta, state } = balanceStep(c, state, eta, e, reading(i), 0));
          expect(Math.abs(Math.log(eta / target))).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('stationary meters, kinetic kind: on a quadratic, η converges to the balance (2 − ln 2)/h (fast-check)', () => {
    // Along a fixed direction with curvature h: E = ½η²‖g‖², I = (η‖g‖² − ½η²h‖g‖²)/ln 2.
    fc.assert(
      fc.property(
        fc.double({ min: 1e-2, max: 1e2, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e2, noNaN: true }),
        fc.double({ min: 1e-5, max: 1e3, noNaN: true }),
        (h, g2, eta0) => {
          let eta = eta0;
          let state: BalanceState = EMPTY_BALANCE;
          for (let t = 0; t < 400; t++) {
            const e = 0.5 * eta * eta * g2;
            const i = (eta * g2 - 0.5 * eta * eta * h * g2) / Math.LN2;
            ({ eta, state } = balanceStep(c, state, eta, e, reading(i, g2), 2));
          }
          expect(Math.abs(Math.log(eta / ((2 - Math.LN2) / h)))).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the seed's direct substitution η ← E/I runs away on the same quadratic; the loop does not", () => {
    const h = 1;
    const g2 = 1;
    const at = (eta: number) => ({
      e: 0.5 * eta * eta * g2,
      i: (eta * g2 - 0.5 * eta * eta * h * g2) / Math.LN2,
    });
    // start 1% above the balance point
    let direct = 1.01 * (2 - Math.LN2);
    const path: number[] = [];
    for (let t = 0; t < 8 && at(direct).i > 0; t++) {
      direct = at(direct).e / at(direct).i;
      path.push(direct);
    }
    // the slope of E/I at the balance is 1 + (1 − ln2/2)/(ln2/2) ≈ 2.89: the error grows each turn
    expect(path.length).toBeGreaterThan(1);
    expect(at(direct).i <= 0 || direct > 1.5 * (2 - Math.LN2)).toBe(true);
    let eta = 1.01 * (2 - Math.LN2);
    let state: BalanceState = EMPTY_BALANCE;
    for (let t = 0; t < 50; t++) ({ eta, state } = balanceStep(c, state, eta, at(eta).e, reading(at(eta).i), 2));
    expect(eta).toBeCloseTo(2 - Math.LN2, 9);
  });

  test('no oscillation blow-up: readings that flip every step keep η within one maxChange of its start from above, and its swings do not grow (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.constantFrom(0, 2),
        (swing, eta0, order) => {
          // residual ±swing, alternating (an iterate bouncing across a valley)
          let eta = eta0;
          let state: BalanceState = EMPTY_BALANCE;
          const trace: number[] = [];
          for (let t = 0; t < 200; t++) {
            const b = t % 2 === 0 ? swing : -swing;
            const e = eta * Math.exp(b); // I = 1: ln(E/(η I)) = b
            ({ eta, state } = balanceStep(c, state, eta, e, reading(1), order));
            trace.push(Math.log(eta));
          }
          // never more than one maxChange above where it started, and the swings of ln η do not grow
          expect(Math.max(...trace)).toBeLessThanOrEqual(Math.log(eta0) + Math.log(c.maxChange) + 1e-12);
          const swings = trace.slice(1).map((v, i) => Math.abs(v - trace[i]));
          expect(Math.max(...swings.slice(100))).toBeLessThanOrEqual(Math.max(...swings.slice(0, 100)) + 1e-12);
        },
      ),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// The optimizer.

/** Run `steps` full-batch steps on a least-squares task; returns the metric trace and reports. */
function runLeastSquares(opt: EntropyBalancedOptimizer, steps: number, task = new LeastSquaresTask()) {
  const x = task.initialParameters(1);
  const g = new Float32Array(task.dimension);
  const distances: number[] = [];
  const reports: BalanceReport[] = [];
  let reached = -1;
  for (let t = 0; t < steps; t++) {
    const loss = task.evaluate(x, g);
    const d = task.metrics(x).distanceToOptimum;
    distances.push(d);
    if (reached < 0 && d <= task.target.value) reached = t;
    reports.push(opt.step({ x }, { x: g }, { loss }));
  }
  distances.push(task.metrics(x).distanceToOptimum);
  return { x, distances, reports, reached };
}

describe('EntropyBalancedOptimizer on least squares (κ = 20, 50 parameters)', () => {
  test('SGD base: the distance to the optimum falls below the target from initial rates 10⁻⁴ … 10²', () => {
    const rows: string[] = [];
    for (const eta0 of [1e-4, 1e-2, 1, 100]) {
      const { distances, reached, reports } = runLeastSquares(
        new EntropyBalancedOptimizer({ learningRate: eta0 }),
        1500,
      );
      rows.push(
        `η₀ = ${eta0}: steps to ‖x − x*‖/‖x*‖ ≤ 1e-3: ${reached}, final ${distances.at(-1)!.toExponential(2)}, ` +
          `η at the end ${reports.at(-1)!.eta.toPrecision(3)}`,
      );
      expect(reached).toBeGreaterThan(0);
      expect(distances.at(-1)).toBeLessThan(1e-3);
    }
    console.log(`[entropy-balanced SGD, least squares]\n  ${rows.join('\n  ')}`);
  });

  test('Adam base (β₁ = 0) reaches the target; with β₁ = 0.9 the distance still falls', () => {
    const rms = runLeastSquares(
      new EntropyBalancedOptimizer({ base: 'adam', baseOptions: { beta1: 0 }, learningRate: 1e-3 }),
      2000,
    );
    expect(rms.distances.at(-1)).toBeLessThan(1e-3);
    const adam = runLeastSquares(new EntropyBalancedOptimizer({ base: 'adam', learningRate: 1e-3 }), 2000);
    expect(adam.distances.at(-1)).toBeLessThan(0.5 * adam.distances[0]);
    console.log(
      `[entropy-balanced Adam, least squares, 2000 steps] β₁ = 0: ${rms.distances.at(-1)!.toExponential(2)} ` +
        `(target at step ${rms.reached}); β₁ = 0.9: ${adam.distances.at(-1)!.toExponential(2)}`,
    );
  });

  test('the report: readings of the previous iteration against their definitions', () => {
    const task = new LeastSquaresTask({ rows: 40, columns: 8 });
    const opt = new EntropyBalancedOptimizer({ learningRate: 0.05, temperature: 310 });
    const x = task.initialParameters(2);
    const g = new Float32Array(task.dimension);
    const loss0 = task.evaluate(x, g);
    const before = x.slice();
    const first = opt.step({ x }, { x: g }, { loss: loss0 });
    expect(first).toMatchObject({ iteration: 0, eta: 0.05, energyRate: null, informationRate: null, mode: 'hold' });
    let kinetic = 0;
    for (let i = 0; i < x.length; i++) kinetic += 0.5 * (x[i] - before[i]) ** 2;
    const loss1 = task.evaluate(x, g);
    const second = opt.step({ x }, { x: g }, { loss: loss1 });
    expect(second.iteration).toBe(1);
    expect(second.energyRate).toBeCloseTo(kinetic, 15);
    expect(second.informationRate).toBe((loss0 - loss1) / Math.LN2);
    expect(second.qpl).toBe((0.05 * second.informationRate! - second.energyRate!) / 1);
    expect(second.residual).toBe(Math.log(second.energyRate!) - Math.log(second.informationRate!) - Math.log(0.05));
    expect(second.mode).toBe('balance');
    expect(opt.learningRate).toBe(second.eta);
    if (second.joules !== null && second.joules > 0) {
      expect(second.landauerEfficiency).toBe((landauerBound(310) * second.informationRate!) / second.joules);
      expect(second.landauerEfficiency).toBeLessThan(1); // Landauer: no computer beats k_B T ln 2 per bit
    }
    expect(opt.lastReport).toBe(second);
    expect(opt.iterations).toBe(2);
    expect(opt.inner.kind).toBe('SGD');
    expect(opt.inner.learningRate).toBe(second.eta);
  });
});

/** Two tensors with lengths off the SIMD width, a quadratic with a known gradient. */
function twoTensors() {
  const params: TensorMap = { w: values(37, 11, 2), b: values(5, 12, 2) };
  const target: TensorMap = { w: values(37, 13, 1), b: values(5, 14, 1) };
  const scale: TensorMap = { w: values(37, 15, 4).map((v) => 0.2 + Math.abs(v)), b: Float32Array.of(1, 2, 3, 4, 5) };
  const grads: TensorMap = { w: new Float32Array(37), b: new Float32Array(5) };
  /** L = ½ Σ s (p − t)²; grads written in place; returns L. */
  const evaluate = () => {
    let loss = 0;
    for (const k of ['w', 'b']) {
      for (let i = 0; i < params[k].length; i++) {
        const d = params[k][i] - target[k][i];
        grads[k][i] = scale[k][i] * d;
        loss += 0.5 * scale[k][i] * d * d;
      }
    }
    return loss;
  };
  return { params, grads, evaluate };
}

function trajectory(opt: EntropyBalancedOptimizer, steps: number, p = twoTensors()) {
  const etas: number[] = [];
  for (let t = 0; t < steps; t++) {
    const loss = p.evaluate();
    etas.push(opt.step(p.params, p.grads, { loss }).eta);
  }
  return { etas, bits: [...bitsOf(p.params.w), ...bitsOf(p.params.b)], problem: p };
}

describe('EntropyBalancedOptimizer state and reproducibility', () => {
  const configs = [
    { learningRate: 0.01 },
    { base: 'adam' as const, learningRate: 0.01 },
    { base: 'adamw' as const, baseOptions: { amsgrad: true }, learningRate: 0.01 },
    { base: 'sgd' as const, baseOptions: { momentum: 0.9, nesterov: true }, learningRate: 0.01 },
    { learningRate: 0.01, energyMeter: 'gradient-work', smoothing: 0.2 },
  ];

  test('state() → serializeState() → restoreOptimizer() round-trips bit for bit', () => {
    for (const config of configs) {
      const opt = new EntropyBalancedOptimizer(config);
      trajectory(opt, 17);
      const bytes = opt.serializeState();
      const restored = restoreOptimizer(bytes) as EntropyBalancedOptimizer;
      expect(restored).toBeInstanceOf(EntropyBalancedOptimizer);
      expect(restored.serializeState()).toEqual(bytes);
      expect(restored.state()).toEqual(opt.state());
      expect(restored.learningRate).toBe(opt.learningRate);
      expect(restored.iterations).toBe(17);
      // JSON carries the state too
      const json = JSON.parse(JSON.stringify({ ...opt.state(), tensors: {} }));
      expect(json.scalars.wrapper.eta).toBe(opt.learningRate);
    }
  });

  test('a resumed run continues identically (parameters bit for bit, η sequence)', () => {
    for (const config of configs) {
      const whole = trajectory(new EntropyBalancedOptimizer(config), 40);
      const first = new EntropyBalancedOptimizer(config);
      const half = trajectory(first, 20);
      const resumed = restoreOptimizer(first.serializeState()) as EntropyBalancedOptimizer;
      const rest = trajectory(resumed, 20, half.problem);
      expect([...half.etas, ...rest.etas]).toEqual(whole.etas);
      expect(rest.bits).toEqual(whole.bits);
    }
  });

  test('every backend gives the same trajectory, bit for bit', () => {
    const original = backendInfo().name;
    try {
      for (const config of configs) {
        setBackend('js');
        const want = trajectory(new EntropyBalancedOptimizer(config), 30);
        for (const { name } of backends) {
          setBackend(name);
          const got = trajectory(new EntropyBalancedOptimizer(config), 30);
          expect(got.etas, `${name} ${JSON.stringify(config)}`).toEqual(want.etas);
          expect(got.bits, `${name} ${JSON.stringify(config)}`).toEqual(want.bits);
        }
      }
    } finally {
      setBackend(original);
    }
  });

  afterAll(() => undefined);
});

describe('EntropyBalancedOptimizer errors', () => {
  test('bad options name the option', () => {
    const make = (o: object) => () => new EntropyBalancedOptimizer(o as never);
    expectError(
      make({ base: 'rmsprop' }),
      'base',
      /^Expected one of "sgd", "adam", "adamw" for base but received "rmsprop"/,
    );
    expectError(make({ baseOptions: { learningRate: 1 } }), 'baseOptions.learningRate');
    expectError(make({ baseOptions: { maximize: true } }), 'baseOptions.maximize');
    expectError(
      make({ baseOptions: { momentum: -1 } }),
      'baseOptions.momentum',
      'Expected a finite number >= 0 for baseOptions.momentum but received -1 of type number',
    );
    expectError(
      make({ baseOptions: { groups: [{ params: ['x'], learningRate: 1 }] } }),
      'baseOptions.groups[0].learningRate',
    );
    expectError(
      make({ learningRate: 10, etaMax: 1 }),
      'learningRate',
      'Expected a finite number >= 1e-8 and <= 1 for learningRate but received 10 of type number',
    );
    expectError(make({ etaMin: 1, etaMax: 0.5, learningRate: 1 }), 'etaMax');
    expectError(make({ smoothing: 0 }), 'smoothing');
    expectError(make({ maxChange: 1 }), 'maxChange');
    expectError(make({ energyMeter: 'joules' }), 'energyMeter');
    expectError(make({ energyMeter: { kind: 'compute', watts: 3 } }), 'energyMeter.watts');
    expectError(make({ energyMeter: { kind: 'compute', wattsPerCore: 0 } }), 'energyMeter.wattsPerCore');
    expectError(make({ informationMeter: { kind: 'predictive-entropy' } }), 'informationMeter.classes');
    expectError(make({ informationMeter: { kind: 'loss', unit: 'hartleys' } }), 'informationMeter.unit');
    expectError(make({ computeMeter: 'kinetic' }), 'computeMeter');
    expectError(make({ groups: [{ params: ['x'] }] }), 'groups');
    expectError(make({ momentum: 0.9 }), 'momentum');
  });

  test('a step without the observation its meter needs changes nothing', () => {
    const p = twoTensors();
    const opt = new EntropyBalancedOptimizer({ learningRate: 0.01 });
    p.evaluate();
    opt.step(p.params, p.grads, { loss: 1 });
    const state = opt.serializeState();
    const before = copy(p.params);
    expectError(
      () => opt.step(p.params, p.grads),
      'observation.loss',
      'Expected a finite number for observation.loss but received undefined of type undefined',
    );
    expectError(() => opt.step(p.params, p.grads, { loss: Number.NaN }), 'observation.loss');
    expectError(
      () => opt.step(p.params, p.grads, { loss: 1, previousBatchLoss: Number.POSITIVE_INFINITY }),
      'observation.previousBatchLoss',
    );
    expect(opt.serializeState()).toEqual(state);
    expect(p.params).toEqual(before);
  });

  test('non-finite gradients change nothing, and the run continues as if the call never happened', () => {
    const run = (bad: boolean) => {
      const p = twoTensors();
      const opt = new EntropyBalancedOptimizer({ base: 'adam', learningRate: 0.01 });
      for (let t = 0; t < 10; t++) {
        const loss = p.evaluate();
        if (bad && t === 5) {
          const saved = p.grads.b[2];
          p.grads.b[2] = Number.NaN;
          expectError(() => opt.step(p.params, p.grads, { loss }), 'grads["b"]');
          p.grads.b[2] = saved;
        }
        opt.step(p.params, p.grads, { loss });
      }
      return [...bitsOf(p.params.w), opt.learningRate];
    };
    expect(run(true)).toEqual(run(false));
  });

  test('a meter reading NaN is rejected, naming the meter', () => {
    let calls = 0;
    registerEnergyMeter('broken', () => ({
      kind: 'broken',
      unit: 'work',
      etaOrder: 2,
      needsUpdate: false,
      recordUpdate: () => {},
      take: () => (calls++ === 0 ? null : Number.NaN),
      getConfig: () => ({ kind: 'broken' }),
      getState: () => ({}),
      setState: () => {},
    }));
    const opt = new EntropyBalancedOptimizer({ energyMeter: 'broken', computeMeter: null });
    const p = twoTensors();
    opt.step(p.params, p.grads, { loss: p.evaluate() });
    expectError(() => opt.step(p.params, p.grads, { loss: p.evaluate() }), 'broken.take()');
    expect(opt.iterations).toBe(1);
  });

  test('learningRate reads and sets the current η within the bounds', () => {
    const opt = new EntropyBalancedOptimizer({ etaMax: 2 });
    expect(opt.learningRate).toBe(1e-3);
    opt.learningRate = 0.5;
    expect(opt.learningRate).toBe(0.5);
    expect(opt.getConfig().learningRate).toBe(1e-3);
    expectError(() => {
      opt.learningRate = 3;
    }, 'learningRate');
  });
});
