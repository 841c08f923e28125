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
