/**
 * Reinforcement learning (seed 000 §4): cliff walking, Sutton & Barto (2018) example 6.6.
 *
 * A 4 × 12 grid; start at the bottom-left, goal at the bottom-right, the cells between
 * them on the bottom row are the cliff. Actions up, right, down, left; a move off the
 * grid leaves the agent in place. Every step costs −1; stepping into the cliff costs −100
 * and sends the agent back to the start (the episode goes on); reaching the goal ends it.
 * Undiscounted (γ = 1): the optimal return from the start is −13 (up, 11 × right, down),
 * computed here by value iteration rather than assumed.
 *
 * Tabular Q-learning with ε-greedy exploration (seeded) and a pluggable step size α
 * (`StepSizeRule`): `fixedStepSize(α)` and `inverseVisitCount()` (α = 1/n(s, a), the
 * classical schedule that satisfies Robbins–Monro: Σ α = ∞, Σ α² < ∞). Regret is measured
 * against the value-iteration optimum: per episode, optimal − episode return, and
 * cumulatively; plus the return and regret of the greedy policy.
 */
import { argumentError } from '../errors.js';
import { finiteNumber, integer, options } from '../is.js';
import {
  type BalanceConfig,
  type BalanceMode,
  type BalanceOptions,
  type BalanceState,
  balanceConfig,
  balanceState,
  balanceStep,
  EMPTY_BALANCE,
} from '../optim/balance.js';
import { Random } from '../random.js';
import {
  type EpisodeResult,
  type RlAgent,
  type RlAgentOptions,
  type RlTask,
  type StepSizeRule,
  seedOption,
  type TaskTarget,
} from './task.js';

/** Action indices. */
export const UP = 0;
export const RIGHT = 1;
export const DOWN = 2;
export const LEFT = 3;
const MOVES: readonly (readonly [number, number])[] = [
  [-1, 0],
  [0, 1],
  [1, 0],
  [0, -1],
];

/** The cliff-walking environment: states are row · cols + col. */
export class CliffWalking {
  readonly rows = 4;
  readonly cols = 12;
  readonly states = 48;
  readonly actions = 4;
  readonly start = 3 * 12;
  readonly goal = 3 * 12 + 11;
  readonly cliffReward = -100;
  readonly stepReward = -1;

  isCliff(state: number): boolean {
    return state > this.start && state < this.goal;
  }

  isTerminal(state: number): boolean {
    return state === this.goal;
  }

  /** Where (state, action) leads, after a cliff fall's reset to the start. */
  next(state: number, action: number): number {
    const r = Math.floor(state / this.cols);
    const c = state % this.cols;
    const nr = Math.min(this.rows - 1, Math.max(0, r + MOVES[action][0]));
    const nc = Math.min(this.cols - 1, Math.max(0, c + MOVES[action][1]));
    const s = nr * this.cols + nc;
    return this.isCliff(s) ? this.start : s;
  }

  /** The reward of (state, action). */
  reward(state: number, action: number): number {
    const r = Math.floor(state / this.cols);
    const c = state % this.cols;
    const nr = Math.min(this.rows - 1, Math.max(0, r + MOVES[action][0]));
    const nc = Math.min(this.cols - 1, Math.max(0, c + MOVES[action][1]));
    return this.isCliff(nr * this.cols + nc) ? this.cliffReward : this.stepReward;
  }
}

export interface ValueIterationResult {
  /** V*(s); 0 at the goal. */
  values: Float64Array;
  /** A greedy optimal action per state (lowest index among ties; −1 at the goal). */
  policy: Int8Array;
  sweeps: number;
}

/**
 * Value iteration V(s) ← max_a [r(s, a) + γ V(s')] (Gauss–Seidel sweeps) until the largest
 * change is ≤ tolerance. With γ = 1 this converges because every improper policy has
 * return −∞ and the optimal one reaches the goal (a stochastic-shortest-path problem).
 */
