//! #[napi] exports of the optim family (crate::optim): the fused SGD and Adam steps, their
//! measured variants, and the optimizers' reductions (gradient check and norm, zeroing,
//! scaling, the benchmark's copy probe). Arguments are read by `args`: scalars (the options
//! objects' fields, positional in BOUNDARY_OPTIONS's order: lib/backends/boundary.ts) first, then each typed array with one napi_get_typedarray_info (its pointer
//! includes the view's byte offset; no reference, no copy); the arrays are checked not to
//! overlap, and only then are slices made of them: the updated arrays are written in place.
//!
//! The kernels take Float32Array or Float64Array parameters (lib/kernels.ts, `Real`): every
//! array of a call must have the dtype of `params` (an empty one, unused, may have either);
//! the call then runs the kernel's f32 or f64 instance.

use super::args::{self, by_dtype, disjoint, real_view, same_dtype, sums_out};
use super::{guard, invalid_arg};
use crate::optim::{self, Adam, Measured, Metric, Sgd};

use napi::{Result, Unknown};
use napi_derive::napi;

/// SgdStepOptions (lib/kernels.ts), crossed as positional fields (BOUNDARY_OPTIONS), by name.
#[allow(clippy::too_many_arguments)]
fn sgd(
    learning_rate: &Unknown<'_>,
    momentum: &Unknown<'_>,
    dampening: &Unknown<'_>,
    weight_decay: &Unknown<'_>,
    nesterov: &Unknown<'_>,
    maximize: &Unknown<'_>,
    first_step: &Unknown<'_>,
) -> Result<Sgd> {
    Ok(Sgd {
        learning_rate: args::number(learning_rate, "options.learningRate")?,
        momentum: args::number(momentum, "options.momentum")?,
        dampening: args::number(dampening, "options.dampening")?,
        weight_decay: args::number(weight_decay, "options.weightDecay")?,
        nesterov: args::boolean(nesterov, "options.nesterov")?,
        maximize: args::boolean(maximize, "options.maximize")?,
        first_step: args::boolean(first_step, "options.firstStep")?,
    })
}

/// AdamStepOptions (lib/kernels.ts), crossed as positional fields (BOUNDARY_OPTIONS), by name.
#[allow(clippy::too_many_arguments)]
fn adam(
    beta1: &Unknown<'_>,
    beta2: &Unknown<'_>,
    step_size: &Unknown<'_>,
    bc2_sqrt: &Unknown<'_>,
    epsilon: &Unknown<'_>,
    weight_decay: &Unknown<'_>,
    decay: &Unknown<'_>,
    amsgrad: &Unknown<'_>,
    maximize: &Unknown<'_>,
) -> Result<Adam> {
    Ok(Adam {
        beta1: args::number(beta1, "options.beta1")?,
        beta2: args::number(beta2, "options.beta2")?,
        step_size: args::number(step_size, "options.stepSize")?,
        bc2_sqrt: args::number(bc2_sqrt, "options.bc2Sqrt")?,
        epsilon: args::number(epsilon, "options.epsilon")?,
        weight_decay: args::number(weight_decay, "options.weightDecay")?,
        decay: args::number(decay, "options.decay")?,
        amsgrad: args::boolean(amsgrad, "options.amsgrad")?,
        maximize: args::boolean(maximize, "options.maximize")?,
    })
}

/// torch.optim.SGD on one tensor, in place; returns false when an updated parameter is
/// NaN or ±∞. `momentumBuffer` is used (and must have the params' length) when
/// `options.momentum` ≠ 0.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn sgd_step(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] momentum_buffer: Unknown<'_>,
    #[napi(ts_arg_type = "number")] learning_rate: Unknown<'_>,
    #[napi(ts_arg_type = "number")] momentum: Unknown<'_>,
    #[napi(ts_arg_type = "number")] dampening: Unknown<'_>,
    #[napi(ts_arg_type = "number")] weight_decay: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] nesterov: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] maximize: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] first_step: Unknown<'_>,
) -> Result<bool> {
    guard("sgdStep", || {
        let h = sgd(
            &learning_rate,
            &momentum,
            &dampening,
            &weight_decay,
            &nesterov,
            &maximize,
            &first_step,
        )?;
        let p = real_view(&params, "params")?;
        let g = real_view(&grads, "grads")?;
        let b = real_view(&momentum_buffer, "momentumBuffer")?;
        let dtype = same_dtype(&[p, g, b])?;
        disjoint(&[p, g, b])?;
        by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
            let (p, g, b) = unsafe { (p.slice_mut::<T>(), g.slice::<T>(), b.slice_mut::<T>()) };
            optim::sgd_step(p, g, b, &h).map_err(invalid_arg)
        })
    })
}

