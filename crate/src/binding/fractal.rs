//! #[napi] exports of the fractal family (design.md §2 eq. 8): one step of the fractal
//! transform, its backward rule, and the bound check max |x|. Scalars are read first, then
//! the Float32Arrays (see `args`), borrowed, not copied. An input may be the output array
//! itself (the kernel then runs in place); an input that partially overlaps the output is
//! copied first, so no call can read a value it already overwrote.

use super::args::{self, f32_view, View};
use super::{guard, invalid_arg};
use crate::fractal;
use crate::linalg::Input;
use napi::{Result, Unknown};
use napi_derive::napi;

/// How an f32 input relates to the output: a separate array, the output itself, or a
/// partial overlap (then a private copy).
pub(super) enum Operand {
    Separate(View),
    Same,
    Copied(Vec<f32>),
}

impl Operand {
    /// # Safety
    /// `input` and `out` are f32 views taken with no JS run since.
    pub(super) unsafe fn of(input: View, out: &View) -> Self {
        if !input.overlaps(out) {
            Operand::Separate(input)
        } else if input.same(out) {
            Operand::Same
        } else {
            Operand::Copied(input.slice::<f32>().to_vec())
        }
    }

    /// The kernel's view of this input.
    ///
    /// # Safety
    /// As [`Operand::of`]; a `Separate` input overlaps no mutable slice.
    pub(super) unsafe fn input(&self) -> Input<'_> {
        match self {
            Operand::Separate(v) => Input::Slice(v.slice::<f32>()),
            Operand::Same => Input::Out,
            Operand::Copied(v) => Input::Slice(v),
        }
    }
}

/// Eq. 8, one step: `out[i] = z[i]² + fround(offset)`, computed in f64 and rounded
/// once (bit-exact with the JS reference). `z` may be `out` (in place).
#[napi]
pub fn fractal_step(
    #[napi(ts_arg_type = "Float32Array")] z: Unknown<'_>,
    #[napi(ts_arg_type = "number")] offset: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("fractalStep", || {
        let offset = args::number(&offset, "offset")?;
        let (z, out) = (f32_view(&z, "z")?, f32_view(&out, "out")?);
        // SAFETY: f32 views taken with no JS run since; `z` is separate, out itself or copied.
        unsafe {
            let zo = Operand::of(z, &out);
            fractal::fractal_step(zo.input(), offset, out.slice_mut::<f32>()).map_err(invalid_arg)
        }
    })
}

/// Backward rule of one step of eq. 8: `gradZ[i] = 2·z[i]·gradOut[i]`. `gradOut` may
/// be `gradZ` (in place).
#[napi]
pub fn fractal_step_backward(
    #[napi(ts_arg_type = "Float32Array")] z: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] grad_out: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] grad_z: Unknown<'_>,
) -> Result<()> {
    guard("fractalStepBackward", || {
        let (z, grad_out, grad_z) = (
            f32_view(&z, "z")?,
            f32_view(&grad_out, "gradOut")?,
            f32_view(&grad_z, "gradZ")?,
        );
        // SAFETY: f32 views taken with no JS run since. z is read at every element: if it is
        // gradZ itself (or overlaps it), a copy is read.
        unsafe {
            let copied;
            let z_in: &[f32] = if z.overlaps(&grad_z) {
                copied = z.slice::<f32>().to_vec();
                &copied
            } else {
                z.slice::<f32>()
            };
            let go = Operand::of(grad_out, &grad_z);
            fractal::fractal_step_backward(z_in, go.input(), grad_z.slice_mut::<f32>()).map_err(invalid_arg)
        }
    })
}

/// `max |x[i]|` (0 when empty), or NaN when any element is NaN or ±Infinity.
#[napi]
pub fn max_abs(#[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>) -> Result<f64> {
    guard("maxAbs", || {
        let x = f32_view(&x, "x")?;
        // SAFETY: read only, of dtype f32, and no JS runs until return.
        Ok(fractal::max_abs(unsafe { x.slice::<f32>() }))
    })
}
