//! The Responses API through the app with the fake models, on a real
//! SQLite store and the real audit log: the exact response object and
//! stream frames, tool calls and reasoning as items, owners only (404 for
//! everyone else, administrators included), `read_all_conversations` reads
//! audited, retention.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::world::world;
use common::{send_as, FakeModels};
use insta::assert_json_snapshot;
use moat_server::ServerOptions;
use serde_json::{json, Value};

/// Ids and times redacted.
fn redacted(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match k.as_str() {
                        "id" | "item_id" | "first_id" | "last_id" | "call_id" if v.is_string() => {
                            *v = json!("[id]");
                        }
                        "created_at" if v.is_number() => *v = json!("[time]"),
                        _ => walk(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[tokio::test]
async fn a_response_in_openai_shape() {
    let w = world().await;
    let response = w
        .ok(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(
                json!({"model": "echo", "input": "Hello there", "instructions": "Be kind.",
                        "metadata": {"case": "1"}}),
            ),
        )
        .await;
    assert!(response["id"].as_str().unwrap().starts_with("resp_"));
    assert_json_snapshot!(redacted(response.clone()), @r#"
    {
      "id": "[id]",
      "object": "response",
      "created_at": "[time]",
      "status": "completed",
      "error": null,
      "incomplete_details": null,
      "instructions": "Be kind.",
      "max_output_tokens": null,
      "model": "echo",
      "output": [
        {
          "type": "message",
          "id": "[id]",
          "status": "completed",
          "role": "assistant",
          "content": [
            {
              "type": "output_text",
              "text": "Hello there",
              "annotations": []
            }
          ]
        }
      ],
      "parallel_tool_calls": true,
      "previous_response_id": null,
      "conversation": null,
      "reasoning": {
        "effort": null,
        "summary": null
      },
      "store": true,
      "temperature": null,
      "text": {
        "format": {
          "type": "text"
        }
      },
      "tool_choice": "auto",
      "tools": [],
      "top_p": null,
      "truncation": "disabled",
      "usage": {
        "input_tokens": 4,
        "input_tokens_details": {
          "cached_tokens": 0
        },
        "output_tokens": 2,
        "output_tokens_details": {
          "reasoning_tokens": 0
        },
        "total_tokens": 6
      },
      "user": null,
      "metadata": {
        "case": "1"
      }
    }
    "#);
    let id = response["id"].as_str().unwrap();
    let kept = w
        .ok(&w.alice, "GET", &format!("/v1/responses/{id}"), None)
        .await;
    assert_eq!(kept, response);
    let inputs = w
        .ok(
            &w.alice,
            "GET",
            &format!("/v1/responses/{id}/input_items"),
            None,
        )
        .await;
    assert_json_snapshot!(redacted(inputs), @r#"
    {
      "object": "list",
      "data": [
        {
          "type": "message",
          "id": "[id]",
          "status": "completed",
          "role": "user",
          "content": [
            {
              "type": "input_text",
              "text": "Hello there"
            }
          ]
        }
      ],
      "first_id": "[id]",
      "last_id": "[id]",
      "has_more": false
    }
    "#);
}

#[tokio::test]
async fn the_stream_is_named_events_ending_with_the_response() {
    let w = world().await;
    let answer = w
        .call(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "echo", "input": "one two", "stream": true})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    let frames: Vec<(String, Value)> = answer
        .body
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let kind = event.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], kind.as_str());
            (kind, data)
        })
        .collect();
    let kinds: Vec<&str> = frames.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert!(!answer.body.contains("[DONE]"));
    assert_json_snapshot!(redacted(frames[4].1.clone()), @r#"
    {
      "item_id": "[id]",
      "output_index": 0,
      "content_index": 0,
      "delta": "one",
      "logprobs": [],
      "type": "response.output_text.delta",
      "sequence_number": 4
    }
    "#);
    let done = &frames[9].1["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "one two");
    assert_eq!(frames[0].1["response"]["status"], "in_progress");

    // An error in the middle ends the stream with an error event.
    let broken = w
        .call(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "error-midstream", "input": "x", "stream": true})),
        )
        .await;
    let last = broken.body.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\ndata: "), "{last}");
    let error: Value = serde_json::from_str(last.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(error["code"], "internal_error");
    assert!(error["sequence_number"].as_u64().unwrap() > 0);
    // Not streamed, the same failure is the whole answer.
    let failed = w
        .call(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "error-midstream", "input": "x"})),
        )
        .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.json()["error"]["code"], "internal_error");
}

#[tokio::test]
async fn tool_calls_and_reasoning_are_items() {
    let w = world().await;
    let calls = w
        .ok(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "tools", "input": "x", "tools": [
                {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
                {"type": "function", "name": "get_time", "parameters": {"type": "object"}}]})),
        )
        .await;
    let output = calls["output"].as_array().unwrap();
    assert!(output.iter().all(|item| item["type"] == "function_call"
        && item["status"] == "completed"
        && item["id"].as_str().unwrap().starts_with("fc_")));
    assert_eq!(output.len(), 2);
    for item in output {
        serde_json::from_str::<Value>(item["arguments"].as_str().unwrap()).unwrap();
    }
    let think = w
        .ok(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "think", "input": "x"})),
        )
        .await;
    let kinds: Vec<&str> = think["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reasoning", "message"]);
    assert_eq!(think["output"][0]["content"][0]["type"], "reasoning_text");
    assert!(!think["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .is_empty());
    // The reasoning is not shown to the model again: the next turn's chat
    // has the answer only.
    let id = think["id"].as_str().unwrap();
    let models = FakeModels::new();
    let request = Request::builder()
        .method("POST")
        .uri("/v1/responses")
        .header("authorization", format!("Bearer {}", w.alice))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"model": "echo", "input": "next", "previous_response_id": id}).to_string(),
        ))
        .unwrap();
    let answer = send_as(
        models.registry(),
        &w.access,
        ServerOptions::default(),
        request,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let chat = models.received.chats().pop().unwrap();
    let roles: Vec<Value> = chat
        .messages
        .iter()
        .map(|m| json!([m.role, m.reasoning_content]))
        .collect();
    assert_eq!(
        roles,
        [
            json!(["user", null]),
            json!(["assistant", null]),
            json!(["user", null])
        ]
    );
}

