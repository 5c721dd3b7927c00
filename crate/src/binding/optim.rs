//! #[napi] wrappers of the optimizer kernels (crate::optim). Each typed array is read
//! with one napi_get_typedarray_info (its pointer includes the view's byte offset; no
//! reference, no copy), the arrays are checked not to overlap, and only then are
//! slices made of them: the updated arrays are written in place.
//!
//! The kernels take Float32Array or Float64Array parameters (lib/kernels.ts, `Real`): every
//! array of a call must have the dtype of `params` (an empty one, unused, may have either);
//! the call then runs the kernel's f32 or f64 instance.

use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::optim;
use crate::real::Real;
use napi::{sys, JsValue, Result, Unknown, ValueType};
use napi_derive::napi;
use std::ptr::{self, NonNull};

/// The dtype of a Float32Array or Float64Array argument.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Dtype {
    F32,
    F64,
}

impl Dtype {
    fn of<T: Real>() -> Self {
        if size_of::<T>() == size_of::<f64>() {
            Dtype::F64
        } else {
            Dtype::F32
        }
    }

    fn array(self) -> &'static str {
        match self {
            Dtype::F32 => "Float32Array",
            Dtype::F64 => "Float64Array",
        }
    }
}

/// The memory of one Float32Array or Float64Array argument.
#[derive(Clone, Copy)]
pub(super) struct View {
    ptr: NonNull<u8>,
    len: usize,
    dtype: Dtype,
    name: &'static str,
}

impl View {
    /// The elements as T. An empty view gives an empty slice of either dtype.
    ///
    /// # Safety
    /// T must be the view's dtype when it is not empty ([`same_dtype`]); no mutable slice of
    /// overlapping memory may be alive, and JS must not run.
    pub(super) unsafe fn slice<'a, T: Real>(self) -> &'a [T] {
        if self.len == 0 {
            return &[];
        }
        debug_assert_eq!(self.dtype, Dtype::of::<T>());
        std::slice::from_raw_parts(self.ptr.as_ptr().cast::<T>(), self.len)
    }

    /// # Safety
    /// As [`View::slice`], and no other slice of overlapping memory may be alive.
    pub(super) unsafe fn slice_mut<'a, T: Real>(self) -> &'a mut [T] {
        if self.len == 0 {
            return &mut [];
        }
        debug_assert_eq!(self.dtype, Dtype::of::<T>());
        std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast::<T>(), self.len)
    }

    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    pub(super) fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The view's bytes [start, end) as addresses.
    pub(super) fn range(&self) -> (usize, usize) {
        let start = self.ptr.as_ptr() as usize;
        let size = match self.dtype {
            Dtype::F32 => size_of::<f32>(),
            Dtype::F64 => size_of::<f64>(),
        };
        (start, start + self.len * size)
    }
}

/// The dtype of `views[0]` (params), after checking that every other non-empty view has it
/// (the state follows the parameters; an empty array is an unused one).
pub(super) fn same_dtype(views: &[View]) -> Result<Dtype> {
    let dtype = views[0].dtype;
    for v in &views[1..] {
        if v.len > 0 && v.dtype != dtype {
            return Err(invalid_arg(KernelError::new(
                v.name,
                format!("a {} (the dtype of {})", dtype.array(), views[0].name),
                format!("a {}", v.dtype.array()),
            )));
        }
    }
    Ok(dtype)
}

/// "<what it is>" for an argument that is not a Float32Array.
pub(super) fn describe(value: &Unknown<'_>, typed_array_type: Option<i32>) -> String {
    const NAMES: [&str; 11] = [
        "Int8Array",
        "Uint8Array",
        "Uint8ClampedArray",
        "Int16Array",
        "Uint16Array",
        "Int32Array",
        "Uint32Array",
        "Float32Array",
        "Float64Array",
        "BigInt64Array",
        "BigUint64Array",
    ];
    if let Some(name) = typed_array_type.and_then(|t| NAMES.get(usize::try_from(t).ok()?)) {
        return format!("a {name}");
    }
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined".to_string(),
        Ok(ValueType::Null) => "null".to_string(),
        Ok(t) => format!("a value of type {}", t.to_string().to_lowercase()),
        Err(_) => "a value of unknown type".to_string(),
    }
}

