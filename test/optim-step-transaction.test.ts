/**
 * A step is one transaction over its arguments (issue 15, item 6):
 * - each argument is read once: a getter (or a Proxy) on `grads`, `params` or the
 *   observation cannot hand the checks clean values and the update NaN;
 * - a rejected step (non-finite gradients, a wrong length or dtype, a missing gradient, a
 *   Proxy for an array) changes nothing: the parameters, the moments, a rule's own state
 *   (meters, η, counters) and what serializeState() writes are bit-identical to before, and
 *   the optimizer continues exactly as a twin that never saw the call.
 * For every kind of optimizer (test/optimizer-kinds.ts).
 */
import { describe, expect, test } from 'vitest';
import { CimmArgumentError, type RealTensorMap, SGD } from '../lib/index.js';
import { deterministic, OPTIMIZER_KINDS, trainedWith } from './optimizer-kinds.js';

const bits = (a: Float32Array | Float64Array) =>
  Array.from(
    a instanceof Float64Array
      ? new BigUint64Array(a.buffer, a.byteOffset, a.length)
      : new Uint32Array(a.buffer, a.byteOffset, a.length),
    String,
  );
const snapshot = (params: RealTensorMap) => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, bits(v)]));

/** Two optimizers in the same state over two copies of the same problem. */
function twins(make: Parameters<typeof trainedWith>[0]) {
  return [trainedWith(make), trainedWith(make)] as const;
}

describe.each(OPTIMIZER_KINDS)('%s', (name, make) => {
  // twins compare their saved states only when those hold no CPU-time reading
  const same = deterministic(name);

  test('a getter on grads, params and the observation is read once: the update uses what the check saw', () => {
    const [a, b] = twins(make);
    const loss = a.evaluate();
    b.evaluate();
    const clean = a.grads.w.slice();
    const poisoned = clean.map(() => Number.NaN);
    let gradReads = 0;
    const grads = Object.defineProperty({ b: a.grads.b }, 'w', {
      enumerable: true,
      get: () => (gradReads++ === 0 ? clean : poisoned),
    }) as RealTensorMap;
    let paramReads = 0;
    const params = new Proxy(a.params, {
      get: (target, key, receiver) => {
        if (key === 'w') paramReads++;
        // after the first read, another array: an update through it would miss the parameter
        return key === 'w' && paramReads > 1 ? target.w.slice() : Reflect.get(target, key, receiver);
      },
    });
    let lossReads = 0;
    const observation = Object.defineProperty({}, 'loss', {
      enumerable: true,
      get: () => (lossReads++ === 0 ? loss : Number.NaN),
    });
    a.opt.step(params, grads, observation);
    b.opt.step(b.params, b.grads, { loss });
    expect([gradReads, paramReads]).toEqual([1, 1]);
    expect(lossReads).toBeLessThanOrEqual(1); // the plain optimizers ignore the observation
    expect(snapshot(a.params)).toEqual(snapshot(b.params));
    if (same) expect(a.opt.serializeState()).toEqual(b.opt.serializeState());
  });

  test('a Proxy of a typed array is refused (its elements could read one way, then another)', () => {
    const { opt, params, grads, evaluate } = trainedWith(make);
    const before = opt.serializeState();
    const p = snapshot(params);
    const proxied = { ...grads, w: new Proxy(grads.w, {}) };
    expect(() => opt.step(params, proxied, { loss: evaluate() })).toThrow(CimmArgumentError);
    expect(() => opt.step(params, proxied, { loss: evaluate() })).toThrow(/grads\["w"\]/);
    expect(opt.serializeState()).toEqual(before);
    expect(snapshot(params)).toEqual(p);
  });

  test('a rejected step changes nothing, saved state included, and the run continues as if it never happened', () => {
    const [a, b] = twins(make);
    const rejected: [string, (g: RealTensorMap) => RealTensorMap][] = [
      ['a NaN gradient', (g) => ({ ...g, w: g.w.map((v, i) => (i === 2 ? Number.NaN : v)) })],
      ['an infinite gradient', (g) => ({ ...g, b: g.b.map((v, i) => (i === 1 ? Number.NEGATIVE_INFINITY : v)) })],
      ['a gradient of another length', (g) => ({ ...g, w: g.w.subarray(1) })],
      ['a gradient of another dtype', (g) => ({ ...g, b: Float32Array.from(g.b) })],
      ['a missing gradient', (g) => ({ w: g.w })],
      ['a gradient without its parameter', (g) => ({ ...g, extra: new Float32Array(2) })],
    ];
    // the stabilized optimizer zeroes non-finite gradient entries by design (its controller
    // counts them): for it those are handled inputs, not rejected steps
    const cases = name.startsWith('Stabilized') ? rejected.filter(([what]) => !/NaN|infinite/.test(what)) : rejected;
    const loss = a.evaluate();
    for (const [what, edit] of cases) {
      const before = a.opt.serializeState();
      const p = snapshot(a.params);
      const g = snapshot(a.grads);
      expect(() => a.opt.step(a.params, edit(a.grads), { loss }), what).toThrow(CimmArgumentError);
      expect(a.opt.serializeState(), what).toEqual(before);
      expect(snapshot(a.params), what).toEqual(p);
      expect(snapshot(a.grads), what).toEqual(g);
    }
    // the twin never saw those calls: both continue identically
    for (let t = 0; t < 3; t++) {
      const l = t === 0 ? loss : a.evaluate();
      b.evaluate();
      a.opt.step(a.params, a.grads, { loss: l });
      b.opt.step(b.params, b.grads, { loss: l });
    }
    expect(snapshot(a.params)).toEqual(snapshot(b.params));
    if (same) expect(a.opt.serializeState()).toEqual(b.opt.serializeState());
  });
});

test('the copies keep a parameter named "__proto__" as an own entry', () => {
  const p = new Float32Array([1, 2]);
  const params = JSON.parse('{"__proto__": 0, "w": 0}') as RealTensorMap;
  const grads = JSON.parse('{"__proto__": 0, "w": 0}') as RealTensorMap;
  for (const m of [params, grads]) Object.defineProperty(m, '__proto__', { enumerable: true, writable: true });
  Object.defineProperty(params, '__proto__', { value: p });
  Object.defineProperty(grads, '__proto__', { value: new Float32Array([1, 1]) });
  params.w = new Float32Array([3]);
  grads.w = new Float32Array([1]);
  const opt = new SGD({ learningRate: 0.5 });
  opt.step(params, grads);
  expect([...p]).toEqual([0.5, 1.5]);
  expect(Object.keys(opt.state().scalars.steps)).toEqual(['__proto__', 'w']);
});
