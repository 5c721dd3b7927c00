/**
 * The optimizer classes (SGD, Adam, AdamW) on the active backend: options and groups,
 * learningRate, config and state round trips (JSON and binary, bit for bit), and every
 * argument error with its message.
 */
import { describe, expect, test } from 'vitest';
import {
  Adam,
  AdamW,
  CimmArgumentError,
  decodeOptimizerState,
  encodeOptimizerState,
  type OptimizerState,
  optimizerFromConfig,
  restoreOptimizer,
  SGD,
  type TensorMap,
} from '../lib/index.js';

/** A small deterministic problem: two named parameters and a gradient at each step. */
function problem() {
  const params: TensorMap = {
    weight: Float32Array.from({ length: 21 }, (_, i) => Math.sin(i + 1)),
    bias: Float32Array.from({ length: 5 }, (_, i) => 0.5 - i / 7),
  };
  const grads = (t: number): TensorMap => ({
    weight: Float32Array.from(params.weight, (p, i) => p - Math.cos(i + t)),
    bias: Float32Array.from(params.bias, (p, i) => 2 * p + Math.sin(i * t)),
  });
  return { params, grads };
}

const bits = (a: Float32Array | Float64Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4)];
const copy = (m: TensorMap): TensorMap => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.slice()]));

function expectError(call: () => unknown, parameter: string, message: string): void {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error, message).toBeInstanceOf(CimmArgumentError);
  expect((error as CimmArgumentError).parameter).toBe(parameter);
  expect((error as Error).message).toBe(message);
}