/// A Float32Array argument (memoryCopy's).
pub(super) fn f32_view(value: Unknown<'_>, name: &'static str) -> Result<View> {
    let v = real_view(value, name)?;
    if v.dtype != Dtype::F32 {
        return Err(invalid_arg(KernelError::new(
            name,
            "a Float32Array",
            "a Float64Array",
        )));
    }
    Ok(v)
}

/// A Float32Array or Float64Array argument.
pub(super) fn real_view(value: Unknown<'_>, name: &'static str) -> Result<View> {
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
    let dtype = match ty {
        sys::TypedarrayType::float32_array if status == sys::Status::napi_ok => Dtype::F32,
        sys::TypedarrayType::float64_array if status == sys::Status::napi_ok => Dtype::F64,
        _ => {
            let ty = (status == sys::Status::napi_ok).then_some(ty);
            return Err(invalid_arg(KernelError::new(
                name,
                "a Float32Array or Float64Array",
                describe(&value, ty),
            )));
        }
    };
    let ptr = if len == 0 {
        NonNull::dangling()
    } else {
        NonNull::new(data.cast::<u8>()).unwrap_or(NonNull::dangling())
    };
    Ok(View {
        ptr,
        len: if ptr == NonNull::dangling() { 0 } else { len },
        dtype,
        name,
    })
}

/// `$body` with `$t` the element type of `$dtype` (f32 or f64): one kernel call, two
/// monomorphic instances.
macro_rules! by_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            Dtype::F32 => {
                type $t = f32;
                $body
            }
            Dtype::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}
pub(super) use by_dtype;

/// Rejects any two non-empty arrays that share memory (the kernels read and write them
/// as separate arrays).
pub(super) fn disjoint(views: &[View]) -> Result<()> {
    for (i, a) in views.iter().enumerate() {
        for b in &views[i + 1..] {
            let ((a0, a1), (b0, b1)) = (a.range(), b.range());
            if a.len > 0 && b.len > 0 && a0 < b1 && b0 < a1 {
                return Err(invalid_arg(KernelError::new(
                    b.name,
                    format!("a {} that does not overlap {}", b.dtype.array(), a.name),
                    "one that shares memory with it",
                )));
            }
        }
    }
    Ok(())
}

/// torch.optim.SGD on one tensor, in place; returns false when an updated parameter is
/// NaN or ±∞. `momentumBuffer` is used (and must have the params' length) when
/// `momentum` ≠ 0.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn sgd_step(
    params: Unknown<'_>,
    grads: Unknown<'_>,
    momentum_buffer: Unknown<'_>,
    learning_rate: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
) -> Result<bool> {
    guard("sgdStep", || {
        let p = real_view(params, "params")?;
        let g = real_view(grads, "grads")?;
        let b = real_view(momentum_buffer, "momentumBuffer")?;
        let dtype = same_dtype(&[p, g, b])?;
        disjoint(&[p, g, b])?;
        let h = optim::Sgd {
            learning_rate,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            first_step,
        };
        by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
            let (p, g, b) = unsafe { (p.slice_mut::<T>(), g.slice::<T>(), b.slice_mut::<T>()) };
            optim::sgd_step(p, g, b, &h).map_err(invalid_arg)
        })
    })
}

