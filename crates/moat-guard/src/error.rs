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
    /// Personal data where it cannot be replaced without changing what the
    /// caller gets back (a tool or parameter name, an object key, a number),
    /// under a policy that replaces it (HTTP 400 `pii_blocked`).
    #[error("the request contains personal data where it cannot be replaced (a tool or parameter name, an object key or a number): {}", names(.kinds))]
    Unrewritable {
        /// The kinds found there, each once; never the values.
        kinds: Vec<Kind>,
    },
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
            GuardError::Blocked { .. } | GuardError::Unrewritable { .. } => "pii_blocked",
            GuardError::Internal(_) => "pii_guard_failed",
            GuardError::Config { .. } => "invalid_guard_config",
        }
    }
}

impl moat_protocol::ErrorCode for GuardError {
    fn error_kind(&self) -> moat_protocol::ErrorKind {
        match self {
            Self::Blocked { .. } | Self::Unrewritable { .. } => {
                moat_protocol::ErrorKind::PiiBlocked
            }
            Self::Internal(_) | Self::Config { .. } => moat_protocol::ErrorKind::Internal,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Blocked { kinds } => format!(
                "The request contains personal data that is not allowed here: {}.",
                names(kinds)
            ),
            Self::Unrewritable { kinds } => format!(
                "The request contains personal data where it cannot be replaced \
                 (a tool or parameter name, an object key or a number): {}.",
                names(kinds)
            ),
            other => other.to_string(),
        }
    }
}

fn names(kinds: &[Kind]) -> String {
    kinds.iter().map(Kind::name).collect::<Vec<_>>().join(", ")
}
