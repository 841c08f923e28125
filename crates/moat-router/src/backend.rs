//! The `Backend` trait every model server implements.

use async_trait::async_trait;
use futures::stream::BoxStream;
use moat_protocol::chat::ChatCompletionRequest;
use moat_protocol::completion::CompletionRequest;
use moat_protocol::{ApiError, GenerationEvent};

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
