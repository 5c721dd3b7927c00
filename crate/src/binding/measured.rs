//! #[napi] wrappers of the measured optimizer steps (crate::measured). The hyperparameters
//! come in one options object, read field by field first (a getter may run JS), then the
//! typed arrays are viewed in place (one napi_get_typedarray_info each) and checked not to
//! overlap each other or `out`; only then are slices made of them.

use super::optim::{by_dtype, describe, disjoint, real_view, same_dtype, Dtype, View};
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::measured::{self, Measured, Metric};
use crate::optim::{Adam, Sgd};
use napi::{sys, Error, JsValue, Result, Status, Unknown, ValueType};
use napi_derive::napi;
use std::ffi::CString;
use std::ptr::{self, NonNull};

/// The options object of one call: its fields are read once each, by name.
struct Options<'a> {
    value: Unknown<'a>,
}

impl<'a> Options<'a> {
    fn of(value: Unknown<'a>) -> Result<Self> {
        let raw = value.value();
        let (mut array, mut typed) = (false, false);
        // SAFETY: plain N-API calls on this call's env and value.
        let plain = value.get_type()? == ValueType::Object
            && unsafe { sys::napi_is_array(raw.env, raw.value, &mut array) } == sys::Status::napi_ok
            && unsafe { sys::napi_is_typedarray(raw.env, raw.value, &mut typed) } == sys::Status::napi_ok
            && !array
            && !typed;
        if !plain {
            return Err(invalid_arg(KernelError::new(
                "options",
                "an options object",
                describe(&value, None),
            )));
        }
        Ok(Options { value })
    }

    /// The field's value (a getter's exception propagates as it is).
    fn get(&self, key: &str) -> Result<Unknown<'a>> {
        let raw = self.value.value();
        let key = CString::new(key).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        let mut out = ptr::null_mut();
        // SAFETY: plain N-API call on this call's env and object; `key` is NUL-terminated.
        let status = unsafe { sys::napi_get_named_property(raw.env, raw.value, key.as_ptr(), &mut out) };
        if status == sys::Status::napi_pending_exception {
            return Err(Error::new(Status::PendingException, "an options getter threw"));
        }
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "cannot read an options field"));
        }
        // SAFETY: `out` is a live value of this call's env.
        Ok(unsafe { Unknown::from_raw_unchecked(raw.env, out) })
    }

    /// A number field; `name` is "options.<key>" as the errors name it.
    fn number(&self, key: &str, name: &'static str) -> Result<f64> {
        let v = self.get(key)?;
        if v.get_type()? != ValueType::Number {
            return Err(invalid_arg(KernelError::new(
                name,
                "a number",
                describe(&v, None),
            )));
        }
        let raw = v.value();
        let mut out = 0.0;
        // SAFETY: plain N-API call on a number value of this call's env.
        if unsafe { sys::napi_get_value_double(raw.env, raw.value, &mut out) } != sys::Status::napi_ok {
            return Err(invalid_arg(KernelError::new(
                name,
                "a number",
                describe(&v, None),
            )));
        }
        Ok(out)
    }

    fn boolean(&self, key: &str, name: &'static str) -> Result<bool> {
        let v = self.get(key)?;
        let raw = v.value();
        let mut out = false;
        // SAFETY: plain N-API call on a value of this call's env (fails unless a boolean).
        if unsafe { sys::napi_get_value_bool(raw.env, raw.value, &mut out) } != sys::Status::napi_ok {
            return Err(invalid_arg(KernelError::new(
                name,
                "a boolean",
                describe(&v, None),
            )));
        }
        Ok(out)
    }
}

/// `out`, a Float64Array of length 3 that overlaps none of `views`.
fn sums_out(value: Unknown<'_>, views: &[View]) -> Result<NonNull<f64>> {
    let raw = value.value();
    let (mut ty, mut len, mut data) = (0, 0usize, ptr::null_mut());
    // SAFETY: plain N-API call on this call's env and value; the optional outputs are null.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            raw.env,
            raw.value,
            &mut ty,
            &mut len,
            &mut data,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    let ok = status == sys::Status::napi_ok;
    if !ok || ty != sys::TypedarrayType::float64_array || len != 3 {
        let received = if ok && ty == sys::TypedarrayType::float64_array {
            format!("a Float64Array of length {len}")
        } else {
            describe(&value, ok.then_some(ty))
        };
        return Err(invalid_arg(KernelError::new(
            "out",
            "a Float64Array of length 3",
            received,
        )));
    }
    let out =
        NonNull::new(data.cast::<f64>()).ok_or_else(|| Error::new(Status::GenericFailure, "null out"))?;
    let (o0, o1) = (
        out.as_ptr() as usize,
        out.as_ptr() as usize + 3 * size_of::<f64>(),
    );
    for v in views {
        let (a0, a1) = v.range();
        if a0 < a1 && a0 < o1 && o0 < a1 {
            return Err(invalid_arg(KernelError::new(
                "out",
                format!("a Float64Array that does not overlap {}", v.name()),
                "one that shares memory with it",
            )));
        }
    }
    Ok(out)
}

