//! The engine of one model: the request-side handle. It renders the chat
//! template, tokenizes, checks the context, takes an admission permit and
//! hands the job to the model's scheduler thread (`scheduler.rs`).

use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::task::{Context, Poll};

use futures::Stream;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use moat_protocol::GenerationEvent;
use serde_json::{Map, Value};
use tokio::sync::{mpsc as tmpsc, OwnedSemaphorePermit, Semaphore};

use crate::catalog::ModelFile;
use crate::control::ControlTokens;
use crate::error::{EngineError, LoadError};
use crate::grammar::{self, ToolCallGrammar, ToolGrammarError};
use crate::sampling::SamplingParams;
use crate::scheduler::{self, Job};
use crate::template::{ChatTemplate, TemplateInput};

/// Default context (KV cells shared by all sequences) when neither the
/// configuration nor a smaller training context sets it.
const DEFAULT_CTX: u32 = 4096;

/// How an engine runs; one default per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Sequences decoded together in one batch.
    pub parallel: u32,
    /// KV cache size in tokens, shared by all sequences; one request may use
    /// all of it. `None`: the model's training context, at most 4096.
    pub ctx_size: Option<u32>,
    /// CPU threads; `None`: all available cores.
    pub threads: Option<u32>,
    /// Most tokens in one decode step; long prompts are processed in chunks
    /// of this size between the decode steps of running sequences.
    pub batch_size: u32,
    /// Requests that may wait for a free slot; beyond that, 503.
    pub queue_size: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            parallel: 4,
            ctx_size: None,
            threads: None,
            batch_size: 512,
            queue_size: 64,
        }
    }
}

/// Live counters of an engine, read by metrics and tests.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub waiting: AtomicUsize,
    pub running: AtomicUsize,
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens whose KV was reused instead of computed.
    pub cached_prompt_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    /// KV cells holding the tokens of running sequences, of the context's
    /// `n_ctx`; cached prefixes of idle slots are not counted (they are
    /// evicted when room is needed).
    pub kv_cells_used: AtomicUsize,
}

/// What to generate from.
#[derive(Debug, Clone)]
pub enum PromptInput {
    /// Messages as JSON objects (`role`, `content`...), rendered by the
    /// model's template.
    Chat {
        messages: Vec<Value>,
        tools: Option<Vec<Value>>,
        template_kwargs: Option<Map<String, Value>>,
    },
    /// A raw prompt (`/v1/completions`).
    Text(String),
}

#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub prompt: PromptInput,
    pub sampling: SamplingParams,
    /// `None`: until the context is full (or `budget`). A prompt that
    /// leaves less room than this is refused.
    pub max_tokens: Option<u32>,
    /// When `max_tokens` is `None`: stop after this many tokens, or when
    /// the context is full, whichever comes first (the server's default and
    /// the caller's remaining quota).
    pub budget: Option<u32>,
    pub stop: Vec<String>,
    /// Constrain tool calls to the tools' schemas; `None`: unconstrained.
    pub tool_grammar: Option<ToolCallGrammar>,
}

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// llama.cpp's process-wide backend, initialised once; its logs go to
/// `tracing` under the `llama-cpp-2` target.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A loaded model and its scheduler thread.
pub struct Engine {
    id: String,
    model: Arc<LlamaModel>,
    template: ChatTemplate,
    n_ctx: u32,
    add_bos: bool,
    bos_text: String,
    /// Texts of the model's control tokens (`<|im_start|>`...). The rendered
    /// prompt is tokenized with special tokens parsed, so these must not
    /// come from anything the caller sends to the template: that would let
    /// a caller forge roles.
    control: ControlTokens,
    /// The longest text one token stands for, in bytes: a prompt of `b`
    /// bytes is at least `b / max_piece_bytes` tokens.
    max_piece_bytes: usize,
    jobs: mpsc::Sender<Job>,
    admission: Arc<Semaphore>,
    stats: Arc<EngineStats>,
    created: u64,
}

