/** Quantum tomography: eigen-solver, fidelity, entropy, Pauli measurements, likelihood gradient, strategies. */
import { describe, expect, test } from 'vitest';
import {
  bornProbabilities,
  type ComplexMatrix,
  compareMeasurementStrategies,
  expectation,
  hermitianEigen,
  maximumLikelihoodRrR,
  pauliMeasurementVectors,
  pureDensity,
  QuantumTomographyTask,
  randomMixedState,
  randomPureState,
  runMeasurementStrategy,
  sampleCounts,
  settingName,
  uhlmannFidelity,
  vonNeumannEntropy,
} from '../../lib/index.js';
import { Random } from '../../lib/random.js';
import { descend, gradientError } from './helpers.js';

function randomHermitian(d: number, seed: number): ComplexMatrix {
  const r = new Random(seed);
  const re = new Float64Array(d * d);
  const im = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    re[i * d + i] = r.normal();
    for (let j = 0; j < i; j++) {
      re[i * d + j] = re[j * d + i] = r.normal();
      im[i * d + j] = r.normal();
      im[j * d + i] = -im[i * d + j];
    }
  }
  return { re, im };
}

/** Lower-triangular T (as task parameters) with T T† = |ψ⟩⟨ψ|: column 0 = ψ times a phase making T_00 real. */
function pureParameters(psi: ComplexMatrix, d: number): Float64Array {
  const params = new Float64Array(d * d);
  const mag = Math.hypot(psi.re[0], psi.im[0]);
  const [cr, ci] = [psi.re[0] / mag, -psi.im[0] / mag]; // e^{−iθ}
  params[0] = mag;
  let m = d;
  for (let i = 1; i < d; i++) {
    for (let j = 0; j < i; j++) {
      params[m++] = j === 0 ? psi.re[i] * cr - psi.im[i] * ci : 0;
      params[m++] = j === 0 ? psi.re[i] * ci + psi.im[i] * cr : 0;
    }
  }
  return params;
}

describe('Hermitian eigen-solver', () => {
  for (const d of [1, 2, 5, 8]) {
    test(`A = V Λ V† with V unitary (d = ${d})`, () => {
      const a = randomHermitian(d, d);
      const { values, vectors: v } = hermitianEigen(a, d);
      for (let k = 1; k < d; k++) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let sr = 0;
          let si = 0;
          let ur = 0;
          let ui = 0;
          for (let k = 0; k < d; k++) {
            // Σ_k v_ik λ_k conj(v_jk)
            const [ar, ai, br, bi] = [v.re[i * d + k], v.im[i * d + k], v.re[j * d + k], v.im[j * d + k]];
            sr += values[k] * (ar * br + ai * bi);
            si += values[k] * (ai * br - ar * bi);
            // (V† V)_ij = Σ_k conj(v_ki) v_kj
            const [cr, ci, er, ei] = [v.re[k * d + i], v.im[k * d + i], v.re[k * d + j], v.im[k * d + j]];
            ur += cr * er + ci * ei;
            ui += cr * ei - ci * er;
          }
          expect(sr).toBeCloseTo(a.re[i * d + j], 12);
          expect(si).toBeCloseTo(a.im[i * d + j], 12);
          expect(ur).toBeCloseTo(i === j ? 1 : 0, 12);
          expect(ui).toBeCloseTo(0, 12);
        }
      }
    });
  }

  test('bad input names the parameter', () => {
    expect(() => hermitianEigen({ re: new Float64Array(3), im: new Float64Array(4) }, 2)).toThrow(
      'Expected a Float64Array of length 4 for matrix.re but received Float64Array(3) of type Float64Array',
    );
    expect(() => hermitianEigen({ re: new Float64Array(4), im: new Float64Array(4) }, 0)).toThrow(
      'for d but received 0',
    );
  });
});

