//! moat in front of moat: an upstream backend pointed at a second moat
//! serving the fake models, so the whole relay (HTTP, SSE, error mapping)
//! is exercised in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{post_json, send_with, FakeModels, TestAccess};
use moat_router::upstream::{UpstreamBackend, UpstreamConfig};
use moat_router::ModelRegistry;
use moat_server::{serve, ServerOptions};
use tokio::net::TcpListener;

/// A moat serving the fake models on a real socket; its base URL.
/// The inner moat requires a key like any other: the front presents it.
async fn start_inner() -> (String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let models = FakeModels::new().registry();
    // Lives as long as the test process: the inner server keeps serving.
    let access: &'static TestAccess = Box::leak(Box::new(TestAccess::new().await));
    let state = common::state(models, access.access.clone(), ServerOptions::default());
    tokio::spawn(serve(listener, state, std::future::pending()));
    (format!("http://{addr}/v1"), access.admin_key.clone())
}

/// The front registry: `relay-<name>` is the inner fake model `<name>`.
fn front((base_url, key): &(String, String)) -> ModelRegistry {
    let mut registry = ModelRegistry::new();
    for name in ["echo", "tools", "error-before", "error-midstream", "gone"] {
        let backend = UpstreamBackend::new(UpstreamConfig {
            id: format!("relay-{name}"),
            base_url: base_url.to_owned(),
            api_key: Some(key.clone()),
            upstream_model: Some(name.to_owned()),
            timeout: Duration::from_secs(5),
            context_length: None,
        })
        .unwrap();
        registry.insert(Arc::new(backend)).unwrap();
    }
    registry
}

fn body(model: &str, extra: &str) -> String {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"Hello there friend"}}]{extra}}}"#
    )
}

#[tokio::test]
async fn a_chat_completion_is_relayed() {
    let models = front(&start_inner().await);
    let answer = send_with(
        models,
        ServerOptions::default(),
        post_json("/v1/chat/completions", &body("relay-echo", "")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let json = answer.json();
    assert_eq!(json["model"], "relay-echo");
    assert_eq!(
        json["choices"][0]["message"]["content"],
        "Hello there friend"
    );
    assert_eq!(json["usage"]["total_tokens"], 6);
}

#[tokio::test]
async fn a_stream_of_tool_calls_is_relayed() {
    let models = front(&start_inner().await);
    let answer = send_with(
        models,
        ServerOptions::default(),
        post_json(
            "/v1/chat/completions",
            &body(
                "relay-tools",
                r#","stream":true,"stream_options":{"include_usage":true}"#,
            ),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let events = answer.sse_events();
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"].get("tool_calls"))
        .collect();
    insta::assert_json_snapshot!(calls, @r#"
        [
          [
            {
              "index": 0,
              "id": "call_0",
              "type": "function",
              "function": {
                "name": "get_weather",
                "arguments": ""
              }
            }
          ],
          [
            {
              "index": 0,
              "function": {
                "arguments": "{\"city\":"
              }
            }
          ],
          [
            {
              "index": 0,
              "function": {
                "arguments": " \"Paris\"}"
              }
            }
          ],
          [
            {
              "index": 1,
              "id": "call_1",
              "type": "function",
              "function": {
                "name": "get_time",
                "arguments": "{\"tz\""
              }
            }
          ],
          [
            {
              "index": 1,
              "function": {
                "arguments": ": \"CET\"}"
              }
            }
          ]
        ]
        "#);
    let last = events.last().unwrap();
    assert_eq!(last["usage"]["completion_tokens"], 20);
}

#[tokio::test]
async fn inner_errors_map_to_the_same_kinds() {
    let models = front(&start_inner().await);
    let call = |model: &str, extra: &str| {
        send_with(
            models.clone(),
            ServerOptions::default(),
            post_json("/v1/chat/completions", &body(model, extra)),
        )
    };
    let overloaded = call("relay-error-before", "").await;
    assert_eq!(overloaded.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(overloaded.json()["error"]["code"], "overloaded");

    let gone = call("relay-gone", "").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json()["error"]["code"], "model_not_found");

    let midstream = call("relay-error-midstream", r#","stream":true"#).await;
    let events = midstream.sse_events();
    let error = &events.last().unwrap()["error"];
    assert_eq!(error["code"], "upstream_error");
    assert_eq!(events[1]["choices"][0]["delta"]["content"], "Hello");

    let bad = call("relay-echo", r#","temperature":3"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["param"], "temperature");
}
