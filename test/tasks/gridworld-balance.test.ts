/**
 * The entropy-balanced step size for Q-learning on cliff walking (docs/theory.md,
 * "Entropy-balanced learning rate"): it learns the optimal path; its regret is printed next
 * to fixed α and 1/n (no claim that it wins: the numbers say what they say); α stays in its
 * bounds; its state round-trips and a resumed run continues identically.
 */
import { describe, expect, test } from 'vitest';
import {
  CimmArgumentError,
  CliffWalkingTask,
  entropyBalancedStepSize,
  fixedStepSize,
  inverseVisitCount,
  type StepSizeRule,
} from '../../lib/index.js';

const EPISODES = 500;
const SEEDS = 10;

function train(rule: () => StepSizeRule, seed: number, episodes = EPISODES) {
  const task = new CliffWalkingTask();
  const r = rule();
  const agent = task.createAgent({ stepSize: r, seed });
  for (let e = 0; e < episodes; e++) agent.runEpisode();
  return { agent, rule: r, metrics: agent.metrics(), optimal: task.optimalReturn };
}

describe('entropy-balanced step size on cliff walking', () => {
  test('learns the optimal path on every seed; regret against fixed α and 1/n, printed', () => {
    const rules: [string, () => StepSizeRule][] = [
      ['fixed α = 0.1', () => fixedStepSize(0.1)],
      ['fixed α = 0.5', () => fixedStepSize(0.5)],
      ['fixed α = 1', () => fixedStepSize(1)],
      ['α = 1/n(s,a)', () => inverseVisitCount()],
      ['entropy-balanced', () => entropyBalancedStepSize()],
      ['entropy-balanced, α₀ = 0.05', () => entropyBalancedStepSize({ alpha: 0.05 })],
    ];
    const lines: string[] = [];
    const solvedBy = new Map<string, number>();
    for (const [name, make] of rules) {
      const regrets: number[] = [];
      let solved = 0;
      for (let seed = 0; seed < SEEDS; seed++) {
        const { metrics, optimal } = train(make, seed);
        regrets.push(metrics.cumulativeRegret);
        if (metrics.greedyReturn === optimal) solved++;
      }
      const mean = regrets.reduce((s, v) => s + v, 0) / SEEDS;
      const sd = Math.sqrt(regrets.reduce((s, v) => s + (v - mean) ** 2, 0) / (SEEDS - 1));
      solvedBy.set(name, solved);
      lines.push(
        `${name.padEnd(28)} cumulative regret ${mean.toFixed(0).padStart(6)} ± ${(sd / Math.sqrt(SEEDS)).toFixed(0).padStart(4)} (s.e.)` +
          `   greedy policy optimal on ${solved}/${SEEDS} seeds`,
      );
    }
    console.log(`[cliff walking, ${EPISODES} episodes, ε = 0.1, ${SEEDS} seeds]\n  ${lines.join('\n  ')}`);
    expect(solvedBy.get('entropy-balanced')).toBe(SEEDS);
    expect(solvedBy.get('entropy-balanced, α₀ = 0.05')).toBe(SEEDS);
  });

  test('α stays within [etaMin, etaMax] and each episode reports its balance', () => {
    const rule = entropyBalancedStepSize({ etaMin: 0.01, etaMax: 0.9 });
    const task = new CliffWalkingTask();
    const agent = task.createAgent({ stepSize: rule, seed: 3 });
    for (let e = 1; e <= 100; e++) {
      agent.runEpisode();
      const b = rule.lastBalance!;
      expect(b.episode).toBe(e);
      expect(b.alpha).toBe(rule.current);
      expect(rule.current).toBeGreaterThanOrEqual(0.01);
      expect(rule.current).toBeLessThanOrEqual(0.9);
      expect(b.energy).toBeGreaterThanOrEqual(0);
      expect(b.noise).toBeGreaterThanOrEqual(0);
      expect(['balance', 'no-information', 'idle', 'hold']).toContain(b.mode);
    }
    expect(rule.getConfig()).toMatchObject({ name: 'entropy-balanced', alpha: 0.5, etaMin: 0.01, etaMax: 0.9 });
  });

  test('state round-trips through JSON and a resumed run continues identically', () => {
    const whole = train(() => entropyBalancedStepSize(), 7, 60);
    const half = train(() => entropyBalancedStepSize(), 7, 30);
    const saved = JSON.parse(JSON.stringify(half.agent.getState()));
    const task = new CliffWalkingTask();
    const rule = entropyBalancedStepSize();
    const agent = task.createAgent({ stepSize: rule, seed: 123 });
    agent.setState(saved);
    expect(JSON.parse(JSON.stringify(agent.getState()))).toEqual(saved);
    for (let e = 0; e < 30; e++) agent.runEpisode();
    expect(agent.metrics()).toEqual(whole.metrics);
    expect(rule.current).toBe((whole.rule as ReturnType<typeof entropyBalancedStepSize>).current);
    expect(Array.from(agent.q)).toEqual(Array.from(whole.agent.q));
  });

  test('errors', () => {
    const rule = entropyBalancedStepSize();
    expect(() => entropyBalancedStepSize({ alpha: 2 })).toThrow(CimmArgumentError);
    expect(() => entropyBalancedStepSize({ smoothing: 0 })).toThrow(/for smoothing/);
    expect(() =>
      rule.setState({ alpha: 0.5, loop: { potential: 0 }, noise: null, pairs: 'x', sums: [0, 0, 0, 0] }),
    ).toThrow(/for state\.pairs/);
    expect(() => rule.setState({ alpha: 0.5, loop: { potential: 0 }, noise: null, pairs: [], sums: [0, 0] })).toThrow(
      /for state\.sums/,
    );
    expect(() =>
      rule.setState({ alpha: 7, loop: { potential: 0 }, noise: null, pairs: [], sums: [0, 0, 0, 0] }),
    ).toThrow(/for state\.alpha/);
  });
});
