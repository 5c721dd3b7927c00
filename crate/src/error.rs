//! The one error type of the kernel core. Its message follows the project's format
//! (style.md: "Expected <what> for <param> but received <value>") and names the
//! JavaScript-facing parameter, so the binding can forward it unchanged.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The parameter's name as the JS caller knows it (camelCase).
    pub param: &'static str,
    /// What was expected, e.g. "an integer in [0, 1000000]".
    pub expected: String,
    /// What was received, e.g. "2000000".
    pub received: String,
}

impl KernelError {
    pub fn new(param: &'static str, expected: impl Into<String>, received: impl Into<String>) -> Self {
        Self {
            param,
            expected: expected.into(),
            received: received.into(),
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Expected {} for {} but received {}",
            self.expected, self.param, self.received
        )
    }
}

impl std::error::Error for KernelError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_parameter() {
        let e = KernelError::new("primeCount", "an integer in [0, 1000000]", "2000000");
        assert_eq!(
            e.to_string(),
            "Expected an integer in [0, 1000000] for primeCount but received 2000000"
        );
    }
}
