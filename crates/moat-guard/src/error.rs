//! What can go wrong in the guard. No variant ever carries the text scanned.

use crate::kind::Kind;

/// An error from the guard; the caller refuses the request on any of them.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The policy is `block` and personal data was found (HTTP 400 `pii_blocked`).
    #[error("the request contains personal data that is not allowed: {}", names(.kinds))]
    Blocked {
        /// The kinds found, each once, in table order; never the values.
        kinds: Vec<Kind>,
    },
    /// A bug or an impossible state inside the guard: the text was not
    /// passed on (fail closed).
    #[error("the personal-data guard failed: {0}")]
    Internal(&'static str),
    /// A custom recognizer in the configuration is not valid.
    #[error("custom recognizer `{name}`: {reason}")]
    Config {
        /// The recognizer's configured name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl GuardError {
    /// A stable code for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::Blocked { .. } => "pii_blocked",
            GuardError::Internal(_) => "pii_guard_failed",
            GuardError::Config { .. } => "invalid_guard_config",
        }
    }
}

fn names(kinds: &[Kind]) -> String {
    kinds.iter().map(Kind::name).collect::<Vec<_>>().join(", ")
}