export function valueIteration(
  env: CliffWalking,
  opts?: { gamma?: number; tolerance?: number; maxSweeps?: number },
): ValueIterationResult {
  const o = options<{ gamma: number; tolerance: number; maxSweeps: number }>('options', opts);
  const gamma = finiteNumber('gamma', o.gamma ?? 1, { above: 0, max: 1 });
  const tolerance = finiteNumber('tolerance', o.tolerance ?? 1e-12, { min: 0 });
  const maxSweeps = integer('maxSweeps', o.maxSweeps ?? 100_000, { min: 1 });
  const values = new Float64Array(env.states);
  let sweeps = 0;
  for (;;) {
    sweeps++;
    let change = 0;
    for (let s = 0; s < env.states; s++) {
      if (env.isTerminal(s) || env.isCliff(s)) continue;
      let best = Number.NEGATIVE_INFINITY;
      for (let a = 0; a < env.actions; a++) best = Math.max(best, env.reward(s, a) + gamma * values[env.next(s, a)]);
      change = Math.max(change, Math.abs(best - values[s]));
      values[s] = best;
    }
    if (change <= tolerance) break;
    if (sweeps >= maxSweeps) throw new RangeError(`cimm: value iteration did not converge in ${maxSweeps} sweeps`);
  }
  const policy = new Int8Array(env.states).fill(-1);
  for (let s = 0; s < env.states; s++) {
    if (env.isTerminal(s) || env.isCliff(s)) continue;
    let best = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < env.actions; a++) {
      const q = env.reward(s, a) + gamma * values[env.next(s, a)];
      if (q > best + 1e-12) [best, policy[s]] = [q, a];
    }
  }
  return { values, policy, sweeps };
}

// ---------------------------------------------------------------------------------------
// Step-size rules.

/** α constant. */
export function fixedStepSize(alpha: number): StepSizeRule {
  const a = finiteNumber('alpha', alpha, { above: 0, max: 1 });
  return {
    name: 'fixed',
    alpha: () => a,
    getConfig: () => ({ name: 'fixed', alpha: a }),
    getState: () => ({}),
    setState: () => {},
  };
}

/**
 * α = 1 / n(s, a)^ω (default ω = 1: the sample mean of the targets; Robbins–Monro for
 * ω ∈ (½, 1]). The visit counts are the agent's, so the rule itself holds no state.
 */
export function inverseVisitCount(opts?: { power?: number }): StepSizeRule {
  const o = options<{ power: number }>('options', opts);
  const power = finiteNumber('power', o.power ?? 1, { above: 0.5, max: 1 });
  return {
    name: 'inverse-visit-count',
    alpha: (_s, _a, visits) => visits ** -power,
    getConfig: () => ({ name: 'inverse-visit-count', power }),
    getState: () => ({}),
    setState: () => {},
  };
}

export interface EntropyBalancedStepSizeOptions extends BalanceOptions {
  /** α before the first balance reading (default 0.5, in [etaMin, etaMax]). */
  alpha?: number;
}

/** What the entropy-balanced rule measured over the last episode. */
export interface StepSizeBalance {
  episode: number;
  /** α for the next episode. */
  alpha: number;
  /** Σ ½ (α δ)² over the episode's updates (the TD updates' work). */
  energy: number;
  /** The bits the updates gained about their targets' means (noise-corrected). */
  information: number;
  /** σ̂², the running estimate of the targets' variance between visits. */
  noise: number;
  mode: BalanceMode;
  residual: number | null;
  qpl: number | null;
}

/** The entropy-balanced rule with its last episode's readings. */
export interface EntropyBalancedStepSizeRule extends StepSizeRule {
  /** The current α. */
  readonly current: number;
  /** The last episode's balance (null before the first episode ends). */
  readonly lastBalance: StepSizeBalance | null;
}