describe('options and config', () => {
  test("defaults are PyTorch's", () => {
    expect(new SGD().getConfig()).toEqual({
      learningRate: 1e-3,
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      groups: [],
    });
    expect(new Adam().getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      groups: [],
    });
    expect(new AdamW().getConfig().weightDecay).toBe(1e-2);
    expect([new SGD().kind, new Adam().kind, new AdamW().kind]).toEqual(['SGD', 'Adam', 'AdamW']);
  });

  test('getConfig is JSON and fromConfig / optimizerFromConfig rebuild the same optimizer', () => {
    const a = new Adam({ learningRate: 0.01, amsgrad: true, groups: [{ params: ['bias'], weightDecay: 0.1 }] });
    const json = JSON.parse(JSON.stringify(a.getConfig()));
    expect(Adam.fromConfig(json).getConfig()).toEqual(a.getConfig());
    const b = optimizerFromConfig('AdamW', json);
    expect(b).toBeInstanceOf(AdamW);
    expect(b.getConfig()).toEqual({ ...a.getConfig() });
    expect(SGD.fromConfig(new SGD({ momentum: 0.9, nesterov: true }).getConfig()).getConfig().nesterov).toBe(true);
  });

  test('groups override options per parameter', () => {
    const sgd = new SGD({ learningRate: 0.1, groups: [{ params: ['bias'], learningRate: 0.5, momentum: 0.9 }] });
    expect(sgd.optionsFor('weight')).toMatchObject({ learningRate: 0.1, momentum: 0 });
    expect(sgd.optionsFor('bias')).toMatchObject({ learningRate: 0.5, momentum: 0.9 });
    const { params } = problem();
    const before = copy(params);
    const ones = { weight: new Float32Array(21).fill(1), bias: new Float32Array(5).fill(1) };
    sgd.step(params, ones);
    expect(params.weight[0]).toBe(Math.fround(before.weight[0] - Math.fround(0.1)));
    expect(params.bias[0]).toBe(Math.fround(before.bias[0] - Math.fround(0.5)));
    expect(Object.keys(sgd.state().tensors)).toEqual(['bias/momentumBuffer']);
  });

  test('learningRate is readable and settable between steps; a group with its own keeps it', () => {
    const sgd = new SGD({ learningRate: 0.1, groups: [{ params: ['bias'], learningRate: 0.5 }, { params: ['x'] }] });
    expect(sgd.learningRate).toBe(0.1);
    sgd.learningRate = 0.25;
    expect(sgd.learningRate).toBe(0.25);
    expect(sgd.optionsFor('weight').learningRate).toBe(0.25);
    expect(sgd.optionsFor('x').learningRate).toBe(0.25);
    expect(sgd.optionsFor('bias').learningRate).toBe(0.5);
    expect(sgd.getConfig().learningRate).toBe(0.25);
    expectError(
      () => {
        sgd.learningRate = -1;
      },
      'learningRate',
      'Expected a finite number >= 0 for learningRate but received -1 of type number',
    );
  });

  test('bad options name the option', () => {
    const cases: [() => unknown, string, string][] = [
      [
        () => new SGD({ lr: 0.1 } as never),
        'lr',
        'Expected an option of SGD (learningRate, momentum, dampening, weightDecay, nesterov, maximize, groups) for lr but received 0.1 of type number',
      ],
      [
        () => new Adam({ learningRate: Number.NaN }),
        'learningRate',
        'Expected a finite number >= 0 for learningRate but received NaN of type number',
      ],
      [() => new Adam({ beta1: 1 }), 'beta1', 'Expected a number >= 0 and < 1 for beta1 but received 1 of type number'],
      [
        () => new Adam({ beta2: -0.1 }),
        'beta2',
        'Expected a number >= 0 and < 1 for beta2 but received -0.1 of type number',
      ],
      [
        () => new Adam({ epsilon: -1 }),
        'epsilon',
        'Expected a finite number >= 0 for epsilon but received -1 of type number',
      ],
      [
        () => new AdamW({ amsgrad: 'yes' as never }),
        'amsgrad',
        'Expected a boolean for amsgrad but received "yes" of type string',
      ],
      [
        () => new SGD({ dampening: 2 }),
        'dampening',
        'Expected a finite number >= 0 and <= 1 for dampening but received 2 of type number',
      ],
      [
        () => new SGD({ nesterov: true }),
        'nesterov',
        'Expected false unless momentum > 0 and dampening = 0 (Nesterov momentum) for nesterov but received true of type boolean',
      ],
      [
        () => new SGD({ momentum: 0.9, groups: [{ params: ['b'], nesterov: true, dampening: 0.5 }] }),
        'groups[0].nesterov',
        'Expected false unless momentum > 0 and dampening = 0 (Nesterov momentum) for groups[0].nesterov but received true of type boolean',
      ],
      [
        () => new SGD({ groups: {} as never }),
        'groups',
        'Expected an array of parameter groups for groups but received [object Object] of type object',
      ],
      [
        () => new SGD({ groups: [{ params: 'bias' as never }] }),
        'groups[0].params',
        'Expected an array of parameter names for groups[0].params but received "bias" of type string',
      ],
      [
        () => new SGD({ groups: [{ params: ['a'] }, { params: ['b', 'a'] }] }),
        'groups[1].params',
        'Expected names not already in groups[0] for groups[1].params but received "a" of type string',
      ],
      [
        () => new SGD({ groups: [{ params: ['a'], lr: 1 } as never] }),
        'groups[0].lr',
        'Expected an option of SGD (learningRate, momentum, dampening, weightDecay, nesterov, maximize) for groups[0].lr but received 1 of type number',
      ],
      [
        () => new Adam([] as never),
        'options',
        'Expected an options object for options but received Array(0) of type Array',
      ],
    ];
    for (const [call, parameter, message] of cases) expectError(call, parameter, message);
  });
});

