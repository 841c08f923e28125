//! Shared by the server's tests: a fake backend behind the real `Backend`
//! trait, and helpers to call the app and read its answers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod access;
pub mod fake;
pub mod world;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use moat_router::ModelRegistry;
use moat_server::{app, Access, AppState, Gateway, GatewayParts, ServerOptions};

pub use access::TestAccess;
use serde_json::Value;
use tower::ServiceExt;

pub use fake::FakeModels;

/// What an app under test is built with: the HTTP options and the
/// pipeline's parts. Either converts into it, the other left at its
/// defaults.
#[derive(Clone, Default)]
pub struct AppSetup {
    pub server: ServerOptions,
    pub gateway: GatewayParts,
}

impl From<ServerOptions> for AppSetup {
    fn from(server: ServerOptions) -> Self {
        Self {
            server,
            ..Self::default()
        }
    }
}

impl From<GatewayParts> for AppSetup {
    fn from(gateway: GatewayParts) -> Self {
        Self {
            gateway,
            ..Self::default()
        }
    }
}

/// The shared state of an app serving `models` under `access`.
pub fn state(models: ModelRegistry, access: Access, setup: impl Into<AppSetup>) -> AppState {
    let setup = setup.into();
    AppState::new(Gateway::new(models, access, setup.gateway), setup.server)
}

/// An app serving `models` under `access`.
pub fn router(models: ModelRegistry, access: Access, setup: impl Into<AppSetup>) -> axum::Router {
    let setup = setup.into();
    app(Gateway::new(models, access, setup.gateway), setup.server)
}

/// One answer of the app: status, headers and the body as text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn sse_data(&self) -> Vec<String> {
        assert!(
            self.body.ends_with("\n\n"),
            "an SSE body ends with a blank line: {:?}",
            self.body
        );
        self.body
            .split("\n\n")
            .filter(|frame| !frame.is_empty())
            .map(|frame| {
                frame
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data frame: {frame:?}"))
                    .to_owned()
            })
            .collect()
    }

    /// The SSE events parsed as JSON, checking that `[DONE]` comes exactly
    /// once, last.
    pub fn sse_events(&self) -> Vec<Value> {
        let data = self.sse_data();
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
        assert_eq!(
            data.iter().filter(|d| *d == "[DONE]").count(),
            1,
            "{data:?}"
        );
        data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }
}

/// Send `request` to an app serving the fake models.
pub async fn send(request: Request<Body>) -> Answer {
    send_with(
        FakeModels::new().registry(),
        ServerOptions::default(),
        request,
    )
    .await
}

/// Send `request` as the admin (when it carries no credentials itself).
pub async fn send_with(
    models: moat_router::ModelRegistry,
    options: impl Into<AppSetup>,
    mut request: Request<Body>,
) -> Answer {
    let access = TestAccess::new().await;
    if !request.headers().contains_key("authorization") {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", access.admin_key).parse().unwrap(),
        );
    }
    send_as(models, &access, options, request).await
}

/// Send `request` to an app under `access`, exactly as given.
pub async fn send_as(
    models: moat_router::ModelRegistry,
    access: &TestAccess,
    options: impl Into<AppSetup>,
    request: Request<Body>,
) -> Answer {
    let response: Response = router(models, access.access.clone(), options)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}
