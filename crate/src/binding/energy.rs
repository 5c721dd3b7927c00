//! #[napi] wrappers of the energy kernels (design.md §2 eqs. 3–5). Typed arrays are
//! borrowed, not copied: the slices point into the JS buffers (the typed array's byte
//! offset included, via napi_get_typedarray_info), and `out` is written in place; the async
//! variant works on a copy instead (see `abort.rs`).

use super::abort::{aborted, finished, AbortFlag};
use super::{guard, invalid_arg};
use crate::{energy, nonlocal, primes};
use napi::bindgen_prelude::{AsyncTask, Float64Array, Float64ArraySlice};
use napi::{Env, Result, Task};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Eq. 3 for every r: `out[i] = Σ_{n=1}^{primeCount} cos(2π r_i/p_n) / (r_i² + p_n²)`,
/// written into `out` (same length as `r`). `r` and `out` may be the same array.
#[napi]
pub fn local_energy(r: Float64ArraySlice, prime_count: f64, mut out: Float64Array) -> Result<()> {
    guard("localEnergy", || {
        let n = primes::prime_count_from_f64(prime_count).map_err(invalid_arg)?;
        // `r` and `out` may view the same memory (e.g. an in-place call). A shared and a
        // mutable slice must not alias, so overlapping input is copied first.
        let overlap = {
            let (r, o) = (r.as_ref().as_ptr_range(), out.as_ref().as_ptr_range());
            !r.is_empty() && !o.is_empty() && r.start < o.end && o.start < r.end
        };
        let copy;
        let r_in: &[f64] = if overlap {
            copy = r.to_vec();
            &copy
        } else {
            &r
        };
        // SAFETY: JS is blocked for the duration of this synchronous call, and no other
        // slice of this memory is alive (the input was copied if it overlapped).
        let out = unsafe { out.as_mut() };
        energy::local_energy(r_in, n, out).map_err(invalid_arg)
    })
}

/// Eq. 4: the mean over the M rows z_j of `points` (M×d, row-major, d = x.length) of
/// `exp(−‖x − z_j‖/lengthScale) / sqrt(‖z_j − y‖² + softening²)`, summed in f64.
#[napi]
pub fn nonlocal_energy(
    x: &[f32],
    y: &[f32],
    points: &[f32],
    length_scale: f64,
    softening: f64,
) -> Result<f64> {
    guard("nonlocalEnergy", || {
        nonlocal::nonlocal_energy(x, y, points, length_scale, softening).map_err(invalid_arg)
    })
}

/// ‖x − y‖₂ in f64 (the r of eq. 5).
#[napi]
pub fn distance(x: &[f32], y: &[f32]) -> Result<f64> {
    guard("distance", || nonlocal::distance(x, y).map_err(invalid_arg))
}

/// `localEnergyAsync`'s work: an owned copy of r, evaluated on libuv's pool.
pub struct LocalEnergyTask {
    r: Vec<f64>,
    prime_count: usize,
    stop: Arc<AtomicBool>,
}

impl Task for LocalEnergyTask {
    type Output = Vec<f64>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> Result<Vec<f64>> {
        guard("localEnergyAsync", || {
            if crate::stop::raised(&self.stop) {
                return Err(aborted("localEnergyAsync"));
            }
            let mut out = vec![0.0; self.r.len()];
            let done = energy::local_energy_until(&self.r, self.prime_count, &mut out, &self.stop)
                .map_err(invalid_arg)?;
            finished("localEnergyAsync", done, out)
        })
    }

    fn resolve(&mut self, _env: Env, output: Vec<f64>) -> Result<Float64Array> {
        Ok(Float64Array::new(output))
    }
}

/// `localEnergy` off the main thread: resolves to a new array of eq. 3 for every r. `r` is
/// copied before the task is queued (see `abort.rs`).
#[napi(ts_return_type = "Promise<Float64Array>")]
pub fn local_energy_async(
    r: Float64ArraySlice,
    prime_count: f64,
    flag: &AbortFlag,
) -> Result<AsyncTask<LocalEnergyTask>> {
    guard("localEnergyAsync", || {
        let prime_count = primes::prime_count_from_f64(prime_count).map_err(invalid_arg)?;
        Ok(AsyncTask::new(LocalEnergyTask {
            r: r.to_vec(),
            prime_count,
            stop: flag.share(),
        }))
    })
}
