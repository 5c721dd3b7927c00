//! The canonical-order split sums (support module, no kernel): the fixed split of a length-n
//! sum that the reductions of the optim, flow, balance and measured kernels share
//! (crate::optim's l2_norm, crate::flow's grid_sums, crate::balance).
//!
//! Sums are accumulated in f64. Determinism: a sum is split into at most `MAX_UNITS`
//! fixed ranges that depend only on the length, the range sums are added in index
//! order, so the value does not depend on the number of threads (only on the SIMD path,
//! through the order inside a range).

use crate::parallel;

/// Elements from which helper threads are used.
pub(crate) const PARALLEL_MIN: usize = 1 << 18;
/// Smallest range of a split sum.
pub(crate) const MIN_UNIT: usize = 1 << 15;
/// Most ranges a sum is split into (their partial sums live on the stack).
pub(crate) const MAX_UNITS: usize = 64;

/// The fixed split of a length-n sum: (range length, number of ranges), a multiple of 16.
pub(crate) fn split(n: usize) -> (usize, usize) {
    let units = n.div_ceil(MIN_UNIT).clamp(1, MAX_UNITS);
    let chunk = n.div_ceil(units).next_multiple_of(16).max(16);
    (chunk, n.div_ceil(chunk).max(1))
}

/// Σ f(range) over the fixed split of `n` elements, ranges added in order.
pub(crate) fn split_sum<const K: usize>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
) -> [f64; K] {
    let (chunk, units) = split(n);
    let mut partial = [[0.0; K]; MAX_UNITS];
    let slots = &mut partial[..units];
    let fill = |u: usize, slot: &mut [[f64; K]]| {
        slot[0] = f(u * chunk..((u + 1) * chunk).min(n));
    };
    if n >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(slots, 1, fill);
    } else {
        for u in 0..units {
            fill(u, &mut slots[u..u + 1]);
        }
    }
    let mut total = [0.0; K];
    for p in slots.iter() {
        for k in 0..K {
            total[k] += p[k];
        }
    }
    total
}

/// Inputs and the reference sum shared by the reduction kernels' tests (optim.rs, flow.rs).
#[cfg(test)]
pub(crate) mod test_support {
    /// `n` values in [−2, 2) from a fixed LCG seeded by `seed`.
    pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s as f32 / u32::MAX as f32) * 4.0 - 2.0
            })
            .collect()
    }

    /// Σ values with Neumaier's compensation: the "exact" sum the paths are held to.
    pub(crate) fn exact_sum(v: impl Iterator<Item = f64>) -> f64 {
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for x in v {
            let t = s + x;
            c += if s.abs() >= x.abs() {
                (s - t) + x
            } else {
                (x - t) + s
            };
            s = t;
        }
        s + c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_depends_only_on_length() {
        for n in [
            0,
            1,
            15,
            16,
            17,
            MIN_UNIT,
            MIN_UNIT + 1,
            1_000_000,
            64 * MIN_UNIT + 3,
            10_000_000,
        ] {
            let (chunk, units) = split(n);
            assert!((1..=MAX_UNITS).contains(&units) && chunk % 16 == 0, "n={n}");
            assert!(chunk * units >= n && (n == 0 || chunk * (units - 1) < n), "n={n}");
        }
    }
}
