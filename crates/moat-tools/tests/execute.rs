//! Tool calls against real HTTP servers on 127.0.0.1: URL building, body
//! modes, headers, and every safety limit (time, size, redirects, hosts,
//! addresses), plus the result cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use moat_tools::{ToolConfig, ToolError, ToolExecutor, ToolRegistry};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone)]
struct Upstream {
    hits: Arc<AtomicUsize>,
    /// Base URL that `/to-other` redirects to.
    other: Arc<String>,
}

struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(other: &str) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let state = Upstream {
            hits: hits.clone(),
            other: Arc::new(other.to_owned()),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, hits }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn handle(State(upstream): State<Upstream>, request: Request) -> Response {
    let n = upstream.hits.fetch_add(1, Ordering::SeqCst) + 1;
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late".into_response()
        }
        "/endless" => {
            let chunks =
                futures::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 1024])));
            Body::from_stream(chunks).into_response()
        }
        "/big-fixed" => vec![b'y'; 10_000].into_response(),
        "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "e".repeat(2000)).into_response(),
        "/secure" => {
            let key = request
                .headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok());
            if key == Some("k-123") {
                "ok".into_response()
            } else {
                StatusCode::UNAUTHORIZED.into_response()
            }
        }
        "/to-other" => redirect(&format!("{}/landing", upstream.other)),
        "/loop" => redirect("/loop"),
        "/count" => n.to_string().into_response(),
        "/latin1" => vec![b'c', b'a', b'f', 0xE9].into_response(),
        _ => {
            let method = request.method().to_string();
            let content_type = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap();
            axum::Json(json!({
                "method": method,
                "path": path,
                "query": query,
                "content_type": content_type,
                "body": String::from_utf8_lossy(&body),
            }))
            .into_response()
        }
    }
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

#[derive(Deserialize)]
struct File {
    tools: Vec<ToolConfig>,
}

/// An executor for one tool `t` with `top` lines and `[tools.http]` lines.
fn executor(top: &str, http: &str) -> ToolExecutor {
    let text = format!(
        "[[tools]]\nname = \"t\"\ndescription = \"d\"\n{top}\n[tools.parameters]\ntype = \"object\"\n[tools.parameters.properties.id]\ntype = \"string\"\n[tools.http]\n{http}\n"
    );
    let configs = toml::from_str::<File>(&text).unwrap().tools;
    let env = |name: &str| (name == "TOOL_KEY").then(|| "k-123".to_owned());
    let registry = ToolRegistry::with_env(configs, Path::new("."), env).unwrap();
    ToolExecutor::new(registry).unwrap()
}

async fn echo(executor: &ToolExecutor, arguments: Value) -> Value {
    let output = executor.execute("t", &arguments, "alice").await.unwrap();
    assert_eq!(output.status, 200);
    assert!(!output.cached);
    serde_json::from_str(&output.content).unwrap()
}

#[tokio::test]
async fn path_placeholder_is_one_encoded_segment() {
    let server = Server::start("").await;
    let tools = executor(
        "",
        &format!("url = \"{}/orders/{{id}}/status\"", server.base()),
    );
    let seen = echo(&tools, json!({"id": "a/../b?x"})).await;
    assert_eq!(seen["path"], "/orders/a%2F..%2Fb%3Fx/status");
    assert_eq!(seen["query"], Value::Null);
    assert_eq!(seen["method"], "GET");
    let err = tools
        .execute("t", &json!({"id": ".."}), "alice")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ToolError::InvalidUrl(_)), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn query_mode_sends_the_other_arguments() {
    let server = Server::start("").await;
    let tools = executor("", &format!("url = \"{}/search/{{id}}\"", server.base()));
    let seen = echo(
        &tools,
        json!({"id": "7", "status": "open now", "n": 3, "tags": ["a", "b"], "skip": null}),
    )
    .await;
    assert_eq!(seen["path"], "/search/7");
    assert_eq!(seen["query"], "status=open+now&n=3&tags=a&tags=b");
    assert_eq!(seen["body"], "");
}

#[tokio::test]
async fn json_body_mode_sends_the_other_arguments() {
    let server = Server::start("").await;
    let tools = executor(
        "",
        &format!(
            "method = \"POST\"\nurl = \"{}/orders/{{id}}\"",
            server.base()
        ),
    );
    let seen = echo(&tools, json!({"id": "7", "qty": 2, "note": "x y"})).await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/orders/7");
    assert_eq!(seen["query"], Value::Null);
    assert_eq!(seen["content_type"], "application/json");
    let body: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"qty": 2, "note": "x y"}));

    let none = executor(
        "",
        &format!(
            "method = \"DELETE\"\nbody = \"none\"\nurl = \"{}/orders/{{id}}\"",
            server.base()
        ),
    );
    let seen = echo(&none, json!({"id": "7", "reason": "dup"})).await;
    assert_eq!(seen["method"], "DELETE");
    assert_eq!(seen["query"], Value::Null);
    assert_eq!(seen["body"], "");
}

