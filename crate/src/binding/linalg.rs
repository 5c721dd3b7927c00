//! #[napi] exports of the linalg family: the GEMM (`crate::gemm`, linalg's engine) in place on
//! the JS thread and on owned copies off it (`matmulAsync`), and the elementwise kernels the
//! fractal layer (eq. 9) composes (axpby, dot, sum, the activation σ and its backward rule).
//! Scalars (an options object's fields among them, positional), names first, then the typed arrays (see `args`).
//! An elementwise input may be the output array itself; one that partially overlaps the
//! output is copied first.

use super::abort::{aborted, finished, AbortFlag};
use super::args::{self, by_dtype, f32_view, real_view, same_dtype, Dtype, View};
use super::fractal::Operand;
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::gemm::{self, Gemm};
use crate::linalg::{self, Activation};
use crate::primes::format_number;
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Error, Result, Status, Task, Unknown};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A matrix dimension from a JS number: a non-negative integer below 2^31.
fn dim(v: f64, name: &'static str) -> Result<usize> {
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

/// The shape and scalars of one product, read once (scalars rounded to the dtype later).
struct Shape {
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f64,
    beta: f64,
}

impl Shape {
    /// The product in dtype T: α and β must be finite in it.
    fn gemm<T: crate::real::Real>(&self) -> Result<Gemm<T>> {
        let scalar = |v: f64, name: &'static str| -> Result<T> {
            if v.is_finite() && T::from_f64(v).is_finite() {
                Ok(T::from_f64(v))
            } else {
                Err(invalid_arg(KernelError::new(
                    name,
                    "a finite number",
                    format_number(v),
                )))
            }
        };
        Ok(Gemm {
            trans_a: self.trans_a,
            trans_b: self.trans_b,
            m: self.m,
            n: self.n,
            k: self.k,
            alpha: scalar(self.alpha, "alpha")?,
            beta: scalar(self.beta, "beta")?,
        })
    }
}

/// MatmulParams (lib/kernels.ts), crossed as positional fields (BOUNDARY_OPTIONS), by name. A
/// field of the wrong type is named `params.<field>`; a value out of range by the kernel's name
/// for it (`m`, `alpha`).
#[allow(clippy::too_many_arguments)]
fn matmul_params(
    trans_a: &Unknown<'_>,
    trans_b: &Unknown<'_>,
    m: &Unknown<'_>,
    n: &Unknown<'_>,
    k: &Unknown<'_>,
    alpha: &Unknown<'_>,
    beta: &Unknown<'_>,
) -> Result<Shape> {
    Ok(Shape {
        trans_a: args::boolean(trans_a, "params.transA")?,
        trans_b: args::boolean(trans_b, "params.transB")?,
        m: dim(args::number(m, "params.m")?, "m")?,
        n: dim(args::number(n, "params.n")?, "n")?,
        k: dim(args::number(k, "params.k")?, "k")?,
        alpha: args::number(alpha, "params.alpha")?,
        beta: args::number(beta, "params.beta")?,
    })
}

/// `c ← α·op(a)·op(b) + β·c` (params: transA, transB, m, n, k, alpha, beta), row-major:
/// op(a) is m×k (`a` stored k×m when `transA`), op(b) is k×n (`b` stored n×k when
/// `transB`), c is m×n. β = 0 overwrites c. `c` must not overlap `a` or `b`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    #[napi(ts_arg_type = "boolean")] trans_a: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] trans_b: Unknown<'_>,
    #[napi(ts_arg_type = "number")] m: Unknown<'_>,
    #[napi(ts_arg_type = "number")] n: Unknown<'_>,
    #[napi(ts_arg_type = "number")] k: Unknown<'_>,
    #[napi(ts_arg_type = "number")] alpha: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] a: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] b: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] c: Unknown<'_>,
) -> Result<()> {
    guard("matmul", || {
        let shape = matmul_params(&trans_a, &trans_b, &m, &n, &k, &alpha, &beta)?;
        matmul_views(&shape, &a, &b, &c)
    })
}

