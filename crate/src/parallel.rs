//! Parallel execution for the kernels: the calling thread works too, helped by the
//! crate's own rayon pool (`CIMM_THREADS` − 1 workers, built lazily once).
//!
//! Why not `par_iter` on a pool: on this project's VMs an idle worker takes 0.1–1 ms
//! to wake, so a call that hands all its work to the pool and sleeps until it is done
//! was measured slower than one thread for kernels under a few milliseconds. Here the
//! caller claims work units from an atomic counter itself, and helpers join when they
//! wake; a helper that wakes after the last unit was claimed does nothing. The result
//! is never much slower than serial and about `threads` × faster when the helpers are
//! awake. Which thread runs a unit never changes its result (units write disjoint
//! output), so results do not depend on the thread count.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

fn threads_from_env(value: Option<&str>, available: usize) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(available)
        .max(1)
}

/// Number of threads the kernels use, the caller included (`CIMM_THREADS`, read once;
/// default: the available parallelism).
pub fn thread_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        threads_from_env(std::env::var("CIMM_THREADS").ok().as_deref(), available)
    })
}

/// The helper pool, or `None` with one thread (or if the pool failed to start, in
/// which case kernels run serially: results do not depend on it).
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let helpers = thread_count().saturating_sub(1);
        if helpers == 0 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(helpers)
            .thread_name(|i| format!("cimm-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Calls `f(u, chunk)` for each `chunk`-long piece of `data` (the last may be
/// shorter), u being the piece's index, on the caller and the pool's threads.
pub fn for_each_chunk_mut<T: Send, F: Fn(usize, &mut [T]) + Sync>(data: &mut [T], chunk: usize, f: F) {
    let chunk = chunk.max(1);
    let units = data.len().div_ceil(chunk);
    let pool = match pool() {
        Some(p) if units > 1 => p,
        _ => {
            data.chunks_mut(chunk).enumerate().for_each(|(u, c)| f(u, c));
            return;
        }
    };
    let len = data.len();
    let base = SendPtr(data.as_mut_ptr());
    run_units(pool, units, &|u: usize| {
        let start = u * chunk;
        let n = chunk.min(len - start);
        // SAFETY: `run_units` hands out each u < units exactly once, so the pieces are
        // disjoint and inside `data`, which stays mutably borrowed until it returns.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
        f(u, piece);
    });
}

struct SendPtr<T>(*mut T);
// SAFETY: only used to hand disjoint pieces of a `&mut [T]` to other threads.
unsafe impl<T: Send> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// High bit of `gate`: set once the caller has finished; no helper may enter after.
const CLOSED: usize = 1 << (usize::BITS - 1);

struct Shared {
    /// Next unit to claim.
    next: AtomicUsize,
    units: usize,
    /// CLOSED | number of helpers currently inside (using `task`).
    gate: AtomicUsize,
    /// The work, its lifetime erased: valid while the gate is open or counts a helper.
    task: *const (dyn Fn(usize) + Sync + 'static),
    panicked: AtomicBool,
}

// SAFETY: `task` points to a `Sync` closure and is only dereferenced under the gate
// protocol described on `run_units`.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn claim_all(s: &Shared, task: &(dyn Fn(usize) + Sync)) {
    loop {
        let u = s.next.fetch_add(1, Ordering::Relaxed);
        if u >= s.units {
            break;
        }
        task(u);
    }
}

/// Closes the gate and waits for helpers inside it; runs on return and on unwind, so
/// the borrowed task outlives every use of it.
struct CloseGate<'a>(&'a Shared);

impl Drop for CloseGate<'_> {
    fn drop(&mut self) {
        self.0.next.store(self.0.units, Ordering::Relaxed); // stop claims (after a panic)
        self.0.gate.fetch_or(CLOSED, Ordering::AcqRel);
        let mut spins = 0u32;
        // Helpers inside are finishing at most one unit each: wait briefly.
        while self.0.gate.load(Ordering::Acquire) & !CLOSED != 0 {
            spins += 1;
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Runs `task(u)` for every u in 0..units, each exactly once.
///
/// Protocol: helpers enter by incrementing `gate` while CLOSED is unset, and leave by
/// decrementing it; the caller sets CLOSED when it runs out of units and then waits
/// for the count to reach 0. So `task` is only used while this function is running.
fn run_units(pool: &rayon::ThreadPool, units: usize, task: &(dyn Fn(usize) + Sync)) {
    // SAFETY: lifetime erasure only; see the protocol above and `CloseGate`.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(task) };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        units,
        gate: AtomicUsize::new(0),
        task: erased,
        panicked: AtomicBool::new(false),
    });
    for _ in 0..pool.current_num_threads().min(units - 1) {
        let s = Arc::clone(&shared);
        pool.spawn(move || help(&s));
    }
    {
        let _close = CloseGate(&shared);
        claim_all(&shared, task);
    }
    if shared.panicked.load(Ordering::Acquire) {
        panic!("a cimm worker thread panicked");
    }
}

fn help(s: &Shared) {
    let mut g = s.gate.load(Ordering::Acquire);
    loop {
        if g & CLOSED != 0 {
            return; // woke too late: the caller did the work and no longer waits.
        }
        match s
            .gate
            .compare_exchange_weak(g, g + 1, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => break,
            Err(now) => g = now,
        }
    }
    // SAFETY: we are counted in the open gate, so `run_units` has not returned and the
    // task it borrows is alive.
    let task = unsafe { &*s.task };
    if catch_unwind(AssertUnwindSafe(|| claim_all(s, task))).is_err() {
        s.panicked.store(true, Ordering::Release);
        s.next.store(s.units, Ordering::Relaxed);
    }
    s.gate.fetch_sub(1, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parsing() {
        assert_eq!(threads_from_env(None, 8), 8);
        assert_eq!(threads_from_env(Some("3"), 8), 3);
        assert_eq!(threads_from_env(Some(" 1 "), 8), 1);
        assert_eq!(threads_from_env(Some("0"), 8), 8);
        assert_eq!(threads_from_env(Some("many"), 8), 8);
        assert_eq!(threads_from_env(None, 0), 1);
        assert!(thread_count() >= 1);
    }

    #[test]
    fn every_chunk_once() {
        for (len, chunk) in [(0, 4), (1, 4), (5, 4), (1000, 7), (100_000, 64)] {
            let mut v = vec![0usize; len];
            for_each_chunk_mut(&mut v, chunk, |u, c| {
                for (k, x) in c.iter_mut().enumerate() {
                    *x += u * chunk + k + 1;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i + 1), "len={len}");
        }
    }

    #[test]
    fn run_units_without_helpers_and_with_a_panic() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let count = AtomicUsize::new(0);
        run_units(&pool, 1000, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 1000);
        let r = catch_unwind(AssertUnwindSafe(|| {
            run_units(&pool, 100, &|u| assert!(u != 50, "unit 50"));
        }));
        assert!(r.is_err());
    }
}
