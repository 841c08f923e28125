//! `POST /v1/completions`: raw-prompt text completion.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_protocol::completion::CompletionRequest;

use crate::audit::{self, AuditTrail};
use crate::auth::Caller;
use crate::chunks::{CompletionChunks, ResponseMeta};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::{aggregate, limits, sse};

pub(crate) async fn completions(
    State(state): State<AppState>,
    caller: Caller,
    trail: AuditTrail,
    JsonBody(mut request): JsonBody<CompletionRequest>,
) -> Result<Response, ErrorResponse> {
    request.validate()?;
    let backend = state.backend_for(&caller, &request.model)?;
    tracing::Span::current().record("model", request.model.as_str());
    trail.model(&request.model, backend.info().kind);
    let estimate = limits::completion_estimate(&request);
    let admission = match state.admit(&caller, estimate.total()).await {
        Ok(admission) => admission,
        Err(refusal) => return Ok(limits::refusal_response(refusal)),
    };
    let rate = admission.status;
    let meta = ResponseMeta::new("cmpl-", &request.model, request.include_usage());
    let stream = request.stream;
    let guard = state.guard_for(&caller.0);
    trail.prompt(|| audit::completion_text(&request), &guard);
    let (found, restorer) = guard.protect_prompt(&mut request).await?;
    trail.pii(&found);
    let model = request.model.clone();
    // OpenAI's default of 16 tokens, and never past the remaining quota.
    let quota = limits::Quota::new(
        admission,
        Some(crate::ServerOptions::DEFAULT_COMPLETION_MAX_TOKENS),
    );
    request.token_budget = quota.budget(estimate, request.max_tokens);
    let backend_events = backend.complete(request).await?;
    let events = super::answer_events(
        &state,
        trail,
        backend_events,
        quota,
        model,
        estimate,
        restorer,
    );
    let stop = state.stop_generations_token();
    let response = if stream {
        sse::response(events, CompletionChunks(meta), stop)
    } else {
        Json(aggregate::completion(events, meta, &stop).await?).into_response()
    };
    Ok(limits::with_rate_headers(response, &rate))
}
