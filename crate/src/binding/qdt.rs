//! #[napi] exports of the qdt family (design.md §2 eqs. 1, 2, 6, 15): the coupling Ψ(t), the
//! scale transition, the Shannon entropy and the spectrum of a density matrix. Scalars (the
//! params fields, positional) are read first, then the Float64Arrays (see `args`); they are borrowed, not copied, and `out`
//! is written in place. An `out` that is the input array itself is computed in place; any
//! other overlap copies the input first.

use super::args::{self, f64_view, View};
use super::{guard, invalid_arg};
use crate::eigen;
use crate::qdt;
use napi::{Result, Unknown};
use napi_derive::napi;

/// How an input relates to `out`: separate, the same memory, or a partial overlap.
#[derive(PartialEq)]
enum Overlap {
    None,
    Same,
    Partial,
}

fn overlap(input: &View, out: &View) -> Overlap {
    if !input.overlaps(out) {
        Overlap::None
    } else if input.same(out) {
        Overlap::Same
    } else {
        Overlap::Partial
    }
}

/// Eq. 1 for every t: `out[i] = α e^{−βt_i} cos(γt_i) + Λ J(t_i)`,
/// `J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ` in closed form (series for small |t|·hypot(β, γ)).
#[napi]
pub fn coupling(
    #[napi(ts_arg_type = "Float64Array")] t: Unknown<'_>,
    #[napi(ts_arg_type = "number")] alpha: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "number")] gamma: Unknown<'_>,
    #[napi(ts_arg_type = "number")] lambda_cosmo: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("coupling", || {
        let p = qdt::CouplingParams {
            alpha: args::number(&alpha, "params.alpha")?,
            beta: args::number(&beta, "params.beta")?,
            gamma: args::number(&gamma, "params.gamma")?,
            lambda_cosmo: args::number(&lambda_cosmo, "params.lambdaCosmo")?,
        };
        coupling_views(&t, &p, &out)
    })
}

/// coupling after its scalars.
fn coupling_views(t: &Unknown<'_>, p: &qdt::CouplingParams, out: &Unknown<'_>) -> Result<()> {
    let (t, out) = (f64_view(t, "t")?, f64_view(out, "out")?);
    let how = overlap(&t, &out);
    // SAFETY: of dtype f64, and no JS runs until return; when `t` shares memory with `out`
    // it is copied (partial) or not read through its own slice (same) while `o` is alive.
    let copy = (how == Overlap::Partial).then(|| unsafe { t.slice::<f64>() }.to_vec());
    let o = unsafe { out.slice_mut::<f64>() };
    match (how, copy) {
        (Overlap::Same, _) => qdt::coupling_in_place(o, p),
        (_, Some(t)) => qdt::coupling(&t, o, p),
        // SAFETY: as above; `t` does not overlap `out` here.
        _ => qdt::coupling(unsafe { t.slice::<f64>() }, o, p),
    }
    .map_err(invalid_arg)
}

/// Eq. 2 for every t: `out[i] = 1 / (1 + e^{−λ(t_i − t_c)})`, evaluated through
/// e^{−|u|} so that no |λ(t − t_c)| overflows.
#[napi]
pub fn scale_transition(
    #[napi(ts_arg_type = "Float64Array")] t: Unknown<'_>,
    #[napi(ts_arg_type = "number")] scale_coupling: Unknown<'_>,
    #[napi(ts_arg_type = "number")] critical_time: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("scaleTransition", || {
        let scale_coupling = args::number(&scale_coupling, "params.scaleCoupling")?;
        let critical_time = args::number(&critical_time, "params.criticalTime")?;
        scale_transition_views(&t, scale_coupling, critical_time, &out)
    })
}

/// scaleTransition after its scalars.
fn scale_transition_views(t: &Unknown<'_>, lambda: f64, tc: f64, out: &Unknown<'_>) -> Result<()> {
    let (t, out) = (f64_view(t, "t")?, f64_view(out, "out")?);
    let how = overlap(&t, &out);
    // SAFETY: as in `coupling_views`.
    let copy = (how == Overlap::Partial).then(|| unsafe { t.slice::<f64>() }.to_vec());
    let o = unsafe { out.slice_mut::<f64>() };
    match (how, copy) {
        (Overlap::Same, _) => qdt::scale_transition_in_place(o, lambda, tc),
        (_, Some(t)) => qdt::scale_transition(&t, o, lambda, tc),
        // SAFETY: as above; `t` does not overlap `out` here.
        _ => qdt::scale_transition(unsafe { t.slice::<f64>() }, o, lambda, tc),
    }
    .map_err(invalid_arg)
}

/// Eq. 6's first term: the Shannon entropy in bits of `p` normalized by its total;
/// NaN when p is empty, sums to 0, or holds a negative or non-finite mass.
#[napi]
pub fn shannon_entropy(#[napi(ts_arg_type = "Float64Array")] p: Unknown<'_>) -> Result<f64> {
    guard("shannonEntropy", || {
        let p = f64_view(&p, "p")?;
        // SAFETY: read only, of dtype f64, and no JS runs until return.
        Ok(qdt::shannon_entropy(unsafe { p.slice::<f64>() }))
    })
}

/// The eigenvalues (ascending) of the Hermitian part of the d×d matrix `re + i·im`
/// (row-major), written into `out` (length d): the spectrum behind eq. 15.
#[napi]
pub fn hermitian_eigenvalues(
    #[napi(ts_arg_type = "Float64Array")] re: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] im: Unknown<'_>,
    #[napi(ts_arg_type = "number")] d: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("hermitianEigenvalues", || {
        let d = eigen::dimension_from_f64(args::number(&d, "d")?).map_err(invalid_arg)?;
        let (re, im, out) = (f64_view(&re, "re")?, f64_view(&im, "im")?, f64_view(&out, "out")?);
        let clash = re.overlaps(&out) || im.overlaps(&out);
        // SAFETY: of dtype f64, and no JS runs until return; inputs sharing memory with `out`
        // are copied before its mutable slice exists, and not read through their own after.
        let copies = clash.then(|| unsafe { (re.slice::<f64>().to_vec(), im.slice::<f64>().to_vec()) });
        let o = unsafe { out.slice_mut::<f64>() };
        match copies {
            Some((re, im)) => eigen::hermitian_eigenvalues(&re, &im, d, o),
            // SAFETY: as above; neither input overlaps `out` here.
            None => unsafe { eigen::hermitian_eigenvalues(re.slice::<f64>(), im.slice::<f64>(), d, o) },
        }
        .map_err(invalid_arg)
    })
}
