//! #[napi] wrappers of the QDT/QBE kernels (design.md §2 eqs. 1, 2, 6, 15). Typed
//! arrays are borrowed, not copied; `out` is written in place. An `out` that is the
//! input array itself is computed in place; any other overlap copies the input first.
//!
//! Every typed array comes in as a `Float64ArraySlice` (one `napi_get_typedarray_info`,
//! a raw pointer): the owned `Float64Array` also creates and deletes a napi reference
//! per call (measured ~1 µs here, a third of a 1000-element call), and a `&[f64]`
//! parameter could not be checked for overlap with `out` before both references exist.

use super::{guard, invalid_arg};
use crate::{coupling, eigen, entropy};
use napi::bindgen_prelude::Float64ArraySlice;
use napi::Result;
use napi_derive::napi;

#[derive(PartialEq)]
enum Overlap {
    None,
    Same,
    Partial,
}

fn overlap(a: &[f64], b: &[f64]) -> Overlap {
    let (x, y) = (a.as_ptr_range(), b.as_ptr_range());
    if a.is_empty() || b.is_empty() || x.end <= y.start || y.end <= x.start {
        Overlap::None
    } else if x == y {
        Overlap::Same
    } else {
        Overlap::Partial
    }
}

/// Eq. 1 for every t: `out[i] = α e^{−βt_i} cos(γt_i) + Λ J(t_i)`,
/// `J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ` in closed form (series for small |t|·hypot(β, γ)).
#[napi]
pub fn coupling(
    t: Float64ArraySlice,
    alpha: f64,
    beta: f64,
    gamma: f64,
    lambda_cosmo: f64,
    mut out: Float64ArraySlice,
) -> Result<()> {
    guard("coupling", || {
        let p = coupling::CouplingParams {
            alpha,
            beta,
            gamma,
            lambda_cosmo,
        };
        let how = overlap(&t, &out);
        let copy = (how == Overlap::Partial).then(|| t.to_vec());
        // SAFETY: JS is blocked for this synchronous call; when `t` shares memory with
        // `out` it is not read through its own slice while this one is alive.
        let o = unsafe { out.as_mut() };
        match (how, copy) {
            (Overlap::Same, _) => coupling::coupling_in_place(o, &p),
            (_, Some(t)) => coupling::coupling(&t, o, &p),
            _ => coupling::coupling(&t, o, &p),
        }
        .map_err(invalid_arg)
    })
}

/// Eq. 2 for every t: `out[i] = 1 / (1 + e^{−λ(t_i − t_c)})`, evaluated through
/// e^{−|u|} so that no |λ(t − t_c)| overflows.
#[napi]
pub fn scale_transition(
    t: Float64ArraySlice,
    scale_coupling: f64,
    critical_time: f64,
    mut out: Float64ArraySlice,
) -> Result<()> {
    guard("scaleTransition", || {
        let how = overlap(&t, &out);
        let copy = (how == Overlap::Partial).then(|| t.to_vec());
        // SAFETY: as in `coupling`.
        let o = unsafe { out.as_mut() };
        match (how, copy) {
            (Overlap::Same, _) => coupling::scale_transition_in_place(o, scale_coupling, critical_time),
            (_, Some(t)) => coupling::scale_transition(&t, o, scale_coupling, critical_time),
            _ => coupling::scale_transition(&t, o, scale_coupling, critical_time),
        }
        .map_err(invalid_arg)
    })
}

/// Eq. 6's first term: the Shannon entropy in bits of `p` normalized by its total;
/// NaN when p is empty, sums to 0, or holds a negative or non-finite mass.
#[napi]
pub fn shannon_entropy(p: Float64ArraySlice) -> Result<f64> {
    guard("shannonEntropy", || Ok(entropy::shannon_entropy(&p)))
}

/// The eigenvalues (ascending) of the Hermitian part of the d×d matrix `re + i·im`
/// (row-major), written into `out` (length d): the spectrum behind eq. 15.
#[napi]
pub fn hermitian_eigenvalues(
    re: Float64ArraySlice,
    im: Float64ArraySlice,
    d: f64,
    mut out: Float64ArraySlice,
) -> Result<()> {
    guard("hermitianEigenvalues", || {
        let d = eigen::dimension_from_f64(d).map_err(invalid_arg)?;
        let clash = overlap(&re, &out) != Overlap::None || overlap(&im, &out) != Overlap::None;
        let copies = clash.then(|| (re.to_vec(), im.to_vec()));
        // SAFETY: JS is blocked for this synchronous call; inputs sharing memory with
        // `out` were copied before this mutable view exists.
        let o = unsafe { out.as_mut() };
        match copies {
            Some((re, im)) => eigen::hermitian_eigenvalues(&re, &im, d, o),
            None => eigen::hermitian_eigenvalues(&re, &im, d, o),
        }
        .map_err(invalid_arg)
    })
}
