//! The HTTP edge: what an anonymous caller learns from unknown routes and
//! wrong methods, oversized heads, numbers out of range, forwarded client
//! addresses, and connections that stall, over a real socket where it
//! matters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::access::Setup;
use common::{post_json, send_as, FakeModels, TestAccess};
use insta::assert_json_snapshot;
use moat_policy::failures::FailureSettings;
use moat_server::{serve, ClientAllowList, ConnectionLimits, ServerOptions, TrustedProxies};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const CHAT: &str = "/v1/chat/completions";

fn request(method: Method, path: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn answer(access: &TestAccess, request: Request<Body>) -> common::Answer {
    send_as(
        FakeModels::new().registry(),
        access,
        ServerOptions::default(),
        request,
    )
    .await
}

// ---------- 401 before 404 and 405 ----------

#[tokio::test]
async fn anonymous_callers_get_401_for_unknown_routes_and_wrong_methods() {
    let access = TestAccess::new().await;
    for (method, path) in [
        (Method::GET, "/v1/embeddingz"),
        (Method::GET, "/v1"),
        (Method::POST, "/admin/nothing/here"),
        (Method::DELETE, "/v1/models"),
        (Method::GET, CHAT),
        (Method::PUT, "/admin/keys"),
    ] {
        let anonymous = answer(&access, request(method.clone(), path, None)).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(anonymous.json()["error"]["code"], "invalid_api_key");
        let wrong = moat_policy::apikey::new_secret();
        let guessed = answer(&access, request(method.clone(), path, Some(&wrong))).await;
        assert_eq!(guessed.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let anonymous = answer(&access, request(Method::GET, "/v1/embeddingz", None)).await;
    assert_json_snapshot!(anonymous.json(), @r#"
    {
      "error": {
        "message": "Incorrect API key provided. Send a valid key or token as `Authorization: Bearer ...`.",
        "type": "invalid_request_error",
        "param": null,
        "code": "invalid_api_key"
      }
    }
    "#);
}

#[tokio::test]
async fn authenticated_callers_still_get_404_and_405() {
    let access = TestAccess::new().await;
    let key = Some(access.admin_key.as_str());
    let missing = answer(&access, request(Method::GET, "/admin/nothing", key)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!(missing.json(), @r#"
    {
      "error": {
        "message": "Invalid URL (GET /admin/nothing).",
        "type": "invalid_request_error",
        "param": null,
        "code": "not_found"
      }
    }
    "#);
    let wrong = answer(&access, request(Method::DELETE, "/v1/models", key)).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers["allow"], "GET,HEAD");
    // Outside the API, 404 needs no credentials.
    let elsewhere = answer(&access, request(Method::GET, "/nope", None)).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
}

// ---------- headers ----------

#[tokio::test]
async fn too_many_headers_get_431_json_and_an_audit_record() {
    let access = TestAccess::new().await;
    let mut builder =
        Request::get("/v1/models").header("authorization", format!("Bearer {}", access.admin_key));
    for i in 0..120 {
        builder = builder.header(format!("x-filler-{i}"), "v");
    }
    let refused = answer(&access, builder.body(Body::empty()).unwrap()).await;
    assert_eq!(refused.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(refused.headers["content-type"], "application/json");
    assert_json_snapshot!(refused.json(), @r#"
    {
      "error": {
        "message": "The request has 121 headers; at most 100 are accepted.",
        "type": "invalid_request_error",
        "param": null,
        "code": "request_header_fields_too_large"
      }
    }
    "#);
    let big = Request::get("/v1/models")
        .header("x-big", "v".repeat(40_000))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        answer(&access, big).await.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let records = answer(
        &access,
        request(
            Method::GET,
            "/admin/audit?status=431",
            Some(&access.admin_key),
        ),
    )
    .await;
    assert_eq!(records.status, StatusCode::OK, "{}", records.body);
    let json = records.json();
    let found = json["data"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{json}");
    assert!(
        found
            .iter()
            .all(|r| r["error_code"] == "request_header_fields_too_large"
                && r["outcome"] == "refused")
    );
}

// ---------- numbers ----------

#[tokio::test]
async fn a_number_out_of_range_names_its_parameter() {
    let access = TestAccess::new().await;
    let mut request = post_json(
        CHAT,
        r#"{"model":"echo","messages":[{"role":"user","content":"hi"}],"temperature":1e309}"#,
    );
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", access.admin_key).parse().unwrap(),
    );
    let refused = answer(&access, request).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(refused.json(), @r#"
    {
      "error": {
        "message": "Invalid value for 'temperature': the number is out of range.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value"
      }
    }
    "#);
}

// ---------- over a real socket ----------

async fn start(
    access: &TestAccess,
    options: ServerOptions,
    stop: &CancellationToken,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = common::state(FakeModels::new().registry(), access.access.clone(), options);
    let stop = stop.clone();
    tokio::spawn(serve(
        listener,
        state,
        async move { stop.cancelled().await },
    ));
    addr
}

async fn status(client: &reqwest::Client, addr: SocketAddr, key: &str, forwarded_for: &str) -> u16 {
    client
        .get(format!("http://{addr}/v1/models"))
        .bearer_auth(key)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_for_the_allow_list_and_the_lockout() {
    let access = TestAccess::build(Setup {
        failures: Some(FailureSettings {
            slow_after_failures: 10,
            lock_after_failures: 3,
            window_secs: 600,
            lockout_secs: 60,
        }),
        ..Setup::default()
    })
    .await;
    let stop = CancellationToken::new();
    let options = ServerOptions {
        allow_clients: ClientAllowList::parse(&["203.0.113.0/24"]).unwrap(),
        trusted_proxies: TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
        ..ServerOptions::default()
    };
    let addr = start(&access, options, &stop).await;
    let client = reqwest::Client::new();
    let key = access.admin_key.clone();
    let wrong = moat_policy::apikey::new_secret();
    assert_eq!(status(&client, addr, &key, "203.0.113.5").await, 200);
    assert_eq!(
        status(&client, addr, &key, "203.0.113.5, 6.6.6.6").await,
        403
    );
    // Three failures lock the forwarded client 203.0.113.7, not the proxy.
    let failures = [
        status(&client, addr, &wrong, "203.0.113.7").await,
        status(&client, addr, &wrong, "203.0.113.7").await,
        status(&client, addr, &wrong, "203.0.113.7").await,
    ];
    assert_eq!(failures, [401, 401, 429]);
    assert_eq!(status(&client, addr, &wrong, "203.0.113.8").await, 401);
    // An untrusted peer's header is ignored: 127.0.0.2 is not allowed.
    let untrusted = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    assert_eq!(status(&untrusted, addr, &key, "203.0.113.5").await, 403);
    stop.cancel();
}

fn short_limits() -> ServerOptions {
    ServerOptions {
        connections: ConnectionLimits {
            header_timeout: Duration::from_millis(1500),
            body_timeout: Duration::from_millis(1500),
            idle_timeout: Duration::from_millis(1500),
            max_per_client: 3,
            max_total: 100,
        },
        ..ServerOptions::default()
    }
}

/// Read until the server closes the connection (or 10 s pass).
async fn until_closed(stream: &mut TcpStream) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after 10 s"),
        }
    }
    (start.elapsed(), received)
}

#[tokio::test]
async fn stalled_heads_and_idle_keep_alives_are_closed() {
    let access = TestAccess::new().await;
    let stop = CancellationToken::new();
    let addr = start(&access, short_limits(), &stop).await;
    for sent in [
        &b""[..],
        b"GET /hea",
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(sent).await.unwrap();
        let (took, received) = until_closed(&mut stream).await;
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
        assert!(
            took >= Duration::from_millis(1200) && took < Duration::from_secs(4),
            "{took:?}"
        );
    }
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (took, received) = until_closed(&mut stream).await;
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(4),
        "{took:?}"
    );
    stop.cancel();
}

#[tokio::test]
async fn a_short_body_is_answered_408_and_recorded() {
    let access = TestAccess::new().await;
    let stop = CancellationToken::new();
    let addr = start(&access, short_limits(), &stop).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\"",
        access.admin_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (took, received) = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""code":"request_timeout""#), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
    let records = answer(
        &access,
        request(
            Method::GET,
            "/admin/audit?status=408",
            Some(&access.admin_key),
        ),
    )
    .await;
    assert_eq!(
        records.json()["data"].as_array().unwrap().len(),
        1,
        "{}",
        records.body
    );
    stop.cancel();
}

#[tokio::test]
async fn one_client_gets_its_share_of_connections() {
    let access = TestAccess::new().await;
    let stop = CancellationToken::new();
    let addr = start(&access, short_limits(), &stop).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (took, received) = until_closed(&mut extra).await;
    assert!(
        received.is_empty() && took < Duration::from_millis(500),
        "{took:?}"
    );
    let other = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let health = other
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(again.status(), 200);
    stop.cancel();
}
