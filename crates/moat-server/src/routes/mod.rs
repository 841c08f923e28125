//! One module per endpoint; each handler extracts, calls the gateway,
//! renders.

pub(crate) mod admin;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod conversations;
pub(crate) mod embeddings;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod knowledge;
pub(crate) mod metrics;
pub(crate) mod models;
pub(crate) mod responses;
pub(crate) mod session;

use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_gateway::{Answer, Rejection};

use crate::chunks::{ChatChunks, CompletionChunks, ResponseMeta};
use crate::error::ErrorResponse;
use crate::state::AppState;
use crate::{aggregate, rate, sse};

/// A listing's query string, or the caller's 400.
pub(crate) fn query<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, moat_protocol::ApiError> {
    query.map(|axum::extract::Query(q)| q).map_err(|r| {
        moat_protocol::ApiError::new(moat_protocol::ErrorKind::InvalidRequest, r.body_text())
    })
}

/// `value` as the JSON answer.
pub(crate) fn json<T: serde::Serialize>(value: T) -> Result<Response, ErrorResponse> {
    Ok(Json(value).into_response())
}

/// What a generation answers as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `chat.completion` or its chunks.
    Chat,
    /// `text_completion` and its chunks.
    Completion,
}

/// The gateway's answer as JSON or SSE with the rate headers; its refusal
/// as an error body (with `Retry-After` and the rate headers when a limit
/// refused it).
pub(crate) async fn render(
    state: &AppState,
    answer: Result<Answer, Rejection>,
    kind: Kind,
) -> Result<Response, ErrorResponse> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(rejection) => return Ok(rate::rejection_response(rejection)),
    };
    let stop = state.stop_generations_token();
    let prefix = match kind {
        Kind::Chat => "chatcmpl-",
        Kind::Completion => "cmpl-",
    };
    let meta = ResponseMeta::new(prefix, &answer.model, answer.include_usage);
    let events = answer.events;
    let response = match (kind, answer.stream) {
        (Kind::Chat, true) => sse::response(events, ChatChunks(meta), stop),
        (Kind::Completion, true) => sse::response(events, CompletionChunks(meta), stop),
        (Kind::Chat, false) => Json(aggregate::chat(events, meta, &stop).await?).into_response(),
        (Kind::Completion, false) => {
            Json(aggregate::completion(events, meta, &stop).await?).into_response()
        }
    };
    Ok(rate::with_rate_headers(response, &answer.rate))
}
