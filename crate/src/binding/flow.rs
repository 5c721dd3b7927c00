//! #[napi] exports of the flow family (design.md §2 eqs. 10–11): one energy-flow step, a run
//! of steps off the JS thread, the stable step limit, the Laplacian and the grid sums. The
//! grid sizes and scalars (every `params` field among them, positional) are read first, then the Float64Arrays (see
//! `args`), borrowed, not copied; outputs are written in place. A grid output may not overlap
//! its inputs (the stencil reads neighbours), which is checked before any mutable slice
//! exists. The async run copies its inputs instead (see `abort.rs`).

use super::abort::{aborted, finished, AbortFlag};
use super::args::{self, f64_view, sums_out, View};
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::flow::{self, FlowParams};

use napi::bindgen_prelude::{AsyncTask, Float64Array};
use napi::{Env, Result, Task, Unknown};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Err unless `out` is apart from every input.
fn check_apart(out: &View, inputs: &[View]) -> Result<()> {
    for input in inputs {
        if out.overlaps(input) {
            return Err(invalid_arg(KernelError::new(
                "out",
                format!("an array that does not overlap {}", input.name()),
                format!("an array sharing memory with {}", input.name()),
            )));
        }
    }
    Ok(())
}

/// nx and ny: integers ≥ 1 whose product is a grid that fits (checked in the core with
/// checked arithmetic: nx = ny = 2³² is an error naming the parameter, never a wrap).
fn grid(nx: &Unknown<'_>, ny: &Unknown<'_>) -> Result<(usize, usize)> {
    let nx = flow::grid_dim(args::number(nx, "nx")?, "nx").map_err(invalid_arg)?;
    let ny = flow::grid_dim(args::number(ny, "ny")?, "ny").map_err(invalid_arg)?;
    Ok((nx, ny))
}

/// Eq. 10: one forward-Euler step `out = E + dt·(κ·source + β∇²E + γ∇·(E∇Ψ))` on an
/// nx × ny row-major grid.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn energy_flow_step(
    #[napi(ts_arg_type = "Float64Array")] energy: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] potential: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] source: Unknown<'_>,
    #[napi(ts_arg_type = "number")] nx: Unknown<'_>,
    #[napi(ts_arg_type = "number")] ny: Unknown<'_>,
    #[napi(ts_arg_type = "number")] h: Unknown<'_>,
    #[napi(ts_arg_type = "number")] dt: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "number")] gamma: Unknown<'_>,
    #[napi(ts_arg_type = "number")] kappa: Unknown<'_>,
    #[napi(ts_arg_type = "number")] boundary: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("energyFlowStep", || {
        let (nx, ny) = grid(&nx, &ny)?;
        let p = FlowParams {
            h: args::number(&h, "params.h")?,
            dt: args::number(&dt, "params.dt")?,
            beta: args::number(&beta, "params.beta")?,
            gamma: args::number(&gamma, "params.gamma")?,
            kappa: args::number(&kappa, "params.kappa")?,
            boundary: args::boundary(&boundary, "params.boundary")?,
        };
        let e = f64_view(&energy, "energy")?;
        let psi = f64_view(&potential, "potential")?;
        let src = f64_view(&source, "source")?;
        let out = f64_view(&out, "out")?;
        check_apart(&out, &[e, psi, src])?;
        // SAFETY: of dtype f64, no JS runs until return, and `out` overlaps no input.
        let (e, psi, src, out) = unsafe { (e.slice(), psi.slice(), src.slice(), out.slice_mut()) };
        flow::energy_flow_step(e, psi, src, nx, ny, &p, out).map_err(invalid_arg)
    })
}

/// The largest stable dt of energyFlowStep for this potential and coefficients.
#[napi]
pub fn energy_flow_max_step(
    #[napi(ts_arg_type = "Float64Array")] potential: Unknown<'_>,
    #[napi(ts_arg_type = "number")] nx: Unknown<'_>,
    #[napi(ts_arg_type = "number")] ny: Unknown<'_>,
    #[napi(ts_arg_type = "number")] h: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "number")] gamma: Unknown<'_>,
    #[napi(ts_arg_type = "number")] boundary: Unknown<'_>,
) -> Result<f64> {
    guard("energyFlowMaxStep", || {
        let (nx, ny) = grid(&nx, &ny)?;
        let h = args::number(&h, "params.h")?;
        let beta = args::number(&beta, "params.beta")?;
        let gamma = args::number(&gamma, "params.gamma")?;
        let boundary = args::boundary(&boundary, "params.boundary")?;
        let psi = f64_view(&potential, "potential")?;
        // SAFETY: read only, of dtype f64, and no JS runs until return.
        flow::energy_flow_max_step(unsafe { psi.slice() }, nx, ny, h, beta, gamma, boundary)
            .map_err(invalid_arg)
    })
}

/// The 5-point Laplacian of an nx × ny grid into `out`.
#[napi]
pub fn laplacian(
    #[napi(ts_arg_type = "Float64Array")] energy: Unknown<'_>,
    #[napi(ts_arg_type = "number")] nx: Unknown<'_>,
    #[napi(ts_arg_type = "number")] ny: Unknown<'_>,
    #[napi(ts_arg_type = "number")] h: Unknown<'_>,
    #[napi(ts_arg_type = "number")] boundary: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("laplacian", || {
        let (nx, ny) = grid(&nx, &ny)?;
        let h = args::number(&h, "params.h")?;
        let boundary = args::boundary(&boundary, "params.boundary")?;
        let (e, out) = (f64_view(&energy, "energy")?, f64_view(&out, "out")?);
        check_apart(&out, &[e])?;
        // SAFETY: of dtype f64, no JS runs until return, and `out` overlaps no input.
        let (e, out) = unsafe { (e.slice(), out.slice_mut()) };
        flow::laplacian(e, nx, ny, h, boundary, out).map_err(invalid_arg)
    })
}

