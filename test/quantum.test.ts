/**
 * Quantum information (design eqs. 14–15): the Hermitian eigenvalue kernel on every backend
 * against an independent solver, and the facade: von Neumann entropy, density-matrix
 * validation, the Landauer bound and the QBE information rate.
 *
 * Tolerances: eigenvalues within 1e-13·d·max|a_ij| of the independent solver and of the js
 * reference (both methods are backward stable: absolute error ~ d·ε·‖A‖); entropies within
 * 1e-12 nats (−λ ln λ moves by at most |ln λ|·Δλ, and tiny λ contribute at most 4e-15).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  BOLTZMANN,
  densityMatrixEigenvalues,
  hermitianEigenvalues,
  informationRate,
  landauerBound,
  vonNeumannEntropy,
} from '../lib/index.js';
import type { Kernels } from '../lib/kernels.js';
import { Random } from '../lib/random.js';
import { atOffset, describeEachBackend, reference } from './helpers.js';

interface Complex {
  re: Float64Array;
  im: Float64Array;
  d: number;
}

function gaussian(d: number, rows: number, rng: Random): Complex {
  const re = Float64Array.from({ length: d * rows }, () => rng.normal());
  const im = Float64Array.from({ length: d * rows }, () => rng.normal());
  return { re, im, d };
}

/** C = A·B^H for d×k matrices A, B (row-major). */
function timesAdjoint(a: Complex, b: Complex, k: number): Complex {
  const d = a.d;
  const re = new Float64Array(d * d);
  const im = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sr = 0;
      let si = 0;
      for (let l = 0; l < k; l++) {
        const [ar, ai, br, bi] = [a.re[i * k + l], a.im[i * k + l], b.re[j * k + l], -b.im[j * k + l]];
        sr += ar * br - ai * bi;
        si += ar * bi + ai * br;
      }
      re[i * d + j] = sr;
      im[i * d + j] = si;
    }
  }
  return { re, im, d };
}

/** A random Hermitian matrix (G + G^H)/2. */
function randomHermitian(d: number, seed: number): Complex {
  const g = gaussian(d, d, new Random(seed));
  const re = new Float64Array(d * d);
  const im = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      re[i * d + j] = (g.re[i * d + j] + g.re[j * d + i]) / 2;
      im[i * d + j] = (g.im[i * d + j] - g.im[j * d + i]) / 2;
    }
  }
  return { re, im, d };
}

/** A random density matrix of rank k (Wishart style): ρ = G G^H / Tr(G G^H), G d×k. */
function randomDensity(d: number, k: number, seed: number): Complex {
  const g = gaussian(d, k, new Random(seed));
  g.d = d;
  const w = timesAdjoint(g, g, k);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += w.re[i * d + i];
  // exactly Hermitian: symmetrize after scaling
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const r = (w.re[i * d + j] + w.re[j * d + i]) / (2 * trace);
      const m = (w.im[i * d + j] - w.im[j * d + i]) / (2 * trace);
      w.re[i * d + j] = r;
      w.re[j * d + i] = r;
      w.im[i * d + j] = i === j ? 0 : m;
      w.im[j * d + i] = i === j ? 0 : -m;
    }
  }
  return w;
}

/** A random unitary: Gram–Schmidt on the rows of a complex Gaussian matrix. */
function randomUnitary(d: number, seed: number): Complex {
  const u = gaussian(d, d, new Random(seed));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      // c = <u_j, u_i> = Σ conj(u_j) u_i ; u_i −= c u_j
      let cr = 0;
      let ci = 0;
      for (let l = 0; l < d; l++) {
        const [jr, ji, ir, ii] = [u.re[j * d + l], u.im[j * d + l], u.re[i * d + l], u.im[i * d + l]];
        cr += jr * ir + ji * ii;
        ci += jr * ii - ji * ir;
      }
      for (let l = 0; l < d; l++) {
        const [jr, ji] = [u.re[j * d + l], u.im[j * d + l]];
        u.re[i * d + l] -= cr * jr - ci * ji;
        u.im[i * d + l] -= cr * ji + ci * jr;
      }
    }
    let norm = 0;
    for (let l = 0; l < d; l++) norm += u.re[i * d + l] ** 2 + u.im[i * d + l] ** 2;
    norm = Math.sqrt(norm);
    for (let l = 0; l < d; l++) {
      u.re[i * d + l] /= norm;
      u.im[i * d + l] /= norm;
    }
  }
  return u;
}