/// Writes the sums into `out` and returns the finiteness.
fn finish(out: NonNull<f64>, r: Measured) -> bool {
    // SAFETY: `out` is a live Float64Array of length 3 that no slice overlaps, and JS waits
    // for this synchronous call.
    unsafe { std::slice::from_raw_parts_mut(out.as_ptr(), 3) }.copy_from_slice(&r.sums);
    r.finite
}

/// torch.optim.SGD on one tensor, in place, measured: `before` receives the parameters
/// before the step and out[0..3] the update's Σ Δ², Σ gΔ, Σ |gΔ| (as updateEnergy without a
/// metric); returns false when an updated parameter is NaN or ±∞.
#[napi]
pub fn sgd_step_measured(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] params: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grads: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] momentum_buffer: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] before: Unknown<'_>,
    #[napi(
        ts_arg_type = "{ learningRate: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; maximize: boolean; firstStep: boolean }"
    )]
    options: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<bool> {
    guard("sgdStepMeasured", || {
        let o = Options::of(options)?;
        let h = Sgd {
            learning_rate: o.number("learningRate", "options.learningRate")?,
            momentum: o.number("momentum", "options.momentum")?,
            dampening: o.number("dampening", "options.dampening")?,
            weight_decay: o.number("weightDecay", "options.weightDecay")?,
            nesterov: o.boolean("nesterov", "options.nesterov")?,
            maximize: o.boolean("maximize", "options.maximize")?,
            first_step: o.boolean("firstStep", "options.firstStep")?,
        };
        let p = real_view(params, "params")?;
        let g = real_view(grads, "grads")?;
        let b = real_view(momentum_buffer, "momentumBuffer")?;
        let q = real_view(before, "before")?;
        let dtype = same_dtype(&[p, g, b, q])?;
        disjoint(&[p, g, b, q])?;
        let out = sums_out(out, &[p, g, b, q])?;
        let r = by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
            let (p, g, b, q) = unsafe { (p.slice_mut::<T>(), g.slice::<T>(), b.slice_mut::<T>(), q.slice_mut::<T>()) };
            measured::sgd_step_measured(p, g, b, q, &h).map_err(invalid_arg)?
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
    #[napi(
        ts_arg_type = "{ beta1: number; beta2: number; stepSize: number; bc2Sqrt: number; epsilon: number; weightDecay: number; decay: number; amsgrad: boolean; maximize: boolean; metricScale: number; metricEpsilon: number }"
    )]
    options: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<bool> {
    guard("adamStepMeasured", || {
        let o = Options::of(options)?;
        let h = Adam {
            beta1: o.number("beta1", "options.beta1")?,
            beta2: o.number("beta2", "options.beta2")?,
            step_size: o.number("stepSize", "options.stepSize")?,
            bc2_sqrt: o.number("bc2Sqrt", "options.bc2Sqrt")?,
            epsilon: o.number("epsilon", "options.epsilon")?,
            weight_decay: o.number("weightDecay", "options.weightDecay")?,
            decay: o.number("decay", "options.decay")?,
            amsgrad: o.boolean("amsgrad", "options.amsgrad")?,
            maximize: o.boolean("maximize", "options.maximize")?,
        };
        let metric = Metric {
            scale: o.number("metricScale", "options.metricScale")?,
            epsilon: o.number("metricEpsilon", "options.metricEpsilon")?,
        };
        let p = real_view(params, "params")?;
        let g = real_view(grads, "grads")?;
        let mv = real_view(m, "m")?;
        let vv = real_view(v, "v")?;
        let w = real_view(v_max, "vMax")?;
        let q = real_view(before, "before")?;
        let dtype = same_dtype(&[p, g, mv, vv, w, q])?;
        disjoint(&[p, g, mv, vv, w, q])?;
        let out = sums_out(out, &[p, g, mv, vv, w, q])?;
        let r = by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
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
            measured::adam_step_measured(p, g, mv, vv, w, q, &h, &metric).map_err(invalid_arg)?
        });
        Ok(finish(out, r))
    })
}
