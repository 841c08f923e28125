//! Embedding models on llama.cpp: the request-side handle of one model's
//! embedding context. It tokenizes and checks the inputs, takes an
//! admission permit (a full queue is [`EngineError::Overloaded`], never a
//! wait) and hands the job to the model's embedding thread
//! (`embedding_worker.rs`), which packs the inputs of every waiting job into
//! few decodes and answers with L2-normalised vectors. A reranker (a file
//! with rank pooling) runs on the same thread: its inputs are
//! (query, document) pairs and its outputs raw relevance scores.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use moat_protocol::embeddings::EmbeddingInput;
use tokio::sync::{oneshot, Semaphore};

use crate::catalog::ModelFile;
use crate::embedding_worker::{self, EmbedJob, WorkerSettings};
use crate::error::{EngineError, LoadError};
use crate::gguf::{GgufMetadata, MetaValue};
use crate::Engine;

/// Architectures that are encoders (bidirectional attention): embedding
/// models even when the file names no pooling.
const ENCODER_ARCHITECTURES: &[&str] = &["bert", "nomic-bert", "jina-bert-v2", "modern-bert"];

/// The most tokens one input to a causal (chat) model may have.
const MAX_CAUSAL_TOKENS: u32 = 2048;

/// How an embedding context runs; one default per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderConfig {
    /// CPU threads; `None`: all available cores.
    pub threads: Option<u32>,
    /// Tokens packed into one decode (inputs of several requests share
    /// it). A single longer input is decoded alone. All sequences of a
    /// decode attend as one masked block, so bigger is not faster:
    /// 256 was best on CPU (BENCHMARKS.md).
    pub batch_tokens: u32,
    /// Requests queued or running; beyond that, 503.
    pub queue_size: u32,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        Self {
            threads: None,
            batch_tokens: 256,
            queue_size: 64,
        }
    }
}

/// How a model turns the vectors of its tokens into one vector; `Rank`:
/// a reranker's classification head turns the first token's vector into a
/// relevance score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
    Last,
    Rank,
}

impl Pooling {
    fn llama(self) -> LlamaPoolingType {
        match self {
            Self::Mean => LlamaPoolingType::Mean,
            Self::Cls => LlamaPoolingType::Cls,
            Self::Last => LlamaPoolingType::Last,
            Self::Rank => LlamaPoolingType::Rank,
        }
    }

    /// `mean`, `cls`, `last` or `rank`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::Last => "last",
            Self::Rank => "rank",
        }
    }

    /// Whether the model is a reranker (scores pairs, embeds nothing).
    pub fn ranks(self) -> bool {
        self == Self::Rank
    }
}

/// The pooling of an embedding model's or reranker's file, or `None` when
/// the file is neither: `<arch>.pooling_type` (1 mean, 2 CLS, 3 last,
/// 4 rank) or, where that is missing, an encoder architecture (mean).
pub fn embedding_pooling(meta: &GgufMetadata) -> Option<Pooling> {
    let arch = meta.architecture();
    match meta.int(&format!("{arch}.pooling_type")) {
        Some(1) => Some(Pooling::Mean),
        Some(2) => Some(Pooling::Cls),
        Some(3) => Some(Pooling::Last),
        Some(4) => Some(Pooling::Rank),
        Some(_) => None,
        None => ENCODER_ARCHITECTURES
            .contains(&arch)
            .then_some(Pooling::Mean),
    }
}

/// Whether the file says its attention is not causal (an encoder).
fn is_non_causal(meta: &GgufMetadata) -> bool {
    let key = format!("{}.attention.causal", meta.architecture());
    match meta.values.get(&key) {
        Some(MetaValue::Bool(causal)) => !causal,
        _ => ENCODER_ARCHITECTURES.contains(&meta.architecture()),
    }
}

/// The embedding context of one model and its thread.
pub struct Embedder {
    id: String,
    model: Arc<LlamaModel>,
    n_vocab: u32,
    /// The most tokens one input may have (the training context).
    max_tokens: u32,
    dimensions: u32,
    pooling: Pooling,
    /// The longest text one token stands for, in bytes: a text of `b`
    /// bytes is at least `b / max_piece_bytes` tokens.
    max_piece_bytes: usize,
    jobs: mpsc::Sender<EmbedJob>,
    admission: Arc<Semaphore>,
    created: u64,
}

/// A queued embedding job: await [`EmbedTicket::vectors`].
pub struct EmbedTicket {
    reply: oneshot::Receiver<Result<Vec<Vec<f32>>, EngineError>>,
    /// Tokens of all inputs together.
    pub prompt_tokens: u32,
}