/** U A U^H. */
function conjugate(u: Complex, a: Complex): Complex {
  const d = a.d;
  const ua = { re: new Float64Array(d * d), im: new Float64Array(d * d), d };
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sr = 0;
      let si = 0;
      for (let l = 0; l < d; l++) {
        const [xr, xi, yr, yi] = [u.re[i * d + l], u.im[i * d + l], a.re[l * d + j], a.im[l * d + j]];
        sr += xr * yr - xi * yi;
        si += xr * yi + xi * yr;
      }
      ua.re[i * d + j] = sr;
      ua.im[i * d + j] = si;
    }
  }
  return timesAdjoint(ua, u, d);
}

/**
 * The independent solver: cyclic Jacobi on the real symmetric 2d×2d embedding
 * [[A_r, −A_i], [A_i, A_r]], whose spectrum is A's with every eigenvalue twice.
 */
function jacobiEigenvalues(a: Complex): number[] {
  const { d } = a;
  const n = 2 * d;
  const m = new Float64Array(n * n);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const r = a.re[i * d + j];
      const c = a.im[i * d + j];
      m[i * n + j] = r;
      m[(i + d) * n + j + d] = r;
      m[i * n + j + d] = -c;
      m[(i + d) * n + j] = c;
    }
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += m[i * n + j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = theta === 0 ? 1 : Math.sign(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [akp, akq] = [m[k * n + p], m[k * n + q]];
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const [apk, aqk] = [m[p * n + k], m[q * n + k]];
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const ev = Array.from({ length: n }, (_, i) => m[i * n + i]).sort((x, y) => x - y);
  // each eigenvalue twice: the pairs must agree, then one of each pair
  for (let i = 0; i < d; i++) expect(Math.abs(ev[2 * i] - ev[2 * i + 1])).toBeLessThan(1e-10);
  return Array.from({ length: d }, (_, i) => (ev[2 * i] + ev[2 * i + 1]) / 2);
}

function maxAbs(a: Complex): number {
  let m = 0;
  for (let k = 0; k < a.re.length; k++) m = Math.max(m, Math.abs(a.re[k]), Math.abs(a.im[k]));
  return m;
}

function eig(k: Kernels, a: Complex): Float64Array {
  const out = new Float64Array(a.d);
  k.hermitianEigenvalues(a.re, a.im, a.d, out);
  return out;
}

function expectSpectraAgree(got: ArrayLike<number>, want: ArrayLike<number>, a: Complex): void {
  const tol = 1e-13 * a.d * Math.max(maxAbs(a), Number.MIN_VALUE);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`eigenvalue ${i}: ${got[i]} vs ${want[i]} (d = ${a.d})`);
  }
}

