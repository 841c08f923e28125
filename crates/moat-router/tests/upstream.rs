//! The upstream backend against a real HTTP server started in the test: an
//! axum app on 127.0.0.1:0 answering canned OpenAI SSE streams, errors and
//! slow answers, picked by the model name it receives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use moat_protocol::chat::{
    ChatCompletionRequest, ChatMessage, FunctionCallDelta, Role, ToolCallDelta,
};
use moat_protocol::completion::{CompletionRequest, Prompt};
use moat_protocol::{ApiError, ErrorKind, FinishReason, GenerationEvent, Usage};
use moat_router::upstream::{UpstreamBackend, UpstreamConfig};
use moat_router::{Backend, EventStream};
use serde_json::{json, Value};

// ---------- the fake upstream server ----------

/// What the fake upstream received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Upstream {
    received: Arc<Mutex<Vec<Received>>>,
}

fn sse(frames: &[&str]) -> Response {
    let body: String = frames.iter().map(|f| format!("data: {f}\n\n")).collect();
    ([("content-type", "text/event-stream")], body).into_response()
}

const ROLE: &str = r#"{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#;

fn content(text: &str) -> String {
    json!({"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"content":text},"logprobs":null,"finish_reason":null}]})
    .to_string()
}

fn finish(reason: &str) -> String {
    json!({"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":reason}],"usage":null})
    .to_string()
}

const USAGE: &str = r#"{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":null}}"#;

fn error_json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

async fn chat(State(upstream): State<Upstream>, headers: HeaderMap, body: Json<Value>) -> Response {
    record(&upstream, "/v1/chat/completions", &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    match model.as_str() {
        "canned" => sse(&[
            ROLE,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"Hmm."},"finish_reason":null}]}"#,
            &content("Hel"),
            &content("lo"),
            &finish("stop"),
            USAGE,
            "[DONE]",
        ]),
        "tools" => sse(&[
            ROLE,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"Oslo\"}"}}]},"finish_reason":null}]}"#,
            &finish("tool_calls"),
            USAGE,
            "[DONE]",
        ]),
        "no-usage" => sse(&[ROLE, &content("Hi"), &finish("length"), "[DONE]"]),
        "no-finish" => sse(&[ROLE, &content("Hi"), "[DONE]"]),
        "midstream-error" => sse(&[
            ROLE,
            &content("Hi"),
            r#"{"error":{"message":"CUDA error at /opt/secret/kernel.cu","type":"InternalServerError","code":500}}"#,
        ]),
        "error-first" => sse(&[r#"{"error":{"message":"engine dead","code":500}}"#]),
        "bad-request" => error_json(
            StatusCode::BAD_REQUEST,
            json!({"error":{"message":"temperature must be at most 2","type":"invalid_request_error","param":"temperature","code":null}}),
        ),
        "legacy-bad-request" => error_json(
            StatusCode::BAD_REQUEST,
            json!({"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}),
        ),
        "missing" => error_json(
            StatusCode::NOT_FOUND,
            json!({"error":{"message":"The model `missing` does not exist.","type":"NotFoundError","param":null,"code":404}}),
        ),
        "boom" => error_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error":{"message":"Traceback at /opt/secret/server.py line 7","type":"InternalServerError"}}),
        ),
        "busy" => error_json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error":{"message":"rate limited","type":"rate_limit_error"}}),
        ),
        "slow-headers" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            sse(&[ROLE, &finish("stop"), "[DONE]"])
        }
        "slow-tokens" => {
            let frames = futures::stream::iter([
                format!("data: {ROLE}\n\n"),
                format!("data: {}\n\n", content("Hi")),
            ])
            .map(Ok::<_, std::convert::Infallible>)
            .chain(futures::stream::once(async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(format!("data: {}\n\n", content("late")))
            }));
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(frames),
            )
                .into_response()
        }
        other => error_json(
            StatusCode::NOT_FOUND,
            json!({"error":{"message":format!("unknown test model {other}")}}),
        ),
    }
}