describe('fidelity and entropy', () => {
  const d = 4;
  const psi = randomPureState(d, new Random(1));
  const pure = pureDensity(psi, d);
  const mixed = randomMixedState(d, 2, new Random(2));

  // the task's states through the library's entropy (lib/quantum.ts, the kernels' eigenvalues)
  const bits = (rho: { re: Float64Array; im: Float64Array }) => vonNeumannEntropy(rho.re, rho.im, { base: 2 });
  test('entropy: 0 for a pure state, n bits for the maximally mixed state, in between otherwise', () => {
    expect(bits(pure)).toBeLessThan(1e-10);
    const maxMixed = { re: new Float64Array(d * d), im: new Float64Array(d * d) };
    for (let i = 0; i < d; i++) maxMixed.re[i * d + i] = 1 / d;
    expect(bits(maxMixed)).toBeCloseTo(2, 12);
    const s = bits(mixed);
    expect(s).toBeGreaterThan(0);
    expect(s).toBeLessThanOrEqual(1 + 1e-12); // rank 2: at most 1 bit
  });

  test('fidelity 1 with itself, < 1 with another state; Uhlmann agrees with ⟨ψ|ρ|ψ⟩ for a pure σ', () => {
    expect(expectation(psi, pure, d)).toBeCloseTo(1, 14);
    expect(uhlmannFidelity(mixed, mixed, d)).toBeCloseTo(1, 10);
    expect(uhlmannFidelity(pure, pure, d)).toBeCloseTo(1, 6); // √ of a rank-1 matrix: sqrt of rounding noise
    const f = uhlmannFidelity(mixed, pure, d);
    expect(f).toBeCloseTo(expectation(psi, mixed, d), 7);
    expect(f).toBeLessThan(1);
    expect(uhlmannFidelity(pure, mixed, d)).toBeCloseTo(f, 7);
  });
});

describe('Pauli measurements', () => {
  test('setting names and outcome projectors: each setting is a complete orthonormal basis', () => {
    expect(settingName(0, 2)).toBe('XX');
    expect(settingName(5, 2)).toBe('YZ');
    expect(settingName(26, 3)).toBe('ZZZ');
    for (const n of [1, 2, 3]) {
      const d = 2 ** n;
      const phi = pauliMeasurementVectors(n);
      for (let s = 0; s < 3 ** n; s++) {
        for (let a = 0; a < d; a++) {
          for (let b = 0; b < d; b++) {
            let re = 0;
            let im = 0;
            for (let j = 0; j < d; j++) {
              const [ar, ai] = [phi.re[(s * d + a) * d + j], phi.im[(s * d + a) * d + j]];
              const [br, bi] = [phi.re[(s * d + b) * d + j], phi.im[(s * d + b) * d + j]];
              re += ar * br + ai * bi;
              im += ar * bi - ai * br;
            }
            expect(re).toBeCloseTo(a === b ? 1 : 0, 13);
            expect(im).toBeCloseTo(0, 13);
          }
        }
      }
    }
  });

  test('Born probabilities: Z on |0⟩ is certain, X on |0⟩ is a coin; each setting sums to 1', () => {
    const zero = { re: new Float64Array([1, 0]), im: new Float64Array(2) };
    const p = bornProbabilities(pureDensity(zero, 2), pauliMeasurementVectors(1), 2);
    expect([...p].map((v) => Number(v.toFixed(12)))).toEqual([0.5, 0.5, 0.5, 0.5, 1, 0]);
    const rho = randomMixedState(8, 3, new Random(5));
    const q = bornProbabilities(rho, pauliMeasurementVectors(3), 8);
    for (let s = 0; s < 27; s++) {
      let sum = 0;
      for (let o = 0; o < 8; o++) sum += q[s * 8 + o];
      expect(sum).toBeCloseTo(1, 13);
    }
  });

  test('simulated frequencies converge to the Born probabilities (within 5 standard errors)', () => {
    const rho = randomMixedState(4, 4, new Random(8));
    const p = bornProbabilities(rho, pauliMeasurementVectors(2), 4);
    const shots = 200_000;
    const counts = new Uint32Array(4);
    sampleCounts(p.subarray(4, 8), shots, new Random(1), counts);
    let total = 0;
    for (let o = 0; o < 4; o++) {
      total += counts[o];
      const pi = p[4 + o];
      expect(Math.abs(counts[o] / shots - pi)).toBeLessThan(5 * Math.sqrt((pi * (1 - pi)) / shots) + 1e-12);
    }
    expect(total).toBe(shots);
  });
});

