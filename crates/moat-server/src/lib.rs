//! The HTTP layer over the request pipeline ([`moat_gateway`]): the accept
//! loop, TLS and graceful shutdown; middleware (request ids and access
//! logs, the client address allow-list, authentication, the audit record
//! of every request); extractors (JSON bodies, the caller, the permission a
//! route needs); rendering (JSON, SSE, OpenAI error bodies, rate headers);
//! and the routes, which extract, call the gateway and render.

mod aggregate;
mod audit;
mod auth;
mod chunks;
mod connections;
mod error;
mod extract;
mod headers;
mod ids;
pub mod network;
mod rate;
mod request_id;
mod routes;
mod serve;
mod sse;
mod state;
pub mod tls;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use auth::{Admin, AdminApi, AuditLog, Auditor, Caller, Need, Require};
pub use connections::{BodyTimedOut, ConnectionLimits};
pub use error::ErrorResponse;
pub use moat_gateway::{
    Access, Conversations, FusionWeights, Gateway, GatewayParts, GatewaySettings, Knowledge,
    KnowledgeSettings, Metrics, PiiFound, PiiGuard, ServerTools, ToolLoopSettings,
};
pub use network::{ClientAllowList, PeerAddr, TrustedProxies};
pub use request_id::{RequestId, CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER};
pub use routes::admin::{key_status, parse_usage_by};
pub use serve::serve;
pub use state::AppState;

/// How the HTTP server behaves; one default per field.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest accepted request body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long running requests may go on after shutdown was asked for,
    /// before open streams are ended with an error event.
    pub shutdown_grace: Duration,
    /// Client addresses allowed to connect; empty: all. Others get 403
    /// before authentication.
    pub allow_clients: ClientAllowList,
    /// Browser origins allowed by CORS; empty: CORS off.
    pub cors_origins: Vec<HeaderValue>,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// `GET /metrics` without credentials (for a server on loopback only);
    /// otherwise it needs an admin key. Default: false.
    pub metrics_open: bool,
    /// Timeouts and caps of client connections.
    pub connections: ConnectionLimits,
    /// Proxies whose forwarded-client headers are believed; empty: none.
    pub trusted_proxies: TrustedProxies,
}

