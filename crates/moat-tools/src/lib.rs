//! Governed server-side tools: the operator's `[[tools]]` checked at
//! start-up ([`ToolRegistry`]), the model's arguments validated against each
//! tool's JSON Schema, one-time confirmation ids for calls with side effects
//! ([`Confirmations`]), and an HTTP executor that only reaches the hosts and
//! addresses the operator allowed ([`ToolExecutor`]).
//!
//! Who may call which tool, and the loop that feeds results back to the
//! model, live in the server; this crate only answers "is this call well
//! formed" and "run it safely".

mod allow;
mod cache;
mod config;
mod confirm;
mod error;
mod http;
mod private_ca;
mod registry;
mod resolve;
mod schema;
mod template;

pub use cache::CacheStats;
pub use config::{BodyMode, HttpConfig, ToolConfig};
pub use confirm::{new_id as new_confirmation_id, Confirmations, ConfirmationsFull, TakeError};
pub use error::{InvalidArguments, RegistryError, ToolError};
pub use http::{ToolExecutor, ToolOutput, MAX_ERROR_BODY_BYTES, MAX_REDIRECTS};
pub use private_ca::MAX_CA_FILE_BYTES;
pub use registry::{
    RegisteredTool, ToolRegistry, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES,
    MAX_TIMEOUT,
};
