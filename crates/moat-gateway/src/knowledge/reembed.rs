//! Re-embedding a store whose embedding model changed. A store remembers
//! the model its vectors are of; at start, a store whose model is not the
//! one configured (or is no longer served, or is none, while an embedding
//! model is served) is switched to it: its old vectors are dropped in the
//! same transaction (two models' vectors are never mixed), and its chunks
//! are embedded again from the text in the database, in the background.
//! Searches meanwhile rank by keywords and by the chunks embedded so far.
//! What is done is stored batch by batch, so a restart resumes from the
//! chunks still without a vector.

use std::time::Duration;

use moat_protocol::vector_stores::ReembedProgress;
use moat_protocol::ApiError;
use moat_store::{KbChunk, StoredChunk, VectorStoreRecord};

use super::{convert, ingest, page_query, store_error, Knowledge};

/// Chunks embedded and stored together.
const BATCH: u32 = 32;
/// Tries of one batch before the re-embed waits for the next start.
const TRIES: u32 = 4;
/// Pause before trying a failed batch again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

impl Knowledge {
    /// Switch the stores whose embedding model changed and re-embed, in the
    /// background, every store with chunks still missing a vector of its
    /// model (those switched now, and those a restart interrupted). The
    /// number of stores to re-embed.
    pub async fn resume_reembeds(&self) -> Result<usize, ApiError> {
        let wanted = self.embedding_model();
        let mut todo = Vec::new();
        for record in self.all_stores().await? {
            let mut model = record.embedding_model.clone();
            if let Some(target) = self.switch_to(&record, wanted.as_deref()) {
                if self
                    .store()
                    .set_embedding_model(&record.id, target)
                    .await
                    .map_err(store_error)?
                {
                    tracing::info!(
                        store = %record.id,
                        from = %record.embedding_model,
                        to = %target,
                        "the store's embedding model changed; re-embedding its chunks"
                    );
                    // Without the old vectors.
                    self.inner.indexes.reload(&record.id).await?;
                }
                model = target.to_owned();
            }
            if !self.serves_embedder(&model) {
                continue;
            }
            let (total, embedded) = self
                .store()
                .chunk_counts(&record.id)
                .await
                .map_err(store_error)?;
            if embedded < total {
                self.set_progress(
                    &record.id,
                    Some(ReembedProgress {
                        chunks_embedded: embedded,
                        chunks_total: total,
                    }),
                );
                todo.push((record.id, model));
            }
        }
        let n = todo.len();
        if n > 0 {
            let this = self.clone();
            tokio::spawn(async move {
                for (store_id, model) in todo {
                    this.reembed(&store_id, &model).await;
                    this.set_progress(&store_id, None);
                }
            });
        }
        Ok(n)
    }

    /// The model `record` should be switched to, if any: the wanted one
    /// when it is configured, or when the store's own is none or is not
    /// served. A store whose model is still served keeps it when the
    /// wanted one is only the default.
    fn switch_to<'a>(
        &self,
        record: &VectorStoreRecord,
        wanted: Option<&'a str>,
    ) -> Option<&'a str> {
        let wanted = wanted?;
        let current = record.embedding_model.as_str();
        if current == wanted {
            return None;
        }
        let configured = self.settings().embedding_model.is_some();
        (configured || current.is_empty() || !self.serves_embedder(current)).then_some(wanted)
    }

    fn serves_embedder(&self, model: &str) -> bool {
        !model.is_empty()
            && self
                .inner
                .models
                .get(model)
                .is_ok_and(|b| b.info().purpose.embeds())
    }

    /// Every store, oldest first.
    pub(super) async fn all_stores(&self) -> Result<Vec<VectorStoreRecord>, ApiError> {
        let mut stores = Vec::new();
        let mut page = page_query(500, moat_protocol::page::ListOrder::Asc, &None, &None);
        loop {
            let batch = self
                .store()
                .vector_stores(None, &page)
                .await
                .map_err(convert::page_error)?;
            let last = batch.items.last().map(|r| r.id.clone());
            stores.extend(batch.items);
            match (batch.has_more, last) {
                (true, Some(last)) => page.after = Some(last),
                _ => break,
            }
        }
        Ok(stores)
    }

    pub(super) fn reembed_progress(&self, store_id: &str) -> Option<ReembedProgress> {
        self.inner
            .reembeds
            .lock()
            .ok()
            .and_then(|p| p.get(store_id).copied())
    }

    fn set_progress(&self, store_id: &str, progress: Option<ReembedProgress>) {
        if let Ok(mut all) = self.inner.reembeds.lock() {
            match progress {
                Some(p) => all.insert(store_id.to_owned(), p),
                None => all.remove(store_id),
            };
        }
    }

    /// Embed the chunks of `store_id` that have no vector, batch by batch,
    /// storing and indexing each batch as it is done. A batch that keeps
    /// failing stops the re-embed until the next start.
    async fn reembed(&self, store_id: &str, model: &str) {
        let Ok(backend) = self.inner.models.get(model) else {
            return;
        };
        let started = std::time::Instant::now();
        let mut after = None;
        let mut done = 0usize;
        loop {
            let page = match self
                .store()
                .chunks_missing_embedding(store_id, after, BATCH)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(store = %store_id, error = %e, "re-embed stopped: the store failed");
                    return;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.key());
            let chunks: Vec<KbChunk> = page.iter().map(|c| c.chunk.clone()).collect();
            let mut tries = 0;
            let vectors = loop {
                match ingest::embed(backend.as_ref(), model, &chunks).await {
                    Ok(vectors) if vectors.len() == chunks.len() => break vectors,
                    _ if tries + 1 < TRIES => {
                        tries += 1;
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                    _ => {
                        tracing::warn!(
                            store = %store_id,
                            model,
                            "re-embed stopped: the embedding model keeps failing; it resumes at the next start"
                        );
                        return;
                    }
                }
            };
            let pairs: Vec<(u64, Vec<f32>)> =
                page.iter().map(StoredChunk::key).zip(vectors).collect();
            let set = match self
                .store()
                .set_missing_embeddings(store_id, model, &pairs)
                .await
            {
                Ok(set) => set,
                Err(e) => {
                    tracing::warn!(store = %store_id, error = %e, "re-embed stopped: the store failed");
                    return;
                }
            };
            // Only the vectors stored go into the index: a chunk replaced or
            // deleted meanwhile has its own vector, or none to have.
            let mut indexed: Vec<StoredChunk> = Vec::with_capacity(set.len());
            for (stored, (key, vector)) in page.into_iter().zip(pairs) {
                if set.binary_search(&key).is_ok() {
                    let mut stored = stored;
                    stored.chunk.embedding = Some(vector);
                    indexed.push(stored);
                }
            }
            let n = indexed.len();
            if let Err(e) = self.inner.indexes.add_vectors(store_id, indexed).await {
                tracing::warn!(store = %store_id, error = ?e, "re-embed stopped: the index failed");
                return;
            }
            done += n;
            self.inner.metrics.count_reembedded(n);
            if let Some(mut progress) = self.reembed_progress(store_id) {
                progress.chunks_embedded =
                    (progress.chunks_embedded + n as u64).min(progress.chunks_total);
                self.set_progress(store_id, Some(progress));
            }
        }
        tracing::info!(
            store = %store_id,
            model,
            chunks = done,
            seconds = started.elapsed().as_secs_f64(),
            "store re-embedded"
        );
    }
}
