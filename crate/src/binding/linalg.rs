//! #[napi] wrappers of the GEMM (`crate::gemm`), the fractal layer's matrix products:
//! `matmul` in place on the JS thread, `matmulAsync` on owned copies off it.

use super::abort::{aborted, finished, AbortFlag};
use super::optim::{by_dtype, real_view, same_dtype, Dtype};
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::gemm::{self, Gemm};
use crate::primes::format_number;
use crate::real::Real;
use napi::bindgen_prelude::{AsyncTask, Float32Array, Float32ArraySlice};
use napi::{Env, Error, Result, Status, Task, Unknown};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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

/// The shape and scalars of `matmulAsync` (lib/kernels.ts `MatmulParams`), read once.
#[napi(object)]
pub struct MatmulParams {
    pub trans_a: bool,
    pub trans_b: bool,
    pub m: f64,
    pub n: f64,
    pub k: f64,
    pub alpha: f64,
    pub beta: f64,
}

/// `matmulAsync`'s work: owned copies of A, B (and C when β ≠ 0), multiplied on libuv's
/// pool into a C the task owns.
pub struct MatmulTask {
    g: Gemm,
    a: Vec<f32>,
    b: Vec<f32>,
    /// The copied C when β ≠ 0; `None` when β = 0 (the task allocates C).
    c: Option<Vec<f32>>,
    stop: Arc<AtomicBool>,
}

impl Task for MatmulTask {
    type Output = Vec<f32>;
    type JsValue = Float32Array;

    fn compute(&mut self) -> Result<Vec<f32>> {
        guard("matmulAsync", || {
            if crate::stop::raised(&self.stop) {
                return Err(aborted("matmulAsync"));
            }
            let mut c = match self.c.take() {
                Some(c) => c,
                None => zeros(self.g.m * self.g.n)?,
            };
            let done =
                gemm::matmul_until(&self.g, &self.a, &self.b, &mut c, &self.stop).map_err(invalid_arg)?;
            finished("matmulAsync", done, c)
        })
    }

    fn resolve(&mut self, _env: Env, output: Vec<f32>) -> Result<Float32Array> {
        // The Vec becomes the array's backing store: no copy.
        Ok(Float32Array::new(output))
    }
}

/// `len` zeros, or an error (not an abort of the process) when memory runs out.
fn zeros(len: usize) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::new(
            Status::GenericFailure,
            format!("cimm: out of memory for {len} f32 results"),
        )
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

/// `matmul` off the main thread: resolves to a new m×n array, C = α·op(a)·op(b) + β·c
/// (`c` is read, copied, only when β ≠ 0; it may be omitted when β = 0). Inputs are copied
/// before the task is queued (see `abort.rs`); argument errors are thrown before anything
/// is queued.
#[napi(ts_return_type = "Promise<Float32Array>")]
pub fn matmul_async(
    params: MatmulParams,
    a: Float32ArraySlice,
    b: Float32ArraySlice,
    c: Option<Float32ArraySlice>,
    flag: &AbortFlag,
) -> Result<AsyncTask<MatmulTask>> {
    guard("matmulAsync", || {
        let g = Gemm {
            trans_a: params.trans_a,
            trans_b: params.trans_b,
            m: dim("m", params.m)?,
            n: dim("n", params.n)?,
            k: dim("k", params.k)?,
            alpha: scalar("alpha", params.alpha)?,
            beta: scalar("beta", params.beta)?,
        };
        let (a, b): (&[f32], &[f32]) = (a.as_ref(), b.as_ref());
        g.check_inputs(a, b).map_err(invalid_arg)?;
        let c = if g.beta == 0.0 {
            None
        } else {
            let c: &[f32] = c.as_deref().unwrap_or(&[]);
            g.check(a, b, c).map_err(invalid_arg)?;
            Some(c.to_vec())
        };
        Ok(AsyncTask::new(MatmulTask {
            g,
            a: a.to_vec(),
            b: b.to_vec(),
            c,
            stop: flag.share(),
        }))
    })
}
