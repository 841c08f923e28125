//! Every request gets moat's own id: 24 random alphanumerics from a
//! CSPRNG, so ids never repeat and a caller cannot choose what lands in the
//! log or the audit record. It is echoed in the response, carried by the
//! request's span and its audit record, and written in one access log line
//! with method, path, status, latency and model. Never the prompt.
//!
//! A caller's own correlation id (`x-client-request-id`, or a legacy
//! `x-request-id`) is not logged or stored: when it is sane (1 to 64
//! characters of `[A-Za-z0-9._-]`) it is only echoed back as
//! `x-client-request-id`, so the caller can pair it with moat's id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use moat_protocol::ApiError;
use tracing::Instrument;

use crate::ids::response_id;
use crate::state::AppState;

/// The header carrying moat's request id in every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The header a caller's own correlation id is read from and echoed in.
pub const CLIENT_REQUEST_ID_HEADER: &str = "x-client-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Longest client correlation id echoed.
const MAX_CLIENT_ID_LEN: usize = 64;

/// A client's id is echoed when it is 1 to 64 characters of `[A-Za-z0-9._-]`.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The caller's correlation id, when one of its headers holds a sane one.
fn client_id(headers: &HeaderMap) -> Option<HeaderValue> {
    [CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER]
        .into_iter()
        .filter_map(|name| headers.get(name))
        .find(|v| v.to_str().is_ok_and(is_sane))
        .cloned()
}

/// Longest part of a request path written to the log and the audit record.
const MAX_LOGGED_PATH: usize = 256;

/// The request path as the log and the audit record keep it: at most
/// 256 bytes (cut at a character boundary), since a caller can send a path
/// of many kilobytes.
pub(crate) fn logged_path(path: &str) -> &str {
    if path.len() <= MAX_LOGGED_PATH {
        return path;
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// Middleware: assign the id, run the request inside a span that carries
/// it, log one line and count it in the metrics when the response starts.
pub(crate) async fn track_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = response_id("req-");
    let client_id = client_id(request.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %logged_path(request.uri().path()),
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
    state.metrics().observe_response(
        route.as_ref().map(axum::extract::MatchedPath::as_str),
        &method,
        response.status().as_u16(),
        response.extensions().get::<ApiError>(),
        elapsed,
    );

    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if let Some(value) = client_id {
        response
            .headers_mut()
            .insert(CLIENT_REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{client_id, is_sane, logged_path};
    use axum::http::HeaderMap;

    #[test]
    fn client_ids_are_echoed_only_when_sane() {
        assert!(is_sane("abc-123_X.y"));
        assert!(is_sane(&"a".repeat(64)));
        assert!(!is_sane(&"a".repeat(65)));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\"b"));
        assert!(!is_sane("ünïcode"));
        assert!(!is_sane("line\nbreak"));
    }

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        assert_eq!(logged_path("/v1/models"), "/v1/models");
        let long = format!("/v1/models/{}", "é".repeat(300));
        let kept = logged_path(&long);
        assert!(kept.len() <= 256 && long.starts_with(kept), "{kept}");
        assert_eq!(kept.len(), 255);
    }

    #[test]
    fn the_client_header_wins_over_a_legacy_request_id() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "legacy".parse().unwrap());
        assert_eq!(client_id(&headers).unwrap(), "legacy");
        headers.insert("x-client-request-id", "mine".parse().unwrap());
        assert_eq!(client_id(&headers).unwrap(), "mine");
        headers.insert("x-client-request-id", "not sane".parse().unwrap());
        assert_eq!(client_id(&headers).unwrap(), "legacy");
    }
}
