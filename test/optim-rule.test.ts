/**
 * Learning-rate rules (lib/optim/rule.ts; docs/theory.md, "Learning-rate rules"):
 *
 * - the RuleDrivenOptimizer's transaction: a rejected step (an observation a rule cannot
 *   use, non-finite or mismatched gradients, a rule that throws or returns a bad η) changes
 *   nothing — θ, the inner optimizer's state and η, the rule state, and the committed
 *   snapshot the next step's end slope is measured from; the run continues as if the call
 *   never happened. A step that makes θ non-finite completes, counts and throws
 *   CimmDivergenceError;
 * - the readings it measures (UpdateReadings) against hand computations on a tiny
 *   quadratic: kinetic energy in the inner optimizer's metric (SGD: I; heavy-ball momentum:
 *   (1 − μ)/(1 − τ); Adam: √v̂ + ε), predicted decrease, work, end decrease;
 * - the secant target on a quadratic through the driver: η* = (2 − ln 2)/h along the
 *   gradient (h its Rayleigh quotient), reached from η₀ = 10⁻⁴ and 10⁻¹;
 * - the loss-stream calibration of the entropy-balanced rule on synthetic loss streams: a
 *   significant rise shrinks η by maxChange² and the ceiling holds; a decrease
 *   significantly below the gradient meter's prediction scales η by observed/predicted; a
 *   difference within the noise is no finding;
 * - withRule, state save/restore bit for bit (a schedule, the entropy-balanced rule
 *   mid-run), the learningRate getter/setter, the registry's errors.
 *
 * The schedules themselves are in test/optim-schedules.test.ts, the QPL loop in
 * test/optim-balance.test.ts.
 */
import { describe, expect, test } from 'vitest';
import {
  Adam,
  CimmArgumentError,
  CimmDivergenceError,
  ConstantRate,
  EntropyBalancedOptimizer,
  EntropyBalancedRule,
  ExponentialDecay,
  type LearningRateRule,
  type Optimizer,
  type OptimizerOptions,
  type OptimizerState,
  ReduceOnPlateau,
  RuleDrivenOptimizer,
  type RuleDrivenReport,
  type RuleInput,
  type RuleTurn,
  registerRule,
  restoreOptimizer,
  ruleFromConfig,
  ruleKinds,
  SGD,
  StepDecay,
  type StepObservation,
  type TensorMap,
  type UpdateReadings,
  withRule,
} from '../lib/index.js';
import { expectError, relativeError, twoTensors } from './helpers.js';

const LN2 = Math.LN2;
const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const copy = (m: TensorMap): TensorMap => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.slice()]));

// ---------------------------------------------------------------------------------------
// A rule for the tests: it measures, records what it is given, and continues from the
// driver's η (or returns a fixed η); it can be told to throw or to return a bad η at a step.

interface ProbeConfig {
  learningRate?: number;
  measures?: boolean;
}

/**
 * A one-shot fault for the probe's next call (the driver rebuilds its rule from the config,
 * so the fault lives outside it): throw, or return this η.
 */
const fault: { kind: 'none' | 'throw' | 'eta'; eta: number } = { kind: 'none', eta: 0 };

class ProbeRule implements LearningRateRule<{ turns: number }> {
  readonly kind = 'TestProbe';
  readonly measuresUpdates: boolean;
  readonly initialEta: number;
  /** What next() received, in order (this instance's calls). */
  readonly inputs: RuleInput[] = [];

  constructor(private readonly config: ProbeConfig = {}) {
    this.initialEta = config.learningRate ?? 0.125;
    this.measuresUpdates = config.measures ?? true;
  }

  initialState() {
    return { turns: 0 };
  }

  next(state: Readonly<{ turns: number }>, input: RuleInput): RuleTurn<{ turns: number }> {
    const f = fault.kind;
    fault.kind = 'none';
    if (f === 'throw') throw new Error('probe: a rule that fails');
    this.inputs.push(structuredClone(input));
    const eta = f === 'eta' ? fault.eta : input.eta;
    return { eta, state: { turns: state.turns + 1 }, report: { turns: state.turns + 1 } };
  }

  getConfig() {
    return { ...this.config };
  }

  checkState(name: string, value: unknown) {
    const turns = (value as { turns?: unknown })?.turns;
    if (typeof turns !== 'number') throw new CimmArgumentError(`${name}.turns`, 'a number', `bad ${name}.turns`);
    return { turns };
  }
}

registerRule('TestProbe', ((config: ProbeConfig) => new ProbeRule(config)) as never);

/** Any driver (EntropyBalancedOptimizer is one with its own options). */
type Driven = RuleDrivenOptimizer<OptimizerOptions>;

const probeOf = (opt: Driven) => opt.learningRateRule as unknown as ProbeRule;

/** The reports and final θ of `steps` steps with the loss observed. */
function run(opt: Optimizer<OptimizerOptions>, steps: number, p = twoTensors()) {
  const reports: RuleDrivenReport[] = [];
  for (let t = 0; t < steps; t++) {
    const loss = p.evaluate();
    reports.push((opt as Driven).step(p.params, p.grads, { loss }));
  }
  return { reports, bits: [...bitsOf(p.params.w), ...bitsOf(p.params.b)], problem: p };
}

