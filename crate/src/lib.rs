//! cimm's native kernels: a pure-Rust core (no Node types) with runtime CPU dispatch,
//! plus an optional napi-rs binding behind the `node` feature.
//!
//! One file per kernel family (the same names in every tree: lib/backends/js/<family>.ts,
//! native/src/<family>.cpp, and here `src/<family>.rs` for the core and
//! `src/binding/<family>.rs` for its exports):
//! - [`energy`]: eq. 3, the prime-series local energy, batched over r; eq. 4, the nonlocal
//!   quadrature over M points; r = ‖x − y‖ of eq. 5.
//! - [`fractal`]: eq. 8, one step of the fractal transform, its backward rule, and max |x|.
//! - [`linalg`]: the GEMM ([`gemm`], its engine) and the elementwise kernels the fractal
//!   layer (eq. 9) composes: axpby, dot, sum, the activation σ and its backward rule.
//! - [`qdt`]: eqs. 1–2, Ψ(t) and 𝒮(t); eq. 6's Shannon term; the spectrum of a density
//!   matrix (eq. 15) through [`eigen`], its engine.
//! - [`flow`]: eq. 10, one explicit step of the energy flow on a grid, a run of steps, its
//!   stability limit, the Laplacian, and eq. 11's grid sums.
//! - [`optim`]: fused SGD and Adam/AdamW updates (torch.optim's definitions), their measured
//!   variants (a step and update_energy's sums in one pass), and the optimizers' reductions
//!   (gradient check, norm, zeroing, scaling) and the benchmark's copy-bandwidth probe.
//! - [`prodigy`]: Prodigy's two passes (prodigyopt 1.1.2), with fixed-order f64 reductions.
//! - [`balance`]: eq. 13's energy meters, the work an optimizer update did on the parameters
//!   (bit-identical to the JS reference).
//!
//! Support modules: [`cpu`] and [`parallel`] (dispatch and threads), [`real`] (the dtypes),
//! [`vmath`] (vectorized exp, ln, sin/cos), [`reduce`] (the canonical-order split sums),
//! [`primes`], [`stop`] (the flag the long kernels check between work units, which the
//! binding's async variants raise on abort), [`error`].

pub mod balance;
pub mod cpu;
pub mod declared;
pub mod eigen;
pub mod energy;
pub mod error;
pub mod flow;
pub mod fractal;
pub mod gemm;
pub mod linalg;
pub mod optim;
pub mod parallel;
pub mod primes;
pub mod prodigy;
pub mod qdt;
pub mod real;
pub mod reduce;
pub mod stop;
pub mod vmath;

#[cfg(feature = "node")]
mod binding;

pub use error::KernelError;
