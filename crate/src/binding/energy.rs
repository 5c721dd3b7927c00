//! #[napi] exports of the energy family (design.md §2 eqs. 3–5): the prime-series local
//! energy (sync and async), the nonlocal quadrature and the distance. Scalars are read first,
//! then the typed arrays (see `args`); they are borrowed, not copied (the view's byte offset
//! included), and `out` is written in place; the async variant works on a copy instead (see
//! `abort.rs`).

use super::abort::{aborted, finished, AbortFlag};
use super::args::{self, f32_view, f64_view};
use super::{guard, invalid_arg};
use crate::energy;
use crate::primes;
use napi::bindgen_prelude::{AsyncTask, Float64Array};
use napi::{Env, Result, Task, Unknown};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Eq. 3 for every r: `out[i] = Σ_{n=1}^{primeCount} cos(2π r_i/p_n) / (r_i² + p_n²)`,
/// written into `out` (same length as `r`). `r` and `out` may be the same array.
#[napi]
pub fn local_energy(
    #[napi(ts_arg_type = "Float64Array")] r: Unknown<'_>,
    #[napi(ts_arg_type = "number")] prime_count: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("localEnergy", || {
        let n =
            primes::prime_count_from_f64(args::number(&prime_count, "primeCount")?).map_err(invalid_arg)?;
        let (r, out) = (f64_view(&r, "r")?, f64_view(&out, "out")?);
        // `r` and `out` may view the same memory (e.g. an in-place call). A shared and a
        // mutable slice must not alias, so overlapping input is copied first.
        // SAFETY: of dtype f64, and no JS runs until return.
        let copy = r.overlaps(&out).then(|| unsafe { r.slice::<f64>() }.to_vec());
        let r_in: &[f64] = match &copy {
            Some(c) => c,
            // SAFETY: as above; `r` does not overlap `out`.
            None => unsafe { r.slice::<f64>() },
        };
        // SAFETY: no other slice of this memory is alive (the input was copied if it overlapped).
        let out = unsafe { out.slice_mut::<f64>() };
        energy::local_energy(r_in, n, out).map_err(invalid_arg)
    })
}

/// Eq. 4: the mean over the M rows z_j of `points` (M×d, row-major, d = x.length) of
/// `exp(−‖x − z_j‖/lengthScale) / sqrt(‖z_j − y‖² + softening²)`, summed in f64.
#[napi]
pub fn nonlocal_energy(
    #[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] y: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] points: Unknown<'_>,
    #[napi(ts_arg_type = "number")] length_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] softening: Unknown<'_>,
) -> Result<f64> {
    guard("nonlocalEnergy", || {
        let length_scale = args::number(&length_scale, "params.lengthScale")?;
        let softening = args::number(&softening, "params.softening")?;
        let (x, y, points) = (
            f32_view(&x, "x")?,
            f32_view(&y, "y")?,
            f32_view(&points, "points")?,
        );
        // SAFETY: read only, of dtype f32, and no JS runs until return.
        let (x, y, points) = unsafe { (x.slice::<f32>(), y.slice::<f32>(), points.slice::<f32>()) };
        energy::nonlocal_energy(x, y, points, length_scale, softening).map_err(invalid_arg)
    })
}

/// ‖x − y‖₂ in f64 (the r of eq. 5).
#[napi]
pub fn distance(
    #[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] y: Unknown<'_>,
) -> Result<f64> {
    guard("distance", || {
        let (x, y) = (f32_view(&x, "x")?, f32_view(&y, "y")?);
        // SAFETY: read only, of dtype f32, and no JS runs until return.
        energy::distance(unsafe { x.slice::<f32>() }, unsafe { y.slice::<f32>() }).map_err(invalid_arg)
    })
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
    #[napi(ts_arg_type = "Float64Array")] r: Unknown<'_>,
    #[napi(ts_arg_type = "number")] prime_count: Unknown<'_>,
    flag: &AbortFlag,
) -> Result<AsyncTask<LocalEnergyTask>> {
    guard("localEnergyAsync", || {
        let prime_count =
            primes::prime_count_from_f64(args::number(&prime_count, "primeCount")?).map_err(invalid_arg)?;
        let r = f64_view(&r, "r")?;
        Ok(AsyncTask::new(LocalEnergyTask {
            // SAFETY: read only, of dtype f64, copied before any JS runs.
            r: unsafe { r.slice::<f64>() }.to_vec(),
            prime_count,
            stop: flag.share(),
        }))
    })
}
