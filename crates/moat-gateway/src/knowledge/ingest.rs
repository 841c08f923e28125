//! One attached file's ingest: extract → chunk → scan for personal data →
//! embed → store the chunks → index them. A failure of any step marks the
//! file `failed` with a `last_error` the caller can read; nothing here
//! panics the process (extraction runs on its own thread with a timeout)
//! and nothing stops other files.

use std::collections::BTreeMap;

use moat_kb::{chunk, estimate_tokens, ChunkSettings, ExtractError};
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest};
use moat_protocol::time::now_ms;
use moat_router::blocking;
use moat_store::{AttachedFile, IngestError, IngestResult, IngestStatus, KbChunk};

use super::{convert, Knowledge};

/// Chunks embedded per request to the embedding model.
const EMBED_BATCH: usize = 32;

pub(super) struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn server(what: &str) -> Self {
        Self {
            code: "server_error",
            message: format!("The file could not be ingested: {what}."),
        }
    }
}

impl From<ExtractError> for Failure {
    fn from(e: ExtractError) -> Self {
        let code = match e {
            ExtractError::Unsupported(_) => "unsupported_file",
            _ => "invalid_file",
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

/// Ingest `attached` and record the outcome.
pub(crate) async fn run(knowledge: &Knowledge, attached: AttachedFile) {
    let store = knowledge.store();
    let started = std::time::Instant::now();
    let outcome = ingest(knowledge, &attached).await;
    knowledge.inner.metrics.observe_ingest(
        started.elapsed(),
        outcome.as_ref().ok().map(|r| {
            (
                u64::try_from(r.chunk_count).unwrap_or(0),
                u64::try_from(r.usage_bytes).unwrap_or(0),
            )
        }),
    );
    let recorded = match outcome {
        Ok(result) => {
            store
                .complete_ingest(&attached.store_id, &attached.file_id, &result, now_ms())
                .await
        }
        Err(failure) => {
            tracing::info!(
                store = %attached.store_id,
                file = %attached.file_id,
                code = failure.code,
                "file ingest failed"
            );
            let error = IngestError {
                code: failure.code.to_owned(),
                message: failure.message,
            };
            store
                .set_attached_status(
                    &attached.store_id,
                    &attached.file_id,
                    IngestStatus::Failed,
                    Some(&error),
                    now_ms(),
                )
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, file = %attached.file_id, "the ingest outcome was not recorded");
    }
}

async fn ingest(knowledge: &Knowledge, attached: &AttachedFile) -> Result<IngestResult, Failure> {
    let store = knowledge.store();
    let file = store
        .file(&attached.file_id)
        .await
        .map_err(|_| Failure::server("the database is unavailable"))?
        .ok_or_else(|| Failure::server("the file was deleted"))?;
    let content = store
        .file_content(&attached.file_id)
        .await
        .map_err(|_| Failure::server("the database is unavailable"))?
        .ok_or_else(|| Failure::server("the file was deleted"))?;
    let vector_store = store
        .vector_store(&attached.store_id)
        .await
        .map_err(|_| Failure::server("the database is unavailable"))?
        .ok_or_else(|| Failure::server("the vector store was deleted"))?;

    let limits = knowledge.settings().extract.clone();
    let name = file.filename.clone();
    let document = blocking("extraction", move || {
        moat_kb::extract(&name, &content, &limits)
    })
    .await
    .map_err(|_| Failure::server("extraction failed"))??;

    let embedder = embedder_of(knowledge, &vector_store.embedding_model)?;
    let sizes = convert::chunking(&attached.chunking).sizes();
    // Chunks must fit the embedding model: at most half its context by
    // the estimate (the estimate and the model's tokenizer differ).
    let ceiling = embedder
        .as_ref()
        .and_then(|b| b.info().context_length)
        .map_or(usize::MAX, |n| (n as usize / 2).max(64));
    let max_tokens = (sizes.max_chunk_size_tokens as usize).min(ceiling);
    let overlap = (sizes.chunk_overlap_tokens as usize).min(max_tokens / 4);
    let settings = ChunkSettings {
        max_tokens,
        overlap_tokens: overlap,
    };
    let extractor = document.extractor.clone();
    let guard = knowledge.inner.guard.clone();
    let (chunks, pii) = blocking("chunking", move || {
        let chunks = chunk(&document, &settings, &estimate_tokens);
        let mut pii: BTreeMap<String, u64> = BTreeMap::new();
        for c in &chunks {
            for finding in guard.scan(&c.text) {
                *pii.entry(finding.kind.name().to_owned()).or_default() += 1;
            }
        }
        (chunks, pii)
    })
    .await
    .map_err(|_| Failure::server("chunking failed"))?;
    if chunks.is_empty() {
        return Err(Failure::from(ExtractError::NoText));
    }

    let mut stored: Vec<KbChunk> = chunks
        .into_iter()
        .map(|c| KbChunk {
            ordinal: c.ordinal,
            text: c.text,
            title: c.title,
            headings: c.headings,
            page: c.page,
            embedding: None,
        })
        .collect();
    // The store's model may change while this runs (a re-embed started by
    // another replica): the chunks are stored only with vectors of the
    // model the store has when they are written.
    let mut model = vector_store.embedding_model.clone();
    let mut embedder = embedder;
    let mut tries = 0;
    loop {
        if let Some(backend) = &embedder {
            for batch in stored.chunks_mut(EMBED_BATCH) {
                let vectors = embed(backend.as_ref(), &model, batch).await?;
                for (chunk, vector) in batch.iter_mut().zip(vectors) {
                    chunk.embedding = Some(vector);
                }
            }
        } else {
            stored.iter_mut().for_each(|c| c.embedding = None);
        }
        let written = store
            .replace_chunks(&attached.store_id, attached.file_no, &stored, &model)
            .await
            .map_err(|_| Failure::server("the database is unavailable"))?;
        if written {
            break;
        }
        tries += 1;
        let changed = store
            .vector_store(&attached.store_id)
            .await
            .map_err(|_| Failure::server("the database is unavailable"))?
            .ok_or_else(|| Failure::server("the vector store was deleted"))?;
        if tries >= 3 || changed.embedding_model == model {
            return Err(Failure::server("the store's embedding model kept changing"));
        }
        model = changed.embedding_model;
        embedder = embedder_of(knowledge, &model)?;
    }

    let usage_bytes: usize = stored.iter().map(|c| c.text.len()).sum();
    let chunk_count = stored.len();
    knowledge
        .inner
        .indexes
        .add_file(&attached.store_id, attached.file_no, stored)
        .await
        .map_err(|_| Failure::server("indexing failed"))?;
    let _ = store.touch_vector_store(&attached.store_id, now_ms()).await;
    Ok(IngestResult {
        usage_bytes: i64::try_from(usage_bytes).unwrap_or(i64::MAX),
        chunk_count: i64::try_from(chunk_count).unwrap_or(i64::MAX),
        pii: serde_json::to_value(pii).unwrap_or_default(),
        content_sha256: file.sha256,
        extractor,
    })
}

/// The backend of a store's embedding model; `None` for a keyword-only
/// store (no model).
fn embedder_of(
    knowledge: &Knowledge,
    model: &str,
) -> Result<Option<std::sync::Arc<dyn moat_router::Backend>>, Failure> {
    if model.is_empty() {
        return Ok(None);
    }
    knowledge
        .inner
        .models
        .get(model)
        .map(Some)
        .map_err(|_| Failure::server("the store's embedding model is not served"))
}

/// The vectors of `chunks`' texts. A text the model refuses as too long is
/// embedded by its first half, then quarter, and so on (the chunk itself
/// is kept whole).
pub(super) async fn embed(
    backend: &dyn moat_router::Backend,
    model: &str,
    chunks: &[KbChunk],
) -> Result<Vec<Vec<f32>>, Failure> {
    let (_, passage) = super::embedding_prefixes(model);
    let texts: Vec<String> = chunks
        .iter()
        .map(|c| {
            let text = moat_kb::embedding_text(&c.title, &c.headings, &c.text);
            format!("{passage}{text}")
        })
        .collect();
    if let Ok(embeddings) = backend.embed(request(model, texts.clone())).await {
        return Ok(embeddings.vectors);
    }
    let mut vectors = Vec::with_capacity(texts.len());
    for text in texts {
        let mut text = text;
        loop {
            match backend.embed(request(model, vec![text.clone()])).await {
                Ok(mut e) if e.vectors.len() == 1 => {
                    vectors.push(e.vectors.remove(0));
                    break;
                }
                _ if text.chars().count() > 16 => {
                    let half = text.chars().count() / 2;
                    text = text.chars().take(half).collect();
                }
                _ => return Err(Failure::server("the embedding model failed")),
            }
        }
    }
    Ok(vectors)
}

fn request(model: &str, texts: Vec<String>) -> EmbeddingRequest {
    EmbeddingRequest {
        model: model.to_owned(),
        input: EmbeddingInput::Texts(texts),
        encoding_format: Default::default(),
        dimensions: None,
        user: None,
    }
}
