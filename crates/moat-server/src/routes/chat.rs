//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_protocol::chat::ChatCompletionRequest;

use crate::chunks::{ChatChunks, ResponseMeta};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::{aggregate, sse};

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    JsonBody(mut request): JsonBody<ChatCompletionRequest>,
) -> Result<Response, ErrorResponse> {
    tracing::Span::current().record("model", request.model.as_str());
    request.validate()?;
    let backend = state.models().get(&request.model)?;
    let meta = ResponseMeta::new("chatcmpl-", &request.model, request.include_usage());
    let stream = request.stream;
    // What was found goes to the audit record once there is one.
    let (_found, restorer) = state.options().guard.protect_chat(&mut request)?;
    let events = restorer.events(backend.chat(request).await?);
    let stop = state.stop_generations_token();
    if stream {
        Ok(sse::response(events, ChatChunks(meta), stop))
    } else {
        Ok(Json(aggregate::chat(events, meta, &stop).await?).into_response())
    }
}