async fn completions(
    State(upstream): State<Upstream>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    record(&upstream, "/v1/completions", &headers, &body);
    let text = |t: &str, finish: Value| {
        json!({"id":"cmpl-up","object":"text_completion","created":1,"model":"m",
            "choices":[{"index":0,"text":t,"logprobs":null,"finish_reason":finish}]})
        .to_string()
    };
    sse(&[
        &text("Once", Value::Null),
        &text(" upon", Value::Null),
        &text("", json!("length")),
        r#"{"id":"cmpl-up","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}"#,
        "[DONE]",
    ])
}

fn record(upstream: &Upstream, path: &str, headers: &HeaderMap, body: &Value) {
    upstream.received.lock().unwrap().push(Received {
        path: path.to_owned(),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: body.clone(),
    });
}

async fn models() -> Json<Value> {
    Json(json!({"object":"list","data":[{"id":"canned","object":"model"}]}))
}

/// Start the fake upstream; its base URL (with `/v1`) and what it receives.
async fn start_upstream() -> (String, Upstream) {
    let upstream = Upstream::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), upstream)
}

// ---------- helpers ----------

fn config(base_url: &str, upstream_model: &str) -> UpstreamConfig {
    UpstreamConfig {
        id: "local-model".to_owned(),
        base_url: base_url.to_owned(),
        api_key: Some("sk-test-secret".to_owned()),
        upstream_model: Some(upstream_model.to_owned()),
        timeout: Duration::from_secs(5),
        context_length: Some(4096),
    }
}

fn backend(base_url: &str, upstream_model: &str) -> UpstreamBackend {
    UpstreamBackend::new(config(base_url, upstream_model)).unwrap()
}

fn chat_request() -> ChatCompletionRequest {
    ChatCompletionRequest {
        model: "local-model".to_owned(),
        messages: vec![ChatMessage::text(Role::User, "Say hello")],
        temperature: Some(0.5),
        max_tokens: Some(16),
        ..ChatCompletionRequest::default()
    }
}

async fn collect(stream: EventStream) -> Vec<Result<GenerationEvent, ApiError>> {
    stream.collect().await
}

async fn chat_events(
    base_url: &str,
    upstream_model: &str,
) -> Vec<Result<GenerationEvent, ApiError>> {
    let stream = backend(base_url, upstream_model)
        .chat(chat_request())
        .await
        .unwrap();
    collect(stream).await
}

async fn chat_error(base_url: &str, upstream_model: &str) -> ApiError {
    match backend(base_url, upstream_model).chat(chat_request()).await {
        Ok(_) => panic!("expected an error from `{upstream_model}`"),
        Err(error) => error,
    }
}

/// A base URL on which nothing listens.
async fn refused_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

// ---------- relaying ----------

#[tokio::test]
async fn a_stream_is_relayed_with_reasoning_and_usage() {
    let (base, _) = start_upstream().await;
    let events = chat_events(&base, "canned").await;
    assert_eq!(
        events,
        vec![
            Ok(GenerationEvent::reasoning("Hmm.")),
            Ok(GenerationEvent::content("Hel")),
            Ok(GenerationEvent::content("lo")),
            Ok(GenerationEvent::Finish {
                reason: FinishReason::Stop,
                usage: Usage::new(11, 3, Some(8)),
            }),
        ]
    );
}

