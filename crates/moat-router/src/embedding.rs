//! Embedding models and rerankers served in-process behind the [`Backend`]
//! trait: an [`Embedder`] answers `/v1/embeddings`, or, when its file has
//! rank pooling, scores documents for knowledge-base search; what it does
//! not do is refused with a 400 saying what it is. [`embed`] is shared
//! with a chat model configured for embeddings.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use async_trait::async_trait;
use moat_engine::Embedder;
use moat_protocol::chat::ChatCompletionRequest;
use moat_protocol::completion::CompletionRequest;
use moat_protocol::embeddings::{EmbeddingRequest, Embeddings};
use moat_protocol::ApiError;

use crate::backend::{Backend, BackendInfo, EventStream, ModelPurpose};
use crate::embedded::{api_error, CancelOnDrop};
use crate::error::{blocking, RouteError};

/// An embedding model served in-process.
pub struct EmbeddingBackend {
    embedder: Arc<Embedder>,
}

impl EmbeddingBackend {
    pub fn new(embedder: Arc<Embedder>) -> Self {
        Self { embedder }
    }

    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    fn ranks(&self) -> bool {
        self.embedder.pooling().ranks()
    }

    /// What this model refuses to do, said as what it is.
    fn refusal(&self, model: String) -> ApiError {
        if self.ranks() {
            RouteError::RerankModel(model).into_api()
        } else {
            RouteError::EmbeddingModel(model).into_api()
        }
    }
}

#[async_trait]
impl Backend for EmbeddingBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            id: self.embedder.id().to_owned(),
            kind: "embedded",
            context_length: Some(self.embedder.max_tokens()),
            created: self.embedder.created(),
            purpose: if self.ranks() {
                ModelPurpose::Rerank
            } else {
                ModelPurpose::Embedding
            },
        }
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<EventStream, ApiError> {
        Err(self.refusal(request.model))
    }

    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError> {
        Err(self.refusal(request.model))
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<Embeddings, ApiError> {
        if self.ranks() {
            return Err(self.refusal(request.model));
        }
        embed(&self.embedder, request).await
    }

    async fn rerank(
        &self,
        model: &str,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<f32>, ApiError> {
        if !self.ranks() {
            return Err(RouteError::NotRerankModel(model.to_owned()).into_api());
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
        let engine = Arc::clone(&self.embedder);
        let (query, documents) = (query.to_owned(), documents.to_vec());
        let ticket = blocking("rerank preparation", move || {
            engine.submit_pairs(&query, &documents, cancelled)
        })
        .await?
        .map_err(api_error)?;
        let scores = ticket.vectors().await.map_err(api_error)?;
        Ok(scores
            .into_iter()
            .map(|s| s.first().copied().unwrap_or(f32::NEG_INFINITY))
            .collect())
    }

    async fn token_text(&self, ids: Vec<Vec<u32>>) -> Option<Result<Vec<String>, ApiError>> {
        Some(token_text(&self.embedder, ids).await)
    }
}

/// Embed with `embedder`: tokenizing and queueing on a blocking thread,
/// then waiting for the embedding thread. When the caller drops this
/// future (the client went away), the job is skipped or its remaining
/// decodes are.
pub async fn embed(
    embedder: &Arc<Embedder>,
    request: EmbeddingRequest,
) -> Result<Embeddings, ApiError> {
    request.check_dimensions(embedder.dimensions())?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
    let engine = Arc::clone(embedder);
    let input = request.input;
    let ticket = blocking("embedding preparation", move || {
        engine.submit(&input, cancelled)
    })
    .await?
    .map_err(api_error)?;
    let prompt_tokens = ticket.prompt_tokens;
    let vectors = ticket.vectors().await.map_err(api_error)?;
    Ok(Embeddings {
        vectors,
        prompt_tokens,
    })
}

/// The texts of token-id inputs, read on a blocking thread.
pub async fn token_text(
    embedder: &Arc<Embedder>,
    ids: Vec<Vec<u32>>,
) -> Result<Vec<String>, ApiError> {
    let engine = Arc::clone(embedder);
    blocking("token text", move || {
        ids.iter()
            .map(|list| engine.token_text(list))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?
    .map_err(api_error)
}
