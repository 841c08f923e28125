//! Search in one store: the caller's allowed files (per-document access
//! and the request's attribute filter) are fixed first, then each index is
//! asked for those files only, the two rankings are fused, and, where a
//! reranker is configured, the best fused candidates are rescored by it.
//! The reranker reads only chunks the caller may see.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use moat_kb::{fuse, AllowedFiles, ChunkKey, FileNo, Filter, Fused, Fusion};
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest};
use moat_protocol::vector_stores::{SearchContent, SearchRequest, SearchResult, SearchResultsPage};
use moat_protocol::ApiError;
use moat_store::{split_chunk_key, AttachedFile, IngestStatus, KbChunk};
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
/// {"keyword": 1.0, "vector": 1.0}, "rerank": false}`: which index to ask,
/// how much each ranking counts in the fusion (default: the server's), and
/// whether the configured reranker rescores the candidates (default: when
/// one is configured).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOptions {
    #[serde(default)]
    pub mode: SearchMode,
    #[serde(default)]
    pub weights: Option<FusionWeights>,
    #[serde(default)]
    pub rerank: Option<bool>,
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

/// A store's completed files as one search reads them, kept until the
/// store's files version moves: by file number, with the names of the
/// files results came from, read once.
pub(crate) struct CompletedFiles {
    files: Vec<AttachedFile>,
    by_no: HashMap<u32, usize>,
    numbers: BTreeSet<u32>,
    names: std::sync::Mutex<HashMap<String, String>>,
}

impl CompletedFiles {
    fn new(files: Vec<AttachedFile>) -> Self {
        let by_no = files
            .iter()
            .enumerate()
            .map(|(i, a)| (a.file_no, i))
            .collect();
        let numbers = files.iter().map(|a| a.file_no).collect();
        Self {
            files,
            by_no,
            numbers,
            names: Default::default(),
        }
    }

    fn get(&self, file_no: u32) -> Option<&AttachedFile> {
        self.by_no.get(&file_no).map(|i| &self.files[*i])
    }
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
        let reranker = match (options.rerank, &self.settings().reranker) {
            (Some(false), _) => None,
            (_, Some(model)) => Some(model.clone()),
            (Some(true), None) => {
                return Err(ApiError::invalid_param(
                    "moat.rerank",
                    "No reranker is configured on this server (`[knowledge] reranker`).",
                ))
            }
            (None, None) => None,
        };
        let started = std::time::Instant::now();
        let record = self.readable(&call.principal, store_id).await?;
        let filter = request
            .filters
            .as_ref()
            .map(|f| Filter::from_json(f, "filters"))
            .transpose()
            .map_err(|e| ApiError::invalid_param("filters", e.0))?;

