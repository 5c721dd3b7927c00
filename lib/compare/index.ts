/**
 * The optimizer comparison (issue 5, docs/theory.md "Comparison"): every task × optimizer
 * × η × seed, run on a worker pool, summarized per task and overall, written as
 * report.md, report.json, SVG plots (vega-lite, with their specs) and index.html.
 */
import { join } from 'node:path';
import { Marked, type Tokens } from 'marked';
import { writeFileAtomic } from '../atomic-file.js';
import '../index.js';
import type { TopLevelSpec } from 'vega-lite';
import type { TaskTarget } from '../tasks/index.js';
import { canRenderPlots, lineChartSpec, plotInstallCommand, renderSvg, type Series } from './plot.js';
import { runJobs } from './pool.js';
import type { JobResult } from './run.js';
import {
  budget,
  type Job,
  OPTIMIZER_ENTRIES,
  optimizerAvailable,
  rlGrid,
  STEP_SIZE_ENTRIES,
  TASK_NAMES,
  type TaskName,
  taskFor,
  taskOptionsIn,
} from './spec.js';
import { better, type OverallSummary, summarizeAll, summarizeTask, type TaskSummary, tie } from './summary.js';

export {
  type ChartOptions,
  canRenderPlots,
  lineChart,
  lineChartSpec,
  PlotLibrariesMissing,
  plotInstallCommand,
  renderSvg,
  type Series,
} from './plot.js';
export { runJobs } from './pool.js';
export { type CurvePoint, type JobResult, runJob } from './run.js';
export * from './spec.js';
export * from './summary.js';

/** α used by the fixed rule "at its default" (Sutton & Barto's cliff-walking example). */
export const RL_DEFAULT_ALPHA = 0.5;

export interface CompareOptions {
  quick?: boolean;
  tasks?: TaskName[];
  /** Optimizer names (OPTIMIZER_ENTRIES names or RL rule names); default all available but the variants. */
  optimizers?: string[];
  /** Add every variant of the entropy-balanced rule (OPTIMIZER_ENTRIES with `variant`). */
  variants?: boolean;
  seeds?: number;
  workers?: number;
  /** Override the budget's steps per run (all tasks), for tests. */
  steps?: number;
  /** Override the swept η (tests). */
  learningRates?: number[];
  signal?: AbortSignal;
  onResult?: (result: JobResult, done: number, total: number) => void;
}

export interface TaskReport {
  name: string;
  target: TaskTarget;
  /** How the task was fed: the batch size (null: full batch), batches per epoch, and why. */
  regime: { batchSize: number | null; batchCount: number; reason: string };
  /** Swept η (RL: α). */
  grid: number[];
  runs: JobResult[];
  summary: TaskSummary;
}

export interface CompareReport {
  quick: boolean;
  seeds: number;
  complete: boolean;
  /** Optimizers skipped because they are not in this build, with the reason. */
  skipped: { optimizer: string; reason: string }[];
  jobs: { total: number; done: number };
  tasks: TaskReport[];
  summary: OverallSummary;
}