/**
 * The entropy-balanced step size (seed 000 §3 applied to Q-learning, seed 000 §4; docs/
 * theory.md, "Entropy-balanced learning rate"): one α for all pairs, set at the end of each
 * episode by the QPL loop of lib/optim/balance.ts from that episode's readings —
 *
 *   energy       E = Σ ½ (α δ)², the kinetic energy of the episode's updates (each moved
 *                Q(s, a) by α δ);
 *   information  I = Σ ½ [(δ² − σ̂²)·α(2 − α) − α² σ̂²] / ln 2: the fall of each update's
 *                squared error about its target's mean, in bits (½ e² is the Gaussian
 *                negative log-likelihood in nats). A TD error δ = e + ν is the estimate's
 *                error e plus the target's noise ν (variance σ²); after the update the
 *                error is (1 − α) e + α ν.
 *   σ̂²           the mean square of the target's change between a pair's update and its
 *                revisit, D = δ − (1 − α_prev) δ_prev, low-pass filtered over episodes.
 *
 * E ∝ α², so the loop settles where E = α I, at α = 2 − ln 2 − 2 σ̂² / mean δ²: with
 * noise-free targets above 1, clamped to etaMax = 1 (step onto the target); the noisier
 * the targets, the smaller α. Caveat: a bootstrapped target also drifts as other pairs
 * learn, and D counts that drift as noise, so α is cautious while values propagate.
 * The state (α, the loop, σ̂², each pair's last δ and α, the episode's sums) is JSON and
 * round-trips exactly.
 */
export function entropyBalancedStepSize(opts?: EntropyBalancedStepSizeOptions): EntropyBalancedStepSizeRule {
  const o = options<EntropyBalancedStepSizeOptions>('options', opts);
  const { alpha: a0, ...loopOptions } = o;
  // The per-episode loop: each reading alone, the residual target, no loss-stream blocks.
  const config: BalanceConfig = balanceConfig({
    etaMin: 1e-3,
    etaMax: 1,
    target: 'residual',
    averaging: 0,
    window: 0,
    ...loopOptions,
  });
  const initial = finiteNumber('alpha', a0 ?? 0.5, { min: config.etaMin, max: config.etaMax });
  let alpha = initial;
  let loop: BalanceState = EMPTY_BALANCE;
  let noise: number | null = null;
  /** Per pair "s,a": the last δ and the α it was applied with. */
  let last = new Map<string, [number, number]>();
  /** This episode: Σ δ², updates, Σ D², revisits. */
  let sums = [0, 0, 0, 0];
  let lastBalance: StepSizeBalance | null = null;
  return {
    name: 'entropy-balanced',
    get current() {
      return alpha;
    },
    get lastBalance() {
      return lastBalance && { ...lastBalance };
    },
    alpha(state, action, _visits, tdError) {
      const key = `${state},${action}`;
      const prev = last.get(key);
      if (prev) {
        const change = tdError - (1 - prev[1]) * prev[0];
        sums[2] += change * change;
        sums[3]++;
      }
      sums[0] += tdError * tdError;
      sums[1]++;
      last.set(key, [tdError, alpha]);
      return alpha;
    },
    endEpisode(_return, episode) {
      const [squares, updates, changes, revisits] = sums;
      if (revisits > 0) {
        const mean = changes / revisits;
        noise = noise === null ? mean : (1 - config.smoothing) * noise + config.smoothing * mean;
      }
      const s2 = noise ?? 0;
      const energy = 0.5 * alpha * alpha * squares;
      const information = (0.5 * (alpha * (2 - alpha) * squares - 2 * alpha * updates * s2)) / Math.LN2;
      const reading = updates > 0 ? { bits: information, scale: (0.5 * squares) / Math.LN2 } : null;
      const turn = balanceStep(config, loop, {
        eta: alpha,
        energy: reading && energy,
        information: reading,
        etaOrder: 2,
        secant: null,
        loss: null,
        predictedDecrease: null,
      });
      lastBalance = {
        episode,
        alpha: turn.eta,
        energy,
        information,
        noise: s2,
        mode: turn.mode,
        residual: turn.residual,
        qpl: turn.qpl,
      };
      [alpha, loop] = [turn.eta, turn.state];
      sums = [0, 0, 0, 0];
    },
    getConfig: () => ({ name: 'entropy-balanced', alpha: initial, ...config }),
    getState: () => ({
      alpha,
      loop: structuredClone(loop),
      noise,
      pairs: [...last].map(([key, [d, a]]) => [key, d, a]),
      sums: [...sums],
    }),
    setState(st) {
      const s = options<Record<string, unknown>>('state', st);
      const pairs = s.pairs;
      if (
        !Array.isArray(pairs) ||
        !pairs.every(
          (p) => Array.isArray(p) && typeof p[0] === 'string' && Number.isFinite(p[1]) && Number.isFinite(p[2]),
        )
      ) {
        throw argumentError('state.pairs', 'an array of ["s,a", δ, α]', pairs);
      }
      const episodeSums = s.sums;
      if (
        !Array.isArray(episodeSums) ||
        episodeSums.length !== 4 ||
        !episodeSums.every((v) => v >= 0 && Number.isFinite(v))
      ) {
        throw argumentError('state.sums', 'an array of 4 finite numbers >= 0', episodeSums);
      }
      const next = {
        alpha: finiteNumber('state.alpha', s.alpha, { min: config.etaMin, max: config.etaMax }),
        loop: balanceState('state.loop', s.loop),
        noise: s.noise === null ? null : finiteNumber('state.noise', s.noise, { min: 0 }),
      };
      ({ alpha, loop, noise } = next);
      sums = [...(episodeSums as number[])];
      last = new Map(pairs.map((p) => [p[0] as string, [p[1] as number, p[2] as number]]));
      lastBalance = null;
    },
  };
}

