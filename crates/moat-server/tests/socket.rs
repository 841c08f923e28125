//! Tests over a real socket: `serve()` on 127.0.0.1:0, a real HTTP client,
//! client disconnects and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{FakeModels, TestAccess};
use futures::StreamExt;
use moat_server::{serve, ServerOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    key: String,
    _access: TestAccess,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(fake: &FakeModels, options: ServerOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let access = TestAccess::new().await;
        let state = common::state(fake.registry(), access.access.clone(), options);
        let server = tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            key: access.admin_key.clone(),
            _access: access,
            stop: Some(stop),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn shutdown(&mut self) {
        self.stop.take().unwrap().send(()).unwrap();
    }
}

/// Start a `slow` chat stream and read until `n` content chunks came.
async fn open_slow_stream(
    running: &Running,
    n: usize,
) -> (
    impl futures::Stream<Item = reqwest::Result<bytes::Bytes>>,
    String,
) {
    let response = reqwest::Client::new()
        .post(running.url("/v1/chat/completions"))
        .bearer_auth(&running.key)
        .json(&serde_json::json!({
            "model": "slow",
            "stream": true,
            "messages": [{"role": "user", "content": "go"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while text.matches("\"content\":\"t").count() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("the stream stalled")
            .expect("the stream ended")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    (body, text)
}

async fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

#[tokio::test]
async fn client_disconnect_drops_the_generation() {
    let fake = FakeModels::new();
    let running = Running::start(&fake, ServerOptions::default()).await;

    let (body, text) = open_slow_stream(&running, 3).await;
    assert!(text.starts_with("data: {"), "{text}");
    assert_eq!(fake.counters.started(), 1);
    assert_eq!(fake.counters.dropped(), 0);

    drop(body);
    assert!(
        wait_until(Duration::from_secs(1), || fake.counters.dropped() == 1).await,
        "the backend's stream was not dropped after the client went away"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_after_the_grace_period() {
    let fake = FakeModels::new();
    let grace = Duration::from_millis(300);
    let options = ServerOptions {
        shutdown_grace: grace,
        ..ServerOptions::default()
    };
    let mut running = Running::start(&fake, options).await;
    let (mut body, mut text) = open_slow_stream(&running, 2).await;

    let asked = Instant::now();
    running.shutdown();
    // Within the grace period, tokens keep coming.
    let before = text.matches("\"content\":\"t").count();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("the stream was not ended")
    {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let ended_after = asked.elapsed();
    assert!(ended_after >= grace, "ended after {ended_after:?}");
    assert!(
        text.matches("\"content\":\"t").count() > before + 2,
        "{text}"
    );

    let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
    let n = frames.len();
    assert_eq!(frames[n - 1], "data: [DONE]");
    assert_eq!(text.matches("[DONE]").count(), 1);
    let error: serde_json::Value =
        serde_json::from_str(frames[n - 2].strip_prefix("data: ").unwrap()).unwrap();
    insta::assert_json_snapshot!(error, @r#"
        {
          "error": {
            "message": "The server is shutting down; the generation was stopped.",
            "type": "server_error",
            "param": null,
            "code": "unavailable"
          }
        }
        "#);

    let served = tokio::time::timeout(Duration::from_secs(2), running.server)
        .await
        .expect("serve did not return after shutdown")
        .unwrap();
    assert!(served.is_ok(), "{served:?}");
    assert_eq!(fake.counters.dropped(), 1);
}

#[tokio::test]
async fn shutdown_without_open_requests_returns_at_once() {
    let fake = FakeModels::new();
    let mut running = Running::start(&fake, ServerOptions::default()).await;
    let health = reqwest::get(running.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    drop(health);

    running.shutdown();
    let served = tokio::time::timeout(Duration::from_secs(2), running.server)
        .await
        .expect("serve did not return")
        .unwrap();
    assert!(served.is_ok(), "{served:?}");
}
