/**
 * The meters of the entropy-balanced learning rate (lib/optim/meters.ts): the gradient,
 * loss and predictive-entropy information meters and the update energy meters against
 * hand values on given readings (UpdateReadings), the compute meter on a fake powercap tree
 * (wraparound, sub-zones, unreadable zones) and on CPU time, state round trips, and the
 * errors. How the driver measures the readings is checked in test/optim-rule.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  createEnergyMeter,
  createInformationMeter,
  EntropyBalancedOptimizer,
  meanEntropyBits,
  meterKinds,
  raplZones,
  type UpdateReadings,
} from '../lib/index.js';
import { expectError } from './helpers.js';

/** Bits per nat as the meters compute it (one f64 constant, so hand values round as theirs do). */
const B = 1 / Math.LN2;

/** Readings of one update (what the RuleDrivenOptimizer hands the meters). */
const readings = (r: Partial<UpdateReadings> = {}): UpdateReadings => ({
  eta: 0.5,
  kinetic: 3,
  predictedDecrease: 1.5,
  work: 5,
  endDecrease: 0.5,
  ...r,
});

describe('information meters', () => {
  test('gradient: the trapezoid ½(−g·Δθ − g′·Δθ) in bits; null until the end slope is measured', () => {
    const nats = createInformationMeter('gradient');
    expect([nats.kind, nats.needsUpdate, nats.bitsPerLoss]).toEqual(['gradient', true, B]);
    expect(nats.getConfig()).toEqual({ kind: 'gradient', unit: 'nats', scale: 1 });
    // start slope 1.5, end slope 0.5: the decrease ½(1.5 + 0.5) = 1 nat = 1/ln 2 bits; the
    // scale is the larger slope, 1.5 nats (= 2.16 bits)
    expect(nats.observe(undefined, readings())).toEqual({ bits: B, scale: 1.5 * B });
    // the end point uphill (overshoot): ½(1.5 − 2.5) = −0.5 nats; scale max(1.5, 2.5)
    expect(nats.observe({ loss: 7 }, readings({ endDecrease: -2.5 }))).toEqual({
      bits: -0.5 * B,
      scale: 2.5 * B,
    });
    expect(nats.observe({ loss: 1 }, null)).toBeNull(); // the first step: no update yet
    expect(nats.observe({ loss: 1 }, readings({ endDecrease: null }))).toBeNull();
    // bits with a scale: ΔL · scale
    const bits = createInformationMeter({ kind: 'gradient', unit: 'bits', scale: 4 });
    expect(bits.bitsPerLoss).toBe(4);
    expect(bits.observe(undefined, readings())).toEqual({ bits: 4, scale: 6 });
    // no state: it reads the update only, never the observation
    expect(bits.getState()).toEqual({});
    expectError(() => createInformationMeter({ kind: 'gradient', unit: 'hartleys' }), 'informationMeter.unit');
    expectError(() => createInformationMeter({ kind: 'gradient', window: 3 }), 'informationMeter.window');
  });

  test('the loss and predictive-entropy meters read the observation, not the update', () => {
    const loss = createInformationMeter('loss');
    expect([loss.needsUpdate, loss.bitsPerLoss]).toEqual([false, B]);
    expect(createInformationMeter({ kind: 'loss', unit: 'bits', scale: 2 }).bitsPerLoss).toBe(2);
    const entropy = createInformationMeter({ kind: 'predictive-entropy', classes: 2 });
    expect([entropy.needsUpdate, entropy.bitsPerLoss]).toEqual([false, 0]);
    // readings given to the loss meter change nothing
    loss.observe({ loss: 2 }, readings());
    expect(loss.observe({ loss: 1 }, readings({ predictedDecrease: 100 }))).toEqual({
      bits: B,
      scale: 2 * B,
    });
  });

  test('loss: ΔL / ln 2 bits for nats, ΔL·scale for bits; null on the first observation', () => {
    const nats = createInformationMeter('loss');
    expect(nats.observe({ loss: 2 }, null)).toBeNull();
    expect(nats.observe({ loss: 1.5 }, null)).toEqual({ bits: 0.5 * B, scale: 2 * B });
    expect(nats.observe({ loss: 1.75 }, null)).toEqual({ bits: -0.25 * B, scale: 1.75 * B });
    const bits = createInformationMeter({ kind: 'loss', unit: 'bits', scale: 4 });
    bits.observe({ loss: 1 }, null);
    expect(bits.observe({ loss: 0.5 }, null)).toEqual({ bits: 2, scale: 4 });
    expect(bits.getConfig()).toEqual({ kind: 'loss', unit: 'bits', scale: 4 });
  });

  test('loss: previousBatchLoss (the previous batch at the new parameters) measures the update on one batch', () => {
    const m = createInformationMeter('loss');
    m.observe({ loss: 3 }, null); // batch A at θ₀
    // batch B at θ₁ reads 5 (a harder batch), batch A at θ₁ reads 2.5: the update gained 0.5 nats
    expect(m.observe({ loss: 5, previousBatchLoss: 2.5 }, null)!.bits).toBe(0.5 * B);
    // the next reading starts from batch B's loss
    expect(m.observe({ loss: 4, previousBatchLoss: 4.5 }, null)!.bits).toBe(0.5 * B);
  });

  test('loss: errors', () => {
    const m = createInformationMeter('loss');
    expectError(
      () => m.observe(undefined, null),
      'observation.loss',
      'Expected a finite number for observation.loss but received undefined of type undefined',
    );
    expectError(() => m.observe({ loss: Number.NaN }, null), 'observation.loss');
    expectError(() => createInformationMeter({ kind: 'loss', scale: 0 }), 'informationMeter.scale');
    expectError(() => createInformationMeter({ kind: 'loss', base: 2 }), 'informationMeter.base');
    expectError(() => createInformationMeter('surprise'), 'informationMeter');
    expectError(() => createInformationMeter({ kind: 7 } as never), 'informationMeter.kind');
  });

  test('predictive entropy: the mean Shannon entropy of the rows, in bits', () => {
    const uniform = new Float64Array(12).fill(0.25);
    expect(meanEntropyBits(uniform, 4, 'p')).toBe(2);
    expect(meanEntropyBits(Float32Array.of(1, 0, 0, 0, 1, 0), 3, 'p')).toBe(0);
    // unnormalized masses are normalized per row: (2, 2) is (½, ½), one bit
    expect(meanEntropyBits(Float64Array.of(2, 2, 1, 0), 2, 'p')).toBe(0.5);
    expectError(() => meanEntropyBits(new Float64Array(5), 2, 'p'), 'p');
    expectError(
      () => meanEntropyBits(Float64Array.of(0.5, -0.5), 2, 'p'),
      'p',
      'Expected non-negative finite probabilities for p but received -0.5 at index 1 of Float64Array(2) of type Float64Array',
    );
    expectError(() => meanEntropyBits(Float64Array.of(0.5, 0.5, 0, 0), 2, 'p'), 'p row 1');
  });

  test('predictive entropy: the decrease of H̄ between observations, from the observation or a callback', () => {
    const m = createInformationMeter({ kind: 'predictive-entropy', classes: 2 });
    expect(m.observe({ probabilities: Float64Array.of(0.5, 0.5) }, null)).toBeNull();
    expect(m.observe({ probabilities: Float64Array.of(1, 0) }, null)).toEqual({ bits: 1, scale: 1 });
    let calls = 0;
    const rows = [Float32Array.of(0.5, 0.5, 0.5, 0.5), Float32Array.of(1, 0, 0.5, 0.5)];
    const c = createInformationMeter({ kind: 'predictive-entropy', classes: 2 }, 'informationMeter', {
      source: () => rows[calls++],
    });
    c.observe(undefined, null);
    expect(c.observe(undefined, null)!.bits).toBe(0.5);
    expectError(() => m.observe({ loss: 1 }, null), 'observation.probabilities');
    expectError(() => createInformationMeter({ kind: 'predictive-entropy', classes: 1 }), 'informationMeter.classes');
  });

  test('state round trips', () => {
    const m = createInformationMeter('loss');
    m.observe({ loss: 0.1 + 0.2 }, null);
    const copy = createInformationMeter('loss');
    copy.setState(JSON.parse(JSON.stringify(m.getState())));
    expect(copy.getState()).toEqual(m.getState());
    expect(copy.observe({ loss: 0.25 }, null)).toEqual(m.observe({ loss: 0.25 }, null));
    expectError(() => copy.setState({ previous: 'x' }), 'state.previous');
  });
});

