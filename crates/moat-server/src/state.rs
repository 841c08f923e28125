//! What every handler shares: the served models, access control, the
//! options, and the shutdown signals streams observe.

use std::sync::Arc;

use moat_policy::{Admission, Principal, Refusal};
use moat_protocol::{ApiError, ErrorKind};
use moat_router::{Backend, BackendInfo, ModelRegistry};
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::auth::Caller;
use crate::guard::PiiGuard;
use crate::metrics::Metrics;
use crate::tools::ServerTools;
use crate::ServerOptions;

/// Shared state of the application; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    models: ModelRegistry,
    access: Access,
    options: ServerOptions,
    metrics: Metrics,
    /// Cancelled when shutdown begins: `/ready` answers 503 from then on.
    draining: CancellationToken,
    /// Cancelled when the grace period is over: running generations stop.
    stop_generations: CancellationToken,
}

impl AppState {
    pub fn new(models: ModelRegistry, access: Access, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                models,
                access,
                options,
                metrics: Metrics::new(),
                draining: CancellationToken::new(),
                stop_generations: CancellationToken::new(),
            }),
        }
    }

    /// Every served model, whoever asks: for health checks only. Routes
    /// that serve a caller use [`AppState::backend_for`] and
    /// [`AppState::models_for`].
    pub(crate) fn all_models(&self) -> &ModelRegistry {
        &self.inner.models
    }

    pub fn access(&self) -> &Access {
        &self.inner.access
    }

    /// The backend of `model` if the caller may use it: 403
    /// `model_not_allowed` when no role allows the name (whether it exists
    /// or not, so names cannot be probed), 404 when allowed but not served.
    pub(crate) fn backend_for(
        &self,
        caller: &Caller,
        model: &str,
    ) -> Result<Arc<dyn Backend>, ApiError> {
        if !caller.0.may_use_model(model) {
            return Err(ApiError::new(
                ErrorKind::ModelNotAllowed,
                format!("You are not allowed to use the model `{model}`."),
            )
            .with_param("model"));
        }
        self.inner.models.get(model)
    }

    /// The server-side tools, if any are registered.
    pub(crate) fn tools(&self) -> Option<&ServerTools> {
        self.inner.options.tools.as_ref()
    }

    /// The definitions of the server-side tools `names`, when the caller
    /// may use every one (403 `tool_not_allowed` otherwise).
    pub(crate) fn offer_tools(
        &self,
        caller: &Caller,
        names: &[String],
    ) -> Result<Vec<moat_protocol::chat::Tool>, ApiError> {
        match self.tools() {
            Some(tools) => tools.offer(&caller.0, names),
            None => Err(ApiError::new(
                ErrorKind::ToolNotAllowed,
                format!(
                    "You are not allowed to use the tool `{}`.",
                    names.first().map_or("", String::as_str)
                ),
            )
            .with_param("moat.tools")),
        }
    }

    /// The models the caller may use.
    pub(crate) fn models_for(&self, caller: &Caller) -> Vec<BackendInfo> {
        self.inner
            .models
            .infos()
            .into_iter()
            .filter(|info| caller.0.may_use_model(&info.id))
            .collect()
    }

    /// Check the caller's rate limits and quotas for a request expected to
    /// need `estimated_tokens`.
    pub(crate) async fn admit(
        &self,
        caller: &Caller,
        estimated_tokens: u64,
    ) -> Result<Admission, Refusal> {
        self.inner
            .access
            .limiter
            .admit(&caller.0, estimated_tokens)
            .await
    }

    /// The personal-data guard with the caller's role policy, if it has one.
    pub(crate) fn guard_for(&self, principal: &Principal) -> PiiGuard {
        let guard = &self.inner.options.guard;
        match principal.pii_policy() {
            Some(policy) => guard.with_policy(policy),
            None => guard.clone(),
        }
    }

    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The server's metrics, for `/metrics` and whatever records into them.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
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
