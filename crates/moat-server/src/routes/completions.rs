//! `POST /v1/completions`: raw-prompt text completion.

use axum::extract::State;
use axum::response::Response;
use moat_protocol::completion::CompletionRequest;

use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

pub(crate) async fn completions(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<CompletionRequest>,
) -> Result<Response, ErrorResponse> {
    let answer = state.gateway().complete(&call, request).await;
    super::render(&state, answer, super::Kind::Completion).await
}