describe('tomography task', () => {
  for (const truth of ['pure', 'mixed'] as const) {
    for (const qubits of [1, 2, 3]) {
      test(`likelihood gradient matches finite differences (${truth}, n = ${qubits})`, () => {
        const task = new QuantumTomographyTask({ qubits, truth, shotsPerSetting: 50, seed: qubits });
        expect(task.dimension).toBe(4 ** qubits);
        const x = Float64Array.from(task.initialParameters(7));
        expect(gradientError(task, x)).toBeLessThan(1e-7);
      });
    }
  }

  test('fidelity 1 at the true state, < 1 elsewhere; ρ(θ) is a density matrix', () => {
    const task = new QuantumTomographyTask({ qubits: 2, seed: 3 });
    const psi = task.truth.psi!;
    const atTruth = task.metrics(pureParameters(psi, 4));
    expect(atTruth.fidelity).toBeCloseTo(1, 12);
    expect(atTruth.entropy).toBeLessThan(1e-6);
    expect(atTruth.purity).toBeCloseTo(1, 12);
    const start = task.initialParameters(0);
    expect(task.metrics(start).fidelity).toBeLessThan(0.9);
    const rho = task.density(start);
    let trace = 0;
    for (let i = 0; i < 4; i++) trace += rho.re[i * 4 + i];
    expect(trace).toBeCloseTo(1, 14);
    for (const v of hermitianEigen(rho, 4).values) expect(v).toBeGreaterThanOrEqual(-1e-14);
  });

  test('the RρR reference maximizes the likelihood: states near it (one RρR step on) score no better', () => {
    const task = new QuantumTomographyTask({ qubits: 1, truth: 'mixed', shotsPerSetting: 200, seed: 1 });
    const r = new Random(4);
    for (let trial = 0; trial < 20; trial++) {
      // a nearby density matrix: (1 − t) ρ_ref + t σ
      const sigma = randomMixedState(2, 2, r);
      const t = 0.02;
      const mix = {
        re: task.reference.rho.re.map((v, i) => (1 - t) * v + t * sigma.re[i]),
        im: task.reference.rho.im.map((v, i) => (1 - t) * v + t * sigma.im[i]),
      };
      const counts = task.counts;
      const nll = maximumLikelihoodRrR(pauliMeasurementVectors(1), counts, 2, { start: mix, maxIterations: 1 }).nll;
      expect(nll).toBeGreaterThanOrEqual(task.reference.nll - 1e-12);
    }
  });

  test('plain gradient descent lowers the loss and raises the fidelity', () => {
    const task = new QuantumTomographyTask({ qubits: 2, seed: 5 });
    const x = task.initialParameters(1);
    const f0 = task.metrics(x).fidelity;
    const [before, after] = descend(task, x, 0.5, 100);
    expect(after).toBeLessThan(before);
    expect(task.metrics(x).fidelity).toBeGreaterThan(f0);
  });

  test('deterministic for a seed: same truth and counts; another seed differs', () => {
    const a = new QuantumTomographyTask({ qubits: 2, seed: 9 });
    const b = new QuantumTomographyTask({ qubits: 2, seed: 9 });
    const c = new QuantumTomographyTask({ qubits: 2, seed: 10 });
    expect(a.counts).toEqual(b.counts);
    expect(a.counts).not.toEqual(c.counts);
    let total = 0;
    for (const v of a.counts) total += v;
    expect(total).toBe(9 * 100);
  });

  test('bad input names the parameter', () => {
    expect(() => new QuantumTomographyTask({ qubits: 4 })).toThrow(
      'Expected an integer >= 1 and <= 3 for qubits but received 4 of type number',
    );
    expect(() => new QuantumTomographyTask({ truth: 'thermal' as never })).toThrow('for truth but received "thermal"');
    expect(() => new QuantumTomographyTask({ qubits: 1, truth: 'mixed', rank: 3 })).toThrow(
      'Expected an integer >= 1 and <= 2 for rank but received 3 of type number',
    );
    const task = new QuantumTomographyTask({ qubits: 1 });
    expect(() => task.evaluate(new Float32Array(4))).toThrow(
      'Expected a Cholesky factor T with Tr(T T†) > 0 for params but received Float32Array(4)',
    );
  });
});

