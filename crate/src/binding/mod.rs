//! The Node binding (feature `node`): converts JS values, forwards to the core, and
//! turns core errors and panics into JS errors. No math lives here.

// napi-derive registers exports only outside `cfg(test)`, so in the unit-test build
// (clippy --all-targets --all-features) these functions have no caller.
#![cfg_attr(test, allow(dead_code))]

// one file per kernel family (docs: families), plus the support modules `abort` (the async
// variants' flag) and `args` (reading arguments)
mod abort;
mod args;
mod balance;
// the declared kernels' generated functions (scripts/gen-kernels.mjs) and their length checks
mod declared;
mod energy;
mod flow;
mod fractal;
mod linalg;
mod optim;
mod prodigy;
mod qdt;
mod shape;

use crate::error::KernelError;
use napi::{Error, Result, Status};
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A core validation error becomes a JS `Error` (InvalidArg) with the core's message,
/// which names the parameter.
pub(crate) fn invalid_arg(e: KernelError) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// Runs `f`, turning a panic into a JS error so no unwind crosses the N-API boundary.
pub(crate) fn guard<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        Err(Error::new(
            Status::GenericFailure,
            format!("cimm native panic in {name}: {msg}"),
        ))
    })
}

/// CPU features detected at run time, e.g. `["sse4.1", "avx2", "fma"]`.
#[napi]
pub fn cpu_features() -> Result<Vec<String>> {
    guard("cpuFeatures", || {
        Ok(crate::cpu::cpu_features()
            .names()
            .into_iter()
            .map(String::from)
            .collect())
    })
}

/// The kernel path in use: `"avx2+fma"`, `"neon"` or `"scalar"` (`CIMM_SIMD=scalar` forces it).
#[napi]
pub fn simd_path() -> Result<String> {
    guard("simdPath", || Ok(crate::cpu::simd_path().as_str().to_string()))
}

/// Threads the kernels use (`CIMM_THREADS`, else the available parallelism).
#[napi]
pub fn thread_count() -> Result<u32> {
    guard("threadCount", || {
        Ok(u32::try_from(crate::parallel::thread_count()).unwrap_or(u32::MAX))
    })
}
