//! #[napi] wrapper of the GEMM (`crate::gemm`), the fractal layer's matrix products.

use super::optim::{by_dtype, real_view, same_dtype, Dtype};
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::gemm::{self, Gemm};
use crate::primes::format_number;
use crate::real::Real;
use napi::{Result, Unknown};
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

/// A finite scalar, finite in the arrays' dtype T too.
fn scalar<T: Real>(name: &'static str, v: f64) -> Result<T> {
    if v.is_finite() && T::from_f64(v).is_finite() {
        Ok(T::from_f64(v))
    } else {
        Err(invalid_arg(KernelError::new(
            name,
            "a finite number",
            format_number(v),
        )))
    }
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
    #[napi(ts_arg_type = "Float32Array | Float64Array")] a: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] b: Unknown<'_>,
    beta: f64,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] c: Unknown<'_>,
) -> Result<()> {
    guard("matmul", || {
        let (m, n, k) = (dim("m", m)?, dim("n", n)?, dim("k", k)?);
        let (a, b, c) = (real_view(a, "a")?, real_view(b, "b")?, real_view(c, "c")?);
        // one dtype per call: c's (the layer's), a and b must have it
        let dtype = same_dtype(&[c, a, b])?;
        let overlaps =
            |x: (usize, usize), y: (usize, usize)| x.0 < x.1 && y.0 < y.1 && x.0 < y.1 && y.0 < x.1;
        if overlaps(a.range(), c.range()) || overlaps(b.range(), c.range()) {
            return Err(invalid_arg(KernelError::new(
                "c",
                "an array that does not overlap a or b",
                "an overlapping view",
            )));
        }
        by_dtype!(dtype, T => {
            let g = Gemm::<T> {
                trans_a,
                trans_b,
                m,
                n,
                k,
                alpha: scalar("alpha", alpha)?,
                beta: scalar("beta", beta)?,
            };
            // SAFETY: the views have dtype T, JS is blocked during this synchronous call and
            // c overlaps neither input.
            let (a, b, c) = unsafe { (a.slice::<T>(), b.slice::<T>(), c.slice_mut::<T>()) };
            gemm::matmul(&g, a, b, c).map_err(invalid_arg)
        })
    })
}
