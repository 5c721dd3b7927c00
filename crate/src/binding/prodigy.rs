//! #[napi] exports of the prodigy family (crate::prodigy): Prodigy's two passes over one
//! tensor. The options fields are read first, then the typed arrays (see `args`), checked to share one
//! dtype and not to overlap; the updated arrays are written in place.

use super::args::{by_dtype, disjoint, field, real_view, same_dtype, Options};
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
    #[napi(
        ts_arg_type = "{ beta1: number; beta2: number; beta3: number; momentScale: number; varianceScale: number; sScale: number; weightDecay: number }"
    )]
    options: Unknown<'_>,
) -> Result<Vec<f64>> {
    guard("prodigyAccumulate", || {
        let o = Options::of(options, "options")?;
        let h = ProdigyAccumulate {
            beta1: field!(o, number, "options", "beta1")?,
            beta2: field!(o, number, "options", "beta2")?,
            beta3: field!(o, number, "options", "beta3")?,
            moment_scale: field!(o, number, "options", "momentScale")?,
            variance_scale: field!(o, number, "options", "varianceScale")?,
            s_scale: field!(o, number, "options", "sScale")?,
            weight_decay: field!(o, number, "options", "weightDecay")?,
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
    #[napi(ts_arg_type = "{ stepSize: number; epsilon: number; decay: number }")] options: Unknown<'_>,
) -> Result<bool> {
    guard("prodigyUpdate", || {
        let o = Options::of(options, "options")?;
        let h = ProdigyUpdate {
            step_size: field!(o, number, "options", "stepSize")?,
            epsilon: field!(o, number, "options", "epsilon")?,
            decay: field!(o, number, "options", "decay")?,
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
