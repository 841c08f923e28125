//! Embedded inference on llama.cpp: GGUF discovery and metadata, chat
//! templates in a sandbox, and an engine that decodes many sequences in one
//! batch (continuous batching) with prefix KV reuse.
//!
//! The only `unsafe` of moat lives in the `llama-cpp-2` crate this wraps.

pub mod catalog;
mod engine;
mod error;
pub mod gguf;
pub mod sampling;
mod scheduler;
pub mod template;
pub mod text;

pub use engine::{
    Engine, EngineConfig, EngineStats, GenerateRequest, GenerationReceiver, PromptInput,
};
pub use error::{EngineError, LoadError};
