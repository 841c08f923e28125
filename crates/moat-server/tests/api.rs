//! In-process tests of the whole application over the fake backend: the
//! exact JSON of every answer and every error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{get, post_json, send, send_with, FakeModels};
use insta::assert_json_snapshot;
use moat_server::ServerOptions;
use serde_json::Value;

const CHAT: &str = "/v1/chat/completions";
const COMPLETIONS: &str = "/v1/completions";

fn chat_body(model: &str, extra: &str) -> String {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"system","content":"Be brief."}},{{"role":"user","content":"Hello there friend"}}]{extra}}}"#
    )
}

fn is_response_id(id: &Value, prefix: &str) -> bool {
    id.as_str().is_some_and(|id| {
        id.strip_prefix(prefix)
            .is_some_and(|rest| rest.len() == 24 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    })
}

/// Every chunk of one stream has the same id and `created`.
fn assert_one_identity(events: &[Value], prefix: &str) {
    let id = &events[0]["id"];
    let created = &events[0]["created"];
    assert!(is_response_id(id, prefix), "{id}");
    assert!(created.as_u64().is_some_and(|c| c > 1_600_000_000));
    for event in events {
        assert_eq!(&event["id"], id);
        assert_eq!(&event["created"], created);
    }
}

// ---------- chat completions ----------

#[tokio::test]
async fn chat_completion() {
    let answer = send(post_json(CHAT, &chat_body("echo", ""))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["content-type"], "application/json",
        "{:?}",
        answer.headers
    );
    let json = answer.json();
    assert!(is_response_id(&json["id"], "chatcmpl-"), "{json}");
    assert_json_snapshot!(json, {".id" => "[id]", ".created" => "[created]"}, @r#"
        {
          "id": "[id]",
          "object": "chat.completion",
          "created": "[created]",
          "model": "echo",
          "choices": [
            {
              "index": 0,
              "message": {
                "role": "assistant",
                "content": "Hello there friend"
              },
              "finish_reason": "stop",
              "logprobs": null
            }
          ],
          "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8
          }
        }
        "#);
}

#[tokio::test]
async fn chat_completion_stream_with_usage() {
    let answer = send(post_json(
        CHAT,
        &chat_body(
            "echo",
            r#","stream":true,"stream_options":{"include_usage":true}"#,
        ),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    assert_eq!(answer.headers["cache-control"], "no-cache");
    let events = answer.sse_events();
    assert_one_identity(&events, "chatcmpl-");
    assert_json_snapshot!(events, {"[].id" => "[id]", "[].created" => "[created]"}, @r#"
        [
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "role": "assistant",
                  "content": ""
                },
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "content": "Hello"
                },
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "content": " there"
                },
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "content": " friend"
                },
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "delta": {},
                "finish_reason": "stop",
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "echo",
            "choices": [],
            "usage": {
              "prompt_tokens": 5,
              "completion_tokens": 3,
              "total_tokens": 8
            }
          }
        ]
        "#);
}

