//! The `[knowledge]` table: where knowledge-base indexes live, which model
//! embeds their chunks, how large an upload may be, how many files are
//! ingested at once, how the two rankings of a hybrid search are weighed
//! and which reranker rescores them. Its defaults are
//! [`KnowledgeSettings`]'.

use std::path::{Path, PathBuf};
use std::time::Duration;

use moat_server::{FusionWeights, KnowledgeSettings};
use serde::Deserialize;

/// The `[knowledge]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeOptions {
    /// The model that embeds chunks (a served embedding model's id).
    /// Default: the first served model that embeds, a multilingual one
    /// first. Changing it re-embeds every store's chunks at the next start,
    /// in the background, resuming where a restart interrupted it.
    pub embedding_model: Option<String>,
    /// Folder of the keyword indexes, one per process (replicas sharing a
    /// database each keep their own). Default: `data/kb`.
    pub index_dir: Option<PathBuf>,
    /// Largest uploaded file, in MiB.
    pub max_file_mb: u64,
    /// Files ingested at the same time.
    pub ingest_workers: usize,
    /// Seconds one file's text extraction may take.
    pub extract_timeout_secs: u64,
    /// How much the keyword ranking counts in a hybrid search.
    pub keyword_weight: f64,
    /// How much the vector ranking counts in a hybrid search.
    pub vector_weight: f64,
    /// Vectors from which a store's vector searches go through an HNSW
    /// graph instead of an exact scan.
    pub vector_graph_from: usize,
    /// A served reranker (a GGUF model with rank pooling) that rescores
    /// each search's best fused candidates, grounded chat's included.
    /// Default: none (results keep the fusion's order).
    pub reranker: Option<String>,
    /// Fused candidates the reranker rescores per search.
    pub rerank_candidates: usize,
}

impl Default for KnowledgeOptions {
    fn default() -> Self {
        let settings = KnowledgeSettings::new(PathBuf::new());
        Self {
            embedding_model: None,
            index_dir: None,
            max_file_mb: (settings.max_file_bytes >> 20) as u64,
            ingest_workers: settings.ingest_workers,
            extract_timeout_secs: settings.extract.timeout.as_secs(),
            keyword_weight: settings.fusion_weights.keyword,
            vector_weight: settings.fusion_weights.vector,
            vector_graph_from: settings.vector_graph_from,
            reranker: None,
            rerank_candidates: settings.rerank_candidates,
        }
    }
}

/// Largest upload accepted by `max_file_mb`.
const MAX_FILE_MB: u64 = 4096;
/// Most ingest workers.
const MAX_INGEST_WORKERS: usize = 64;
/// Fewest vectors a graph may be built from: below, a scan is as fast.
const MIN_GRAPH_FROM: usize = 1000;
/// Most candidates one search may rerank (each is a full model pass).
const MAX_RERANK_CANDIDATES: usize = 200;