// ---------------------------------------------------------------------------------------
// The Q-learning agent and the task.

export interface QLearningOptions extends RlAgentOptions {
  /** Exploration probability ε (default 0.1, as in Sutton & Barto's example). */
  epsilon?: number;
  /** Discount γ (default 1). */
  gamma?: number;
  /** Initial Q values (default 0). */
  initialQ?: number;
  /** Step cap per episode (default 10,000). */
  maxSteps?: number;
}

export class QLearningAgent implements RlAgent {
  readonly q: Float64Array;
  readonly visits: Uint32Array;
  readonly stepSize: StepSizeRule;
  private readonly env: CliffWalking;
  private readonly optimalReturn: number;
  private readonly epsilon: number;
  private readonly gamma: number;
  private readonly maxSteps: number;
  private random: Random;
  private episodes = 0;
  private updates = 0;
  private cumulativeRegret = 0;
  private lastReturn = Number.NaN;

  constructor(env: CliffWalking, optimalReturn: number, opts: QLearningOptions) {
    const o = options<QLearningOptions>('options', opts);
    const rule = o.stepSize;
    if (rule === null || typeof rule !== 'object' || typeof rule.alpha !== 'function') {
      throw argumentError('stepSize', 'a StepSizeRule (an object with alpha())', rule);
    }
    this.stepSize = rule;
    this.epsilon = finiteNumber('epsilon', o.epsilon ?? 0.1, { min: 0, max: 1 });
    this.gamma = finiteNumber('gamma', o.gamma ?? 1, { above: 0, max: 1 });
    const q0 = finiteNumber('initialQ', o.initialQ ?? 0);
    this.maxSteps = integer('maxSteps', o.maxSteps ?? 10_000, { min: 1 });
    this.random = new Random(seedOption(o.seed ?? 0));
    this.env = env;
    this.optimalReturn = optimalReturn;
    this.q = new Float64Array(env.states * env.actions).fill(q0);
    for (let a = 0; a < env.actions; a++) this.q[env.goal * env.actions + a] = 0;
    this.visits = new Uint32Array(env.states * env.actions);
  }

  /** arg max_a Q(s, a); ties broken at random when `random` is given, else by lowest index. */
  private argmax(s: number, random: Random | undefined): number {
    const A = this.env.actions;
    let best = this.q[s * A];
    let arg = 0;
    let ties = 1;
    for (let a = 1; a < A; a++) {
      const v = this.q[s * A + a];
      if (v > best) [best, arg, ties] = [v, a, 1];
      else if (v === best && random !== undefined && random.uniform() * ++ties < 1) arg = a;
    }
    return arg;
  }

  private maxQ(s: number): number {
    const A = this.env.actions;
    let best = this.q[s * A];
    for (let a = 1; a < A; a++) best = Math.max(best, this.q[s * A + a]);
    return best;
  }

