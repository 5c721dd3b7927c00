//! #[napi] wrappers of the fractal transform (design.md §2 eq. 8) and the elementwise
//! kernels the fractal layer (eq. 9) composes.
//! Typed arrays are borrowed, not copied; an input may be the output array itself
//! (the kernel then runs in place); an input that partially overlaps the output is
//! copied first, so no call can read a value it already overwrote.

use super::optim::{real_view, same_dtype, Dtype, View};
use super::{guard, invalid_arg};
use crate::elementwise::{self, Activation, Input};
use crate::error::KernelError;
use crate::fractal;
use napi::bindgen_prelude::{Float32ArraySlice, FromNapiValue};
use napi::{JsValue, Result, Unknown};
use napi_derive::napi;

/// Byte range of a typed array's view.
fn span(a: &Float32ArraySlice) -> std::ops::Range<usize> {
    let s: &[f32] = a.as_ref();
    let p = s.as_ptr() as usize;
    p..p + std::mem::size_of_val(s)
}

/// How an input relates to the output: a separate array, the output itself, or a
/// partial overlap (then a private copy).
enum Operand {
    Separate,
    Same,
    Copied(Vec<f32>),
}

fn operand(input: &Float32ArraySlice, out: &Float32ArraySlice) -> Operand {
    let (i, o) = (span(input), span(out));
    if i.is_empty() || o.is_empty() || i.end <= o.start || o.end <= i.start {
        Operand::Separate
    } else if i == o {
        Operand::Same
    } else {
        Operand::Copied(input.as_ref().to_vec())
    }
}

impl Operand {
    fn input<'a>(&'a self, slice: &'a Float32ArraySlice) -> Input<'a> {
        match self {
            Operand::Separate => Input::Slice(slice.as_ref()),
            Operand::Same => Input::Out,
            Operand::Copied(v) => Input::Slice(v),
        }
    }
}

/// The output as a mutable slice.
///
/// # Safety
/// JS is blocked for the duration of the synchronous call; callers only create other
/// slices of this memory through [`Operand`] (separate or copied memory).
unsafe fn out_slice<'a>(out: &'a mut Float32ArraySlice) -> &'a mut [f32] {
    unsafe { out.as_mut() }
}

/// Eq. 8, one step: `out[i] = z[i]² + fround(offset)`, computed in f64 and rounded
/// once (bit-exact with the JS reference). `z` may be `out` (in place).
#[napi]
pub fn fractal_step(z: Float32ArraySlice, offset: f64, mut out: Float32ArraySlice) -> Result<()> {
    guard("fractalStep", || {
        let zo = operand(&z, &out);
        let o = unsafe { out_slice(&mut out) };
        fractal::fractal_step(zo.input(&z), offset, o).map_err(invalid_arg)
    })
}

/// Backward rule of one step of eq. 8: `gradZ[i] = 2·z[i]·gradOut[i]`. `gradOut` may
/// be `gradZ` (in place).
#[napi]
pub fn fractal_step_backward(
    z: Float32ArraySlice,
    grad_out: Float32ArraySlice,
    mut grad_z: Float32ArraySlice,
) -> Result<()> {
    guard("fractalStepBackward", || {
        // z is read at every element: if it is gradZ itself (or overlaps it), read a copy.
        let copied;
        let z_in: &[f32] = match operand(&z, &grad_z) {
            Operand::Separate => z.as_ref(),
            Operand::Same | Operand::Copied(_) => {
                copied = z.as_ref().to_vec();
                &copied
            }
        };
        let go = operand(&grad_out, &grad_z);
        let o = unsafe { out_slice(&mut grad_z) };
        fractal::fractal_step_backward(z_in, go.input(&grad_out), o).map_err(invalid_arg)
    })
}

/// `max |x[i]|` (0 when empty), or NaN when any element is NaN or ±Infinity.
#[napi]
pub fn max_abs(x: &[f32]) -> Result<f64> {
    guard("maxAbs", || Ok(elementwise::max_abs(x)))
}

/// `y ← alpha·x + beta·y` in f64, rounded once; beta = 0 overwrites y. `x` may be `y`.
#[napi]
pub fn axpby(alpha: f64, x: Float32ArraySlice, beta: f64, mut y: Float32ArraySlice) -> Result<()> {
    guard("axpby", || {
        for (name, v) in [("alpha", alpha), ("beta", beta)] {
            if !v.is_finite() {
                return Err(invalid_arg(KernelError::new(
                    name,
                    "a finite number",
                    crate::primes::format_number(v),
                )));
            }
        }
        let xo = operand(&x, &y);
        let o = unsafe { out_slice(&mut y) };
        elementwise::axpby(alpha, xo.input(&x), beta, o).map_err(invalid_arg)
    })
}

