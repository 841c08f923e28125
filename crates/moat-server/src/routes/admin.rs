//! The admin API (`/admin/...`), for principals whose roles set `admin`:
//! API keys (list, create, revoke, rotate) and usage. The same operations
//! as `moat keys` and `moat usage`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_policy::keys::{parse_lifetime, IssuedKey, KeyError, NewKey};
use moat_protocol::time::now_ms;
use moat_protocol::{ApiError, ErrorKind};
use moat_store::{ApiKeyRecord, UsageBy};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Admin, Auditor, Require};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

/// A key as listings show it: never the secret, never its hash.
#[derive(Debug, Serialize)]
pub(crate) struct KeyView {
    id: String,
    object: &'static str,
    name: String,
    hint: String,
    roles: Vec<String>,
    models: Option<Vec<String>>,
    status: &'static str,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// `active`, `revoked` or `expired` at `now_ms`.
pub fn key_status(record: &ApiKeyRecord, now_ms: i64) -> &'static str {
    if record.revoked_ms.is_some() {
        "revoked"
    } else if record.expires_ms.is_some_and(|at| at <= now_ms) {
        "expired"
    } else {
        "active"
    }
}

impl KeyView {
    fn new(record: ApiKeyRecord, now_ms: i64) -> Self {
        let secs = |ms: i64| ms.div_euclid(1000);
        Self {
            status: key_status(&record, now_ms),
            id: record.id,
            object: "api_key",
            name: record.name,
            hint: record.hint,
            roles: record.roles,
            models: record.models,
            created_at: secs(record.created_ms),
            expires_at: record.expires_ms.map(secs),
            revoked_at: record.revoked_ms.map(secs),
            last_used_at: record.last_used_ms.map(secs),
        }
    }
}

fn key_error(error: KeyError) -> ErrorResponse {
    if let KeyError::Store(cause) = &error {
        tracing::error!(error = %cause, "key store failed");
    }
    ApiError::from(error).into()
}

fn issued(issued: IssuedKey, status: StatusCode) -> Response {
    let mut body =
        serde_json::to_value(KeyView::new(issued.record, now_ms())).unwrap_or_else(|_| json!({}));
    body["key"] = json!(issued.secret);
    (status, Json(body)).into_response()
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Response, ErrorResponse> {
    let now = now_ms();
    let keys = state.access().keys.list().await.map_err(key_error)?;
    let data: Vec<KeyView> = keys.into_iter().map(|k| KeyView::new(k, now)).collect();
    Ok(Json(json!({ "object": "list", "data": data })).into_response())
}

/// `POST /admin/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    role: Option<String>,
    models: Option<Vec<String>>,
    /// `90d`, `12h`…
    expires_in: Option<String>,
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    Require(admin, _): Admin,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<Response, ErrorResponse> {
    let mut roles = body.roles;
    roles.extend(body.role);
    let expires_in = body
        .expires_in
        .as_deref()
        .map(parse_lifetime)
        .transpose()
        .map_err(|e| ApiError::invalid_param("expires_in", e))?;
    let new = NewKey {
        name: body.name,
        roles,
        models: body.models,
        expires_in,
    };
    let key = state
        .access()
        .keys
        .create(new, now_ms())
        .await
        .map_err(key_error)?;
    tracing::info!(by = %admin.id, key = %key.record.id, "API key created");
    Ok(issued(key, StatusCode::CREATED))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Require(admin, _): Admin,
    Path(id): Path<String>,
) -> Result<Response, ErrorResponse> {
    let record = state
        .access()
        .keys
        .revoke(&id, now_ms())
        .await
        .map_err(key_error)?;
    tracing::info!(by = %admin.id, key = %id, "API key revoked");
    Ok(Json(KeyView::new(record, now_ms())).into_response())
}

pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    Require(admin, _): Admin,
    Path(id): Path<String>,
) -> Result<Response, ErrorResponse> {
    let key = state
        .access()
        .keys
        .rotate(&id, now_ms())
        .await
        .map_err(key_error)?;
    tracing::info!(by = %admin.id, key = %id, "API key rotated");
    Ok(issued(key, StatusCode::OK))
}

/// `GET /admin/usage?by=key|role|model|day&since=YYYY-MM-DD`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsageQuery {
    by: Option<String>,
    since: Option<String>,
}

/// `key`, `role`, `model` or `day`.
pub fn parse_usage_by(text: &str) -> Option<UsageBy> {
    match text {
        "key" => Some(UsageBy::Key),
        "role" => Some(UsageBy::Role),
        "model" => Some(UsageBy::Model),
        "day" => Some(UsageBy::Day),
        _ => None,
    }
}

pub(crate) async fn usage(
    State(state): State<AppState>,
    _: Admin,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Response, ErrorResponse> {
    let Query(query) =
        query.map_err(|r| ApiError::new(ErrorKind::InvalidRequest, r.body_text()))?;
    let by_text = query.by.as_deref().unwrap_or("key");
    let by = parse_usage_by(by_text)
        .ok_or_else(|| ApiError::invalid_param("by", "by must be one of key, role, model, day."))?;
    if let Some(since) = &query.since {
        if !moat_protocol::time::is_day(since) {
            return Err(
                ApiError::invalid_param("since", "since must be a day as YYYY-MM-DD.").into(),
            );
        }
    }
    let rows = state
        .access()
        .store
        .usage(by, query.since.as_deref())
        .await
        .map_err(|error| {
            tracing::error!(%error, "usage query failed");
            ErrorResponse::from(ApiError::internal())
        })?;
    let data: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                by_text: r.group,
                "requests": r.requests,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.prompt_tokens + r.completion_tokens,
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "by": by_text, "data": data })).into_response())
}