impl KnowledgeOptions {
    /// The settings, checked; `data_dir` is where the index folder goes
    /// when `index_dir` is not set.
    pub fn settings(&self, data_dir: &Path) -> anyhow::Result<KnowledgeSettings> {
        anyhow::ensure!(
            (1..=MAX_FILE_MB).contains(&self.max_file_mb),
            "[knowledge] max_file_mb must be between 1 and {MAX_FILE_MB}, not {}",
            self.max_file_mb
        );
        anyhow::ensure!(
            (1..=MAX_INGEST_WORKERS).contains(&self.ingest_workers),
            "[knowledge] ingest_workers must be between 1 and {MAX_INGEST_WORKERS}, not {}",
            self.ingest_workers
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.extract_timeout_secs),
            "[knowledge] extract_timeout_secs must be between 1 and 3600, not {}",
            self.extract_timeout_secs
        );
        anyhow::ensure!(
            self.vector_graph_from >= MIN_GRAPH_FROM,
            "[knowledge] vector_graph_from must be at least {MIN_GRAPH_FROM}, not {}",
            self.vector_graph_from
        );
        moat_kb::fuse::Fusion::new(
            moat_kb::fuse::DEFAULT_K,
            self.keyword_weight,
            self.vector_weight,
        )
        .map_err(|e| anyhow::anyhow!("[knowledge] keyword_weight and vector_weight: {e}"))?;
        if let Some(model) = &self.embedding_model {
            anyhow::ensure!(
                !model.trim().is_empty(),
                "[knowledge] embedding_model must name a model (leave it out for the default)"
            );
        }
        if let Some(model) = &self.reranker {
            anyhow::ensure!(
                !model.trim().is_empty(),
                "[knowledge] reranker must name a model (leave it out for none)"
            );
        }
        anyhow::ensure!(
            (1..=MAX_RERANK_CANDIDATES).contains(&self.rerank_candidates),
            "[knowledge] rerank_candidates must be between 1 and {MAX_RERANK_CANDIDATES}, not {}",
            self.rerank_candidates
        );
        let index_dir = self
            .index_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("kb"));
        let mut settings = KnowledgeSettings::new(index_dir);
        let max_bytes = usize::try_from(self.max_file_mb << 20).unwrap_or(usize::MAX);
        settings.embedding_model = self.embedding_model.clone();
        settings.max_file_bytes = max_bytes;
        settings.extract.max_bytes = max_bytes;
        settings.extract.timeout = Duration::from_secs(self.extract_timeout_secs);
        settings.ingest_workers = self.ingest_workers;
        settings.fusion_weights = FusionWeights {
            keyword: self.keyword_weight,
            vector: self.vector_weight,
        };
        settings.vector_graph_from = self.vector_graph_from;
        settings.reranker = self.reranker.clone();
        settings.rerank_candidates = self.rerank_candidates;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> anyhow::Result<KnowledgeSettings> {
        #[derive(Deserialize)]
        struct File {
            knowledge: KnowledgeOptions,
        }
        let file: File = toml::from_str(text)?;
        file.knowledge.settings(Path::new("data"))
    }

    #[test]
    fn defaults_are_the_gateways() {
        let settings = KnowledgeOptions::default()
            .settings(Path::new("data"))
            .unwrap();
        let gateway = KnowledgeSettings::new(PathBuf::from("data/kb"));
        assert_eq!(settings.index_dir, gateway.index_dir);
        assert_eq!(settings.max_file_bytes, gateway.max_file_bytes);
        assert_eq!(settings.extract, gateway.extract);
        assert_eq!(settings.ingest_workers, gateway.ingest_workers);
        assert_eq!(settings.fusion_weights, gateway.fusion_weights);
        assert_eq!(settings.vector_graph_from, gateway.vector_graph_from);
        assert_eq!(settings.embedding_model, None);
        assert_eq!(settings.reranker, None);
        assert_eq!(settings.rerank_candidates, gateway.rerank_candidates);
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(concat!(
            "[knowledge]\nembedding_model = \"multilingual-e5-small.q4_0\"\n",
            "index_dir = \"/srv/kb\"\nmax_file_mb = 200\ningest_workers = 2\n",
            "extract_timeout_secs = 30\nkeyword_weight = 0.5\nvector_weight = 2\n",
            "vector_graph_from = 5000\nreranker = \"bge-reranker\"\nrerank_candidates = 30\n",
        ))
        .unwrap();
        assert_eq!(
            s.embedding_model.as_deref(),
            Some("multilingual-e5-small.q4_0")
        );
        assert_eq!(s.index_dir, PathBuf::from("/srv/kb"));
        assert_eq!(s.max_file_bytes, 200 << 20);
        assert_eq!(s.extract.max_bytes, 200 << 20);
        assert_eq!(s.extract.timeout, Duration::from_secs(30));
        assert_eq!(s.ingest_workers, 2);
        assert_eq!(
            s.fusion_weights,
            FusionWeights {
                keyword: 0.5,
                vector: 2.0
            }
        );
        assert_eq!(s.vector_graph_from, 5000);
        assert_eq!(s.reranker.as_deref(), Some("bge-reranker"));
        assert_eq!(s.rerank_candidates, 30);
    }

    #[test]
    fn hostile_values_are_refused_with_their_key() {
        for (text, key) in [
            ("max_file_mb = 0", "max_file_mb"),
            ("max_file_mb = 99999999999", "max_file_mb"),
            ("ingest_workers = 0", "ingest_workers"),
            ("ingest_workers = 100000", "ingest_workers"),
            ("extract_timeout_secs = 0", "extract_timeout_secs"),
            ("vector_graph_from = 10", "vector_graph_from"),
            ("keyword_weight = -1.0", "keyword_weight"),
            ("keyword_weight = nan", "keyword_weight"),
            ("vector_weight = inf", "vector_weight"),
            (
                "keyword_weight = 0.0\nvector_weight = 0.0",
                "at least one weight",
            ),
            ("embedding_model = \" \"", "embedding_model"),
            ("reranker = \"\"", "reranker"),
            ("rerank_candidates = 0", "rerank_candidates"),
            ("rerank_candidates = 100000", "rerank_candidates"),
        ] {
            let err = parse(&format!("[knowledge]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let err = parse("[knowledge]\nembeding_model = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }
}
