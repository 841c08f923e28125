//! `POST /v1/embeddings` over the fake backend: the exact JSON of an
//! answer, base64 vectors, refusals (chat model, embedding model asked for
//! chat, roles, bad input), the guard on texts and on token ids.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::{post_json, send_as, send_with, Answer, FakeModels, TestAccess};
use insta::assert_json_snapshot;
use moat_guard::{Policy, Scanner};
use moat_server::{GatewayParts, PiiGuard};
use serde_json::{json, Value};

const EMBEDDINGS: &str = "/v1/embeddings";

fn options(policy: Policy) -> GatewayParts {
    GatewayParts {
        guard: PiiGuard::new(Scanner::new(), policy),
        ..GatewayParts::default()
    }
}

async fn call_with(policy: Policy, uri: &str, body: Value) -> (Answer, FakeModels) {
    let fakes = FakeModels::new();
    let registry = fakes.registry_of(&["embed", "echo"]);
    let answer = send_with(registry, options(policy), post_json(uri, &body.to_string())).await;
    (answer, fakes)
}

async fn call(body: Value) -> (Answer, FakeModels) {
    call_with(Policy::Pseudonymize, EMBEDDINGS, body).await
}

#[tokio::test]
async fn an_answer_has_openai_shape() {
    let (answer, _) = call(json!({"model": "embed", "input": ["one two", "three"]})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_json_snapshot!(answer.json(), @r#"
    {
      "object": "list",
      "data": [
        {
          "object": "embedding",
          "index": 0,
          "embedding": [
            2.0,
            7.0,
            0.0,
            1.0
          ]
        },
        {
          "object": "embedding",
          "index": 1,
          "embedding": [
            1.0,
            5.0,
            1.0,
            1.0
          ]
        }
      ],
      "model": "embed",
      "usage": {
        "prompt_tokens": 3,
        "total_tokens": 3
      }
    }
    "#);
}

#[tokio::test]
async fn base64_vectors_are_little_endian_f32() {
    let body = json!({"model": "embed", "input": "a b c", "encoding_format": "base64"});
    let (answer, _) = call(body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let text = answer.json()["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, vec![3.0, 5.0, 0.0, 1.0]);
}

#[tokio::test]
async fn token_ids_are_embedded_and_counted() {
    let (answer, fakes) = call(json!({"model": "embed", "input": [[1, 2, 3], [4]]})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["usage"]["prompt_tokens"], 4);
    assert_eq!(fakes.received.embeddings().len(), 1);
}

#[tokio::test]
async fn a_chat_model_is_refused_for_embeddings() {
    let (answer, fakes) = call(json!({"model": "echo", "input": "hello"})).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error = &answer.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "model");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("not an embedding model"));
    assert!(fakes.received.embeddings().is_empty());
}

#[tokio::test]
async fn an_embedding_model_is_refused_for_chat_and_completions() {
    let chat = json!({"model": "embed", "messages": [{"role": "user", "content": "hi"}]});
    let (answer, _) = call_with(Policy::Pseudonymize, "/v1/chat/completions", chat).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error = &answer.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("is an embedding model"));
    let completion = json!({"model": "embed", "prompt": "hi"});
    let (answer, _) = call_with(Policy::Pseudonymize, "/v1/completions", completion).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("is an embedding model"));
}

#[tokio::test]
async fn bad_requests_name_their_parameter() {
    for (body, param) in [
        (json!({"model": "embed", "input": ""}), "input"),
        (json!({"model": "embed", "input": []}), "input"),
        (json!({"model": "embed", "input": ["a", 1]}), "input"),
        (json!({"model": "embed", "input": [-1]}), "input"),
        (
            json!({"model": "embed", "input": "a", "dimensions": 3}),
            "dimensions",
        ),
        (
            json!({"model": "embed", "input": "a", "encoding_format": "hex"}),
            "encoding_format",
        ),
        (json!({"model": "embed", "input": vec!["a"; 2049]}), "input"),
    ] {
        let (answer, fakes) = call(body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.json()["error"]["param"], param, "{body}");
        assert!(fakes.received.embeddings().is_empty());
    }
    let (answer, _) = call(json!({"model": "embed", "input": "a", "stream": true})).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("stream"), "{}", answer.body);
}

#[tokio::test]
async fn a_key_without_the_model_is_refused() {
    let fakes = FakeModels::new();
    let access = TestAccess::new().await;
    let key = access.key("app", &["user"], Some(&["echo"])).await;
    let mut request = post_json(
        EMBEDDINGS,
        &json!({"model": "embed", "input": "x"}).to_string(),
    );
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    let answer = send_as(
        fakes.registry_of(&["embed"]),
        &access,
        GatewayParts::default(),
        request,
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "model_not_allowed");
    assert!(fakes.received.embeddings().is_empty());
}

#[tokio::test]
async fn the_guard_blocks_or_rewrites_texts() {
    let input = json!(["call 13812345678 now", "plain"]);
    let (answer, fakes) = call_with(
        Policy::Block,
        EMBEDDINGS,
        json!({"model": "embed", "input": input}),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "pii_blocked");
    assert!(fakes.received.embeddings().is_empty());

    let (answer, fakes) = call_with(
        Policy::Mask,
        EMBEDDINGS,
        json!({"model": "embed", "input": input}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let seen = serde_json::to_string(&fakes.received.embeddings()[0].input).unwrap();
    assert!(!seen.contains("13812345678"), "{seen}");
    assert!(seen.contains("plain"), "{seen}");
}

#[tokio::test]
async fn the_guard_reads_token_ids_as_text() {
    // The fake reads token 7 as a phone number.
    let body = json!({"model": "embed", "input": [[1, 7, 2]]});
    let (answer, fakes) = call_with(Policy::Block, EMBEDDINGS, body.clone()).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "pii_blocked");
    assert!(fakes.received.embeddings().is_empty());

    let (answer, fakes) = call_with(Policy::Pseudonymize, EMBEDDINGS, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let seen = serde_json::to_string(&fakes.received.embeddings()[0].input).unwrap();
    assert!(
        !seen.contains("13812345678") && !seen.contains('7'),
        "{seen}"
    );

    let clean = json!({"model": "embed", "input": [[1, 2]]});
    let (answer, fakes) = call_with(Policy::Block, EMBEDDINGS, clean).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        fakes.received.embeddings()[0].input,
        moat_protocol::embeddings::EmbeddingInput::Tokens(vec![vec![1, 2]])
    );
}
