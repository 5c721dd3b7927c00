/**
 * The comparison's mini-batch regime (TaskRun, lib/compare/run.ts): the step protocol
 * (the optimizer sees the mini-batch loss and gradient only), one deterministic reshuffle
 * per epoch, curve points with the full training loss, k steps + checkpoint + resume = N
 * steps bit for bit. The worker pool's equality with a serial run, mini-batched tasks
 * included, is checked on the built command line (test/cli.test.ts, "cimm compare"): the
 * pool loads dist/lib/compare/worker.js.
 */
import { describe, expect, it } from 'vitest';
import { budget, type Job, REGIME, TASK_NAMES, taskOptionsIn } from '../../lib/compare/index.js';
import { batchOrderSeed, TaskRun, type TaskRunCheckpoint } from '../../lib/compare/run.js';
import type { ObjectiveTask } from '../../lib/index.js';
import { Random } from '../../lib/random.js';
import { checkpointObject } from '../../lib/train/checkpoint.js';

const SMALL_MNIST = { perClass: 20, hidden: 8, batchSize: 32 };

function job(
  task: Job['task'],
  optimizer: string,
  lr: number,
  steps: number,
  taskOptions?: Record<string, unknown>,
): Job {
  return { id: 0, task, optimizer, lr, seed: 2, steps, points: 7, atDefault: false, taskOptions };
}

const throughJson = (c: TaskRunCheckpoint) => JSON.parse(JSON.stringify(c));

/** The rows' order of a task's batches (every batched task keeps a Batches in `batches`). */
const order = (task: ObjectiveTask) => Array.from((task as unknown as { batches: { rows: Uint32Array } }).batches.rows);

describe('the regime per task', () => {
  it('every task has one; mini-batch exactly where the task has data rows', () => {
    for (const name of TASK_NAMES) {
      const r = REGIME[name];
      expect(r.reason.length).toBeGreaterThan(10);
      const full = ['quantum-tomography', 'cliff-walking', 'rosenbrock', 'ill-conditioned-quadratic'];
      expect(r.batchSize === null).toBe(full.includes(name));
    }
    expect(taskOptionsIn(budget(true), 'least-squares')).toEqual({ rows: 100, columns: 20, batchSize: 20 });
    expect(taskOptionsIn(budget(false), 'rosenbrock')).toBeUndefined();
  });
});