impl ServerOptions {
    /// 8 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
    /// 30 seconds.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
            allow_clients: ClientAllowList::default(),
            cors_origins: Vec::new(),
            tls: None,
            metrics_open: false,
            connections: ConnectionLimits::default(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// The application serving `gateway` (the pipeline over the models and
/// access) with the HTTP `options`, for tests and for embedding; [`serve`]
/// adds the listener, TLS and graceful shutdown.
pub fn app(gateway: Gateway, options: ServerOptions) -> Router {
    router(AppState::new(gateway, options))
}

pub(crate) fn router(state: AppState) -> Router {
    use routes::{admin, chat, completions, conversations, knowledge, models};
    let options = state.options();
    let max_body_bytes = options.max_body_bytes;
    let allow_clients = Arc::new(options.allow_clients.clone());
    let trusted_proxies = Arc::new(options.trusted_proxies.clone());
    let cors = cors_layer(&options.cors_origins);
    let metrics_open = options.metrics_open;
    // Uploads may be larger than other bodies: the knowledge part's file
    // limit and room for the multipart framing.
    let upload_limit = state
        .gateway()
        .knowledge()
        .map_or(max_body_bytes, |k| k.settings().max_file_bytes + 64 * 1024);
    // Every route here needs an authenticated caller (handlers take
    // `Caller` or `Admin`); only /health, /ready and an open /metrics are
    // not.
    let mut api = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/moat/confirmations/{id}", post(chat::decide))
        .route("/v1/completions", post(completions::completions))
        .route("/v1/embeddings", post(routes::embeddings::embeddings))
        .route("/v1/models", get(models::list_models))
        .route(
            "/v1/files",
            get(knowledge::list_files)
                .post(knowledge::upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/v1/files/{id}",
            get(knowledge::get_file).delete(knowledge::delete_file),
        )
        .route("/v1/files/{id}/content", get(knowledge::file_content))
        .route(
            "/v1/vector_stores",
            get(knowledge::list_stores).post(knowledge::create_store),
        )
        .route(
            "/v1/vector_stores/{id}",
            get(knowledge::get_store)
                .post(knowledge::modify_store)
                .delete(knowledge::delete_store),
        )
        .route(
            "/v1/vector_stores/{id}/files",
            get(knowledge::list_store_files).post(knowledge::attach),
        )
        .route(
            "/v1/vector_stores/{id}/files/{file_id}",
            get(knowledge::get_store_file).delete(knowledge::detach),
        )
        .route(
            "/v1/vector_stores/{id}/file_batches",
            post(knowledge::create_batch),
        )
        .route(
            "/v1/vector_stores/{id}/file_batches/{batch_id}",
            get(knowledge::get_batch),
        )
        .route("/v1/vector_stores/{id}/search", post(knowledge::search))
        .route("/v1/responses", post(routes::responses::create))
        .route(
            "/v1/responses/{id}",
            get(routes::responses::get).delete(routes::responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(routes::responses::input_items),
        )
        .route("/v1/conversations", post(conversations::create))
        .route(
            "/v1/conversations/{id}",
            get(conversations::get)
                .post(conversations::update)
                .delete(conversations::delete),
        )
        .route(
            "/v1/conversations/{id}/items",
            get(conversations::list_items).post(conversations::add_items),
        )
        .route(
            "/v1/conversations/{id}/items/{item_id}",
            get(conversations::get_item).delete(conversations::delete_item),
        )
        .route("/v1/moat/conversations", get(conversations::summaries))
        .route(
            "/v1/moat/conversations/{id}/export",
            get(conversations::export),
        )
        .route("/v1/models/{*model}", get(models::get_model))
        .route("/admin/keys", get(admin::list_keys).post(admin::create_key))
        .route("/admin/keys/{id}/revoke", post(admin::revoke_key))
        .route("/admin/keys/{id}/rotate", post(admin::rotate_key))
        .route("/admin/usage", get(admin::usage))
        .route("/admin/guard/scan", post(admin::guard_scan))
        .route("/admin/audit", get(admin::audit_search))
        .route("/admin/audit/verify", get(admin::audit_verify))
        .route(
            "/admin/audit/principals/{pseudonym}",
            get(admin::audit_reveal),
        );
    if !metrics_open {
        api = api.route("/metrics", get(routes::metrics::for_admin));
    }
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let mut app = Router::new()
        .merge(api)
        .route(
            "/v1/moat/session",
            post(routes::session::sign_in)
                .get(routes::session::current)
                .delete(routes::session::sign_out),
        )
        .route("/v1/moat/session/methods", get(routes::session::methods))
        .route(
            "/v1/moat/session/oidc/start",
            get(routes::session::sso_start),
        )
        .route(
            "/v1/moat/session/oidc/callback",
            get(routes::session::sso_callback),
        )
        .route("/", get(ui::index))
        .route("/assets/{*path}", get(ui::asset))
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready));
    if metrics_open {
        app = app.route("/metrics", get(routes::metrics::open));
    }
    let mut app = app
        .fallback(routes::fallback::not_found)
        .method_not_allowed_fallback(routes::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(axum::middleware::from_fn_with_state(
        allow_clients,
        network::check_client_address,
    ))
    // Inside the audit layer, so its 431 is recorded.
    .layer(axum::middleware::from_fn(headers::check_headers))
    // Outside the allow-list and authentication, so their refusals are
    // recorded too; inside request ids, so records carry them.
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        audit::record_requests,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        request_id::track_request,
    ))
    // Outermost: everything after sees the client a trusted proxy names.
    .layer(axum::middleware::from_fn_with_state(
        trusted_proxies,
        network::resolve_client,
    ))
    .with_state(state)
}

/// CORS for the listed origins only; none listed: no CORS headers at all.
fn cors_layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderName::from_static(REQUEST_ID_HEADER),
                axum::http::HeaderName::from_static(CLIENT_REQUEST_ID_HEADER),
            ])
            .expose_headers([
                axum::http::HeaderName::from_static(REQUEST_ID_HEADER),
                axum::http::HeaderName::from_static(CLIENT_REQUEST_ID_HEADER),
                axum::http::HeaderName::from_static("x-ratelimit-remaining-requests"),
                axum::http::HeaderName::from_static("x-ratelimit-remaining-tokens"),
            ]),
    )
}
