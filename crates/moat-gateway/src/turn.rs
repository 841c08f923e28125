//! One model turn, written once for chat and completions: budget → guard
//! → generate → restore → meter. The tool loop drives turns; a text
//! completion is one turn. A grounded chat's passages were quoted into the
//! request once, before its first turn (`augment`), so every turn sees
//! them and the guard scans them with the rest.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use moat_protocol::chat::ChatCompletionRequest;
use moat_protocol::completion::CompletionRequest;
use moat_protocol::{ApiError, GenerationEvent};
use moat_router::{Backend, EventStream};

use crate::audit::AuditTrail;
use crate::guard::{PiiFound, PiiGuard, ResponseRestorer};
use crate::limits::{self, Estimate, Quota};

/// A request one turn can run: what it is expected to use, how it is
/// guarded and how a backend generates it.
pub(crate) trait TurnRequest: Send + Sized + 'static {
    /// The tokens it is expected to use, from its size.
    fn estimate(&self) -> Estimate;
    /// The `max_tokens` it names.
    fn max_tokens(&self) -> Option<u32>;
    /// Cap its completion at `budget` tokens (the quota's room).
    fn set_budget(&mut self, budget: Option<u32>);
    /// Apply the guard's policy to every text that reaches the model.
    fn protect(
        &mut self,
        guard: &PiiGuard,
    ) -> impl Future<Output = Result<(PiiFound, ResponseRestorer), ApiError>> + Send;
    /// Its text as the audit record keeps it (per the content policy).
    fn audit_text(&self) -> String;
    /// The model name asked for, whether to stream, whether to add the
    /// usage chunk: how its answer is rendered.
    fn rendering(&self) -> (String, bool, bool);
    /// Start generating it.
    fn generate(
        self,
        backend: &dyn Backend,
    ) -> impl Future<Output = Result<EventStream, ApiError>> + Send;
}

impl TurnRequest for ChatCompletionRequest {
    fn estimate(&self) -> Estimate {
        limits::chat_estimate(self)
    }

    fn max_tokens(&self) -> Option<u32> {
        self.max_new_tokens()
    }

    fn set_budget(&mut self, budget: Option<u32>) {
        self.token_budget = budget;
    }

    async fn protect(
        &mut self,
        guard: &PiiGuard,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        guard.protect_chat(self).await
    }

    fn audit_text(&self) -> String {
        crate::audit::chat_text(self)
    }

    fn rendering(&self) -> (String, bool, bool) {
        (self.model.clone(), self.stream, self.include_usage())
    }

    async fn generate(self, backend: &dyn Backend) -> Result<EventStream, ApiError> {
        backend.chat(self).await
    }
}

impl TurnRequest for CompletionRequest {
    fn estimate(&self) -> Estimate {
        limits::completion_estimate(self)
    }

    fn max_tokens(&self) -> Option<u32> {
        self.max_tokens
    }

    fn set_budget(&mut self, budget: Option<u32>) {
        self.token_budget = budget;
    }

    async fn protect(
        &mut self,
        guard: &PiiGuard,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        guard.protect_prompt(self).await
    }

    fn audit_text(&self) -> String {
        crate::audit::completion_text(self)
    }

    fn rendering(&self) -> (String, bool, bool) {
        (self.model.clone(), self.stream, self.include_usage())
    }

    async fn generate(self, backend: &dyn Backend) -> Result<EventStream, ApiError> {
        backend.complete(self).await
    }
}

/// What every turn of one request shares.
#[derive(Clone)]
pub(crate) struct Turns {
    pub backend: Arc<dyn Backend>,
    /// The guard with the caller's policy.
    pub guard: PiiGuard,
    pub trail: AuditTrail,
    /// The request's admission: each turn's completion is capped by the
    /// room it leaves, and each finished turn counted.
    pub quota: Quota,
}

impl Turns {
    /// Run one turn of `request`. What fails before the model starts
    /// (the guard's refusal, a backend's admission) is the error; what fails
    /// later is in the stream.
    pub async fn run<R: TurnRequest>(&self, mut request: R) -> Result<EventStream, ApiError> {
        let estimate = request.estimate();
        request.set_budget(self.quota.budget(estimate, request.max_tokens()));
        let (found, restorer) = request.protect(&self.guard).await?;
        self.trail.pii(&found);
        let events = request.generate(self.backend.as_ref()).await?;
        let quota = self.quota.clone();
        let metered = events.inspect(move |item| {
            if let Ok(GenerationEvent::Finish { usage, .. }) = item {
                quota.turn_finished(
                    u64::from(usage.prompt_tokens),
                    u64::from(usage.completion_tokens),
                );
            }
        });
        Ok(restorer.events(metered.boxed()))
    }
}

/// An answer admitted and ready for its first turn.
pub(crate) struct Opened {
    pub turns: Turns,
    estimate: Estimate,
    rate: moat_policy::RateStatus,
    rendering: (String, bool, bool),
}

impl crate::Gateway {
    /// Admit `request` for its estimate, keep its prompt in the audit
    /// trail, and set up its turns on `backend`; `default_max_tokens` caps
    /// a request that names no `max_tokens`.
    pub(crate) async fn open<R: TurnRequest>(
        &self,
        call: &crate::Call,
        backend: Arc<dyn Backend>,
        request: &R,
        default_max_tokens: Option<u32>,
    ) -> Result<Opened, crate::Rejection> {
        let estimate = request.estimate();
        let admission = self.admit(call, estimate.total()).await?;
        let rate = admission.status;
        let guard = self.guard_for(&call.principal);
        call.trail.prompt(|| request.audit_text(), &guard);
        Ok(Opened {
            turns: Turns {
                backend,
                guard,
                trail: call.trail.clone(),
                quota: Quota::new(admission, default_max_tokens),
            },
            estimate,
            rate,
            rendering: request.rendering(),
        })
    }

    /// The answer made of `events`: metered, recorded, with how to render
    /// it.
    pub(crate) fn answer(
        &self,
        call: &crate::Call,
        opened: Opened,
        events: EventStream,
    ) -> crate::Answer {
        let (model, stream, include_usage) = opened.rendering;
        crate::Answer {
            events: self.answer_events(call, events, opened.turns.quota, &model, opened.estimate),
            rate: opened.rate,
            model,
            stream,
            include_usage,
        }
    }
}
