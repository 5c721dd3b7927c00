/**
 * The benchmark harness: for each case, every backend (and peer) computes the same result
 * and must agree with the js reference before anything is timed; then each is timed with
 * benchmark.js over several rounds whose order rotates, and the median round is reported.
 * Ratios are taken within one process, against js measured in the same run.
 */
import Benchmark from 'benchmark';

export interface BenchRow {
  kernel: string;
  size: string;
  backend: string;
  /** Operations (kernel calls) per second, median over rounds. */
  hz: number;
  /** Relative margin of error (%) of the median round. */
  rme: number;
}

export interface Contender {
  /** "rust", "cpp", "js", or a peer such as "tfjs-wasm". */
  backend: string;
  /** One timed operation; returns its result for the agreement check. */
  run: () => unknown;
}

export interface BenchCase {
  kernel: string;
  size: string;
  contenders: Contender[];
  /** Throws unless `got` (a contender's result) agrees with `want` (the js result). */
  check: (got: unknown, want: unknown, backend: string) => void;
  /**
   * Runs just before the case (e.g. loads a peer library, which may add contenders): a peer
   * that slows plain JS once loaded then affects only the cases from there on.
   */
  prepare?: () => Promise<void>;
}

export interface HarnessOptions {
  rounds: number;
  /** Seconds benchmark.js spends per contender per round. */
  maxTime: number;
  log?: (line: string) => void;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Check agreement, then time every contender of one case. */
export function runCase(c: BenchCase, opts: HarnessOptions): BenchRow[] {
  const js = c.contenders.find((k) => k.backend === 'js');
  if (!js) throw new Error(`bench case ${c.kernel} ${c.size} has no js contender`);
  const want = js.run();
  for (const k of c.contenders) if (k !== js) c.check(k.run(), want, k.backend);

  const samples = new Map<string, { hz: number; rme: number }[]>();
  for (let round = 0; round < opts.rounds; round++) {
    const order = c.contenders.map((_, i) => c.contenders[(i + round) % c.contenders.length]);
    const suite = new Benchmark.Suite();
    for (const k of order) {
      suite.add(k.backend, k.run, { maxTime: opts.maxTime, minSamples: 5, initCount: 1 });
    }
    suite.on('cycle', (event: Benchmark.Event) => {
      const b = event.target as unknown as Benchmark & { name: string };
      if (b.error) throw b.error;
      const list = samples.get(b.name) ?? [];
      list.push({ hz: b.hz, rme: b.stats.rme });
      samples.set(b.name, list);
    });
    suite.run({ async: false });
  }
  return c.contenders.map((k) => {
    const list = samples.get(k.backend) ?? [];
    const hz = median(list.map((s) => s.hz));
    const closest = list.reduce((a, b) => (Math.abs(b.hz - hz) < Math.abs(a.hz - hz) ? b : a));
    return { kernel: c.kernel, size: c.size, backend: k.backend, hz, rme: closest.rme };
  });
}

/** A fixed-width table: one line per case, ops/s per backend and each one's ratio to js. */
export function formatTable(rows: BenchRow[]): string {
  const backends = [...new Set(rows.map((r) => r.backend))];
  const cases = [...new Map(rows.map((r) => [`${r.kernel}\u0000${r.size}`, r])).values()];
  const header = [
    'kernel',
    'size',
    ...backends.map((b) => `${b} ops/s`),
    ...backends.filter((b) => b !== 'js').map((b) => `${b}/js`),
  ];
  const lines = cases.map((c) => {
    const of = (b: string) => rows.find((r) => r.kernel === c.kernel && r.size === c.size && r.backend === b);
    const js = of('js')?.hz;
    return [
      c.kernel,
      c.size,
      ...backends.map((b) => {
        const r = of(b);
        return r ? `${formatHz(r.hz)} ±${r.rme.toFixed(1)}%` : '';
      }),
      ...backends
        .filter((b) => b !== 'js')
        .map((b) => {
          const hz = of(b)?.hz;
          return hz && js ? `${(hz / js).toFixed(2)}×` : '';
        }),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

function formatHz(hz: number): string {
  if (hz >= 1e6) return `${(hz / 1e6).toFixed(2)}M`;
  if (hz >= 1e3) return `${(hz / 1e3).toFixed(2)}k`;
  return hz >= 10 ? hz.toFixed(1) : hz.toFixed(3);
}