/** The jobs for `options`, and the optimizers skipped. */
export function planJobs(options: CompareOptions): {
  jobs: Job[];
  skipped: { optimizer: string; reason: string }[];
  grids: Map<TaskName, number[]>;
} {
  const b = budget(options.quick ?? false);
  const grid = options.learningRates ?? b.learningRates;
  const seeds = options.seeds ?? 3;
  const taskNames = options.tasks ?? [...TASK_NAMES];
  const want = (name: string) => !options.optimizers || options.optimizers.includes(name);
  const skipped: { optimizer: string; reason: string }[] = [];
  const optimizers = OPTIMIZER_ENTRIES.filter((e) => {
    const named = options.optimizers?.includes(e.name) ?? false;
    if (e.variant ? !(named || options.variants) : !want(e.name)) return false;
    const a = optimizerAvailable(e);
    if (!a.ok) skipped.push({ optimizer: e.name, reason: `optimizer kind ${e.kind} is not registered in this build` });
    return a.ok;
  });
  const rules = STEP_SIZE_ENTRIES.filter(want);
  const jobs: Job[] = [];
  const grids = new Map<TaskName, number[]>();
  for (const task of taskNames) {
    const steps = options.steps ?? b.steps[task];
    const taskOptions = taskOptionsIn(b, task);
    const points = b.pointsFor[task] ?? b.points;
    const add = (optimizer: string, lr: number | null, atDefault: boolean) => {
      for (let seed = 0; seed < seeds; seed++) {
        jobs.push({ id: jobs.length, task, optimizer, lr, seed, steps, points, atDefault, taskOptions });
      }
    };
    if (task === 'cliff-walking') {
      const g = rlGrid(grid);
      grids.set(task, g);
      for (const r of rules) {
        if (r === 'fixed') {
          for (const a of g) add(r, a, a === RL_DEFAULT_ALPHA);
          if (!g.includes(RL_DEFAULT_ALPHA)) add(r, RL_DEFAULT_ALPHA, true);
        } else add(r, null, true);
      }
    } else {
      grids.set(task, grid);
      for (const e of optimizers) {
        for (const lr of grid) add(e.name, lr, lr === e.defaultLearningRate);
        if (!grid.includes(e.defaultLearningRate)) add(e.name, e.defaultLearningRate, true);
      }
    }
  }
  return { jobs, skipped, grids };
}

/** Run the comparison (or what of it completes before `signal` aborts). */
export async function compare(options: CompareOptions = {}): Promise<CompareReport> {
  const { jobs, skipped, grids } = planJobs(options);
  const outcome = await runJobs(jobs, {
    workers: options.workers ?? 0,
    signal: options.signal,
    onResult: options.onResult,
  });
  return buildReport(options, jobs.length, outcome.results, skipped, grids);
}

export function buildReport(
  options: CompareOptions,
  total: number,
  results: JobResult[],
  skipped: { optimizer: string; reason: string }[],
  grids: Map<TaskName, number[]>,
): CompareReport {
  const b = budget(options.quick ?? false);
  const tasks: TaskReport[] = [];
  for (const [name, grid] of grids) {
    const runs = results.filter((r) => r.task === name);
    const task = taskFor(name, taskOptionsIn(b, name));
    const batchCount = task.kind === 'objective' ? task.batchCount : 1;
    const kind = task.kind === 'rl' ? 'episodes' : batchCount > 1 ? 'mini-batch' : 'full-batch';
    tasks.push({
      name,
      target: task.target,
      regime: { ...b.regime[name], batchCount },
      grid,
      runs,
      summary: summarizeTask(task.target, runs, task.kind === 'rl', grid, kind),
    });
  }
  return {
    quick: options.quick ?? false,
    seeds: options.seeds ?? 3,
    complete: results.length === total,
    skipped,
    jobs: { total, done: results.length },
    tasks,
    summary: summarizeAll(tasks),
  };
}

// ---------------------------------------------------------------------------------------
// Output.

const num = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '—' : Number.isNaN(v) ? 'diverged' : Number(v.toPrecision(digits)).toString();
const lrText = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toExponential(1));

/** "100 points (mnist 25)". */
function pointsText(b: ReturnType<typeof budget>): string {
  const extra = Object.entries(b.pointsFor).map(([t, n]) => `${t} ${n}`);
  return `${b.points} points${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

/** The plots of one task, by file stem suffix, with what each shows (the figure captions). */
export function plotCaptions(
  r: CompareReport,
  t: TaskReport,
): [kind: 'curves' | 'loss' | 'sensitivity', caption: string][] {
  const rl = t.name === 'cliff-walking';
  const x = rl ? 'episodes' : 'steps';
  const seeds = `mean over ${r.seeds} seed${r.seeds === 1 ? '' : 's'}`;
  const rate = rl ? 'step size α' : 'learning rate η';
  return [
    ['curves', `${t.name}: ${t.target.metric} against ${x}, each optimizer at its best-tuned ${rate} (${seeds})`],
    [
      'loss',
      `${t.name}: ${rl ? 'cumulative regret' : 'training loss'} against ${x}, each optimizer at its best-tuned ${rate} (${seeds})`,
    ],
    [
      'sensitivity',
      `${t.name}: final ${t.target.metric} against the ${rate}, per optimizer (${seeds}; diverged settings left out) — how much tuning matters`,
    ],
  ];
}

export interface MarkdownOptions {
  /** False when the SVGs were not rendered (vega, vega-lite missing): the report links the specs and says how to get them. */
  plots?: boolean;
}

/** Why the plots are missing and how to get them (report.md, index.html, the CLI). */
export function plotsMissingNote(): string {
  return (
    'The plots were not rendered: they need the optional peer dependencies vega and vega-lite ' +
    `(\`${plotInstallCommand()}\`, then run the comparison again). Their vega-lite specs are in plots/*.vl.json ` +
    '(any vega-lite tool renders them).'
  );
}

