//! Search in one store: the caller's allowed files (per-document access
//! and the request's attribute filter) are fixed first, then each index is
//! asked for those files only, and the two rankings are fused.

use std::collections::HashMap;
use std::sync::Arc;

use moat_kb::{fuse, AllowedFiles, ChunkKey, FileNo, Filter, Fused, Fusion};
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest};
use moat_protocol::vector_stores::{SearchContent, SearchRequest, SearchResult, SearchResultsPage};
use moat_protocol::ApiError;
use moat_store::{split_chunk_key, AttachedFile, IngestStatus};
use serde::Deserialize;

use super::{page_query, store_error, Knowledge};
use crate::Call;

/// Which index a search asks: both fused (the default), or one of them
/// (for measuring; moat's extension `"moat": {"mode": ...}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Keyword,
    Vector,
}

/// moat's extension to a search, `"moat": {"mode": ..., "weights":
/// {"keyword": 1.0, "vector": 1.0}}`: which index to ask, and how much each
/// ranking counts in the fusion (default: the server's).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOptions {
    #[serde(default)]
    pub mode: SearchMode,
    #[serde(default)]
    pub weights: Option<FusionWeights>,
}

/// The weight of each ranking in a hybrid search's fusion.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionWeights {
    pub keyword: f64,
    pub vector: f64,
}

impl Default for FusionWeights {
    /// Measured on benches/kb (BENCHMARKS.md, "Knowledge-base retrieval
    /// quality").
    fn default() -> Self {
        Self {
            keyword: 1.0,
            vector: 1.0,
        }
    }
}

/// Candidates asked of each index per result wanted.
const CANDIDATES_PER_RESULT: usize = 4;
/// Fewest candidates asked of each index.
const MIN_CANDIDATES: usize = 40;
/// Attached files read to build the allowed set.
const MAX_FILES: u32 = 100_000;

/// A file a search may return.
struct Visible {
    file_id: String,
    attributes: serde_json::Map<String, serde_json::Value>,
}

impl Knowledge {
    /// Search the store `store_id` for the request's texts.
    pub async fn search(
        &self,
        call: &Call,
        store_id: &str,
        request: SearchRequest,
        options: SearchOptions,
    ) -> Result<SearchResultsPage, ApiError> {
        request.validate()?;
        let mode = options.mode;
        let weights = options.weights.unwrap_or(self.settings().fusion_weights);
        let fusion = Fusion::new(moat_kb::fuse::DEFAULT_K, weights.keyword, weights.vector)
            .map_err(|e| ApiError::invalid_param("moat.weights", e.0))?;
        let started = std::time::Instant::now();
        let record = self.readable(&call.principal, store_id).await?;
        let filter = request
            .filters
            .as_ref()
            .map(|f| Filter::from_json(f, "filters"))
            .transpose()
            .map_err(|e| ApiError::invalid_param("filters", e.0))?;

        let attached = self.completed_files(store_id).await?;
        let completed: std::collections::BTreeSet<u32> =
            attached.iter().map(|a| a.file_no).collect();
        let visible: HashMap<u32, Visible> = attached
            .iter()
            .filter(|a| super::may_see(&call.principal, &a.attributes))
            .filter_map(|a: &AttachedFile| {
                let attributes = a.attributes.as_object().cloned().unwrap_or_default();
                let keep = filter.as_ref().is_none_or(|f| f.matches(&attributes));
                keep.then(|| {
                    (
                        a.file_no,
                        Visible {
                            file_id: a.file_id.clone(),
                            attributes,
                        },
                    )
                })
            })
            .collect();
        let texts = request.query.texts();
        let wanted = request.max_num_results() as usize;
        if visible.is_empty() {
            return Ok(SearchResultsPage::new(texts, Vec::new()));
        }
        let allowed = AllowedFiles::only(visible.keys().map(|n| FileNo(*n)));
        let candidates = (wanted * CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
        let index = self
            .inner
            .indexes
            .synced(
                store_id,
                &record.embedding_model,
                &completed,
                self.reembed_progress(store_id).is_some(),
            )
            .await?;

        let query_vectors = match mode {
            SearchMode::Keyword => None,
            _ if record.embedding_model.is_empty() => None,
            _ => Some(self.embed_queries(&record.embedding_model, &texts).await?),
        };
        let query_texts = texts.clone();
        let fused: Vec<Fused> = moat_router::blocking("search", move || {
            let mut keyword = Vec::new();
            let mut vector = Vec::new();
            for (i, text) in query_texts.iter().enumerate() {
                if mode != SearchMode::Vector {
                    keyword.extend(index.search_keyword(text, candidates, &allowed)?);
                }
                if let Some(vectors) = &query_vectors {
                    if let Some(found) = index.search_vector(&vectors[i], candidates, &allowed)? {
                        vector.extend(found);
                    }
                }
            }
            sort_best_first(&mut keyword);
            sort_best_first(&mut vector);
            Ok::<_, ApiError>(fuse(&keyword, &vector, &fusion))
        })
        .await??;

        let threshold = request
            .ranking_options
            .and_then(|r| r.score_threshold)
            .unwrap_or(0.0);
        let top: Vec<&Fused> = fused
            .iter()
            .filter(|f| f.score >= threshold)
            .take(wanted)
            .collect();
        let keys: Vec<u64> = top.iter().map(|f| f.key.0).collect();
        let chunks: HashMap<u64, String> = self
            .store()
            .chunks_by_keys(store_id, &keys)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|c| (c.key(), c.chunk.text))
            .collect();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut data = Vec::with_capacity(top.len());
        for f in top {
            let (file_no, _) = split_chunk_key(f.key.0);
            let (Some(file), Some(text)) = (visible.get(&file_no), chunks.get(&f.key.0)) else {
                continue;
            };
            if !names.contains_key(&file.file_id) {
                let name = self
                    .store()
                    .file(&file.file_id)
                    .await
                    .map_err(store_error)?
                    .map(|r| r.filename)
                    .unwrap_or_default();
                names.insert(file.file_id.clone(), name);
            }
            data.push(SearchResult {
                file_id: file.file_id.clone(),
                filename: names.get(&file.file_id).cloned().unwrap_or_default(),
                score: f.score,
                attributes: file.attributes.clone(),
                content: vec![SearchContent::text(text.clone())],
            });
        }
        self.inner
            .metrics
            .observe_search(mode_label(mode), started.elapsed(), data.len());
        Ok(SearchResultsPage::new(texts, data))
    }