/// torch.optim.Adam / AdamW on one tensor, in place; returns false when an updated
/// parameter is NaN or ±∞. `vMax` is used (and must have the params' length) with
/// `amsgrad`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: Unknown<'_>,
    grads: Unknown<'_>,
    m: Unknown<'_>,
    v: Unknown<'_>,
    v_max: Unknown<'_>,
    beta1: f64,
    beta2: f64,
    step_size: f64,
    bc2_sqrt: f64,
    epsilon: f64,
    weight_decay: f64,
    decay: f64,
    amsgrad: bool,
    maximize: bool,
) -> Result<bool> {
    guard("adamStep", || {
        let p = real_view(params, "params")?;
        let g = real_view(grads, "grads")?;
        let mv = real_view(m, "m")?;
        let vv = real_view(v, "v")?;
        let w = real_view(v_max, "vMax")?;
        let dtype = same_dtype(&[p, g, mv, vv, w])?;
        disjoint(&[p, g, mv, vv, w])?;
        let h = optim::Adam {
            beta1,
            beta2,
            step_size,
            bc2_sqrt,
            epsilon,
            weight_decay,
            decay,
            amsgrad,
            maximize,
        };
        by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
            let (p, g, mv, vv, w) = unsafe {
                (
                    p.slice_mut::<T>(),
                    g.slice::<T>(),
                    mv.slice_mut::<T>(),
                    vv.slice_mut::<T>(),
                    w.slice_mut::<T>(),
                )
            };
            optim::adam_step(p, g, mv, vv, w, &h).map_err(invalid_arg)
        })
    })
}

/// The index of the first NaN or ±∞ in `values`, or −1.
#[napi]
pub fn first_non_finite(values: Unknown<'_>) -> Result<f64> {
    guard("firstNonFinite", || {
        let x = real_view(values, "values")?;
        let found = by_dtype!(x.dtype(), T => {
            // SAFETY: read only, of the view's dtype, and JS waits for this synchronous call.
            optim::first_non_finite(unsafe { x.slice::<T>() })
        });
        Ok(found.map_or(-1.0, |i| i as f64))
    })
}

/// dst ← src on the kernels' threads (the benchmark's copy bandwidth probe).
#[napi]
pub fn memory_copy(src: Unknown<'_>, dst: Unknown<'_>) -> Result<()> {
    guard("memoryCopy", || {
        let s = f32_view(src, "src")?;
        let d = f32_view(dst, "dst")?;
        disjoint(&[s, d])?;
        // SAFETY: the views do not overlap, and JS waits for this synchronous call.
        let (s, d) = unsafe { (s.slice::<f32>(), d.slice_mut::<f32>()) };
        optim::memory_copy(s, d).map_err(invalid_arg)
    })
}

/// The energy terms of an update Δ = after − before into out[0..3]: Σ wΔ², Σ gΔ, Σ |gΔ|
/// (crate::balance; w = √metric·metricScale + ε, or 1 when `metric` is empty).
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn update_energy(
    before: Unknown<'_>,
    after: Unknown<'_>,
    grads: Unknown<'_>,
    metric: Unknown<'_>,
    metric_scale: f64,
    epsilon: f64,
    mut out: napi::bindgen_prelude::Float64Array,
) -> Result<()> {
    guard("updateEnergy", || {
        let b = real_view(before, "before")?;
        let a = real_view(after, "after")?;
        let g = real_view(grads, "grads")?;
        let m = real_view(metric, "metric")?;
        let dtype = same_dtype(&[b, a, g, m])?;
        if out.len() != 3 {
            return Err(invalid_arg(KernelError::new(
                "out",
                "a Float64Array of length 3",
                format!("a Float64Array of length {}", out.len()),
            )));
        }
        let sums = by_dtype!(dtype, T => {
            // SAFETY: read only (sharing memory is harmless), of dtype T, and JS waits for
            // this call.
            let u = unsafe {
                crate::balance::Update {
                    before: b.slice::<T>(),
                    after: a.slice::<T>(),
                    grads: g.slice::<T>(),
                    metric: m.slice::<T>(),
                    metric_scale,
                    epsilon,
                }
            };
            crate::balance::update_energy(&u).map_err(invalid_arg)?
        });
        // SAFETY: JS is blocked for this synchronous call; `out` is a separate Float64Array.
        unsafe { out.as_mut() }.copy_from_slice(&sums);
        Ok(())
    })
}

