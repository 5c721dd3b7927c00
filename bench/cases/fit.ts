/**
 * Bench rows for training (docs/theory.md, "One training stack"): `Trainer.fit` on an
 * MLP, one epoch of batches per operation, on every backend with `fitSync` and on the
 * native backends with the non-blocking `fit` as well ("rust-async"), timed in one
 * process, interleaved (the order rotates each round), reported as steps per second.
 *
 * Targets (issue 11): rust ≥ 50× js on 784-512-512-10 at batch 128; the async path
 * within 5% of the sync one. The async path's cost is one setImmediate turn per batch,
 * so it is reported on a small model too, where a step is short and the turn shows.
 *
 * benchmark.js times synchronous functions only, so these rows have their own timer:
 * each contender runs whole fits until `maxTime` has passed (at least one), per round;
 * the median round is reported, its rme from the spread of the fits in it.
 *
 * Agreement: the first step's loss agrees with js to 1e-4 relative (f32 GEMMs of 784
 * terms summed in different orders), and the async fit's history equals the sync one's
 * bit for bit (one loop).
 */
import { backendInfo, setBackend } from '../../lib/backend.js';
import type { BackendName } from '../../lib/kernels.js';
import { SoftmaxCrossEntropy } from '../../lib/nn/losses.js';
import { mlp } from '../../lib/nn/sequential.js';
import { Adam } from '../../lib/optim/adam.js';
import { type History, Trainer } from '../../lib/train/trainer.js';
import type { BenchRow } from '../harness.js';
import { type BackendList, uniformF32 } from './common.js';

/** [sizes, batch, batches per fit on js, batches per fit on a native backend] */
const SIZES: [sizes: number[], batch: number, jsSteps: number, nativeSteps: number][] = [
  [[64, 128, 128, 10], 32, 8, 64],
  [[784, 512, 512, 10], 128, 2, 16],
];

interface FitContender {
  backend: string;
  steps: number;
  fit: () => History | Promise<History>;
}

function contenders(backends: BackendList, sizes: number[], batch: number, jsSteps: number, nativeSteps: number) {
  const out: FitContender[] = [];
  for (const k of backends) {
    const steps = k.name === 'js' ? jsSteps : nativeSteps;
    const rows = steps * batch;
    const x = uniformF32(rows * sizes[0], 1, 0, 1);
    const y = Float32Array.from({ length: rows }, (_, i) => (i * 7) % sizes[sizes.length - 1]);
    const make = () =>
      new Trainer({
        model: mlp(sizes, { activation: 'relu', seed: 1, kernels: k }),
        loss: new SoftmaxCrossEntropy(),
        optimizer: new Adam({ learningRate: 1e-4 }),
      });
    const sync = make();
    const opts = { epochs: 1, batchSize: batch, shuffle: false };
    // the optimizer runs on the active backend: select this one for the fit's duration
    const on = <T>(run: () => T): T => {
      const previous = backendInfo().name as BackendName;
      setBackend(k.name as BackendName);
      try {
        return run();
      } finally {
        setBackend(previous);
      }
    };
    out.push({ backend: k.name, steps, fit: () => on(() => sync.fitSync({ x, y }, opts)) });
    if (k.name !== 'js') {
      const async_ = make();
      out.push({
        backend: `${k.name}-async`,
        steps,
        fit: async () => {
          const previous = backendInfo().name as BackendName;
          setBackend(k.name as BackendName);
          try {
            return await async_.fit({ x, y }, opts);
          } finally {
            setBackend(previous);
          }
        },
      });
    }
  }
  return out;
}

/** Check agreement, then time every contender; rows in steps per second. */
export async function fitRows(
  backends: BackendList,
  opts: { rounds: number; maxTime: number; filter?: RegExp; log?: (s: string) => void },
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [sizes, batch, jsSteps, nativeSteps] of SIZES) {
    const size = `${sizes.join('-')},batch=${batch}`;
    if (opts.filter && !opts.filter.test(`fit ${size}`)) continue;
    opts.log?.(`  fit ${size} …`);
    const list = contenders(backends, sizes, batch, jsSteps, nativeSteps);
    // agreement (the first fit of each; every trainer then continues from where it is)
    const first = new Map<string, History>();
    for (const c of list) first.set(c.backend, await c.fit());
    const want = (first.get('js') as History).steps[0].loss;
    for (const [name, h] of first) {
      const got = h.steps[0].loss;
      if (!(Math.abs(got - want) <= 1e-4 * Math.abs(want)))
        throw new Error(`fit ${size}: ${name} first loss ${got} disagrees with js ${want}`);
      const sync = first.get(name.replace(/-async$/, '')) as History;
      if (name.endsWith('-async') && JSON.stringify(h) !== JSON.stringify(sync))
        throw new Error(`fit ${size}: ${name}'s history differs from the sync fit's`);
    }
    const samples = new Map<string, { hz: number; rme: number }[]>();
    for (let round = 0; round < opts.rounds; round++) {
      for (let i = 0; i < list.length; i++) {
        const c = list[(i + round) % list.length];
        const times: number[] = [];
        const t0 = performance.now();
        do {
          const t = performance.now();
          await c.fit();
          times.push((performance.now() - t) / 1000);
        } while (performance.now() - t0 < opts.maxTime * 1000);
        const mean = times.reduce((a, b) => a + b, 0) / times.length;
        const sd =
          times.length > 1 ? Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / (times.length - 1)) : 0;
        const s = samples.get(c.backend) ?? [];
        s.push({ hz: c.steps / mean, rme: (100 * 1.96 * sd) / Math.sqrt(times.length) / mean });
        samples.set(c.backend, s);
      }
    }
    for (const c of list) {
      const s = [...(samples.get(c.backend) ?? [])].sort((a, b) => a.hz - b.hz);
      const mid = s[Math.floor((s.length - 1) / 2)];
      rows.push({ kernel: 'fit', size, backend: c.backend, hz: mid.hz, rme: mid.rme });
    }
    opts.log?.(
      ` ${list.map((c) => `${c.backend} ${rows.find((r) => r.size === size && r.backend === c.backend)?.hz.toPrecision(3)} steps/s`).join(', ')}\n`,
    );
  }
  return rows;
}

/** The targets' ratios from the fit rows: native/js and async/sync per size. */
export function fitReport(rows: BenchRow[]): string[] {
  const fit = rows.filter((r) => r.kernel === 'fit');
  const sizes = [...new Set(fit.map((r) => r.size))];
  const lines: string[] = [];
  for (const size of sizes) {
    const hz = (b: string) => fit.find((r) => r.size === size && r.backend === b)?.hz;
    const js = hz('js');
    for (const b of ['rust', 'cpp']) {
      const sync = hz(b);
      const async_ = hz(`${b}-async`);
      if (sync === undefined) continue;
      const parts = [`fit ${size}: ${b} ${sync.toPrecision(3)} steps/s`];
      if (js) parts.push(`${(sync / js).toFixed(1)}× js (target ≥ 50× on 784-512-512-10)`);
      if (async_) parts.push(`async/sync ${(async_ / sync).toFixed(3)} (target ≥ 0.95)`);
      lines.push(parts.join(', '));
    }
  }
  return lines;
}
