/** Pure-TS Shannon entropy: the reference for crate/src/entropy.rs. Seed 002 §2.2; design.md §2 eq. 6. */

/** Totals below 2^-600 are summed again at 2^600 scale (p ln p would be subnormal). */
const TINY_TOTAL = 2 ** -600;
const RESCALE = 2 ** 600;

/** [Σ c·p_i, Σ c·p_i ln(c·p_i)] with 0·ln 0 = 0, in four interleaved partial sums. */
function sums(p: Float64Array, c: number): [number, number] {
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = p.length;
  const term = (v: number) => (v !== 0 ? v * Math.log(v) : 0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = p[i] * c;
    const b = p[i + 1] * c;
    const d = p[i + 2] * c;
    const e = p[i + 3] * c;
    t0 += a;
    t1 += b;
    t2 += d;
    t3 += e;
    s0 += term(a);
    s1 += term(b);
    s2 += term(d);
    s3 += term(e);
  }
  for (; i < n; i++) {
    const v = p[i] * c;
    t0 += v;
    s0 += term(v);
  }
  return [t0 + t1 + (t2 + t3), s0 + s1 + (s2 + s3)];
}

/**
 * H(P) = −Σ P_i log₂ P_i with P = p / T, T = Σ p, in one pass as (ln T − S/T)/ln 2 with
 * S = Σ p_i ln p_i (0·ln 0 = 0). NaN for an empty p, a zero total, or a negative or
 * non-finite mass (ln of a negative is NaN, 0/0 for a zero total), or when T or S overflows;
 * 0 if it rounds below 0.
 */
export function shannonEntropy(p: Float64Array): number {
  let [total, s] = sums(p, 1);
  if (total > 0 && total < TINY_TOTAL) [total, s] = sums(p, RESCALE);
  const h = (Math.log(total) - s / total) / Math.LN2;
  // Also NaN when S overflows (masses near f64 max): the facade rescales. Negative only by rounding.
  if (!Number.isFinite(h)) return Number.NaN;
  return Math.max(h, 0);
}
