//! OpenAI wire types (serde: chat, completions, embeddings, files, vector
//! stores), the error JSON every refusal is rendered in,
//! generation events shared by all backends, and parsers of model output
//! (`<think>` reasoning, `<tool_call>` blocks), and civil time.

pub mod chat;
pub mod completion;
pub mod conversations;
pub mod embeddings;
pub mod error;
pub mod event;
pub mod files;
pub mod ids;
pub mod models;
pub mod page;
pub mod reasoning;
pub mod responses;
pub mod time;
pub mod toolcall;
pub mod toolchoice;
pub mod vector_stores;

pub use error::{ApiError, ErrorCode, ErrorKind};
pub use event::{FinishReason, GenerationEvent, ToolActivity, Usage};