/** Markdown tables and plain statements. */
export function markdownReport(r: CompareReport, elapsedSeconds?: number, options: MarkdownOptions = {}): string {
  const withPlots = options.plots ?? true;
  const lines: string[] = [];
  lines.push(`# cimm optimizer comparison${r.quick ? ' (quick)' : ''}`, '');
  if (!r.complete)
    lines.push(`**Partial report: ${r.jobs.done} of ${r.jobs.total} runs completed (interrupted).**`, '');
  if (!withPlots) lines.push(`> ${plotsMissingNote()}`, '');
  lines.push(
    `${r.jobs.done} runs, ${r.seeds} seeds per setting${elapsedSeconds !== undefined ? `, ${elapsedSeconds.toFixed(0)} s` : ''}. ` +
      'Final metric: mean ± sd over seeds. Steps to target: median over seeds (— when most seeds never reach it). ' +
      `Steps to target are resolved to the curve's sampling interval (${pointsText(budget(r.quick))} per run). ` +
      'Curves show the full training loss and the target metric (held out on data tasks). ' +
      'Sensitivity: max − min of the mean final metric across the swept learning rates where no seed diverged.',
    '',
  );
  for (const s of r.skipped) lines.push(`- Skipped ${s.optimizer}: ${s.reason}.`);
  if (r.skipped.length) lines.push('');
  lines.push('## Summary (AlgoPerf self-tuning style)', '');
  lines.push(
    'For each optimizer at its defaults: on how many tasks it reaches the target within 1.5× the steps of the best-tuned reference ' +
      '(Adam; on cliff walking the best-tuned fixed α).',
    '',
  );
  lines.push(
    'The last two columns are the weaker sense of tuning-free: tasks where the run at defaults reaches the target at all ' +
      'within the run budget, however slowly.',
    '',
  );
  lines.push(
    '| optimizer | tasks within 1.5× | counted tasks | which | reaches the target at defaults | which |',
    '|---|---|---|---|---|---|',
  );
  for (const s of r.summary.selfTuning)
    lines.push(
      `| ${s.optimizer} | ${s.reached} | ${s.counted} | ${s.tasks.join(', ') || '—'} | ` +
        `${s.reachedAtDefault.length}/${s.ranAtDefault} | ${s.reachedAtDefault.join(', ') || '—'} |`,
    );
  if (r.summary.uncounted.length)
    lines.push('', `Not counted (the reference never reached the target): ${r.summary.uncounted.join(', ')}.`);
  lines.push('');
  for (const t of r.tasks) {
    lines.push(`## ${t.name}`, '');
    lines.push(
      `Target: ${t.target.metric} ${t.target.direction === 'max' ? '≥' : '≤'} ${num(t.target.value)} (${t.target.reason}).`,
      '',
      `Regime: ${regimeText(t)}.`,
      '',
    );
    lines.push(...defaultsTable(t), '');
    lines.push(
      '| optimizer | best η | best final | final at default (η) | steps to target at default | best-tuned steps to target | sensitivity | diverged η |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const o of t.summary.optimizers) {
      const b = o.best;
      const d = o.default;
      lines.push(
        `| ${o.optimizer} | ${lrText(b?.lr)} | ${b ? `${num(b.meanFinal)} ± ${num(b.sdFinal, 2)}` : '—'} | ` +
          `${d ? `${num(d.meanFinal)} (${lrText(d.lr)})` : '—'} | ${num(d?.stepsToTarget)} | ` +
          `${o.fastest ? `${num(o.fastest.stepsToTarget)} (η ${lrText(o.fastest.lr)})` : '—'} | ${o.sweep.length ? num(o.sensitivity, 3) : 'n/a'} | ${o.divergedLrs} |`,
      );
    }
    lines.push('', ...statements(t).map((s) => `- ${s}`), '');
    for (const [kind, caption] of plotCaptions(r, t)) {
      const stem = `${t.name}-${kind}`;
      lines.push(
        withPlots ? `![${caption}](plots/${stem}.svg)` : `- ${caption}: [vega-lite spec](plots/${stem}.vl.json)`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** "mean ± sd", or "diverged" when a seed diverged. */
const meanSd = (mean: number, sd: number) => (Number.isNaN(mean) ? 'diverged' : `${num(mean)} ± ${num(sd, 2)}`);

/** The regime in words: "mini-batches of 64 (125 an epoch: why)" or "full batch (why)". */
function regimeText(t: TaskReport): string {
  const g = t.regime;
  if (t.summary.regime === 'episodes') return `episodes (${g.reason})`;
  if (t.summary.regime === 'full-batch') return `full batch (${g.reason})`;
  return `mini-batches of ${g.batchSize} rows, ${g.batchCount} steps an epoch (${g.reason})`;
}

/**
 * Each optimizer at its defaults beside the best-tuned reference: the final metric
 * (mean ± sd over seeds), the steps to target and the ratio that fits the regime.
 */
function defaultsTable(t: TaskReport): string[] {
  const s = t.summary;
  const ref = s.tunedReference;
  const miniBatch = s.regime === 'mini-batch';
  const ratioHead = miniBatch
    ? `final ${t.target.metric} ÷ tuned ${s.reference}'s`
    : `steps to target ÷ tuned ${s.reference}'s`;
  const out = [
    `At defaults beside the best-tuned ${s.reference} (final ${t.target.metric}: mean ± sd over seeds):`,
    '',
    `| optimizer (η) | final ${t.target.metric} | steps to target | ${ratioHead} |`,
    '|---|---|---|---|',
  ];
  if (ref) {
    out.push(
      `| **${s.reference} best-tuned** (${lrText(ref.lr)}; fastest: ${s.referenceSteps === null ? 'never' : `${s.referenceSteps} steps`}) | ` +
        `${meanSd(ref.meanFinal, ref.sdFinal)} | ${num(ref.stepsToTarget)} | 1 |`,
    );
  }
  for (const d of s.atDefaults) {
    out.push(
      `| ${d.optimizer} (${lrText(d.lr)}) | ${meanSd(d.meanFinal, d.sdFinal)} | ${num(d.stepsToTarget)} | ${num(d.ratio, 3)} |`,
    );
  }
  return out;
}

/** Plain sentences comparing every optimizer with the reference. */
export function statements(t: TaskReport): string[] {
  const out: string[] = [];
  const ref = t.summary.optimizers.find((o) => o.optimizer === t.summary.reference);
  if (!ref?.best) return [`No ${t.summary.reference} runs: no comparison with the reference.`];
  for (const o of t.summary.optimizers) {
    if (o === ref || !o.best) continue;
    const word = tie(o.best.meanFinal, ref.best.meanFinal)
      ? 'ties with'
      : better(t.target, o.best.meanFinal, ref.best.meanFinal)
        ? 'beats'
        : 'loses to';
    out.push(
      `Best-tuned, ${o.optimizer} ${word} ${ref.optimizer} (${num(o.best.meanFinal)} vs ${num(ref.best.meanFinal)}); ` +
        `at its defaults it ${t.summary.withinBudget[o.optimizer] ? 'reaches' : 'does not reach'} the target within 1.5× ${ref.optimizer}'s best-tuned steps.`,
    );
  }
  if (t.summary.referenceSteps === null) out.push(`${ref.optimizer} never reaches the target at any swept η.`);
  return out;
}

/** Mean curve over seeds of one setting. */
function meanCurve(runs: JobResult[], field: 'metric' | 'loss'): { x: number; y: number }[] {
  const len = Math.min(...runs.map((r) => r.curve.length));
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < len; i++) {
    const ys = runs.map((r) => r.curve[i][field]);
    out.push({ x: runs[0].curve[i].step, y: ys.reduce((a, b) => a + b, 0) / ys.length });
  }
  return out;
}

/**
 * The plots as vega-lite specs, by file stem: per task, the target metric's curves and the
 * training-loss curves (cumulative regret on the RL task) at each optimizer's best η, and
 * the final metric against η.
 */
export function plotSpecs(r: CompareReport): Map<string, TopLevelSpec> {
  const out = new Map<string, TopLevelSpec>();
  for (const t of r.tasks) {
    const curves: Series[] = [];
    const losses: Series[] = [];
    const sens: Series[] = [];
    for (const o of t.summary.optimizers) {
      const lr = o.best?.lr ?? null;
      const runs = t.runs.filter((x) => x.optimizer === o.optimizer && x.lr === lr && x.curve.length);
      if (runs.length) {
        const name = `${o.optimizer} (η ${lrText(lr)})`;
        curves.push({ name, points: meanCurve(runs, 'metric') });
        losses.push({ name, points: meanCurve(runs, 'loss') });
      }
      if (o.sweep.length)
        sens.push({ name: o.optimizer, points: o.sweep.map((s) => ({ x: s.lr as number, y: s.meanFinal })) });
    }
    const rl = t.name === 'cliff-walking';
    // metrics that span decades (distance to the optimum) read better on a log axis
    const spansDecades = (series: Series[]) => {
      const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
      return ys.length > 0 && ys.every((y) => y > 0) && Math.max(...ys) / Math.min(...ys) > 100;
    };
    const logY = spansDecades([...curves, ...sens]);
    out.set(
      `${t.name}-curves`,
      lineChartSpec(curves, {
        title: `${t.name}: ${t.target.metric} at each optimizer's best η`,
        xLabel: rl ? 'episodes' : 'steps',
        yLabel: t.target.metric,
        logY,
      }),
    );
    out.set(
      `${t.name}-loss`,
      lineChartSpec(losses, {
        title: `${t.name}: ${rl ? 'cumulative regret' : 'training loss'} at each optimizer's best η`,
        xLabel: rl ? 'episodes' : 'steps',
        yLabel: rl ? 'cumulative regret' : 'training loss',
        logY: spansDecades(losses),
      }),
    );
    out.set(
      `${t.name}-sensitivity`,
      lineChartSpec(sens, {
        title: `${t.name}: final ${t.target.metric} vs ${rl ? 'α' : 'η'}`,
        xLabel: rl ? 'α' : 'learning rate η',
        yLabel: `final ${t.target.metric}`,
        logX: true,
        logY,
      }),
    );
  }
  return out;
}

/** Render specs (by file stem) to SVGs by file name (`<stem>.svg`). */
async function renderAll(specs: Map<string, TopLevelSpec>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [stem, spec] of specs) out.set(`${stem}.svg`, await renderSvg(spec));
  return out;
}

/** The SVG plots by file name, rendered from plotSpecs. */
export async function plots(r: CompareReport): Promise<Map<string, string>> {
  return await renderAll(plotSpecs(r));
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}

const PAGE_STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}',
  'table{border-collapse:collapse;margin:1em 0;font-size:14px}',
  'th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}',
  'th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}',
  'code{background:#f3f3f3;padding:0 3px;border-radius:3px}',
  'blockquote{border-left:4px solid #e0a000;margin:1em 0;padding:0.2em 1em;background:#fff8e5}',
  '.plots{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}',
  'figure{margin:0;max-width:100%}figcaption{font-size:13px;color:#444;max-width:600px;margin-top:4px}',
].join('');

