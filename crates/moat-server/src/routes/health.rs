//! `GET /health` (the process answers) and `GET /ready` (every model can
//! take requests and the server is not shutting down).

use axum::extract::State;
use axum::Json;
use futures::future::join_all;
use moat_protocol::{ApiError, ErrorKind};
use serde_json::{json, Value};

use crate::error::ErrorResponse;
use crate::state::AppState;

pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ErrorResponse> {
    if state.is_draining() {
        return Err(ApiError::new(ErrorKind::Unavailable, "The server is shutting down.").into());
    }
    let checks = state
        .gateway()
        .all_models()
        .backends()
        .map(|backend| async move {
            let ready = backend.ready().await;
            (backend.info().id, ready)
        });
    let not_ready: Vec<String> = join_all(checks)
        .await
        .into_iter()
        .filter(|(_, ready)| !ready)
        .map(|(id, _)| id)
        .collect();
    if not_ready.is_empty() {
        Ok(Json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::new(
            ErrorKind::Unavailable,
            format!("Not ready: {}.", not_ready.join(", ")),
        )
        .into())
    }
}
