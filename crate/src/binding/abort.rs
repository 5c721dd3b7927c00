//! What the async variants share: the abort flag JS raises, and the rejection a stopped
//! task gives.
//!
//! Memory: an async entry point copies its typed-array inputs into owned `Vec`s before
//! it queues the task (on the JS thread, during the call), and the task writes a `Vec`
//! of its own that becomes the resolved typed array (no second copy). While the task runs
//! on libuv's pool, nothing it touches is JS memory, so JS may detach, transfer, resize
//! or overwrite the arguments.
//!
//! Abort: lib/backends/native.ts creates one `AbortFlag` per call, raises it when the
//! call's AbortSignal fires and rejects the promise at once; the task checks the flag
//! before it starts (a queued task then skips its work) and the kernel between work
//! units (`crate::stop`).

use crate::stop::Completion;
use napi::{Error, Result, Status};
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared by one async call and its task: raised from JS, read by the kernel.
#[napi]
pub struct AbortFlag {
    raised: Arc<AtomicBool>,
}

#[napi]
impl AbortFlag {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        AbortFlag {
            raised: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Asks the task to stop at its next check.
    #[napi]
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Relaxed);
    }
}

impl AbortFlag {
    /// The flag's shared state, for a task to hold.
    pub(crate) fn share(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.raised)
    }
}

/// The error of a task that stopped because its flag was raised (the facade has already
/// rejected the call with an AbortError; this only ends the native promise).
pub(crate) fn aborted(name: &str) -> Error {
    Error::new(Status::Cancelled, format!("cimm: {name} was aborted"))
}

/// `output` when the kernel completed, the abort error when it stopped.
pub(crate) fn finished<T>(name: &str, completion: Completion, output: T) -> Result<T> {
    match completion {
        Completion::Done => Ok(output),
        Completion::Stopped => Err(aborted(name)),
    }
}