    /// The store's files whose ingest completed: read from the database
    /// when the store's files version moved since they were last read
    /// (by this process or another replica), else from memory. One
    /// single-row read per search instead of the whole file table.
    async fn completed_files(&self, store_id: &str) -> Result<Arc<Vec<AttachedFile>>, ApiError> {
        let version = self
            .store()
            .files_version(store_id)
            .await
            .map_err(store_error)?;
        let cached = self
            .inner
            .file_tables
            .lock()
            .ok()
            .and_then(|t| t.get(store_id).cloned())
            .filter(|(v, _)| *v == version);
        if let Some((_, files)) = cached {
            return Ok(files);
        }
        let files = Arc::new(
            self.store()
                .attached_files(
                    store_id,
                    Some(IngestStatus::Completed),
                    &page_query(MAX_FILES, moat_protocol::page::ListOrder::Asc, &None, &None),
                )
                .await
                .map_err(store_error)?
                .items,
        );
        if let Ok(mut tables) = self.inner.file_tables.lock() {
            tables.insert(store_id.to_owned(), (version, Arc::clone(&files)));
        }
        Ok(files)
    }

    async fn embed_queries(
        &self,
        model: &str,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ApiError> {
        let backend = self.inner.models.get(model)?;
        let (query, _) = super::embedding_prefixes(model);
        let embeddings = backend
            .embed(EmbeddingRequest {
                model: model.to_owned(),
                input: EmbeddingInput::Texts(texts.iter().map(|t| format!("{query}{t}")).collect()),
                encoding_format: Default::default(),
                dimensions: None,
                user: None,
            })
            .await?;
        Ok(embeddings.vectors)
    }
}

fn mode_label(mode: SearchMode) -> &'static str {
    match mode {
        SearchMode::Hybrid => "hybrid",
        SearchMode::Keyword => "keyword",
        SearchMode::Vector => "vector",
    }
}

/// Several queries' hits as one ranking: best score first, a chunk kept at
/// its best.
fn sort_best_first(hits: &mut Vec<(ChunkKey, f32)>) {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0 .0.cmp(&b.0 .0)));
    let mut seen = std::collections::HashSet::new();
    hits.retain(|(key, _)| seen.insert(key.0));
}