  runEpisode(): EpisodeResult {
    const { env, q, visits, random, stepSize } = this;
    const A = env.actions;
    const episode = ++this.episodes;
    let s = env.start;
    let ret = 0;
    let steps = 0;
    while (!env.isTerminal(s) && steps < this.maxSteps) {
      const a = random.uniform() < this.epsilon ? random.int(A) : this.argmax(s, random);
      const r = env.reward(s, a);
      const next = env.next(s, a);
      const bootstrap = env.isTerminal(next) ? 0 : this.gamma * this.maxQ(next);
      const i = s * A + a;
      const delta = r + bootstrap - q[i];
      visits[i]++;
      this.updates++;
      const alpha = stepSize.alpha(s, a, visits[i], delta, this.updates, episode);
      if (!(alpha >= 0 && alpha < Number.POSITIVE_INFINITY)) {
        throw argumentError(`${stepSize.name}.alpha()`, 'a finite number >= 0', alpha);
      }
      q[i] += alpha * delta;
      ret += r;
      steps++;
      s = next;
    }
    stepSize.endEpisode?.(ret, episode);
    const regret = this.optimalReturn - ret;
    this.cumulativeRegret += regret;
    this.lastReturn = ret;
    return { episode, return: ret, steps, regret, finished: env.isTerminal(s) };
  }

  /** The return of the greedy policy from the start, capped at 4 · states steps. */
  greedyReturn(): { return: number; reachesGoal: boolean } {
    const env = this.env;
    let s = env.start;
    let ret = 0;
    for (let t = 0; t < 4 * env.states && !env.isTerminal(s); t++) {
      const a = this.argmax(s, undefined);
      ret += env.reward(s, a);
      s = env.next(s, a);
    }
    return { return: ret, reachesGoal: env.isTerminal(s) };
  }

  metrics(): Record<string, number> {
    const g = this.greedyReturn();
    return {
      episodes: this.episodes,
      updates: this.updates,
      lastReturn: this.lastReturn,
      cumulativeRegret: this.cumulativeRegret,
      greedyReturn: g.return,
      greedyRegret: this.optimalReturn - g.return,
      greedyReachesGoal: g.reachesGoal ? 1 : 0,
    };
  }

  getState(): Record<string, unknown> {
    return {
      q: Array.from(this.q),
      visits: Array.from(this.visits),
      random: this.random.state(),
      episodes: this.episodes,
      updates: this.updates,
      cumulativeRegret: this.cumulativeRegret,
      lastReturn: this.lastReturn,
      stepSize: this.stepSize.getState(),
    };
  }

  setState(state: Record<string, unknown>): void {
    const st = options<Record<string, unknown>>('state', state);
    const q = st.q as number[];
    const visits = st.visits as number[];
    if (!Array.isArray(q) || q.length !== this.q.length)
      throw argumentError('state.q', `an Array of ${this.q.length}`, q);
    if (!Array.isArray(visits) || visits.length !== this.visits.length) {
      throw argumentError('state.visits', `an Array of ${this.visits.length}`, visits);
    }
    this.q.set(q);
    this.visits.set(visits);
    this.random = Random.fromState(st.random as number[]);
    this.episodes = integer('state.episodes', st.episodes, { min: 0 });
    this.updates = integer('state.updates', st.updates, { min: 0 });
    this.cumulativeRegret = finiteNumber('state.cumulativeRegret', st.cumulativeRegret);
    this.lastReturn = typeof st.lastReturn === 'number' ? st.lastReturn : Number.NaN;
    this.stepSize.setState(options('state.stepSize', st.stepSize));
  }
}

export class CliffWalkingTask implements RlTask {
  readonly kind = 'rl' as const;
  readonly name = 'cliff-walking';
  readonly env = new CliffWalking();
  readonly optimalReturn: number;
  readonly optimalPolicy: Int8Array;
  readonly target: TaskTarget;

  constructor() {
    const vi = valueIteration(this.env);
    this.optimalReturn = vi.values[this.env.start];
    this.optimalPolicy = vi.policy;
    this.target = {
      metric: 'greedyReturn',
      value: this.optimalReturn,
      direction: 'max',
      reason: 'the greedy policy earns the value-iteration optimum (−13): the agent has learned the optimal path',
    };
  }

  createAgent(options: QLearningOptions): QLearningAgent {
    return new QLearningAgent(this.env, this.optimalReturn, options);
  }

  describe(): Record<string, unknown> {
    return {
      name: this.name,
      rows: this.env.rows,
      cols: this.env.cols,
      optimalReturn: this.optimalReturn,
    };
  }
}