/// `POST /admin/guard/scan`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanRequest {
    text: String,
}

/// What the personal-data guard finds in a text, as the server is
/// configured (built-in and custom recognizers): kind, byte range and the
/// masked value — never the value itself.
pub(crate) async fn guard_scan(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<ScanRequest>,
) -> Result<Response, ErrorResponse> {
    let guard = state.gateway().guard();
    let data: Vec<_> = guard
        .scan(&body.text)
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.name(),
                "start": f.start,
                "end": f.end,
                "masked": f.masked(),
            })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "policy": guard.policy().name(),
        "data": data,
    }))
    .into_response())
}

/// `GET /admin/audit?since=&until=&principal=&model=&status=&limit=&order=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Unix seconds.
    since: Option<i64>,
    until: Option<i64>,
    /// A clear principal id or its pseudonym.
    principal: Option<String>,
    model: Option<String>,
    status: Option<u16>,
    limit: Option<u32>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<Order>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Order {
    Asc,
    Desc,
}

/// Most records one audit search returns.
const AUDIT_PAGE_MAX: u32 = 1000;

/// Audit records, oldest first (newest with `order=desc`), for auditors and administrators; content
/// decrypted where its subject has not been erased.
pub(crate) async fn audit_search(
    State(state): State<AppState>,
    Require(auditor, _): Auditor,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ErrorResponse> {
    let Query(query) =
        query.map_err(|r| ApiError::new(ErrorKind::InvalidRequest, r.body_text()))?;
    let Some(log) = state.access().audit_log.clone() else {
        return Err(ApiError::new(ErrorKind::NotFound, "No audit log is configured.").into());
    };
    let filter = moat_audit::SearchFilter {
        since_ms: query.since.map(|s| s.saturating_mul(1000)),
        until_ms: query.until.map(|s| s.saturating_mul(1000)),
        principal: query.principal,
        model: query.model,
        status: query.status,
        limit: Some(query.limit.unwrap_or(100).min(AUDIT_PAGE_MAX)),
        newest_first: query.order == Some(Order::Desc),
    };
    let records = moat_audit::search(&log, &filter).await.map_err(|error| {
        tracing::error!(%error, "audit search failed");
        ErrorResponse::from(ApiError::internal())
    })?;
    tracing::info!(by = %auditor.id, records = records.len(), "audit log searched");
    Ok(Json(json!({ "object": "list", "data": records })).into_response())
}

/// One chain verification at a time: a walk reads and hashes every record.
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `GET /admin/audit/verify`: walks the whole chain as `moat audit verify`
/// does and reports whether it is intact, with the newest signed checkpoint,
/// for auditors and administrators. A second verification while one runs is
/// refused (429).
pub(crate) async fn audit_verify(
    State(state): State<AppState>,
    Require(auditor, _): Auditor,
) -> Result<Response, ErrorResponse> {
    let Some(log) = state.access().audit_log.clone() else {
        return Err(ApiError::new(ErrorKind::NotFound, "No audit log is configured.").into());
    };
    let Ok(_running) = VERIFYING.try_acquire() else {
        return Err(ApiError::new(
            ErrorKind::RateLimited,
            "A verification of the audit log is already running; try again when it ends.",
        )
        .into());
    };
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "audit verification failed");
        ErrorResponse::from(ApiError::internal())
    };
    let report = moat_audit::verify(log.store(), &log.keys().verifying_key(), None, None)
        .await
        .map_err(|e| failed(&e))?;
    let checkpoint = log
        .store()
        .latest_audit_checkpoint()
        .await
        .map_err(|e| failed(&e))?;
    tracing::info!(
        by = %auditor.id,
        records = report.records,
        intact = report.first_break.is_none(),
        "audit log verified"
    );
    Ok(Json(json!({
        "object": "moat.audit.verification",
        "intact": report.first_break.is_none(),
        "records": report.records,
        "checkpoints": report.checkpoints,
        "last_seq": report.last_seq,
        "first_break": report.first_break,
        "last_checkpoint": checkpoint.map(|c| json!({
            "seq": c.seq,
            "created_at": c.time_ms.div_euclid(1000),
        })),
    }))
    .into_response())
}

/// `GET /admin/audit/principals/{pseudonym}`: the clear principal id behind
/// a record's pseudonym, for auditors and administrators; the look-up is
/// logged with who asked.
pub(crate) async fn audit_reveal(
    State(state): State<AppState>,
    Require(auditor, _): Auditor,
    Path(pseudonym): Path<String>,
) -> Result<Response, ErrorResponse> {
    let Some(log) = state.access().audit_log.clone() else {
        return Err(ApiError::new(ErrorKind::NotFound, "No audit log is configured.").into());
    };
    let principal = moat_audit::reveal_principal(&log, &pseudonym)
        .await
        .map_err(|error| {
            tracing::error!(%error, "audit principal look-up failed");
            ErrorResponse::from(ApiError::internal())
        })?;
    tracing::info!(by = %auditor.id, %pseudonym, found = principal.is_some(), "audit pseudonym revealed");
    match principal {
        Some(principal) => {
            Ok(Json(json!({ "pseudonym": pseudonym, "principal": principal })).into_response())
        }
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            "No principal behind that pseudonym (unknown, or erased).",
        )
        .into()),
    }
}
