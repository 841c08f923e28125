//! Model name → backend. A backend is anything that turns a chat or text
//! completion request into a stream of [`GenerationEvent`]s (and, for an
//! embedding model, inputs into vectors): the embedded llama.cpp engine, or
//! an OpenAI-compatible upstream server.

mod backend;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "embedded")]
pub mod embedding;
mod error;
mod registry;
pub mod upstream;

pub use backend::{Backend, BackendInfo, BackendLoad, EventStream, ModelPurpose};
pub use error::{blocking, RouteError};
pub use registry::ModelRegistry;
