//! Limits on request headers: how many, and how many bytes in all. Over
//! either, a request is answered 431 in OpenAI's error shape, inside the
//! audit layer so the refusal is recorded. hyper's own, higher limits (see
//! `serve.rs`) still close connections whose heads are larger than any
//! request should be, without an answer.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moat_protocol::{ApiError, ErrorKind};

use crate::error::ErrorResponse;

/// The most headers a request may have.
pub const MAX_REQUEST_HEADERS: usize = 100;
/// The most bytes of header names and values a request may have.
pub const MAX_REQUEST_HEADER_BYTES: usize = 32 * 1024;

/// Middleware: refuse requests over [`MAX_REQUEST_HEADERS`] or
/// [`MAX_REQUEST_HEADER_BYTES`] with 431.
pub(crate) async fn check_headers(request: Request, next: Next) -> Response {
    match over_limit(request.headers()) {
        Some(error) => {
            tracing::info!(
                headers = request.headers().len(),
                "refused: request headers too large"
            );
            ErrorResponse::from(error).into_response()
        }
        None => next.run(request).await,
    }
}

fn over_limit(headers: &axum::http::HeaderMap) -> Option<ApiError> {
    if headers.len() > MAX_REQUEST_HEADERS {
        return Some(ApiError::new(
            ErrorKind::HeadersTooLarge,
            format!(
                "The request has {} headers; at most {MAX_REQUEST_HEADERS} are accepted.",
                headers.len()
            ),
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (bytes > MAX_REQUEST_HEADER_BYTES).then(|| {
        ApiError::new(
            ErrorKind::HeadersTooLarge,
            format!(
                "The request headers are {bytes} bytes; at most {MAX_REQUEST_HEADER_BYTES} are accepted."
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    fn headers(count: usize, value_len: usize) -> HeaderMap {
        let value = HeaderValue::from_str(&"v".repeat(value_len)).unwrap();
        (0..count)
            .map(|i| {
                (
                    HeaderName::try_from(format!("x-h{i}")).unwrap(),
                    value.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn counts_and_bytes_are_limited() {
        assert!(over_limit(&headers(MAX_REQUEST_HEADERS, 10)).is_none());
        let error = over_limit(&headers(MAX_REQUEST_HEADERS + 1, 10)).unwrap();
        assert_eq!(error.kind, ErrorKind::HeadersTooLarge);
        assert_eq!(error.status().as_u16(), 431);
        assert!(over_limit(&headers(4, 8 * 1024)).is_some());
        assert!(over_limit(&headers(3, 8 * 1024)).is_none());
    }
}
