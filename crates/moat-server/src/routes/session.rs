//! `/v1/moat/session`: the web UI's sign-in. `POST` exchanges an API key
//! for a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under
//! TLS) and the session's CSRF token; `GET` tells the page who is signed
//! in (and the token again, after a reload); `DELETE` signs out. These
//! routes read the cookie themselves: they sit outside the authentication
//! layer, since signing in is what they are for.
//!
//! With `[auth.oidc] client_id`, `GET /v1/moat/session/oidc/start` sends
//! the browser to the provider (authorization code with PKCE) and
//! `GET /v1/moat/session/oidc/callback` turns its answer into the same
//! session cookie; `GET /v1/moat/session/methods` tells the page which
//! sign-ins there are.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_policy::jwt::{SIGN_IN_COOKIE, SIGN_IN_TTL_MS};
use moat_policy::session::SESSION_COOKIE;
use moat_policy::{AuthFailure, Permission, Session};
use moat_protocol::{ApiError, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::auth::{
    client_ip, cookie_value, csrf_presented, record_principal, refusal, session_cookie,
};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

/// `POST /v1/moat/session`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    api_key: String,
    /// The one-time code of the key's second factor, when the sign-in
    /// needs one.
    #[serde(default)]
    code: Option<String>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignIn(..)")
    }
}

#[derive(Serialize)]
struct SessionPrincipal {
    id: String,
    name: String,
    roles: Vec<String>,
}

#[derive(Serialize)]
struct Permissions {
    admin: bool,
    audit: bool,
}

/// A signed-in session as the page sees it.
#[derive(Serialize)]
struct SessionObject {
    object: &'static str,
    principal: SessionPrincipal,
    permissions: Permissions,
    csrf_token: String,
    idle_timeout_seconds: u64,
    expires_at: i64,
}

#[derive(Serialize)]
struct SessionDeleted {
    object: &'static str,
    deleted: bool,
}

fn session_object(state: &AppState, session: Session) -> SessionObject {
    let principal = &session.principal;
    SessionObject {
        object: "moat.session",
        principal: SessionPrincipal {
            id: principal.id.clone(),
            name: principal.name.clone(),
            roles: principal.roles.iter().map(|r| r.name.clone()).collect(),
        },
        permissions: Permissions {
            admin: principal.may(Permission::Admin),
            audit: principal.may(Permission::Audit),
        },
        csrf_token: session.csrf_token,
        idle_timeout_seconds: state.access().sessions.settings().idle.as_secs(),
        expires_at: session.expires_ms.div_euclid(1000),
    }
}

/// The `Set-Cookie` value carrying `token` (an empty token with
/// `Max-Age=0` clears it).
fn cookie(state: &AppState, token: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if state.options().tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    // The token is base64url and the rest fixed ASCII.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /v1/moat/session`: sign in with an API key. A wrong key counts
/// as a failed authentication, as on any route.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let client = client_ip(&parts.extensions);
    let request = Request::from_parts(parts.clone(), body);
    let JsonBody(SignIn { api_key, code }) =
        match <JsonBody<SignIn> as axum::extract::FromRequest<AppState>>::from_request(
            request, &state,
        )
        .await
        {
            Ok(body) => body,
            Err(rejection) => return rejection.into_response(),
        };
    let sessions = &state.access().sessions;
    match sessions.sign_in(&api_key, code.as_deref(), client).await {
        Ok(signed_in) => {
            record_principal(&parts.extensions, &signed_in.session.principal);
            let max_age = sessions.settings().lifetime.as_secs();
            let set_cookie = cookie(&state, &signed_in.token, max_age);
            let mut response = Json(session_object(&state, signed_in.session)).into_response();
            response.headers_mut().insert(SET_COOKIE, set_cookie);
            no_store(response)
        }
        Err(failure) => refusal(failure, client),
    }
}

/// `GET /v1/moat/session`: the session of the request's cookie.
pub(crate) async fn current(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
) -> Response {
    let (parts, _) = request.into_parts();
    let Some(token) = session_cookie(&parts.headers) else {
        return refusal(AuthFailure::SessionEnded, client_ip(&parts.extensions));
    };
    match state.access().sessions.session(token).await {
        Ok(session) => {
            record_principal(&parts.extensions, &session.principal);
            no_store(Json(session_object(&state, session)).into_response())
        }
        Err(failure) => {
            let mut response = refusal(failure, client_ip(&parts.extensions));
            response
                .headers_mut()
                .insert(SET_COOKIE, cookie(&state, "", 0));
            response
        }
    }
}