impl Engine {
    /// Load the weights, compile the template and start the scheduler.
    /// Blocking: takes as long as reading the file.
    pub fn load(file: &ModelFile, config: &EngineConfig) -> Result<Self, LoadError> {
        let path = file.path.display().to_string();
        let backend = backend().map_err(|reason| LoadError::Model {
            path: path.clone(),
            reason,
        })?;
        let model = LlamaModel::load_from_file(backend, &file.path, &LlamaModelParams::default())
            .map_err(|e| LoadError::Model {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let model = Arc::new(model);
        let vocab = model.vocab();
        let piece = |t: LlamaToken| {
            String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned()
        };
        let bos_text = piece(vocab.bos());
        let eos_text = piece(vocab.eos());
        let add_bos = vocab.should_add_bos();
        let control = ControlTokens::new(
            vocab
                .tokens()
                .filter(|&t| vocab.is_control(t))
                .filter_map(|t| vocab.text(t).map(|c| c.to_string_lossy().into_owned())),
        );
        let max_piece_bytes = vocab
            .tokens()
            .map(|t| vocab.token_to_piece(t, true, None).len())
            .max()
            .unwrap_or(1)
            .max(1);
        let template = ChatTemplate::new(file.metadata.chat_template(), &bos_text, &eos_text)
            .map_err(|source| LoadError::Template {
                id: file.id.clone(),
                source,
            })?;

        let train_ctx = model.n_ctx_train().max(1);
        let n_ctx = config
            .ctx_size
            .unwrap_or(train_ctx.min(DEFAULT_CTX))
            .max(64);
        let parallel = config.parallel.max(1);
        let threads = config.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get() as i32),
            |t| t.max(1) as i32,
        );
        let batch_size = config.batch_size.max(parallel).max(32);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(batch_size + parallel)
            // llama.cpp sizes its compute buffer for one ubatch: 256 tokens
            // instead of 512 keeps ~7 MiB less resident for about the same
            // prefill speed on CPU (BENCHMARKS.md).
            .with_n_ubatch(batch_size.min(256))
            .with_n_seq_max(parallel)
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);