#[tokio::test]
async fn configured_header_is_sent() {
    let server = Server::start("").await;
    let good = executor(
        "",
        &format!(
            "url = \"{}/secure\"\nheaders = {{ \"X-Api-Key\" = \"${{TOOL_KEY}}\" }}",
            server.base()
        ),
    );
    let output = good.execute("t", &json!({}), "alice").await.unwrap();
    assert_eq!(output.content, "ok");
    let wrong = executor(
        "",
        &format!(
            "url = \"{}/secure\"\nheaders = {{ \"X-Api-Key\" = \"k-${{TOOL_KEY}}\" }}",
            server.base()
        ),
    );
    let err = wrong.execute("t", &json!({}), "alice").await.err().unwrap();
    assert!(
        matches!(err, ToolError::Status { status: 401, .. }),
        "{err}"
    );
    assert!(!format!("{wrong:?}{err:?}{err}").contains("k-123"));
}

#[tokio::test]
async fn slow_service_times_out() {
    let server = Server::start("").await;
    let tools = executor(
        "timeout = \"300ms\"",
        &format!("url = \"{}/slow\"", server.base()),
    );
    let start = Instant::now();
    let err = tools.execute("t", &json!({}), "alice").await.err().unwrap();
    assert_eq!(err, ToolError::Timeout(Duration::from_millis(300)));
    assert_eq!(err.outcome(), "timeout");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn large_answers_are_cut_off() {
    let server = Server::start("").await;
    // An endless body: only a reader that stops at the limit returns at all.
    let endless = executor(
        "max_response_bytes = 4096\ntimeout = \"20s\"",
        &format!("url = \"{}/endless\"", server.base()),
    );
    let start = Instant::now();
    let err = endless
        .execute("t", &json!({}), "alice")
        .await
        .err()
        .unwrap();
    assert_eq!(err, ToolError::TooLarge { limit: 4096 });
    assert_eq!(err.outcome(), "too_large");
    assert!(start.elapsed() < Duration::from_secs(10));
    let fixed = executor(
        "max_response_bytes = 9999",
        &format!("url = \"{}/big-fixed\"", server.base()),
    );
    let err = fixed.execute("t", &json!({}), "alice").await.err().unwrap();
    assert_eq!(err, ToolError::TooLarge { limit: 9999 });
    let fits = executor(
        "max_response_bytes = 10000",
        &format!("url = \"{}/big-fixed\"", server.base()),
    );
    assert_eq!(
        fits.execute("t", &json!({}), "alice")
            .await
            .unwrap()
            .content
            .len(),
        10_000
    );
}

#[tokio::test]
async fn redirect_to_an_allowed_host_is_followed() {
    let other = Server::start("").await;
    let first = Server::start(&other.base()).await;
    let tools = executor(
        "",
        &format!(
            "url = \"{}/to-other\"\nallow_hosts = [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]",
            first.base(),
            first.addr.port(),
            other.addr.port()
        ),
    );
    let seen = echo(&tools, json!({})).await;
    assert_eq!(seen["path"], "/landing");
    assert_eq!((first.hits(), other.hits()), (1, 1));
}

#[tokio::test]
async fn redirect_to_another_host_is_refused() {
    let other = Server::start("").await;
    let first = Server::start(&other.base()).await;
    let tools = executor("", &format!("url = \"{}/to-other\"", first.base()));
    let err = tools.execute("t", &json!({}), "alice").await.err().unwrap();
    let ToolError::RedirectNotAllowed { location } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        location,
        &format!("http://127.0.0.1:{}/landing", other.addr.port())
    );
    assert_eq!(err.outcome(), "redirect_refused");
    assert_eq!(first.hits(), 1);
    assert_eq!(other.hits(), 0, "the refused host never sees a request");
}

