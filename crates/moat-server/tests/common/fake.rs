//! A fake backend behind the real `Backend` trait. The model name picks the
//! behaviour:
//! - `echo`: answers with the last user message (the prompt for text
//!   completions), word by word, with usage;
//! - `think`: `<think>` reasoning, then content, split into reasoning and
//!   content deltas by `ReasoningSplitter`;
//! - `error-before`: refuses with `overloaded` before streaming;
//! - `error-midstream`: some content, then an internal error;
//! - `slow`: one token every 50 ms until the stream is dropped; drops are
//!   counted;
//! - `tools`: two tool calls, in fragments, finish reason `tool_calls`;
//! - `not-ready`: like `echo`, but `ready()` is false;
//! - `echo-chars` (not in [`MODELS`]): like `echo`, in pieces of 3
//!   characters, so a placeholder arrives split across deltas;
//! - `echo-all` (not in [`MODELS`]): the last user message as reasoning,
//!   content and the JSON arguments of a tool call, each in pieces of 3
//!   characters.
//! - `embed` (not in [`MODELS`]): an embedding model; each input's vector
//!   is `[words, chars, index, 1]` over its text (token ids count as
//!   words), usage the words; it refuses chat and completions as the real
//!   one does.
//!
//! Every request a fake model receives is recorded in [`Received`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use moat_protocol::chat::{ChatCompletionRequest, FunctionCallDelta, Role, ToolCallDelta};
use moat_protocol::completion::CompletionRequest;
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest, Embeddings};
use moat_protocol::reasoning::ReasoningSplitter;
use moat_protocol::{ApiError, FinishReason, GenerationEvent, Usage};
use moat_router::{Backend, BackendInfo, EventStream, ModelPurpose, ModelRegistry, RouteError};

/// Every fake model name.
pub const MODELS: [&str; 6] = [
    "echo",
    "think",
    "error-before",
    "error-midstream",
    "slow",
    "tools",
];

/// How many `slow` streams were started and dropped.
#[derive(Debug, Default, Clone)]
pub struct StreamCounters {
    pub started: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
}

impl StreamCounters {
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// The requests the fake models received, in order.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub chats: Arc<Mutex<Vec<ChatCompletionRequest>>>,
    pub completions: Arc<Mutex<Vec<CompletionRequest>>>,
    pub embeddings: Arc<Mutex<Vec<EmbeddingRequest>>>,
}

impl Received {
    pub fn chats(&self) -> Vec<ChatCompletionRequest> {
        self.chats.lock().unwrap().clone()
    }

    pub fn completions(&self) -> Vec<CompletionRequest> {
        self.completions.lock().unwrap().clone()
    }

    pub fn embeddings(&self) -> Vec<EmbeddingRequest> {
        self.embeddings.lock().unwrap().clone()
    }
}

/// The fake models and the counters they share.
#[derive(Default, Clone)]
pub struct FakeModels {
    pub counters: StreamCounters,
    pub received: Received,
}

impl FakeModels {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every fake model.
    pub fn registry(&self) -> ModelRegistry {
        self.registry_of(&MODELS)
    }

    pub fn registry_of(&self, names: &[&str]) -> ModelRegistry {
        let mut registry = ModelRegistry::new();
        for name in names {
            registry
                .insert(Arc::new(FakeBackend {
                    id: (*name).to_owned(),
                    counters: self.counters.clone(),
                    received: self.received.clone(),
                }))
                .unwrap();
        }
        registry
    }
}

pub struct FakeBackend {
    id: String,
    counters: StreamCounters,
    received: Received,
}

/// Counts a drop of the stream that owns it.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        out.push(if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    out
}

/// `text` in pieces of 3 characters.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(3).map(|c| c.iter().collect()).collect()
}

fn count_words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

fn from_events(events: Vec<Result<GenerationEvent, ApiError>>) -> EventStream {
    stream::iter(events).boxed()
}

