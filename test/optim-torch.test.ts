/**
 * Agreement with PyTorch: the trajectories in test/fixtures/torch (written by
 * scripts/torch-reference.py with torch.optim 1.13) are replayed, same initial parameters
 * and same gradient sequence, through cimm's SGD/Adam/AdamW on every backend.
 *
 * Tolerance: every parameter after every step within 1e-6 relative of PyTorch's,
 * |p − p_torch| ≤ 1e-6·|p_torch| (the parameters stay in ±[0.3, 2] in these problems). PyTorch
 * fuses its add-with-alpha and addcmul steps (one rounding where cimm rounds twice), so
 * single values differ by about an f32 ulp (6e-8 relative) and the difference stays a few
 * ulps over 20 steps. The backends agree with each other bit for bit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { setBackend } from '../lib/backend.js';
import { type Optimizer, type OptimizerOptions, optimizerFromConfig, type TensorMap } from '../lib/index.js';
import { backends } from './helpers.js';

interface Fixture {
  name: string;
  optimizer: string;
  config: unknown;
  steps: number;
  initial: Record<string, number[]>;
  grads: Record<string, number[]>[];
  trajectory: Record<string, number[]>[];
}

const dir = join(import.meta.dirname, 'fixtures', 'torch');
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));

const TOLERANCE = 1e-6;

const toTensors = (values: Record<string, number[]>): TensorMap =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float32Array.from(v)]));

/** Replay a fixture; returns the parameters after each step (copies). */
function replay(fx: Fixture): TensorMap[] {
  const optimizer = optimizerFromConfig(fx.optimizer, fx.config) as Optimizer<OptimizerOptions>;
  const params = toTensors(fx.initial);
  const out: TensorMap[] = [];
  for (let t = 0; t < fx.steps; t++) {
    optimizer.step(params, toTensors(fx.grads[t]));
    out.push(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.slice()])));
  }
  return out;
}

test('the fixtures cover every optimizer configuration', () => {
  const names = fixtures.map((f) => f.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'sgd-plain',
      'sgd-momentum',
      'sgd-nesterov',
      'sgd-weight-decay',
      'adam',
      'adam-weight-decay',
      'adam-amsgrad',
      'adamw',
    ]),
  );
  for (const f of fixtures) expect(f.trajectory).toHaveLength(f.steps);
});

for (const fx of fixtures) {
  test(`${fx.name}: every backend follows PyTorch's trajectory to 1e-6 relative, bit-identical across backends`, () => {
    const runs = backends.map((b) => {
      setBackend(b.name);
      return { name: b.name, trajectory: replay(fx) };
    });
    let worst = 0;
    const [first] = runs;
    for (let t = 0; t < fx.steps; t++) {
      for (const [k, want] of Object.entries(fx.trajectory[t])) {
        const got = first.trajectory[t][k];
        for (let i = 0; i < want.length; i++) {
          const e = Math.abs(got[i] - want[i]) / Math.abs(want[i]);
          if (!(e <= worst)) worst = e;
          if (!(e <= TOLERANCE)) {
            throw new Error(`${fx.name} step ${t + 1} ${k}[${i}]: ${got[i]} vs torch ${want[i]} (relative ${e})`);
          }
        }
        for (const other of runs.slice(1)) {
          expect(new Uint32Array(other.trajectory[t][k].buffer), `${other.name} vs ${first.name}`).toEqual(
            new Uint32Array(got.buffer),
          );
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
}
