//! The audit record of every request at the HTTP edge: the trail starts
//! here, travels in the request's extensions (authentication and the
//! gateway fill it in), and the record of every request whose answer is not
//! a generation stream is written before its response leaves — refusals
//! by the allow-list, authentication and extractors included.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moat_audit::AuditRecord;
use moat_gateway::AuditTrail;
use moat_protocol::ApiError;

use crate::error::ErrorResponse;
use crate::request_id::RequestId;
use crate::state::AppState;

/// The request's audit trail, as a handler's argument.
pub(crate) struct Trail(pub AuditTrail);

impl<S: Send + Sync> FromRequestParts<S> for Trail {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Outside the audit layer (tests of single handlers): a trail that
        // nothing writes.
        Ok(Self(
            parts
                .extensions
                .get::<AuditTrail>()
                .cloned()
                .unwrap_or_else(|| AuditTrail::new(AuditRecord::default())),
        ))
    }
}

/// Middleware: start the trail; after the handler, write the record of
/// every request whose answer is not a generation stream, before the
/// response leaves. Health checks, scrapes and the web UI's static files
/// are not recorded.
pub(crate) async fn record_requests(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let gateway = state.gateway();
    if !gateway.audits() {
        return next.run(request).await;
    }
    let path = crate::request_id::logged_path(request.uri().path()).to_owned();
    // Nor are the web UI's static files: the same for everyone, and they
    // read nothing of the caller's.
    if matches!(path.as_str(), "/health" | "/ready" | "/metrics" | "/")
        || path.starts_with("/assets/")
    {
        return next.run(request).await;
    }
    let record = AuditRecord {
        time_ms: moat_protocol::time::now_ms(),
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        client: request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip().to_string()),
        method: request.method().to_string(),
        route: path,
        ..AuditRecord::default()
    };
    let trail = AuditTrail::new(record);
    request.extensions_mut().insert(trail.clone());
    let mut response = next.run(request).await;
    if trail.is_claimed() {
        return response;
    }
    let error = response.extensions().get::<ApiError>().cloned();
    let status = response.status().as_u16();
    if let Err(error) = gateway.record(&trail, status, error.as_ref()).await {
        // Not acknowledged without its record.
        response = ErrorResponse::from(error).into_response();
    }
    response
}
