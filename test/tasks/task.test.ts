/** The common task interface: registry, targets, batches, and every task driven the same way. */
import { describe, expect, test } from 'vitest';
import { createTask, fixedStepSize, type ObjectiveTask, TASK_NAMES, targetReached } from '../../lib/index.js';
import { Random } from '../../lib/random.js';
import { Batches } from '../../lib/tasks/task.js';

describe('task registry', () => {
  test('every name builds a task of its kind with a target naming one of its metrics', () => {
    const small: Record<string, object | undefined> = {
      'modular-addition': { modulus: 5, hidden: 4 },
      'least-squares': { rows: 20, columns: 4 },
      sp500: {},
      'quantum-tomography': { qubits: 1 },
      iris: {},
      mnist: { perClass: 5, hidden: 4 },
      'ill-conditioned-quadratic': { dimension: 10 },
    };
    for (const name of TASK_NAMES) {
      const task = createTask(name, small[name] as never);
      if (task.kind === 'rl') {
        const agent = task.createAgent({ stepSize: fixedStepSize(0.5) });
        agent.runEpisode();
        expect(Object.keys(agent.metrics())).toContain(task.target.metric);
        continue;
      }
      const params = task.initialParameters(0);
      expect(params).toBeInstanceOf(Float32Array);
      expect(params.length).toBe(task.dimension);
      const grad = new Float32Array(task.dimension);
      expect(Number.isFinite(task.evaluate(params, grad))).toBe(true);
      expect(Object.keys(task.metrics(params))).toContain(task.target.metric);
      expect(task.describe().name).toBe(task.name);
      expect(JSON.parse(JSON.stringify(task.describe()))).toBeTruthy();
    }
    expect(() => createTask('chess' as never)).toThrow('for name but received "chess"');
  });

  test('targetReached follows the direction', () => {
    const max = { metric: 'a', value: 0.9, direction: 'max' as const, reason: '' };
    const min = { metric: 'a', value: 0.1, direction: 'min' as const, reason: '' };
    expect(targetReached(max, { a: 0.9 })).toBe(true);
    expect(targetReached(max, { a: 0.89 })).toBe(false);
    expect(targetReached(min, { a: 0.1 })).toBe(true);
    expect(targetReached(min, { a: Number.NaN })).toBe(false);
    expect(targetReached(min, {})).toBe(false);
  });

  test('mini-batches partition the examples; a seeded shuffle re-partitions them in place', () => {
    const b = new Batches([10, 11, 12, 13, 14, 15, 16], 3);
    expect(b.count).toBe(3);
    expect([b.start(2), b.end(2)]).toEqual([6, 7]);
    expect([b.start(undefined), b.end(undefined)]).toEqual([0, 7]);
    const before = b.rows;
    b.shuffle(new Random(1));
    expect(b.rows).toBe(before);
    expect([...b.rows].sort()).toEqual([10, 11, 12, 13, 14, 15, 16]);
    const c = new Batches([10, 11, 12, 13, 14, 15, 16], 3);
    c.shuffle(new Random(1));
    expect(c.rows).toEqual(b.rows);
  });

  test('evaluate allocates nothing it keeps: repeated calls give identical results', () => {
    const task = createTask('iris') as ObjectiveTask;
    const x = task.initialParameters(1);
    const g1 = new Float32Array(task.dimension);
    const g2 = new Float32Array(task.dimension);
    expect(task.evaluate(x, g1)).toBe(task.evaluate(x, g2));
    expect(g1).toEqual(g2);
  });
});
