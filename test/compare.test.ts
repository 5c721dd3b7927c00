import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  type CompareOptions,
  compare,
  htmlReport,
  lineChart,
  lineChartSpec,
  logGrid,
  markdownReport,
  planJobs,
  plots,
  renderSvg,
  runJob,
  summarizeAll,
  summarizeTask,
  TASK_NAMES,
  writeReport,
} from '../lib/compare/index.js';

/** A small comparison: every task, two optimizers, 2 η, 2 seeds, a few steps. */
const SMALL: CompareOptions = {
  quick: true,
  optimizers: ['SGD', 'Adam', 'fixed', 'inverse-visit-count'],
  seeds: 2,
  steps: 12,
  learningRates: [1e-2, 1e-1],
  workers: 0,
};

/** Drop wall times so runs compare by their numbers only. */
const strip = (r: Awaited<ReturnType<typeof compare>>) =>
  JSON.parse(
    JSON.stringify({ ...r, tasks: r.tasks.map((t) => ({ ...t, runs: t.runs.map(({ ms: _ms, ...x }) => x) })) }),
  );

/**
 * A minimal XML well-formedness check: every tag closes in order, attributes are quoted,
 * and & starts a known entity. Enough for the SVG writer's output.
 */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>/, '');
  if (/&(?!(lt|gt|amp|apos|quot|#\d+);)/.test(body)) return false;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|>/g;
  let m: RegExpExecArray | null;
  let roots = 0;
  for (m = tag.exec(body); m; m = tag.exec(body)) {
    if (m[0] === '<' || m[0] === '>') return false;
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) return false;
    } else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  return stack.length === 0 && roots === 1;
}

describe('compare: plan', () => {
  it('crosses tasks × optimizers × η × seeds, with an extra run at an off-grid default', () => {
    const { jobs, grids } = planJobs({ ...SMALL, tasks: ['least-squares'], optimizers: ['Adam'] });
    // 2 swept η + the default 1e-3 (off this grid), × 2 seeds
    expect(jobs.length).toBe(6);
    expect(jobs.filter((j) => j.atDefault).map((j) => j.lr)).toEqual([1e-3, 1e-3]);
    expect(grids.get('least-squares')).toEqual([1e-2, 1e-1]);
  });

  it('skips optimizers that are not registered, with a reason', () => {
    const { skipped } = planJobs({ quick: true });
    for (const s of skipped) expect(s.reason).toMatch(/not (registered|part of)/);
  });

  it('log grids are inclusive', () => {
    expect(logGrid(1e-4, 1, 9)).toEqual([1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1, 0.316, 1]);
  });
});

describe('compare: runs', () => {
  it('is deterministic for a seed (same job, same curve), and seeds differ', () => {
    const job = {
      id: 0,
      task: 'iris' as const,
      optimizer: 'Adam',
      lr: 1e-2,
      seed: 3,
      steps: 20,
      points: 5,
      atDefault: false,
    };
    const a = runJob(job);
    const b = runJob(job);
    expect({ ...a, ms: 0 }).toEqual({ ...b, ms: 0 });
    const c = runJob({ ...job, seed: 4 });
    expect(c.curve).not.toEqual(a.curve);
  });

  it('marks a run whose parameters blow up as diverged instead of throwing', () => {
    const r = runJob({
      id: 0,
      task: 'least-squares',
      optimizer: 'SGD',
      lr: 1e6,
      seed: 0,
      steps: 50,
      points: 5,
      atDefault: false,
    });
    expect(r.diverged).toBe(true);
    expect(r.finalMetric).toBeNaN();
  });

  it('the same options give the same report, and it has every task', async () => {
    const a = await compare(SMALL);
    const b = await compare(SMALL);
    expect(strip(a)).toEqual(strip(b));
    expect(a.tasks.map((t) => t.name)).toEqual([...TASK_NAMES]);
    expect(a.complete).toBe(true);
    const md = markdownReport(a);
    for (const t of TASK_NAMES) expect(md).toContain(`## ${t}`);
  });

  it('writes report.md, report.json (tasks: one entry per task) and well-formed SVGs', async () => {
    const r = await compare(SMALL);
    const dir = mkdtempSync(join(tmpdir(), 'cimm-compare-'));
    const { files, note } = await writeReport(r, dir);
    expect(files.length).toBe(3 + 6 * TASK_NAMES.length);
    expect(note).toBeUndefined();
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(json.tasks.map((t: { name: string }) => t.name)).toEqual([...TASK_NAMES]);
    for (const t of json.tasks) {
      expect(Object.keys(t)).toEqual(expect.arrayContaining(['name', 'target', 'runs', 'summary']));
    }
    expect(json.summary.selfTuning.length).toBeGreaterThan(0);
    const svgs = readdirSync(join(dir, 'plots')).filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBe(3 * TASK_NAMES.length);
    for (const f of svgs) {
      const svg = readFileSync(join(dir, 'plots', f), 'utf8');
      expect(wellFormed(svg), f).toBe(true);
      // the spec beside it renders to the same SVG
      const spec = JSON.parse(readFileSync(join(dir, 'plots', f.replace(/\.svg$/, '.vl.json')), 'utf8'));
      expect(await renderSvg(spec), f).toBe(svg);
    }
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html.match(/<svg /g)?.length).toBe(svgs.length);
    // the Markdown is rendered: headings and tables, no raw Markdown in a <pre>
    expect(html).not.toContain('<pre>');
    expect(html).not.toMatch(/^#+ |\|---\|/m);
    // the summary, then per task the defaults-beside-tuned-Adam table and the sweep table
    expect(html.match(/<table>/g)?.length).toBe(1 + 2 * TASK_NAMES.length);
    expect(html).toContain('<th>optimizer</th>');
    // each task's plots come after its heading and before the next task's, captioned with what they show
    const at = (s: string) => html.indexOf(s);
    TASK_NAMES.forEach((t, i) => {
      expect(at(`id="plot-${t}-curves"`)).toBeGreaterThan(at(`<h2>${t}</h2>`));
      expect(at(`id="plot-${t}-loss"`)).toBeGreaterThan(at(`id="plot-${t}-curves"`));
      if (i + 1 < TASK_NAMES.length)
        expect(at(`id="plot-${t}-sensitivity"`)).toBeLessThan(at(`<h2>${TASK_NAMES[i + 1]}</h2>`));
    });
    expect(html).toContain(
      '<figcaption>least-squares: final distanceToOptimum against the learning rate η, per optimizer (mean over 2 seeds; diverged settings left out) — how much tuning matters</figcaption>',
    );
    expect(html).not.toMatch(/<figcaption>[^<]*\.svg<\/figcaption>/);
    expect(html).not.toMatch(/<p>\s*<figure/);
    expect(await plots(r)).toEqual(new Map(svgs.map((f) => [f, readFileSync(join(dir, 'plots', f), 'utf8')])));
  });

  it('a partial result set gives a partial report', async () => {
    const { jobs, skipped, grids } = planJobs(SMALL);
    const done = jobs.slice(0, 5).map(runJob);
    const r = buildReport(SMALL, jobs.length, done, skipped, grids);
    expect(r.complete).toBe(false);
    expect(markdownReport(r)).toMatch(/Partial report: 5 of/);
  });
});

describe('compare: summary', () => {
  const target = { metric: 'm', value: 0.9, direction: 'max' as const, reason: '' };
  const run = (
    optimizer: string,
    lr: number,
    seed: number,
    final: number,
    steps: number | null,
    atDefault = false,
  ) => ({
    id: 0,
    task: 't',
    optimizer,
    lr,
    seed,
    atDefault,
    curve: [],
    finalMetric: final,
    finalLoss: 0,
    stepsToTarget: steps,
    diverged: Number.isNaN(final),
    ms: 0,
  });

  it('best η, sensitivity, median steps and the 1.5× rule', () => {
    const runs = [
      run('Adam', 0.01, 0, 0.95, 100, true),
      run('Adam', 0.01, 1, 0.93, 120, true),
      run('Adam', 0.1, 0, 0.8, null),
      run('Adam', 0.1, 1, 0.7, null),
      run('X', 0.01, 0, 0.99, 140, true),
      run('X', 0.01, 1, 0.99, 160, true),
      run('X', 0.1, 0, Number.NaN, null),
      run('X', 0.1, 1, 0.5, null),
    ];
    const s = summarizeTask(target, runs, false, [0.01, 0.1]);
    const adam = s.optimizers.find((o) => o.optimizer === 'Adam');
    const x = s.optimizers.find((o) => o.optimizer === 'X');
    expect(adam?.best?.lr).toBe(0.01);
    expect(adam?.best?.meanFinal).toBeCloseTo(0.94, 12);
    expect(adam?.sensitivity).toBeCloseTo(0.94 - 0.75, 12);
    expect(s.referenceSteps).toBe(110);
    // X at its default: median 150 ≤ 1.5 × 110
    expect(s.withinBudget).toEqual({ Adam: true, X: true });
    expect(x?.divergedLrs).toBe(1);
    expect(x?.sensitivity).toBe(0);
  });

  it('each optimizer at its defaults beside the best-tuned Adam: a metric ratio in mini-batches, a steps ratio full batch', () => {
    const runs = [
      run('Adam', 0.01, 0, 0.96, 300),
      run('Adam', 0.01, 1, 0.94, 500),
      run('Adam', 0.1, 0, 0.9, 200),
      run('Adam', 0.1, 1, 0.9, 200),
      run('Adam', 0.001, 0, 0.8, null, true),
      run('Adam', 0.001, 1, 0.84, null, true),
      run('X', 0.001, 0, 0.5, 600, true),
      run('X', 0.001, 1, 0.7, 600, true),
    ];
    const mini = summarizeTask(target, runs, false, [0.01, 0.1], 'mini-batch');
    expect(mini.regime).toBe('mini-batch');
    // best-tuned Adam: the η with the best mean final (0.01: 0.95), not the fastest (0.1: 200 steps)
    expect(mini.tunedReference?.lr).toBe(0.01);
    expect(mini.referenceSteps).toBe(200);
    const adam = mini.atDefaults.find((d) => d.optimizer === 'Adam');
    const x = mini.atDefaults.find((d) => d.optimizer === 'X');
    expect(adam?.meanFinal).toBeCloseTo(0.82, 12);
    expect(adam?.ratio).toBeCloseTo(0.82 / 0.95, 12);
    expect(x).toMatchObject({ lr: 0.001, stepsToTarget: 600 });
    expect(x?.sdFinal).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    expect(x?.ratio).toBeCloseTo(0.6 / 0.95, 12);
    const full = summarizeTask(target, runs, false, [0.01, 0.1], 'full-batch');
    expect(full.atDefaults.find((d) => d.optimizer === 'X')?.ratio).toBe(3);
    expect(full.atDefaults.find((d) => d.optimizer === 'Adam')?.ratio).toBeNull(); // never reached
  });

  it('the overall summary: within 1.5× of the reference, and reaching the target at defaults at all', () => {
    const fast = summarizeTask(
      target,
      [run('Adam', 0.1, 0, 0.95, 100), run('X', 0.01, 0, 0.95, 400, true), run('Y', 0.01, 0, 0.5, null, true)],
      false,
      [0.01, 0.1],
    );
    const noRef = summarizeTask(
      target,
      [run('Adam', 0.1, 0, 0.5, null), run('X', 0.01, 0, 0.95, 50, true)],
      false,
      [0.01, 0.1],
    );
    const all = summarizeAll([
      { name: 'a', summary: fast },
      { name: 'b', summary: noRef },
    ]);
    const x = all.selfTuning.find((s) => s.optimizer === 'X');
    const y = all.selfTuning.find((s) => s.optimizer === 'Y');
    // X: 400 steps > 1.5 × 100 on a, and b is not counted (Adam never reached it); it reaches the target on both
    expect(x).toMatchObject({ reached: 0, counted: 1, tasks: [], reachedAtDefault: ['a', 'b'], ranAtDefault: 2 });
    expect(y).toMatchObject({ reached: 0, counted: 1, reachedAtDefault: [], ranAtDefault: 1 });
    expect(all.uncounted).toEqual(['b']);
  });
});

describe('plots', () => {
  const names = ['SGD (η 1e-2)', 'entropy-balanced (η+)', 'Adam (η 1e-3)'];
  const three = names.map((name, i) => ({
    name,
    points: [1, 2, 3].map((x) => ({ x: 10 ** -x, y: (i + 1) * x })),
  }));
  const opts = { title: 'T', xLabel: 'learning rate η', yLabel: 'final loss' };
  /** The parts of a spec the tests read (vega-lite's own types are unions too wide to index). */
  type Channel = { scale?: { type?: string; domain?: string[] } } & Record<string, unknown>;
  const view = (spec: unknown) =>
    spec as { mark: unknown; data: { values: unknown[] }; encoding: Record<'x' | 'y' | 'color', Channel> };

  it('a line chart with points, coloured by series in the given order', () => {
    const spec = view(lineChartSpec(three, { ...opts, logX: true }));
    expect(spec.mark).toMatchObject({ type: 'line', point: expect.anything() });
    expect(spec.encoding.x).toMatchObject({ field: 'x', title: 'learning rate η', scale: { type: 'log' } });
    expect(spec.encoding.y.title).toBe('final loss');
    expect(spec.encoding.y.scale?.type).toBeUndefined();
    expect(spec.encoding.color).toMatchObject({ field: 'series', sort: null, scale: { domain: names } });
    expect(spec.data.values).toHaveLength(9);
    expect(view(lineChartSpec(three, { ...opts, logY: true })).encoding.y).toMatchObject({ scale: { type: 'log' } });
  });

  it('long curves are drawn without markers, values kept to 7 significant digits', () => {
    const long = [{ name: 'a', points: Array.from({ length: 101 }, (_, k) => ({ x: k, y: Math.PI * k })) }];
    const spec = view(lineChartSpec(long, opts));
    expect(spec.mark).toEqual({ type: 'line', strokeWidth: 1.5 });
    expect(spec.data.values[1]).toEqual({ series: 'a', x: 1, y: Number(Math.PI.toPrecision(7)) });
  });

  it('drops non-finite points, non-positive ones on a log axis, and series left empty', () => {
    const spec = view(
      lineChartSpec(
        [
          {
            name: 'a',
            points: [
              { x: 1, y: 1e-6 },
              { x: 2, y: 0 },
              { x: 3, y: Number.NaN },
              { x: Number.POSITIVE_INFINITY, y: 1 },
              { x: 4, y: 1 },
            ],
          },
          { name: 'b', points: [{ x: 1, y: -1 }] },
        ],
        { ...opts, logY: true },
      ),
    );
    expect(spec.data.values).toEqual([
      { series: 'a', x: 1, y: 1e-6 },
      { series: 'a', x: 4, y: 1 },
    ]);
    expect(spec.encoding.color.scale?.domain).toEqual(['a']);
    expect(JSON.stringify(spec)).not.toMatch(/NaN|Infinity|null,\s*"y"/);
  });

  it('the SVG has the title, axis titles and series names, escaped', async () => {
    const svg = await lineChart([...three, { name: 'a<b & "c"', points: [{ x: 1e-2, y: 2 }] }], {
      ...opts,
      title: 'T & U',
      logX: true,
    });
    expect(wellFormed(svg)).toBe(true);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of [...names, 'T &amp; U', 'learning rate η', 'final loss', 'a&lt;b &amp;'])
      expect(svg, text).toContain(text);
    expect(svg).toMatch(/<path[^>]* d="M[^"]+L/);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('an empty chart is a valid SVG that says "no data"', async () => {
    const svg = await lineChart([], { ...opts, logX: true, logY: true });
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('no data');
    expect(wellFormed(await lineChart([{ name: 'x', points: [{ x: 0, y: Number.NaN }] }], opts))).toBe(true);
  });

  it('rendering is deterministic: same spec, same bytes', async () => {
    const spec = lineChartSpec(three, { ...opts, logX: true, logY: true });
    const a = await renderSvg(spec);
    await lineChart(three, opts);
    expect(await renderSvg(spec)).toBe(a);
  });

  it('rejects a bad size', () => {
    expect(() => lineChartSpec(three, { ...opts, width: 0 })).toThrow(/Expected an integer >= 50 for width/);
  });

  it('the HTML page puts plots where the markdown links them and the rest at the end', () => {
    const html = htmlReport(
      '# R\n\n## a\n\n![c](plots/a.svg)\n\n## b\n',
      new Map([
        ['a.svg', '<svg id="A"></svg>'],
        ['z.svg', '<svg id="Z"></svg>'],
      ]),
    );
    expect(html.indexOf('id="A"')).toBeGreaterThan(html.indexOf('<h2>a</h2>'));
    expect(html.indexOf('id="A"')).toBeLessThan(html.indexOf('<h2>b</h2>'));
    expect(html.indexOf('id="Z"')).toBeGreaterThan(html.indexOf('<h2>b</h2>'));
    expect(html).toContain('<figcaption>c</figcaption>');
    expect(html).not.toContain('![c]');
  });
});