/// `Σ x[i]·y[i]` accumulated in f64.
#[napi]
pub fn dot(x: &[f32], y: &[f32]) -> Result<f64> {
    guard("dot", || elementwise::dot(x, y).map_err(invalid_arg))
}

/// `Σ x[i]` accumulated in f64.
#[napi]
pub fn sum(x: &[f32]) -> Result<f64> {
    guard("sum", || Ok(elementwise::sum(x)))
}

/// An f64 input of an f64 activation call: None when it is the output itself; a copy when it
/// partially overlaps the output (as the f32 path's Operand).
fn input64<'a>(x: View, out: View) -> Option<std::borrow::Cow<'a, [f64]>> {
    let (i, o) = (x.range(), out.range());
    if i == o && i.0 < i.1 {
        return None;
    }
    // SAFETY: read only, of dtype f64 (checked by same_dtype); JS waits for this call.
    let v: &'a [f64] = unsafe { x.slice::<f64>() };
    if i.0 < i.1 && o.0 < o.1 && i.0 < o.1 && o.0 < i.1 {
        Some(std::borrow::Cow::Owned(v.to_vec()))
    } else {
        Some(std::borrow::Cow::Borrowed(v))
    }
}

/// A Float32Array argument as napi-rs's slice (the f32 path of a call taking either dtype).
fn f32_slice(value: Unknown<'_>) -> Result<Float32ArraySlice<'_>> {
    let raw = value.value();
    // SAFETY: a value of this call's env; from_napi_value checks that it is a Float32Array.
    unsafe { Float32ArraySlice::from_napi_value(raw.env, raw.value) }
}

/// `out[i] = σ(x[i] + shift)`; activation "identity", "tanh", "sigmoid" or "relu". `x`
/// may be `out`. Float32Array (σ in f64, rounded once) or Float64Array (σ in f64).
#[napi]
pub fn activation_forward(
    activation: String,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>,
    shift: f64,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("activationForward", || {
        let act = Activation::from_name(&activation).map_err(invalid_arg)?;
        if !shift.is_finite() {
            return Err(invalid_arg(KernelError::new(
                "shift",
                "a finite number",
                crate::primes::format_number(shift),
            )));
        }
        let (xv, ov) = (real_view(x, "x")?, real_view(out, "out")?);
        if same_dtype(&[ov, xv])? == Dtype::F64 {
            let xi = input64(xv, ov);
            // SAFETY: out has dtype f64; the input is out itself (None) or separate/copied memory.
            let o = unsafe { ov.slice_mut::<f64>() };
            return elementwise::activation_forward_f64(act, xi.as_deref(), shift, o).map_err(invalid_arg);
        }
        let (x, mut out) = (f32_slice(x)?, f32_slice(out)?);
        let xo = operand(&x, &out);
        let o = unsafe { out_slice(&mut out) };
        elementwise::activation_forward(act, xo.input(&x), shift, o).map_err(invalid_arg)
    })
}

/// `gradPre[i] = gradOut[i]·σ'(pre[i])`, σ' written through the output `y` = σ(pre).
/// `y` or `gradOut` may be `gradPre`. Float32Array or Float64Array (one dtype per call).
#[napi]
pub fn activation_backward(
    activation: String,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] y: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grad_out: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grad_pre: Unknown<'_>,
) -> Result<()> {
    guard("activationBackward", || {
        let act = Activation::from_name(&activation).map_err(invalid_arg)?;
        let (yv, gv, pv) = (
            real_view(y, "y")?,
            real_view(grad_out, "gradOut")?,
            real_view(grad_pre, "gradPre")?,
        );
        if same_dtype(&[pv, yv, gv])? == Dtype::F64 {
            let (yi, gi) = (input64(yv, pv), input64(gv, pv));
            // SAFETY: gradPre has dtype f64; each input is gradPre itself (None) or separate/copied memory.
            let o = unsafe { pv.slice_mut::<f64>() };
            return elementwise::activation_backward_f64(act, yi.as_deref(), gi.as_deref(), o)
                .map_err(invalid_arg);
        }
        let (y, grad_out, mut grad_pre) = (f32_slice(y)?, f32_slice(grad_out)?, f32_slice(grad_pre)?);
        let yo = operand(&y, &grad_pre);
        let go = operand(&grad_out, &grad_pre);
        let o = unsafe { out_slice(&mut grad_pre) };
        elementwise::activation_backward(act, yo.input(&y), go.input(&grad_out), o).map_err(invalid_arg)
    })
}
