/**
 * Learning-rate schedules as rules (lib/optim/schedules.ts): each schedule's η sequence
 * against its formula, with PyTorch's definitions where there is one (StepLR,
 * ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau in mode "min" with a relative
 * threshold — the last against a transcription of torch's step() on random loss streams)
 * and hand values commented beside them; option validation naming the option; the state
 * of ReduceOnPlateau saved mid-plateau and resumed bit for bit; every optimizer kind (SGD,
 * Adam, AdamW, Prodigy) driven through withRule exactly as if η were set by hand; and a
 * schedule as the Trainer's optimizer (fit, and a checkpoint resumed bit for bit).
 *
 * η at step t (t = steps completed, 0 for the first) is what that step's update uses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  Adam,
  AdamW,
  ConstantRate,
  CosineDecay,
  ExponentialDecay,
  type LearningRateRule,
  LinearWarmup,
  mlp,
  type Optimizer,
  type OptimizerOptions,
  Prodigy,
  ReduceOnPlateau,
  type RuleDrivenOptimizer,
  restoreOptimizer,
  SGD,
  SoftmaxCrossEntropy,
  StepDecay,
  Trainer,
  withRule,
} from '../lib/index.js';
import type { JsonObject } from '../lib/optim/wrapper.js';
import { classes, expectError, quadraticProblem, values } from './helpers.js';

const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

/** η for steps 0 … n−1, the rule driven alone (losses, when given, are the observations). */
function etas(rule: LearningRateRule<JsonObject>, n: number, losses: number[] = []): number[] {
  let state = rule.initialState();
  let eta = rule.initialEta;
  const out: number[] = [];
  for (let t = 0; t < n; t++) {
    const turn = rule.next(state, {
      iteration: t,
      eta,
      observation: { loss: losses[t] ?? 1 },
      readings: null,
      params: {},
      grads: {},
    });
    [state, eta] = [turn.state, turn.eta];
    out.push(eta);
  }
  return out;
}

const asRule = (r: unknown) => r as LearningRateRule<JsonObject>;

