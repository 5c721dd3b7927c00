/**
 * Agreement with prodigyopt 1.1.2: the trajectories in test/fixtures/prodigy (written by
 * scripts/prodigy-reference.py) are replayed, same initial parameters and gradient
 * sequence, through cimm's Prodigy on every backend (docs/theory.md, "Prodigy").
 *
 * Tolerance, measured and honest: d within 2e-6 relative of prodigyopt's (worst seen
 * 1.1e-6), and every parameter within 1e-6 × the largest |p| of its tensor (worst seen
 * 8.9e-7). Not 1e-6 elementwise relative: prodigyopt sums ⟨g, p0 − p⟩ (torch.dot) and
 * ‖s‖₁ (Tensor.sum) in f32 where cimm sums exactly-formed f64 products in f64, and the
 * dot product cancels (mixed signs), so d differs from step ~5 on by 1e-7 to 1e-6
 * relative; d scales every later step, and parameters that cross zero (e.g. 0.0308 at
 * step 15) then show 1e-5 to 4e-4 relative error on a 1e-7 absolute one. PyTorch also fuses
 * add-with-alpha and addcmul (one rounding where cimm rounds twice). The backends agree
 * with each other bit for bit (the reductions have one fixed order on every backend).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { setBackend } from '../lib/backend.js';
import { Prodigy, type ProdigyConfig, type TensorMap } from '../lib/index.js';
import { backends } from './helpers.js';

interface Fixture {
  name: string;
  config: ProdigyConfig;
  steps: number;
  initial: Record<string, number[]>;
  grads: Record<string, number[]>[];
  trajectory: Record<string, number[]>[];
  d: number[];
}

const dir = join(import.meta.dirname, 'fixtures', 'prodigy');
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));

const TOLERANCE = 1e-6;
const D_TOLERANCE = 2e-6;

const toTensors = (values: Record<string, number[]>): TensorMap =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float32Array.from(v)]));

function replay(fx: Fixture): { params: TensorMap[]; d: number[] } {
  const optimizer = Prodigy.fromConfig(fx.config);
  const params = toTensors(fx.initial);
  const out: TensorMap[] = [];
  const d: number[] = [];
  for (let t = 0; t < fx.steps; t++) {
    optimizer.step(params, toTensors(fx.grads[t]));
    out.push(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.slice()])));
    d.push(optimizer.d);
  }
  return { params: out, d };
}

test('the fixtures cover the Prodigy configurations', () => {
  expect(fixtures.map((f) => f.name)).toEqual(
    expect.arrayContaining([
      'prodigy',
      'prodigy-weight-decay',
      'prodigy-coupled-decay',
      'prodigy-d-coef',
      'prodigy-safeguard-bias',
      'prodigy-growth',
    ]),
  );
  for (const f of fixtures) expect(f.trajectory).toHaveLength(f.steps);
});

for (const fx of fixtures) {
  test(`${fx.name}: every backend follows prodigyopt's d to 2e-6 and its trajectory to 1e-6 of the tensor's scale, bit-identical across backends`, () => {
    const runs = backends.map((b) => {
      setBackend(b.name);
      return { name: b.name, ...replay(fx) };
    });
    let worst = 0;
    const [first] = runs;
    for (let t = 0; t < fx.steps; t++) {
      const ed = Math.abs(first.d[t] - fx.d[t]) / fx.d[t];
      if (!(ed <= D_TOLERANCE))
        throw new Error(`${fx.name} step ${t + 1} d: ${first.d[t]} vs ${fx.d[t]} (relative ${ed})`);
      for (const [k, want] of Object.entries(fx.trajectory[t])) {
        const got = first.params[t][k];
        const scale = Math.max(...want.map(Math.abs));
        for (let i = 0; i < want.length; i++) {
          const e = Math.abs(got[i] - want[i]) / scale;
          if (!(e <= worst)) worst = e;
          if (!(e <= TOLERANCE)) {
            throw new Error(
              `${fx.name} step ${t + 1} ${k}[${i}]: ${got[i]} vs prodigyopt ${want[i]} (${e} of the tensor's largest |p|)`,
            );
          }
        }
        for (const other of runs.slice(1)) {
          expect(other.d[t], `${other.name} d`).toBe(first.d[t]);
          expect(new Uint32Array(other.params[t][k].buffer), `${other.name} vs ${first.name}`).toEqual(
            new Uint32Array(got.buffer),
          );
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
}
