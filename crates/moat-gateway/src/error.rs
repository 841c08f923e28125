//! The pipeline's own refusals, each with its row in the error table
//! ([`ErrorCode`]); the one `From` in moat-protocol turns them into what the
//! client reads.

use moat_protocol::{ErrorCode, ErrorKind};

/// What a step of the pipeline refuses on its own account (the parts it
/// calls, the guard, policy and the store, have their own errors).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The id names no tool call this caller may decide.
    #[error(
        "No tool call awaits your decision under this id: it was decided already, \
         expired, or never issued."
    )]
    ConfirmationNotFound,
    /// Token-id input the guard must read, on a backend that cannot read
    /// token ids back as text.
    #[error(
        "This model's backend cannot read token ids back as text, so the \
         personal-data guard cannot check them: send text."
    )]
    TokensUnreadable,
    /// Every place for a parked tool call is taken.
    #[error("Too many tool calls are waiting for confirmation. Retry later.")]
    ParkedFull,
    /// The store that keeps parked tool calls cannot answer.
    #[error(
        "The tool call cannot be parked or resumed right now: the database is unavailable. \
         Retry later."
    )]
    ParkedUnavailable,
    /// The tool loop ran out of model turns.
    #[error("The tool loop reached its limit of {max_steps} model turns without an answer.")]
    TooManyTurns { max_steps: u32 },
    /// The model kept sending arguments that do not match a tool's schema.
    #[error(
        "The model sent invalid arguments for `{tool}` ({times} times, more than the {max} \
         allowed): {detail}"
    )]
    InvalidArguments {
        tool: String,
        times: u32,
        max: u32,
        detail: String,
    },
}

impl ErrorCode for GatewayError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            Self::ConfirmationNotFound => ErrorKind::ConfirmationNotFound,
            Self::TokensUnreadable => ErrorKind::InvalidParameter,
            Self::ParkedFull => ErrorKind::Overloaded,
            Self::ParkedUnavailable => ErrorKind::Unavailable,
            Self::TooManyTurns { .. } | Self::InvalidArguments { .. } => ErrorKind::ToolLoopFailed,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::ConfirmationNotFound => Some("id".into()),
            Self::TokensUnreadable => Some("input".into()),
            _ => None,
        }
    }
}