/// matmul after its shape and scalars.
fn matmul_views(shape: &Shape, a: &Unknown<'_>, b: &Unknown<'_>, c: &Unknown<'_>) -> Result<()> {
    let (a, b, c) = (real_view(a, "a")?, real_view(b, "b")?, real_view(c, "c")?);
    // one dtype per call: c's (the layer's), a and b must have it
    let dtype = same_dtype(&[c, a, b])?;
    if a.overlaps(&c) || b.overlaps(&c) {
        return Err(invalid_arg(KernelError::new(
            "c",
            "an array that does not overlap a or b",
            "an overlapping view",
        )));
    }
    by_dtype!(dtype, T => {
        let g = shape.gemm::<T>()?;
        // SAFETY: the views have dtype T, no JS runs until return, and c overlaps neither input.
        let (a, b, c) = unsafe { (a.slice::<T>(), b.slice::<T>(), c.slice_mut::<T>()) };
        gemm::matmul(&g, a, b, c).map_err(invalid_arg)
    })
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

/// The most elements of a result array: V8's typed-array limit on 64-bit Node 20.
const MAX_RESULT_LENGTH: usize = 1 << 32;

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
#[allow(clippy::too_many_arguments)]
pub fn matmul_async(
    #[napi(ts_arg_type = "boolean")] trans_a: Unknown<'_>,
    #[napi(ts_arg_type = "boolean")] trans_b: Unknown<'_>,
    #[napi(ts_arg_type = "number")] m: Unknown<'_>,
    #[napi(ts_arg_type = "number")] n: Unknown<'_>,
    #[napi(ts_arg_type = "number")] k: Unknown<'_>,
    #[napi(ts_arg_type = "number")] alpha: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] a: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] b: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | undefined")] c: Unknown<'_>,
    flag: &AbortFlag,
) -> Result<AsyncTask<MatmulTask>> {
    guard("matmulAsync", || {
        let g = matmul_params(&trans_a, &trans_b, &m, &n, &k, &alpha, &beta)?.gemm::<f32>()?;
        // The result becomes a Float32Array: at most V8's typed-array length (2^32 on 64-bit
        // Node 20), checked before any allocation (an allocator may abort on an absurd size
        // instead of failing, as ASan's does), as the C++ binding does.
        if g.m.checked_mul(g.n).is_none_or(|len| len > MAX_RESULT_LENGTH) {
            return Err(invalid_arg(KernelError::new(
                "params.m",
                "dimensions whose product m·n fits in memory",
                format!("{} (n = {})", g.m, g.n),
            )));
        }
        let (a, b) = (f32_view(&a, "a")?, f32_view(&b, "b")?);
        // `c` is read only when β ≠ 0 (then it must be a Float32Array)
        let c = if g.beta == 0.0 {
            None
        } else {
            Some(f32_view(&c, "c")?)
        };
        // SAFETY: read only, of dtype f32, copied before any JS runs.
        let (a, b): (&[f32], &[f32]) = unsafe { (a.slice::<f32>(), b.slice::<f32>()) };
        g.check_inputs(a, b).map_err(invalid_arg)?;
        let c = match c {
            None => None,
            Some(c) => {
                // SAFETY: as above.
                let c: &[f32] = unsafe { c.slice::<f32>() };
                g.check(a, b, c).map_err(invalid_arg)?;
                Some(c.to_vec())
            }
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

/// `y ← alpha·x + beta·y` in f64, rounded once; beta = 0 overwrites y. `x` may be `y`.
#[napi]
pub fn axpby(
    #[napi(ts_arg_type = "number")] alpha: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] y: Unknown<'_>,
) -> Result<()> {
    guard("axpby", || {
        let alpha = args::finite(&alpha, "alpha")?;
        let beta = args::finite(&beta, "beta")?;
        let (x, y) = (f32_view(&x, "x")?, f32_view(&y, "y")?);
        // SAFETY: f32 views taken with no JS run since; `x` is separate, y itself or copied.
        unsafe {
            let xo = Operand::of(x, &y);
            linalg::axpby(alpha, xo.input(), beta, y.slice_mut::<f32>()).map_err(invalid_arg)
        }
    })
}

/// `Σ x[i]·y[i]` accumulated in f64.
#[napi]
pub fn dot(
    #[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array")] y: Unknown<'_>,
) -> Result<f64> {
    guard("dot", || {
        let (x, y) = (f32_view(&x, "x")?, f32_view(&y, "y")?);
        // SAFETY: read only, of dtype f32, and no JS runs until return.
        linalg::dot(unsafe { x.slice::<f32>() }, unsafe { y.slice::<f32>() }).map_err(invalid_arg)
    })
}

/// `Σ x[i]` accumulated in f64.
#[napi]
pub fn sum(#[napi(ts_arg_type = "Float32Array")] x: Unknown<'_>) -> Result<f64> {
    guard("sum", || {
        let x = f32_view(&x, "x")?;
        // SAFETY: read only, of dtype f32, and no JS runs until return.
        Ok(linalg::sum(unsafe { x.slice::<f32>() }))
    })
}

/// An f64 input of an f64 activation call: None when it is the output itself; a copy when it
/// partially overlaps the output (as the f32 path's Operand).
fn input64<'a>(x: View, out: View) -> Option<std::borrow::Cow<'a, [f64]>> {
    if x.same(&out) {
        return None;
    }
    // SAFETY: read only, of dtype f64 (checked by same_dtype); no JS runs until return.
    let v: &'a [f64] = unsafe { x.slice::<f64>() };
    if x.overlaps(&out) {
        Some(std::borrow::Cow::Owned(v.to_vec()))
    } else {
        Some(std::borrow::Cow::Borrowed(v))
    }
}

/// `out[i] = σ(x[i] + shift)`; activation "identity", "tanh", "sigmoid" or "relu". `x`
/// may be `out`. Float32Array (σ in f64, rounded once) or Float64Array (σ in f64).
#[napi]
pub fn activation_forward(
    #[napi(ts_arg_type = "'identity' | 'tanh' | 'sigmoid' | 'relu'")] activation: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "number")] shift: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("activationForward", || {
        let act: Activation = args::activation(&activation, "activation")?;
        let shift = args::finite(&shift, "shift")?;
        let (xv, ov) = (real_view(&x, "x")?, real_view(&out, "out")?);
        if same_dtype(&[ov, xv])? == Dtype::F64 {
            let xi = input64(xv, ov);
            // SAFETY: out has dtype f64; the input is out itself (None) or separate/copied memory.
            let o = unsafe { ov.slice_mut::<f64>() };
            return linalg::activation_forward_f64(act, xi.as_deref(), shift, o).map_err(invalid_arg);
        }
        // SAFETY: f32 views (same_dtype; an empty one reads as an empty slice of either dtype)
        // taken with no JS run since; `x` is separate, out itself or copied.
        unsafe {
            let xo = Operand::of(xv, &ov);
            linalg::activation_forward(act, xo.input(), shift, ov.slice_mut::<f32>()).map_err(invalid_arg)
        }
    })
}

/// `gradPre[i] = gradOut[i]·σ'(pre[i])`, σ' written through the output `y` = σ(pre).
/// `y` or `gradOut` may be `gradPre`. Float32Array or Float64Array (one dtype per call).
#[napi]
pub fn activation_backward(
    #[napi(ts_arg_type = "'identity' | 'tanh' | 'sigmoid' | 'relu'")] activation: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] y: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grad_out: Unknown<'_>,
    #[napi(ts_arg_type = "Float32Array | Float64Array")] grad_pre: Unknown<'_>,
) -> Result<()> {
    guard("activationBackward", || {
        let act = args::activation(&activation, "activation")?;
        let (yv, gv, pv) = (
            real_view(&y, "y")?,
            real_view(&grad_out, "gradOut")?,
            real_view(&grad_pre, "gradPre")?,
        );
        if same_dtype(&[pv, yv, gv])? == Dtype::F64 {
            let (yi, gi) = (input64(yv, pv), input64(gv, pv));
            // SAFETY: gradPre has dtype f64; each input is gradPre itself (None) or separate/copied memory.
            let o = unsafe { pv.slice_mut::<f64>() };
            return linalg::activation_backward_f64(act, yi.as_deref(), gi.as_deref(), o)
                .map_err(invalid_arg);
        }
        // SAFETY: as in activation_forward.
        unsafe {
            let (yo, go) = (Operand::of(yv, &pv), Operand::of(gv, &pv));
            linalg::activation_backward(act, yo.input(), go.input(), pv.slice_mut::<f32>())
                .map_err(invalid_arg)
        }
    })
}
