//! #[napi] exports of the prodigy family (crate::prodigy): Prodigy's two passes over one
//! tensor. The options fields (positional scalars, lib/backends/boundary.ts) are read first, then the typed arrays (see `args`), checked to share one
//! dtype and not to overlap; the updated arrays are written in place.

use super::args::{self, by_dtype, disjoint, real_view, same_dtype};
use super::{guard, invalid_arg};
use crate::prodigy::{self, ProdigyAccumulate, ProdigyUpdate};
use napi::{Result, Unknown};
use napi_derive::napi;

/// Prodigy's first pass on one tensor: m, v, s updated in place; returns
/// [Σ g·(p0 − p), Σ |s|], summed in f64 in the fixed order of every backend.
#[napi(ts_return_type = "[number, number]")]
#[allow(clippy::too_many_arguments)]
pub fn prodigy_accumulate(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] p0: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] m: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] s: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta1: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta2: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta3: Unknown<'_>,
    #[napi(ts_arg_type = "number")] moment_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] variance_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] s_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] weight_decay: Unknown<'_>,
) -> Result<Vec<f64>> {
    guard("prodigyAccumulate", || {
        let h = ProdigyAccumulate {
            beta1: args::number(&beta1, "options.beta1")?,
            beta2: args::number(&beta2, "options.beta2")?,
            beta3: args::number(&beta3, "options.beta3")?,
            moment_scale: args::number(&moment_scale, "options.momentScale")?,
            variance_scale: args::number(&variance_scale, "options.varianceScale")?,
            s_scale: args::number(&s_scale, "options.sScale")?,
            weight_decay: args::number(&weight_decay, "options.weightDecay")?,
        };
        accumulate(&[&params, &grads, &p0, &m, &v, &s], &h)
    })
}

/// prodigyAccumulate after its hyperparameters: the views, checked, and the pass.
fn accumulate(arrays: &[&Unknown<'_>; 6], h: &ProdigyAccumulate) -> Result<Vec<f64>> {
    let p = real_view(arrays[0], "params")?;
    let g = real_view(arrays[1], "grads")?;
    let q = real_view(arrays[2], "p0")?;
    let mv = real_view(arrays[3], "m")?;
    let vv = real_view(arrays[4], "v")?;
    let sv = real_view(arrays[5], "s")?;
    let dtype = same_dtype(&[p, g, q, mv, vv, sv])?;
    disjoint(&[p, g, q, mv, vv, sv])?;
    let (dot, l1) = by_dtype!(dtype, T => {
        // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
        let (p, g, q, mv, vv, sv) = unsafe {
            (p.slice::<T>(), g.slice::<T>(), q.slice::<T>(), mv.slice_mut::<T>(), vv.slice_mut::<T>(), sv.slice_mut::<T>())
        };
        prodigy::prodigy_accumulate(p, g, q, mv, vv, sv, h).map_err(invalid_arg)?
    });
    Ok(vec![dot, l1])
}

/// Prodigy's second pass on one tensor, in place; returns false when an updated parameter
/// is NaN or ±∞.
#[napi]
pub fn prodigy_update(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] m: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v: Unknown<'_>,
    #[napi(ts_arg_type = "number")] step_size: Unknown<'_>,
    #[napi(ts_arg_type = "number")] epsilon: Unknown<'_>,
    #[napi(ts_arg_type = "number")] decay: Unknown<'_>,
) -> Result<bool> {
    guard("prodigyUpdate", || {
        let h = ProdigyUpdate {
            step_size: args::number(&step_size, "options.stepSize")?,
            epsilon: args::number(&epsilon, "options.epsilon")?,
            decay: args::number(&decay, "options.decay")?,
        };
        update(&params, &m, &v, &h)
    })
}

/// prodigyUpdate after its hyperparameters.
fn update(params: &Unknown<'_>, m: &Unknown<'_>, v: &Unknown<'_>, h: &ProdigyUpdate) -> Result<bool> {
    let p = real_view(params, "params")?;
    let mv = real_view(m, "m")?;
    let vv = real_view(v, "v")?;
    let dtype = same_dtype(&[p, mv, vv])?;
    disjoint(&[p, mv, vv])?;
    by_dtype!(dtype, T => {
        // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
        let (p, mv, vv) = unsafe { (p.slice_mut::<T>(), mv.slice::<T>(), vv.slice::<T>()) };
        prodigy::prodigy_update(p, mv, vv, h).map_err(invalid_arg)
    })
}
