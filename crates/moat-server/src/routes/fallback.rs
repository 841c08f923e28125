//! Unknown paths (404) and wrong methods (405), as OpenAI error JSON. Under
//! `/v1` and `/admin` the caller is authenticated first, so only a caller
//! with a valid credential learns which routes exist there.

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use moat_protocol::{ApiError, ErrorKind};

use crate::auth::{authenticated, Caller};
use crate::error::ErrorResponse;
use crate::state::AppState;

/// Whether `path` is in the authenticated part of the API.
fn needs_credentials(path: &str) -> bool {
    ["/v1", "/admin"].iter().any(|root| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The refusal of an unauthenticated caller on a path that needs
/// credentials; `None` when the answer may be given.
async fn refusal(state: &AppState, request: &Parts) -> Option<Response> {
    // Already authenticated by the layer in front of the routes.
    if !needs_credentials(request.uri.path()) || request.extensions.get::<Caller>().is_some() {
        return None;
    }
    authenticated(
        state,
        &request.headers,
        &request.extensions,
        &request.method,
    )
    .await
    .err()
}

pub(crate) async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    if let Some(refusal) = refusal(&state, &request).await {
        return refusal;
    }
    ErrorResponse::from(ApiError::new(
        ErrorKind::NotFound,
        format!("Invalid URL ({} {}).", request.method, request.uri.path()),
    ))
    .into_response()
}

pub(crate) async fn method_not_allowed(
    State(state): State<AppState>,
    request: Request,
) -> Response {
    let (request, _) = request.into_parts();
    if let Some(refusal) = refusal(&state, &request).await {
        return refusal;
    }
    ErrorResponse::from(ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!(
            "Method {} is not allowed on {}.",
            request.method,
            request.uri.path()
        ),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::needs_credentials;

    #[test]
    fn the_api_and_the_admin_api_need_credentials() {
        for path in [
            "/v1",
            "/v1/",
            "/v1/nope",
            "/v1/models/x/y",
            "/admin",
            "/admin/keys/x",
        ] {
            assert!(needs_credentials(path), "{path}");
        }
        for path in [
            "/",
            "/v10",
            "/v1x/models",
            "/administrator",
            "/health",
            "/nope",
        ] {
            assert!(!needs_credentials(path), "{path}");
        }
    }
}