/// torch.optim.Adam / AdamW on one tensor, in place; returns false when an updated
/// parameter is NaN or ±∞. `vMax` is used (and must have the params' length) with
/// `options.amsgrad`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] m: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v_max: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta1: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta2: Unknown<'_>,
    #[napi(ts_arg_type = "number")] step_size: Unknown<'_>,
    #[napi(ts_arg_type = "number")] bc2_sqrt: Unknown<'_>,
    #[napi(ts_arg_type = "number")] epsilon: Unknown<'_>,
    #[napi(ts_arg_type = "number")] weight_decay: Unknown<'_>,
    #[napi(ts_arg_type = "number")] decay: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] amsgrad: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] maximize: Unknown<'_>,
) -> Result<bool> {
    guard("adamStep", || {
        let h = adam(
            &beta1,
            &beta2,
            &step_size,
            &bc2_sqrt,
            &epsilon,
            &weight_decay,
            &decay,
            &amsgrad,
            &maximize,
        )?;
        adam_views(&params, &grads, &m, &v, &v_max, &h)
    })
}

/// adamStep after its hyperparameters: the views, checked, and the step.
fn adam_views(
    params: &Unknown<'_>,
    grads: &Unknown<'_>,
    m: &Unknown<'_>,
    v: &Unknown<'_>,
    v_max: &Unknown<'_>,
    h: &Adam,
) -> Result<bool> {
    let p = real_view(params, "params")?;
    let g = real_view(grads, "grads")?;
    let mv = real_view(m, "m")?;
    let vv = real_view(v, "v")?;
    let w = real_view(v_max, "vMax")?;
    let dtype = same_dtype(&[p, g, mv, vv, w])?;
    disjoint(&[p, g, mv, vv, w])?;
    by_dtype!(dtype, T => {
        // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
        let (p, g, mv, vv, w) = unsafe {
            (p.slice_mut::<T>(), g.slice::<T>(), mv.slice_mut::<T>(), vv.slice_mut::<T>(), w.slice_mut::<T>())
        };
        optim::adam_step(p, g, mv, vv, w, h).map_err(invalid_arg)
    })
}

/// Writes the sums into `out` and returns the finiteness.
fn finish(out: args::View, r: Measured) -> bool {
    // SAFETY: `out` is a Float64Array of length 3 that no other slice overlaps, and no JS
    // has run since its view was taken.
    unsafe { out.slice_mut::<f64>() }.copy_from_slice(&r.sums);
    r.finite
}

/// torch.optim.SGD on one tensor, in place, measured: `before` receives the parameters
/// before the step and out[0..3] the update's Σ Δ², Σ gΔ, Σ |gΔ| (as updateEnergy without a
/// metric); returns false when an updated parameter is NaN or ±∞.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn sgd_step_measured(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] momentum_buffer: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] before: Unknown<'_>,
    #[napi(ts_arg_type = "number")] learning_rate: Unknown<'_>,
    #[napi(ts_arg_type = "number")] momentum: Unknown<'_>,
    #[napi(ts_arg_type = "number")] dampening: Unknown<'_>,
    #[napi(ts_arg_type = "number")] weight_decay: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] nesterov: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] maximize: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] first_step: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<bool> {
    guard("sgdStepMeasured", || {
        let h = sgd(
            &learning_rate,
            &momentum,
            &dampening,
            &weight_decay,
            &nesterov,
            &maximize,
            &first_step,
        )?;
        let p = real_view(&params, "params")?;
        let g = real_view(&grads, "grads")?;
        let b = real_view(&momentum_buffer, "momentumBuffer")?;
        let q = real_view(&before, "before")?;
        let out = sums_out(&out)?;
        let dtype = same_dtype(&[p, g, b, q])?;
        disjoint(&[p, g, b, q, out])?;
        let r = by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
            let (p, g, b, q) = unsafe { (p.slice_mut::<T>(), g.slice::<T>(), b.slice_mut::<T>(), q.slice_mut::<T>()) };
            optim::sgd_step_measured(p, g, b, q, &h).map_err(invalid_arg)?
        });
        Ok(finish(out, r))
    })
}

