//! The Responses API: `POST /v1/responses` (JSON, or the semantic events
//! as SSE), `GET` and `DELETE /v1/responses/{id}`, and
//! `GET /v1/responses/{id}/input_items`. Handlers extract, call the
//! gateway, render.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use moat_gateway::{Conversations, Responded};
use moat_protocol::conversations::ItemListQuery;
use moat_protocol::responses::CreateResponseRequest;
use moat_protocol::{ApiError, ErrorKind};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{json, query};
use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::rate;
use crate::sse::shutting_down;
use crate::state::AppState;

type Answer = Result<Response, ErrorResponse>;

fn kept(state: &AppState) -> Result<&Conversations, ApiError> {
    state.gateway().conversations().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "Responses are not kept on this server.",
        )
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<CreateResponseRequest>,
) -> Answer {
    let responded = match state.gateway().respond(&call, request).await {
        Ok(responded) => responded,
        Err(rejection) => return Ok(rate::rejection_response(rejection)),
    };
    let rate_status = responded.rate;
    let stop = state.stop_generations_token();
    let response = if responded.stream {
        stream(responded, stop)
    } else {
        Json(collect(responded, &stop).await?).into_response()
    };
    Ok(rate::with_rate_headers(response, &rate_status))
}

/// The finished response of a non-streamed request; an error event makes
/// the whole answer that error.
async fn collect(responded: Responded, stop: &CancellationToken) -> Result<Value, ApiError> {
    let mut events = responded.events;
    loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => return Err(shutting_down()),
            next = events.next() => next,
        };
        match next {
            Some(Ok(mut event)) => {
                if matches!(
                    event["type"].as_str(),
                    Some("response.completed" | "response.incomplete")
                ) {
                    return Ok(event["response"].take());
                }
            }
            Some(Err(error)) => return Err(error),
            None => return Err(ApiError::internal()),
        }
    }
}

fn frame(event: &Value) -> Bytes {
    let kind = event["type"].as_str().unwrap_or("message");
    Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
}

/// The events as SSE (`event: <type>` and `data: <json>`), ended by the
/// last one or an `error` event; stopped with one when the server's grace
/// period ends. Dropping the body (the client went away) cancels the
/// generation.
fn stream(responded: Responded, stop: CancellationToken) -> Response {
    let mut events = responded.events;
    let body = async_stream::stream! {
        let mut sequence: u64 = 0;
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => Some(Err(shutting_down())),
                next = events.next() => next,
            };
            let error = match next {
                Some(Ok(event)) => {
                    sequence = event["sequence_number"].as_u64().map_or(sequence, |n| n + 1);
                    let last = matches!(
                        event["type"].as_str(),
                        Some("response.completed" | "response.incomplete")
                    );
                    yield Ok::<_, Infallible>(frame(&event));
                    if last {
                        return;
                    }
                    continue;
                }
                Some(Err(error)) => error,
                None => ApiError::internal(),
            };
            let spec = error.kind.spec();
            if error.status().is_server_error() {
                tracing::error!(code = spec.code, error = %error.message, "response stream ended with an error");
            } else {
                tracing::info!(code = spec.code, "response stream ended with an error");
            }
            let event = json!({"type": "error", "code": spec.code, "message": error.message,
                               "param": error.param, "sequence_number": sequence});
            yield Ok(frame(&event));
            return;
        }
    };
    crate::sse::event_stream(Body::from_stream(body))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(kept(&state)?.response(&call, &id).await?)
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(kept(&state)?.delete_response(&call, &id).await?)
}

pub(crate) async fn input_items(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    q: Result<Query<ItemListQuery>, QueryRejection>,
) -> Answer {
    json(kept(&state)?.input_items(&call, &id, &query(q)?).await?)
}
