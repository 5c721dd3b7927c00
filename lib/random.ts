/**
 * Seeded, serializable randomness (pure-rand's xoroshiro128+). Every random choice in cimm
 * (quadrature points, initialization, shuffling) draws from one of these so a run is
 * reproducible from its seed and resumable from its saved state.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { integer } from './is.js';

type Generator = ReturnType<typeof xoroshiro128plus>;

export class Random {
  private rng: Generator;

  constructor(seed = 0) {
    integer('seed', seed, { min: -(2 ** 31), max: 2 ** 32 - 1 });
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** Restore a generator from `state()`. */
  static fromState(state: readonly number[]): Random {
    const r = new Random(0);
    r.rng = xoroshiro128plusFromState(state);
    return r;
  }

  /** The generator's state, a short array of 32-bit integers (JSON-safe). */
  state(): number[] {
    return [...this.rng.getState()];
  }

  /** Uniform in [0, 1), 53 random bits. */
  uniform(): number {
    return uniformFloat64(this.rng);
  }

  /** Standard normal (Box–Muller; one value per call, deterministic). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