#[tokio::test]
async fn redirects_are_limited() {
    let server = Server::start("").await;
    let tools = executor("", &format!("url = \"{}/loop\"", server.base()));
    let err = tools.execute("t", &json!({}), "alice").await.err().unwrap();
    assert!(
        matches!(err, ToolError::RedirectNotAllowed { .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1 + moat_tools::MAX_REDIRECTS);
}

#[tokio::test]
async fn addresses_outside_allow_addresses_are_refused() {
    let server = Server::start("").await;
    let port = server.addr.port();
    // An IP literal: checked before connecting.
    let literal = executor(
        "",
        &format!(
            "url = \"{}/x\"\nallow_addresses = [\"10.0.0.0/8\"]",
            server.base()
        ),
    );
    let err = literal
        .execute("t", &json!({}), "alice")
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ToolError::AddressNotAllowed {
            host: format!("127.0.0.1:{port}"),
            address: IpAddr::from([127, 0, 0, 1]),
        }
    );
    assert_eq!(err.outcome(), "address_not_allowed");
    // A name: checked by the resolver.
    let named = executor(
        "",
        &format!("url = \"http://localhost:{port}/x\"\nallow_addresses = [\"10.0.0.0/8\"]"),
    );
    let err = named.execute("t", &json!({}), "alice").await.err().unwrap();
    let ToolError::AddressNotAllowed { host, address } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(host, "localhost");
    assert!(address.is_loopback(), "{address}");
    assert_eq!(server.hits(), 0);
    // Listed: the name's allowed address is used.
    let allowed = executor(
        "",
        &format!("url = \"http://localhost:{port}/x\"\nallow_addresses = [\"127.0.0.0/8\"]"),
    );
    assert_eq!(echo(&allowed, json!({})).await["path"], "/x");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn error_status_keeps_a_short_body() {
    let server = Server::start("").await;
    let tools = executor("", &format!("url = \"{}/fail\"", server.base()));
    let err = tools.execute("t", &json!({}), "alice").await.err().unwrap();
    let ToolError::Status { status, body } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 500);
    assert!(
        body.len() <= moat_tools::MAX_ERROR_BODY_BYTES,
        "{}",
        body.len()
    );
    assert!(body.starts_with("eeee"));
    assert_eq!(err.outcome(), "http_error");
}

#[tokio::test]
async fn unreachable_and_unknown() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tools = executor("", &format!("url = \"http://127.0.0.1:{closed}/x\""));
    let err = tools.execute("t", &json!({}), "alice").await.err().unwrap();
    assert!(matches!(err, ToolError::Connect(_)), "{err:?}");
    assert_eq!(err.outcome(), "unreachable");
    assert!(
        !err.to_string().contains("/x"),
        "no URL in the message: {err}"
    );
    let err = tools
        .execute("nope", &json!({}), "alice")
        .await
        .err()
        .unwrap();
    assert_eq!(err, ToolError::UnknownTool);
}

#[tokio::test]
async fn non_utf8_is_lossy() {
    let server = Server::start("").await;
    let tools = executor("", &format!("url = \"{}/latin1\"", server.base()));
    let output = tools.execute("t", &json!({}), "alice").await.unwrap();
    assert_eq!(output.content, "caf\u{FFFD}");
}

#[tokio::test]
async fn results_are_cached_per_scope_for_the_ttl() {
    let server = Server::start("").await;
    let tools = executor(
        "cache_ttl = \"200ms\"",
        &format!("url = \"{}/count\"", server.base()),
    );
    let args = json!({"a": 1, "b": 2});
    let first = tools.execute("t", &args, "alice").await.unwrap();
    assert_eq!((first.content.as_str(), first.cached), ("1", false));
    // Same arguments in another key order: a hit.
    let again = tools
        .execute("t", &json!({"b": 2, "a": 1}), "alice")
        .await
        .unwrap();
    assert_eq!((again.content.as_str(), again.cached), ("1", true));
    assert_eq!(server.hits(), 1);
    let bob = tools.execute("t", &args, "bob").await.unwrap();
    assert_eq!((bob.content.as_str(), bob.cached), ("2", false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = tools.execute("t", &args, "alice").await.unwrap();
    assert_eq!((later.content.as_str(), later.cached), ("3", false));
    assert_eq!(server.hits(), 3);
    let stats = tools.cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 3));
}

#[tokio::test]
async fn failures_and_uncached_tools_are_not_cached() {
    let server = Server::start("").await;
    let failing = executor(
        "cache_ttl = \"60s\"",
        &format!("url = \"{}/fail\"", server.base()),
    );
    for _ in 0..2 {
        failing
            .execute("t", &json!({}), "alice")
            .await
            .err()
            .unwrap();
    }
    assert_eq!(server.hits(), 2);
    let uncached = executor("", &format!("url = \"{}/count\"", server.base()));
    for _ in 0..2 {
        assert!(
            !uncached
                .execute("t", &json!({}), "alice")
                .await
                .unwrap()
                .cached
        );
    }
    assert_eq!(server.hits(), 4);
    assert_eq!(
        uncached.cache_stats().hits + uncached.cache_stats().misses,
        0
    );
}
