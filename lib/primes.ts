/**
 * The primes p_1 = 2, p_2 = 3, … that modulate the energy series (design eq. 3) and the
 * fractal transform (eq. 8). Generated once by a sieve and cached, grown on demand.
 */
import { integer } from './is.js';

/** The largest prime count any kernel accepts (p_1e6 = 15,485,863). */
export const MAX_PRIME_COUNT = 1_000_000;

let cache: Float64Array = new Float64Array(0);

/** An upper bound on p_n (Rosser–Schoenfeld: p_n < n(ln n + ln ln n) for n ≥ 6). */
function nthPrimeBound(n: number): number {
  if (n < 6) return 15;
  return Math.ceil(n * (Math.log(n) + Math.log(Math.log(n))));
}

function sieve(count: number): Float64Array {
  const limit = nthPrimeBound(count);
  const composite = new Uint8Array(limit + 1);
  const out = new Float64Array(count);
  let found = 0;
  for (let i = 2; i <= limit && found < count; i++) {
    if (composite[i]) continue;
    out[found++] = i;
    for (let j = i * i; j <= limit; j += i) composite[j] = 1;
  }
  return out;
}

/** The first `count` primes as a shared, cached view. Do not mutate. */
export function primeTable(count: number): Float64Array {
  if (count > cache.length) cache = sieve(Math.max(count, 2 * cache.length, 128));
  return cache.subarray(0, count);
}

/** The first `count` primes (p_1 = 2), as a fresh array the caller owns. */
export function primes(count: number): Float64Array {
  integer('count', count, { min: 0, max: MAX_PRIME_COUNT });
  return primeTable(count).slice();
}

/** p_n, the n-th prime, 1-based as in the seeds. */
export function nthPrime(n: number): number {
  integer('n', n, { min: 1, max: MAX_PRIME_COUNT });
  return primeTable(n)[n - 1];
}