/// [Σ x, Σ |x|, Σ x²] into out[0..3].
#[napi]
pub fn grid_sums(
    #[napi(ts_arg_type = "Float64Array")] x: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] out: Unknown<'_>,
) -> Result<()> {
    guard("gridSums", || {
        let x = f64_view(&x, "x")?;
        let out = sums_out(&out)?;
        // SAFETY: read only, of dtype f64, and no JS runs until return.
        let sums = flow::grid_sums(unsafe { x.slice() });
        // SAFETY: `out` has length 3; `x` was read in full above (and is no longer used).
        unsafe { out.slice_mut::<f64>() }.copy_from_slice(&sums);
        Ok(())
    })
}

/// E after the last step of a run and E before it (lib/kernels.ts `EnergyFlowRunResult`).
#[napi(object)]
pub struct EnergyFlowRunResult {
    pub energy: Float64Array,
    pub previous: Float64Array,
}

/// `energyFlowRunAsync`'s work: owned copies of the grids and of κ per step.
pub struct EnergyFlowRunTask {
    current: Vec<f64>,
    potential: Vec<f64>,
    source: Vec<f64>,
    nx: usize,
    ny: usize,
    params: FlowParams,
    kappas: Vec<f64>,
    stop: Arc<AtomicBool>,
}

impl Task for EnergyFlowRunTask {
    type Output = (Vec<f64>, Vec<f64>);
    type JsValue = EnergyFlowRunResult;

    fn compute(&mut self) -> Result<Self::Output> {
        guard("energyFlowRunAsync", || {
            if crate::stop::raised(&self.stop) {
                return Err(aborted("energyFlowRunAsync"));
            }
            let mut current = std::mem::take(&mut self.current);
            let mut previous = current.clone();
            let done = flow::energy_flow_run(
                &mut current,
                &mut previous,
                &self.potential,
                &self.source,
                self.nx,
                self.ny,
                &self.params,
                &self.kappas,
                &self.stop,
            )
            .map_err(invalid_arg)?;
            finished("energyFlowRunAsync", done, (current, previous))
        })
    }

    fn resolve(&mut self, _env: Env, (energy, previous): Self::Output) -> Result<EnergyFlowRunResult> {
        Ok(EnergyFlowRunResult {
            energy: Float64Array::new(energy),
            previous: Float64Array::new(previous),
        })
    }
}

/// Eq. 10 for `kappas.length` steps off the main thread: step s is `energyFlowStep` with
/// κ = kappas[s] and the run's dt. Resolves to E after the last step and E before it (both
/// the initial E when kappas is empty). The grids and kappas are copied before the task is
/// queued (see `abort.rs`), and every argument is checked first.
#[napi(ts_return_type = "Promise<EnergyFlowRunResult>")]
#[allow(clippy::too_many_arguments)]
pub fn energy_flow_run_async(
    #[napi(ts_arg_type = "Float64Array")] energy: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] potential: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] source: Unknown<'_>,
    #[napi(ts_arg_type = "number")] nx: Unknown<'_>,
    #[napi(ts_arg_type = "number")] ny: Unknown<'_>,
    #[napi(ts_arg_type = "number")] h: Unknown<'_>,
    #[napi(ts_arg_type = "number")] dt: Unknown<'_>,
    #[napi(ts_arg_type = "number")] beta: Unknown<'_>,
    #[napi(ts_arg_type = "number")] gamma: Unknown<'_>,
    #[napi(ts_arg_type = "number")] boundary: Unknown<'_>,
    #[napi(ts_arg_type = "Float64Array")] kappas: Unknown<'_>,
    flag: &AbortFlag,
) -> Result<AsyncTask<EnergyFlowRunTask>> {
    guard("energyFlowRunAsync", || {
        let (nx, ny) = grid(&nx, &ny)?;
        let p = FlowParams {
            h: args::number(&h, "params.h")?,
            dt: args::number(&dt, "params.dt")?,
            beta: args::number(&beta, "params.beta")?,
            gamma: args::number(&gamma, "params.gamma")?,
            kappa: 0.0,
            boundary: args::boundary(&boundary, "params.boundary")?,
        };
        let (e, psi, src) = (
            f64_view(&energy, "energy")?,
            f64_view(&potential, "potential")?,
            f64_view(&source, "source")?,
        );
        let kappas = f64_view(&kappas, "kappas")?;
        // SAFETY: read only, of dtype f64, copied below before any JS runs.
        let (e, psi, src, kappas) = unsafe {
            (
                e.slice::<f64>(),
                psi.slice::<f64>(),
                src.slice::<f64>(),
                kappas.slice::<f64>(),
            )
        };
        flow::check_step(e, psi, src, nx, ny, &p).map_err(invalid_arg)?;
        if let Some(i) = kappas.iter().position(|k| !k.is_finite()) {
            return Err(invalid_arg(KernelError::new(
                "kappas",
                "finite numbers",
                format!("{} at index {i}", crate::primes::format_number(kappas[i])),
            )));
        }
        Ok(AsyncTask::new(EnergyFlowRunTask {
            current: e.to_vec(),
            potential: psi.to_vec(),
            source: src.to_vec(),
            nx,
            ny,
            params: p,
            kappas: kappas.to_vec(),
            stop: flag.share(),
        }))
    })
}