/**
 * One self-contained page: the report's Markdown rendered to HTML (marked, GitHub-flavoured:
 * headings, tables, lists), each plot inline as vega's SVG where the Markdown links it, in a
 * figure whose caption says what it shows (the link's alt text); plots the Markdown does not
 * link come at the end.
 */
export function htmlReport(markdown: string, svgs: Map<string, string>): string {
  const shown = new Set<string>();
  const figure = (name: string, caption: string) =>
    `<figure id="plot-${htmlEscape(name.replace(/\.svg$/, ''))}">${svgs.get(name)}<figcaption>${htmlEscape(caption)}</figcaption></figure>`;
  const plotName = (href: string) => /^plots\/([^/]+\.svg)$/.exec(href)?.[1];
  const marked = new Marked({
    gfm: true,
    renderer: {
      image({ href, text }: Tokens.Image) {
        const name = plotName(href);
        if (name && svgs.has(name)) {
          shown.add(name);
          return figure(name, text);
        }
        return `<img src="${htmlEscape(href)}" alt="${htmlEscape(text)}">`;
      },
      paragraph({ tokens }: Tokens.Paragraph) {
        // a paragraph of plot links only becomes a row of figures (a <figure> may not sit in a <p>)
        const plotsOnly = tokens.every(
          (t) => (t.type === 'image' && plotName(t.href) !== undefined) || (t.type === 'text' && !t.raw.trim()),
        );
        const inner = this.parser.parseInline(tokens);
        return plotsOnly ? `<div class="plots">${inner}</div>\n` : `<p>${inner}</p>\n`;
      },
    },
  });
  // one plot link per line: join a task's consecutive plot lines into one paragraph
  const body = marked.parse(markdown.replace(/(!\[[^\]]*\]\(plots\/[^)]*\))\n(?=!\[)/g, '$1 '), { async: false });
  const rest = [...svgs.keys()].filter((name) => !shown.has(name));
  const title = /^# (.*)$/m.exec(markdown)?.[1] ?? 'cimm optimizer comparison';
  return [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(title)}</title>`,
    `<style>${PAGE_STYLE}</style></head><body>`,
    body,
    ...(rest.length ? [`<div class="plots">${rest.map((n) => figure(n, n)).join('')}</div>`] : []),
    '</body></html>',
    '',
  ].join('\n');
}

export interface WrittenReport {
  /** Every file written. */
  files: string[];
  /** Set when the plots could not be rendered: why, and how to get them. */
  note?: string;
}

/**
 * Write report.md, report.json, index.html, and per plot its SVG and the vega-lite spec it
 * was rendered from (plots/<name>.svg, plots/<name>.vl.json) under `dir`, atomically per file.
 * Without vega and vega-lite (optional peers) the SVGs are left out, the specs are still
 * written, and the report and `note` say how to get the plots.
 */
export async function writeReport(r: CompareReport, dir: string, elapsedSeconds?: number): Promise<WrittenReport> {
  const specs = plotSpecs(r);
  const withPlots = await canRenderPlots();
  const svgs = withPlots ? await renderAll(specs) : new Map<string, string>();
  const md = markdownReport(r, elapsedSeconds, { plots: withPlots });
  const files: [string, string][] = [
    ['report.md', md],
    ['report.json', `${JSON.stringify(r, jsonNumbers)}\n`],
    ['index.html', htmlReport(md, svgs)],
    ...[...svgs].map(([n, s]) => [join('plots', n), s] as [string, string]),
    ...[...specs].map(([n, s]) => [join('plots', `${n}.vl.json`), `${JSON.stringify(s)}\n`] as [string, string]),
  ];
  for (const [name, text] of files) writeFileAtomic(join(dir, name), text);
  return { files: files.map(([n]) => join(dir, n)), ...(withPlots ? {} : { note: plotsMissingNote() }) };
}

/** JSON has no NaN: write it as null; curve values to 7 significant digits (file size). */
function jsonNumbers(key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return key === 'loss' || key === 'metric' ? Number(value.toPrecision(7)) : value;
}

/** One line per task for the end of a run: each optimizer's best-tuned final metric. */
export function summaryLines(r: CompareReport): string[] {
  return r.tasks.map(
    (t) =>
      `  ${t.name} (${t.target.metric}, target ${t.target.direction === 'max' ? '≥' : '≤'} ${num(t.target.value)}): ` +
      t.summary.optimizers.map((o) => `${o.optimizer} ${num(o.best?.meanFinal)}`).join(', '),
  );
}
