//! What an entry point gives back: the answer's events with what the HTTP
//! layer renders around them, or the refusal with what a client needs to
//! retry.

use moat_policy::{RateStatus, Refusal};
use moat_protocol::ApiError;
use moat_router::EventStream;

/// A generation under way: its events (metered, restored, recorded) and
/// how it should be rendered.
pub struct Answer {
    pub events: EventStream,
    /// The limits that applied, for the `x-ratelimit-*` headers.
    pub rate: RateStatus,
    /// The model name the caller asked for.
    pub model: String,
    /// Stream it as SSE.
    pub stream: bool,
    /// Add the usage chunk to the stream.
    pub include_usage: bool,
}

/// A request refused before its answer started.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub error: ApiError,
    /// Limits refused it: retry after this long, with these rate headers.
    pub limited: Option<(u64, RateStatus)>,
}

impl From<ApiError> for Rejection {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            limited: None,
        }
    }
}

impl From<Refusal> for Rejection {
    fn from(refusal: Refusal) -> Self {
        Self {
            error: ApiError::from(refusal.error),
            limited: Some((refusal.retry_after_ms, refusal.status)),
        }
    }
}

impl crate::Gateway {
    /// A generation's events as the caller gets them: metered (quota,
    /// usage, metrics) as they come, then recorded — the audit record is
    /// written before the last event leaves.
    pub(crate) fn answer_events(
        &self,
        call: &crate::Call,
        events: EventStream,
        quota: crate::limits::Quota,
        model: &str,
        estimate: crate::limits::Estimate,
    ) -> EventStream {
        let answer = self.metrics().answer(model);
        let metered = crate::limits::metered(events, quota, model.to_owned(), estimate, answer);
        crate::audit::recorded(
            metered,
            call.trail.clone(),
            self.access().audit.clone(),
            self.metrics().clone(),
            self.guard().clone(),
        )
    }
}
