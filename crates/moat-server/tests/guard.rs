//! The personal-data guard in the request path, over the fake backend: what
//! the model received and what the caller got back, under each policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{post_json, send_with, Answer, FakeModels};
use insta::assert_json_snapshot;
use moat_guard::{Policy, Scanner};
use moat_server::{GatewayParts, PiiGuard};
use serde_json::{json, Value};

const CHAT: &str = "/v1/chat/completions";
const COMPLETIONS: &str = "/v1/completions";
const ID: &str = "11010519491231002X";
const PHONE: &str = "13812345678";
/// Digits of the values that must never reach the model.
const VALUE_DIGITS: [&str; 3] = ["1949", "1234567", "0105"];

fn options(policy: Policy) -> GatewayParts {
    GatewayParts {
        guard: PiiGuard::new(Scanner::new(), policy),
        ..GatewayParts::default()
    }
}

/// Sends `body` to `uri` on an app with the `echo`, `echo-chars` and
/// `echo-all` fake models; returns the answer and what the models received.
async fn call(policy: Policy, uri: &str, body: Value) -> (Answer, FakeModels) {
    let fakes = FakeModels::new();
    let registry = fakes.registry_of(&["echo", "echo-chars", "echo-all"]);
    let answer = send_with(registry, options(policy), post_json(uri, &body.to_string())).await;
    (answer, fakes)
}

fn chat(model: &str, user: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": user},
        ],
    })
}

/// The user message the model received in the only chat request.
fn received_user_text(fakes: &FakeModels) -> String {
    let chats = fakes.received.chats();
    assert_eq!(chats.len(), 1);
    chats[0].messages[1].content.as_ref().unwrap().to_text()
}

fn assert_no_values(seen: &str) {
    for digits in VALUE_DIGITS {
        assert!(!seen.contains(digits), "a value reached the model: {seen}");
    }
}

/// The concatenated `delta.<field>` of every chunk of a chat stream.
fn streamed(events: &[Value], field: &str) -> String {
    events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"][field].as_str())
        .collect()
}

// ---------- pseudonymize (the default) ----------

#[tokio::test]
async fn pseudonymize_is_the_default() {
    assert_eq!(GatewayParts::default().guard.policy(), Policy::Pseudonymize);
}

#[tokio::test]
async fn pseudonymized_chat_is_restored_for_the_caller() {
    let user = format!("My ID is {ID}, phone {PHONE}");
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, chat("echo", &user, false)).await;
    let seen = received_user_text(&fakes);
    assert_eq!(seen, "My ID is <ID_CARD_1>, phone <PHONE_1>");
    assert_no_values(&seen);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_json_snapshot!(answer.json(), {".id" => "[id]", ".created" => "[created]"}, @r#"
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
            "content": "My ID is 11010519491231002X, phone 13812345678"
          },
          "finish_reason": "stop",
          "logprobs": null
        }
      ],
      "usage": {
        "prompt_tokens": 8,
        "completion_tokens": 6,
        "total_tokens": 14
      }
    }
    "#);
}

