//! What every handler shares: the served models, the options, and the
//! shutdown signals streams observe.

use std::sync::Arc;

use moat_router::ModelRegistry;
use tokio_util::sync::CancellationToken;

use crate::ServerOptions;

/// Shared state of the application; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    models: ModelRegistry,
    options: ServerOptions,
    /// Cancelled when shutdown begins: `/ready` answers 503 from then on.
    draining: CancellationToken,
    /// Cancelled when the grace period is over: running generations stop.
    stop_generations: CancellationToken,
}

impl AppState {
    pub fn new(models: ModelRegistry, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                models,
                options,
                draining: CancellationToken::new(),
                stop_generations: CancellationToken::new(),
            }),
        }
    }

    pub fn models(&self) -> &ModelRegistry {
        &self.inner.models
    }

    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// Shutdown has begun: no new work should be routed here.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.is_cancelled()
    }

    pub(crate) fn begin_draining(&self) {
        self.inner.draining.cancel();
    }

    /// The signal running generations observe to stop.
    pub(crate) fn stop_generations_token(&self) -> CancellationToken {
        self.inner.stop_generations.clone()
    }

    pub(crate) fn stop_generations(&self) {
        self.inner.stop_generations.cancel();
    }
}
