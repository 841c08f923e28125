//! Authentication as a layer in front of every API route, and the
//! extractors that make permissions part of a handler's signature: a
//! handler that takes [`Caller`] (or [`Calling`], the caller with the
//! request's audit trail) can only run for an authenticated principal, one
//! that takes [`Require<P>`] only for a principal with the permission `P`
//! names ([`Admin`], [`Auditor`]), asked of [`moat_policy::authorize`].

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moat_gateway::{AuditTrail, Call};
use moat_policy::session::{CSRF_HEADER, SESSION_COOKIE};
use moat_policy::{authorize, AuthFailure, Permission, Principal, Sessions};
use moat_protocol::{ApiError, ErrorKind};

use crate::audit::Trail;
use crate::error::ErrorResponse;
use crate::rate::with_retry_after;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

/// A permission a route needs, named as a type.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission<'static>;
}

/// The admin API.
#[derive(Debug, Clone, Copy)]
pub struct AdminApi;

impl Need for AdminApi {
    const PERMISSION: Permission<'static> = Permission::Admin;
}

/// Reading the audit log (administrators and auditors).
#[derive(Debug, Clone, Copy)]
pub struct AuditLog;

impl Need for AuditLog {
    const PERMISSION: Permission<'static> = Permission::Audit;
}

/// An authenticated caller with the permission `P`; 403 otherwise.
#[derive(Debug, Clone)]
pub struct Require<P>(pub Arc<Principal>, pub PhantomData<P>);

/// An authenticated caller whose roles open the admin API.
pub type Admin = Require<AdminApi>;

/// An authenticated caller who may read the audit log.
pub type Auditor = Require<AuditLog>;

/// An authenticated caller of the pipeline, with the request's audit
/// trail.
pub(crate) struct Calling(pub Call);

fn bearer(value: &str) -> Option<&str> {
    let (scheme, credential) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(credential.trim())
}

/// Middleware: authenticate the request's bearer credential and attach the
/// [`Principal`]; refuse with 401 (or 429 after repeated failures).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    match authenticated(&state, request.headers(), request.extensions(), &method).await {
        Ok(principal) => {
            request.extensions_mut().insert(Caller(principal));
            next.run(request).await
        }
        Err(refusal) => refusal,
    }
}

/// The principal behind `request`'s credential (also recorded in the span
/// and the audit trail), or the refusal to answer with: 401, 429 after
/// repeated failures, 503 when the key store cannot be read. A request
/// with no `Authorization` header but a web UI session cookie is the
/// session's; a write made so must carry the session's CSRF token (403).
pub(crate) async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    method: &Method,
) -> Result<Arc<Principal>, Response> {
    let client = client_ip(extensions);
    let credential = headers
        .get(AUTHORIZATION)
        .and_then(|value| bearer(value.to_str().ok()?));
    let session_token = session_cookie(headers).filter(|_| !headers.contains_key(AUTHORIZATION));
    let result = match session_token {
        Some(token) => {
            let sessions = &state.access().sessions;
            match sessions.session(token).await {
                Ok(session) if is_write(method) && !csrf_presented(sessions, token, headers) => {
                    // The refusal is recorded as the session's key's.
                    record_principal(extensions, &session.principal);
                    tracing::info!(principal = %session.principal.id, "session write without its CSRF token");
                    return Err(ErrorResponse::from(ApiError::new(
                        ErrorKind::CsrfTokenInvalid,
                        "A write made with a session cookie must carry the session's \
                         CSRF token in the `X-CSRF-Token` header.",
                    ))
                    .into_response());
                }
                Ok(session) => Ok(session.principal),
                Err(failure) => Err(failure),
            }
        }
        None => {
            state
                .access()
                .authenticator
                .authenticate(credential, client)
                .await
        }
    };
    match result {
        Ok(principal) => {
            record_principal(extensions, &principal);
            Ok(principal)
        }
        Err(failure) => Err(refusal(failure, client)),
    }
}

/// Name `principal` in the request's span and audit trail.
pub(crate) fn record_principal(extensions: &Extensions, principal: &Principal) {
    tracing::Span::current().record("principal", principal.id.as_str());
    if let Some(trail) = extensions.get::<AuditTrail>() {
        trail.principal(principal);
    }
}

/// The answer to a failed authentication: 401, 429 with `Retry-After`
/// when locked, 503 when the store cannot be read.
pub(crate) fn refusal(failure: AuthFailure, client: Option<std::net::IpAddr>) -> Response {
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    tracing::info!(client, reason = %failure.reason(), "authentication failed");
    match failure {
        AuthFailure::Locked { retry_after_ms } => with_retry_after(
            ErrorResponse::from(ApiError::from(failure)).into_response(),
            retry_after_ms,
        ),
        failure => ErrorResponse::from(ApiError::from(failure)).into_response(),
    }
}

pub(crate) fn client_ip(extensions: &Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Whether `method` may change something (and so needs the CSRF token
/// when a session cookie authenticates it).
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request carries the CSRF token of the session `token`.
pub(crate) fn csrf_presented(sessions: &Sessions, token: &str, headers: &HeaderMap) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|presented| sessions.csrf_matches(token, presented))
}

/// The session token of the request's `moat_session` cookie, if it has one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the request's cookie `name`, if it has one.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
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

impl<S: Send + Sync, P: Need> FromRequestParts<S> for Require<P> {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        authorize(&principal, P::PERMISSION).map_err(ApiError::from)?;
        Ok(Self(principal, PhantomData))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Calling {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        let Ok(Trail(trail)) = Trail::from_request_parts(parts, state).await;
        Ok(Self(Call::new(principal, trail)))
    }
}
