//! cimm's native kernels: a pure-Rust core (no Node types) with runtime CPU dispatch,
//! plus an optional napi-rs binding behind the `node` feature.
//!
//! Kernels (design.md §2):
//! - [`energy::local_energy`]: eq. 3, the prime-series local energy, batched over r.
//! - [`nonlocal::nonlocal_energy`]: eq. 4, the nonlocal quadrature over M points.
//! - [`nonlocal::distance`]: r = ‖x − y‖ used by eq. 5.
//! - [`optim`]: fused SGD and Adam/AdamW updates (torch.optim's definitions), the
//!   optimizers' gradient check and the benchmark's copy-bandwidth probe.

pub mod cpu;
pub mod energy;
pub mod error;
pub mod nonlocal;
pub mod optim;
pub mod parallel;
pub mod primes;

#[cfg(feature = "node")]
mod binding;

pub use error::KernelError;
