//! #[napi] wrappers of the energy-flow kernels (design.md §2 eq. 10) and the reductions
//! of the stability controller (eq. 11). Typed arrays are borrowed, not copied; outputs
//! are written in place. A grid output may not overlap its inputs (the stencil reads
//! neighbours), which is checked here before any mutable slice exists. The async run
//! copies its inputs instead (see `abort.rs`).

use super::abort::{aborted, finished, AbortFlag};
use super::optim::{by_dtype, real_view, Dtype};
use super::{guard, invalid_arg};
use crate::error::KernelError;
use crate::flow::{self, Boundary, FlowParams};
use crate::reduce;
use napi::bindgen_prelude::{AsyncTask, Float64Array};
use napi::{Env, Result, Task, Unknown};
use napi_derive::napi;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Err unless `out` (its pointer range) is apart from every input.
fn check_apart(out: &[f64], inputs: &[(&'static str, &[f64])]) -> std::result::Result<(), KernelError> {
    let o = out.as_ptr_range();
    for (name, a) in inputs {
        let r = a.as_ptr_range();
        if !a.is_empty() && !out.is_empty() && r.start < o.end && o.start < r.end {
            return Err(KernelError::new(
                "out",
                format!("an array that does not overlap {name}"),
                format!("an array sharing memory with {name}"),
            ));
        }
    }
    Ok(())
}

/// The coefficients of one step, as the Kernels interface passes them (lib/kernels.ts
/// `EnergyFlowParams`).
#[napi(object)]
pub struct EnergyFlowParams {
    pub h: f64,
    pub dt: f64,
    pub beta: f64,
    pub gamma: f64,
    pub kappa: f64,
    /// "periodic" or "zeroFlux".
    pub boundary: String,
}

/// What the step limit depends on (other fields of the object are ignored).
#[napi(object)]
pub struct EnergyFlowLimitParams {
    pub h: f64,
    pub beta: f64,
    pub gamma: f64,
    /// "periodic" or "zeroFlux".
    pub boundary: String,
}

/// Eq. 10: one forward-Euler step `out = E + dt·(κ·source + β∇²E + γ∇·(E∇Ψ))` on an
/// nx × ny row-major grid.
#[napi]
pub fn energy_flow_step(
    energy: &[f64],
    potential: &[f64],
    source: &[f64],
    nx: f64,
    ny: f64,
    params: EnergyFlowParams,
    mut out: Float64Array,
) -> Result<()> {
    guard("energyFlowStep", || {
        let mut run = || -> std::result::Result<(), KernelError> {
            let (nx, ny) = (flow::grid_dim(nx, "nx")?, flow::grid_dim(ny, "ny")?);
            let boundary = Boundary::parse(&params.boundary)?;
            check_apart(
                out.as_ref(),
                &[("energy", energy), ("potential", potential), ("source", source)],
            )?;
            let p = FlowParams {
                h: params.h,
                dt: params.dt,
                beta: params.beta,
                gamma: params.gamma,
                kappa: params.kappa,
                boundary,
            };
            // SAFETY: JS is blocked for this synchronous call and `out` overlaps no input.
            let out = unsafe { out.as_mut() };
            flow::energy_flow_step(energy, potential, source, nx, ny, &p, out)
        };
        run().map_err(invalid_arg)
    })
}

/// The largest stable dt of energyFlowStep for this potential and coefficients.
#[napi]
pub fn energy_flow_max_step(
    potential: &[f64],
    nx: f64,
    ny: f64,
    params: EnergyFlowLimitParams,
) -> Result<f64> {
    guard("energyFlowMaxStep", || {
        let run = || {
            let (nx, ny) = (flow::grid_dim(nx, "nx")?, flow::grid_dim(ny, "ny")?);
            let boundary = Boundary::parse(&params.boundary)?;
            flow::energy_flow_max_step(potential, nx, ny, params.h, params.beta, params.gamma, boundary)
        };
        run().map_err(invalid_arg)
    })
}

/// The 5-point Laplacian of an nx × ny grid into `out`.
#[napi]
pub fn laplacian(
    energy: &[f64],
    nx: f64,
    ny: f64,
    h: f64,
    boundary: String,
    mut out: Float64Array,
) -> Result<()> {
    guard("laplacian", || {
        let mut run = || {
            let (nx, ny) = (flow::grid_dim(nx, "nx")?, flow::grid_dim(ny, "ny")?);
            let boundary = Boundary::parse(&boundary)?;
            check_apart(out.as_ref(), &[("energy", energy)])?;
            // SAFETY: JS is blocked for this synchronous call and `out` overlaps no input.
            let out = unsafe { out.as_mut() };
            flow::laplacian(energy, nx, ny, h, boundary, out)
        };
        run().map_err(invalid_arg)
    })
}

/// [Σ x, Σ |x|, Σ x²] into out[0..3].
#[napi]
pub fn grid_sums(x: &[f64], mut out: Float64Array) -> Result<()> {
    guard("gridSums", || {
        if out.len() != 3 {
            return Err(invalid_arg(KernelError::new(
                "out",
                "an array of length 3",
                format!("an array of length {}", out.len()),
            )));
        }
        let sums = reduce::grid_sums(x);
        // SAFETY: JS is blocked for this synchronous call; `x` was read in full above.
        unsafe { out.as_mut() }.copy_from_slice(&sums);
        Ok(())
    })
}

/// ‖x‖₂ of an f32 or f64 vector, accumulated in f64.
#[napi]
pub fn l2_norm(#[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>) -> Result<f64> {
    guard("l2Norm", || {
        let x = real_view(x, "x")?;
        // SAFETY: read only, of the view's dtype, and JS waits for this synchronous call.
        Ok(by_dtype!(x.dtype(), T => reduce::l2_norm(unsafe { x.slice::<T>() })))
    })
}

/// Sets NaN and ±∞ entries of x (f32 or f64) to 0; returns how many there were.
#[napi]
pub fn zero_non_finite(#[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>) -> Result<f64> {
    guard("zeroNonFinite", || {
        let x = real_view(x, "x")?;
        // SAFETY: JS is blocked for this synchronous call; no other slice of x exists.
        Ok(by_dtype!(x.dtype(), T => reduce::zero_non_finite(unsafe { x.slice_mut::<T>() })) as f64)
    })
}

/// x_i ← x_i · s in place, the product in f64 rounded once to x's dtype.
#[napi]
pub fn scale_in_place(
    #[napi(ts_arg_type = "Float32Array | Float64Array")] x: Unknown<'_>,
    s: f64,
) -> Result<()> {
    guard("scaleInPlace", || {
        let x = real_view(x, "x")?;
        // SAFETY: JS is blocked for this synchronous call; no other slice of x exists.
        by_dtype!(x.dtype(), T => reduce::scale_in_place(unsafe { x.slice_mut::<T>() }, s));
        Ok(())
    })
}

/// The coefficients of `energyFlowRunAsync` (lib/kernels.ts `EnergyFlowRunParams`): one
/// step's, less κ, which the run takes per step.
#[napi(object)]
pub struct EnergyFlowRunParams {
    pub h: f64,
    pub dt: f64,
    pub beta: f64,
    pub gamma: f64,
    /// "periodic" or "zeroFlux".
    pub boundary: String,
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
    energy: &[f64],
    potential: &[f64],
    source: &[f64],
    nx: f64,
    ny: f64,
    params: EnergyFlowRunParams,
    kappas: &[f64],
    flag: &AbortFlag,
) -> Result<AsyncTask<EnergyFlowRunTask>> {
    guard("energyFlowRunAsync", || {
        let run = || -> std::result::Result<EnergyFlowRunTask, KernelError> {
            let (nx, ny) = (flow::grid_dim(nx, "nx")?, flow::grid_dim(ny, "ny")?);
            let p = FlowParams {
                h: params.h,
                dt: params.dt,
                beta: params.beta,
                gamma: params.gamma,
                kappa: 0.0,
                boundary: Boundary::parse(&params.boundary)?,
            };
            flow::check_step(energy, potential, source, nx, ny, &p)?;
            if let Some(i) = kappas.iter().position(|k| !k.is_finite()) {
                return Err(KernelError::new(
                    "kappas",
                    "finite numbers",
                    format!("{} at index {i}", crate::primes::format_number(kappas[i])),
                ));
            }
            Ok(EnergyFlowRunTask {
                current: energy.to_vec(),
                potential: potential.to_vec(),
                source: source.to_vec(),
                nx,
                ny,
                params: p,
                kappas: kappas.to_vec(),
                stop: flag.share(),
            })
        };
        Ok(AsyncTask::new(run().map_err(invalid_arg)?))
    })
}
