//! One module per endpoint; each handler extracts, calls, maps.

pub(crate) mod admin;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod models;

use moat_router::EventStream;

use crate::audit::{self, AuditTrail};
use crate::guard::ResponseRestorer;
use crate::limits::{self, Estimate, Quota};
use crate::state::AppState;

/// A generation's events as the caller gets them, in the order every
/// generation route needs: the backend's events are metered (quota, usage,
/// metrics) as the model produced them, then pseudonyms are restored, then
/// the audit record is written before the last event leaves.
pub(crate) fn answer_events(
    state: &AppState,
    trail: AuditTrail,
    backend_events: EventStream,
    quota: Quota,
    model: String,
    estimate: Estimate,
    restorer: ResponseRestorer,
) -> EventStream {
    let answer = state.metrics().answer(&model);
    let metered = limits::metered(backend_events, quota, model, estimate, answer);
    audit::recorded(restorer.events(metered), trail, state.clone())
}
