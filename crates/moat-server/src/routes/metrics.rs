//! `GET /metrics`: the Prometheus exposition. Open where the server says so
//! (`ServerOptions::metrics_open`), else for administrators only.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use moat_protocol::ApiError;

use crate::auth::Admin;
use crate::error::ErrorResponse;
use crate::state::AppState;

/// Mounted outside authentication when metrics are open.
pub(crate) async fn open(State(state): State<AppState>) -> Result<Response, ErrorResponse> {
    exposition(&state)
}

/// Mounted behind authentication otherwise.
pub(crate) async fn for_admin(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ErrorResponse> {
    exposition(&state)
}

fn exposition(state: &AppState) -> Result<Response, ErrorResponse> {
    let text = state
        .metrics()
        .render(state.gateway().all_models())
        .map_err(|e| {
            tracing::error!(error = %e, "metrics exposition");
            ApiError::internal()
        })?;
    Ok(([(CONTENT_TYPE, moat_gateway::metrics::CONTENT_TYPE)], text).into_response())
}
