//! #[napi] wrappers of the optimizer kernels (crate::optim). Each typed array is read
//! with one napi_get_typedarray_info (its pointer includes the view's byte offset; no
//! reference, no copy), the arrays are checked not to overlap, and only then are
//! slices made of them: the updated arrays are written in place.

use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::optim;
use napi::{sys, JsValue, Result, Unknown, ValueType};
use napi_derive::napi;
use std::ptr::{self, NonNull};

/// The memory of one Float32Array argument.
#[derive(Clone, Copy)]
pub(super) struct View {
    ptr: NonNull<f32>,
    len: usize,
    name: &'static str,
}

impl View {
    /// # Safety
    /// No mutable slice of overlapping memory may be alive, and JS must not run.
    pub(super) unsafe fn slice<'a>(self) -> &'a [f32] {
        std::slice::from_raw_parts(self.ptr.as_ptr(), self.len)
    }

    /// # Safety
    /// No other slice of overlapping memory may be alive, and JS must not run.
    pub(super) unsafe fn slice_mut<'a>(self) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len)
    }

    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    /// The view's bytes [start, end) as addresses.
    pub(super) fn range(&self) -> (usize, usize) {
        let start = self.ptr.as_ptr() as usize;
        (start, start + self.len * size_of::<f32>())
    }
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

pub(super) fn f32_view(value: Unknown<'_>, name: &'static str) -> Result<View> {
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
    if status != sys::Status::napi_ok || ty != sys::TypedarrayType::float32_array {
        let ty = (status == sys::Status::napi_ok).then_some(ty);
        return Err(invalid_arg(KernelError::new(
            name,
            "a Float32Array",
            describe(&value, ty),
        )));
    }
    let ptr = if len == 0 {
        NonNull::dangling()
    } else {
        NonNull::new(data.cast::<f32>()).unwrap_or(NonNull::dangling())
    };
    Ok(View { ptr, len, name })
}

/// Rejects any two non-empty arrays that share memory (the kernels read and write them
/// as separate arrays).
pub(super) fn disjoint(views: &[View]) -> Result<()> {
    for (i, a) in views.iter().enumerate() {
        for b in &views[i + 1..] {
            let ((a0, a1), (b0, b1)) = (a.range(), b.range());
            if a.len > 0 && b.len > 0 && a0 < b1 && b0 < a1 {
                return Err(invalid_arg(KernelError::new(
                    b.name,
                    format!("a Float32Array that does not overlap {}", a.name),
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
        let p = f32_view(params, "params")?;
        let g = f32_view(grads, "grads")?;
        let b = f32_view(momentum_buffer, "momentumBuffer")?;
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
        // SAFETY: the views do not overlap, and JS waits for this synchronous call.
        let (p, g, b) = unsafe { (p.slice_mut(), g.slice(), b.slice_mut()) };
        optim::sgd_step(p, g, b, &h).map_err(invalid_arg)
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
        let p = f32_view(params, "params")?;
        let g = f32_view(grads, "grads")?;
        let mv = f32_view(m, "m")?;
        let vv = f32_view(v, "v")?;
        let w = f32_view(v_max, "vMax")?;
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
        // SAFETY: the views do not overlap, and JS waits for this synchronous call.
        let (p, g, mv, vv, w) = unsafe {
            (
                p.slice_mut(),
                g.slice(),
                mv.slice_mut(),
                vv.slice_mut(),
                w.slice_mut(),
            )
        };
        optim::adam_step(p, g, mv, vv, w, &h).map_err(invalid_arg)
    })
}

/// The index of the first NaN or ±∞ in `values`, or −1.
#[napi]
pub fn first_non_finite(values: Unknown<'_>) -> Result<f64> {
    guard("firstNonFinite", || {
        let x = f32_view(values, "values")?;
        // SAFETY: read only, and JS waits for this synchronous call.
        let x = unsafe { x.slice() };
        Ok(optim::first_non_finite(x).map_or(-1.0, |i| i as f64))
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
        let (s, d) = unsafe { (s.slice(), d.slice_mut()) };
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
        let b = f32_view(before, "before")?;
        let a = f32_view(after, "after")?;
        let g = f32_view(grads, "grads")?;
        let m = f32_view(metric, "metric")?;
        if out.len() != 3 {
            return Err(invalid_arg(KernelError::new(
                "out",
                "a Float64Array of length 3",
                format!("a Float64Array of length {}", out.len()),
            )));
        }
        // SAFETY: read only (sharing memory is harmless), and JS waits for this call.
        let u = unsafe {
            crate::balance::Update {
                before: b.slice(),
                after: a.slice(),
                grads: g.slice(),
                metric: m.slice(),
                metric_scale,
                epsilon,
            }
        };
        let sums = crate::balance::update_energy(&u).map_err(invalid_arg)?;
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
        let b = f32_view(before, "before")?;
        let a = f32_view(after, "after")?;
        let g = f32_view(grads, "grads")?;
        // SAFETY: read only (sharing memory is harmless), and JS waits for this call.
        let u = unsafe {
            crate::balance::Update {
                before: b.slice(),
                after: a.slice(),
                grads: g.slice(),
                metric: &[],
                metric_scale: 1.0,
                epsilon: 0.0,
            }
        };
        crate::balance::update_slope(&u).map_err(invalid_arg)
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
        let p = f32_view(params, "params")?;
        let g = f32_view(grads, "grads")?;
        let q = f32_view(p0, "p0")?;
        let mv = f32_view(m, "m")?;
        let vv = f32_view(v, "v")?;
        let sv = f32_view(s, "s")?;
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
        // SAFETY: the views do not overlap, and JS waits for this synchronous call.
        let (p, g, q, mv, vv, sv) = unsafe {
            (
                p.slice(),
                g.slice(),
                q.slice(),
                mv.slice_mut(),
                vv.slice_mut(),
                sv.slice_mut(),
            )
        };
        let (dot, l1) = crate::prodigy::prodigy_accumulate(p, g, q, mv, vv, sv, &h).map_err(invalid_arg)?;
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
        let p = f32_view(params, "params")?;
        let mv = f32_view(m, "m")?;
        let vv = f32_view(v, "v")?;
        disjoint(&[p, mv, vv])?;
        let h = crate::prodigy::ProdigyUpdate {
            step_size,
            epsilon,
            decay,
        };
        // SAFETY: the views do not overlap, and JS waits for this synchronous call.
        let (p, mv, vv) = unsafe { (p.slice_mut(), mv.slice(), vv.slice()) };
        crate::prodigy::prodigy_update(p, mv, vv, &h).map_err(invalid_arg)
    })
}
