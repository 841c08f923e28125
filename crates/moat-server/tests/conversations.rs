//! Conversations through the app, on a real SQLite store and the real
//! audit log: OpenAI's shapes, owners only (404 for everyone else,
//! administrators included), `read_all_conversations` reads audited,
//! content sealed in the database, erasure and retention, hostile input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::world::{world, World};
use common::{send_as, FakeModels};
use insta::assert_json_snapshot;
use moat_server::ServerOptions;
use serde_json::{json, Value};

impl World {
    async fn create(&self, key: &str, body: Value) -> String {
        let created = self.ok(key, "POST", "/v1/conversations", Some(body)).await;
        created["id"].as_str().unwrap().to_owned()
    }
}

/// Ids and times redacted.
fn redacted(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match k.as_str() {
                        "id" | "first_id" | "last_id" if v.is_string() => *v = json!("[id]"),
                        "created_at" | "updated_at" if v.is_number() => *v = json!("[time]"),
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
async fn a_conversation_round_trips_in_openai_shapes() {
    let w = world().await;
    let created = w
        .ok(
            &w.alice,
            "POST",
            "/v1/conversations",
            Some(json!({
                "metadata": {"topic": "demo"},
                "items": [{"type": "message", "role": "user", "content": "Hello!"}]
            })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("conv_") && id.len() == 29, "{id}");
    assert_json_snapshot!(redacted(created.clone()), @r#"
    {
      "id": "[id]",
      "object": "conversation",
      "created_at": "[time]",
      "metadata": {
        "topic": "demo"
      }
    }
    "#);
    assert_eq!(
        w.ok(&w.alice, "GET", &format!("/v1/conversations/{id}"), None)
            .await,
        created
    );

    let added = w
        .ok(
            &w.alice,
            "POST",
            &format!("/v1/conversations/{id}/items"),
            Some(json!({"items": [
                {"role": "assistant", "content": "Hi, how can I help?"},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
            ]})),
        )
        .await;
    assert_json_snapshot!(redacted(added.clone()), @r#"
    {
      "object": "list",
      "data": [
        {
          "type": "message",
          "id": "[id]",
          "status": "completed",
          "role": "assistant",
          "content": [
            {
              "type": "output_text",
              "text": "Hi, how can I help?",
              "annotations": []
            }
          ]
        },
        {
          "type": "function_call",
          "id": "[id]",
          "call_id": "call_1",
          "name": "weather",
          "arguments": "{\"city\":\"Paris\"}",
          "status": "completed"
        },
        {
          "type": "function_call_output",
          "id": "[id]",
          "call_id": "call_1",
          "output": "sunny",
          "status": "completed"
        }
      ],
      "first_id": "[id]",
      "last_id": "[id]",
      "has_more": false
    }
    "#);

    // Newest first by default, as OpenAI lists items; pages by cursor.
    let listed = w
        .ok(
            &w.alice,
            "GET",
            &format!("/v1/conversations/{id}/items"),
            None,
        )
        .await;
    let kinds: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "function_call_output",
            "function_call",
            "message",
            "message"
        ]
    );
    let first = w
        .ok(
            &w.alice,
            "GET",
            &format!("/v1/conversations/{id}/items?order=asc&limit=2"),
            None,
        )
        .await;
    assert_eq!(first["has_more"], true);
    assert_eq!(first["data"][0]["content"][0]["text"], "Hello!");
    let rest = w
        .ok(
            &w.alice,
            "GET",
            &format!(
                "/v1/conversations/{id}/items?order=asc&limit=2&after={}",
                first["last_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"][1]["output"], "sunny");

    let call_id = added["data"][1]["id"].as_str().unwrap();
    assert!(call_id.starts_with("fc_"), "{call_id}");
    let item = w
        .ok(
            &w.alice,
            "GET",
            &format!("/v1/conversations/{id}/items/{call_id}"),
            None,
        )
        .await;
    assert_eq!(item, added["data"][1]);
    let after_delete = w
        .ok(
            &w.alice,
            "DELETE",
            &format!("/v1/conversations/{id}/items/{call_id}"),
            None,
        )
        .await;
    assert_eq!(after_delete["object"], "conversation");
    assert_eq!(after_delete["id"], id.as_str());
    let gone = w
        .call(
            &w.alice,
            "GET",
            &format!("/v1/conversations/{id}/items/{call_id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json()["error"]["code"], "not_found");

    let updated = w
        .ok(
            &w.alice,
            "POST",
            &format!("/v1/conversations/{id}"),
            Some(json!({"metadata": {"title": "Paris weather"}})),
        )
        .await;
    assert_eq!(updated["metadata"], json!({"title": "Paris weather"}));

    let deleted = w
        .ok(&w.alice, "DELETE", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(
        deleted,
        json!({"id": id, "object": "conversation.deleted", "deleted": true})
    );
    let after = w
        .call(&w.alice, "GET", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert_eq!(
        after.json()["error"]["message"],
        format!("Conversation with id '{id}' not found.")
    );
}

#[tokio::test]
async fn nobody_but_the_owner_sees_a_conversation_not_even_an_admin() {
    let w = world().await;
    let id = w
        .create(
            &w.alice,
            json!({"items": [{"role": "user", "content": "my salary is 12000"}]}),
        )
        .await;
    let admin = w.access.admin_key.clone();
    let item_uri = format!("/v1/conversations/{id}/items");
    for key in [&w.bob, &admin, &w.reader] {
        for (method, uri, body) in [
            (
                "POST",
                format!("/v1/conversations/{id}"),
                Some(json!({"metadata": {}})),
            ),
            ("DELETE", format!("/v1/conversations/{id}"), None),
            (
                "POST",
                item_uri.clone(),
                Some(json!({"items": [{"role": "user", "content": "x"}]})),
            ),
            ("GET", format!("/v1/moat/conversations/{id}/export"), None),
        ] {
            let answer = w.call(key, method, &uri, body).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}");
        }
    }
    for key in [&w.bob, &admin] {
        for uri in [format!("/v1/conversations/{id}"), item_uri.clone()] {
            let answer = w.call(key, "GET", &uri, None).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
            // The same answer as for an id that never existed.
            let never = w
                .call(key, "GET", "/v1/conversations/conv_doesnotexist", None)
                .await;
            assert_eq!(never.status, StatusCode::NOT_FOUND);
        }
        let listed = w.ok(key, "GET", "/v1/moat/conversations", None).await;
        assert_eq!(listed["data"], json!([]));
    }
    // Still there, untouched, for its owner.
    let items = w.ok(&w.alice, "GET", &item_uri, None).await;
    assert_eq!(items["data"].as_array().unwrap().len(), 1);

    // A role with read_all_conversations reads it, and the read is audited
    // with the owner named.
    let read = w.call(&w.reader, "GET", &item_uri, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(
        read.json()["data"][0]["content"][0]["text"],
        "my salary is 12000"
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
    // The owner's own reads name nobody.
    let own = w.call(&w.alice, "GET", &item_uri, None).await;
    let own_id = own.headers["x-request-id"].to_str().unwrap();
    let records = moat_audit::search(&log, &moat_audit::SearchFilter::default())
        .await
        .unwrap();
    let own_record = records
        .iter()
        .find(|r| r.record.request_id == own_id)
        .unwrap();
    assert_eq!(own_record.record.conversation_of, None);
}

#[tokio::test]
async fn content_is_sealed_in_the_database_and_erased_with_its_owner() {
    let w = world().await;
    let id = w
        .create(
            &w.alice,
            json!({
                "metadata": {"title": "Confidential merger"},
                "items": [{"role": "user", "content": "Project Bluebird acquires Contoso"}]
            }),
        )
        .await;
    // Nothing said is in the database file as text.
    let db = std::fs::read(w.access.dir.path().join("moat.db")).unwrap();
    let wal = std::fs::read(w.access.dir.path().join("moat.db-wal")).unwrap_or_default();
    for needle in ["Bluebird", "Contoso", "Confidential merger"] {
        for bytes in [&db, &wal] {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes()),
                "{needle} is stored in clear"
            );
        }
    }
    let bob_id = w
        .create(
            &w.bob,
            json!({"items": [{"role": "user", "content": "hi"}]}),
        )
        .await;

    let log = w.access.access.audit_log.clone().unwrap();
    let writer = w.access.access.audit.clone().unwrap();
    let alice_id = w.access.key_id("alice").await;
    assert!(
        moat_audit::erase_subject(&log, &writer, &alice_id, moat_protocol::time::now_ms())
            .await
            .unwrap()
    );
    let gone = w
        .call(&w.alice, "GET", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(w
        .access
        .access
        .store
        .conversation(&id)
        .await
        .unwrap()
        .is_none());
    // Someone else's stay.
    w.ok(&w.bob, "GET", &format!("/v1/conversations/{bob_id}"), None)
        .await;
    // The erased owner starts again under a new key.
    let again = w
        .create(
            &w.alice,
            json!({"items": [{"role": "user", "content": "new"}]}),
        )
        .await;
    w.ok(
        &w.alice,
        "GET",
        &format!("/v1/conversations/{again}/items"),
        None,
    )
    .await;
}

#[tokio::test]
async fn retention_sets_an_expiry_that_the_purge_honours() {
    let w = world().await;
    let kept = w.create(&w.alice, json!({})).await;
    let clerks = w.create(&w.clerk, json!({})).await;
    let store = &w.access.access.store;
    assert_eq!(
        store.conversation(&kept).await.unwrap().unwrap().expires_ms,
        None
    );
    let record = store.conversation(&clerks).await.unwrap().unwrap();
    assert_eq!(
        record.expires_ms,
        Some(record.updated_ms + 7 * 86_400_000),
        "seven days after the last change"
    );
    let conversations = moat_server::Gateway::new(
        FakeModels::new().registry(),
        w.access.access.clone(),
        moat_server::GatewayParts::default(),
    )
    .conversations()
    .cloned()
    .unwrap();
    assert_eq!(
        conversations
            .purge_expired(record.updated_ms + 6 * 86_400_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        conversations
            .purge_expired(record.updated_ms + 7 * 86_400_000)
            .await
            .unwrap(),
        1
    );
    assert!(store.conversation(&clerks).await.unwrap().is_none());
    assert!(store.conversation(&kept).await.unwrap().is_some());
}

/// Lets the clock move on, so that changes made one after the other have
/// distinct times (conversations are listed by last change; within one
/// millisecond their order is their random ids').
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

#[tokio::test]
async fn the_owners_list_has_titles_search_and_export() {
    let w = world().await;
    let tax = w
        .create(
            &w.alice,
            json!({"items": [{"role": "user", "content": "How do I file my 2026 tax return?\nDetails follow."}]}),
        )
        .await;
    tick().await;
    let named = w
        .create(
            &w.alice,
            json!({"metadata": {"title": "年度预算", "model": "echo"}}),
        )
        .await;
    tick().await;
    let later = w.create(&w.alice, json!({})).await;
    tick().await;
    // A title comes with the first user message added later too.
    w.ok(
        &w.alice,
        "POST",
        &format!("/v1/conversations/{later}/items"),
        Some(json!({"items": [{"role": "user", "content": "Holiday plan"}]})),
    )
    .await;
    w.create(&w.bob, json!({"metadata": {"title": "bob's tax"}}))
        .await;

    let listed = w.ok(&w.alice, "GET", "/v1/moat/conversations", None).await;
    let titles: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Holiday plan",
            "年度预算",
            "How do I file my 2026 tax return?"
        ],
        "last changed first"
    );
    assert_eq!(listed["data"][1]["model"], "echo");
    assert_eq!(listed["data"][1]["object"], "moat.conversation.summary");

    let found = w
        .ok(&w.alice, "GET", "/v1/moat/conversations?q=TAX", None)
        .await;
    assert_eq!(
        found["data"].as_array().unwrap().len(),
        1,
        "bob's is not alice's"
    );
    assert_eq!(found["data"][0]["id"], tax.as_str());
    let found = w
        .ok(
            &w.alice,
            "GET",
            "/v1/moat/conversations?q=%E9%A2%84%E7%AE%97",
            None,
        )
        .await;
    assert_eq!(found["data"][0]["id"], named.as_str());

    let page = w
        .ok(&w.alice, "GET", "/v1/moat/conversations?limit=2", None)
        .await;
    assert_eq!(page["has_more"], true);
    let next = w
        .ok(
            &w.alice,
            "GET",
            &format!(
                "/v1/moat/conversations?limit=2&after={}",
                page["last_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(next["has_more"], false);
    assert_eq!(next["data"][0]["id"], tax.as_str());

    let export = w
        .call(
            &w.alice,
            "GET",
            &format!("/v1/moat/conversations/{tax}/export"),
            None,
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("{tax}.json")));
    let export = export.json();
    assert_eq!(export["object"], "moat.conversation.export");
    assert_eq!(export["conversation"]["id"], tax.as_str());
    assert_eq!(
        export["items"][0]["content"][0]["text"],
        "How do I file my 2026 tax return?\nDetails follow."
    );
}

#[tokio::test]
async fn hostile_requests_are_clear_400s() {
    let w = world().await;
    let id = w.create(&w.alice, json!({})).await;
    let items = format!("/v1/conversations/{id}/items");
    let many: Vec<Value> = (0..21)
        .map(|_| json!({"role": "user", "content": "x"}))
        .collect();
    let too_many_pairs: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (method, uri, body, param) in [
        ("POST", items.clone(), json!({"items": many}), "items"),
        ("POST", items.clone(), json!({"items": []}), "items"),
        (
            "POST",
            items.clone(),
            json!({"items": [{"type": "computer_call", "action": {}}]}),
            "items[0]",
        ),
        (
            "POST",
            items.clone(),
            json!({"items": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:"}]}]}),
            "items[0]",
        ),
        (
            "POST",
            "/v1/conversations".to_owned(),
            json!({"metadata": too_many_pairs}),
            "metadata",
        ),
        (
            "POST",
            format!("/v1/conversations/{id}"),
            json!({"metadata": {"k": "v".repeat(513)}}),
            "metadata",
        ),
    ] {
        let answer = w.call(&w.alice, method, &uri, Some(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["param"], param, "{}", answer.body);
    }
    for uri in [
        format!("{items}?limit=0"),
        format!("{items}?limit=101"),
        format!("{items}?after=msg_unknown"),
        format!("{items}?after=a&before=b"),
        format!("{items}?order=sideways"),
        "/v1/moat/conversations?q=".to_owned() + &"x".repeat(300),
    ] {
        let answer = w.call(&w.alice, "GET", &uri, None).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.json()["error"]["type"], "invalid_request_error");
    }
    // An item of another conversation is not found in this one.
    let other = w
        .create(
            &w.alice,
            json!({"items": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let listed = w
        .ok(
            &w.alice,
            "GET",
            &format!("/v1/conversations/{other}/items"),
            None,
        )
        .await;
    let foreign = listed["data"][0]["id"].as_str().unwrap();
    let answer = w
        .call(&w.alice, "GET", &format!("{items}/{foreign}"), None)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    // No credentials: the one 401.
    let anonymous = send_as(
        FakeModels::new().registry(),
        &w.access,
        ServerOptions::default(),
        Request::get("/v1/moat/conversations")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
