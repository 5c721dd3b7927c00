/**
 * TaskRun (lib/compare/run.ts): N steps equal k steps + checkpoint + resume to N, bit for
 * bit, for stateful optimizers and for the RL task; runJob is the same run; a bad
 * checkpoint is rejected with an error naming the field.
 */
import { describe, expect, it } from 'vitest';
import { type Job, runJob } from '../lib/compare/index.js';
import { TaskRun, type TaskRunCheckpoint } from '../lib/compare/run.js';
import { checkpointObject } from '../lib/train/checkpoint.js';

function job(task: Job['task'], optimizer: string, lr: number | null, steps: number, extra: Partial<Job> = {}): Job {
  return { id: 0, task, optimizer, lr, seed: 3, steps, points: 9, atDefault: false, ...extra };
}

const SMALL_LEAST_SQUARES = { taskOptions: { rows: 60, columns: 12 } };

/** A checkpoint as it comes back from a file. */
const throughJson = (c: TaskRunCheckpoint) => JSON.parse(JSON.stringify(c));

/** Run `j` in pieces: stop at each of `stops`, checkpoint through JSON, resume. */
function inPieces(j: Job, stops: number[]): TaskRun {
  let run = new TaskRun(j);
  for (const stop of stops) {
    run.runUntil(stop);
    expect(run.stepsDone).toBe(stop);
    run = TaskRun.fromCheckpoint(throughJson(run.checkpoint()));
  }
  run.runUntil();
  return run;
}

function expectSame(a: TaskRun, b: TaskRun) {
  const pa = a.parameters();
  const pb = b.parameters();
  if (pa && pb) expect(Buffer.from(pb.buffer).equals(Buffer.from(pa.buffer))).toBe(true);
  expect(b.curve).toEqual(a.curve);
  expect(b.result()).toEqual(a.result());
  expect(comparable(b.checkpoint())).toEqual(comparable(a.checkpoint()));
}

/**
 * The entropy-balanced optimizer's compute meter records measured CPU time in its state;
 * the trajectory does not depend on it (θ and the curve match above), the saved bytes do.
 */
const comparable = (c: TaskRunCheckpoint) =>
  c.body.optimizer?.kind === 'EntropyBalanced' ? { ...c.body, optimizer: null } : c.body;

describe('TaskRun resumes bit-for-bit', () => {
  it.each([
    ['least-squares', 'Adam', 0.01, SMALL_LEAST_SQUARES],
    ['least-squares', 'Prodigy', 1, SMALL_LEAST_SQUARES],
    ['iris', 'EntropyBalanced', 0.01, {}],
  ] as const)('%s with %s', (task, optimizer, lr, extra) => {
    const j = job(task, optimizer, lr, 40, extra);
    const whole = new TaskRun(j);
    whole.runUntil();
    expect(whole.done).toBe(true);
    expect(whole.curve.at(-1)?.step).toBe(40);
    expectSame(whole, inPieces(j, [17]));
    expectSame(whole, inPieces(j, [1, 5, 39]));
    // the comparison drives the same object
    const { ms: _ms, ...viaRunJob } = runJob(j);
    expect(viaRunJob).toEqual(whole.result());
  });

  it('cliff-walking with the entropy-balanced step-size rule', () => {
    const j = job('cliff-walking', 'entropy-balanced', null, 60);
    const whole = new TaskRun(j);
    whole.runUntil();
    expectSame(whole, inPieces(j, [23]));
    expectSame(whole, inPieces(j, [1, 30, 59]));
  });

  it("an RL job's lr: the entropy-balanced rule's first α; refused by 1/n", () => {
    const run = (lr: number | null) => {
      const r = new TaskRun(job('cliff-walking', 'entropy-balanced', lr, 30));
      r.runUntil();
      return r.result().curve;
    };
    expect(run(0.5)).toEqual(run(null)); // 0.5 is the rule's own default
    expect(run(0.05)).not.toEqual(run(null));
    expect(() => new TaskRun(job('cliff-walking', 'inverse-visit-count', 0.3, 10))).toThrow(/for lr/);
    expect(() => new TaskRun(job('cliff-walking', 'entropy-balanced', 7, 10))).toThrow(/for alpha/);
  });

  it('a longer run continues the same trajectory (setSteps)', () => {
    const short = new TaskRun(job('least-squares', 'Adam', 0.01, 20, SMALL_LEAST_SQUARES));
    short.runUntil();
    const longer = TaskRun.fromCheckpoint(throughJson(short.checkpoint()));
    longer.setSteps(35);
    longer.runUntil();
    const fresh = new TaskRun(job('least-squares', 'Adam', 0.01, 35, SMALL_LEAST_SQUARES));
    fresh.runUntil();
    expect(Buffer.from((longer.parameters() as Float32Array).buffer)).toEqual(
      Buffer.from((fresh.parameters() as Float32Array).buffer),
    );
    expect(longer.result().finalLoss).toBe(fresh.result().finalLoss);
    expect(longer.curve.slice(0, short.curve.length)).toEqual(short.curve);
    expect(() => longer.setSteps(10)).toThrow(/steps/);
  });

  it('shouldStop stops between steps; a diverged run is saved as finished', () => {
    const run = new TaskRun(job('least-squares', 'SGD', 1e6, 50, SMALL_LEAST_SQUARES));
    let calls = 0;
    run.runUntil(undefined, { shouldStop: () => ++calls > 3 });
    expect(run.stepsDone).toBe(3);
    run.runUntil();
    const r = run.result();
    expect(r.diverged).toBe(true);
    const back = TaskRun.fromCheckpoint(throughJson(run.checkpoint()));
    expect(back.done).toBe(true);
    expect(back.result()).toEqual(r);
  });
});

