//! Unknown paths (404) and wrong methods (405), as OpenAI error JSON.

use axum::http::{Method, Uri};
use moat_protocol::{ApiError, ErrorKind};

use crate::error::ErrorResponse;

pub(crate) async fn not_found(method: Method, uri: Uri) -> ErrorResponse {
    ApiError::new(
        ErrorKind::NotFound,
        format!("Invalid URL ({method} {}).", uri.path()),
    )
    .into()
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ErrorResponse {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("Method {method} is not allowed on {}.", uri.path()),
    )
    .into()
}
