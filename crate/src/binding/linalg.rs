//! #[napi] wrapper of the GEMM (`crate::gemm`), the fractal layer's matrix products.

use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::gemm::{self, Gemm};
use crate::primes::format_number;
use napi::bindgen_prelude::Float32ArraySlice;
use napi::Result;
use napi_derive::napi;

/// A matrix dimension from a JS number: a non-negative integer below 2^31.
fn dim(name: &'static str, v: f64) -> Result<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 2_147_483_648.0 {
        Ok(v as usize)
    } else {
        Err(invalid_arg(KernelError::new(
            name,
            "an integer in [0, 2147483647]",
            format_number(v),
        )))
    }
}

fn scalar(name: &'static str, v: f64) -> Result<f32> {
    if v.is_finite() && (v as f32).is_finite() {
        Ok(v as f32)
    } else {
        Err(invalid_arg(KernelError::new(
            name,
            "a finite number",
            format_number(v),
        )))
    }
}

fn overlaps(a: &[f32], c: &[f32]) -> bool {
    let (a, c) = (a.as_ptr_range(), c.as_ptr_range());
    !a.is_empty() && !c.is_empty() && a.start < c.end && c.start < a.end
}

/// `c ← alpha·op(a)·op(b) + beta·c`, row-major: op(a) is m×k (`a` stored k×m when
/// `transA`), op(b) is k×n (`b` stored n×k when `transB`), c is m×n. beta = 0
/// overwrites c. `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
#[napi]
pub fn matmul(
    trans_a: bool,
    trans_b: bool,
    m: f64,
    n: f64,
    k: f64,
    alpha: f64,
    a: Float32ArraySlice,
    b: Float32ArraySlice,
    beta: f64,
    mut c: Float32ArraySlice,
) -> Result<()> {
    guard("matmul", || {
        let g = Gemm {
            trans_a,
            trans_b,
            m: dim("m", m)?,
            n: dim("n", n)?,
            k: dim("k", k)?,
            alpha: scalar("alpha", alpha)?,
            beta: scalar("beta", beta)?,
        };
        let (a, b): (&[f32], &[f32]) = (a.as_ref(), b.as_ref());
        if overlaps(a, c.as_ref()) || overlaps(b, c.as_ref()) {
            return Err(invalid_arg(KernelError::new(
                "c",
                "an array that does not overlap a or b",
                "an overlapping view",
            )));
        }
        // SAFETY: JS is blocked during this synchronous call and c overlaps neither input.
        let c = unsafe { c.as_mut() };
        gemm::matmul(&g, a, b, c).map_err(invalid_arg)
    })
}
