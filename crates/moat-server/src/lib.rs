//! The axum application: OpenAI-compatible routes over a
//! [`ModelRegistry`], request ids and access logs, the personal-data guard,
//! SSE streaming, one error rendering, and graceful shutdown.

mod aggregate;
mod chunks;
mod error;
mod extract;
mod guard;
mod ids;
mod request_id;
mod routes;
mod serve;
mod sse;
mod state;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use moat_router::ModelRegistry;

pub use error::ErrorResponse;
pub use guard::{PiiFound, PiiGuard};
pub use request_id::{RequestId, REQUEST_ID_HEADER};
pub use serve::serve;
pub use state::AppState;

/// How the HTTP server behaves; one default per field.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest accepted request body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long running requests may go on after shutdown was asked for,
    /// before open streams are ended with an error event.
    pub shutdown_grace: Duration,
    /// The personal-data guard every request passes before a model sees
    /// it. Default: the built-in recognizers, policy `pseudonymize`.
    pub guard: PiiGuard,
}

impl ServerOptions {
    /// 8 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
    /// 30 seconds.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
            guard: PiiGuard::default(),
        }
    }
}

/// The application serving `models`, for tests and for embedding; [`serve`]
/// adds the listener and graceful shutdown.
pub fn app(models: ModelRegistry, options: ServerOptions) -> Router {
    router(AppState::new(models, options))
}

pub(crate) fn router(state: AppState) -> Router {
    let max_body_bytes = state.options().max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(routes::chat::chat_completions))
        .route("/v1/completions", post(routes::completions::completions))
        .route("/v1/models", get(routes::models::list_models))
        .route("/v1/models/{*model}", get(routes::models::get_model))
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready))
        .fallback(routes::fallback::not_found)
        .method_not_allowed_fallback(routes::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(request_id::track_request))
        .with_state(state)
}