/// `DELETE /v1/moat/session`: sign out; the cookie is cleared and the
/// session ends on every replica. Needs the CSRF token, as every write
/// made with the cookie does.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let sessions = &state.access().sessions;
    let Some(token) = session_cookie(&headers) else {
        return Err(ApiError::from(AuthFailure::SessionEnded).into());
    };
    if !csrf_presented(sessions, token, &headers) {
        return Err(ApiError::new(
            ErrorKind::CsrfTokenInvalid,
            "Signing out needs the session's CSRF token in the `X-CSRF-Token` header.",
        )
        .into());
    }
    let deleted = sessions.sign_out(token).await.map_err(ApiError::from)?;
    let mut response = Json(SessionDeleted {
        object: "moat.session.deleted",
        deleted,
    })
    .into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&state, "", 0));
    Ok(no_store(response))
}

/// `GET /v1/moat/session/methods`: how one may sign in here.
pub(crate) async fn methods(State(state): State<AppState>) -> Response {
    let single_sign_on = state.access().sessions.single_sign_on().is_some();
    no_store(
        Json(serde_json::json!({
            "object": "moat.session.methods",
            "api_key": true,
            "single_sign_on": single_sign_on,
        }))
        .into_response(),
    )
}

/// Where the page goes after a sign-in at the provider that did not work.
const SIGN_IN_FAILED: &str = "/?sign_in_failed=1";

/// A redirect to `location` (a page navigation, not an API answer).
fn redirect(location: &str) -> Response {
    let mut response = axum::http::StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    no_store(response)
}

/// The `Set-Cookie` of a sign-in under way: sent back on the provider's
/// top-level redirect (`SameSite=Lax`), only to the callback's path.
fn sign_in_cookie(state: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if state.options().tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{SIGN_IN_COOKIE}={value}; Path=/v1/moat/session/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `GET /v1/moat/session/oidc/start`: to the provider's sign-in page.
pub(crate) async fn sso_start(State(state): State<AppState>) -> Response {
    let Some(sso) = state.access().sessions.single_sign_on() else {
        return ErrorResponse::from(ApiError::new(
            ErrorKind::NotFound,
            "Single sign-on is not configured on this server.",
        ))
        .into_response();
    };
    match sso.start(moat_protocol::time::now_ms()).await {
        Ok(started) => {
            let mut response = redirect(&started.location);
            let max_age = u64::try_from(SIGN_IN_TTL_MS / 1000).unwrap_or(600);
            response
                .headers_mut()
                .insert(SET_COOKIE, sign_in_cookie(&state, &started.cookie, max_age));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "single sign-on could not start");
            redirect(SIGN_IN_FAILED)
        }
    }
}

/// The provider's redirect back: `code` and `state`, or `error`.
#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /v1/moat/session/oidc/callback`: the provider's answer; a
/// session cookie and the page, or the page saying it failed. A failure
/// counts as a failed authentication of the client address.
pub(crate) async fn sso_callback(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
) -> Response {
    let (parts, _) = request.into_parts();
    let client = client_ip(&parts.extensions);
    let sessions = &state.access().sessions;
    let Some(sso) = sessions.single_sign_on() else {
        return redirect(SIGN_IN_FAILED);
    };
    let callback: Callback = match axum::extract::Query::try_from_uri(&parts.uri) {
        Ok(axum::extract::Query(callback)) => callback,
        Err(_) => Callback {
            code: None,
            state: None,
            error: None,
        },
    };
    let finished = sso
        .finish(
            cookie_value(&parts.headers, SIGN_IN_COOKIE),
            callback.code.as_deref(),
            callback.state.as_deref(),
            callback.error.as_deref(),
            moat_protocol::time::now_ms(),
        )
        .await;
    let signed_in = match finished {
        Ok(identity) => sessions.sign_in_identity(identity).await,
        Err(error) => {
            let client_text = client.map(|ip| ip.to_string()).unwrap_or_default();
            tracing::info!(client = client_text, %error, "single sign-on failed");
            let locked = state.access().authenticator.sign_in_failed(client).await;
            let mut response = match locked {
                Some(failure) => refusal(failure, client),
                None => redirect(SIGN_IN_FAILED),
            };
            response
                .headers_mut()
                .append(SET_COOKIE, sign_in_cookie(&state, "", 0));
            return response;
        }
    };
    match signed_in {
        Ok(signed_in) => {
            record_principal(&parts.extensions, &signed_in.session.principal);
            tracing::info!(principal = %signed_in.session.principal.id, "signed in through the provider");
            let max_age = sessions.settings().lifetime.as_secs();
            let mut response = redirect("/");
            let headers = response.headers_mut();
            headers.append(SET_COOKIE, cookie(&state, &signed_in.token, max_age));
            headers.append(SET_COOKIE, sign_in_cookie(&state, "", 0));
            response
        }
        Err(failure) => refusal(failure, client),
    }
}
