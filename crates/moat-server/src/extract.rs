//! The JSON body extractor every POST route uses: size limit, content type,
//! then [`parse_json`], each failure rendered as an OpenAI error.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use moat_protocol::error::parse_json;
use moat_protocol::{ApiError, ErrorKind};
use serde::de::DeserializeOwned;

use crate::error::ErrorResponse;
use crate::state::AppState;

/// A request body parsed as JSON into `T`.
///
/// A missing content type is read as JSON (curl often sends none), and so
/// are `application/x-www-form-urlencoded` (what `curl -d` sends) and
/// `text/plain`; any other non-JSON type is refused with 415.
pub(crate) struct JsonBody<T>(pub T);

impl<T> FromRequest<AppState> for JsonBody<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        check_content_type(req.headers())?;
        let limit = state.options().max_body_bytes;
        // A declared length over the limit is refused before reading a byte.
        if declared_length(req.headers()).is_some_and(|len| len > limit as u64) {
            return Err(too_large(limit).into());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| body_rejection(&rejection, limit))?;
        Ok(Self(parse_json(&body)?))
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let accepted = essence.is_empty()
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/x-www-form-urlencoded"
        || essence == "text/plain";
    if accepted {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Unsupported Content-Type `{essence}`: send the request body as application/json."
            ),
        ))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body is larger than the limit of {limit} bytes."),
    )
}

fn body_rejection(rejection: &BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        tracing::debug!(error = %rejection.body_text(), "failed to read the request body");
        ApiError::new(
            ErrorKind::InvalidRequest,
            "The request body could not be read.",
        )
    }
}