/// torch.optim.Adam / AdamW on one tensor, in place, measured: `before` receives the
/// parameters before the step and out[0..3] the update's Σ wΔ², Σ gΔ, Σ |gΔ| with
/// w = f32 √s · metricScale + metricEpsilon, s the second moment the step used (as
/// updateEnergy with that metric); returns false when an updated parameter is NaN or ±∞.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn adam_step_measured(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] m: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] v_max: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] before: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta1: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta2: Unknown<'_>,
    #[napi(ts_arg_type = "number")] step_size: Unknown<'_>,
    #[napi(ts_arg_type = "number")] bc2_sqrt: Unknown<'_>,
    #[napi(ts_arg_type = "number")] epsilon: Unknown<'_>,
    #[napi(ts_arg_type = "number")] weight_decay: Unknown<'_>,
    #[napi(ts_arg_type = "number")] decay: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] amsgrad: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] maximize: Unknown<'_>,
    #[napi(ts_arg_type = "number")] metric_scale: Unknown<'_>,
    #[napi(ts_arg_type = "number")] metric_epsilon: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<bool> {
    guard("adamStepMeasured", || {
        let h = adam(
            &beta1,
            &beta2,
            &step_size,
            &bc2_sqrt,
            &epsilon,
            &weight_decay,
            &decay,
            &amsgrad,
            &maximize,
        )?;
        let metric = Metric {
            scale: args::number(&metric_scale, "options.metricScale")?,
            epsilon: args::number(&metric_epsilon, "options.metricEpsilon")?,
        };
        let p = real_view(&params, "params")?;
        let g = real_view(&grads, "grads")?;
        let mv = real_view(&m, "m")?;
        let vv = real_view(&v, "v")?;
        let w = real_view(&v_max, "vMax")?;
        let q = real_view(&before, "before")?;
        let out = sums_out(&out)?;
        let dtype = same_dtype(&[p, g, mv, vv, w, q])?;
        disjoint(&[p, g, mv, vv, w, q, out])?;
        let r = by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and no JS runs until return.
            let (p, g, mv, vv, w, q) = unsafe {
                (
                    p.slice_mut::<T>(),
                    g.slice::<T>(),
                    mv.slice_mut::<T>(),
                    vv.slice_mut::<T>(),
                    w.slice_mut::<T>(),
                    q.slice_mut::<T>(),
                )
            };
            optim::adam_step_measured(p, g, mv, vv, w, q, &h, &metric).map_err(invalid_arg)?
        });
        Ok(finish(out, r))
    })
}

/// The index of the first NaN or ±∞ in `values`, or −1.
#[napi]
pub fn first_non_finite(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] values: Unknown<'_>,
) -> Result<f64> {
    guard("firstNonFinite", || {
        let x = real_view(&values, "values")?;
        let found = by_dtype!(x.dtype(), T => {
            // SAFETY: read only, of the view's dtype, and no JS runs until return.
            optim::first_non_finite(unsafe { x.slice::<T>() })
        });
        Ok(found.map_or(-1.0, |i| i as f64))
    })
}

/// dst ← src on the kernels' threads (the benchmark's copy bandwidth probe).
#[napi]
pub fn memory_copy(
    #[napi(ts_arg_type = "Float32Array")] src: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] dst: Unknown<'_>,
) -> Result<()> {
    guard("memoryCopy", || {
        let s = args::f32_view(&src, "src")?;
        let d = args::f32_view(&dst, "dst")?;
        disjoint(&[s, d])?;
        // SAFETY: the views do not overlap, and no JS runs until return.
        let (s, d) = unsafe { (s.slice::<f32>(), d.slice_mut::<f32>()) };
        optim::memory_copy(s, d).map_err(invalid_arg)
    })
}

/// ‖x‖₂ of an f32 or f64 vector, accumulated in f64.
#[napi]
pub fn l2_norm(#[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>) -> Result<f64> {
    guard("l2Norm", || {
        let x = real_view(&x, "x")?;
        // SAFETY: read only, of the view's dtype, and no JS runs until return.
        Ok(by_dtype!(x.dtype(), T => optim::l2_norm(unsafe { x.slice::<T>() })))
    })
}

/// Sets NaN and ±∞ entries of x (f32 or f64) to 0; returns how many there were.
#[napi]
pub fn zero_non_finite(#[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>) -> Result<f64> {
    guard("zeroNonFinite", || {
        let x = real_view(&x, "x")?;
        // SAFETY: no other slice of x exists, and no JS runs until return.
        Ok(by_dtype!(x.dtype(), T => optim::zero_non_finite(unsafe { x.slice_mut::<T>() })) as f64)
    })
}

/// x_i ← x_i · s in place, the product in f64 rounded once to x's dtype.
#[napi]
pub fn scale_in_place(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "number")] s: Unknown<'_>,
) -> Result<()> {
    guard("scaleInPlace", || {
        let s = args::number(&s, "s")?;
        let x = real_view(&x, "x")?;
        // SAFETY: no other slice of x exists, and no JS runs until return.
        by_dtype!(x.dtype(), T => optim::scale_in_place(unsafe { x.slice_mut::<T>() }, s));
        Ok(())
    })
}