// ---------------------------------------------------------------------------------------
// The transaction.

describe('RuleDrivenOptimizer: the step transaction', () => {
  /**
   * Run 12 steps; at step 6 first make a call that must be rejected (`reject` breaks the
   * inputs and returns a function that repairs them) and check that it changed nothing.
   */
  function withRejectedStep(
    make: () => Driven,
    reject: ((p: ReturnType<typeof twoTensors>) => () => void) | null,
    call: (opt: Driven, p: ReturnType<typeof twoTensors>, observation: StepObservation) => unknown,
    parameter: string,
  ) {
    const p = twoTensors();
    const opt = make();
    const reports: RuleDrivenReport[] = [];
    for (let t = 0; t < 12; t++) {
      const loss = p.evaluate();
      if (t === 6 && reject) {
        const state = opt.serializeState();
        const params = copy(p.params);
        const last = opt.lastReport;
        const innerEta = opt.inner.learningRate;
        const repair = reject(p);
        let error: unknown;
        try {
          call(opt, p, { loss });
        } catch (e) {
          error = e;
        }
        repair();
        if (parameter === '') expect(error).toBeInstanceOf(Error);
        else {
          expect(error, parameter).toBeInstanceOf(CimmArgumentError);
          expect((error as CimmArgumentError).parameter).toBe(parameter);
        }
        // nothing changed: θ, the serialized state (inner state and η, rule state, the committed snapshot), the report
        expect(p.params).toEqual(params);
        expect(opt.serializeState()).toEqual(state);
        expect(opt.lastReport).toBe(last);
        expect(opt.inner.learningRate).toBe(innerEta);
        expect(opt.iterations).toBe(6);
      }
      reports.push(opt.step(p.params, p.grads, { loss }));
    }
    return { reports, bits: [...bitsOf(p.params.w), ...bitsOf(p.params.b)], state: opt.serializeState() };
  }

  const plainStep = (opt: Driven, p: ReturnType<typeof twoTensors>, o: StepObservation) =>
    opt.step(p.params, p.grads, o);
  const noRepair = () => () => undefined;
  const armed = (kind: 'throw' | 'eta', eta: number) => () => {
    Object.assign(fault, { kind, eta });
    return () => {
      fault.kind = 'none';
    };
  };

  const cases: {
    name: string;
    make: () => Driven;
    reject: (p: ReturnType<typeof twoTensors>) => () => void;
    call: typeof plainStep;
    parameter: string;
  }[] = [
    {
      name: 'an observation the rule cannot use (the loss meter without a loss)',
      make: () =>
        new EntropyBalancedOptimizer({
          base: 'sgd',
          informationMeter: 'loss',
          target: 'residual',
          averaging: 0,
          window: 0,
          learningRate: 0.01,
          computeMeter: null, // measured joules are timing: not reproducible
        }),
      reject: noRepair,
      call: (opt, p) => opt.step(p.params, p.grads),
      parameter: 'observation.loss',
    },
    {
      name: 'an observation the rule cannot use (ReduceOnPlateau, a NaN loss)',
      make: () => withRule(new Adam(), new ReduceOnPlateau({ learningRate: 0.05, patience: 1 })),
      reject: noRepair,
      call: (opt, p) => opt.step(p.params, p.grads, { loss: Number.NaN }),
      parameter: 'observation.loss',
    },
    {
      name: 'non-finite gradients (the entropy-balanced rule: its end slope is measured first)',
      make: () => new EntropyBalancedOptimizer({ learningRate: 0.01, window: 3, computeMeter: null }),
      reject: (p) => {
        const saved = p.grads.b[2];
        p.grads.b[2] = Number.NaN;
        return () => {
          p.grads.b[2] = saved;
        };
      },
      call: plainStep,
      parameter: 'grads["b"]',
    },
    {
      name: 'non-finite gradients (a schedule whose η changes every step: the inner η is put back)',
      make: () => withRule(new SGD({ momentum: 0.9 }), new ExponentialDecay({ learningRate: 0.1, gamma: 0.9 })),
      reject: (p) => {
        const saved = p.grads.w[30];
        p.grads.w[30] = Number.POSITIVE_INFINITY;
        return () => {
          p.grads.w[30] = saved;
        };
      },
      call: plainStep,
      parameter: 'grads["w"]',
    },
    {
      name: 'gradients of the wrong length (a measuring rule)',
      make: () => withRule(new SGD({ momentum: 0.9 }), new ProbeRule({ learningRate: 0.05 })),
      reject: noRepair,
      call: (opt, p, o) => opt.step(p.params, { ...p.grads, w: new Float32Array(36) }, o),
      parameter: 'grads["w"]',
    },
    {
      name: 'a rule that throws',
      make: () => withRule(new Adam(), new ProbeRule({ learningRate: 0.05 })),
      reject: armed('throw', 0),
      call: plainStep,
      parameter: '',
    },
    {
      name: 'a rule that returns η = NaN',
      make: () => withRule(new SGD(), new ProbeRule({ learningRate: 0.05 })),
      reject: armed('eta', Number.NaN),
      call: plainStep,
      parameter: 'TestProbe.next().eta',
    },
    {
      name: 'a rule that returns η = 0',
      make: () => withRule(new SGD(), new ProbeRule({ learningRate: 0.05 })),
      reject: armed('eta', 0),
      call: plainStep,
      parameter: 'TestProbe.next().eta',
    },
  ];

  for (const c of cases) {
    test(`rejected: ${c.name} — nothing changes, and the run continues as if the call never happened`, () => {
      const clean = withRejectedStep(c.make, null, c.call, c.parameter);
      const rejected = withRejectedStep(c.make, c.reject, c.call, c.parameter);
      // the same η, the same readings (the step after the rejected one measured the end
      // slope from the committed snapshot), the same θ and state, bit for bit
      expect(rejected.reports).toEqual(clean.reports);
      expect(rejected.bits).toEqual(clean.bits);
      expect(rejected.state).toEqual(clean.state);
    });
  }

  test('a step that makes θ non-finite completes, counts and throws CimmDivergenceError; its update is not measured', () => {
    const opt = withRule(new SGD(), new ConstantRate({ learningRate: 1e30 }));
    const params = { x: Float32Array.of(1, 2) };
    const grads = { x: Float32Array.of(1e10, 0) };
    let error: unknown;
    try {
      opt.step(params, grads, { loss: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CimmDivergenceError);
    expect(error).toMatchObject({ step: 1, parameter: 'x', index: 0 });
    expect(params.x[0]).toBe(Number.NEGATIVE_INFINITY);
    expect([opt.iterations, opt.inner.iterations]).toEqual([1, 1]);
    expect(opt.lastReport).toEqual({ iteration: 0, eta: 1e30 });
    expect(opt.learningRate).toBe(1e30);

    // a measuring rule: the diverged update is committed without readings, so the next
    // step (θ repaired by the caller) sees none and holds η
    const eb = new EntropyBalancedOptimizer({ base: 'sgd', learningRate: 1e3, computeMeter: null });
    const x = Float32Array.of(1, -1);
    const g = Float32Array.of(1e36, 1);
    expect(() => eb.step({ x }, { x: g }, { loss: 1 })).toThrow(CimmDivergenceError);
    expect(eb.iterations).toBe(1);
    x.set([1, -1]);
    g.set([1, -1]);
    const after = eb.step({ x }, { x: g }, { loss: 1 });
    expect([after.mode, after.energyRate, after.informationRate, after.eta]).toEqual(['hold', null, null, 1e3]);
    expect(eb.iterations).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------
// The readings.

describe('RuleDrivenOptimizer: the readings of an update, by hand', () => {
  // L(θ) = ½(θ₀² + 4θ₁²) at θ = (1, −2): g = (θ₀, 4θ₁) = (1, −8)
  const grad = (x: Float32Array) => Float32Array.of(x[0], 4 * x[1]);

  /** Two steps with the probe; returns the readings the second step was given, and θ after each. */
  function twoSteps(inner: Optimizer<OptimizerOptions>, eta = 0.125) {
    const opt = withRule(inner, new ProbeRule({ learningRate: eta }));
    const x = Float32Array.of(1, -2);
    const first = opt.step({ x }, { x: grad(x) });
    const x1 = x.slice();
    const innerAfterFirst = opt.inner.state();
    const second = opt.step({ x }, { x: grad(x) });
    const probe = probeOf(opt);
    expect(probe.inputs[0].readings).toBeNull(); // nothing measured before the first update
    expect([first.eta, second.eta]).toEqual([eta, eta]);
    return { readings: probe.inputs[1].readings!, x1, x2: x.slice(), opt, probe, innerAfterFirst };
  }

  test('SGD (M = I): Δθ = −ηg, every reading exact', () => {
    // η = 1/8: Δθ = (−1/8, 1), θ₁ = (7/8, −1), g₁ = (7/8, −4)
    //   kinetic    ½(1/64 + 1)                    = 0.5078125
    //   predicted  −g·Δθ = −(−1/8 − 8)            = 8.125
    //   work       |−1/8| + |−8|                  = 8.125
    //   end        −g₁·Δθ = −(−7/64 − 4)          = 4.109375
    // The trapezoid ½(8.125 + 4.109375) = 6.1171875 is L(θ₀) − L(θ₁) = 8.5 − 2.3828125 exactly.
    const { readings, x1 } = twoSteps(new SGD());
    expect([...x1]).toEqual([0.875, -1]);
    expect(readings).toEqual({
      eta: 0.125,
      kinetic: 0.5078125,
      predictedDecrease: 8.125,
      work: 8.125,
      endDecrease: 4.109375,
    } satisfies UpdateReadings);
    expect((readings.predictedDecrease + readings.endDecrease!) / 2).toBe(8.5 - 2.3828125);
  });

  test('SGD with heavy-ball momentum: the metric weight (1 − μ)/(1 − τ)', () => {
    // μ = 0.9: the first step's buffer is g itself, so Δθ is as above and the kinetic energy
    // is weighted by (1 − 0.9)/(1 − 0) ≈ 0.1
    const plain = twoSteps(new SGD({ momentum: 0.9 }));
    expect(plain.readings.kinetic).toBe(((1 - 0.9) / (1 - 0)) * (1.015625 / 2));
    expect(plain.readings.predictedDecrease).toBe(8.125);
    expect(plain.readings.endDecrease).toBe(4.109375);
    // dampening τ = 0.5: weight (1 − 0.9)/(1 − 0.5) ≈ 0.2 (the first step is still −ηg)
    const damped = twoSteps(new SGD({ momentum: 0.9, dampening: 0.5 }));
    expect(damped.readings.kinetic).toBe(((1 - 0.9) / (1 - 0.5)) * (1.015625 / 2));
    // the second update: b = 0.9·g₀ + g₁ = (1.775, −11.2), Δθ₂ = −b/8 = (−0.221875, 1.4):
    // kinetic ≈ 0.1·½(0.0492285 + 1.96) = 0.10046142578125 (f32 rounding of b and θ: ~1e-7)
    const third = plain.opt.step({ x: plain.x2 }, { x: grad(plain.x2) });
    expect(third.eta).toBe(0.125);
    const r3 = plain.probe.inputs[2].readings!;
    expect(relativeError(r3.kinetic, 0.10046142578125)).toBeLessThan(1e-6);
    // predicted −g₁·Δθ₂ = −(0.875·−0.221875 + (−4)·1.4) = 5.794140625
    expect(relativeError(r3.predictedDecrease, 5.794140625)).toBeLessThan(1e-6);
  });

  test('Adam: the metric √v̂ + ε, so the kinetic energy is ½ Σ (|g| + ε) η² on the first step', () => {
    // t = 1: m̂ = g, v̂ = g², Δθ = −η g/(|g| + ε) ≈ −η sign g = (−1/8, 1/8), M ≈ |g| + ε = (1, 8):
    //   kinetic   ½(1 + 8)/64 = 0.0703125        predicted  1/8 + 1 = 1.125 = work
    //   θ₁ ≈ (7/8, −15/8), g₁ = (7/8, −7.5):    end        7/64 + 7.5/8 = 1.046875
    const { readings, x1, innerAfterFirst } = twoSteps(new Adam());
    expect(relativeError(readings.kinetic, 0.0703125)).toBeLessThan(1e-6);
    expect(relativeError(readings.predictedDecrease, 1.125)).toBeLessThan(1e-6);
    expect(relativeError(readings.work, 1.125)).toBeLessThan(1e-6);
    expect(relativeError(readings.endDecrease!, 1.046875)).toBeLessThan(1e-6);
    // exactly the metric of the state Adam kept after that update: M_i = f32(√v_i)/√(1 − β₂) + ε,
    // with Δθ the f32 difference, summed in index order (two elements: the kernel's tail loop)
    const v = innerAfterFirst.tensors['x/v'];
    const w = [0, 1].map((i) => Math.fround(Math.sqrt(v[i])) * (1 / Math.sqrt(1 - 0.999)) + 1e-8);
    const d = [x1[0] - 1, x1[1] - -2];
    expect(readings.kinetic).toBe((0 + w[0] * (d[0] * d[0]) + w[1] * (d[1] * d[1])) / 2);
  });

  test('rules that do not measure get no readings, and no snapshot is kept', () => {
    const opt = withRule(new SGD(), new ProbeRule({ measures: false }));
    const x = Float32Array.of(1, -2);
    opt.step({ x }, { x: grad(x) });
    opt.step({ x }, { x: grad(x) });
    expect(probeOf(opt).inputs.map((i) => i.readings)).toEqual([null, null]);
    expect(Object.keys(opt.state().tensors)).toEqual([]);
    // a measuring rule keeps θ before the last update, under "self/"
    const measured = withRule(new SGD(), new ProbeRule());
    measured.step({ x }, { x: grad(x) });
    expect(Object.keys(measured.state().tensors)).toEqual(['self/x']);
  });
});

// ---------------------------------------------------------------------------------------
// The secant target on a quadratic, through the driver.

describe('the secant target through the driver (SGD, averaging 0, window 0)', () => {
  // The readings are sums over f32 differences: θ₁ = f32(θ − ηg) is off by up to ½ ulp ≈ 6e-8·|θ|
  // against a step of ηh·|θ|, so η* is good to about 6e-8/(ηh), relative (better on average).
  const tolerance = (eta: number, h: number) => 1e-6 + 1.2e-7 / (eta * h);

  /** L = ½ Σ h_i θ_i²: returns a stepper reporting each step. */
  function quadratic(h: number[], x0: number[]) {
    const x = Float32Array.from(x0);
    const g = new Float32Array(x.length);
    const evaluate = () => {
      let loss = 0;
      for (let i = 0; i < x.length; i++) {
        g[i] = h[i] * x[i];
        loss += 0.5 * h[i] * x[i] * x[i];
      }
      return loss;
    };
    return { x, g, evaluate };
  }

  test('the first reading: η* = (2 − ln 2)·gᵀg/gᵀHg, the balance along the gradient the update was made from', () => {
    // H = diag(1, 4), θ = (1, −2): g = (1, −8), gᵀg = 65, gᵀHg = 1 + 256 = 257:
    // η* = (2 − ln 2)·65/257 ≈ 0.33054 — whatever η the update used
    for (const eta0 of [1e-3, 0.05, 0.2]) {
      const q = quadratic([1, 4], [1, -2]);
      const opt = new EntropyBalancedOptimizer({ base: 'sgd', averaging: 0, window: 0, learningRate: eta0 });
      opt.step({ x: q.x }, { x: q.g }, { loss: q.evaluate() });
      const r = opt.step({ x: q.x }, { x: q.g }, { loss: q.evaluate() });
      const want = ((2 - LN2) * 65) / 257;
      expect(relativeError(r.balancedEta!, want), `η₀ = ${eta0}`).toBeLessThan(tolerance(eta0, 257 / 65));
    }
  });

  for (const eta0 of [1e-4, 1e-1]) {
    test(`isotropic curvature h = 2: η* = (2 − ln 2)/h at every reading, and η reaches it from η₀ = ${eta0} and stays`, () => {
      const h = 2;
      const target = (2 - LN2) / h; // ≈ 0.6534
      const q = quadratic(new Array(8).fill(h), [1, -2, 3, 0.5, -0.25, 2, -1.5, 1]);
      const opt = new EntropyBalancedOptimizer({ base: 'sgd', averaging: 0, window: 0, learningRate: eta0 });
      let reached = -1;
      let used = eta0; // η of the update the next step measures
      for (let t = 0; t < 60; t++) {
        const r = opt.step({ x: q.x }, { x: q.g }, { loss: q.evaluate() });
        if (t > 0) expect(relativeError(r.balancedEta!, target), `step ${t}`).toBeLessThan(tolerance(used, h));
        used = r.eta;
        if (t === 0) continue; // no reading yet
        if (reached < 0 && relativeError(opt.learningRate, target) < 1e-5) reached = t;
        if (reached >= 0) expect(relativeError(opt.learningRate, target), `step ${t}`).toBeLessThan(1e-5);
      }
      console.log(`[secant, SGD, h = 2] from η₀ = ${eta0}: η within 1e-5 of (2 − ln 2)/h at step ${reached}`);
      // from below: growth by at most ×2 per step (filtered), ln(0.65/1e-4)/ln 2 ≈ 12.7 doublings
      expect(reached).toBeGreaterThan(0);
      expect(reached).toBeLessThan(eta0 < 1e-3 ? 40 : 15);
    });
  }
});

// ---------------------------------------------------------------------------------------
// The calibration, on synthetic loss streams (the rule alone, its readings given).

describe('the loss-stream calibration (EntropyBalancedRule, window 5, averaging 0)', () => {
  // Readings of SGD steps along a gradient with ‖g‖² = 1 and curvature h = (2 − ln 2)/η₀:
  // the secant target's η* is η₀ itself, so the loop holds η = η₀ (u = ln(η*/η) = 0) and
  // any change of η at a block's end is the calibration's. The gradient meter's decrease of
  // one step at η is ηG(1 − ηh/2): at η₀ = 0.5, d = 0.5·ln 2/2 ≈ 0.1733 nats.
  const eta0 = 0.5;
  const h = (2 - LN2) / eta0;
  const readingsAt = (eta: number): UpdateReadings => ({
    eta,
    kinetic: 0.5 * eta * eta,
    predictedDecrease: eta,
    work: eta,
    endDecrease: eta * (1 - eta * h),
  });
  const d = (eta0 * LN2) / 2;

  /** Drive the rule through a stream of losses (one per step); returns each turn's η, report and ceiling. */
  function drive(losses: number[]) {
    const rule = new EntropyBalancedRule({ learningRate: eta0, window: 5, averaging: 0, computeMeter: null });
    let state = rule.initialState();
    let eta = rule.initialEta;
    let readings: UpdateReadings | null = null;
    const out: { eta: number; calibration: number | null; ceiling: number | null }[] = [];
    losses.forEach((loss, iteration) => {
      const turn = rule.next(state, { iteration, eta, observation: { loss }, readings, params: {}, grads: {} });
      state = turn.state;
      eta = turn.eta;
      readings = readingsAt(eta); // the update this step makes, measured at the next
      out.push({ eta, calibration: turn.report.calibration as number | null, ceiling: state.loop.ceiling });
    });
    return out;
  }
  const block = (n: number, f: (t: number) => number) => Array.from({ length: n }, (_, t) => f(t));
  const wiggle = (t: number, size: number) => (t % 2 === 0 ? size : -size);

  test('the blocks: the first reading comes at step 1, blocks end at steps 5, 10, 15; the first has no previous block', () => {
    const out = drive(block(16, (t) => 10 - d * t));
    expect(out.map((o) => o.calibration)).toEqual([
      ...[null, null, null, null, null, null], // steps 0–5: block 1 (steps 1–5) ends with nothing to compare
      ...[null, null, null, null, 1], // step 10: block 2 vs block 1, the decrease as predicted: no finding
      ...[null, null, null, null, 1], // step 15: block 3 vs block 2
    ]);
    for (const o of out) expect(o.eta).toBeCloseTo(eta0, 12);
  });

  test('a significant rise: η shrinks by maxChange² = 4 at once, the ceiling holds it, then rises by maxChange per block without a finding', () => {
    const losses = [
      1, // step 0 (no reading)
      ...block(5, (t) => 1 + wiggle(t, 0.01)), // block 1, mean ≈ 1
      ...block(5, (t) => 2 + wiggle(t, 0.01)), // block 2, mean ≈ 2: a rise of 1 ≫ 2 standard errors (≈ 0.01)
      ...block(10, (t) => 2 + wiggle(t, 5)), // blocks 3, 4: noise ±5, no evidence either way
    ];
    const out = drive(losses);
    expect(out[10].calibration).toBe(1 / 4);
    expect(out[10].eta).toBeCloseTo(eta0 / 4, 12); // the loop's own correction is 0 here
    expect(out[10].ceiling).toBe(out[10].eta);
    // steps 11–15: the loop wants η₀ (η* = η₀) but the ceiling holds η at η₀/4
    for (let t = 11; t < 15; t++) expect(out[t].eta, `step ${t}`).toBe(out[10].eta);
    // step 15: block 3 vs block 2 within the noise: no finding, the ceiling doubles; the
    // loop grows η by its filtered correction q = ½ ln 2 (from q = 0 at the ceiling): η₀/4·√2
    expect(out[15].calibration).toBe(1);
    expect(out[15].ceiling).toBe(2 * out[10].eta);
    expect(out[15].eta).toBeCloseTo((eta0 / 4) * Math.SQRT2, 12);
    // step 16 would grow past the new ceiling η₀/2: held there
    expect(out[16].eta).toBe(out[15].ceiling);
    for (const o of out) if (o.ceiling !== null) expect(o.eta).toBeLessThanOrEqual(o.ceiling);
    // step 20: no finding again: the ceiling reaches η₀·1 and η follows
    expect(out[20].calibration).toBe(1);
    expect(out[20].ceiling).toBe(4 * out[10].eta);
  });

  test("a decrease significantly below the gradient meter's prediction: η scaled by observed/predicted", () => {
    // the loss falls at half the predicted rate, L_t = 10 − ½d·t: between the block centres
    // (5 steps) observed 2.5d, predicted 5d; the within-block spread of a linear trend,
    // variance (½d)²·2 per block, gives se = √(2·0.5d²/5) ≈ 0.447d, so 5d − 2.5d = 2.5d is
    // more than 2 standard errors: factor 2.5d/5d = ½
    const out = drive(block(11, (t) => 10 - 0.5 * d * t));
    expect(out[10].calibration).toBeCloseTo(0.5, 12);
    expect(out[10].eta).toBeCloseTo(eta0 / 2, 12);
    expect(out[10].ceiling).toBe(out[10].eta);
    // falling at a quarter of the rate: factor ¼ (the floor 1/maxChange² is ¼ too); an eighth: still ¼
    expect(drive(block(11, (t) => 10 - 0.25 * d * t))[10].calibration).toBeCloseTo(0.25, 12);
    expect(drive(block(11, (t) => 10 - 0.125 * d * t))[10].calibration).toBe(0.25);
  });

  test('within the noise, or a decrease larger than predicted: no finding, η untouched', () => {
    // half the predicted rate again, but batch noise ±2 per step: se ≈ 0.9 ≫ 2.5d ≈ 0.43
    const noisy = drive(block(11, (t) => 10 - 0.5 * d * t + wiggle(t, 2)));
    expect(noisy[10].calibration).toBe(1);
    expect(noisy[10].eta).toBeCloseTo(eta0, 12);
    expect(noisy[10].ceiling).toBeNull();
    // the loss fell three times faster than predicted: the calibration only ever shrinks η
    const fast = drive(block(11, (t) => 10 - 3 * d * t));
    expect(fast[10].calibration).toBe(1);
    expect(fast[10].eta).toBeCloseTo(eta0, 12);
  });
});

// ---------------------------------------------------------------------------------------
// withRule, state, learningRate, the registry.

describe('withRule and the driver', () => {
  test('withRule(SGD, StepDecay): the inner optimizer given, η from the schedule, θ bit for bit as SGD with η set by hand', () => {
    const sgd = new SGD({ momentum: 0.9 });
    const schedule = new StepDecay({ learningRate: 0.1, stepSize: 3, gamma: 0.5 });
    const opt = withRule(sgd, schedule);
    expect(opt).toBeInstanceOf(RuleDrivenOptimizer);
    expect(opt.kind).toBe('RuleDriven');
    expect(opt.inner).toBe(sgd);
    expect(opt.learningRateRule.kind).toBe('StepDecay');
    expect(opt.getConfig()).toEqual({
      learningRate: 0,
      optimizer: { kind: 'SGD', config: sgd.getConfig() },
      rule: { kind: 'StepDecay', config: { learningRate: 0.1, stepSize: 3, gamma: 0.5 } },
      groups: [],
    });
    const driven = run(opt, 10);
    const by = new SGD({ momentum: 0.9 });
    const p = twoTensors();
    for (let t = 0; t < 10; t++) {
      p.evaluate();
      by.learningRate = 0.1 * 0.5 ** Math.floor(t / 3);
      by.step(p.params, p.grads);
    }
    expect(driven.reports.map((r) => r.eta)).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]);
    expect(driven.reports[4]).toEqual({ iteration: 4, eta: 0.05 });
    expect(driven.bits).toEqual([...bitsOf(p.params.w), ...bitsOf(p.params.b)]);
    expect(opt.iterations).toBe(10);
    expect(sgd.iterations).toBe(10);
  });

  test('the default driver: Adam driven by the entropy-balanced rule', () => {
    const opt = new RuleDrivenOptimizer();
    expect([opt.inner.kind, opt.learningRateRule.kind, opt.learningRate]).toEqual(['Adam', 'EntropyBalanced', 1e-3]);
    const r = run(opt, 3).reports;
    expect(r[0]).toMatchObject({ iteration: 0, eta: 1e-3, mode: 'hold' });
    expect(r[2].mode).toBe('balance');
  });

  test('state save/restore bit for bit: a schedule, and the entropy-balanced rule mid-run (readings and snapshot included)', () => {
    const makers: [string, () => RuleDrivenOptimizer][] = [
      [
        'SGD + StepDecay',
        () => withRule(new SGD({ momentum: 0.5 }), new StepDecay({ learningRate: 0.2, stepSize: 4 })),
      ],
      [
        'Adam + ReduceOnPlateau',
        () => withRule(new Adam(), new ReduceOnPlateau({ learningRate: 0.05, patience: 2, window: 3 })),
      ],
      [
        'Adam + EntropyBalancedRule',
        () => withRule(new Adam(), new EntropyBalancedRule({ learningRate: 0.01, window: 4, computeMeter: null })),
      ],
      ['SGD + the measuring probe', () => withRule(new SGD(), new ProbeRule({ learningRate: 0.05 }))],
    ];
    for (const [name, make] of makers) {
      const whole = run(make(), 30);
      const first = make();
      const half = run(first, 13);
      const bytes = first.serializeState();
      const restored = restoreOptimizer(bytes) as RuleDrivenOptimizer;
      expect(restored, name).toBeInstanceOf(RuleDrivenOptimizer);
      expect(restored.serializeState(), name).toEqual(bytes);
      expect(restored.state(), name).toEqual(first.state());
      expect(restored.learningRate, name).toBe(first.learningRate);
      expect(restored.iterations, name).toBe(13);
      const rest = run(restored, 17, half.problem);
      expect([...half.reports, ...rest.reports], name).toEqual(whole.reports);
      expect(rest.bits, name).toEqual(whole.bits);
    }
    // the measuring rules keep θ before the last update (for the next end slope) as "self/" tensors
    const eb = withRule(new Adam(), new EntropyBalancedRule({ computeMeter: null }));
    run(eb, 3);
    expect(Object.keys(eb.state().tensors).sort()).toEqual(
      ['inner/b/m', 'inner/b/v', 'inner/w/m', 'inner/w/v', 'self/b', 'self/w'].sort(),
    );
    const scalars = eb.state().scalars as unknown as { wrapper: { eta: number; readings: UpdateReadings | null } };
    expect(scalars.wrapper.readings).toMatchObject({ eta: scalars.wrapper.eta });
  });

  test('a bad saved state is rejected naming the field, and changes nothing', () => {
    const opt = withRule(new Adam(), new EntropyBalancedRule({ computeMeter: null }));
    run(opt, 5);
    const good = opt.state();
    const bytes = opt.serializeState();
    // biome-ignore lint/suspicious/noExplicitAny: the cases rewrite arbitrary fields of a saved state
    type Loose = any;
    const tamper = (f: (s: Loose) => void): OptimizerState => {
      const s = structuredClone(good) as Loose;
      f(s);
      return s;
    };
    const cases: [string, OptimizerState][] = [
      ['state.scalars.wrapper.eta', tamper((s) => (s.scalars.wrapper.eta = 0))],
      ['state.scalars.wrapper.rule.loop.potential', tamper((s) => (s.scalars.wrapper.rule.loop.potential = 'x'))],
      ['state.scalars.wrapper.rule.meters', tamper((s) => (s.scalars.wrapper.rule.meters = null))],
      ['state.scalars.wrapper.readings.kinetic', tamper((s) => (s.scalars.wrapper.readings.kinetic = -1))],
      ['state.tensors["self/w"]', tamper((s) => (s.tensors['self/w'] = [1, 2] as never))],
      ['rule.kind', tamper((s) => (s.config.rule.kind = 'NoSuchRule'))],
    ];
    for (const [parameter, state] of cases) {
      expectError(() => opt.loadState(state), parameter);
      expect(opt.serializeState(), parameter).toEqual(bytes);
    }
    // a schedule's state names its fields too
    const plateau = withRule(new SGD(), new ReduceOnPlateau({ window: 2 }));
    run(plateau, 3);
    const s = structuredClone(plateau.state()) as Loose;
    s.scalars.wrapper.rule.count = 2;
    expectError(() => plateau.loadState(s), 'state.scalars.wrapper.rule.count');
  });

  test('learningRate: the η of the last update (the rule’s first before any); set, it feeds the rule’s next turn', () => {
    const opt = withRule(new SGD(), new ProbeRule({ learningRate: 0.25 }));
    expect(opt.learningRate).toBe(0.25);
    expect(opt.inner.learningRate).toBe(1e-3); // the inner η is set at each step
    const p = twoTensors();
    p.evaluate();
    expect(opt.step(p.params, p.grads).eta).toBe(0.25);
    // the probe continues from the driver's η: a set η is used by the next update
    opt.learningRate = 0.0625;
    expect(opt.learningRate).toBe(0.0625);
    p.evaluate();
    expect(opt.step(p.params, p.grads).eta).toBe(0.0625);
    expect(probeOf(opt).inputs.at(-1)!.eta).toBe(0.0625);
    expect(opt.inner.learningRate).toBe(0.0625);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(() => {
        opt.learningRate = bad;
      }, 'learningRate');
    }
    expect(opt.learningRate).toBe(0.0625);
    // a schedule recomputes η at the next step
    const schedule = withRule(new SGD(), new StepDecay({ learningRate: 0.1, stepSize: 2 }));
    schedule.learningRate = 5;
    p.evaluate();
    expect(schedule.step(p.params, p.grads).eta).toBe(0.1);
    // the option learningRate > 0 overrides the rule's first η (0: the rule's own)
    const first = new RuleDrivenOptimizer({
      learningRate: 0.3,
      optimizer: { kind: 'SGD', config: {} },
      rule: { kind: 'TestProbe', config: {} },
    });
    expect(first.learningRate).toBe(0.3);
  });

  test('the registry: rules rebuild from their config; unknown kinds name rule.kind', () => {
    expect(ruleKinds()).toEqual(
      expect.arrayContaining([
        'EntropyBalanced',
        'ConstantRate',
        'StepDecay',
        'ExponentialDecay',
        'LinearWarmup',
        'CosineDecay',
        'ReduceOnPlateau',
        'TestProbe',
      ]),
    );
    const rebuilt = ruleFromConfig('StepDecay', { learningRate: 0.1, stepSize: 2, gamma: 0.5 });
    expect([rebuilt.kind, rebuilt.initialEta, rebuilt.getConfig()]).toEqual([
      'StepDecay',
      0.1,
      { learningRate: 0.1, stepSize: 2, gamma: 0.5 },
    ]);
    expectError(
      () => ruleFromConfig('NoSuchRule', {}),
      'rule.kind',
      /^Expected a registered learning-rate rule \(EntropyBalanced, .*ReduceOnPlateau.*\) for rule\.kind but received "NoSuchRule" of type string$/,
    );
    expectError(() => new RuleDrivenOptimizer({ rule: { kind: 'NoSuchRule', config: {} } }), 'rule.kind');
    expectError(() => new RuleDrivenOptimizer({ rule: { kind: 3 } as never }), 'rule.kind');
    expectError(() => new RuleDrivenOptimizer({ rule: 5 as never }), 'rule');
    expectError(() => new RuleDrivenOptimizer({ optimizer: { kind: 7 } as never }), 'optimizer.kind');
    expectError(() => new RuleDrivenOptimizer({ groups: [{ params: ['x'] }] }), 'groups');
    expectError(() => new RuleDrivenOptimizer({ learningRate: -1 }), 'learningRate');
    expectError(() => new RuleDrivenOptimizer({ momentum: 0.9 } as never), 'momentum');
    // a rule object is kept as given (it may carry what a config cannot); only rebuilding it
    // from its saved config needs its kind registered
    const unregistered: LearningRateRule = {
      kind: 'Unregistered',
      measuresUpdates: false,
      initialEta: 1,
      initialState: () => ({}),
      next: () => ({ eta: 1, state: {}, report: {} }),
      getConfig: () => ({}),
      checkState: () => ({}),
    };
    const driven = withRule(new SGD(), unregistered);
    expect(driven.learningRateRule).toBe(unregistered);
    expectError(() => restoreOptimizer(driven.serializeState()), 'rule.kind');
    // a saved optimizer naming an unknown rule
    const saved = structuredClone(withRule(new SGD(), new ConstantRate()).state());
    (saved.config as unknown as { rule: { kind: string } }).rule.kind = 'Gone';
    expectError(() => restoreOptimizer(saved), 'rule.kind');
  });
});
