//! `POST /v1/embeddings`: one vector per input.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_protocol::embeddings::EmbeddingRequest;

use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::rate;
use crate::state::AppState;

pub(crate) async fn embeddings(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<EmbeddingRequest>,
) -> Result<Response, ErrorResponse> {
    match state.gateway().embed(&call, request).await {
        Ok(embedded) => Ok(rate::with_rate_headers(
            Json(embedded.response).into_response(),
            &embedded.rate,
        )),
        Err(rejection) => Ok(rate::rejection_response(rejection)),
    }
}
