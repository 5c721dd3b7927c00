/**
 * Aggregate comparison runs into per-task and overall summaries (docs/theory.md,
 * "Comparison"). Seeds are aggregated per (optimizer, η): the mean and standard deviation
 * of the final target metric, and the median steps-to-target with "never" counted as ∞
 * (so a setting "reaches" the target when most seeds do).
 */
import type { TaskTarget } from '../tasks/index.js';
import type { JobResult } from './run.js';

export interface LrSummary {
  lr: number | null;
  atDefault: boolean;
  seeds: number;
  meanFinal: number;
  sdFinal: number;
  diverged: number;
  /** Median steps-to-target across seeds (null: most seeds never reached it). */
  stepsToTarget: number | null;
}

export interface OptimizerSummary {
  optimizer: string;
  sweep: LrSummary[];
  /** The swept η with the best mean final metric. */
  best: LrSummary | null;
  /** The run at the optimizer's own default. */
  default: LrSummary | null;
  /** The swept η that reaches the target in the fewest (median) steps. */
  fastest: LrSummary | null;
  /** max − min of the mean final metric over the swept η where no seed diverged (NaN: no sweep). */
  sensitivity: number;
  /** Swept η at which at least one seed diverged. */
  divergedLrs: number;
}

/**
 * How a task was fed: mini-batches (data tasks), the full objective (no data rows), or
 * episodes (RL). It decides what "beside tuned Adam" compares: on mini-batch tasks the
 * final held-out metric (what training is for; steps to a threshold of a noisy metric say
 * less), on full-batch tasks the steps to the target (the optimum is known, so speed is
 * the question).
 */
export type RegimeKind = 'mini-batch' | 'full-batch' | 'episodes';

/** One optimizer at its defaults beside the best-tuned reference. */
export interface DefaultVersusTuned {
  optimizer: string;
  lr: number | null;
  meanFinal: number;
  sdFinal: number;
  stepsToTarget: number | null;
  /**
   * Mini-batch: this final metric ÷ the tuned reference's (best mean final over the sweep).
   * Full batch and RL: these steps to target ÷ the reference's best-tuned steps. Null when
   * either side has no value (never reached, diverged, no reference).
   */
  ratio: number | null;
}

