//! cimm's native kernels: a pure-Rust core (no Node types) with runtime CPU dispatch,
//! plus an optional napi-rs binding behind the `node` feature.
//!
//! Kernels (design.md §2):
//! - [`energy::local_energy`]: eq. 3, the prime-series local energy, batched over r.
//! - [`nonlocal::nonlocal_energy`]: eq. 4, the nonlocal quadrature over M points.
//! - [`nonlocal::distance`]: r = ‖x − y‖ used by eq. 5.
//! - [`fractal::fractal_step`]: eq. 8, one step of the fractal transform, and its backward rule.
//! - [`gemm::matmul`] and [`elementwise`]: what the fractal layer (eq. 9) composes.

pub mod cpu;
pub mod elementwise;
pub mod energy;
pub mod error;
pub mod fractal;
pub mod gemm;
pub mod nonlocal;
pub mod parallel;
pub mod primes;

#[cfg(feature = "node")]
mod binding;

pub use error::KernelError;
