//! Embedded inference on llama.cpp: GGUF discovery and metadata, chat
//! templates in a sandbox, and an engine that decodes many sequences in one
//! batch (continuous batching) with prefix KV reuse, and grammars that
//! constrain tool calls to the tools' JSON Schemas; embedding models
//! (BERT and others) with their own pooling, many inputs per decode.
//!
//! The only `unsafe` of moat lives in the `llama-cpp-2` crate this wraps.

pub mod catalog;
pub mod control;
pub mod embedding;
mod embedding_worker;
mod engine;
mod error;
pub mod gguf;
pub mod grammar;
pub mod sampling;
mod scheduler;
pub mod template;
pub mod text;

pub use embedding::{EmbedTicket, Embedder, EmbedderConfig, Pooling};
pub use engine::{
    Engine, EngineConfig, EngineStats, GenerateRequest, GenerationReceiver, PromptInput,
};
pub use error::{EngineError, LoadError};
