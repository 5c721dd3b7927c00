/**
 * The async kernels' overhead (docs/theory.md, "Async kernels"): matmul 512³ sync against
 * matmulAsync awaited one call at a time, on every backend, interleaved in one loop so both
 * see the same machine load. Also timed: the copy of the inputs the async call makes (A and
 * B, 2 MB, as `slice()`), to set its cost beside the compute. These rows are timed here, not
 * by the harness (benchmark.js times synchronous functions only): per round each variant
 * runs for `maxTime` seconds (at least one call) in rotating order, and the median round is
 * kept (js: one round, its calls take about a second); rme is the spread (max − min) of the
 * rounds over the median, in %.
 */
import type { Kernels } from '../../lib/kernels.js';
import type { BenchRow } from '../harness.js';
import { uniformF32 } from './common.js';

const S = 512;
const SIZE = `${S}x${S}x${S}`;

interface Variant {
  kernel: string;
  run: () => unknown | Promise<unknown>;
}

/** Seconds per call of `run`, over `maxTime` seconds (at least one call). */
async function secondsPerCall(run: Variant['run'], maxTime: number): Promise<number> {
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (calls < 1 || elapsed < maxTime) {
    await run();
    calls++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / calls;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Rows matmulSync / matmulAsync / asyncInputCopy at 512³ for each backend. */
export async function asyncCases(
  backends: Kernels[],
  opts: { rounds: number; maxTime: number; filter?: RegExp },
): Promise<BenchRow[]> {
  const kernels = ['matmulSync', 'matmulAsync', 'asyncInputCopy'];
  if (opts.filter && !kernels.some((k) => opts.filter?.test(`${k} ${SIZE}`))) return [];
  const a = uniformF32(S * S, 3);
  const b = uniformF32(S * S, 4);
  const params = { transA: false, transB: false, m: S, n: S, k: S, alpha: 1, beta: 0 };
  const rows: BenchRow[] = [];
  for (const k of backends) {
    process.stdout.write(`  matmul sync vs async ${SIZE} ${k.name} …`);
    const out = new Float32Array(S * S);
    const variants: Variant[] = [
      {
        kernel: 'matmulSync',
        run: () => k.matmul({ transA: false, transB: false, m: S, n: S, k: S, alpha: 1, beta: 0 }, a, b, out),
      },
      { kernel: 'matmulAsync', run: () => k.matmulAsync(params, a, b, undefined) },
      { kernel: 'asyncInputCopy', run: () => [a.slice(), b.slice()] },
    ];
    variants[0].run();
    if (!sameBits(await k.matmulAsync(params, a, b, undefined), out)) {
      throw new Error(`${k.name}: matmulAsync disagrees with matmul`);
    }
    const rounds = k.name === 'js' ? 1 : opts.rounds;
    const samples = new Map<string, number[]>(variants.map((v) => [v.kernel, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + round) % variants.length];
        samples.get(v.kernel)?.push(await secondsPerCall(v.run, opts.maxTime));
      }
    }
    for (const v of variants) {
      const s = samples.get(v.kernel) ?? [];
      const m = median(s);
      rows.push({
        kernel: v.kernel,
        size: SIZE,
        backend: k.name,
        hz: 1 / m,
        rme: (100 * (Math.max(...s) - Math.min(...s))) / m,
      });
    }
    process.stdout.write(
      ` ${rows
        .slice(-3)
        .map((r) => `${r.kernel} ${r.hz.toPrecision(3)}/s`)
        .join(', ')}\n`,
    );
  }
  return rows;
}

/** Per backend: the async call's time over the sync one, and the input copy's share of it. */
export function asyncReport(rows: BenchRow[]): string[] {
  const lines: string[] = [];
  for (const backend of [...new Set(rows.filter((r) => r.kernel === 'matmulAsync').map((r) => r.backend))]) {
    const hz = (kernel: string) =>
      rows.find((r) => r.kernel === kernel && r.backend === backend && r.size === SIZE)?.hz;
    const [sync, async, copy] = [hz('matmulSync'), hz('matmulAsync'), hz('asyncInputCopy')];
    if (!sync || !async || !copy) continue;
    const ms = (h: number) => (1e3 / h).toFixed(2);
    lines.push(
      `matmul ${SIZE} ${backend}: sync ${ms(sync)} ms, async ${ms(async)} ms (${(sync / async).toFixed(3)}× the sync time); ` +
        `copying A and B ${ms(copy)} ms = ${((100 * sync) / copy).toFixed(1)}% of the sync compute`,
    );
  }
  return lines;
}