#[tokio::test]
async fn chat_completion_stream_without_usage_has_no_usage_field() {
    let answer = send(post_json(CHAT, &chat_body("echo", r#","stream":true"#))).await;
    let events = answer.sse_events();
    assert_eq!(events.len(), 5, "{events:?}");
    for event in &events {
        assert!(event.get("usage").is_none(), "{event}");
        assert_eq!(event["choices"].as_array().unwrap().len(), 1);
    }
    assert_eq!(events[4]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn chat_completion_with_reasoning() {
    let answer = send(post_json(CHAT, &chat_body("think", ""))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_json_snapshot!(answer.json(), {".id" => "[id]", ".created" => "[created]"}, @r#"
        {
          "id": "[id]",
          "object": "chat.completion",
          "created": "[created]",
          "model": "think",
          "choices": [
            {
              "index": 0,
              "message": {
                "role": "assistant",
                "content": "The answer is 42.",
                "reasoning_content": "Let me think."
              },
              "finish_reason": "stop",
              "logprobs": null
            }
          ],
          "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 9,
            "total_tokens": 14,
            "prompt_tokens_details": {
              "cached_tokens": 2
            }
          }
        }
        "#);
}

#[tokio::test]
async fn chat_completion_stream_with_reasoning() {
    let answer = send(post_json(CHAT, &chat_body("think", r#","stream":true"#))).await;
    let events = answer.sse_events();
    assert_one_identity(&events, "chatcmpl-");
    let deltas: Vec<&Value> = events.iter().map(|e| &e["choices"][0]["delta"]).collect();
    assert_json_snapshot!(deltas, @r#"
        [
          {
            "role": "assistant",
            "content": ""
          },
          {
            "reasoning_content": "Let me"
          },
          {
            "reasoning_content": " think."
          },
          {
            "content": "The answer"
          },
          {
            "content": " is 42."
          },
          {}
        ]
        "#);
}

#[tokio::test]
async fn chat_completion_with_tool_calls() {
    let answer = send(post_json(CHAT, &chat_body("tools", ""))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_json_snapshot!(answer.json(), {".id" => "[id]", ".created" => "[created]"}, @r#"
        {
          "id": "[id]",
          "object": "chat.completion",
          "created": "[created]",
          "model": "tools",
          "choices": [
            {
              "index": 0,
              "message": {
                "role": "assistant",
                "content": null,
                "tool_calls": [
                  {
                    "id": "call_0",
                    "type": "function",
                    "function": {
                      "name": "get_weather",
                      "arguments": "{\"city\": \"Paris\"}"
                    }
                  },
                  {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                      "name": "get_time",
                      "arguments": "{\"tz\": \"CET\"}"
                    }
                  }
                ]
              },
              "finish_reason": "tool_calls",
              "logprobs": null
            }
          ],
          "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 20,
            "total_tokens": 25
          }
        }
        "#);
}

#[tokio::test]
async fn chat_completion_stream_with_tool_calls() {
    let answer = send(post_json(CHAT, &chat_body("tools", r#","stream":true"#))).await;
    let events = answer.sse_events();
    assert_one_identity(&events, "chatcmpl-");
    assert_json_snapshot!(events, {"[].id" => "[id]", "[].created" => "[created]"}, @r#"
        [
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "role": "assistant",
                  "content": ""
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "tool_calls": [
                    {
                      "index": 0,
                      "id": "call_0",
                      "type": "function",
                      "function": {
                        "name": "get_weather",
                        "arguments": ""
                      }
                    }
                  ]
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "tool_calls": [
                    {
                      "index": 0,
                      "function": {
                        "arguments": "{\"city\":"
                      }
                    }
                  ]
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "tool_calls": [
                    {
                      "index": 0,
                      "function": {
                        "arguments": " \"Paris\"}"
                      }
                    }
                  ]
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "tool_calls": [
                    {
                      "index": 1,
                      "id": "call_1",
                      "type": "function",
                      "function": {
                        "name": "get_time",
                        "arguments": "{\"tz\""
                      }
                    }
                  ]
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "tool_calls": [
                    {
                      "index": 1,
                      "function": {
                        "arguments": ": \"CET\"}"
                      }
                    }
                  ]
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "tools",
            "choices": [
              {
                "index": 0,
                "delta": {},
                "finish_reason": "tool_calls",
                "logprobs": null
              }
            ]
          }
        ]
        "#);
}

// ---------- text completions ----------

#[tokio::test]
async fn text_completion() {
    let answer = send(post_json(
        COMPLETIONS,
        r#"{"model":"echo","prompt":"Once upon a time","max_tokens":8}"#,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let json = answer.json();
    assert!(is_response_id(&json["id"], "cmpl-"), "{json}");
    assert_json_snapshot!(json, {".id" => "[id]", ".created" => "[created]"}, @r#"
        {
          "id": "[id]",
          "object": "text_completion",
          "created": "[created]",
          "model": "echo",
          "choices": [
            {
              "index": 0,
              "text": "Once upon a time",
              "finish_reason": "stop",
              "logprobs": null
            }
          ],
          "usage": {
            "prompt_tokens": 4,
            "completion_tokens": 4,
            "total_tokens": 8
          }
        }
        "#);
}

#[tokio::test]
async fn text_completion_stream_with_usage() {
    let answer = send(post_json(
        COMPLETIONS,
        r#"{"model":"echo","prompt":["Once upon"],"stream":true,"stream_options":{"include_usage":true}}"#,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let events = answer.sse_events();
    assert_one_identity(&events, "cmpl-");
    assert_json_snapshot!(events, {"[].id" => "[id]", "[].created" => "[created]"}, @r#"
        [
          {
            "id": "[id]",
            "object": "text_completion",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "text": "Once",
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "text_completion",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "text": " upon",
                "finish_reason": null,
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "text_completion",
            "created": "[created]",
            "model": "echo",
            "choices": [
              {
                "index": 0,
                "text": "",
                "finish_reason": "stop",
                "logprobs": null
              }
            ],
            "usage": null
          },
          {
            "id": "[id]",
            "object": "text_completion",
            "created": "[created]",
            "model": "echo",
            "choices": [],
            "usage": {
              "prompt_tokens": 2,
              "completion_tokens": 2,
              "total_tokens": 4
            }
          }
        ]
        "#);
}

// ---------- models, health, readiness ----------

#[tokio::test]
async fn models_are_listed() {
    let answer = send(get("/v1/models")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "object": "list",
          "data": [
            {
              "id": "echo",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            },
            {
              "id": "error-before",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            },
            {
              "id": "error-midstream",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            },
            {
              "id": "slow",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            },
            {
              "id": "think",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            },
            {
              "id": "tools",
              "object": "model",
              "created": 1700000000,
              "owned_by": "moat",
              "max_model_len": 4096
            }
          ]
        }
        "#);
}

#[tokio::test]
async fn one_model_is_described() {
    let answer = send(get("/v1/models/echo")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "id": "echo",
          "object": "model",
          "created": 1700000000,
          "owned_by": "moat",
          "max_model_len": 4096
        }
        "#);
    // Model ids may hold slashes, like hub names do.
    let models = FakeModels::new().registry_of(&["org/model-1"]);
    let answer = send_with(
        models,
        ServerOptions::default(),
        get("/v1/models/org/model-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["id"], "org/model-1");

    let answer = send(get("/v1/models/nope")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn health_and_readiness() {
    let health = send(get("/health")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_json_snapshot!(health.json(), @r#"
        {
          "status": "ok"
        }
        "#);

    let ready = send(get("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_json_snapshot!(ready.json(), @r#"
        {
          "status": "ready"
        }
        "#);

    let models = FakeModels::new().registry_of(&["echo", "not-ready"]);
    let not_ready = send_with(models, ServerOptions::default(), get("/ready")).await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_json_snapshot!(not_ready.json(), @r#"
        {
          "error": {
            "message": "Not ready: not-ready.",
            "type": "server_error",
            "param": null,
            "code": "unavailable"
          }
        }
        "#);
}

// ---------- request ids ----------

#[tokio::test]
async fn every_response_carries_a_request_id() {
    for request in [
        get("/health"),
        get("/nowhere"),
        post_json(CHAT, "{"),
        post_json(CHAT, &chat_body("echo", r#","stream":true"#)),
    ] {
        let answer = send(request).await;
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert!(id.starts_with("req-") && id.len() == 28, "{id}");
    }
}

#[tokio::test]
async fn a_client_request_id_is_echoed_apart_and_never_becomes_the_request_id() {
    let request = |header: &str, id: &str| {
        Request::get("/health")
            .header(header, id)
            .body(Body::empty())
            .unwrap()
    };
    for header in ["x-request-id", "x-client-request-id"] {
        let answer = send(request(header, "trace-42.abc_DEF")).await;
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert!(id.starts_with("req-") && id.len() == 28, "{id}");
        assert_eq!(answer.headers["x-client-request-id"], "trace-42.abc_DEF");
    }
    // Ids are moat's own: the same client id twice gives two request ids.
    let a = send(request("x-request-id", "same")).await;
    let b = send(request("x-request-id", "same")).await;
    assert_ne!(a.headers["x-request-id"], b.headers["x-request-id"]);

    for insane in ["has space", "quote\"", &"x".repeat(65)] {
        let answer = send(request("x-client-request-id", insane)).await;
        assert!(
            !answer.headers.contains_key("x-client-request-id"),
            "{insane}"
        );
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert!(id.starts_with("req-"), "{insane} -> {id}");
    }
}

// ---------- content type ----------

#[tokio::test]
async fn a_body_not_declared_json_is_refused() {
    let missing = Request::post(CHAT)
        .body(Body::from(chat_body("echo", "")))
        .unwrap();
    let answer = send(missing).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "The request has no single Content-Type: send the body as application/json.",
            "type": "invalid_request_error",
            "param": null,
            "code": "unsupported_media_type"
          }
        }
        "#);
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let request = Request::post(CHAT)
            .header("content-type", content_type)
            .body(Body::from(chat_body("echo", "")))
            .unwrap();
        let answer = send(request).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let with_charset = Request::post(CHAT)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(chat_body("echo", "")))
        .unwrap();
    assert_eq!(send(with_charset).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_non_json_content_type_is_refused() {
    let request = Request::post(CHAT)
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Body::from(chat_body("echo", "")))
        .unwrap();
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Unsupported Content-Type `multipart/form-data`: send the request body as application/json.",
            "type": "invalid_request_error",
            "param": null,
            "code": "unsupported_media_type"
          }
        }
        "#);
}

// ---------- errors ----------

#[tokio::test]
async fn malformed_json() {
    let answer = send(post_json(CHAT, r#"{"model": "echo", "messages": [}"#)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "We could not parse the JSON body of your request: expected value at line 1 column 32",
            "type": "invalid_request_error",
            "param": null,
            "code": null
          }
        }
        "#);
}

#[tokio::test]
async fn wrong_type_names_the_parameter() {
    let answer = send(post_json(
        CHAT,
        &chat_body("echo", r#","temperature":"hot""#),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Invalid value for 'temperature': invalid type: string \"hot\", expected f32 at line 1 column 135",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": null
          }
        }
        "#);
}

#[tokio::test]
async fn missing_messages() {
    let answer = send(post_json(CHAT, r#"{"model":"echo"}"#)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Invalid request: missing field `messages` at line 1 column 16",
            "type": "invalid_request_error",
            "param": "messages",
            "code": null
          }
        }
        "#);
}

#[tokio::test]
async fn empty_messages() {
    let answer = send(post_json(CHAT, r#"{"model":"echo","messages":[]}"#)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "messages must contain at least one message.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "invalid_value"
          }
        }
        "#);
}

#[tokio::test]
async fn out_of_range_temperature() {
    let answer = send(post_json(CHAT, &chat_body("echo", r#","temperature":3.5"#))).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Invalid value 3.5 for 'temperature': must be between 0 and 2.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value"
          }
        }
        "#);
}

#[tokio::test]
async fn text_completion_refuses_many_prompts() {
    let answer = send(post_json(
        COMPLETIONS,
        r#"{"model":"echo","prompt":["a","b"]}"#,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Only one prompt per request is supported.",
            "type": "invalid_request_error",
            "param": "prompt",
            "code": "invalid_value"
          }
        }
        "#);
}

#[tokio::test]
async fn unknown_model() {
    let answer = send(post_json(CHAT, &chat_body("gpt-17", ""))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "The model `gpt-17` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found"
          }
        }
        "#);
}

#[tokio::test]
async fn overloaded_before_streaming() {
    for extra in ["", r#","stream":true"#] {
        let answer = send(post_json(CHAT, &chat_body("error-before", extra))).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers["content-type"], "application/json");
        insta::allow_duplicates! {
            assert_json_snapshot!(answer.json(), @r#"
            {
              "error": {
                "message": "The server is overloaded: all slots are busy and the wait queue is full. Retry later.",
                "type": "server_error",
                "param": null,
                "code": "overloaded"
              }
            }
            "#);
        }
    }
}

#[tokio::test]
async fn body_too_large() {
    let options = ServerOptions {
        max_body_bytes: 64,
        ..ServerOptions::default()
    };
    let body = chat_body("echo", &format!(r#","user":"{}""#, "x".repeat(100)));
    let answer = send_with(
        FakeModels::new().registry(),
        options.clone(),
        post_json(CHAT, &body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "The request body is larger than the limit of 64 bytes.",
            "type": "invalid_request_error",
            "param": null,
            "code": "request_too_large"
          }
        }
        "#);

    // A streamed body of unknown length is cut at the limit too.
    let chunks: Vec<Result<String, std::io::Error>> = (0..3).map(|_| Ok(body.clone())).collect();
    let streamed = Request::post(CHAT)
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let answer = send_with(FakeModels::new().registry(), options, streamed).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["error"]["code"], "request_too_large");
}

#[tokio::test]
async fn a_huge_declared_length_is_refused_unread() {
    // The body is never read: the declared length alone is over the limit.
    let request = Request::post(CHAT)
        .header("content-type", "application/json")
        .header("content-length", "10000000000")
        .body(Body::empty())
        .unwrap();
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "The request body is larger than the limit of 8388608 bytes.",
            "type": "invalid_request_error",
            "param": null,
            "code": "request_too_large"
          }
        }
        "#);
}

#[tokio::test]
async fn unknown_route() {
    let answer = send(post_json("/v1/embeddingz", "{}")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Invalid URL (POST /v1/embeddingz).",
            "type": "invalid_request_error",
            "param": null,
            "code": "not_found"
          }
        }
        "#);
}

#[tokio::test]
async fn wrong_method() {
    let answer = send(get(CHAT)).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Method GET is not allowed on /v1/chat/completions.",
            "type": "invalid_request_error",
            "param": null,
            "code": "method_not_allowed"
          }
        }
        "#);
}

#[tokio::test]
async fn midstream_error_is_an_event_then_done_once() {
    let answer = send(post_json(
        CHAT,
        &chat_body("error-midstream", r#","stream":true"#),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // `sse_events` checks that `[DONE]` comes once, last.
    let events = answer.sse_events();
    assert_json_snapshot!(events, {"[].id" => "[id]", "[].created" => "[created]"}, @r#"
        [
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "error-midstream",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "role": "assistant",
                  "content": ""
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "error-midstream",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "content": "Hello"
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "id": "[id]",
            "object": "chat.completion.chunk",
            "created": "[created]",
            "model": "error-midstream",
            "choices": [
              {
                "index": 0,
                "delta": {
                  "content": " world"
                },
                "finish_reason": null,
                "logprobs": null
              }
            ]
          },
          {
            "error": {
              "message": "Internal server error.",
              "type": "server_error",
              "param": null,
              "code": "internal_error"
            }
          }
        ]
        "#);
}

#[tokio::test]
async fn midstream_error_without_streaming_is_a_500() {
    let answer = send(post_json(CHAT, &chat_body("error-midstream", ""))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_json_snapshot!(answer.json(), @r#"
        {
          "error": {
            "message": "Internal server error.",
            "type": "server_error",
            "param": null,
            "code": "internal_error"
          }
        }
        "#);
}