impl EmbedTicket {
    /// The vectors, in input order. Dropping the future before it is done
    /// leaves the job to the thread, which skips it when the `cancelled`
    /// flag given to [`Embedder::submit`] is set.
    pub async fn vectors(self) -> Result<Vec<Vec<f32>>, EngineError> {
        self.reply.await.map_err(|_| EngineError::ShuttingDown)?
    }
}

impl Embedder {
    /// Load an embedding model or a reranker (its pooling read from the
    /// file) and start its thread. Blocking: takes as long as reading the
    /// file.
    pub fn load(file: &ModelFile, config: &EmbedderConfig) -> Result<Self, LoadError> {
        let path = file.path.display().to_string();
        let pooling = embedding_pooling(&file.metadata).ok_or_else(|| LoadError::Model {
            path: path.clone(),
            reason: "not an embedding model (no pooling type in the file)".into(),
        })?;
        let non_causal = is_non_causal(&file.metadata);
        if pooling.ranks() && !non_causal {
            // A causal reranker (Qwen3's) reads its pair through a prompt
            // template of its own, which moat does not write.
            return Err(LoadError::Model {
                path,
                reason: "a reranker must be an encoder (BERT or XLM-RoBERTa family); causal rerankers are not supported".into(),
            });
        }
        let backend = crate::engine::backend().map_err(|reason| LoadError::Model {
            path: path.clone(),
            reason,
        })?;
        let model = LlamaModel::load_from_file(backend, &file.path, &LlamaModelParams::default())
            .map_err(|e| LoadError::Model {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Self::start(
            file.id.clone(),
            Arc::new(model),
            pooling,
            non_causal,
            config,
        )
    }

    /// An embedding context next to a chat engine, on the same weights
    /// (a model the operator configured for embeddings): mean pooling.
    pub fn for_engine(engine: &Engine, config: &EmbedderConfig) -> Result<Self, LoadError> {
        Self::start(
            engine.id().to_owned(),
            Arc::clone(engine.model()),
            Pooling::Mean,
            false,
            config,
        )
    }

    fn start(
        id: String,
        model: Arc<LlamaModel>,
        pooling: Pooling,
        non_causal: bool,
        config: &EmbedderConfig,
    ) -> Result<Self, LoadError> {
        let backend = crate::engine::backend().map_err(|reason| LoadError::Context {
            id: id.clone(),
            reason,
        })?;
        let vocab = model.vocab();
        let n_vocab = u32::try_from(vocab.n_tokens()).unwrap_or(0);
        let max_piece_bytes = vocab
            .tokens()
            .map(|t| vocab.token_to_piece(t, true, None).len())
            .max()
            .unwrap_or(1)
            .max(1);
        // A causal model's inputs are bounded too: its training context
        // (8k for small chat models) would make every decode's buffers huge.
        let max_tokens = model
            .n_ctx_train()
            .clamp(8, if non_causal { 8192 } else { MAX_CAUSAL_TOKENS });
        let dimensions = if pooling.ranks() {
            model.n_cls_out()
        } else {
            u32::try_from(model.n_embd()).unwrap_or(0)
        };
        let batch_tokens = config.batch_tokens.clamp(32, 8192);
        // A non-causal model must see a whole sequence in one ubatch, so
        // ubatch == batch, and both hold the longest input allowed; a
        // causal one reads a long input in ubatches of 512.
        let n_batch = batch_tokens.max(max_tokens);
        let n_ubatch = if non_causal {
            n_batch
        } else {
            n_batch.min(512)
        };
        let max_seqs = batch_tokens.min(256);
        let threads = config.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get() as i32),
            |t| t.max(1) as i32,
        );
        let params = LlamaContextParams::default()
            .with_embeddings(true)
            .with_pooling_type(pooling.llama())
            .with_n_ctx(NonZeroU32::new(n_batch))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_ubatch)
            .with_n_seq_max(max_seqs)
            .with_kv_unified(true)
            // Without flash attention a BERT decode was ~4x slower on CPU.
            .with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let settings = WorkerSettings {
            batch_tokens,
            max_seqs: max_seqs as usize,
            encoder: non_causal,
            normalize: !pooling.ranks(),
        };

