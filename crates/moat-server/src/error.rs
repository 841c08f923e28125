//! The one place an [`ApiError`] becomes an HTTP response: status from the
//! error table, body in OpenAI's shape.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use moat_protocol::ApiError;

/// An [`ApiError`] as a handler's error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse(pub ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let mut response = (self.0.status(), self.0.to_json()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // The access log reads it to log server-side failures.
        response.extensions_mut().insert(self.0);
        response
    }
}
