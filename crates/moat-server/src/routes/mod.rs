//! One module per endpoint; each handler extracts, calls, maps.

pub(crate) mod admin;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod models;
