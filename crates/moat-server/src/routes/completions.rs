//! `POST /v1/completions`: raw-prompt text completion.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_protocol::completion::CompletionRequest;

use crate::chunks::{CompletionChunks, ResponseMeta};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::{aggregate, sse};

pub(crate) async fn completions(
    State(state): State<AppState>,
    JsonBody(mut request): JsonBody<CompletionRequest>,
) -> Result<Response, ErrorResponse> {
    tracing::Span::current().record("model", request.model.as_str());
    request.validate()?;
    let backend = state.models().get(&request.model)?;
    let meta = ResponseMeta::new("cmpl-", &request.model, request.include_usage());
    let stream = request.stream;
    // What was found goes to the audit record once there is one.
    let (_found, restorer) = state.options().guard.protect_prompt(&mut request)?;
    let events = restorer.events(backend.complete(request).await?);
    let stop = state.stop_generations_token();
    if stream {
        Ok(sse::response(events, CompletionChunks(meta), stop))
    } else {
        Ok(Json(aggregate::completion(events, meta, &stop).await?).into_response())
    }
}