#[tokio::test]
async fn the_request_goes_upstream_streamed_with_the_upstream_model_and_key() {
    let (base, upstream) = start_upstream().await;
    // The client asked for no streaming: upstream is always streamed.
    let events = chat_events(&base, "canned").await;
    assert!(events.iter().all(Result::is_ok));

    let received = upstream.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let received = &received[0];
    assert_eq!(received.path, "/v1/chat/completions");
    assert_eq!(
        received.authorization.as_deref(),
        Some("Bearer sk-test-secret")
    );
    insta::assert_json_snapshot!(received.body, @r#"
        {
          "model": "canned",
          "messages": [
            {
              "role": "user",
              "content": "Say hello"
            }
          ],
          "stream": true,
          "max_tokens": 16,
          "temperature": 0.5,
          "stream_options": {
            "include_usage": true
          }
        }
        "#);
}

#[tokio::test]
async fn without_an_upstream_model_the_id_is_sent() {
    let (base, upstream) = start_upstream().await;
    let config = UpstreamConfig {
        id: "canned".to_owned(),
        upstream_model: None,
        api_key: None,
        ..config(&base, "unused")
    };
    let stream = UpstreamBackend::new(config)
        .unwrap()
        .chat(chat_request())
        .await
        .unwrap();
    assert!(collect(stream).await.iter().all(Result::is_ok));
    let received = upstream.received.lock().unwrap()[0].clone();
    assert_eq!(received.body["model"], "canned");
    assert_eq!(received.authorization, None);
}

#[tokio::test]
async fn tool_call_deltas_are_relayed_intact() {
    let (base, _) = start_upstream().await;
    let events = chat_events(&base, "tools").await;
    let call = |id: Option<&str>, name: Option<&str>, arguments: &str| {
        Ok(GenerationEvent::Delta {
            content: String::new(),
            reasoning: String::new(),
            tool_calls: vec![ToolCallDelta {
                index: 0,
                id: id.map(str::to_owned),
                kind: id.map(|_| "function".to_owned()),
                function: Some(FunctionCallDelta {
                    name: name.map(str::to_owned),
                    arguments: Some(arguments.to_owned()),
                }),
            }],
        })
    };
    assert_eq!(
        events,
        vec![
            call(Some("call_a"), Some("get_weather"), ""),
            call(None, None, "{\"city\":"),
            call(None, None, " \"Oslo\"}"),
            Ok(GenerationEvent::Finish {
                reason: FinishReason::ToolCalls,
                usage: Usage::new(11, 3, Some(8)),
            }),
        ]
    );
}

#[tokio::test]
async fn missing_usage_is_zero() {
    let (base, _) = start_upstream().await;
    let events = chat_events(&base, "no-usage").await;
    assert_eq!(
        events.last(),
        Some(&Ok(GenerationEvent::Finish {
            reason: FinishReason::Length,
            usage: Usage::default(),
        }))
    );
}

#[tokio::test]
async fn a_stream_without_finish_ends_with_an_upstream_error() {
    let (base, _) = start_upstream().await;
    let events = chat_events(&base, "no-finish").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], Ok(GenerationEvent::content("Hi")));
    let error = events[1].clone().unwrap_err();
    assert_eq!(error.kind, ErrorKind::UpstreamError);
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn an_error_event_midstream_ends_the_stream_without_leaking() {
    let (base, _) = start_upstream().await;
    let events = chat_events(&base, "midstream-error").await;
    assert_eq!(events.len(), 2, "{events:?}");
    let error = events[1].clone().unwrap_err();
    assert_eq!(error.kind, ErrorKind::UpstreamError);
    assert!(!error.message.contains("secret"), "{}", error.message);
}

#[tokio::test]
async fn an_error_event_first_is_an_error_before_streaming() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "error-first").await;
    assert_eq!(error.kind, ErrorKind::UpstreamError);
}

#[tokio::test]
async fn text_completions_are_relayed() {
    let (base, upstream) = start_upstream().await;
    let request = CompletionRequest {
        model: "local-model".to_owned(),
        prompt: Prompt::One("Tell a story".to_owned()),
        stream: false,
        stream_options: None,
        max_tokens: Some(2),
        temperature: None,
        top_p: None,
        top_k: None,
        min_p: None,
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        stop: None,
        n: None,
        echo: None,
        user: None,
        token_budget: None,
    };
    let stream = backend(&base, "canned").complete(request).await.unwrap();
    assert_eq!(
        collect(stream).await,
        vec![
            Ok(GenerationEvent::content("Once")),
            Ok(GenerationEvent::content(" upon")),
            Ok(GenerationEvent::Finish {
                reason: FinishReason::Length,
                usage: Usage::new(2, 2, None),
            }),
        ]
    );
    let received = upstream.received.lock().unwrap()[0].clone();
    assert_eq!(received.path, "/v1/completions");
    assert_eq!(received.body["stream"], true);
    assert_eq!(received.body["stream_options"]["include_usage"], true);
    assert_eq!(received.body["prompt"], "Tell a story");
}

// ---------- errors ----------