        let completed = self.completed_files(store_id).await?;
        let visible: Vec<FileNo> = completed
            .files
            .iter()
            .filter(|a| super::may_see(&call.principal, &a.attributes))
            .filter(|a| {
                filter
                    .as_ref()
                    .is_none_or(|f| match a.attributes.as_object() {
                        Some(attributes) => f.matches(attributes),
                        None => f.matches(&serde_json::Map::new()),
                    })
            })
            .map(|a| FileNo(a.file_no))
            .collect();
        let texts = request.query.texts();
        let wanted = request.max_num_results() as usize;
        if visible.is_empty() {
            return Ok(SearchResultsPage::new(texts, Vec::new()));
        }
        let allowed = AllowedFiles::only(visible);
        let candidates = (wanted * CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
        let index = self
            .inner
            .indexes
            .synced(
                store_id,
                &record.embedding_model,
                &completed.numbers,
                self.reembed_progress(store_id).is_some(),
            )
            .await?;

        let query_vectors = match mode {
            SearchMode::Keyword => None,
            _ if record.embedding_model.is_empty() => None,
            _ => Some(self.embed_queries(&record.embedding_model, &texts).await?),
        };
        let query_texts = texts.clone();
        let searched = allowed.clone();
        let fused: Vec<Fused> = moat_router::blocking("search", move || {
            let mut keyword = Vec::new();
            let mut vector = Vec::new();
            for (i, text) in query_texts.iter().enumerate() {
                if mode != SearchMode::Vector {
                    keyword.extend(index.search_keyword(text, candidates, &searched)?);
                }
                if let Some(vectors) = &query_vectors {
                    if let Some(found) = index.search_vector(&vectors[i], candidates, &searched)? {
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
        // Without a reranker the fused scores are final and the threshold
        // applies before the chunks are read; with one, its candidates are
        // read, rescored, and the threshold applies to the new scores.
        let pool: Vec<(u64, f64)> = match reranker {
            None => fused
                .iter()
                .filter(|f| f.score >= threshold)
                .take(wanted)
                .map(|f| (f.key.0, f.score))
                .collect(),
            Some(_) => fused
                .iter()
                .take(wanted.max(self.settings().rerank_candidates))
                .map(|f| (f.key.0, f.score))
                .collect(),
        };
        let keys: Vec<u64> = pool.iter().map(|(key, _)| *key).collect();
        let chunks: HashMap<u64, KbChunk> = self
            .store()
            .chunks_by_keys(store_id, &keys)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|c| (c.key(), c.chunk))
            .collect();
        let top: Vec<(u64, f64)> = match &reranker {
            None => pool,
            Some(model) => {
                let pool: Vec<(u64, f64)> = pool
                    .into_iter()
                    .filter(|(key, _)| chunks.contains_key(key))
                    .collect();
                let rescored = self.rerank(model, &texts, &pool, &chunks).await?;
                rescored
                    .into_iter()
                    .filter(|(_, score)| *score >= threshold)
                    .take(wanted)
                    .collect()
            }
        };
        let mut data = Vec::with_capacity(top.len());
        for (key, score) in top {
            let (file_no, _) = split_chunk_key(key);
            let file = completed
                .get(file_no)
                .filter(|_| allowed.contains(FileNo(file_no)));
            let (Some(file), Some(chunk)) = (file, chunks.get(&key)) else {
                continue;
            };
            data.push(SearchResult {
                file_id: file.file_id.clone(),
                filename: self.filename(&completed, &file.file_id).await?,
                score,
                attributes: file.attributes.as_object().cloned().unwrap_or_default(),
                content: vec![SearchContent::text(chunk.text.clone())],
            });
        }
        self.inner.metrics.observe_search(
            mode_label(mode, reranker.is_some()),
            started.elapsed(),
            data.len(),
        );
        Ok(SearchResultsPage::new(texts, data))
    }

    /// Rescore `pool` (fused candidates, best first) with the reranker
    /// `model`: each chunk read as it was embedded (title and headings
    /// above its text), scored against every query text, kept at its
    /// best, as a probability (the sigmoid of the reranker's logit). Best
    /// first; a tie keeps the fusion's order.
    async fn rerank(
        &self,
        model: &str,
        queries: &[String],
        pool: &[(u64, f64)],
        chunks: &HashMap<u64, KbChunk>,
    ) -> Result<Vec<(u64, f64)>, ApiError> {
        if pool.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let documents: Vec<String> = pool
            .iter()
            .filter_map(|(key, _)| chunks.get(key))
            .map(|c| moat_kb::embedding_text(&c.title, &c.headings, &c.text))
            .collect();
        let backend = self.inner.models.get(model)?;
        let mut best = vec![f64::NEG_INFINITY; pool.len()];
        for query in queries {
            let scores = backend.rerank(model, query, &documents).await?;
            for (b, s) in best.iter_mut().zip(scores) {
                *b = b.max(sigmoid(f64::from(s)));
            }
        }
        let mut rescored: Vec<(u64, f64)> = pool.iter().map(|(key, _)| *key).zip(best).collect();
        // A stable sort: equal scores keep the fusion's order.
        rescored.sort_by(|a, b| b.1.total_cmp(&a.1));
        self.inner
            .metrics
            .observe_rerank(started.elapsed(), documents.len());
        Ok(rescored)
    }

    /// The store's files whose ingest completed: read from the database
    /// when the store's files version moved since they were last read
    /// (by this process or another replica), else from memory. One
    /// single-row read per search instead of the whole file table.
    async fn completed_files(&self, store_id: &str) -> Result<Arc<CompletedFiles>, ApiError> {
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
        let files = Arc::new(CompletedFiles::new(
            self.store()
                .attached_files(
                    store_id,
                    Some(IngestStatus::Completed),
                    &page_query(MAX_FILES, moat_protocol::page::ListOrder::Asc, &None, &None),
                )
                .await
                .map_err(store_error)?
                .items,
        ));
        if let Ok(mut tables) = self.inner.file_tables.lock() {
            tables.insert(store_id.to_owned(), (version, Arc::clone(&files)));
        }
        Ok(files)
    }

    /// A result's file name, read from the database the first time a
    /// result comes from that file (a file's name never changes).
    async fn filename(
        &self,
        completed: &CompletedFiles,
        file_id: &str,
    ) -> Result<String, ApiError> {
        if let Some(name) = completed
            .names
            .lock()
            .ok()
            .and_then(|n| n.get(file_id).cloned())
        {
            return Ok(name);
        }
        let name = self
            .store()
            .file(file_id)
            .await
            .map_err(store_error)?
            .map(|r| r.filename)
            .unwrap_or_default();
        if let Ok(mut names) = completed.names.lock() {
            names.insert(file_id.to_owned(), name.clone());
        }
        Ok(name)
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

fn mode_label(mode: SearchMode, reranked: bool) -> &'static str {
    match (mode, reranked) {
        (SearchMode::Hybrid, false) => "hybrid",
        (SearchMode::Keyword, false) => "keyword",
        (SearchMode::Vector, false) => "vector",
        (SearchMode::Hybrid, true) => "hybrid_reranked",
        (SearchMode::Keyword, true) => "keyword_reranked",
        (SearchMode::Vector, true) => "vector_reranked",
    }
}

/// A logit as a probability, 0..=1 (what `score_threshold` compares).
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Several queries' hits as one ranking: best score first, a chunk kept at
/// its best.
fn sort_best_first(hits: &mut Vec<(ChunkKey, f32)>) {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0 .0.cmp(&b.0 .0)));
    let mut seen = std::collections::HashSet::new();
    hits.retain(|(key, _)| seen.insert(key.0));
}