describe('TaskRun.fromCheckpoint rejects a bad checkpoint, naming the field', () => {
  const objective = new TaskRun(job('least-squares', 'Adam', 0.01, 10, SMALL_LEAST_SQUARES));
  objective.runUntil(4);
  const rl = new TaskRun(job('cliff-walking', 'entropy-balanced', null, 10));
  rl.runUntil(4);
  const good = throughJson(objective.checkpoint());
  const goodRl = throughJson(rl.checkpoint());
  // biome-ignore lint/suspicious/noExplicitAny: the cases rewrite arbitrary fields of checkpoint JSON
  const cases: [string, (c: Record<string, any>) => unknown, RegExp][] = [
    ['not an object', () => 'hello', /checkpoint/],
    ['wrong format', (c) => ({ ...c, format: 'cimm-task-run' }), /checkpoint: format/],
    ['wrong version', (c) => ({ ...c, version: 99 }), /checkpoint: version/],
    ['wrong kind', (c) => ({ ...c, kind: 'fit' }), /checkpoint: kind/],
  ];
  it.each(cases)('%s', (_name, mutate, message) => {
    expect(() => TaskRun.fromCheckpoint(mutate(structuredClone(good)))).toThrow(message);
  });
  // the body's fields, each checked after a valid checksum (re-signed: an edited body
  // without a new checksum is refused before any field is read)
  // biome-ignore lint/suspicious/noExplicitAny: the cases rewrite arbitrary fields of checkpoint JSON
  const bodyCases: [string, (c: Record<string, any>) => unknown, RegExp][] = [
    ['unknown task', (c) => ({ ...c, job: { ...c.job, task: 'chess' } }), /body\.job\.task/],
    ['unknown optimizer', (c) => ({ ...c, job: { ...c.job, optimizer: 'Nadam' } }), /body\.job\.optimizer/],
    ['other optimizer kind', (c) => ({ ...c, job: { ...c.job, optimizer: 'SGD' } }), /body\.optimizer\.kind/],
    ['θ too short', (c) => ({ ...c, theta: c.theta.slice(0, 16) }), /body\.theta/],
    ['other task size', (c) => ({ ...c, job: { ...c.job, taskOptions: { rows: 60, columns: 13 } } }), /dimension/],
    ['garbage optimizer state', (c) => ({ ...c, optimizer: { ...c.optimizer, state: 'AAAA' } }), /optimizer\.state/],
    ['step past the end', (c) => ({ ...c, step: 11 }), /body\.step/],
    ['curve not an array', (c) => ({ ...c, curve: {} }), /body\.curve/],
    ['curve loss not a number', (c) => ({ ...c, curve: [{ step: 0, loss: 'x', metric: 1 }] }), /curve\[0\]\.loss/],
  ];
  it.each(bodyCases)('%s', (_name, mutate, message) => {
    const edited = mutate(structuredClone(good.body));
    expect(() => TaskRun.fromCheckpoint({ ...good, body: edited })).toThrow(/SHA-256.*damaged or edited/);
    expect(() => TaskRun.fromCheckpoint(checkpointObject('task-run', edited))).toThrow(message);
  });

  it('a broken agent state', () => {
    const broken = checkpointObject('task-run', { ...goodRl.body, agent: { q: [1, 2] } });
    expect(() => TaskRun.fromCheckpoint(broken)).toThrow(/body\.agent/);
    expect(TaskRun.fromCheckpoint(goodRl).stepsDone).toBe(4);
  });
});
