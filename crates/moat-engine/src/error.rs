//! Errors of the embedded engine.

use crate::grammar::ToolGrammarError;
use crate::template::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("This model's maximum context length is {limit} tokens. However, you requested {requested} tokens ({prompt} in the messages, {completion} in the completion). Please reduce the length of the messages or completion.")]
    ContextLengthExceeded {
        limit: u32,
        requested: u64,
        prompt: u32,
        completion: u32,
    },
    /// All slots are busy and the wait queue is full.
    #[error("overloaded")]
    Overloaded,
    /// The KV cache cannot hold this sequence next to the running ones.
    #[error("the KV cache is full")]
    CacheFull,
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The tools cannot constrain the output (a hostile or unsupported
    /// schema, an unknown tool); the client's doing.
    #[error(transparent)]
    ToolGrammar(#[from] ToolGrammarError),
    /// The request cannot be given to this model; `param` names the field.
    #[error("{message}")]
    InvalidRequest { message: String, param: String },
    /// The caller went away before the job was queued.
    #[error("the request was cancelled")]
    Cancelled,
    /// The engine thread has stopped.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// A llama.cpp failure; logged, never sent to clients.
    #[error("llama.cpp: {0}")]
    Internal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot load model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("cannot create a context for model {id}: {reason}")]
    Context { id: String, reason: String },
    #[error("model {id}: {source}")]
    Template { id: String, source: TemplateError },
}

impl EngineError {
    /// A failure of the server, not the request: its cause is for the log.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Internal(_) | Self::Template(TemplateError::Compile(_))
        )
    }
}

impl moat_protocol::ErrorCode for EngineError {
    fn error_kind(&self) -> moat_protocol::ErrorKind {
        use moat_protocol::ErrorKind;
        match self {
            Self::ContextLengthExceeded { .. } => ErrorKind::ContextLengthExceeded,
            Self::Overloaded | Self::CacheFull => ErrorKind::Overloaded,
            Self::Template(TemplateError::Compile(_)) | Self::Internal(_) => ErrorKind::Internal,
            Self::Template(_) | Self::Cancelled => ErrorKind::InvalidRequest,
            Self::ToolGrammar(_) | Self::InvalidRequest { .. } => ErrorKind::InvalidParameter,
            Self::ShuttingDown => ErrorKind::Unavailable,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::ContextLengthExceeded { .. } | Self::Template(_) => Some("messages".to_owned()),
            Self::ToolGrammar(g) => Some(g.param().to_owned()),
            Self::InvalidRequest { param, .. } => Some(param.clone()),
            _ => None,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Overloaded => moat_protocol::error::OVERLOADED_MESSAGE.to_owned(),
            Self::CacheFull => {
                "The KV cache is full with running requests. Retry later, or raise ctx_size."
                    .to_owned()
            }
            Self::Cancelled => "The client went away.".to_owned(),
            Self::ShuttingDown => "The server is shutting down.".to_owned(),
            other => other.to_string(),
        }
    }
}