        let stats = Arc::new(EngineStats::default());
        let (jobs, job_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let settings = scheduler::Settings {
            parallel,
            n_ctx,
            batch_size,
        };
        let thread_model = Arc::clone(&model);
        let thread_stats = Arc::clone(&stats);
        let id = file.id.clone();
        std::thread::Builder::new()
            .name(format!("engine-{id}"))
            .spawn(move || {
                let ctx = match thread_model.new_context(backend, params) {
                    Ok(ctx) => ctx,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                scheduler::run(&thread_model, ctx, settings, job_rx, &thread_stats);
            })
            .map_err(|e| LoadError::Context {
                id: id.clone(),
                reason: e.to_string(),
            })?;
        await_context(&ready_rx, &id)?;

        let created = moat_protocol::time::now_secs();
        tracing::info!(model = %id, n_ctx, parallel, threads, "model loaded");
        Ok(Self {
            id,
            model,
            template,
            n_ctx,
            add_bos,
            bos_text,
            control,
            max_piece_bytes,
            jobs,
            admission: Arc::new(Semaphore::new((parallel + config.queue_size) as usize)),
            stats,
            created,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Tokens one request may use, prompt and completion together.
    pub fn context_length(&self) -> u32 {
        self.n_ctx
    }

    pub fn created(&self) -> u64 {
        self.created
    }

    /// The loaded weights (shared with an embedding context).
    pub(crate) fn model(&self) -> &Arc<LlamaModel> {
        &self.model
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Whether the chat template renders `tools` itself.
    pub fn template_supports_tools(&self) -> bool {
        self.template.supports_tools
    }

    /// Render, tokenize, check and enqueue. Refusals (bad template input,
    /// context exceeded, queue full) come back before anything is queued.
    /// CPU-heavy (rendering, tokenizing, building a grammar): call it off
    /// the async workers, as [`Engine::generate_unless`] does.
    pub fn generate(&self, request: GenerateRequest) -> Result<GenerationReceiver, EngineError> {
        self.generate_unless(request, &AtomicBool::new(false))
    }

    /// [`Engine::generate`] that stops when `cancelled` turns true (the
    /// client went away): checked between the steps and right before the
    /// job is queued, so nothing is generated for a gone client.
    pub fn generate_unless(
        &self,
        request: GenerateRequest,
        cancelled: &AtomicBool,
    ) -> Result<GenerationReceiver, EngineError> {
        let gone = || {
            if cancelled.load(Ordering::Relaxed) {
                Err(EngineError::Cancelled)
            } else {
                Ok(())
            }
        };
        let (text, parse_special, reasoning) = match &request.prompt {
            PromptInput::Chat {
                messages,
                tools,
                template_kwargs,
            } => {
                self.check_no_control_tokens(messages, tools.as_deref(), template_kwargs.as_ref())?;
                let text = self.template.render(
                    &TemplateInput {
                        messages,
                        tools: tools.as_deref(),
                        add_generation_prompt: true,
                    },
                    template_kwargs.as_ref(),
                )?;
                let reasoning = self.template.reasoning.then(|| {
                    let tail = text.trim_end_matches(['\n', ' ']);
                    tail.ends_with("<think>")
                });
                (text, true, reasoning)
            }
            // A raw prompt is the caller's whole prompt, control tokens
            // included by design (docs/api.md); it is bounded below.
            PromptInput::Text(text) => (text.clone(), true, None),
        };
        gone()?;
        self.check_fits_before_tokenizing(&text, request.max_tokens)?;
        let add_bos =
            self.add_bos && !(self.bos_text.is_empty() || text.starts_with(&self.bos_text));
        let prompt = self
            .model
            .vocab()
            .tokenize(text.as_bytes(), add_bos, parse_special);
        gone()?;
        if prompt.is_empty() {
            return Err(EngineError::InvalidRequest {
                message: "The prompt is empty.".into(),
                param: "prompt".into(),
            });
        }
        let prompt_len = u32::try_from(prompt.len()).unwrap_or(u32::MAX);
        // One position is needed for the first generated token.
        let room = self.n_ctx.saturating_sub(prompt_len);
        let max_tokens = match request.max_tokens {
            Some(n) if u64::from(prompt_len) + u64::from(n) > u64::from(self.n_ctx) => {
                return Err(EngineError::ContextLengthExceeded {
                    limit: self.n_ctx,
                    requested: u64::from(prompt_len) + u64::from(n),
                    prompt: prompt_len,
                    completion: n,
                })
            }
            Some(n) => n,
            None if room == 0 => {
                return Err(EngineError::ContextLengthExceeded {
                    limit: self.n_ctx,
                    requested: u64::from(prompt_len) + 1,
                    prompt: prompt_len,
                    completion: 1,
                })
            }
            None => request.budget.map_or(room, |budget| budget.clamp(1, room)),
        };
        let grammar = request
            .tool_grammar
            .as_ref()
            .map(|spec| self.grammar_sampler(spec, reasoning == Some(true)))
            .transpose()?;
        gone()?;
        let permit = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| EngineError::Overloaded)?;
        let (tx, rx) = tmpsc::unbounded_channel();
        let job = Job {
            prompt,
            sampling: request.sampling,
            max_tokens,
            stop: request.stop,
            reasoning,
            grammar,
            tx,
        };
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        self.jobs.send(job).map_err(|_| {
            self.stats.waiting.fetch_sub(1, Ordering::Relaxed);
            EngineError::ShuttingDown
        })?;
        Ok(GenerationReceiver {
            rx,
            _permit: permit,
        })
    }

    /// Refuse a prompt that provably cannot fit before tokenizing it:
    /// tokenizing is slow for long texts and quadratic in the number of
    /// control tokens. A prompt of `b` bytes is at least `b /
    /// max_piece_bytes` tokens, and each control-token text is one token.
    fn check_fits_before_tokenizing(
        &self,
        text: &str,
        max_tokens: Option<u32>,
    ) -> Result<(), EngineError> {
        let completion = max_tokens.unwrap_or(1);
        let by_bytes = text.len() / self.max_piece_bytes;
        let at_least = if by_bytes + completion as usize > self.n_ctx as usize {
            by_bytes
        } else {
            self.control.count(text)
        };
        let requested = at_least as u64 + u64::from(completion);
        if requested > u64::from(self.n_ctx) {
            return Err(EngineError::ContextLengthExceeded {
                limit: self.n_ctx,
                requested,
                prompt: u32::try_from(at_least).unwrap_or(u32::MAX),
                completion,
            });
        }
        Ok(())
    }
}

impl Engine {
    /// Build the tool-call grammar of `spec` with llama.cpp's parser and
    /// drop it: what a request with these tools would be refused for.
    pub fn check_tool_grammar(&self, spec: &ToolCallGrammar) -> Result<(), EngineError> {
        self.grammar_sampler(spec, false).map(drop)
    }

    /// The grammar sampler of a tool-call constraint: bounded and compiled
    /// here, on the request path, so a refusal comes before queueing.
    fn grammar_sampler(
        &self,
        spec: &ToolCallGrammar,
        in_reasoning: bool,
    ) -> Result<LlamaSampler, EngineError> {
        let compiled = grammar::compile(spec, in_reasoning)?;
        let sampler = if compiled.lazy {
            let trigger = [grammar::CALL_OPEN.to_owned()];
            LlamaSampler::grammar_lazy_patterns(&self.model, &compiled.gbnf, "root", &trigger, &[])
        } else {
            LlamaSampler::grammar(&self.model, &compiled.gbnf, "root")
        };
        sampler.map_err(|e| {
            // The grammar holds request data (tool names, enum values):
            // trace level only.
            tracing::trace!(error = %e, grammar = %compiled.gbnf, "grammar refused by llama.cpp");
            EngineError::ToolGrammar(ToolGrammarError::Rejected {
                reason: e.to_string(),
            })
        })
    }

    /// Refuse a control token's text anywhere in what the caller gives the
    /// template: every field and key of the messages, the tools, the kwargs.
    fn check_no_control_tokens(
        &self,
        messages: &[Value],
        tools: Option<&[Value]>,
        kwargs: Option<&Map<String, Value>>,
    ) -> Result<(), EngineError> {
        let mut hit = None;
        for (name, items) in [("messages", Some(messages)), ("tools", tools)] {
            for (i, item) in items.unwrap_or_default().iter().enumerate() {
                hit = hit.or_else(|| self.control.find_in(item, &mut format!("{name}[{i}]")));
            }
        }
        if let (None, Some(kwargs)) = (&hit, kwargs) {
            let kwargs = Value::Object(kwargs.clone());
            hit = self
                .control
                .find_in(&kwargs, &mut "chat_template_kwargs".to_owned());
        }
        match hit {
            None => Ok(()),
            Some(hit) => Err(EngineError::InvalidRequest {
                message: format!(
                    "{} {} `{}`, a control token of this model; control tokens cannot be sent as text.",
                    hit.path,
                    if hit.in_key { "has a key containing" } else { "contains" },
                    hit.token
                ),
                param: hit.path,
            }),
        }
    }
}

/// The events of one generation. Dropping it cancels the generation: the
/// scheduler sees the closed channel before its next decode step and frees
/// the slot. The admission permit is released with it.
pub struct GenerationReceiver {
    rx: tmpsc::UnboundedReceiver<Result<GenerationEvent, EngineError>>,
    _permit: OwnedSemaphorePermit,
}

impl Stream for GenerationReceiver {
    type Item = Result<GenerationEvent, EngineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Wait for a model thread to report that its llama.cpp context is
/// created (or why it is not); the one wait of the chat and embedding
/// engines' start-up.
pub(crate) fn await_context(
    ready: &std::sync::mpsc::Receiver<Result<(), String>>,
    id: &str,
) -> Result<(), LoadError> {
    let context_error = |reason: String| LoadError::Context {
        id: id.to_owned(),
        reason,
    };
    ready
        .recv()
        .map_err(|e| context_error(e.to_string()))?
        .map_err(context_error)
}
