/** Cliff walking: the environment, value iteration's −13, Q-learning with pluggable step sizes, regret. */
import { describe, expect, test } from 'vitest';
import {
  CliffWalking,
  CliffWalkingTask,
  fixedStepSize,
  inverseVisitCount,
  type StepSizeRule,
  valueIteration,
} from '../../lib/index.js';
import { DOWN, LEFT, RIGHT, UP } from '../../lib/tasks/gridworld.js';

describe('cliff walking environment', () => {
  const env = new CliffWalking();

  test('moves, walls, the cliff and the goal (Sutton & Barto example 6.6)', () => {
    expect(env.next(env.start, UP)).toBe(24);
    expect(env.reward(env.start, UP)).toBe(-1);
    expect(env.next(env.start, LEFT)).toBe(env.start); // off the grid: stay
    expect(env.next(env.start, DOWN)).toBe(env.start);
    expect(env.next(env.start, RIGHT)).toBe(env.start); // into the cliff: back to start
    expect(env.reward(env.start, RIGHT)).toBe(-100);
    expect(env.next(35, DOWN)).toBe(env.goal);
    expect(env.isTerminal(env.goal)).toBe(true);
    expect(env.isCliff(40)).toBe(true);
  });

  test('value iteration: V*(start) = −13 and the greedy policy walks the cliff edge in 13 steps', () => {
    const { values, policy } = valueIteration(env);
    expect(values[env.start]).toBe(-13);
    const path: number[] = [];
    let s = env.start;
    while (!env.isTerminal(s) && path.length < 50) {
      path.push(policy[s]);
      s = env.next(s, policy[s]);
    }
    expect(path).toEqual([UP, ...Array(11).fill(RIGHT), DOWN]);
    // with discounting the optimum is the discounted sum of 13 steps of −1
    const g = valueIteration(env, { gamma: 0.9 });
    expect(g.values[env.start]).toBeCloseTo(-(1 - 0.9 ** 13) / (1 - 0.9), 12);
    expect(() => valueIteration(env, { gamma: 0 })).toThrow('for gamma but received 0');
  });
});

describe('Q-learning', () => {
  const task = new CliffWalkingTask();

  test('the task: optimal return −13 from value iteration; target = greedy return at the optimum', () => {
    expect(task.optimalReturn).toBe(-13);
    expect(task.target).toMatchObject({ metric: 'greedyReturn', value: -13, direction: 'max' });
  });

  test('with a fixed α = 0.5 the greedy policy becomes optimal; regret is non-negative and adds up', () => {
    const agent = task.createAgent({ stepSize: fixedStepSize(0.5), seed: 1 });
    let sum = 0;
    for (let e = 0; e < 300; e++) {
      const r = agent.runEpisode();
      expect(r.regret).toBe(-13 - r.return);
      expect(r.regret).toBeGreaterThanOrEqual(0);
      expect(r.finished).toBe(true);
      sum += r.regret;
    }
    const m = agent.metrics();
    expect(m.cumulativeRegret).toBe(sum);
    expect(m.greedyReturn).toBe(-13);
    expect(m.greedyRegret).toBe(0);
    expect(m.episodes).toBe(300);
  });

  test("1/n(s, a): the rule sees the agent's visit counts and returns their inverse", () => {
    const rule = inverseVisitCount();
    expect(rule.alpha(0, 0, 4, 1, 1, 1)).toBe(0.25);
    expect(inverseVisitCount({ power: 0.8 }).alpha(0, 0, 32, 1, 1, 1)).toBeCloseTo(32 ** -0.8, 14);
    const seen = new Map<number, number[]>();
    const recording: StepSizeRule = {
      ...rule,
      alpha(s, a, n, delta, step, episode) {
        const list = seen.get(s * 4 + a) ?? [];
        list.push(n);
        seen.set(s * 4 + a, list);
        return rule.alpha(s, a, n, delta, step, episode);
      },
    };
    const agent = task.createAgent({ stepSize: recording, seed: 2 });
    for (let e = 0; e < 5; e++) agent.runEpisode();
    for (const [i, counts] of seen) {
      expect(counts).toEqual(Array.from({ length: counts.length }, (_, k) => k + 1));
      expect(agent.visits[i]).toBe(counts.length);
    }
    expect(() => inverseVisitCount({ power: 0.5 })).toThrow('for power but received 0.5');
  });

  test('a custom rule with its own state: it sees (s, a, n, δ, step, episode) and its state round-trips', () => {
    class Counting implements StepSizeRule {
      readonly name = 'counting';
      calls = 0;
      returns: number[] = [];
      alpha(state: number, action: number, visits: number, tdError: number, step: number, episode: number): number {
        this.calls++;
        expect(state).toBeGreaterThanOrEqual(0);
        expect(action).toBeLessThan(4);
        expect(visits).toBeGreaterThanOrEqual(1);
        expect(Number.isFinite(tdError)).toBe(true);
        expect(step).toBe(this.calls);
        expect(episode).toBeGreaterThanOrEqual(1);
        return 0.3;
      }
      endEpisode(ret: number): void {
        this.returns.push(ret);
      }
      getConfig() {
        return { name: this.name };
      }
      getState() {
        return { calls: this.calls, returns: [...this.returns] };
      }
      setState(s: Record<string, unknown>) {
        this.calls = s.calls as number;
        this.returns = [...(s.returns as number[])];
      }
    }
    const rule = new Counting();
    const agent = task.createAgent({ stepSize: rule, seed: 3 });
    for (let e = 0; e < 20; e++) agent.runEpisode();
    expect(rule.calls).toBe(agent.metrics().updates);
    expect(rule.returns).toHaveLength(20);
    // save, run on; restore into a fresh agent and rule, run on: identical futures
    const saved = JSON.parse(JSON.stringify(agent.getState()));
    const ahead = [agent.runEpisode(), agent.runEpisode()];
    const rule2 = new Counting();
    const other = task.createAgent({ stepSize: rule2, seed: 99 });
    other.setState(saved);
    expect([other.runEpisode(), other.runEpisode()]).toEqual(ahead);
    expect(rule2.getState()).toEqual(rule.getState());
  });

  test('deterministic for a seed; different seeds explore differently', () => {
    const run = (seed: number) => {
      const agent = task.createAgent({ stepSize: fixedStepSize(0.1), seed });
      return Array.from({ length: 30 }, () => agent.runEpisode().return);
    };
    expect(run(4)).toEqual(run(4));
    expect(run(4)).not.toEqual(run(5));
  });

  test('bad input names the parameter', () => {
    expect(() => fixedStepSize(0)).toThrow(
      'Expected a finite number > 0 and <= 1 for alpha but received 0 of type number',
    );
    expect(() => task.createAgent({ stepSize: {} as never })).toThrow(
      'Expected a StepSizeRule (an object with alpha()) for stepSize but received [object Object] of type object',
    );
    expect(() => task.createAgent({ stepSize: fixedStepSize(0.5), epsilon: 2 })).toThrow('for epsilon but received 2');
    const broken: StepSizeRule = {
      name: 'broken',
      alpha: () => Number.NaN,
      getConfig: () => ({}),
      getState: () => ({}),
      setState: () => {},
    };
    expect(() => task.createAgent({ stepSize: broken }).runEpisode()).toThrow(
      'Expected a finite number >= 0 for broken.alpha() but received NaN of type number',
    );
  });
});