        let (jobs, job_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_model = Arc::clone(&model);
        std::thread::Builder::new()
            .name(format!("embed-{id}"))
            .spawn(move || {
                let ctx = match thread_model.new_context(backend, params) {
                    Ok(ctx) => ctx,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                embedding_worker::run(ctx, &settings, &job_rx);
            })
            .map_err(|e| LoadError::Context {
                id: id.clone(),
                reason: e.to_string(),
            })?;
        crate::engine::await_context(&ready_rx, &id)?;
        let created = moat_protocol::time::now_secs();
        tracing::info!(
            model = %id,
            dimensions,
            max_tokens,
            pooling = pooling.name(),
            threads,
            batch_tokens,
            "embedding model loaded"
        );
        Ok(Self {
            id,
            model,
            n_vocab,
            max_tokens,
            dimensions,
            pooling,
            max_piece_bytes,
            jobs,
            admission: Arc::new(Semaphore::new(config.queue_size.max(1) as usize)),
            created,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Length of the vectors (a reranker's: its scores per pair, 1).
    pub fn dimensions(&self) -> u32 {
        self.dimensions
    }

    /// The most tokens one input may have.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    pub fn created(&self) -> u64 {
        self.created
    }

    /// The text token ids stand for (for the personal-data guard, which
    /// must read what the model reads). Ids outside the vocabulary are
    /// refused.
    pub fn token_text(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.check_ids(ids, 0)?;
        let vocab = self.model.vocab();
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend(vocab.token_to_piece(LlamaToken(id as i32), false, None));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn check_ids(&self, ids: &[u32], index: usize) -> Result<(), EngineError> {
        match ids.iter().position(|&id| id >= self.n_vocab) {
            Some(j) => Err(EngineError::InvalidRequest {
                message: format!(
                    "Input {index}: token {} is {}, outside this model's vocabulary of {} tokens.",
                    j, ids[j], self.n_vocab
                ),
                param: "input".into(),
            }),
            None => Ok(()),
        }
    }

    fn too_long(&self, index: usize, tokens: usize) -> EngineError {
        EngineError::InvalidRequest {
            message: format!(
                "Input {index} has {tokens} tokens; this model reads at most {} tokens per input. Shorten or split it (inputs are never truncated).",
                self.max_tokens
            ),
            param: "input".into(),
        }
    }

    /// Tokenize and check every input: texts with the model's start and
    /// end tokens, control-token text read as plain text; token ids as
    /// given, each inside the vocabulary; no input over the model's
    /// context (refused, naming its index, never truncated).
    pub fn tokenize(&self, input: &EmbeddingInput) -> Result<Vec<Vec<LlamaToken>>, EngineError> {
        let max = self.max_tokens as usize;
        match input {
            EmbeddingInput::Texts(texts) => {
                let vocab = self.model.vocab();
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let least = text.len() / self.max_piece_bytes;
                        if least > max {
                            return Err(self.too_long(i, least));
                        }
                        let tokens = vocab.tokenize(text.as_bytes(), true, false);
                        if tokens.len() > max {
                            return Err(self.too_long(i, tokens.len()));
                        }
                        Ok(tokens)
                    })
                    .collect()
            }
            EmbeddingInput::Tokens(lists) => lists
                .iter()
                .enumerate()
                .map(|(i, ids)| {
                    if ids.len() > max {
                        return Err(self.too_long(i, ids.len()));
                    }
                    self.check_ids(ids, i)?;
                    Ok(ids.iter().map(|&id| LlamaToken(id as i32)).collect())
                })
                .collect(),
        }
    }

    /// Tokenize, check and queue; refusals come back before anything is
    /// queued. CPU-heavy (tokenizing): call it off the async workers. The
    /// thread skips the job once `cancelled` is set.
    pub fn submit(
        &self,
        input: &EmbeddingInput,
        cancelled: Arc<AtomicBool>,
    ) -> Result<EmbedTicket, EngineError> {
        let inputs = self.tokenize(input)?;
        self.enqueue(inputs, cancelled)
    }

    /// A reranker's inputs: each document paired with the query as
    /// llama.cpp's own server pairs them, `[BOS] query [EOS] [SEP]
    /// document [EOS]` (each marker where the vocabulary adds it; for
    /// BERT `[CLS] query [SEP] document [SEP]`), both read as plain text.
    /// A document too long for the model is cut to fit, so its beginning
    /// is scored; a query that leaves no room is refused.
    pub fn rank_pairs(
        &self,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<Vec<LlamaToken>>, EngineError> {
        if !self.pooling.ranks() {
            return Err(EngineError::InvalidRequest {
                message: format!("The model `{}` is not a reranker.", self.id),
                param: "model".into(),
            });
        }
        let max = self.max_tokens as usize;
        let vocab = self.model.vocab();
        let sep = vocab.sep();
        let eos = match vocab.eos() {
            LlamaToken(-1) => sep,
            eos => eos,
        };
        let query_too_long = |tokens: usize| {
            EngineError::InvalidRequest {
            message: format!(
                "The query has {tokens} tokens; this reranker reads at most {max} tokens of query and document together."
            ),
            param: "query".into(),
        }
        };
        if query.len() / self.max_piece_bytes >= max {
            return Err(query_too_long(query.len() / self.max_piece_bytes));
        }
        let mut head = Vec::new();
        if vocab.should_add_bos() {
            head.push(vocab.bos());
        }
        let query_tokens = vocab.tokenize(query.as_bytes(), false, false);
        let query_len = query_tokens.len();
        head.extend(query_tokens);
        if vocab.should_add_eos() {
            head.push(eos);
        }
        if vocab.should_add_sep() {
            head.push(sep);
        }
        // Room for at least one document token and the closing marker.
        let room = max.saturating_sub(head.len() + 1);
        if room == 0 {
            return Err(query_too_long(query_len));
        }
        Ok(documents
            .iter()
            .map(|document| {
                // `room * max_piece_bytes` bytes are at least `room`
                // tokens: the rest of a long document is never tokenized.
                let mut end = document
                    .len()
                    .min(room.saturating_mul(self.max_piece_bytes));
                while !document.is_char_boundary(end) {
                    end -= 1;
                }
                let mut tokens = vocab.tokenize(&document.as_bytes()[..end], false, false);
                tokens.truncate(room);
                let mut pair = Vec::with_capacity(head.len() + tokens.len() + 1);
                pair.extend_from_slice(&head);
                pair.extend(tokens);
                pair.push(eos);
                pair
            })
            .collect())
    }

    /// Tokenize a reranker's pairs ([`Self::rank_pairs`]) and queue them:
    /// one raw score per document, in order (the model's logit; a
    /// sigmoid makes it a probability). CPU-heavy: call it off the async
    /// workers.
    pub fn submit_pairs(
        &self,
        query: &str,
        documents: &[String],
        cancelled: Arc<AtomicBool>,
    ) -> Result<EmbedTicket, EngineError> {
        let inputs = self.rank_pairs(query, documents)?;
        self.enqueue(inputs, cancelled)
    }

    fn enqueue(
        &self,
        inputs: Vec<Vec<LlamaToken>>,
        cancelled: Arc<AtomicBool>,
    ) -> Result<EmbedTicket, EngineError> {
        if cancelled.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        let prompt_tokens = inputs.iter().map(Vec::len).sum::<usize>();
        let permit = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| EngineError::Overloaded)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(EmbedJob {
                inputs,
                reply,
                cancelled,
                _permit: permit,
            })
            .map_err(|_| EngineError::ShuttingDown)?;
        Ok(EmbedTicket {
            reply: rx,
            prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(pairs: &[(&str, MetaValue)]) -> GgufMetadata {
        GgufMetadata {
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            tensor_count: 0,
        }
    }

    #[test]
    fn pooling_comes_from_the_file() {
        let arch = ("general.architecture", MetaValue::Str("bert".into()));
        let bert = meta(&[arch.clone(), ("bert.pooling_type", MetaValue::Int(1))]);
        assert_eq!(embedding_pooling(&bert), Some(Pooling::Mean));
        let cls = meta(&[arch.clone(), ("bert.pooling_type", MetaValue::Int(2))]);
        assert_eq!(embedding_pooling(&cls), Some(Pooling::Cls));
        let unset = meta(std::slice::from_ref(&arch));
        assert_eq!(embedding_pooling(&unset), Some(Pooling::Mean));
        let rank = meta(&[arch.clone(), ("bert.pooling_type", MetaValue::Int(4))]);
        assert_eq!(embedding_pooling(&rank), Some(Pooling::Rank));
        let unknown = meta(&[arch, ("bert.pooling_type", MetaValue::Int(9))]);
        assert_eq!(embedding_pooling(&unknown), None);
        let qwen = meta(&[
            ("general.architecture", MetaValue::Str("qwen3".into())),
            ("qwen3.pooling_type", MetaValue::Int(3)),
        ]);
        assert_eq!(embedding_pooling(&qwen), Some(Pooling::Last));
        let chat = meta(&[("general.architecture", MetaValue::Str("llama".into()))]);
        assert_eq!(embedding_pooling(&chat), None);
    }

    #[test]
    fn encoders_are_recognised() {
        let bert = meta(&[
            ("general.architecture", MetaValue::Str("bert".into())),
            ("bert.attention.causal", MetaValue::Bool(false)),
        ]);
        assert!(is_non_causal(&bert));
        let qwen = meta(&[("general.architecture", MetaValue::Str("qwen3".into()))]);
        assert!(!is_non_causal(&qwen));
    }
}