describeEachBackend('Hermitian eigenvalues (eq. 15 kernel)', ({ kernels }) => {
  test('known spectra: Pauli matrices, diagonal, a 2×2 by hand, zero, d = 1', () => {
    const close = (got: Float64Array, want: number[]) => {
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 14);
    };
    close(eig(kernels, { re: Float64Array.from([0, 1, 1, 0]), im: new Float64Array(4), d: 2 }), [-1, 1]); // X
    close(eig(kernels, { re: new Float64Array(4), im: Float64Array.from([0, -1, 1, 0]), d: 2 }), [-1, 1]); // Y
    close(eig(kernels, { re: Float64Array.from([1, 0, 0, -1]), im: new Float64Array(4), d: 2 }), [-1, 1]); // Z
    // [[2, 1 − i], [1 + i, 3]]: trace 5, determinant 4 → 1 and 4
    close(eig(kernels, { re: Float64Array.from([2, 1, 1, 3]), im: Float64Array.from([0, -1, 1, 0]), d: 2 }), [1, 4]);
    const diag = { re: Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]), im: new Float64Array(9), d: 3 };
    expect([...eig(kernels, diag)]).toEqual([-1, 2, 3]);
    expect([...eig(kernels, { re: new Float64Array(16), im: new Float64Array(16), d: 4 })]).toEqual([0, 0, 0, 0]);
    expect([...eig(kernels, { re: Float64Array.from([-7.5]), im: Float64Array.from([0]), d: 1 })]).toEqual([-7.5]);
  });

  test('matches the independent solver (Jacobi on the real 2d×2d embedding)', () => {
    for (const d of [2, 3, 4, 5, 7, 8, 9, 16, 17, 24]) {
      const a = randomHermitian(d, 10 + d);
      expectSpectraAgree(eig(kernels, a), jacobiEigenvalues(a), a);
    }
  });

  test('agrees with the js reference on random matrices, views at an offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 0, max: 3 }),
        (d, seed, offset) => {
          const a = randomHermitian(d, seed);
          const out = atOffset(new Float64Array(d), offset + 1);
          kernels.hermitianEigenvalues(atOffset(a.re, offset), atOffset(a.im, offset + 2), d, out);
          expectSpectraAgree(out, eig(reference, a), a);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('spectrum is invariant under U·A·U^H and sums to the trace', () => {
    for (const d of [3, 8, 16]) {
      const a = randomHermitian(d, 100 + d);
      const u = randomUnitary(d, 200 + d);
      const b = conjugate(u, a);
      const ea = eig(kernels, a);
      expectSpectraAgree(eig(kernels, b), ea, a);
      let trace = 0;
      for (let i = 0; i < d; i++) trace += a.re[i * d + i];
      expect(ea.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 12);
    }
  });

  test('scaling by 2^±600 scales the spectrum exactly (no overflow or underflow)', () => {
    const a = randomHermitian(12, 7);
    const base = eig(kernels, a);
    for (const k of [600, -600]) {
      const s = 2 ** k;
      const scaled = eig(kernels, { re: a.re.map((v) => v * s), im: a.im.map((v) => v * s), d: 12 });
      expect([...scaled]).toEqual([...base].map((v) => v * s));
    }
  });

  test('the Hermitian part is used; non-finite input gives NaN', () => {
    // [[1, 4], [0, 1]] + i[[0.5, 0], [0, −0.5]] → (A + A^H)/2 = [[1, 2], [2, 1]]: −1 and 3
    const ev = eig(kernels, { re: Float64Array.from([1, 4, 0, 1]), im: Float64Array.from([0.5, 0, 0, -0.5]), d: 2 });
    expect(ev[0]).toBeCloseTo(-1, 15);
    expect(ev[1]).toBeCloseTo(3, 15);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const a = randomHermitian(4, 1);
      a.im[5] = bad;
      expect([...eig(kernels, a)].every(Number.isNaN)).toBe(true);
    }
  });

  test.skipIf(kernels.name === 'js')('native: bad shapes are errors naming the parameter', () => {
    const z = new Float64Array(4);
    expect(() => kernels.hermitianEigenvalues(new Float64Array(3), z, 2, new Float64Array(2))).toThrow(
      expect.objectContaining({
        parameter: 're',
        message: expect.stringMatching(/^Expected a d×d matrix of length 4 \(d = 2\) for re but received /),
      }),
    );
    expect(() => kernels.hermitianEigenvalues(z, new Float64Array(5), 2, new Float64Array(2))).toThrow(
      expect.objectContaining({ parameter: 'im' }),
    );
    expect(() => kernels.hermitianEigenvalues(z, z, 2, new Float64Array(3))).toThrow(
      expect.objectContaining({ parameter: 'out' }),
    );
    expect(() => kernels.hermitianEigenvalues(z, z, 1.5, new Float64Array(2))).toThrow(
      expect.objectContaining({
        parameter: 'd',
        message: expect.stringMatching(/^Expected an integer in \[0, 4096\] for d but received 1\.5/),
      }),
    );
    // out sharing memory with the input: the input is copied first
    const a = randomHermitian(3, 5);
    const want = eig(reference, a);
    const re = Float64Array.from(a.re);
    kernels.hermitianEigenvalues(re, a.im, 3, re.subarray(0, 3));
    expectSpectraAgree(re.subarray(0, 3), want, a);
  });

  test('d = 64 and d = 100 agree with the js reference', () => {
    for (const d of [64, 100]) {
      const a = randomHermitian(d, d);
      expectSpectraAgree(eig(kernels, a), eig(reference, a), a);
    }
  });
});