impl FakeBackend {
    fn generate(&self, prompt: &str, prompt_tokens: u32) -> Result<EventStream, ApiError> {
        match self.id.as_str() {
            "echo" | "not-ready" => {
                let mut events: Vec<_> = words(prompt)
                    .into_iter()
                    .map(|w| Ok(GenerationEvent::content(w)))
                    .collect();
                events.push(Ok(GenerationEvent::Finish {
                    reason: FinishReason::Stop,
                    usage: Usage::new(prompt_tokens, count_words(prompt), None),
                }));
                Ok(from_events(events))
            }
            "echo-chars" => {
                let mut events: Vec<_> = pieces(prompt)
                    .into_iter()
                    .map(|p| Ok(GenerationEvent::content(p)))
                    .collect();
                events.push(Ok(GenerationEvent::Finish {
                    reason: FinishReason::Stop,
                    usage: Usage::new(prompt_tokens, count_words(prompt), None),
                }));
                Ok(from_events(events))
            }
            "echo-all" => {
                let mut events: Vec<_> = pieces(prompt)
                    .into_iter()
                    .map(|p| Ok(GenerationEvent::reasoning(p)))
                    .collect();
                events.extend(
                    pieces(prompt)
                        .into_iter()
                        .map(|p| Ok(GenerationEvent::content(p))),
                );
                let arguments = serde_json::json!({ "text": prompt }).to_string();
                for (i, piece) in pieces(&arguments).into_iter().enumerate() {
                    let first = i == 0;
                    events.push(Ok(GenerationEvent::Delta {
                        content: String::new(),
                        reasoning: String::new(),
                        tool_calls: vec![ToolCallDelta {
                            index: 0,
                            id: first.then(|| "call_0".to_owned()),
                            kind: first.then(|| "function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: first.then(|| "remember".to_owned()),
                                arguments: Some(piece),
                            }),
                        }],
                    }));
                }
                events.push(Ok(GenerationEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    usage: Usage::new(prompt_tokens, count_words(prompt), None),
                }));
                Ok(from_events(events))
            }
            "think" => {
                let mut splitter = ReasoningSplitter::new(false);
                let mut events = Vec::new();
                for piece in [
                    "<thi",
                    "nk>Let me",
                    " think.</th",
                    "ink>The answer",
                    " is 42.",
                ] {
                    let split = splitter.push(piece);
                    events.push(Ok(GenerationEvent::Delta {
                        content: split.content,
                        reasoning: split.reasoning,
                        tool_calls: Vec::new(),
                    }));
                }
                events.push(Ok(GenerationEvent::Finish {
                    reason: FinishReason::Stop,
                    usage: Usage::new(prompt_tokens, 9, Some(2)),
                }));
                Ok(from_events(events))
            }
            "error-before" => Err(ApiError::overloaded()),
            "error-midstream" => Ok(from_events(vec![
                Ok(GenerationEvent::content("Hello")),
                Ok(GenerationEvent::content(" world")),
                Err(ApiError::internal()),
                // Never reached: a stream ends after its error.
                Ok(GenerationEvent::content(" unreachable")),
            ])),
            "slow" => {
                self.counters.started.fetch_add(1, Ordering::SeqCst);
                let guard = DropGuard(self.counters.dropped.clone());
                Ok(stream::unfold((guard, 0u64), |(guard, n)| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Ok(GenerationEvent::content(format!("t{n} "))),
                        (guard, n + 1),
                    ))
                })
                .boxed())
            }
            "tools" => {
                let call = |index, id: Option<&str>, name: Option<&str>, args: &str| {
                    Ok(GenerationEvent::Delta {
                        content: String::new(),
                        reasoning: String::new(),
                        tool_calls: vec![ToolCallDelta {
                            index,
                            id: id.map(str::to_owned),
                            kind: id.map(|_| "function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: name.map(str::to_owned),
                                arguments: Some(args.to_owned()),
                            }),
                        }],
                    })
                };
                Ok(from_events(vec![
                    call(0, Some("call_0"), Some("get_weather"), ""),
                    call(0, None, None, "{\"city\":"),
                    call(0, None, None, " \"Paris\"}"),
                    call(1, Some("call_1"), Some("get_time"), "{\"tz\""),
                    call(1, None, None, ": \"CET\"}"),
                    Ok(GenerationEvent::Finish {
                        reason: FinishReason::ToolCalls,
                        usage: Usage::new(prompt_tokens, 20, None),
                    }),
                ]))
            }
            other => Err(ApiError::model_not_found(other)),
        }
    }
}

#[async_trait]
impl Backend for FakeBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            id: self.id.clone(),
            kind: "fake",
            context_length: Some(4096),
            created: 1_700_000_000,
            purpose: if self.id == "embed" {
                ModelPurpose::Embedding
            } else {
                ModelPurpose::Generation
            },
        }
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<Embeddings, ApiError> {
        request.check_dimensions(4)?;
        self.received
            .embeddings
            .lock()
            .unwrap()
            .push(request.clone());
        let texts: Vec<(u32, u32)> = match &request.input {
            EmbeddingInput::Texts(texts) => texts
                .iter()
                .map(|t| (count_words(t), t.chars().count() as u32))
                .collect(),
            EmbeddingInput::Tokens(ids) => ids.iter().map(|l| (l.len() as u32, 0)).collect(),
        };
        Ok(Embeddings {
            prompt_tokens: texts.iter().map(|(w, _)| w).sum(),
            vectors: texts
                .iter()
                .enumerate()
                .map(|(i, (w, c))| vec![*w as f32, *c as f32, i as f32, 1.0])
                .collect(),
        })
    }

    async fn token_text(&self, ids: Vec<Vec<u32>>) -> Option<Result<Vec<String>, ApiError>> {
        // Token id n reads as the word `wn`; 7 reads as a phone number.
        Some(Ok(ids
            .iter()
            .map(|l| {
                l.iter()
                    .map(|n| {
                        if *n == 7 {
                            "13812345678".to_owned()
                        } else {
                            format!("w{n}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()))
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<EventStream, ApiError> {
        if self.id == "embed" {
            return Err(RouteError::EmbeddingModel(request.model.clone()).into_api());
        }
        self.received.chats.lock().unwrap().push(request.clone());
        let prompt_tokens = request
            .messages
            .iter()
            .filter_map(|m| m.content.as_ref())
            .map(|c| count_words(&c.to_text()))
            .sum();
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.content.as_ref())
            .map(|c| c.to_text())
            .unwrap_or_default();
        self.generate(&last_user, prompt_tokens)
    }

    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError> {
        if self.id == "embed" {
            return Err(RouteError::EmbeddingModel(request.model.clone()).into_api());
        }
        self.received
            .completions
            .lock()
            .unwrap()
            .push(request.clone());
        let prompt = request.prompt_text()?.to_owned();
        self.generate(&prompt, count_words(&prompt))
    }

    async fn ready(&self) -> bool {
        self.id != "not-ready"
    }
}
