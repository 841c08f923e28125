//! The router's own refusals and failures, each with its row in the error
//! table ([`ErrorCode`]); the one `From` in moat-protocol turns them into
//! what the client reads.

use moat_protocol::{ApiError, ErrorCode, ErrorKind};

/// What routing a request to a backend can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// An embedding model was asked for chat or a completion.
    #[error("The model `{0}` is an embedding model: it answers /v1/embeddings, not chat or completions.")]
    EmbeddingModel(String),
    /// A model that does not embed was asked for embeddings.
    #[error("The model `{0}` is not an embedding model, and it is not configured for embeddings (`embeddings = true` in its [[models]] entry).")]
    NotEmbeddingModel(String),
    /// A reranker was asked for chat, a completion or embeddings.
    #[error("The model `{0}` is a reranker: it scores documents for knowledge-base search (`[knowledge] reranker`), and answers neither chat, completions nor /v1/embeddings.")]
    RerankModel(String),
    /// A model that is not a reranker was asked to rerank.
    #[error("The model `{0}` is not a reranker (a GGUF file with rank pooling).")]
    NotRerankModel(String),
    /// A blocking task (prompt preparation, tokenizing) panicked or was
    /// cancelled by the runtime shutting down.
    #[error("the {task} task failed: {reason}")]
    TaskFailed { task: &'static str, reason: String },
}

impl ErrorCode for RouteError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            Self::EmbeddingModel(_)
            | Self::NotEmbeddingModel(_)
            | Self::RerankModel(_)
            | Self::NotRerankModel(_) => ErrorKind::InvalidRequest,
            Self::TaskFailed { .. } => ErrorKind::Internal,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::EmbeddingModel(_)
            | Self::NotEmbeddingModel(_)
            | Self::RerankModel(_)
            | Self::NotRerankModel(_) => Some("model".into()),
            Self::TaskFailed { .. } => None,
        }
    }
}

impl RouteError {
    /// The error as the client gets it; a failure's cause is logged here,
    /// never sent.
    pub fn into_api(self) -> ApiError {
        if matches!(self, Self::TaskFailed { .. }) {
            tracing::error!(error = %self, "routing failure");
        }
        ApiError::from(self)
    }
}

/// Run CPU-heavy `work` on a blocking thread, off the async workers; a
/// panic or cancellation of that thread is an internal error naming `task`
/// (logged, never sent).
pub async fn blocking<T, F>(task: &'static str, work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        RouteError::TaskFailed {
            task,
            reason: e.to_string(),
        }
        .into_api()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refusals_name_the_model_parameter() {
        let e = RouteError::EmbeddingModel("minilm".into()).into_api();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(
            e.message,
            "The model `minilm` is an embedding model: it answers /v1/embeddings, not chat or completions."
        );
        let e = RouteError::NotEmbeddingModel("smol".into()).into_api();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e
            .message
            .starts_with("The model `smol` is not an embedding model"));
    }

    #[tokio::test]
    async fn a_panicking_task_is_an_internal_error_with_the_fixed_text() {
        let result: Result<(), ApiError> = blocking("test", || panic!("secret detail")).await;
        let e = result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert_eq!(e.message, moat_protocol::error::INTERNAL_MESSAGE);
        assert_eq!(blocking("test", || 7).await.unwrap(), 7);
    }
}
