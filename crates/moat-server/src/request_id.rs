//! Every request gets an id (the client's `x-request-id` when it is sane,
//! else a new one), echoed in the response, and one access log line:
//! method, path, status, latency, request id and model. Never the prompt.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use moat_protocol::ApiError;
use tracing::Instrument;

use crate::ids::response_id;
use crate::state::AppState;

/// The header carrying the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Longest client-chosen id kept.
const MAX_CLIENT_ID_LEN: usize = 128;

/// A client's id is kept when it is 1 to 128 characters of `[A-Za-z0-9._-]`.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Middleware: assign the id, run the request inside a span that carries
/// it, log one line and count it in the metrics when the response starts.
pub(crate) async fn track_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map_or_else(|| response_id("req-"), str::to_owned);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        model = tracing::field::Empty,
        principal = tracing::field::Empty,
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();

    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let _entered = span.enter();

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if let Some(error) = response.extensions().get::<ApiError>() {
        let code = error.kind.spec().code.unwrap_or_default();
        if response.status().is_server_error() {
            // 5xx messages are fixed texts; the cause was logged where it arose.
            tracing::error!(status, latency_ms, code, error = %error.message, "request failed");
        } else {
            // 4xx messages may quote the request, so they stay out of info.
            tracing::info!(status, latency_ms, code, "request refused");
            tracing::debug!(error = %error.message, "refusal detail");
        }
    } else {
        tracing::info!(status, latency_ms, "request");
    }
    state
        .metrics()
        .observe_response(route.as_ref(), &method, &response, elapsed);

    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn client_ids_are_kept_only_when_sane() {
        assert!(is_sane("abc-123_X.y"));
        assert!(is_sane(&"a".repeat(128)));
        assert!(!is_sane(&"a".repeat(129)));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\"b"));
        assert!(!is_sane("ünïcode"));
    }
}