describe('step', () => {
  test('steps update in place and count iterations; per-parameter step counts are kept', () => {
    const adam = new Adam({ learningRate: 0.01 });
    const { params, grads } = problem();
    const weight = params.weight;
    const before = weight.slice();
    adam.step(params, grads(0));
    expect(params.weight).toBe(weight);
    expect(weight).not.toEqual(before);
    adam.step({ weight: params.weight }, { weight: grads(1).weight });
    expect(adam.iterations).toBe(2);
    expect(adam.state().scalars).toEqual({ iterations: 2, steps: { weight: 2, bias: 1 } });
  });

  test('the same steps on the same data give the same bits (optimizers share no state)', () => {
    const a = problem();
    const b = problem();
    const [x, y] = [new AdamW({ amsgrad: true }), new AdamW({ amsgrad: true })];
    for (let t = 0; t < 5; t++) {
      x.step(a.params, a.grads(t));
      y.step(b.params, b.grads(t));
    }
    expect(bits(a.params.weight)).toEqual(bits(b.params.weight));
  });

  test('argument errors name the parameter and change nothing', () => {
    const sgd = new SGD({ learningRate: 0.1, momentum: 0.9 });
    const { params, grads } = problem();
    sgd.step(params, grads(0));
    const saved = sgd.serializeState();
    const before = copy(params);
    const g = grads(1);
    const shared = new Float32Array(30);
    const bad = g.weight.slice();
    bad[7] = Number.NaN;
    const cases: [() => unknown, string, string][] = [
      [
        () => sgd.step(null as never, g),
        'params',
        'Expected an object of Float32Arrays or Float64Arrays by parameter name for params but received null of type null',
      ],
      [
        () => sgd.step(params, [] as never),
        'grads',
        'Expected an object of Float32Arrays or Float64Arrays by parameter name for grads but received Array(0) of type Array',
      ],
      [
        () => sgd.step({ ...params, weight: [1, 2] as never }, g),
        'params["weight"]',
        'Expected a Float32Array or Float64Array for params["weight"] but received Array(2) of type Array',
      ],
      [
        () => sgd.step(params, { weight: g.weight }),
        'grads["bias"]',
        'Expected a Float32Array of length 5 for grads["bias"] but received undefined of type undefined',
      ],
      [
        () => sgd.step(params, { ...g, bias: new Float32Array(4) }),
        'grads["bias"]',
        'Expected a Float32Array of length 5 for grads["bias"] but received Float32Array(4) of type Float32Array',
      ],
      [
        () => sgd.step(params, { ...g, extra: new Float32Array(3) }),
        'params["extra"]',
        'Expected a Float32Array of length 3 (grads has "extra") for params["extra"] but received undefined of type undefined',
      ],
      [
        () => sgd.step({ ...params, bias: new Float32Array(6) }, { ...g, bias: new Float32Array(6) }),
        'params["bias"]',
        'Expected a Float32Array of length 5 (the length of its optimizer state) for params["bias"] but received Float32Array(6) of type Float32Array',
      ],
      [
        () => sgd.step(params, { ...g, weight: bad }),
        'grads["weight"]',
        'Expected finite values for grads["weight"] but received NaN at index 7 of Float32Array(21) of type Float32Array',
      ],
      [
        () =>
          sgd.step(
            { weight: shared.subarray(0, 21), bias: shared.subarray(20, 25) },
            { weight: g.weight, bias: g.bias },
          ),
        'params["bias"]',
        'Expected a Float32Array that does not share memory with params["weight"] for params["bias"] but received Float32Array(5) of type Float32Array',
      ],
      [
        () => sgd.step({ weight: shared.subarray(0, 21) }, { weight: shared.subarray(5, 26) }),
        'grads["weight"]',
        'Expected a Float32Array that does not share memory with params["weight"] for grads["weight"] but received Float32Array(21) of type Float32Array',
      ],
      [
        () => sgd.step({ weight: shared.subarray(9, 30) }, { weight: shared.subarray(0, 21) }),
        'params["weight"]',
        'Expected a Float32Array that does not share memory with grads["weight"] for params["weight"] but received Float32Array(21) of type Float32Array',
      ],
    ];
    for (const [call, parameter, message] of cases) expectError(call, parameter, message);
    // nothing moved: not the parameters, not the state
    expect(bits(params.weight)).toEqual(bits(before.weight));
    expect(bits(params.bias)).toEqual(bits(before.bias));
    expect(sgd.serializeState()).toEqual(saved);
    // gradients may share memory with each other (they are only read)
    const gs = new Float32Array(21);
    sgd.step({ a: new Float32Array(21), b: new Float32Array(21) }, { a: gs, b: gs });
  });

  test('a step that overflows a parameter completes, then throws a RangeError naming it', () => {
    const sgd = new SGD({ learningRate: 1e30 });
    const params = { w: new Float32Array([1, 3e38]) };
    expect(() => sgd.step(params, { w: new Float32Array([0, -1e10]) })).toThrow(
      'cimm: SGD step 1 made params["w"] non-finite (Infinity at index 1): the learning rate 1e+30 is too large for these gradients, or the parameters were not finite before the step',
    );
    expect(sgd.iterations).toBe(1);
    expect(() => sgd.step(params, { w: new Float32Array([0, -1e10]) })).toThrow(RangeError);
  });

  test('empty parameters and an empty step are fine', () => {
    const adam = new Adam();
    adam.step({}, {});
    adam.step({ e: new Float32Array(0) }, { e: new Float32Array(0) });
    expect(adam.iterations).toBe(2);
  });
});

