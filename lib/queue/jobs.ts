/**
 * What a queued job is: its data (everything that determines its result, and nothing
 * else), its id (a hash of that data, so the same run enqueued twice, by one coordinator
 * or by two, is one BullMQ job), and how results cross Redis without losing a number.
 */
import { createHash } from 'node:crypto';
import { kernels } from '../backend.js';
import { type Job, OPTIMIZER_ENTRIES } from '../compare/spec.js';
import type { BackendName } from '../kernels.js';
import { packageVersion } from '../paths.js';

/** BullMQ job names: one comparison run, one training job. */
export const COMPARE_RUN = 'compare-run';
export const TRAIN = 'train';

/**
 * A comparison run as queued: the plan's Job without its position in the plan (`id`, which
 * only orders the report), the optimizer's registry entry (kind and options: the name alone
 * could be redefined), the backend and the library version. The regime is in
 * `job.taskOptions.batchSize`, the task's size in the rest of `job.taskOptions`.
 */
export interface RunSpec {
  version: string;
  backend: BackendName;
  job: Omit<Job, 'id'>;
  /** The OPTIMIZER_ENTRIES entry the name stands for; null for the RL step-size rules. */
  optimizer: { kind: string; options: Record<string, unknown> } | null;
}

/** What a run of `job` depends on, with this process's backend and cimm's version. */
export function runSpec(job: Job, context: { backend?: BackendName; version?: string } = {}): RunSpec {
  const { id: _position, ...rest } = job;
  const entry = OPTIMIZER_ENTRIES.find((e) => e.name === job.optimizer);
  return {
    version: context.version ?? packageVersion(),
    backend: context.backend ?? kernels().describe().name,
    job: rest,
    optimizer: entry ? { kind: entry.kind, options: entry.options } : null,
  };
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/**
 * The BullMQ job id of a job's data: `<name>-` and the first 32 hex digits (128 bits) of
 * the SHA-256 of its canonical JSON. A prefix keeps it from being all digits (BullMQ
 * refuses integer-like custom ids) and tells the two kinds apart in redis-cli.
 */
export function jobId(name: string, data: unknown): string {
  return `${name}-${createHash('sha256').update(canonicalJson(data)).digest('hex').slice(0, 32)}`;
}

type Tagged = { $number: 'NaN' | 'Infinity' | '-Infinity' | '-0' };

/**
 * A value as JSON-safe data: NaN, ±Infinity and −0 (which JSON.stringify turns into null
 * and 0) become `{ $number: "NaN" }` etc., so a diverged run's NaN final metric reaches the
 * report as NaN, as it does from a worker thread.
 */
export function encodeNumbers(value: unknown): unknown {
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return { $number: '-0' } satisfies Tagged;
    return Number.isFinite(value) ? value : ({ $number: String(value) } as Tagged);
  }
  if (Array.isArray(value)) return value.map(encodeNumbers);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeNumbers(v)]));
  }
  return value;
}

/** The inverse of encodeNumbers. */
export function decodeNumbers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeNumbers);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    const tag = (value as Tagged).$number;
    if (keys.length === 1 && keys[0] === '$number' && ['NaN', 'Infinity', '-Infinity', '-0'].includes(tag))
      return Number(tag);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeNumbers(v)]));
  }
  return value;
}
