//! Model name → backend. A backend is anything that turns a chat or text
//! completion request into a stream of [`GenerationEvent`]s: the embedded
//! llama.cpp engine, or an OpenAI-compatible upstream server.

mod backend;
#[cfg(feature = "embedded")]
pub mod embedded;
mod registry;
pub mod upstream;

pub use backend::{Backend, BackendInfo, BackendLoad, EventStream};
pub use registry::ModelRegistry;