describe('state', () => {
  function trained(make: () => SGD | Adam, steps = 3) {
    const opt = make();
    const { params, grads } = problem();
    for (let t = 0; t < steps; t++) opt.step(params, grads(t));
    return { opt, params, grads };
  }

  const makers: [string, () => SGD | Adam][] = [
    ['SGD', () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true })],
    ['Adam', () => new Adam({ learningRate: 0.01, amsgrad: true, groups: [{ params: ['bias'], weightDecay: 0.1 }] })],
    ['AdamW', () => new AdamW({ learningRate: 0.01, weightDecay: 0.05 })],
  ];

  for (const [name, make] of makers) {
    test(`${name}: state() → loadState and serializeState() → restoreOptimizer round-trip bit for bit`, () => {
      const { opt, params, grads } = trained(make);
      const state = opt.state();
      const bytes = opt.serializeState();
      // JSON parts survive JSON; tensors survive the binary form bit for bit
      const decoded = decodeOptimizerState(bytes);
      expect(decoded.kind).toBe(name);
      expect(decoded.config).toEqual(JSON.parse(JSON.stringify(state.config)));
      expect(decoded.scalars).toEqual(state.scalars);
      expect(Object.keys(decoded.tensors)).toEqual(Object.keys(state.tensors));
      for (const [k, t] of Object.entries(state.tensors)) expect(bits(decoded.tensors[k])).toEqual(bits(t));

      const fromState = make();
      fromState.loadState(state);
      const fromBytes = restoreOptimizer(bytes);
      expect(fromBytes.kind).toBe(name);
      expect(fromBytes.serializeState()).toEqual(bytes);
      expect(fromState.serializeState()).toEqual(bytes);

      // continuing from a restored optimizer gives the same bits as continuing the original
      const [p1, p2, p3] = [copy(params), copy(params), copy(params)];
      for (let t = 3; t < 6; t++) {
        opt.step(p1, grads(t));
        fromState.step(p2, grads(t));
        fromBytes.step(p3, grads(t));
      }
      for (const k of Object.keys(p1)) {
        expect(bits(p2[k])).toEqual(bits(p1[k]));
        expect(bits(p3[k])).toEqual(bits(p1[k]));
      }
    });
  }

  test('state() is a copy: later steps do not change it', () => {
    const { opt, params, grads } = trained(makers[1][1]);
    const state = opt.state();
    const m = state.tensors['weight/m'].slice();
    opt.step(params, grads(9));
    expect(bits(state.tensors['weight/m'])).toEqual(bits(m));
  });

  test('every bit of a tensor round-trips through the codec, NaN payloads and -0 included; loadState refuses the NaN', () => {
    const odd = new Float32Array(new Uint32Array([0x7fc00001, 0xffa00000, 0x80000000, 0x00000001, 0x7f7fffff]).buffer);
    const state: OptimizerState = {
      kind: 'Adam',
      config: new Adam().getConfig(),
      scalars: { iterations: 1, steps: { 'a/b': 1 } },
      tensors: { 'a/b/m': odd, 'a/b/v': new Float32Array(5) },
    };
    for (const version of [1, 2, 3] as const) {
      const decoded = decodeOptimizerState(encodeOptimizerState(state, { version }));
      expect(bits(decoded.tensors['a/b/m'])).toEqual(bits(odd));
    }
    const decoded = decodeOptimizerState(encodeOptimizerState(state));
    const adam = new Adam();
    expectError(
      () => adam.loadState(decoded),
      'state.tensors["a/b/m"]',
      'Expected finite values for state.tensors["a/b/m"] but received NaN at index 0 of Float32Array(5) of type Float32Array',
    );
    // the finite values (−0, the smallest subnormal, the largest f32) load bit for bit
    const finite = odd.slice(2);
    adam.loadState({ ...state, tensors: { 'a/b/m': finite, 'a/b/v': new Float32Array(3) } });
    expect(bits(adam.state().tensors['a/b/m'])).toEqual(bits(finite));
  });

  test('bad states are rejected, naming what is wrong, and leave the optimizer as it was', () => {
    const { opt } = trained(makers[1][1]);
    const before = opt.serializeState();
    const good = opt.state();
    const legacy = encodeOptimizerState(good, { version: 1 });
    const cases: [unknown, string, string][] = [
      [{ ...good, kind: 'SGD' }, 'state.kind', 'Expected "Adam" for state.kind but received "SGD" of type string'],
      [
        { ...good, config: { ...good.config, beta1: 2 } },
        'state.config.beta1',
        'Expected a number >= 0 and < 1 for state.config.beta1 but received 2 of type number',
      ],
      [
        { ...good, scalars: { iterations: -1, steps: {} } },
        'state.scalars.iterations',
        'Expected an integer >= 0 and <= 9007199254740991 for state.scalars.iterations but received -1 of type number',
      ],
      [
        { ...good, tensors: { ...good.tensors, 'weight/q': new Float32Array(21) } },
        'state.tensors["weight/q"]',
        'Expected a tensor named "<parameter>/<slot>", slot one of m, v, vMax for state.tensors["weight/q"] but received Float32Array(21) of type Float32Array',
      ],
      [
        { ...good, tensors: { ...good.tensors, 'other/m': new Float32Array(2) } },
        'state.tensors["other/m"]',
        'Expected a tensor of a parameter with a step count (state.scalars.steps["other"]) for state.tensors["other/m"] but received Float32Array(2) of type Float32Array',
      ],
      [
        { ...good, tensors: { ...good.tensors, 'weight/v': new Float32Array(20) } },
        'state.tensors["weight/v"]',
        'Expected a Float32Array of length 21 for state.tensors["weight/v"] but received Float32Array(20) of type Float32Array',
      ],
      [
        new Uint8Array([1, 2, 3]),
        'state',
        'Expected an encoded cimm optimizer state (it does not start with "CIMMOPT3", "CIMMOPT2" or "CIMMOPT1") for state but received Uint8Array(3) of type Uint8Array',
      ],
      [
        before.subarray(0, before.length - 4),
        'state',
        `Expected an encoded cimm optimizer state (its bytes do not match their SHA-256: the state was damaged, cut short or edited) for state but received Uint8Array(${before.length - 4}) of type Uint8Array`,
      ],
      [
        legacy.subarray(0, legacy.length - 4),
        'state',
        `Expected an encoded cimm optimizer state (${(legacy.length - 4 - 12 - new DataView(legacy.buffer).getUint32(8, true)) / 4 + 1} values announced, ${(legacy.length - 4 - 12 - new DataView(legacy.buffer).getUint32(8, true)) / 4} present) for state but received Uint8Array(${legacy.length - 4}) of type Uint8Array`,
      ],
      [
        {
          ...good,
          tensors: { ...good.tensors, 'weight/v': good.tensors['weight/v'].map((x, i) => (i === 3 ? -x - 1 : x)) },
        },
        'state.tensors["weight/v"]',
        `Expected finite values >= 0 for state.tensors["weight/v"] but received ${Math.fround(-good.tensors['weight/v'][3] - 1)} at index 3 of Float32Array(21) of type Float32Array`,
      ],
      [
        {
          ...good,
          scalars: { ...good.scalars, steps: { ...good.scalars.steps, weight: good.scalars.iterations + 1 } },
        },
        'state.scalars.steps["weight"]',
        `Expected an integer >= 0 and <= ${good.scalars.iterations} for state.scalars.steps["weight"] but received ${good.scalars.iterations + 1} of type number`,
      ],
      [
        { ...good, config: { ...good.config, amsgrad: false } },
        'state.tensors["weight/vMax"]',
        'Expected no tensor (the options of "weight" need the slots m, v) for state.tensors["weight/vMax"] but received Float32Array(21) of type Float32Array',
      ],
      [
        {
          ...good,
          tensors: Object.fromEntries(Object.entries(good.tensors).filter(([name]) => name !== 'weight/vMax')),
        },
        'state.tensors["weight/vMax"]',
        'Expected a tensor (the options of "weight" need the slots m, v, vMax) for state.tensors["weight/vMax"] but received undefined of type undefined',
      ],
    ];
    for (const [state, parameter, message] of cases)
      expectError(() => opt.loadState(state as never), parameter, message);
    expect(opt.serializeState()).toEqual(before);
  });

  test('the binary form starts with its magic and keeps the data 8-byte aligned', () => {
    const { opt } = trained(makers[2][1]);
    const bytes = opt.serializeState();
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('CIMMOPT3');
    const header = new DataView(bytes.buffer).getUint32(8, true);
    expect((12 + header) % 8).toBe(0);
    // the values, then the SHA-256 of everything before it
    expect(bytes.length).toBe(12 + header + 4 * 2 * (21 + 5) + 32);
  });
});
