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
    /// No vector store of this id that the caller may read (the same
    /// answer whether it exists or not).
    #[error("No vector store found with id '{0}'.")]
    StoreNotFound(String),
    /// No file of this id that the caller may see.
    #[error("No such File object: {0}")]
    FileNotFound(String),
    /// No file batch of this id in the store.
    #[error("No file batch found with id '{0}'.")]
    BatchNotFound(String),
    /// The caller may read the store but not change it.
    #[error("You may read the vector store '{0}' but not change it.")]
    ReadOnlyStore(String),
    /// Several stores the caller may read have this name.
    #[error("Several vector stores are named '{0}'; name one by its id.")]
    AmbiguousStoreName(String),
    /// A grounded chat names more knowledge bases than one answer may use.
    #[error("A chat may use at most {max} knowledge bases; {given} were named.")]
    TooManyKnowledgeBases { given: usize, max: usize },
    /// Knowledge bases are named but the server has them off.
    #[error("Knowledge bases are not enabled on this server.")]
    KnowledgeOff,
    /// No conversation of this id that the caller may see (the same
    /// answer whether it exists or not).
    #[error("Conversation with id '{0}' not found.")]
    ConversationNotFound(String),
    /// No item of this id in the conversation.
    #[error("Item with id '{0}' not found.")]
    ConversationItemNotFound(String),
    /// No stored response of this id that the caller may see.
    #[error("Response with id '{0}' not found.")]
    ResponseNotFound(String),
    /// `previous_response_id` names no response the caller may continue.
    #[error("Previous response with id '{0}' not found.")]
    PreviousResponseNotFound(String),
    /// A chain of responses longer than one request may continue.
    #[error(
        "The chain of previous responses is longer than {max}; continue it in a conversation."
    )]
    ChainTooLong { max: usize },
    /// `previous_response_id` or `conversation` on a server that keeps
    /// neither (no audit log to seal them).
    #[error("This server keeps no responses or conversations.")]
    NothingKept,
    /// An upload over the knowledge part's file limit.
    #[error("The file is {bytes} bytes; at most {max} are accepted.")]
    FileTooLarge { bytes: usize, max: usize },
}

impl ErrorCode for GatewayError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            Self::ConfirmationNotFound => ErrorKind::ConfirmationNotFound,
            Self::TokensUnreadable => ErrorKind::InvalidParameter,
            Self::ParkedFull => ErrorKind::Overloaded,
            Self::ParkedUnavailable => ErrorKind::Unavailable,
            Self::TooManyTurns { .. } | Self::InvalidArguments { .. } => ErrorKind::ToolLoopFailed,
            Self::StoreNotFound(_)
            | Self::FileNotFound(_)
            | Self::BatchNotFound(_)
            | Self::ConversationNotFound(_)
            | Self::ConversationItemNotFound(_)
            | Self::ResponseNotFound(_)
            | Self::PreviousResponseNotFound(_) => ErrorKind::NotFound,
            Self::ChainTooLong { .. } | Self::NothingKept => ErrorKind::InvalidParameter,
            Self::ReadOnlyStore(_) => ErrorKind::PermissionDenied,
            Self::AmbiguousStoreName(_)
            | Self::TooManyKnowledgeBases { .. }
            | Self::KnowledgeOff => ErrorKind::InvalidParameter,
            Self::FileTooLarge { .. } => ErrorKind::PayloadTooLarge,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::ConfirmationNotFound => Some("id".into()),
            Self::TokensUnreadable => Some("input".into()),
            Self::FileTooLarge { .. } => Some("file".into()),
            Self::PreviousResponseNotFound(_) | Self::ChainTooLong { .. } | Self::NothingKept => {
                Some("previous_response_id".into())
            }
            Self::AmbiguousStoreName(_)
            | Self::TooManyKnowledgeBases { .. }
            | Self::KnowledgeOff => Some("moat.knowledge_bases".into()),
            _ => None,
        }
    }
}
