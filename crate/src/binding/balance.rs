//! #[napi] exports of the balance family (crate::balance): the energy meters of an optimizer
//! update (eq. 13). The inputs are only read, so they may share memory, and so may `out`:
//! the sums are complete before it is written. The params fields (positional) first, then the typed arrays (see `args`).

use super::args::{self, by_dtype, real_view, same_dtype, sums_out};
use super::{guard, invalid_arg};
use crate::balance::{self, Update};
use napi::{Result, Unknown};
use napi_derive::napi;

/// The energy terms of an update Δ = after − before into out[0..3]: Σ wΔ², Σ gΔ, Σ |gΔ|
/// (w = √metric·params.metricScale + params.epsilon, or 1 when `metric` is empty). The sums are complete before
/// `out` is written.
#[napi]
pub fn update_energy(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] before: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] after: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] metric: Unknown<'_>,
    #[napi(ts_arg_type = "number")] metric_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] epsilon: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("updateEnergy", || {
        let metric_scale = args::number(&metric_scale, "params.metricScale")?;
        let epsilon = args::number(&epsilon, "params.epsilon")?;
        energy(&[&before, &after, &grads, &metric], metric_scale, epsilon, &out)
    })
}

/// updateEnergy after its scalars.
fn energy(arrays: &[&Unknown<'_>; 4], metric_scale: f64, epsilon: f64, out: &Unknown<'_>) -> Result<()> {
    let b = real_view(arrays[0], "before")?;
    let a = real_view(arrays[1], "after")?;
    let g = real_view(arrays[2], "grads")?;
    let m = real_view(arrays[3], "metric")?;
    let out = sums_out(out)?;
    let dtype = same_dtype(&[b, a, g, m])?;
    let sums = by_dtype!(dtype, T => {
        // SAFETY: read only (sharing memory is harmless), of dtype T, and no JS runs until
        // return.
        let u = unsafe {
            Update {
                before: b.slice::<T>(),
                after: a.slice::<T>(),
                grads: g.slice::<T>(),
                metric: m.slice::<T>(),
                metric_scale,
                epsilon,
            }
        };
        balance::update_energy(&u).map_err(invalid_arg)?
    });
    // SAFETY: `out` is a Float64Array of length 3; the input slices are no longer used (the
    // sums are complete), so `out` may even share memory with them.
    unsafe { out.slice_mut::<f64>() }.copy_from_slice(&sums);
    Ok(())
}

/// Σ g·(after − before) alone: updateEnergy's out[1] bit for bit, at about two thirds of its
/// cost (the learning-rate rules' end slope).
#[napi]
pub fn update_slope(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] before: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] after: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
) -> Result<f64> {
    guard("updateSlope", || {
        let b = real_view(&before, "before")?;
        let a = real_view(&after, "after")?;
        let g = real_view(&grads, "grads")?;
        let dtype = same_dtype(&[b, a, g])?;
        by_dtype!(dtype, T => {
            // SAFETY: read only (sharing memory is harmless), of dtype T, and no JS runs
            // until return.
            let u = unsafe {
                Update {
                    before: b.slice::<T>(),
                    after: a.slice::<T>(),
                    grads: g.slice::<T>(),
                    metric: &[],
                    metric_scale: 1.0,
                    epsilon: 0.0,
                }
            };
            balance::update_slope(&u).map_err(invalid_arg)
        })
    })
}
