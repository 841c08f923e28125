//! The text completion entry point: one turn, no tools.

use moat_protocol::completion::CompletionRequest;

use crate::audit;
use crate::limits::{self, Quota};
use crate::turn::Turns;
use crate::{Answer, Call, Gateway, Rejection, DEFAULT_COMPLETION_MAX_TOKENS};

impl Gateway {
    /// Answer a raw-prompt text completion.
    pub async fn complete(
        &self,
        call: &Call,
        request: CompletionRequest,
    ) -> Result<Answer, Rejection> {
        request.validate()?;
        let backend = self.route(call, &request.model)?;
        let estimate = limits::completion_estimate(&request);
        let admission = self.admit(call, estimate.total()).await?;
        let rate = admission.status;
        let (model, stream, include_usage) = (
            request.model.clone(),
            request.stream,
            request.include_usage(),
        );
        let guard = self.guard_for(&call.principal);
        call.trail
            .prompt(|| audit::completion_text(&request), &guard);
        // OpenAI's default of 16 tokens, and never past the remaining quota.
        let quota = Quota::new(admission, Some(DEFAULT_COMPLETION_MAX_TOKENS));
        let turns = Turns {
            backend,
            guard,
            trail: call.trail.clone(),
            quota: quota.clone(),
        };
        let events = turns.run(request).await?;
        Ok(Answer {
            events: self.answer_events(call, events, quota, &model, estimate),
            rate,
            model,
            stream,
            include_usage,
        })
    }
}