#[tokio::test]
async fn placeholders_split_across_chunks_are_restored_in_the_stream() {
    let user = format!("ID {ID}, tel {PHONE}");
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, chat("echo-chars", &user, true)).await;
    assert_eq!(received_user_text(&fakes), "ID <ID_CARD_1>, tel <PHONE_1>");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let events = answer.sse_events();
    assert_eq!(streamed(&events, "content"), user);
    assert_json_snapshot!(events, {"[].id" => "[id]", "[].created" => "[created]"}, @r#"
    [
      {
        "id": "[id]",
        "object": "chat.completion.chunk",
        "created": "[created]",
        "model": "echo-chars",
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {
              "content": "ID "
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {
              "content": "11010519491231002X,"
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {
              "content": " te"
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {
              "content": "l "
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {
              "content": "13812345678"
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
        "model": "echo-chars",
        "choices": [
          {
            "index": 0,
            "delta": {},
            "finish_reason": "stop",
            "logprobs": null
          }
        ]
      }
    ]
    "#);
}

#[tokio::test]
async fn reasoning_and_tool_call_arguments_are_restored() {
    let user = format!("身份证{ID}，手机{PHONE}");
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, chat("echo-all", &user, false)).await;
    assert_eq!(
        received_user_text(&fakes),
        "身份证<ID_CARD_1>，手机<PHONE_1>"
    );
    let message = &answer.json()["choices"][0]["message"];
    assert_eq!(message["content"], user.as_str());
    assert_eq!(message["reasoning_content"], user.as_str());
    let arguments = message["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"text": user})
    );

    let (answer, _) = call(Policy::Pseudonymize, CHAT, chat("echo-all", &user, true)).await;
    let events = answer.sse_events();
    assert_eq!(streamed(&events, "content"), user);
    assert_eq!(streamed(&events, "reasoning_content"), user);
    let arguments: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"text": user})
    );
}

#[tokio::test]
async fn history_and_tool_results_are_protected_with_one_vault() {
    let body = json!({
        "model": "echo",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": format!("look up {PHONE}")}]},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_0", "type": "function",
                "function": {"name": "lookup", "arguments": format!("{{\"phone\":\"{PHONE}\"}}")}
            }]},
            {"role": "tool", "tool_call_id": "call_0", "content": format!("{{\"id\":\"{ID}\"}}")},
            {"role": "user", "content": format!("thanks, is {PHONE} right?")},
        ],
    });
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let received = serde_json::to_value(&fakes.received.chats()[0].messages).unwrap();
    assert_no_values(&received.to_string());
    assert_eq!(received[0]["content"][0]["text"], "look up <PHONE_1>");
    assert_eq!(
        received[1]["tool_calls"][0]["function"]["arguments"],
        "{\"phone\":\"<PHONE_1>\"}"
    );
    assert_eq!(received[2]["content"], "{\"id\":\"<ID_CARD_1>\"}");
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        format!("thanks, is {PHONE} right?")
    );
}

