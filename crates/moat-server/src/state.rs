//! What every handler shares: the gateway (the pipeline), the HTTP
//! options, and the shutdown signals streams observe.

use std::sync::Arc;

use moat_gateway::Gateway;
use tokio_util::sync::CancellationToken;

use crate::{Access, ServerOptions};

/// Shared state of the application; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Gateway,
    options: ServerOptions,
    /// Cancelled when shutdown begins: `/ready` answers 503 from then on.
    draining: CancellationToken,
    /// Cancelled when the grace period is over: running generations stop.
    stop_generations: CancellationToken,
}

impl AppState {
    /// Serve `gateway` with the HTTP `options`.
    pub fn new(gateway: Gateway, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                gateway,
                options,
                draining: CancellationToken::new(),
                stop_generations: CancellationToken::new(),
            }),
        }
    }

    /// The request pipeline.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    pub fn access(&self) -> &Access {
        self.inner.gateway.access()
    }

    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The server's metrics, for `/metrics` and whatever records into them.
    pub fn metrics(&self) -> &moat_gateway::Metrics {
        self.inner.gateway.metrics()
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
