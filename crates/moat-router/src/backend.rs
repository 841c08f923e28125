//! The `Backend` trait every model server implements.

use async_trait::async_trait;
use futures::stream::BoxStream;
use moat_protocol::chat::ChatCompletionRequest;
use moat_protocol::completion::CompletionRequest;
use moat_protocol::embeddings::{EmbeddingRequest, Embeddings};
use moat_protocol::{ApiError, GenerationEvent};

use crate::error::RouteError;

/// A stream of generation events. It ends after one
/// [`GenerationEvent::Finish`] or one error. Dropping it cancels generation
/// and frees whatever capacity the request held.
pub type EventStream = BoxStream<'static, Result<GenerationEvent, ApiError>>;

/// What a backend tells about one model it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// The id clients use in `model`.
    pub id: String,
    /// `embedded` or `upstream`.
    pub kind: &'static str,
    /// Context length per sequence, where known.
    pub context_length: Option<u32>,
    /// Seconds since the epoch when the model was loaded or registered.
    pub created: u64,
    /// What the model is asked for.
    pub purpose: ModelPurpose,
}

/// What a model does: chat and text completions, embeddings, or both (a
/// chat model the operator configured for embeddings too), or reranking
/// (scoring query-document pairs for knowledge-base search).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelPurpose {
    #[default]
    Generation,
    Embedding,
    GenerationAndEmbedding,
    Rerank,
}

impl ModelPurpose {
    /// Whether `/v1/embeddings` may use it.
    pub fn embeds(self) -> bool {
        matches!(self, Self::Embedding | Self::GenerationAndEmbedding)
    }

    /// Whether chat and text completions may use it.
    pub fn generates(self) -> bool {
        matches!(self, Self::Generation | Self::GenerationAndEmbedding)
    }

    /// Whether knowledge-base search may rerank with it.
    pub fn ranks(self) -> bool {
        self == Self::Rerank
    }
}

/// How busy a backend is now, read when metrics are scraped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackendLoad {
    /// Requests being generated.
    pub running: u64,
    /// Requests queued for a free slot.
    pub waiting: u64,
    /// Fraction of the KV cache held by running requests (0 to 1), where
    /// the backend has one.
    pub kv_cache_usage: Option<f64>,
}

/// A server of one model. Errors returned before the stream starts (bad
/// parameter, context exceeded, overloaded) become an HTTP status; errors
/// inside the stream become an SSE error event.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn info(&self) -> BackendInfo;

    /// Start a chat completion. The request was validated by the caller.
    async fn chat(&self, request: ChatCompletionRequest) -> Result<EventStream, ApiError>;

    /// Start a raw-prompt text completion.
    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError>;

    /// Embed the inputs (validated by the caller): one vector per input,
    /// in order. Refused unless the model embeds.
    async fn embed(&self, request: EmbeddingRequest) -> Result<Embeddings, ApiError> {
        Err(RouteError::NotEmbeddingModel(request.model).into_api())
    }

    /// Score each document's relevance to `query` (a reranker's raw
    /// logit: higher is more relevant), in order. Refused unless the
    /// model is a reranker.
    async fn rerank(
        &self,
        model: &str,
        _query: &str,
        _documents: &[String],
    ) -> Result<Vec<f32>, ApiError> {
        Err(RouteError::NotRerankModel(model.to_owned()).into_api())
    }

    /// The text each list of token ids stands for, so the personal-data
    /// guard can read what the model would read. `None`: this backend
    /// cannot tell (the guard then refuses token input it must scan).
    async fn token_text(&self, _ids: Vec<Vec<u32>>) -> Option<Result<Vec<String>, ApiError>> {
        None
    }

    /// Whether the backend can take requests now.
    async fn ready(&self) -> bool {
        true
    }

    /// Its load now, where it knows it (the embedded engine does; an
    /// upstream server reports its own).
    fn load(&self) -> Option<BackendLoad> {
        None
    }
}