describe('the η sequences against their formulas', () => {
  test('ConstantRate: η₀ at every step; no measuring, no state', () => {
    const r = new ConstantRate({ learningRate: 0.01 });
    expect(etas(asRule(r), 5)).toEqual([0.01, 0.01, 0.01, 0.01, 0.01]);
    expect([r.kind, r.measuresUpdates, r.initialEta, r.initialState()]).toEqual(['ConstantRate', false, 0.01, {}]);
    expect(new ConstantRate().getConfig()).toEqual({ learningRate: 1e-3 });
  });

  test("StepDecay is PyTorch's StepLR: η₀·γ^⌊t/stepSize⌋", () => {
    // η₀ = 0.1, stepSize 3, γ = ½: three steps at 0.1, three at 0.05, three at 0.025, …
    const r = new StepDecay({ learningRate: 0.1, stepSize: 3, gamma: 0.5 });
    expect(etas(asRule(r), 10)).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]);
    // the closed form (torch's _get_closed_form_lr), not a chained product: γ = 0.1 after 7 periods
    expect(r.at(0)).toBe(0.1);
    const tenth = new StepDecay({ learningRate: 0.1, stepSize: 2 }); // γ defaults to 0.1, as in torch
    expect(tenth.at(14)).toBe(0.1 * 0.1 ** 7);
    expect(tenth.getConfig()).toEqual({ learningRate: 0.1, stepSize: 2, gamma: 0.1 });
  });

  test("ExponentialDecay is PyTorch's ExponentialLR: η₀·γ^t, never 0", () => {
    // η₀ = 0.1, γ = 0.9: 0.1, 0.09, 0.081, 0.0729, …
    const r = new ExponentialDecay({ learningRate: 0.1, gamma: 0.9 });
    const seq = etas(asRule(r), 4);
    for (const [t, want] of [0.1, 0.09, 0.081, 0.0729].entries()) expect(seq[t]).toBeCloseTo(want, 15);
    expect(seq).toEqual([0, 1, 2, 3].map((t) => 0.1 * 0.9 ** t));
    // 0.1·0.5^1100 underflows: the smallest positive rate instead of η = 0
    expect(new ExponentialDecay({ learningRate: 0.1, gamma: 0.5 }).at(1100)).toBe(Number.MIN_VALUE);
    // γ = 1: constant
    expect(etas(asRule(new ExponentialDecay({ learningRate: 0.3, gamma: 1 })), 3)).toEqual([0.3, 0.3, 0.3]);
  });

  test("LinearWarmup: η₀·(s + (1 − s)·min(1, (t + 1)/w)) — PyTorch's LinearLR one step ahead, so that s = 0 never gives η = 0", () => {
    // torch's LinearLR(start_factor = s, total_iters = w) uses s + (1 − s)·min(t, w)/w; here
    // the first update already gets one warmup increment.
    // η₀ = 1, w = 4, s = 0: ¼, ½, ¾, 1, 1
    expect(etas(asRule(new LinearWarmup({ learningRate: 1, warmupSteps: 4 })), 6)).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    // s = 0.2: 0.2 + 0.8·¼ = 0.4, 0.6, 0.8, 1
    const s = etas(asRule(new LinearWarmup({ learningRate: 1, warmupSteps: 4, start: 0.2 })), 5);
    for (const [t, want] of [0.4, 0.6, 0.8, 1, 1].entries()) expect(s[t]).toBeCloseTo(want, 15);
    // w = 1: η₀ from the first step
    expect(etas(asRule(new LinearWarmup({ learningRate: 0.5, warmupSteps: 1 })), 2)).toEqual([0.5, 0.5]);
  });

  test("CosineDecay without warmup is PyTorch's CosineAnnealingLR (closed form) up to T, then η_min", () => {
    // η_t = η_min + ½(η₀ − η_min)(1 + cos(πt/T)); η₀ = 1, T = 8, η_min = 0:
    //   t = 0: 1; t = 2: ½(1 + √2/2) ≈ 0.853553; t = 4: ½; t = 6: ½(1 − √2/2) ≈ 0.146447;
    //   t = 8: 0 → the smallest positive rate (η = 0 would stop the run), and it stays there
    // (torch's schedule is periodic past T_max; this one holds η_min)
    const r = new CosineDecay({ learningRate: 1, totalSteps: 8 });
    const seq = etas(asRule(r), 13);
    expect(seq[0]).toBe(1);
    expect(seq[2]).toBeCloseTo(0.5 * (1 + Math.SQRT1_2), 15);
    expect(seq[4]).toBeCloseTo(0.5, 15);
    expect(seq[6]).toBeCloseTo(0.5 * (1 - Math.SQRT1_2), 15);
    expect(seq.slice(8)).toEqual(new Array(5).fill(Number.MIN_VALUE));
    for (let t = 0; t < 8; t++) expect(seq[t]).toBe(0 + 0.5 * (1 - 0) * (1 + Math.cos((Math.PI * t) / 8)));
    // η_min = 0.1: t = 4: 0.1 + 0.45 = 0.55; from t = 8 on: 0.1
    const floor = etas(asRule(new CosineDecay({ learningRate: 1, totalSteps: 8, minLearningRate: 0.1 })), 10);
    expect(floor[4]).toBeCloseTo(0.55, 15);
    expect(floor.slice(8)).toEqual([0.1, 0.1]);
  });

  test('CosineDecay with linear warmup: η₀(t + 1)/w for t < w, then the cosine over the remaining T − w steps', () => {
    // η₀ = 1, w = 2, T = 10: t = 0: ½, t = 1: 1 (warmup); t = 2: progress 0 → 1; t = 6: progress
    // 4/8 → ½; t = 4: progress ¼ → ½(1 + √2/2); t = 10: progress 1 → η_min
    // (Hugging Face's get_cosine_schedule_with_warmup warms up as t/w, from 0; here from η₀/w)
    const seq = etas(
      asRule(new CosineDecay({ learningRate: 1, totalSteps: 10, warmupSteps: 2, minLearningRate: 0.01 })),
      12,
    );
    expect(seq.slice(0, 3)).toEqual([0.5, 1, 1]);
    expect(seq[4]).toBeCloseTo(0.01 + 0.495 * (1 + Math.SQRT1_2), 15);
    expect(seq[6]).toBeCloseTo(0.505, 15);
    expect(seq.slice(10)).toEqual([0.01, 0.01]);
    // monotone: up through the warmup, down after it
    for (let t = 2; t < 11; t++) expect(seq[t]).toBeLessThanOrEqual(seq[t - 1]);
  });

  test('ReduceOnPlateau by hand: patience, relative threshold, cooldown, the floor, the window', () => {
    // patience 2, factor ½, threshold 0.1 (relative), η₀ = 1; losses 10, 9.5, 9.2, 9.1, 8, 8, 8, 8:
    //   t0: best 10; t1–t3: not below 10·0.9 = 9, three bad readings > patience at t3 → η ½;
    //   t4: 8 < 9, best 8; t5–t7: not below 7.2, bad at t7 → ¼
    const plateau = new ReduceOnPlateau({ learningRate: 1, factor: 0.5, patience: 2, threshold: 0.1 });
    expect(etas(asRule(plateau), 8, [10, 9.5, 9.2, 9.1, 8, 8, 8, 8])).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]);
    // cooldown 2, patience 0, threshold 0, a constant loss: a reduction at t1, two cooldown
    // readings (their bad counts are reset), then the next at t4
    const cool = new ReduceOnPlateau({ learningRate: 1, factor: 0.5, patience: 0, threshold: 0, cooldown: 2 });
    expect(etas(asRule(cool), 8, new Array(8).fill(1))).toEqual([1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]);
    // the floor minLearningRate: 1 → 0.1 → 0.05 (not 0.01), then it stays
    const floor = new ReduceOnPlateau({
      learningRate: 1,
      factor: 0.1,
      patience: 0,
      threshold: 0,
      minLearningRate: 0.05,
    });
    expect(etas(asRule(floor), 5, new Array(5).fill(1))).toEqual([1, 0.1, 0.05, 0.05, 0.05]);
    // a floor above η₀ never raises η (torch: a "reduction" that would increase the rate is skipped)
    const above = new ReduceOnPlateau({ learningRate: 1e-4, patience: 0, threshold: 0, minLearningRate: 1e-3 });
    expect(etas(asRule(above), 4, new Array(4).fill(1))).toEqual([1e-4, 1e-4, 1e-4, 1e-4]);
    // window 3: one reading per 3 steps, their mean: steps 0–2 read 2 (the best); steps 3–5 read 2
    // again, a bad reading > patience 0 at step 5 → ½ from step 5 on
    const windowed = new ReduceOnPlateau({ learningRate: 1, factor: 0.5, patience: 0, threshold: 0, window: 3 });
    expect(etas(asRule(windowed), 9, [3, 2, 1, 1, 2, 3, 5, 5, 5])).toEqual([1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
    // the report: whether this step reduced η, and the best reading so far
    const r = asRule(new ReduceOnPlateau({ learningRate: 1, patience: 0 })).next(
      { eta: 1, best: 2, wait: 0, cooldown: 0, sum: 0, count: 0 },
      { iteration: 3, eta: 1, observation: { loss: 2 }, readings: null, params: {}, grads: {} },
    );
    expect(r.report).toEqual({ reduced: 1, best: 2 });
    expect(r.eta).toBeCloseTo(0.1, 15);
  });

  test("ReduceOnPlateau is torch's ReduceLROnPlateau (mode min, threshold_mode rel) on random loss streams (fast-check)", () => {
    // torch.optim.lr_scheduler.ReduceLROnPlateau.step(metrics), transcribed (its eps = 1e-8, a
    // reduction smaller than which is skipped, is not part of cimm's rule: eps = 0 here), fed
    // the mean of each window of losses; η changes only when a window completes.
    function torch(
      o: { lr: number; factor: number; patience: number; threshold: number; cooldown: number; minLr: number },
      readings: number[],
    ) {
      let [best, bad, cooldownCounter, lr] = [Number.POSITIVE_INFINITY, 0, 0, o.lr];
      return readings.map((current) => {
        if (current < best * (1 - o.threshold)) [best, bad] = [current, 0];
        else bad += 1;
        if (cooldownCounter > 0) [cooldownCounter, bad] = [cooldownCounter - 1, 0];
        if (bad > o.patience) {
          const newLr = Math.max(lr * o.factor, o.minLr);
          if (lr - newLr > 0) lr = newLr;
          [cooldownCounter, bad] = [o.cooldown, 0];
        }
        return lr;
      });
    }
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: 1, maxLength: 120 }),
        fc.record({
          lr: fc.double({ min: 1e-4, max: 1, noNaN: true }),
          factor: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
          patience: fc.integer({ min: 0, max: 5 }),
          threshold: fc.constantFrom(0, 1e-4, 0.01, 0.1),
          cooldown: fc.integer({ min: 0, max: 3 }),
          minLr: fc.constantFrom(0, 1e-3),
          window: fc.integer({ min: 1, max: 4 }),
        }),
        (losses, o) => {
          const rule = new ReduceOnPlateau({
            learningRate: o.lr,
            factor: o.factor,
            patience: o.patience,
            threshold: o.threshold,
            cooldown: o.cooldown,
            minLearningRate: o.minLr,
            window: o.window,
          });
          const got = etas(asRule(rule), losses.length, losses);
          // the window means, in cimm's order of summation
          const means: number[] = [];
          for (let end = o.window; end <= losses.length; end += o.window) {
            let sum = 0;
            for (let t = end - o.window; t < end; t++) sum += losses[t];
            means.push(sum / o.window);
          }
          const lrs = torch(o, means);
          const want = losses.map((_, t) => {
            const done = Math.floor((t + 1) / o.window); // readings completed through step t
            return done === 0 ? o.lr : lrs[done - 1];
          });
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('schedule options: validation names the option', () => {
  test('each option checked, unknown options and missing required ones named', () => {
    expectError(() => new ConstantRate({ learningRate: 0 }), 'learningRate');
    expectError(
      () => new StepDecay({ learningRate: 0.1 }),
      'stepSize',
      'Expected a value (StepDecay needs stepSize) for stepSize but received undefined of type undefined',
    );
    expectError(() => new StepDecay({ stepSize: 0 }), 'stepSize');
    expectError(() => new StepDecay({ stepSize: 1.5 }), 'stepSize');
    expectError(() => new StepDecay({ stepSize: 2, gamma: 0 }), 'gamma');
    expectError(() => new StepDecay({ stepSize: 2, gamma: 1.5 }), 'gamma');
    expectError(
      () => new StepDecay({ stepSize: 2, step_size: 3 } as never),
      'step_size',
      'Expected an option of StepDecay (learningRate, stepSize, gamma) for step_size but received 3 of type number',
    );
    expectError(() => new ExponentialDecay({}), 'gamma');
    expectError(() => new ExponentialDecay({ gamma: Number.NaN }), 'gamma');
    expectError(() => new LinearWarmup({}), 'warmupSteps');
    expectError(() => new LinearWarmup({ warmupSteps: 0 }), 'warmupSteps');
    expectError(() => new LinearWarmup({ warmupSteps: 3, start: 1.5 }), 'start');
    expectError(() => new CosineDecay({}), 'totalSteps');
    expectError(
      () => new CosineDecay({ totalSteps: 10, warmupSteps: 10 }),
      'warmupSteps',
      /fewer than totalSteps \(10\)/,
    );
    expectError(() => new CosineDecay({ totalSteps: 10, warmupSteps: -1 }), 'warmupSteps');
    expectError(
      () => new CosineDecay({ learningRate: 0.1, totalSteps: 10, minLearningRate: 0.2 }),
      'minLearningRate',
      /at most learningRate \(0\.1\)/,
    );
    expectError(() => new ReduceOnPlateau({ factor: 1 }), 'factor');
    expectError(() => new ReduceOnPlateau({ factor: 0 }), 'factor');
    expectError(() => new ReduceOnPlateau({ patience: -1 }), 'patience');
    expectError(() => new ReduceOnPlateau({ threshold: -0.1 }), 'threshold');
    expectError(() => new ReduceOnPlateau({ cooldown: 1.5 }), 'cooldown');
    expectError(() => new ReduceOnPlateau({ minLearningRate: -1 }), 'minLearningRate');
    expectError(() => new ReduceOnPlateau({ window: 0 }), 'window');
    expectError(() => new ReduceOnPlateau({ mode: 'max' } as never), 'mode');
    expectError(() => new ConstantRate(5 as never), 'options');
  });

  test('ReduceOnPlateau needs the loss; a step without it changes nothing', () => {
    const opt = withRule(new SGD(), new ReduceOnPlateau({ learningRate: 0.1 }));
    const p = quadraticProblem({ x: values(9, 3, 2) });
    opt.step(p.params, p.grads, { loss: p.evaluate() });
    const state = opt.serializeState();
    const before = p.params.x.slice();
    expectError(
      () => opt.step(p.params, p.grads),
      'observation.loss',
      'Expected a finite number for observation.loss but received undefined of type undefined',
    );
    expectError(() => opt.step(p.params, p.grads, { loss: Number.POSITIVE_INFINITY }), 'observation.loss');
    expect(opt.serializeState()).toEqual(state);
    expect(p.params.x).toEqual(before);
  });
});

describe('ReduceOnPlateau: state round trip and resume mid-plateau', () => {
  // the optimizer steps on a quadratic's gradients; the plateau reads a synthetic loss stream
  const losses = Array.from({ length: 40 }, (_, t) => (t < 8 ? 10 - t : t < 25 ? 2 + 0.001 * (t % 3) : 1.5));
  const make = () =>
    withRule(
      new SGD({ momentum: 0.9 }),
      new ReduceOnPlateau({ learningRate: 0.05, factor: 0.5, patience: 3, cooldown: 2, window: 2, threshold: 0.01 }),
    );
  function drive(opt: RuleDrivenOptimizer, from: number, to: number, p = quadraticProblem({ x: values(23, 5, 2) })) {
    const out: number[] = [];
    for (let t = from; t < to; t++) {
      p.evaluate();
      out.push(opt.step(p.params, p.grads, { loss: losses[t] }).eta);
    }
    return { etas: out, p };
  }

  test('saved mid-plateau (waiting, mid-window), restored from bytes: the state equal, the run continues bit for bit', () => {
    const whole = drive(make(), 0, 40);
    const first = make();
    const half = drive(first, 0, 15);
    const saved = first.state();
    const rule = (saved.scalars as unknown as { wrapper: { rule: Record<string, number> } }).wrapper.rule;
    // the point of the test: in the middle of a plateau and of a window
    expect(rule.wait).toBeGreaterThan(0);
    expect(rule.count).toBe(1);
    expect(rule.best).toBeCloseTo(2, 2);
    const restored = restoreOptimizer(first.serializeState()) as RuleDrivenOptimizer;
    expect(restored.state()).toEqual(saved);
    expect(JSON.parse(JSON.stringify(restored.state().scalars))).toEqual(JSON.parse(JSON.stringify(saved.scalars)));
    const rest = drive(restored, 15, 40, half.p);
    expect([...half.etas, ...rest.etas]).toEqual(whole.etas);
    expect(bitsOf(rest.p.params.x)).toEqual(bitsOf(whole.p.params.x));
    // the plateau did reduce η, and more than once
    expect(new Set(whole.etas).size).toBeGreaterThan(2);
  });

  test('a saved state out of range is rejected naming the field', () => {
    const opt = make();
    drive(opt, 0, 5);
    const bytes = opt.serializeState();
    for (const [field, value] of [
      ['wait', -1],
      ['cooldown', 3], // more than the configured cooldown
      ['count', 2], // a full window would have been read
      ['eta', 0],
      ['best', 'x'],
      ['sum', Number.NaN],
    ] as const) {
      const s = structuredClone(opt.state());
      (s.scalars as unknown as { wrapper: { rule: Record<string, unknown> } }).wrapper.rule[field] = value;
      expectError(() => opt.loadState(s), `state.scalars.wrapper.rule.${field}`);
      expect(opt.serializeState()).toEqual(bytes);
    }
  });
});

describe('schedules with every optimizer kind (withRule)', () => {
  const kinds: [string, () => Optimizer<OptimizerOptions>][] = [
    ['SGD', () => new SGD({ momentum: 0.9, nesterov: true })],
    ['Adam', () => new Adam({ amsgrad: true })],
    ['AdamW', () => new AdamW({ weightDecay: 0.05 })],
    ['Prodigy', () => new Prodigy()],
  ];
  const schedules: [string, () => LearningRateRule<JsonObject>, (t: number) => number][] = [
    [
      'CosineDecay with warmup',
      () => asRule(new CosineDecay({ learningRate: 0.05, totalSteps: 30, warmupSteps: 5, minLearningRate: 1e-3 })),
      (t) => new CosineDecay({ learningRate: 0.05, totalSteps: 30, warmupSteps: 5, minLearningRate: 1e-3 }).at(t),
    ],
    [
      'StepDecay',
      () => asRule(new StepDecay({ learningRate: 0.05, stepSize: 7, gamma: 0.3 })),
      (t) => 0.05 * 0.3 ** Math.floor(t / 7),
    ],
  ];

  for (const [kind, make] of kinds) {
    test(`${kind}: driven by a schedule, θ and state bit for bit as ${kind} with η set by hand each step; the loss falls`, () => {
      for (const [name, rule, at] of schedules) {
        const driven = withRule(make(), rule());
        const p = quadraticProblem({ w: values(37, 1, 2), b: values(5, 2, 2) });
        const first = p.evaluate();
        const byHand = make();
        const q = quadraticProblem({ w: values(37, 1, 2), b: values(5, 2, 2) });
        for (let t = 0; t < 30; t++) {
          const loss = p.evaluate();
          expect(driven.step(p.params, p.grads, { loss }).eta, `${name} step ${t}`).toBe(at(t));
          q.evaluate();
          byHand.learningRate = at(t);
          byHand.step(q.params, q.grads);
        }
        for (const k of ['w', 'b']) expect(bitsOf(p.params[k]), `${name} ${k}`).toEqual(bitsOf(q.params[k]));
        expect(driven.inner.state().tensors, name).toEqual(byHand.state().tensors);
        expect(driven.inner.state().scalars, name).toEqual(byHand.state().scalars);
        expect(p.evaluate(), name).toBeLessThan(first);
        // a schedule measures nothing: the driver keeps no tensors of its own
        expect(
          Object.keys(driven.state().tensors).filter((n) => n.startsWith('self/')),
          name,
        ).toEqual([]);
        // and the pair saves and resumes like any optimizer
        const restored = restoreOptimizer(driven.serializeState());
        expect(restored.serializeState(), name).toEqual(driven.serializeState());
      }
    });
  }
});

describe('a schedule as the Trainer’s optimizer', () => {
  const loss = new SoftmaxCrossEntropy();

  test('fit: each step’s η follows the schedule (the report) and the loss falls', () => {
    const schedule = new CosineDecay({ learningRate: 0.5, totalSteps: 40, warmupSteps: 5, minLearningRate: 0.01 });
    const trainer = new Trainer({
      model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }),
      loss,
      optimizer: withRule(new SGD({ momentum: 0.9 }), schedule),
    });
    const h = trainer.fitSync(classes(150), { epochs: 40, batchSize: 150, seed: 1 });
    expect(h.steps.length).toBe(40);
    h.steps.forEach((s, t) => {
      expect(s.report, `step ${t}`).toEqual({ iteration: t, eta: schedule.at(t) });
    });
    console.log(
      `[trainer, SGD momentum 0.9 + CosineDecay (warmup 5), full batch] loss ${h.epochs[0].loss.toFixed(3)} → ` +
        `${h.epochs.at(-1)!.loss.toFixed(4)}`,
    );
    expect(h.epochs.at(-1)!.loss).toBeLessThan(0.3 * h.epochs[0].loss);
  });

  test('ReduceOnPlateau over an epoch of mini-batch losses: a checkpointed run resumes bit for bit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cimm-plateau-'));
    try {
      const make = () =>
        new Trainer({
          model: mlp([2, 8, 3], { activation: 'tanh', seed: 2 }),
          loss,
          optimizer: withRule(
            new Adam(),
            // the loss halves per epoch early on: a 30% relative threshold finds the plateau late
            new ReduceOnPlateau({ learningRate: 0.05, patience: 0, factor: 0.5, window: 4, threshold: 0.3 }),
          ),
        });
      const fit = { epochs: 12, batchSize: 25, seed: 3 };
      const straight = make().fitSync(classes(100), fit);
      const path = join(dir, 'ck.json');
      // stopped mid-epoch: the plateau's window holds two of its four losses
      make().fitSync(classes(100), { ...fit, maxSteps: 30, checkpoint: { path, every: 15 } });
      const resumed = make().fitSync(classes(100), { ...fit, resumeFrom: path });
      expect(JSON.parse(JSON.stringify(resumed))).toEqual(JSON.parse(JSON.stringify(straight)));
      const used = straight.steps.map((s) => s.report!.eta as number);
      // the plateau reduced η over the run (measured: 0.05 → 0.00625), after the checkpoint
      expect(Math.min(...used)).toBeLessThan(0.05);
      expect(used.slice(0, 30).every((eta) => eta === 0.05)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