describe('von Neumann entropy S(ρ) = −Tr ρ log ρ (eq. 15)', () => {
  test('a pure state |ψ⟩⟨ψ| has S = 0', () => {
    for (const d of [2, 5, 16]) {
      const rho = randomDensity(d, 1, d);
      expect(vonNeumannEntropy(rho.re, rho.im)).toBeLessThan(1e-13);
    }
  });

  test('the maximally mixed state I/d has S = ln d (and log₂ d bits)', () => {
    for (const d of [1, 2, 3, 8, 64]) {
      const re = new Float64Array(d * d);
      for (let i = 0; i < d; i++) re[i * d + i] = 1 / d;
      expect(vonNeumannEntropy(re)).toBeCloseTo(Math.log(d), 13);
      expect(vonNeumannEntropy(re, null, { base: 2 })).toBeCloseTo(Math.log2(d), 13);
    }
  });

  test('a qubit with Bloch vector r has S = H((1 ± |r|)/2)', () => {
    const [x, y, z] = [0.3, -0.4, 0.5];
    const re = Float64Array.from([(1 + z) / 2, x / 2, x / 2, (1 - z) / 2]);
    const im = Float64Array.from([0, -y / 2, y / 2, 0]);
    const r = Math.hypot(x, y, z);
    const [p, q] = [(1 + r) / 2, (1 - r) / 2];
    expect(vonNeumannEntropy(re, im)).toBeCloseTo(-p * Math.log(p) - q * Math.log(q), 14);
  });

  test('random density matrices (Wishart G·G^H/Tr) against the independent solver', () => {
    for (const [d, k] of [
      [4, 4],
      [8, 3],
      [16, 16],
      [12, 30],
    ]) {
      const rho = randomDensity(d, k, 1000 + d);
      const lambda = jacobiEigenvalues(rho);
      const want = -lambda.filter((l) => l > 0).reduce((s, l) => s + l * Math.log(l), 0);
      expect(Math.abs(vonNeumannEntropy(rho.re, rho.im) - want)).toBeLessThan(1e-12);
      expectSpectraAgree(densityMatrixEigenvalues(rho.re, rho.im), lambda, rho);
    }
  });

  test('invariant under unitary conjugation', () => {
    const rho = randomDensity(10, 4, 3);
    const u = randomUnitary(10, 4);
    const turned = conjugate(u, rho);
    expect(Math.abs(vonNeumannEntropy(turned.re, turned.im) - vonNeumannEntropy(rho.re, rho.im))).toBeLessThan(1e-12);
  });

  test('invalid density matrices name the property that fails and by how much', () => {
    const rho = randomDensity(3, 3, 9);
    const notHermitian = Float64Array.from(rho.re);
    notHermitian[1] += 0.25;
    expect(() => vonNeumannEntropy(notHermitian, rho.im)).toThrow(
      /^Expected a Hermitian matrix \(\|a\[i\]\[j\] − conj\(a\[j\]\[i\]\)\| <= 1e-9\) for rho but received \|a\[0\]\[1\] − conj\(a\[1\]\[0\]\)\| = 0\.25\d* of type Float64Array$/,
    );
    const complexDiagonal = Float64Array.from(rho.im);
    complexDiagonal[4] = 0.1;
    expect(() => vonNeumannEntropy(rho.re, complexDiagonal)).toThrow('|a[1][1] − conj(a[1][1])| = 0.2');
    const heavy = rho.re.map((v) => v * 1.5);
    expect(() =>
      vonNeumannEntropy(
        heavy,
        rho.im.map((v) => v * 1.5),
      ),
    ).toThrow(
      /^Expected unit trace \(\|Tr ρ − 1\| <= 1e-9\) for rho but received Tr ρ = 1\.5\d* \(off by 0\.5\d*\) of type Float64Array$/,
    );
    // diag(1.5, −0.5): Hermitian, unit trace, not positive
    expect(() => vonNeumannEntropy(Float64Array.from([1.5, 0, 0, -0.5]))).toThrow(
      'Expected a positive semi-definite matrix (eigenvalues >= -1e-9) for rho but received a smallest eigenvalue of -0.5 in Float64Array(4) of type Float64Array',
    );
    // within tolerance is accepted, with a looser tolerance too
    expect(vonNeumannEntropy(Float64Array.from([1 + 1e-12, 0, 0, -1e-12]))).toBeCloseTo(0, 10);
    expect(
      vonNeumannEntropy(
        heavy,
        rho.im.map((v) => v * 1.5),
        { tolerance: 0.6 },
      ),
    ).toBeGreaterThan(0);
  });

  test('bad arrays and options get the standard message', () => {
    expect(() => vonNeumannEntropy(new Float64Array(3))).toThrow(
      'Expected a Float64Array holding a d×d matrix, d >= 1 (a length that is a perfect square) for re but received Float64Array(3) of type Float64Array',
    );
    expect(() => vonNeumannEntropy(new Float64Array(0))).toThrow('for re but received Float64Array(0)');
    expect(() => vonNeumannEntropy([1] as never)).toThrow(
      'Expected a Float64Array for re but received Array(1) of type Array',
    );
    expect(() => vonNeumannEntropy(Float64Array.from([1]), new Float64Array(2))).toThrow(
      'Expected a Float64Array of length 1 for im but received Float64Array(2) of type Float64Array',
    );
    expect(() => vonNeumannEntropy(Float64Array.from([Number.NaN]))).toThrow(
      'Expected finite values for re but received NaN at index 0',
    );
    expect(() => vonNeumannEntropy(Float64Array.from([1]), null, { base: 1 })).toThrow(
      'Expected a finite number > 0 other than 1 for base but received 1 of type number',
    );
    expect(() => vonNeumannEntropy(Float64Array.from([1]), null, { base: -2 })).toThrow('for base');
    expect(() => vonNeumannEntropy(Float64Array.from([1]), null, { tolerance: -1 })).toThrow(
      'Expected a finite number >= 0 for tolerance but received -1 of type number',
    );
  });
});