#[tokio::test]
async fn nobody_else_sees_a_response_but_a_reader_audited() {
    let w = world().await;
    let created = w
        .ok(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "echo", "input": "my salary is 12000"})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let admin = w.access.key("root", &["admin"], None).await;
    let uri = format!("/v1/responses/{id}");
    for key in [&w.bob, &admin] {
        for (method, uri) in [
            ("GET", uri.clone()),
            ("GET", format!("{uri}/input_items")),
            ("DELETE", uri.clone()),
        ] {
            let answer = w.call(key, method, &uri, None).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert_eq!(
                answer.json()["error"]["message"],
                format!("Response with id '{id}' not found.")
            );
        }
        let continued = w
            .call(
                key,
                "POST",
                "/v1/responses",
                Some(json!({"model": "echo", "input": "x", "previous_response_id": id})),
            )
            .await;
        assert_eq!(continued.status, StatusCode::NOT_FOUND);
        assert_eq!(continued.json()["error"]["param"], "previous_response_id");
    }
    // A reader reads it (never continues or deletes it), audited with the owner.
    let read = w.call(&w.reader, "GET", &uri, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(
        read.json()["output"][0]["content"][0]["text"],
        "my salary is 12000"
    );
    assert_eq!(
        w.call(&w.reader, "DELETE", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    let request_id = read.headers["x-request-id"].to_str().unwrap().to_owned();
    let log = w.access.access.audit_log.clone().unwrap();
    let records = moat_audit::search(&log, &moat_audit::SearchFilter::default())
        .await
        .unwrap();
    let record = records
        .iter()
        .find(|r| r.record.request_id == request_id)
        .expect("the read is recorded");
    let alice_id = w.access.key_id("alice").await;
    assert_eq!(
        record.record.conversation_of.as_deref(),
        Some(log.keys().pseudonym(&alice_id).as_str())
    );
    // The owner deletes it; then it is gone for everyone.
    let deleted = w.ok(&w.alice, "DELETE", &uri, None).await;
    assert_eq!(
        deleted,
        json!({"id": id, "object": "response.deleted", "deleted": true})
    );
    assert_eq!(
        w.call(&w.alice, "GET", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.call(&w.reader, "GET", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn retention_expires_stored_responses() {
    let w = world().await;
    let body = json!({"model": "echo", "input": "x"});
    let kept = w
        .ok(&w.alice, "POST", "/v1/responses", Some(body.clone()))
        .await;
    let clerks = w.ok(&w.clerk, "POST", "/v1/responses", Some(body)).await;
    let store = &w.access.access.store;
    let kept_id = kept["id"].as_str().unwrap();
    let clerks_id = clerks["id"].as_str().unwrap();
    assert_eq!(
        store.response(kept_id).await.unwrap().unwrap().expires_ms,
        None
    );
    let record = store.response(clerks_id).await.unwrap().unwrap();
    assert_eq!(record.expires_ms, Some(record.created_ms + 7 * 86_400_000));
    // Sealed: nothing said is in the row as text.
    assert!(!String::from_utf8_lossy(&record.sealed).contains("echo"));
    let conversations = moat_server::Gateway::new(
        FakeModels::new().registry(),
        w.access.access.clone(),
        moat_server::GatewayParts::default(),
    )
    .conversations()
    .cloned()
    .unwrap();
    let purge = |at| {
        let conversations = conversations.clone();
        async move { conversations.purge_expired_responses(at).await.unwrap() }
    };
    assert_eq!(purge(record.created_ms + 6 * 86_400_000).await, 0);
    assert_eq!(purge(record.created_ms + 7 * 86_400_000).await, 1);
    assert!(store.response(clerks_id).await.unwrap().is_none());
    assert!(store.response(kept_id).await.unwrap().is_some());
}

#[tokio::test]
async fn hostile_requests_are_refused_without_harm() {
    let w = world().await;
    let refused = |body: Value| {
        let w = &w;
        async move {
            let answer = w.call(&w.alice, "POST", "/v1/responses", Some(body)).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
            answer.json()["error"].clone()
        }
    };
    let huge = "x".repeat(2 * 1024 * 1024);
    assert_eq!(
        refused(json!({"model": "echo", "input": huge})).await["param"],
        "input"
    );
    let many: Vec<Value> = (0..3000)
        .map(|_| json!({"role": "user", "content": "a"}))
        .collect();
    assert_eq!(
        refused(json!({"model": "echo", "input": many})).await["param"],
        "input"
    );
    assert_eq!(
        refused(json!({"model": "echo", "input": "x", "max_output_tokens": -1})).await["type"],
        "invalid_request_error"
    );
    assert_eq!(
        refused(json!({"model": "echo", "input": [{"role": "user", "content": []}]})).await
            ["param"],
        "input[0].content"
    );
    // A cursor that is not in the listing.
    let created = w
        .ok(
            &w.alice,
            "POST",
            "/v1/responses",
            Some(json!({"model": "echo", "input": "x"})),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let bad = w
        .call(
            &w.alice,
            "GET",
            &format!("/v1/responses/{id}/input_items?after=msg_nothing"),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["param"], "after");
}
