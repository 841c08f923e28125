//! Rate limits as the client sees them: `Retry-After` and the
//! `x-ratelimit-*` headers OpenAI sends.

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use moat_gateway::Rejection;
use moat_policy::RateStatus;

use crate::error::ErrorResponse;

/// Add `Retry-After` (whole seconds, at least 1).
pub(crate) fn with_retry_after(mut response: Response, retry_after_ms: u64) -> Response {
    let secs = retry_after_ms.div_ceil(1000).max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// OpenAI's duration format in reset headers: `1s`, `6m0s`, `250ms`.
fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms.div_ceil(1000);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// Add the `x-ratelimit-*` headers for the limits that applied.
pub(crate) fn with_rate_headers(mut response: Response, status: &RateStatus) -> Response {
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    if let Some(r) = status.requests {
        put("x-ratelimit-limit-requests", r.limit.to_string());
        put("x-ratelimit-remaining-requests", r.remaining.to_string());
        put("x-ratelimit-reset-requests", duration_text(r.reset_ms));
    }
    if let Some((limit, remaining, reset)) = status.tokens {
        put("x-ratelimit-limit-tokens", limit.to_string());
        put("x-ratelimit-remaining-tokens", remaining.to_string());
        put("x-ratelimit-reset-tokens", duration_text(reset));
    }
    response
}

/// A refused request as the client sees it: its error body, and when a
/// limit refused it, 429 with `Retry-After` and the rate headers.
pub(crate) fn rejection_response(rejection: Rejection) -> Response {
    let response = ErrorResponse::from(rejection.error).into_response();
    match rejection.limited {
        Some((retry_after_ms, status)) => {
            with_rate_headers(with_retry_after(response, retry_after_ms), &status)
        }
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_read_like_openai() {
        assert_eq!(duration_text(250), "250ms");
        assert_eq!(duration_text(1000), "1s");
        assert_eq!(duration_text(1001), "2s");
        assert_eq!(duration_text(360_000), "6m0s");
        assert_eq!(duration_text(3_723_000), "1h2m3s");
    }
}
