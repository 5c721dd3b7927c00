//! Reading a call's arguments (support module, no kernel). Every export takes its arguments
//! as `Unknown` and reads them here, so that
//!
//! - every error names the parameter in the facade's format, `Expected <what> for <name> but
//!   received <what it is>` (lib/backends/native.ts turns it into a CimmArgumentError), where
//!   napi-rs's own conversions said `Expected $name, got 5` or `Get TypedArray info failed`;
//! - each argument is read exactly once (an options object crosses as its fields, positional
//!   scalars in the order of BOUNDARY_OPTIONS in lib/kernels.ts, read in lib/backends/boundary.ts);
//! - the order is fixed: first every scalar and string (a value of the wrong kind is an error,
//!   never converted, so no JS runs there: no valueOf, no getter), then the typed arrays, by
//!   [`real_view`] and friends, which run no JS either. A binding takes no view before its last
//!   scalar and calls nothing that runs JS after its first view, so a view's pointer and
//!   length are those of the buffer the kernel uses.
//!
//! Buffers: a view on a detached buffer reads as empty (length 0), a length-tracking view on a
//! resizable `ArrayBuffer` as its current length, and a view on a `SharedArrayBuffer` as its
//! memory (a growable one only grows, so it stays valid; another thread writing it during the
//! call is a data race the caller asked for, as with any shared memory, and changes only
//! values, never bounds).

use super::invalid_arg;
use crate::error::KernelError;
use crate::flow::Boundary;
use crate::linalg::Activation;
use crate::primes::format_number;
use crate::real::Real;
use napi::{sys, Error, JsValue, Result, Unknown, ValueType};
use std::ptr::{self, NonNull};

/// An argument error: `Expected <expected> for <name> but received <what value is>`.
fn wrong(name: &'static str, expected: &str, value: &Unknown<'_>) -> Error {
    invalid_arg(KernelError::new(name, expected, describe(value, None)))
}

/// "<what it is>" for an argument of the wrong kind: the typed array's class, a number's
/// value, or the JS type.
pub(super) fn describe(value: &Unknown<'_>, typed_array_type: Option<i32>) -> String {
    const NAMES: [&str; 11] = [
        "an Int8Array",
        "a Uint8Array",
        "a Uint8ClampedArray",
        "an Int16Array",
        "a Uint16Array",
        "an Int32Array",
        "a Uint32Array",
        "a Float32Array",
        "a Float64Array",
        "a BigInt64Array",
        "a BigUint64Array",
    ];
    if let Some(name) = typed_array_type.and_then(|t| NAMES.get(usize::try_from(t).ok()?)) {
        return (*name).to_string();
    }
    let raw = value.value();
    let mut ty = 0;
    // SAFETY: plain N-API calls on this call's env and value; they run no JS.
    if unsafe {
        sys::napi_get_typedarray_info(
            raw.env,
            raw.value,
            &mut ty,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    } == sys::Status::napi_ok
    {
        if let Some(name) = NAMES.get(usize::try_from(ty).unwrap_or(usize::MAX)) {
            return (*name).to_string();
        }
    }
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined".to_string(),
        Ok(ValueType::Null) => "null".to_string(),
        Ok(ValueType::Number) => {
            let mut v = 0.0;
            // SAFETY: as above; `value` is a number.
            unsafe { sys::napi_get_value_double(raw.env, raw.value, &mut v) };
            format_number(v)
        }
        Ok(ValueType::Boolean) => "a boolean".to_string(),
        Ok(ValueType::String) => "a string".to_string(),
        Ok(ValueType::BigInt) => "a bigint".to_string(),
        Ok(ValueType::Symbol) => "a symbol".to_string(),
        Ok(ValueType::Function) => "a function".to_string(),
        Ok(_) => {
            let mut array = false;
            // SAFETY: as above.
            unsafe { sys::napi_is_array(raw.env, raw.value, &mut array) };
            if array { "an Array" } else { "an object" }.to_string()
        }
        Err(_) => "a value of unknown type".to_string(),
    }
}

/// A number argument (any number, NaN and ±∞ included: the kernel checks its range).
pub(super) fn number(value: &Unknown<'_>, name: &'static str) -> Result<f64> {
    let raw = value.value();
    let mut out = 0.0;
    // SAFETY: plain N-API call on this call's env and value; fails unless a number.
    if unsafe { sys::napi_get_value_double(raw.env, raw.value, &mut out) } != sys::Status::napi_ok {
        return Err(wrong(name, "a number", value));
    }
    Ok(out)
}

/// A finite number argument.
pub(super) fn finite(value: &Unknown<'_>, name: &'static str) -> Result<f64> {
    let v = number(value, name)?;
    if !v.is_finite() {
        return Err(invalid_arg(KernelError::new(
            name,
            "a finite number",
            format_number(v),
        )));
    }
    Ok(v)
}

/// A boolean argument (strictly `true` or `false`).
pub(super) fn boolean(value: &Unknown<'_>, name: &'static str) -> Result<bool> {
    let raw = value.value();
    let mut out = false;
    // SAFETY: plain N-API call on this call's env and value; fails unless a boolean.
    if unsafe { sys::napi_get_value_bool(raw.env, raw.value, &mut out) } != sys::Status::napi_ok {
        return Err(wrong(name, "a boolean", value));
    }
    Ok(out)
}

