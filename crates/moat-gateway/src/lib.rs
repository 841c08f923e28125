//! The request pipeline, knowing nothing of HTTP. A [`Gateway`] holds the
//! named parts every request passes through; a [`Call`] is one request's
//! caller and audit trail; [`Gateway::chat`], [`Gateway::respond`] (the
//! Responses API over the chat turn), [`Gateway::complete`],
//! [`Gateway::embed`] and [`Gateway::decide`] are the entry points. The steps, in flow order, one
//! module each:
//!
//! 1. `authorize` — may the caller use this model (tools and knowledge
//!    bases are asked the same way, with [`moat_policy::authorize`]);
//! 2. [`limits`] — rate limits and quotas, the answer's metering;
//! 3. [`guard`] — personal data found, blocked, masked or pseudonymized;
//! 4. `augment` — knowledge-base passages quoted into a grounded chat,
//!    once per answer, and the answer's citations of them;
//! 5. `route` — the model's backend;
//! 6. `turn` — one model turn: guard → augment → generate → restore,
//!    written once, shared by chat and completions (`embed` runs the same
//!    steps without generation);
//! 7. [`tools`] — the loop that drives turns (a plain chat is a loop with no
//!    tools);
//! 8. [`audit`] — one record per request;
//! 9. [`metrics`] — what Prometheus scrapes.
//!
//! Beside the steps, the parts that keep what callers ask them to:
//! [`knowledge`] (files, vector stores, search) and [`conversations`]
//! (kept for their owner, sealed under the owner's content key).

mod access;
mod answer;
pub mod audit;
mod augment;
mod authorize;
mod call;
mod chat;
mod complete;
pub mod conversations;
mod embed;
mod error;
pub mod guard;
pub mod knowledge;
pub mod limits;
pub mod metrics;
mod respond;
mod route;
pub mod tools;
mod turn;

use std::sync::Arc;

use moat_policy::Principal;
use moat_protocol::ApiError;
use moat_router::{BackendInfo, ModelRegistry};

pub use access::Access;
pub use answer::{Answer, Rejection};
pub use audit::AuditTrail;
pub use call::Call;
pub use chat::Decision;
pub use conversations::Conversations;
pub use embed::Embedded;
pub use error::GatewayError;
pub use guard::{PiiFound, PiiGuard};
pub use knowledge::{FusionWeights, Knowledge, KnowledgeSettings, SearchMode, SearchOptions};
pub use metrics::Metrics;
pub use respond::{Responded, MAX_CHAIN};
pub use tools::{ServerTools, ToolLoopSettings};

/// A text completion's `max_tokens` when the request names none (OpenAI's).
pub const DEFAULT_COMPLETION_MAX_TOKENS: u32 = 16;

/// How the pipeline behaves; one default per field.
#[derive(Debug, Clone, Default)]
pub struct GatewaySettings {
    /// The most tokens a chat answer may have when the request names no
    /// `max_tokens`; `None`: until the context is full. Either way an
    /// answer never runs past the caller's remaining daily token quota.
    pub default_max_tokens: Option<u32>,
}

/// The parts of the pipeline an operator configures, beside the models and
/// access: the server-wide personal-data guard (default: the built-in
/// recognizers, policy `pseudonymize`), the server-side tools requests may
/// opt into (`None`: none registered), and the settings.
#[derive(Clone, Default)]
pub struct GatewayParts {
    pub guard: PiiGuard,
    pub tools: Option<ServerTools>,
    /// Knowledge bases (files, vector stores, search); `None`: off, the
    /// routes answer 404.
    pub knowledge: Option<KnowledgeSettings>,
    pub settings: GatewaySettings,
}

/// The pipeline's parts; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    parts: Arc<Parts>,
}

struct Parts {
    models: ModelRegistry,
    access: Access,
    guard: PiiGuard,
    tools: Option<ServerTools>,
    knowledge: Option<Knowledge>,
    conversations: Option<Conversations>,
    metrics: Metrics,
    settings: GatewaySettings,
}

impl Gateway {
    /// The pipeline over `models`, with `access` (authentication, limits,
    /// the store, the audit log) and the configured `parts`.
    pub fn new(models: ModelRegistry, access: Access, parts: GatewayParts) -> Self {
        let GatewayParts {
            guard,
            tools,
            knowledge,
            settings,
        } = parts;
        let metrics = Metrics::new();
        let knowledge = knowledge.map(|settings| {
            Knowledge::new(
                access.store.clone(),
                models.clone(),
                guard.clone(),
                settings,
                metrics.clone(),
            )
        });
        let conversations = access
            .audit_log
            .clone()
            .map(|log| Conversations::new(access.store.clone(), log));
        Self {
            parts: Arc::new(Parts {
                knowledge,
                conversations,
                models,
                access,
                guard,
                tools,
                metrics,
                settings,
            }),
        }
    }

    /// Every served model, whoever asks: for health checks and metrics
    /// only. What a caller sees is [`Gateway::models_for`].
    pub fn all_models(&self) -> &ModelRegistry {
        &self.parts.models
    }

    pub fn access(&self) -> &Access {
        &self.parts.access
    }

    /// The server-wide personal-data guard (the admin API's scan, audit
    /// content masking).
    pub fn guard(&self) -> &PiiGuard {
        &self.parts.guard
    }

    /// The personal-data guard with `principal`'s role policy, if it has
    /// one.
    pub fn guard_for(&self, principal: &Principal) -> PiiGuard {
        match principal.pii_policy() {
            Some(policy) => self.parts.guard.with_policy(policy),
            None => self.parts.guard.clone(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.parts.metrics
    }

    /// Knowledge bases, when they are on.
    pub fn knowledge(&self) -> Option<&Knowledge> {
        self.parts.knowledge.as_ref()
    }

    /// Conversations kept for their owners; on whenever the audit log is
    /// (their content is sealed under its subject keys).
    pub fn conversations(&self) -> Option<&Conversations> {
        self.parts.conversations.as_ref()
    }

    /// The server-side tools, if any are registered.
    pub fn tools(&self) -> Option<&ServerTools> {
        self.parts.tools.as_ref()
    }

    pub fn settings(&self) -> &GatewaySettings {
        &self.parts.settings
    }

    /// The models `principal` may use.
    pub fn models_for(&self, principal: &Principal) -> Vec<BackendInfo> {
        self.parts
            .models
            .infos()
            .into_iter()
            .filter(|info| {
                moat_policy::authorize(principal, moat_policy::Permission::Model(&info.id)).is_ok()
            })
            .collect()
    }

    /// Requests are audited (an audit log is configured).
    pub fn audits(&self) -> bool {
        self.parts.access.audit.is_some()
    }

    /// Write the record of a request whose answer is not a generation
    /// stream, finished with the response's `status` and `error`: 503 when
    /// it cannot be written (nothing is acknowledged without its record).
    pub async fn record(
        &self,
        trail: &AuditTrail,
        status: u16,
        error: Option<&ApiError>,
    ) -> Result<(), ApiError> {
        let Some(writer) = &self.parts.access.audit else {
            return Ok(());
        };
        let outcome = if (200..300).contains(&status) {
            moat_audit::Outcome::Completed
        } else if status >= 500 {
            moat_audit::Outcome::Failed
        } else {
            moat_audit::Outcome::Refused
        };
        let record = trail.finish(status, error, outcome, &self.parts.guard);
        audit::append(&self.parts.metrics, writer, record)
            .await
            .map(|_| ())
            .map_err(|error| {
                tracing::error!(%error, "audit record not written; answering 503");
                ApiError::unavailable()
            })
    }
}
