//! Authentication as a layer in front of every API route, and the
//! extractors that make permissions part of a handler's signature: a
//! handler that takes [`Caller`] can only run for an authenticated
//! principal, one that takes [`Admin`] only for an administrator.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moat_policy::{AuthFailure, Principal};
use moat_protocol::{ApiError, ErrorKind};

use crate::audit::AuditTrail;
use crate::error::ErrorResponse;
use crate::limits::with_retry_after;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

/// An authenticated caller whose roles open the admin API.
#[derive(Debug, Clone)]
pub struct Admin(pub Arc<Principal>);

/// An authenticated caller who may read the audit log (an administrator or
/// an auditor).
#[derive(Debug, Clone)]
pub struct Auditor(pub Arc<Principal>);

fn bearer(value: &str) -> Option<&str> {
    let (scheme, credential) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(credential.trim())
}

/// The one 401 answer: no hint of which part failed.
fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorKind::InvalidApiKey,
        "Incorrect API key provided. Send a valid key or token as \
         `Authorization: Bearer ...`.",
    )
}

/// Middleware: authenticate the request's bearer credential and attach the
/// [`Principal`]; refuse with 401 (or 429 after repeated failures).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticated(&state, request.headers(), request.extensions()).await {
        Ok(principal) => {
            request.extensions_mut().insert(Caller(principal));
            next.run(request).await
        }
        Err(refusal) => refusal,
    }
}

/// The principal behind `request`'s credential (also recorded in the span
/// and the audit trail), or the refusal to answer with: 401, 429 after
/// repeated failures, 503 when the key store cannot be read.
pub(crate) async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Arc<Principal>, Response> {
    let client = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let credential = headers
        .get(AUTHORIZATION)
        .and_then(|value| bearer(value.to_str().ok()?));
    let result = state
        .access()
        .authenticator
        .authenticate(credential, client)
        .await;
    match result {
        Ok(principal) => {
            tracing::Span::current().record("principal", principal.id.as_str());
            if let Some(trail) = extensions.get::<AuditTrail>() {
                trail.principal(&principal);
            }
            Ok(principal)
        }
        Err(failure) => {
            let client = client.map(|ip| ip.to_string()).unwrap_or_default();
            tracing::info!(client, reason = %failure.reason(), "authentication failed");
            Err(match failure {
                AuthFailure::Locked { retry_after_ms } => with_retry_after(
                    ErrorResponse::from(ApiError::new(
                        ErrorKind::TooManyAuthFailures,
                        "Too many failed authentication attempts; retry later.",
                    ))
                    .into_response(),
                    retry_after_ms,
                ),
                AuthFailure::Unavailable => ErrorResponse::from(ApiError::new(
                    ErrorKind::Unavailable,
                    "Service temporarily unavailable.",
                ))
                .into_response(),
                _ => ErrorResponse::from(invalid_credentials()).into_response(),
            })
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            // A route mounted outside the authentication layer.
            tracing::error!(path = %parts.uri.path(), "route without authentication");
            ApiError::internal().into()
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        if principal.is_admin() {
            Ok(Self(principal))
        } else {
            Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "This API is for administrators; your key's roles do not include one.",
            )
            .into())
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auditor {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        if principal.may_read_audit() {
            Ok(Self(principal))
        } else {
            Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "The audit log is for auditors and administrators.",
            )
            .into())
        }
    }
}