describe('hermitianEigenvalues facade', () => {
  test('returns the ascending spectrum, fills out, and rejects non-Hermitian input relative to its scale', () => {
    const a = randomHermitian(6, 1);
    const ev = hermitianEigenvalues(a.re, a.im);
    expectSpectraAgree(ev, jacobiEigenvalues(a), a);
    const out = new Float64Array(6);
    expect(hermitianEigenvalues(a.re, a.im, { out })).toBe(out);
    // a real symmetric matrix: im omitted
    expect([...hermitianEigenvalues(Float64Array.from([2, 1, 1, 2]))].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([
      1, 3,
    ]);
    const big = { re: a.re.map((v) => v * 1e6), im: a.im.map((v) => v * 1e6) };
    big.re[1] += 1e-4; // 1e-10 relative to the entries: within the default tolerance
    expect(() => hermitianEigenvalues(big.re, big.im)).not.toThrow();
    big.re[1] += 0.1;
    expect(() => hermitianEigenvalues(big.re, big.im)).toThrow(
      /^Expected a Hermitian matrix .* for matrix but received/,
    );
    expect(() => hermitianEigenvalues(a.re, a.im, { out: new Float64Array(5) })).toThrow(
      'Expected a Float64Array of length 6 for out but received Float64Array(5) of type Float64Array',
    );
  });
});

describe('Landauer bound and the QBE information rate (eq. 14)', () => {
  test('E_min = bits · k_B T ln 2', () => {
    expect(BOLTZMANN).toBe(1.380649e-23);
    // at 300 K: 2.870978885e-21 J per bit
    expect(landauerBound(300)).toBeCloseTo(2.870978885e-21, 30);
    expect(landauerBound(300) / 2.870978885e-21).toBeCloseTo(1, 9);
    expect(landauerBound(300, 8)).toBe(8 * landauerBound(300));
    expect(landauerBound(0)).toBe(0);
    expect(landauerBound(300, 0)).toBe(0);
    expect(() => landauerBound(-1)).toThrow(
      'Expected a finite number >= 0 for temperatureKelvin but received -1 of type number',
    );
    expect(() => landauerBound(300, Number.NaN)).toThrow('Expected a finite number >= 0 for bits but received NaN');
  });

  test('dI/dt = −E/T', () => {
    expect(informationRate(3, 1.5)).toBe(-2);
    expect(informationRate(-3e-21, 300)).toBeCloseTo(1e-23, 35);
    expect(() => informationRate(1, 0)).toThrow(
      'Expected a finite number > 0 for temperatureKelvin but received 0 of type number',
    );
    expect(() => informationRate(Number.POSITIVE_INFINITY, 1)).toThrow('for energy');
  });
});