/// Σ g·(after − before) alone: updateEnergy's out[1] bit for bit, at about two thirds of its
/// cost (crate::balance::update_slope; the learning-rate rules' end slope).
#[napi]
pub fn update_slope(before: Unknown<'_>, after: Unknown<'_>, grads: Unknown<'_>) -> Result<f64> {
    guard("updateSlope", || {
        let b = real_view(before, "before")?;
        let a = real_view(after, "after")?;
        let g = real_view(grads, "grads")?;
        let dtype = same_dtype(&[b, a, g])?;
        by_dtype!(dtype, T => {
            // SAFETY: read only (sharing memory is harmless), of dtype T, and JS waits for
            // this call.
            let u = unsafe {
                crate::balance::Update {
                    before: b.slice::<T>(),
                    after: a.slice::<T>(),
                    grads: g.slice::<T>(),
                    metric: &[],
                    metric_scale: 1.0,
                    epsilon: 0.0,
                }
            };
            crate::balance::update_slope(&u).map_err(invalid_arg)
        })
    })
}

/// Prodigy's first pass on one tensor (crate::prodigy): m, v, s updated in place; returns
/// [Σ g·(p0 − p), Σ |s|], summed in f64 in the fixed order of every backend.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn prodigy_accumulate(
    params: Unknown<'_>,
    grads: Unknown<'_>,
    p0: Unknown<'_>,
    m: Unknown<'_>,
    v: Unknown<'_>,
    s: Unknown<'_>,
    beta1: f64,
    beta2: f64,
    beta3: f64,
    moment_scale: f64,
    variance_scale: f64,
    s_scale: f64,
    weight_decay: f64,
) -> Result<Vec<f64>> {
    guard("prodigyAccumulate", || {
        let p = real_view(params, "params")?;
        let g = real_view(grads, "grads")?;
        let q = real_view(p0, "p0")?;
        let mv = real_view(m, "m")?;
        let vv = real_view(v, "v")?;
        let sv = real_view(s, "s")?;
        let dtype = same_dtype(&[p, g, q, mv, vv, sv])?;
        disjoint(&[p, g, q, mv, vv, sv])?;
        let h = crate::prodigy::ProdigyAccumulate {
            beta1,
            beta2,
            beta3,
            moment_scale,
            variance_scale,
            s_scale,
            weight_decay,
        };
        let (dot, l1) = by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
            let (p, g, q, mv, vv, sv) = unsafe {
                (
                    p.slice::<T>(),
                    g.slice::<T>(),
                    q.slice::<T>(),
                    mv.slice_mut::<T>(),
                    vv.slice_mut::<T>(),
                    sv.slice_mut::<T>(),
                )
            };
            crate::prodigy::prodigy_accumulate(p, g, q, mv, vv, sv, &h).map_err(invalid_arg)?
        });
        Ok(vec![dot, l1])
    })
}

/// Prodigy's second pass on one tensor, in place; returns false when an updated parameter
/// is NaN or ±∞.
#[napi]
pub fn prodigy_update(
    params: Unknown<'_>,
    m: Unknown<'_>,
    v: Unknown<'_>,
    step_size: f64,
    epsilon: f64,
    decay: f64,
) -> Result<bool> {
    guard("prodigyUpdate", || {
        let p = real_view(params, "params")?;
        let mv = real_view(m, "m")?;
        let vv = real_view(v, "v")?;
        let dtype = same_dtype(&[p, mv, vv])?;
        disjoint(&[p, mv, vv])?;
        let h = crate::prodigy::ProdigyUpdate {
            step_size,
            epsilon,
            decay,
        };
        by_dtype!(dtype, T => {
            // SAFETY: the views have dtype T and do not overlap, and JS waits for this call.
            let (p, mv, vv) = unsafe { (p.slice_mut::<T>(), mv.slice::<T>(), vv.slice::<T>()) };
            crate::prodigy::prodigy_update(p, mv, vv, &h).map_err(invalid_arg)
        })
    })
}
