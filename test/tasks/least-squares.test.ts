/** Least squares: Householder QR, the exact optimum, the conditioning, gradients, metrics. */
import { describe, expect, test } from 'vitest';
import { householderQR, LeastSquaresTask, leastSquaresSolve, thinQ } from '../../lib/index.js';
import { Random } from '../../lib/random.js';
import { descend, gradientError } from './helpers.js';

function gaussian(rows: number, cols: number, seed: number): Float64Array {
  const r = new Random(seed);
  return Float64Array.from({ length: rows * cols }, () => r.normal());
}

describe('Householder QR', () => {
  test('Q has orthonormal columns and Q R = A', () => {
    const m = 9;
    const n = 5;
    const a = gaussian(m, n, 1);
    const f = householderQR(a, m, n);
    const q = thinQ(f);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += q[k * n + i] * q[k * n + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 13);
      }
    }
    // thinQ flips columns so that R's diagonal is ≥ 0: A = Q |R| row-signed
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k <= j; k++) s += q[i * n + k] * Math.sign(f.qr[k * n + k]) * f.qr[k * n + j];
        expect(s).toBeCloseTo(a[i * n + j], 12);
      }
    }
  });

  test('the solution makes the residual orthogonal to the columns of A', () => {
    const m = 40;
    const n = 7;
    const a = gaussian(m, n, 2);
    const b = gaussian(m, 1, 3);
    const x = leastSquaresSolve(a, m, n, b);
    const r = new Float64Array(m);
    let rNorm = 0;
    for (let i = 0; i < m; i++) {
      let s = -b[i];
      for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
      r[i] = s;
      rNorm += s * s;
    }
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += a[i * n + j] * r[i];
      expect(Math.abs(s)).toBeLessThan(1e-12 * Math.sqrt(rNorm) * Math.sqrt(m));
    }
  });

  test('rank deficiency and bad shapes are reported', () => {
    const a = new Float64Array([1, 2, 2, 4, 3, 6]); // second column = 2 × first
    expect(() => leastSquaresSolve(a, 3, 2, new Float64Array(3))).toThrow('a matrix of full column rank for a');
    expect(() => householderQR(new Float64Array(6), 2, 3)).toThrow(
      'Expected an integer >= 3 for m but received 2 of type number',
    );
    expect(() => householderQR(new Float64Array(5), 3, 2)).toThrow(
      'Expected a Float64Array of length 6 for a but received Float64Array(5) of type Float64Array',
    );
  });
});

describe('least-squares task', () => {
  const task = new LeastSquaresTask({ rows: 60, columns: 12, conditionNumber: 50, seed: 4 });

  test('x* is exact: zero gradient, metrics zero, residual orthogonal to A', () => {
    const g = new Float64Array(12);
    task.evaluate(task.optimum, g);
    for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-13);
    const m = task.metrics(task.optimum);
    expect(m.distanceToOptimum).toBe(0);
    expect(m.excessLoss).toBe(0);
    expect(m.loss).toBeCloseTo(task.optimalLoss, 14);
  });

  test('A has the requested condition number (Hessian eigenvalues σ² in [1/κ², 1])', () => {
    // power iteration on H = AᵀA/m and on H⁻¹ via the normal equations would do; the
    // singular values are built in: check them against ‖A v‖/√m on the extreme directions
    expect(task.singularValues[0]).toBe(1);
    expect(task.singularValues[11]).toBeCloseTo(1 / 50, 14);
    // Rayleigh quotients of H stay within [1/κ², 1]
    const r = new Random(1);
    for (let trial = 0; trial < 20; trial++) {
      const v = Float64Array.from({ length: 12 }, () => r.normal());
      let vv = 0;
      let av = 0;
      for (const x of v) vv += x * x;
      for (let i = 0; i < 60; i++) {
        let s = 0;
        for (let j = 0; j < 12; j++) s += task.a[i * 12 + j] * v[j];
        av += s * s;
      }
      const q = av / 60 / vv;
      expect(q).toBeLessThanOrEqual(1 + 1e-12);
      expect(q).toBeGreaterThanOrEqual(1 / 2500 - 1e-12);
    }
  });

  test('excess loss = L(x) − L(x*) and the distance is relative to ‖x*‖', () => {
    const x = Float64Array.from(task.optimum, (v, i) => v + (i === 0 ? 0.5 : 0));
    const m = task.metrics(x);
    expect(m.excessLoss).toBeCloseTo(task.evaluate(x) - task.optimalLoss, 12);
    let norm = 0;
    for (const v of task.optimum) norm += v * v;
    expect(m.distanceToOptimum).toBeCloseTo(0.5 / Math.sqrt(norm), 14);
  });

  test('analytic gradient matches finite differences, full batch and mini-batch', () => {
    const t = new LeastSquaresTask({ rows: 30, columns: 6, batchSize: 8 });
    const x = Float64Array.from(t.initialParameters(2));
    expect(gradientError(t, x)).toBeLessThan(1e-7);
    expect(gradientError(t, x, 3)).toBeLessThan(1e-7);
    expect(t.batchCount).toBe(4);
  });

  test('plain gradient descent lowers the loss and the distance to the optimum', () => {
    const x = task.initialParameters(0);
    const d0 = task.metrics(x).distanceToOptimum;
    const [before, after] = descend(task, x, 1, 50);
    expect(after).toBeLessThan(before);
    expect(task.metrics(x).distanceToOptimum).toBeLessThan(d0);
  });

  test('deterministic for a seed; options are validated', () => {
    const a = new LeastSquaresTask({ rows: 20, columns: 4, seed: 7 });
    const b = new LeastSquaresTask({ rows: 20, columns: 4, seed: 7 });
    const c = new LeastSquaresTask({ rows: 20, columns: 4, seed: 8 });
    expect(a.optimum).toEqual(b.optimum);
    expect(a.optimum).not.toEqual(c.optimum);
    expect(() => new LeastSquaresTask({ rows: 3, columns: 4 })).toThrow(
      'Expected an integer >= 4 and <= 1000000 for rows but received 3 of type number',
    );
    expect(() => new LeastSquaresTask({ conditionNumber: 0.5 })).toThrow('for conditionNumber but received 0.5');
    expect(() => new LeastSquaresTask({ batchSize: 0 })).toThrow('for batchSize but received 0');
  });
});
