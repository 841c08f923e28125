//! `POST /v1/chat/completions`, and `POST /v1/moat/confirmations/{id}`,
//! which resumes a chat whose server-side tool call awaited a decision.

use axum::extract::{Path, State};
use axum::response::Response;
use moat_gateway::Decision;
use moat_protocol::chat::ChatCompletionRequest;

use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<ChatCompletionRequest>,
) -> Result<Response, ErrorResponse> {
    let answer = state.gateway().chat(&call, request).await;
    super::render(&state, answer, super::Kind::Chat).await
}

/// `POST /v1/moat/confirmations/{id}`: approve or reject the parked call
/// and go on with the conversation.
pub(crate) async fn decide(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(decision): JsonBody<Decision>,
) -> Result<Response, ErrorResponse> {
    let answer = state.gateway().decide(&call, &id, decision).await;
    super::render(&state, answer, super::Kind::Chat).await
}