describe('TaskRun in mini-batches', () => {
  it('each step hands the optimizer the loss of one mini-batch and its gradient, nothing else', () => {
    const run = new TaskRun(job('iris', 'Adam', 0.01, 20, { batchSize: 16 }));
    const task = run.task as ObjectiveTask;
    expect(run.batchCount).toBe(8);
    const optimizer = (
      run as unknown as {
        optimizer: { step: (params: unknown, grads: unknown, extra: Record<string, number>) => unknown };
      }
    ).optimizer;
    const inner = optimizer.step.bind(optimizer);
    const seen: { loss: number; extra: string[]; batchLoss: number }[] = [];
    let step = 0;
    optimizer.step = (params: unknown, grads: unknown, extra: Record<string, number>) => {
      const theta = (params as { theta: Float32Array }).theta;
      const grad = new Float32Array(task.dimension);
      const batchLoss = task.evaluate(theta, grad, step % 8);
      expect(Buffer.from(grad.buffer)).toEqual(Buffer.from((grads as { theta: Float32Array }).theta.buffer));
      seen.push({ loss: extra.loss, extra: Object.keys(extra), batchLoss });
      step++;
      return inner(params, grads, extra);
    };
    run.runUntil();
    expect(seen.length).toBe(20);
    for (const s of seen) {
      expect(s.extra).toEqual(['loss']);
      expect(s.loss).toBe(s.batchLoss);
    }
    // the mini-batch losses are not the full training loss
    expect(new Set(seen.slice(0, 8).map((s) => s.loss)).size).toBe(8);
  });

  it('reshuffles at the start of every epoch, deterministically per seed, differently per epoch and seed', () => {
    const shuffles = (seed: number, steps: number) => {
      const run = new TaskRun({ ...job('iris', 'Adam', 0.01, steps, { batchSize: 16 }), seed });
      const task = run.task as ObjectiveTask;
      const orders: number[][] = [];
      const inner = task.shuffleBatches.bind(task);
      task.shuffleBatches = (random: Random) => {
        inner(random);
        orders.push(order(task));
      };
      run.runUntil();
      return orders;
    };
    const a = shuffles(2, 17); // epochs start at steps 0, 8, 16
    expect(a.length).toBe(3);
    expect(shuffles(2, 17)).toEqual(a);
    expect(new Set(a.map((o) => o.join())).size).toBe(3);
    expect(shuffles(3, 17)[0]).not.toEqual(a[0]);
    // the generator is Random(batchOrderSeed(seed)), not the initialization's Random(seed)
    expect(batchOrderSeed(2)).not.toBe(2);
    const fresh = new TaskRun(job('iris', 'Adam', 0.01, 1, { batchSize: 16 })).task as ObjectiveTask;
    fresh.shuffleBatches(new Random(batchOrderSeed(2)));
    expect(order(fresh)).toEqual(a[0]);
  });

  it('curve points hold the full training loss (evaluate with no batch) and the held-out metric', () => {
    const run = new TaskRun(job('iris', 'Adam', 0.01, 14, { batchSize: 16 }));
    run.runUntil();
    const last = run.curve.at(-1);
    const task = run.task as ObjectiveTask;
    const theta = run.parameters() as Float32Array;
    expect(last?.step).toBe(14);
    expect(last?.loss).toBe(task.evaluate(theta));
    expect(last?.metric).toBe(task.metrics(theta).testAccuracy);
    expect(run.curve[0].step).toBe(0);
  });

  it('a mini-batched run has its own task instance (the batch order is the run’s state)', () => {
    const a = new TaskRun(job('iris', 'Adam', 0.01, 5, { batchSize: 16 }));
    const b = new TaskRun(job('iris', 'Adam', 0.01, 5, { batchSize: 16 }));
    expect(a.task).not.toBe(b.task);
    const c = new TaskRun(job('rosenbrock', 'Adam', 0.01, 5));
    const d = new TaskRun(job('rosenbrock', 'Adam', 0.01, 5));
    expect(c.task).toBe(d.task); // full batch: stateless, shared
  });

  it.each([
    ['iris', 'Adam', 0.01, { batchSize: 16 }, [8, 13]],
    ['mnist', 'EntropyBalanced', 0.003, SMALL_MNIST, [1, 5, 6, 11]],
    ['movie-ratings', 'Prodigy', 1, { batchSize: 32 }, [59, 60, 100]],
    ['seattle-weather', 'SGD+momentum', 0.01, { batchSize: 32 }, [37]],
  ] as const)(
    '%s with %s: k steps + checkpoint + resume = N steps, bit for bit',
    (task, optimizer, lr, options, stops) => {
      const j = job(task, optimizer, lr, 130, options);
      const whole = new TaskRun(j);
      whole.runUntil();
      let run = new TaskRun(j);
      for (const stop of stops) {
        run.runUntil(stop);
        const saved = throughJson(run.checkpoint());
        expect(saved.version).toBe(2);
        expect(saved.body.batches?.count).toBe(run.batchCount);
        run = TaskRun.fromCheckpoint(saved);
      }
      run.runUntil();
      expect(Buffer.from((run.parameters() as Float32Array).buffer)).toEqual(
        Buffer.from((whole.parameters() as Float32Array).buffer),
      );
      expect(run.curve).toEqual(whole.curve);
      expect(run.result()).toEqual(whole.result());
      expect(order(run.task as ObjectiveTask)).toEqual(order(whole.task as ObjectiveTask));
    },
  );

  it('refuses an old-format or version-1 checkpoint with a clear error, and a batch-order state that does not match', () => {
    const run = new TaskRun(job('iris', 'Adam', 0.01, 20, { batchSize: 16 }));
    run.runUntil(10);
    const good = throughJson(run.checkpoint());
    expect(() => TaskRun.fromCheckpoint({ ...good, version: 1 })).toThrow(
      /checkpoint: version: expected 2 but found 1 .*no checksum.*start the run again/,
    );
    expect(() => TaskRun.fromCheckpoint({ ...good.body, format: 'cimm-task-run', version: 2 })).toThrow(
      /checkpoint: format: .*comparison runner's old format.*start the run again/,
    );
    const b = good.body;
    const resign = (body: object) => checkpointObject('task-run', body);
    const state = [...b.batches.random];
    state[0] ^= 1;
    expect(() => TaskRun.fromCheckpoint(resign({ ...b, batches: { ...b.batches, random: state } }))).toThrow(
      /body\.batches\.random/,
    );
    expect(() => TaskRun.fromCheckpoint(resign({ ...b, batches: undefined }))).toThrow(/body\.batches/);
    expect(() => TaskRun.fromCheckpoint(resign({ ...b, batches: { ...b.batches, count: 3 } }))).toThrow(
      /body\.batches\.count/,
    );
    expect(TaskRun.fromCheckpoint(good).stepsDone).toBe(10);
  });
});
