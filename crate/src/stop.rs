//! Cooperative stopping of the long kernels (the async variants' abort): a kernel given
//! a stop flag checks it between work units (row panels, units of r, flow steps) and
//! returns [`Completion::Stopped`] when it is raised, leaving its output partly written.
//! The synchronous entry points pass [`NEVER`], so sync and async run one compute.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a stoppable kernel ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Every unit ran: the output is complete.
    Done,
    /// The flag was raised before a unit: the output is incomplete (discard it).
    Stopped,
}

/// A flag nobody raises: what the synchronous entry points pass.
pub static NEVER: AtomicBool = AtomicBool::new(false);

/// True once `flag` is raised. Relaxed is enough: the flag carries no data, and a unit
/// that misses a raise only delays the stop by one unit.
#[inline]
pub fn raised(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}
