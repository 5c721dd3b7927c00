//! The checks the generated bindings of the declared kernels make (binding/declared.rs,
//! scripts/gen-kernels.mjs): integer fields in their declared range, the declared array
//! lengths, and inputs read apart from the outputs. Messages in the facade's format, naming
//! the parameter, as the hand-written bindings' (see `args`).

use super::args::{self, View};
use super::invalid_arg;
use crate::error::KernelError;
use crate::primes::format_number;
use crate::real::Real;
use napi::{Result, Unknown};

/// "a Float32Array of length 3": how the messages name an array (args.hpp's wording).
fn sized(v: &View, len: usize) -> String {
    format!("a {} of length {len}", v.dtype().array())
}

fn length_error(v: &View, expected: String) -> napi::Error {
    invalid_arg(KernelError::new(v.name(), expected, sized(v, v.len())))
}

/// An integer field in [min, max] (a size: it bounds what the kernel allocates or reads).
pub(super) fn integer(value: &Unknown<'_>, name: &'static str, min: usize, max: usize) -> Result<usize> {
    let v = args::number(value, name)?;
    if !(v.fract() == 0.0 && v >= min as f64 && v <= max as f64) {
        return Err(invalid_arg(KernelError::new(
            name,
            format!("an integer >= {min} and <= {max}"),
            format_number(v),
        )));
    }
    // in [min, max] ⊂ usize and integral: exact
    Ok(v as usize)
}

pub(super) fn non_empty(v: &View) -> Result<()> {
    if v.len() == 0 {
        return Err(length_error(v, format!("a non-empty {}", v.dtype().array())));
    }
    Ok(())
}

pub(super) fn length_is(v: &View, n: usize) -> Result<()> {
    if v.len() != n {
        return Err(length_error(v, sized(v, n)));
    }
    Ok(())
}

/// `v` has the length of `other`.
pub(super) fn length_of(v: &View, other: &View) -> Result<()> {
    if v.len() != other.len() {
        let expected = format!("{} (the length of {})", sized(v, other.len()), other.name());
        return Err(length_error(v, expected));
    }
    Ok(())
}

/// `v` is M rows of `other`'s length d ≥ 1, M ≥ 1.
pub(super) fn rows_of(v: &View, other: &View) -> Result<()> {
    let d = other.len();
    if d == 0 || v.len() == 0 || !v.len().is_multiple_of(d) {
        let expected = format!(
            "a {} of M×{d} values (M >= 1, {d} the length of {})",
            v.dtype().array(),
            other.name()
        );
        return Err(length_error(v, expected));
    }
    Ok(())
}

/// An input array: its memory, or a copy of it when it overlaps one of the call's outputs
/// (a `&[T]` and a `&mut [T]` of the same memory must never be alive together).
pub(super) struct Input<T> {
    view: View,
    copy: Option<Vec<T>>,
}

impl<T: Real> Input<T> {
    /// `view` must have dtype T (the generated code takes it with the matching reader).
    pub(super) fn apart(view: View, outputs: &[View]) -> Self {
        let copy = outputs.iter().any(|o| view.overlaps(o)).then(|| {
            // SAFETY: dtype T; no mutable slice exists yet, and no JS runs until return.
            unsafe { view.slice::<T>() }.to_vec()
        });
        Input { view, copy }
    }

    pub(super) fn slice(&self) -> &[T] {
        match &self.copy {
            Some(c) => c,
            // SAFETY: dtype T; it overlaps no output (else it is the copy), and no JS runs
            // until the call returns.
            None => unsafe { self.view.slice::<T>() },
        }
    }
}