#[tokio::test]
async fn upstream_400_passes_its_message_and_param() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "bad-request").await;
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"temperature must be at most 2","type":"invalid_request_error","param":"temperature","code":null}}"#);
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn upstream_context_overflow_in_the_older_vllm_shape() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "legacy-bad-request").await;
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}"#);
}

#[tokio::test]
async fn upstream_404_is_model_not_found() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "missing").await;
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"The model `missing` does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#);
    assert_eq!(error.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upstream_500_is_a_502_with_a_fixed_message() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "boom").await;
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"The upstream server failed.","type":"server_error","param":null,"code":"upstream_error"}}"#);
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn upstream_429_is_overloaded() {
    let (base, _) = start_upstream().await;
    let error = chat_error(&base, "busy").await;
    assert_eq!(error.kind, ErrorKind::Overloaded);
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_wrong_base_url_is_a_502() {
    let (base, _) = start_upstream().await;
    // axum's default 404 has no error object: a configuration mistake.
    let error = chat_error(&base.replace("/v1", "/v2"), "canned").await;
    assert_eq!(error.kind, ErrorKind::UpstreamError);
}

#[tokio::test]
async fn no_answer_in_time_is_a_504() {
    let (base, _) = start_upstream().await;
    let config = UpstreamConfig {
        timeout: Duration::from_millis(200),
        ..config(&base, "slow-headers")
    };
    let started = Instant::now();
    let result = UpstreamBackend::new(config)
        .unwrap()
        .chat(chat_request())
        .await;
    let error = result.err().expect("a timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"The upstream server did not answer in time.","type":"server_error","param":null,"code":"upstream_timeout"}}"#);
    assert_eq!(error.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout_event() {
    let (base, _) = start_upstream().await;
    let config = UpstreamConfig {
        timeout: Duration::from_millis(300),
        ..config(&base, "slow-tokens")
    };
    let stream = UpstreamBackend::new(config)
        .unwrap()
        .chat(chat_request())
        .await
        .unwrap();
    let events = collect(stream).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], Ok(GenerationEvent::content("Hi")));
    assert_eq!(
        events[1].clone().unwrap_err().kind,
        ErrorKind::UpstreamTimeout
    );
}

#[tokio::test]
async fn connection_refused_is_a_502() {
    let base = refused_base_url().await;
    let error = chat_error(&base, "canned").await;
    insta::assert_snapshot!(error.to_json(), @r#"{"error":{"message":"The upstream server could not be reached.","type":"server_error","param":null,"code":"upstream_error"}}"#);
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
}

// ---------- readiness, configuration ----------

#[tokio::test]
async fn ready_asks_the_upstream_for_its_models() {
    let (base, _) = start_upstream().await;
    assert!(backend(&base, "canned").ready().await);
    assert!(!backend(&refused_base_url().await, "canned").ready().await);
}

#[tokio::test]
async fn info_describes_the_model() {
    let info = backend("http://127.0.0.1:1/v1/", "x").info();
    assert_eq!(info.id, "local-model");
    assert_eq!(info.kind, "upstream");
    assert_eq!(info.context_length, Some(4096));
}

#[test]
fn bad_configurations_are_refused_with_the_reason() {
    let bad_url = UpstreamBackend::new(config("not a url", "x")).unwrap_err();
    assert!(
        bad_url.contains("local-model") && bad_url.contains("base_url"),
        "{bad_url}"
    );
    let bad_scheme = UpstreamBackend::new(config("ftp://host/v1", "x")).unwrap_err();
    assert!(bad_scheme.contains("http://"), "{bad_scheme}");
    let zero = UpstreamConfig {
        timeout: Duration::ZERO,
        ..config("http://host/v1", "x")
    };
    assert!(UpstreamBackend::new(zero).unwrap_err().contains("timeout"));
}

#[test]
fn the_api_key_is_never_printed() {
    let config = config("http://host/v1", "x");
    let printed = format!("{config:?}");
    assert!(!printed.contains("sk-test-secret"), "{printed}");
    let backend = UpstreamBackend::new(config).unwrap();
    assert!(!format!("{backend:?}").contains("sk-test-secret"));
}