#[tokio::test]
async fn pseudonymized_text_completion_is_restored() {
    let prompt = format!("Call {PHONE} about {ID}");
    let body = |stream| json!({"model": "echo-chars", "prompt": prompt, "stream": stream});
    let (answer, fakes) = call(Policy::Pseudonymize, COMPLETIONS, body(false)).await;
    let received = fakes.received.completions();
    assert_eq!(
        received[0].prompt_text().unwrap(),
        "Call <PHONE_1> about <ID_CARD_1>"
    );
    assert_eq!(answer.json()["choices"][0]["text"], prompt.as_str());

    let (answer, _) = call(Policy::Pseudonymize, COMPLETIONS, body(true)).await;
    let text: String = answer
        .sse_events()
        .iter()
        .filter_map(|e| e["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, prompt);
}

// ---------- mask, allow, block ----------

#[tokio::test]
async fn masked_values_reach_the_model_and_are_not_restored() {
    let user = format!("ID {ID}, tel {PHONE}");
    let (answer, fakes) = call(Policy::Mask, CHAT, chat("echo", &user, false)).await;
    let masked = "ID 110105********002X, tel 138****5678";
    assert_eq!(received_user_text(&fakes), masked);
    assert_eq!(answer.json()["choices"][0]["message"]["content"], masked);
}

#[tokio::test]
async fn allow_passes_text_unchanged() {
    let user = format!("ID {ID}, tel {PHONE}");
    let (answer, fakes) = call(Policy::Allow, CHAT, chat("echo-chars", &user, true)).await;
    assert_eq!(received_user_text(&fakes), user);
    assert_eq!(streamed(&answer.sse_events(), "content"), user);
}

#[tokio::test]
async fn block_refuses_before_the_model_is_called() {
    let user = format!("ID {ID}, tel {PHONE}");
    let (answer, fakes) = call(Policy::Block, CHAT, chat("echo", &user, true)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert!(fakes.received.chats().is_empty());
    assert_no_values(&answer.body);
    assert_json_snapshot!(answer.json(), @r#"
    {
      "error": {
        "message": "The request contains personal data that is not allowed here: id_card, mobile.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "pii_blocked"
      }
    }
    "#);

    let body = json!({"model": "echo", "prompt": format!("mail zhang.san@example.com")});
    let (answer, fakes) = call(Policy::Block, COMPLETIONS, body).await;
    assert_eq!(answer.status, 400);
    assert!(fakes.received.completions().is_empty());
    assert_json_snapshot!(answer.json(), @r#"
    {
      "error": {
        "message": "The request contains personal data that is not allowed here: email.",
        "type": "invalid_request_error",
        "param": "prompt",
        "code": "pii_blocked"
      }
    }
    "#);
}

#[tokio::test]
async fn block_lets_clean_requests_through() {
    let (answer, fakes) = call(Policy::Block, CHAT, chat("echo", "Hello there", false)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(received_user_text(&fakes), "Hello there");
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "Hello there"
    );
}

/// A role's `pii_policy` overrides the server's for keys holding it; other
/// keys keep the server's policy.
#[tokio::test]
async fn a_role_policy_overrides_the_server_policy() {
    let access = common::access::TestAccess::build(common::access::Setup {
        roles_toml: r#"
[[roles]]
name = "strict"
models = ["*"]
pii_policy = "block"

[[roles]]
name = "open"
models = ["*"]
pii_policy = "allow"
"#
        .to_owned(),
        ..Default::default()
    })
    .await;
    let strict = access.key("strict", &["strict"], None).await;
    let open = access.key("open", &["open"], None).await;
    let body = chat("echo", &format!("My phone is {PHONE}."), false).to_string();
    let as_key = |key: &str| {
        let mut request = post_json(CHAT, &body);
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        request
    };

    let fakes = FakeModels::new();
    let refused = common::send_as(
        fakes.registry_of(&["echo"]),
        &access,
        options(Policy::Pseudonymize),
        as_key(&strict),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "pii_blocked");
    assert!(fakes.received.chats().is_empty());

    let fakes = FakeModels::new();
    let passed = common::send_as(
        fakes.registry_of(&["echo"]),
        &access,
        options(Policy::Pseudonymize),
        as_key(&open),
    )
    .await;
    assert_eq!(passed.status, 200, "{}", passed.body);
    assert!(received_user_text(&fakes).contains(PHONE));

    // The admin's built-in role sets no policy: the server's applies.
    let fakes = FakeModels::new();
    let server_policy = common::send_as(
        fakes.registry_of(&["echo"]),
        &access,
        options(Policy::Pseudonymize),
        as_key(&access.admin_key),
    )
    .await;
    assert_eq!(server_policy.status, 200);
    assert_no_values(&received_user_text(&fakes));
}

/// `POST /admin/guard/scan` shows admins what the configured guard finds,
/// masked; other callers get 403.
#[tokio::test]
async fn admins_can_scan_a_text() {
    let access = common::access::TestAccess::new().await;
    let user = access.key("user", &["user"], None).await;
    let body = json!({ "text": format!("电话 {PHONE}，身份证 {ID}") }).to_string();
    let as_key = |key: &str| {
        let mut request = post_json("/admin/guard/scan", &body);
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        request
    };
    let scanned = common::send_as(
        FakeModels::new().registry(),
        &access,
        options(Policy::Block),
        as_key(&access.admin_key),
    )
    .await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    assert!(!scanned.body.contains(PHONE) && !scanned.body.contains(ID));
    assert_json_snapshot!(scanned.json(), @r###"
    {
      "object": "list",
      "policy": "block",
      "data": [
        {
          "kind": "mobile",
          "start": 7,
          "end": 18,
          "masked": "138****5678"
        },
        {
          "kind": "id_card",
          "start": 31,
          "end": 49,
          "masked": "110105********002X"
        }
      ]
    }
    "###);
    let refused = common::send_as(
        FakeModels::new().registry(),
        &access,
        options(Policy::Block),
        as_key(&user),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"]["code"], "permission_denied");
}

// ---------- unusual separators, tool definitions, large bodies ----------

/// A phone written with each separator the guard normalises.
fn phones_with_odd_separators() -> Vec<String> {
    [
        "\u{A0}", "\u{202F}", "\u{2009}", "\u{2013}", "\u{2014}", "\u{2212}", "\t", "\n", ".",
        "\u{200B}", "\u{AD}", "\u{2060}", "\u{FEFF}",
    ]
    .iter()
    .map(|sep| format!("138{sep}1234{sep}5678"))
    .collect()
}

#[tokio::test]
async fn values_with_odd_separators_never_reach_the_model() {
    for phone in phones_with_odd_separators() {
        let user = format!("call {phone} please");
        let (answer, fakes) = call(Policy::Pseudonymize, CHAT, chat("echo", &user, false)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            received_user_text(&fakes),
            "call <PHONE_1> please",
            "{phone:?}"
        );
        assert_eq!(
            answer.json()["choices"][0]["message"]["content"],
            user,
            "restored exactly as written"
        );
        let (answer, fakes) = call(Policy::Block, CHAT, chat("echo", &user, false)).await;
        assert_eq!(answer.status, 400, "{phone:?}");
        assert_eq!(answer.json()["error"]["code"], "pii_blocked");
        assert!(fakes.received.chats().is_empty());
    }
    let card = "6222\u{A0}0212\u{A0}3456\u{A0}7890\u{A0}128";
    let id = "110105\u{202F}19491231\u{202F}002X";
    let user = format!("卡号 {card}，身份证 {id}");
    let (_, fakes) = call(Policy::Mask, CHAT, chat("echo", &user, false)).await;
    assert_eq!(
        received_user_text(&fakes),
        "卡号 622202*********0128，身份证 110105********002X"
    );
}

fn chat_with_tools(tools: Value) -> Value {
    json!({
        "model": "echo",
        "messages": [{"role": "user", "content": "which orders?"}],
        "tools": tools,
    })
}

fn order_tool(name: &str, phones: Value) -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": name,
            "description": format!("Orders of the customer {ID}"),
            "parameters": {
                "type": "object",
                "properties": {"phone": {"type": "string", "enum": phones}},
            },
        },
    }])
}

#[tokio::test]
async fn tool_definitions_are_guarded_under_the_callers_policy() {
    let body = chat_with_tools(order_tool("orders", json!([PHONE])));
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, body.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let seen = serde_json::to_value(&fakes.received.chats()[0].tools).unwrap();
    assert_eq!(
        seen[0]["function"]["description"],
        "Orders of the customer <ID_CARD_1>"
    );
    assert_eq!(
        seen[0]["function"]["parameters"]["properties"]["phone"]["enum"],
        json!(["<PHONE_1>"])
    );
    assert_no_values(&seen.to_string());

    let (answer, fakes) = call(Policy::Block, CHAT, body).await;
    assert_eq!(answer.status, 400);
    assert!(fakes.received.chats().is_empty());
    assert_no_values(&answer.body);
    assert_json_snapshot!(answer.json(), @r#"
    {
      "error": {
        "message": "The request contains personal data that is not allowed here: id_card, mobile.",
        "type": "invalid_request_error",
        "param": "tools",
        "code": "pii_blocked"
      }
    }
    "#);

    let named = chat_with_tools(order_tool(&format!("orders_{PHONE}"), json!(["a"])));
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, named).await;
    assert_eq!(answer.status, 400);
    assert!(fakes.received.chats().is_empty());
    assert_json_snapshot!(answer.json(), @r#"
    {
      "error": {
        "message": "The request contains personal data where it cannot be replaced (a tool or parameter name, an object key or a number): mobile.",
        "type": "invalid_request_error",
        "param": "tools",
        "code": "pii_blocked"
      }
    }
    "#);
}

#[tokio::test]
async fn a_large_body_is_still_guarded() {
    let filler = "Nothing personal here. ".repeat(8 * 1024);
    let user = format!("{filler}phone 138\u{2009}1234\u{2009}5678, id {ID}");
    let (answer, fakes) = call(Policy::Pseudonymize, CHAT, chat("echo", &user, false)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let seen = received_user_text(&fakes);
    assert!(seen.len() > 64 * 1024, "over the inline scan limit");
    assert!(seen.ends_with("phone <PHONE_1>, id <ID_CARD_1>"));
    assert_no_values(&seen);
    assert_eq!(answer.json()["choices"][0]["message"]["content"], user);
    let (answer, _) = call(Policy::Block, CHAT, chat("echo", &user, true)).await;
    assert_eq!(answer.status, 400);
}