/// A short string argument (a name of an enumeration), at most 63 bytes of UTF-8: a longer
/// one is no valid name and is reported as such.
fn short_string(value: &Unknown<'_>, name: &'static str, expected: &str) -> Result<String> {
    let raw = value.value();
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: plain N-API call on this call's env and value; it writes at most buf.len()
    // bytes, NUL included, and fails unless a string. Runs no JS.
    let status = unsafe {
        sys::napi_get_value_string_utf8(raw.env, raw.value, buf.as_mut_ptr().cast(), buf.len(), &mut len)
    };
    if status != sys::Status::napi_ok {
        return Err(wrong(name, expected, value));
    }
    Ok(String::from_utf8_lossy(&buf[..len.min(buf.len() - 1)]).into_owned())
}

/// An activation name argument ("identity", "tanh", "sigmoid", "relu"). A value that is no
/// string is named `name`; a string that is no activation is named as the core names it,
/// `activation` (as the value errors of every options field: `params.h` is a type error,
/// `h` a range error, the name of the positional form).
pub(super) fn activation(value: &Unknown<'_>, name: &'static str) -> Result<Activation> {
    const NAMES: &str = r#"one of "identity", "tanh", "sigmoid", "relu""#;
    Activation::from_name(&short_string(value, name, NAMES)?).map_err(invalid_arg)
}

/// A grid boundary field, crossed as its index in BOUNDARY_OPTIONS's list of names
/// (lib/kernels.ts: `["periodic", "zeroFlux"]`, in that order).
pub(super) fn boundary(value: &Unknown<'_>, name: &'static str) -> Result<Boundary> {
    const NAMES: [&str; 2] = ["periodic", "zeroFlux"];
    let i = number(value, name)?;
    match NAMES.iter().enumerate().find(|(k, _)| *k as f64 == i) {
        Some((_, boundary)) => Boundary::parse(boundary).map_err(invalid_arg),
        None => Err(wrong(
            name,
            r#"the index of one of "periodic", "zeroFlux" (0 or 1)"#,
            value,
        )),
    }
}

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

    pub(super) fn array(self) -> &'static str {
        match self {
            Dtype::F32 => "Float32Array",
            Dtype::F64 => "Float64Array",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => size_of::<f32>(),
            Dtype::F64 => size_of::<f64>(),
        }
    }
}

/// The memory of one Float32Array or Float64Array argument: its pointer (the view's byte
/// offset included) and length, taken once, with no JS run since.
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
    /// overlapping memory may be alive, and JS must not have run since the view was taken.
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

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The view's bytes [start, end) as addresses.
    pub(super) fn range(&self) -> (usize, usize) {
        let start = self.ptr.as_ptr() as usize;
        (start, start + self.len * self.dtype.size())
    }

    /// Whether the two views share a byte.
    pub(super) fn overlaps(&self, other: &View) -> bool {
        let ((a0, a1), (b0, b1)) = (self.range(), other.range());
        a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1
    }

    /// Whether the two views are the same non-empty memory.
    pub(super) fn same(&self, other: &View) -> bool {
        self.len > 0 && self.range() == other.range()
    }
}

/// A Float32Array or Float64Array argument.
pub(super) fn real_view(value: &Unknown<'_>, name: &'static str) -> Result<View> {
    let raw = value.value();
    let (mut ty, mut len, mut data) = (0, 0usize, ptr::null_mut());
    // SAFETY: plain N-API call on this call's env and value; the optional outputs are null.
    // It runs no JS.
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
                describe(value, ty),
            )));
        }
    };
    // a detached buffer has no data: the view is empty
    let ptr = NonNull::new(data.cast::<u8>()).filter(|_| len > 0);
    Ok(View {
        ptr: ptr.unwrap_or(NonNull::dangling()),
        len: if ptr.is_some() { len } else { 0 },
        dtype,
        name,
    })
}

/// A view of one dtype only.
fn view_of(value: &Unknown<'_>, name: &'static str, want: Dtype) -> Result<View> {
    let v = real_view(value, name).map_err(|_| {
        let expected = format!("a {}", want.array());
        invalid_arg(KernelError::new(name, expected, describe(value, None)))
    })?;
    if v.dtype != want {
        return Err(invalid_arg(KernelError::new(
            name,
            format!("a {}", want.array()),
            format!("a {}", v.dtype.array()),
        )));
    }
    Ok(v)
}

/// A Float32Array argument.
pub(super) fn f32_view(value: &Unknown<'_>, name: &'static str) -> Result<View> {
    view_of(value, name, Dtype::F32)
}

/// A Float64Array argument.
pub(super) fn f64_view(value: &Unknown<'_>, name: &'static str) -> Result<View> {
    view_of(value, name, Dtype::F64)
}

/// The dtype of `views[0]`, after checking that every other non-empty view has it (the
/// state follows the parameters; an empty array is an unused one).
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

/// Rejects any two non-empty arrays that share memory (the kernels read and write them as
/// separate arrays).
pub(super) fn disjoint(views: &[View]) -> Result<()> {
    for (i, a) in views.iter().enumerate() {
        for b in &views[i + 1..] {
            if a.overlaps(b) {
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

/// `$body` with `$t` the element type of `$dtype` (f32 or f64): one kernel call, two
/// monomorphic instances.
macro_rules! by_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            $crate::binding::args::Dtype::F32 => {
                type $t = f32;
                $body
            }
            $crate::binding::args::Dtype::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}
pub(super) use by_dtype;

/// A Float64Array `out` of length 3 (the sums of updateEnergy, gridSums, the measured steps).
pub(super) fn sums_out(value: &Unknown<'_>) -> Result<View> {
    let out = f64_view(value, "out")?;
    if out.len != 3 {
        return Err(invalid_arg(KernelError::new(
            "out",
            "a Float64Array of length 3",
            format!("a Float64Array of length {}", out.len),
        )));
    }
    Ok(out)
}