describe('measurement strategies', () => {
  test('round-robin spends equal shots per setting; both spend exactly the budget, deterministically', () => {
    const rr = runMeasurementStrategy({ qubits: 1, totalShots: 90, shotsPerRound: 10, seed: 2 });
    expect(rr.shotsPerSetting).toEqual([30, 30, 30]);
    expect(rr.shots).toEqual([30, 60, 90]);
    const ig = runMeasurementStrategy({
      qubits: 1,
      totalShots: 95,
      shotsPerRound: 10,
      seed: 2,
      strategy: 'information-gain',
    });
    expect(ig.shotsPerSetting.reduce((a, b) => a + b, 0)).toBe(95);
    expect(ig.shots.at(-1)).toBe(95);
    for (const f of ig.fidelity) {
      expect(f).toBeGreaterThan(0);
      expect(f).toBeLessThanOrEqual(1 + 1e-12);
    }
    expect(
      runMeasurementStrategy({ qubits: 1, totalShots: 95, shotsPerRound: 10, seed: 2, strategy: 'information-gain' }),
    ).toEqual(ig);
  });

  test('the comparison averages both strategies over seeds at the same checkpoints', () => {
    const c = compareMeasurementStrategies({ qubits: 1, seeds: 3, totalShots: 60, shotsPerRound: 10 });
    expect(c.shots).toEqual([30, 60]);
    expect(c.roundRobin.meanFidelity).toHaveLength(2);
    expect(c.informationGain.meanFidelity).toHaveLength(2);
    expect(c.informationGainWins).toBeGreaterThanOrEqual(0);
    expect(c.informationGainWins).toBeLessThanOrEqual(3);
    expect(() => runMeasurementStrategy({ strategy: 'greedy' as never })).toThrow('for strategy but received "greedy"');
  });
});

describe('tomography helpers reject bad input', () => {
  test('counts, start, shots', () => {
    const phi = pauliMeasurementVectors(1);
    expect(() => maximumLikelihoodRrR(phi, new Uint32Array(5), 2)).toThrow(
      'Expected a Uint32Array of length 6 for counts but received Uint32Array(5) of type Uint32Array',
    );
    expect(() =>
      maximumLikelihoodRrR(phi, new Uint32Array(6).fill(1), 2, {
        start: { re: new Float64Array(3), im: new Float64Array(4) },
      }),
    ).toThrow('for start.re but received Float64Array(3)');
    expect(() => sampleCounts([0.5, 0.5], -1, new Random(0), new Uint32Array(2))).toThrow(
      'Expected an integer >= 0 for shots but received -1 of type number',
    );
    expect(() => hermitianEigen(undefined as never, 2)).toThrow(
      'Expected a Float64Array of length 4 for matrix.re but received undefined of type undefined',
    );
    expect(() => hermitianEigen(7 as never, 2)).toThrow('Expected an options object for matrix but received 7');
  });
});
