import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  type CompareOptions,
  compare,
  lineChart,
  logGrid,
  markdownReport,
  planJobs,
  runJob,
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
    writeReport(r, dir);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(json.tasks.map((t: { name: string }) => t.name)).toEqual([...TASK_NAMES]);
    for (const t of json.tasks) {
      expect(Object.keys(t)).toEqual(expect.arrayContaining(['name', 'target', 'runs', 'summary']));
    }
    expect(json.summary.selfTuning.length).toBeGreaterThan(0);
    const svgs = readdirSync(join(dir, 'plots'));
    expect(svgs.length).toBe(2 * TASK_NAMES.length);
    for (const f of svgs) expect(wellFormed(readFileSync(join(dir, 'plots', f), 'utf8')), f).toBe(true);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html.match(/<svg /g)?.length).toBe(svgs.length);
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
});

describe('plots', () => {
  it('escapes text and skips non-finite points', () => {
    const svg = lineChart(
      [
        {
          name: 'a<b & "c"',
          points: [
            { x: 1e-3, y: 1 },
            { x: 1e-2, y: Number.NaN },
            { x: 1e-1, y: 2 },
          ],
        },
        { name: 'empty', points: [] },
      ],
      { title: 'T & U', xLabel: 'η', yLabel: 'y', logX: true },
    );
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
    expect(svg).not.toContain('NaN');
  });

  it('log y skips non-positive values and labels decades', () => {
    const svg = lineChart(
      [
        {
          name: 'd',
          points: [
            { x: 1, y: 1e-6 },
            { x: 2, y: 0 },
            { x: 3, y: 1 },
          ],
        },
      ],
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        logY: true,
      },
    );
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('>1e-6<');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});