describe('energy meters', () => {
  const root = mkdtempSync(join(tmpdir(), 'cimm-powercap-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A powercap tree: zones with (energy_uj, max_energy_range_uj); a sub-zone that must be ignored. */
  function zone(name: string, energy: number | null, range: number) {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    if (energy === null)
      mkdirSync(join(dir, 'energy_uj'), { recursive: true }); // reading fails (EISDIR)
    else writeFileSync(join(dir, 'energy_uj'), `${energy}\n`);
    writeFileSync(join(dir, 'max_energy_range_uj'), `${range}\n`);
  }

  test('the kinds and their η-orders', () => {
    expect(meterKinds().energy).toEqual(expect.arrayContaining(['kinetic', 'gradient-work', 'compute']));
    expect(meterKinds().information).toEqual(expect.arrayContaining(['gradient', 'loss', 'predictive-entropy']));
    const kinetic = createEnergyMeter('kinetic');
    expect([kinetic.unit, kinetic.etaOrder, kinetic.needsUpdate]).toEqual(['work', 2, true]);
    const work = createEnergyMeter('gradient-work');
    expect([work.unit, work.etaOrder, work.needsUpdate]).toEqual(['work', 1, true]);
    const compute = createEnergyMeter({ kind: 'compute', source: 'cpu-time' });
    expect([compute.unit, compute.etaOrder, compute.needsUpdate]).toEqual(['J', 0, false]);
  });

  test('kinetic and gradient work read the last update: ½ΔθᵀMΔθ and Σ|gΔθ| as measured; null without one', () => {
    const kinetic = createEnergyMeter('kinetic');
    const work = createEnergyMeter('gradient-work');
    // the same readings read twice give the same energy: the meters keep no pending value
    expect([kinetic.take(readings()), kinetic.take(readings()), work.take(readings())]).toEqual([3, 3, 5]);
    expect([kinetic.take(null), kinetic.take(), work.take(null)]).toEqual([null, null, null]);
    expect(kinetic.getState()).toEqual({});
    expect(kinetic.getConfig()).toEqual({ kind: 'kinetic' });
    expect(work.getConfig()).toEqual({ kind: 'gradient-work' });
  });

  test('RAPL: package zones summed, sub-zones ignored, wraparound through max_energy_range_uj', () => {
    zone('intel-rapl:0', 1_000_000, 10_000_000);
    zone('intel-rapl:0:0', 5, 10); // a sub-zone (core): not counted on top of its package
    zone('intel-rapl:1', 9_900_000, 10_000_000);
    zone('intel-rapl:2', null, 10_000_000); // unreadable: skipped
    expect(raplZones(root).map((z) => z.energy)).toEqual([
      join(root, 'intel-rapl:0', 'energy_uj'),
      join(root, 'intel-rapl:1', 'energy_uj'),
    ]);
    const m = createEnergyMeter({ kind: 'compute', source: 'rapl', powercapRoot: root });
    expect(m.unit).toBe('J');
    expect(m.etaOrder).toBe(0);
    expect(m.take()).toBeNull(); // the baseline
    writeFileSync(join(root, 'intel-rapl:0', 'energy_uj'), '3000000\n'); // +2 J
    writeFileSync(join(root, 'intel-rapl:1', 'energy_uj'), '400000\n'); // wrapped: +0.1 + 0.4 J
    expect(m.take()).toBeCloseTo(2.5, 12);
    const state = m.getState();
    expect(state).toEqual({ source: 'rapl', baseline: [3_000_000, 400_000], joules: m.getState().joules });
    const copy = createEnergyMeter({ kind: 'compute', source: 'rapl', powercapRoot: root });
    copy.setState(JSON.parse(JSON.stringify(state)));
    expect(copy.getState()).toEqual(state);
    writeFileSync(join(root, 'intel-rapl:0', 'energy_uj'), '3500000\n');
    expect(copy.take()).toBeCloseTo(0.5, 12);
  });

  test('CPU time × watts per core when RAPL is not readable; "rapl" forced without zones is an error', () => {
    const empty = mkdtempSync(join(tmpdir(), 'cimm-no-powercap-'));
    try {
      const m = createEnergyMeter({ kind: 'compute', wattsPerCore: 10, powercapRoot: empty });
      expect(m.getState().source).toBe('cpu-time');
      expect(m.take()).toBeNull();
      let x = 0;
      for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
      expect(x).toBeGreaterThan(0);
      const joules = m.take()!;
      expect(joules).toBeGreaterThan(0);
      expect(joules).toBeLessThan(10 * 60); // less than a minute of one core at 10 W
      expectError(
        () => createEnergyMeter({ kind: 'compute', source: 'rapl', powercapRoot: empty }),
        'energyMeter.source',
        `Expected "auto" or "cpu-time" (no readable RAPL zone under ${empty}) for energyMeter.source but received "rapl" of type string`,
      );
      // a RAPL state restored where RAPL cannot be read continues on CPU time
      const restored = createEnergyMeter({ kind: 'compute', powercapRoot: empty });
      restored.setState({ source: 'rapl', baseline: [1, 2], joules: 4 });
      expect(restored.getState()).toEqual({ source: 'cpu-time', baseline: null, joules: 4 });
      // a CPU-time baseline from another process (larger than this one's) gives no reading, then one
      const other = createEnergyMeter({ kind: 'compute', source: 'cpu-time' });
      other.setState({ source: 'cpu-time', baseline: [1e15], joules: 0 });
      expect(other.take()).toBeNull();
      expect(other.take()).toBeGreaterThanOrEqual(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('errors', () => {
    expectError(() => createEnergyMeter('battery'), 'energyMeter');
    expectError(() => createEnergyMeter({ kind: 'kinetic', metric: 'adam' }), 'energyMeter.metric');
    expectError(() => createEnergyMeter({ kind: 'compute', source: 'wall' }), 'energyMeter.source');
    expectError(() => createEnergyMeter({ kind: 'compute', powercapRoot: 3 }), 'energyMeter.powercapRoot');
    expectError(() => createEnergyMeter({ kind: 'compute' }).setState({ source: 'sun' }), 'state.source');
    expectError(
      () => createEnergyMeter({ kind: 'compute' }).setState({ source: 'cpu-time', baseline: [Number.NaN], joules: 0 }),
      'state.baseline',
    );
  });

  test('the optimizer with the compute meter as its energy meter: η is joules per bit, reported', () => {
    const opt = new EntropyBalancedOptimizer({ energyMeter: { kind: 'compute', source: 'cpu-time' } });
    const x = Float32Array.of(3, -2);
    const g = new Float32Array(2);
    const loss = () => {
      g[0] = x[0];
      g[1] = 4 * x[1];
      return 0.5 * x[0] ** 2 + 2 * x[1] ** 2;
    };
    let last = opt.step({ x }, { x: g }, { loss: loss() });
    let previous = last;
    for (let t = 0; t < 20; t++) {
      let busy = 0;
      for (let i = 0; i < 2e5; i++) busy += Math.sqrt(i);
      expect(busy).toBeGreaterThan(0);
      previous = last;
      last = opt.step({ x }, { x: g }, { loss: loss() });
    }
    expect(last.joules).toBe(last.energyRate);
    expect(Number.isFinite(last.eta)).toBe(true);
    // target 'auto' is the residual with these meters: no balanced η from the secant; the
    // residual ln(E/(ηI)) of a reading uses the η of the update it measured (the previous step's)
    expect(opt.getConfig().target).toBe('auto');
    expect(last.balancedEta).toBeNull();
    if (last.energyRate! > 0 && last.informationRate! > 0) {
      expect(last.residual).toBe(Math.log(last.energyRate!) - Math.log(last.informationRate!) - Math.log(previous.eta));
    }
    expectError(
      () => new EntropyBalancedOptimizer({ energyMeter: 'compute', target: 'secant' }),
      'target',
      /^Expected "residual" with the compute and gradient meters \(the secant target needs the kinetic and gradient meters\) for target/,
    );
  });
});
