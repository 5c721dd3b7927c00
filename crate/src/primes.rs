//! The first N primes (p_1 = 2) and the per-prime constants the prime series of
//! design.md §2 eq. 3 needs: p_n, 1/p_n and p_n², as f64.
//!
//! One process-wide table, grown on demand (at least doubling, so a sequence of
//! growing requests sieves O(log N) times) and shared through an `Arc`: a request for
//! fewer primes than are cached reuses the table and never sieves again.

use crate::error::KernelError;
use std::sync::{Arc, Mutex};

/// Largest supported prime count (p_1000000 = 15 485 863).
pub const MAX_PRIME_COUNT: usize = 1_000_000;

/// The first `len()` primes and their derived constants (structure of arrays so the
/// kernels can broadcast one prime's constants at a time).
#[derive(Debug)]
pub struct PrimeTable {
    /// p_n.
    pub p: Vec<f64>,
    /// 1/p_n, correctly rounded: the phase r/p_n in turns is computed as r·(1/p_n).
    pub inv_p: Vec<f64>,
    /// p_n², exact in f64 (p_n < 2^26).
    pub p_sq: Vec<f64>,
}

impl PrimeTable {
    pub fn len(&self) -> usize {
        self.p.len()
    }

    pub fn is_empty(&self) -> bool {
        self.p.is_empty()
    }

    fn build(n: usize) -> Self {
        let primes = first_primes(n);
        Self {
            p: primes.iter().map(|&q| q as f64).collect(),
            inv_p: primes.iter().map(|&q| 1.0 / q as f64).collect(),
            p_sq: primes.iter().map(|&q| (q as f64) * (q as f64)).collect(),
        }
    }
}

/// Validates a prime count (the series length N of eq. 3).
pub fn check_prime_count(n: usize) -> Result<(), KernelError> {
    if n > MAX_PRIME_COUNT {
        return Err(KernelError::new(
            "primeCount",
            format!("an integer in [0, {MAX_PRIME_COUNT}]"),
            n.to_string(),
        ));
    }
    Ok(())
}

/// Converts a JS number into a prime count: a finite integer in [0, 1e6].
pub fn prime_count_from_f64(v: f64) -> Result<usize, KernelError> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_PRIME_COUNT as f64) {
        return Err(KernelError::new(
            "primeCount",
            format!("an integer in [0, {MAX_PRIME_COUNT}]"),
            format_number(v),
        ));
    }
    Ok(v as usize)
}

/// Formats a number the way JS prints it for integers (no trailing ".0").
pub(crate) fn format_number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e21 {
        format!("{}", v as i128)
    } else if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{v}")
    }
}

/// A table holding at least the first `n` primes (it may hold more; use the first n).
pub fn prime_table(n: usize) -> Result<Arc<PrimeTable>, KernelError> {
    check_prime_count(n)?;
    static CACHE: Mutex<Option<Arc<PrimeTable>>> = Mutex::new(None);
    // A panic while sieving cannot leave a half-built table behind (it is only stored
    // once complete), so a poisoned lock is safe to reuse.
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = guard.as_ref() {
        if t.len() >= n {
            return Ok(Arc::clone(t));
        }
    }
    let old = guard.as_ref().map_or(0, |t| t.len());
    let target = n.max(old.saturating_mul(2)).clamp(1024, MAX_PRIME_COUNT);
    let table = Arc::new(PrimeTable::build(target));
    *guard = Some(Arc::clone(&table));
    Ok(table)
}

/// An upper bound on p_n: p_n < n (ln n + ln ln n) for n ≥ 6 (Rosser–Schoenfeld).
fn nth_prime_upper_bound(n: usize) -> usize {
    if n < 6 {
        return 13;
    }
    let x = n as f64;
    (x * (x.ln() + x.ln().ln())).ceil() as usize + 1
}

/// The first `n` primes by a sieve of Eratosthenes over the odd numbers.
pub fn first_primes(n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    out.push(2);
    let limit = nth_prime_upper_bound(n);
    // composite[i] marks the odd number 2i + 1.
    let half = limit / 2 + 1;
    let mut composite = vec![false; half];
    let mut i = 1;
    while out.len() < n && i < half {
        if !composite[i] {
            let q = 2 * i + 1;
            out.push(q as u32);
            let mut j = q * q / 2;
            while j < half {
                composite[j] = true;
                j += q;
            }
        }
        i += 1;
    }
    assert_eq!(out.len(), n, "prime sieve bound too small");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_primes() {
        assert_eq!(first_primes(0), Vec::<u32>::new());
        assert_eq!(first_primes(1), vec![2]);
        assert_eq!(first_primes(10), vec![2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    }

    #[test]
    fn known_nth_primes() {
        let p = first_primes(1_000_000);
        assert_eq!(p[99], 541);
        assert_eq!(p[999], 7919);
        assert_eq!(p[9_999], 104_729);
        assert_eq!(p[999_999], 15_485_863);
    }

    #[test]
    fn table_is_cached_and_consistent() {
        let a = prime_table(100).unwrap();
        let b = prime_table(50).unwrap();
        assert!(Arc::ptr_eq(&a, &b) || b.len() >= a.len());
        assert!(a.len() >= 100);
        assert_eq!(a.p[0], 2.0);
        assert_eq!(a.inv_p[1], 1.0 / 3.0);
        assert_eq!(a.p_sq[2], 25.0);
        assert!(prime_table(MAX_PRIME_COUNT + 1).is_err());
    }

    #[test]
    fn prime_count_validation() {
        assert_eq!(prime_count_from_f64(0.0), Ok(0));
        assert_eq!(prime_count_from_f64(100.0), Ok(100));
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 2e6] {
            let e = prime_count_from_f64(bad).unwrap_err();
            assert_eq!(e.param, "primeCount");
        }
        assert_eq!(
            prime_count_from_f64(2e6).unwrap_err().to_string(),
            "Expected an integer in [0, 1000000] for primeCount but received 2000000"
        );
    }
}