export interface TaskSummary {
  regime: RegimeKind;
  optimizers: OptimizerSummary[];
  /** The reference optimizer (Adam; the best-tuned fixed α on the RL task). */
  reference: string;
  /** Best-tuned steps-to-target of the reference (null: it never reaches the target). */
  referenceSteps: number | null;
  /** Per optimizer: whether it reaches the target at its defaults within 1.5× referenceSteps. */
  withinBudget: Record<string, boolean>;
  /** The reference at its best-tuned η (best mean final metric over the sweep). */
  tunedReference: LrSummary | null;
  /** Every optimizer at its defaults beside the tuned reference, with the ratio that fits the regime. */
  atDefaults: DefaultVersusTuned[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Whether a is a better metric value than b under the target's direction (NaN is worst). */
export function better(target: TaskTarget, a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return target.direction === 'max' ? a > b : a < b;
}

/** Equal within 0.1% (relative): the report calls such results a tie. */
export function tie(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-3 * Math.max(Math.abs(a), Math.abs(b));
}

function summarizeSetting(runs: JobResult[]): LrSummary {
  const finals = runs.map((r) => r.finalMetric);
  const steps = runs.map((r) => r.stepsToTarget ?? Number.POSITIVE_INFINITY);
  const med = median(steps);
  return {
    lr: runs[0].lr,
    atDefault: runs[0].atDefault,
    seeds: runs.length,
    meanFinal: finals.some(Number.isNaN) ? Number.NaN : mean(finals),
    sdFinal: finals.some(Number.isNaN) ? Number.NaN : sd(finals),
    diverged: runs.filter((r) => r.diverged).length,
    stepsToTarget: Number.isFinite(med) ? med : null,
  };
}

export const REFERENCE_OPTIMIZER = 'Adam';
export const RL_REFERENCE = 'fixed';

/** Summaries of one task's runs; `grid` is the swept η (RL: the swept α). */
export function summarizeTask(
  target: TaskTarget,
  runs: JobResult[],
  rl: boolean,
  grid: readonly number[],
  regime: RegimeKind = rl ? 'episodes' : 'full-batch',
): TaskSummary {
  const order: string[] = [];
  const groups = new Map<string, Map<string, JobResult[]>>();
  for (const r of runs) {
    if (!groups.has(r.optimizer)) {
      groups.set(r.optimizer, new Map());
      order.push(r.optimizer);
    }
    const key = `${r.lr} ${r.atDefault}`;
    const g = groups.get(r.optimizer) as Map<string, JobResult[]>;
    if (!g.has(key)) g.set(key, []);
    (g.get(key) as JobResult[]).push(r);
  }
  const optimizers: OptimizerSummary[] = order.map((name) => {
    const settings = [...(groups.get(name) as Map<string, JobResult[]>).values()].map(summarizeSetting);
    // the sweep: settings whose η is on the grid (a default η on the grid is the same
    // runs, marked atDefault; one off the grid is an extra setting, not in the sweep)
    const sweep = settings.filter((s) => s.lr !== null && grid.includes(s.lr));
    sweep.sort((a, b) => (a.lr as number) - (b.lr as number));
    let best: LrSummary | null = null;
    let fastest: LrSummary | null = null;
    for (const s of sweep) {
      if (!best || better(target, s.meanFinal, best.meanFinal)) best = s;
      if (s.stepsToTarget !== null && (!fastest || s.stepsToTarget < (fastest.stepsToTarget as number))) fastest = s;
    }
    const finite = sweep
      .filter((s) => s.diverged === 0)
      .map((s) => s.meanFinal)
      .filter((v) => Number.isFinite(v));
    const dflt = settings.find((s) => s.atDefault) ?? null;
    if (!best && dflt) best = dflt;
    if (!fastest && dflt?.stepsToTarget != null) fastest = dflt;
    return {
      optimizer: name,
      sweep,
      best,
      default: dflt,
      fastest,
      sensitivity: finite.length ? Math.max(...finite) - Math.min(...finite) : Number.NaN,
      divergedLrs: sweep.filter((s) => s.diverged > 0).length,
    };
  });
  const reference = rl ? RL_REFERENCE : REFERENCE_OPTIMIZER;
  const ref = optimizers.find((o) => o.optimizer === reference);
  const referenceSteps = ref?.fastest?.stepsToTarget ?? null;
  const withinBudget: Record<string, boolean> = {};
  for (const o of optimizers) {
    const s = o.default?.stepsToTarget;
    withinBudget[o.optimizer] = referenceSteps !== null && s != null && s <= 1.5 * referenceSteps;
  }
  const tuned = ref?.best ?? null;
  const atDefaults: DefaultVersusTuned[] = optimizers.flatMap((o) => {
    const d = o.default;
    if (!d) return [];
    let ratio: number | null = null;
    if (regime === 'mini-batch') {
      const r = tuned ? d.meanFinal / tuned.meanFinal : Number.NaN;
      ratio = Number.isFinite(r) ? r : null;
    } else if (referenceSteps !== null && referenceSteps > 0 && d.stepsToTarget !== null) {
      ratio = d.stepsToTarget / referenceSteps;
    }
    return [
      {
        optimizer: o.optimizer,
        lr: d.lr,
        meanFinal: d.meanFinal,
        sdFinal: d.sdFinal,
        stepsToTarget: d.stepsToTarget,
        ratio,
      },
    ];
  });
  return { regime, optimizers, reference, referenceSteps, withinBudget, tunedReference: tuned, atDefaults };
}

export interface OverallSummary {
  /** Per optimizer: tasks where it reaches the target at defaults within 1.5× the reference's best-tuned steps. */
  selfTuning: {
    optimizer: string;
    reached: number;
    counted: number;
    tasks: string[];
    /**
     * Tasks where its run at defaults reached the target at all within the run's budget
     * (median over seeds), whatever the steps: tuning-free in the weaker sense.
     */
    reachedAtDefault: string[];
    /** Tasks it ran at its defaults. */
    ranAtDefault: number;
  }[];
  /** Tasks where the reference never reached its target (not counted). */
  uncounted: string[];
}

export function summarizeAll(tasks: { name: string; summary: TaskSummary }[]): OverallSummary {
  const names: string[] = [];
  for (const t of tasks)
    for (const o of t.summary.optimizers) if (!names.includes(o.optimizer)) names.push(o.optimizer);
  const counted = tasks.filter((t) => t.summary.referenceSteps !== null);
  return {
    selfTuning: names.map((optimizer) => {
      const mine = counted.filter((t) => optimizer in t.summary.withinBudget);
      const hit = mine.filter((t) => t.summary.withinBudget[optimizer]).map((t) => t.name);
      const defaults = tasks.flatMap((t) => {
        const d = t.summary.optimizers.find((o) => o.optimizer === optimizer)?.default;
        return d ? [{ task: t.name, steps: d.stepsToTarget }] : [];
      });
      return {
        optimizer,
        reached: hit.length,
        counted: mine.length,
        tasks: hit,
        reachedAtDefault: defaults.filter((d) => d.steps !== null).map((d) => d.task),
        ranAtDefault: defaults.length,
      };
    }),
    uncounted: tasks.filter((t) => t.summary.referenceSteps === null).map((t) => t.name),
  };
}
