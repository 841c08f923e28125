//! The JSON body extractor every POST route uses: size limit, content type,
//! then [`parse_json`], each failure rendered as an OpenAI error.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use moat_protocol::error::parse_json;
use moat_protocol::{ApiError, ErrorKind};
use serde::de::DeserializeOwned;

use crate::connections::BodyTimedOut;
use crate::error::ErrorResponse;
use crate::state::AppState;

/// A request body parsed as JSON into `T`.
///
/// The body must be declared JSON: `Content-Type: application/json` or
/// `application/<anything>+json`, with parameters or none (a `charset`, if
/// given, must be UTF-8). Anything else, a missing content type included,
/// is refused with 415, before a byte of the body is read: a body is never
/// parsed as something its sender did not say it was.
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
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(unsupported(
            "The request has no single Content-Type: send the body as application/json.",
        ));
    };
    let Ok(text) = value.to_str() else {
        return Err(unsupported(
            "The Content-Type is not readable: send the body as application/json.",
        ));
    };
    if is_json(text) {
        return Ok(());
    }
    let essence: String = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect();
    Err(unsupported(format!(
        "Unsupported Content-Type `{essence}`: send the request body as application/json."
    )))
}

/// `application/json` or `application/*+json`, any parameters, a charset
/// only if UTF-8.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    let json = subtype == "json"
        || subtype.strip_suffix("+json").is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.".contains(&b))
        });
    json && parts.all(|parameter| {
        let Some((name, value)) = parameter.split_once('=') else {
            return false;
        };
        !name.trim().eq_ignore_ascii_case("charset")
            || matches!(
                value.trim().trim_matches('"').to_ascii_lowercase().as_str(),
                "utf-8" | "utf8"
            )
    })
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::UnsupportedMediaType, message)
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
    } else if timed_out(rejection) {
        ApiError::new(
            ErrorKind::RequestTimeout,
            "The request body did not arrive in time.",
        )
    } else {
        tracing::debug!(error = %rejection.body_text(), "failed to read the request body");
        ApiError::new(
            ErrorKind::InvalidRequest,
            "The request body could not be read.",
        )
    }
}

/// Whether the body failed because it did not arrive within the body
/// timeout (see `connections.rs`).
fn timed_out(rejection: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_type(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CONTENT_TYPE, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn json_types_are_accepted() {
        for value in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/merge-patch+json",
            "application/vnd.api+json; version=2",
        ] {
            assert!(check_content_type(&with_type(&[value])).is_ok(), "{value}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for values in [
            &[][..],
            &["text/plain"],
            &["application/x-www-form-urlencoded"],
            &["multipart/form-data; boundary=x"],
            &["application/jsonx"],
            &["application/+json"],
            &["text/json"],
            &["application/json; charset=utf-16"],
            &["application/json; charset"],
            &["application/json", "text/plain"],
            &[""],
        ] {
            let error = check_content_type(&with_type(values)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::UnsupportedMediaType, "{values:?}");
        }
        let mut opaque = HeaderMap::new();
        opaque.insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_bytes(b"application/json\xff").unwrap(),
        );
        assert!(check_content_type(&opaque).is_err());
    }

    #[test]
    fn the_refusal_names_the_type_briefly() {
        let long = format!("text/{}", "x".repeat(500));
        let error = check_content_type(&with_type(&[&long])).unwrap_err();
        assert!(error.message.len() < 200, "{}", error.message);
        insta::assert_snapshot!(
            check_content_type(&with_type(&["text/plain; charset=utf-8"])).unwrap_err().to_json(),
            @r#"{"error":{"message":"Unsupported Content-Type `text/plain`: send the request body as application/json.","type":"invalid_request_error","param":null,"code":"unsupported_media_type"}}"#
        );
    }
}
