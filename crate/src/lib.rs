//! cimm's native kernels: a pure-Rust core (no Node types) with runtime CPU dispatch,
//! plus an optional napi-rs binding behind the `node` feature.
//!
//! Kernels (design.md §2):
//! - [`energy::local_energy`]: eq. 3, the prime-series local energy, batched over r.
//! - [`nonlocal::nonlocal_energy`]: eq. 4, the nonlocal quadrature over M points.
//! - [`nonlocal::distance`]: r = ‖x − y‖ used by eq. 5.
//! - [`fractal::fractal_step`]: eq. 8, one step of the fractal transform, and its backward rule.
//! - [`gemm::matmul`] and [`elementwise`]: what the fractal layer (eq. 9) composes.
//! - [`coupling::coupling`], [`coupling::scale_transition`]: eqs. 1–2, Ψ(t) and 𝒮(t).
//! - [`entropy::shannon_entropy`]: eq. 6's Shannon term, in bits.
//! - [`eigen::hermitian_eigenvalues`]: the spectrum of a density matrix (eq. 15).
//! - [`vmath`]: vectorized exp, ln and sin/cos shared by the kernels.
//! - [`optim`]: fused SGD and Adam/AdamW updates (torch.optim's definitions), the
//!   optimizers' gradient check and the benchmark's copy-bandwidth probe.
//! - [`prodigy`]: Prodigy's two passes (prodigyopt 1.1.2), with fixed-order f64 reductions.
//! - [`flow::energy_flow_step`]: eq. 10, one explicit step of the energy flow on a grid
//!   (with [`flow::energy_flow_max_step`], its stability limit, and [`flow::laplacian`]).
//! - [`reduce`]: the reductions of eq. 11's stability criteria (gradient norm, grid sums)
//!   and the in-place gradient updates of its controller.
//! - [`balance::update_energy`]: eq. 13's energy meters, the work an optimizer update did
//!   on the parameters (bit-identical to the JS reference).
//! - [`measured`]: the SGD and Adam steps that measure their update in the same pass
//!   (a snapshot and `update_energy`'s sums, bit-identical to the three-pass path).
//! - [`stop`]: the stop flag the long kernels (GEMM, local energy, a flow run) check
//!   between work units, which the binding's async variants raise on abort.

pub mod balance;
pub mod coupling;
pub mod cpu;
pub mod eigen;
pub mod elementwise;
pub mod energy;
pub mod entropy;
pub mod error;
pub mod flow;
pub mod fractal;
pub mod gemm;
pub mod measured;
pub mod nonlocal;
pub mod optim;
pub mod parallel;
pub mod primes;
pub mod prodigy;
pub mod real;
pub mod reduce;
pub mod stop;
pub mod vmath;

#[cfg(feature = "node")]
mod binding;

pub use error::KernelError;
