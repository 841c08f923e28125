//! Rate limits and quotas on a clock the test moves: requests per minute
//! (per key and per role), concurrent streams, tokens per UTC day, the
//! `Retry-After` and `x-ratelimit-*` headers, usage recording, and the
//! day's tokens surviving a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use common::access::Setup;
use common::{get, post_json, Answer, FakeModels, TestAccess};
use http_body_util::BodyExt;
use insta::assert_json_snapshot;
use moat_policy::clock::{ms_to_next_utc_day, Clock as _};
use moat_policy::RoleConfig;
use moat_server::{Access, GatewayParts, GatewaySettings, ServerOptions};
use moat_store::UsageBy;
use serde_json::{json, Value};
use tower::ServiceExt;

const ROLES: &str = r#"
# 3 requests per minute for each key.
[[roles]]
name = "metered"
models = ["*"]
per_key = { requests_per_minute = 3 }

# 4 requests per minute for all the role's keys together.
[[roles]]
name = "team"
models = ["*"]
requests_per_minute = 4

[[roles]]
name = "streamer"
models = ["*"]
per_key = { concurrent_streams = 1 }

# 100 tokens per UTC day for each key.
[[roles]]
name = "budget"
models = ["*"]
per_key = { tokens_per_day = 100 }

# 60 tokens per UTC day for all the role's keys together.
[[roles]]
name = "pool"
models = ["*"]
tokens_per_day = 60
"#;

const CHAT: &str = "/v1/chat/completions";

/// The test's clock: 2026-11-24T03:30:00Z, 20 h 30 min before the next
/// UTC day.
const TO_MIDNIGHT: &str = "20h30m0s";

async fn limited() -> TestAccess {
    TestAccess::build(Setup {
        roles_toml: ROLES.to_owned(),
        ..Setup::default()
    })
    .await
}

/// A chat to `echo` of five words: the fake model reports 5 prompt and 5
/// completion tokens; moat estimates it at 9 tokens plus `max_tokens`.
fn chat(max_tokens: u32) -> Request<Body> {
    post_json(
        CHAT,
        &json!({
            "model": "echo",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "a b c d e"}],
        })
        .to_string(),
    )
}

fn slow_stream() -> Request<Body> {
    post_json(
        CHAT,
        r#"{"model":"slow","stream":true,"messages":[{"role":"user","content":"go"}]}"#,
    )
}

/// The response of an app over `access` to `request` sent with `secret`.
async fn respond(
    models: &FakeModels,
    access: &Access,
    secret: &str,
    mut request: Request<Body>,
) -> Response {
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    common::router(models.registry(), access.clone(), ServerOptions::default())
        .oneshot(request)
        .await
        .unwrap()
}

async fn answer(response: Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn send(
    models: &FakeModels,
    access: &TestAccess,
    secret: &str,
    request: Request<Body>,
) -> Answer {
    answer(respond(models, &access.access, secret, request).await).await
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.get(name).map(|v| v.to_str().unwrap())
}

/// `x-ratelimit-{limit,remaining,reset}-requests`.
fn request_headers(answer: &Answer) -> [Option<&str>; 3] {
    [
        header(answer, "x-ratelimit-limit-requests"),
        header(answer, "x-ratelimit-remaining-requests"),
        header(answer, "x-ratelimit-reset-requests"),
    ]
}

/// `x-ratelimit-{limit,remaining,reset}-tokens`.
fn token_headers(answer: &Answer) -> [Option<&str>; 3] {
    [
        header(answer, "x-ratelimit-limit-tokens"),
        header(answer, "x-ratelimit-remaining-tokens"),
        header(answer, "x-ratelimit-reset-tokens"),
    ]
}

fn code(answer: &Answer) -> Value {
    answer.json()["error"]["code"].clone()
}

// ---------- requests per minute ----------

#[tokio::test]
async fn requests_per_minute_per_key_refill_one_interval_at_a_time() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("metered", &["metered"], None).await;

    // A full bucket: 3 at once, each one interval (20 s) further from full.
    for (remaining, reset) in [("2", "20s"), ("1", "40s"), ("0", "1m0s")] {
        let ok = send(&models, &access, &key, chat(5)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(
            request_headers(&ok),
            [Some("3"), Some(remaining), Some(reset)]
        );
        assert_eq!(header(&ok, "retry-after"), None);
    }
    let refused = send(&models, &access, &key, chat(5)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), Some("20"));
    assert_eq!(
        request_headers(&refused),
        [Some("3"), Some("0"), Some("1m0s")]
    );
    assert_json_snapshot!(refused.json(), @r#"
    {
      "error": {
        "message": "Rate limit reached: 3 requests per minute. Retry in 20.0 s.",
        "type": "requests",
        "param": null,
        "code": "rate_limit_exceeded"
      }
    }
    "#);
    // Refused requests never reach the model.
    assert_eq!(models.received.chats().len(), 3);

    // 19.999 s later: still refused, 1 ms to go (Retry-After rounds up).
    access.clock.advance_ms(19_999);
    let early = send(&models, &access, &key, chat(5)).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&early, "retry-after"), Some("1"));
    // One interval after the refusal: exactly one more.
    access.clock.advance_ms(1);
    let one_more = send(&models, &access, &key, chat(5)).await;
    assert_eq!(one_more.status, StatusCode::OK, "{}", one_more.body);
    assert_eq!(
        request_headers(&one_more),
        [Some("3"), Some("0"), Some("1m0s")]
    );
    let again = send(&models, &access, &key, chat(5)).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&again), "rate_limit_exceeded");

    // Another key of the same role has a bucket of its own.
    let other = access.key("metered too", &["metered"], None).await;
    let fresh = send(&models, &access, &other, chat(5)).await;
    assert_eq!(request_headers(&fresh), [Some("3"), Some("2"), Some("20s")]);

    // After a quiet minute the bucket is full again.
    access.clock.advance_ms(60_000);
    let full = send(&models, &access, &key, chat(5)).await;
    assert_eq!(request_headers(&full), [Some("3"), Some("2"), Some("20s")]);
}

#[tokio::test]
async fn a_role_wide_limit_is_shared_by_its_keys() {
    let access = limited().await;
    let models = FakeModels::new();
    let a = access.key("team a", &["team"], None).await;
    let b = access.key("team b", &["team"], None).await;
    // Interval 15 s: each request pushes the reset 15 s further.
    for (key, remaining, reset) in [
        (&a, "3", "15s"),
        (&b, "2", "30s"),
        (&a, "1", "45s"),
        (&b, "0", "1m0s"),
    ] {
        let ok = send(&models, &access, key, chat(5)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(
            request_headers(&ok),
            [Some("4"), Some(remaining), Some(reset)]
        );
    }
    for key in [&a, &b] {
        let refused = send(&models, &access, key, chat(5)).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(code(&refused), "rate_limit_exceeded");
        assert_eq!(header(&refused, "retry-after"), Some("15"));
    }
    // Keys of other roles are not held back by it.
    let user = access.key("user", &["user"], None).await;
    let free = send(&models, &access, &user, chat(5)).await;
    assert_eq!(free.status, StatusCode::OK);
    assert_eq!(request_headers(&free), [None, None, None]);

    access.clock.advance_ms(15_000);
    let b_again = send(&models, &access, &b, chat(5)).await;
    assert_eq!(b_again.status, StatusCode::OK, "{}", b_again.body);
    let a_again = send(&models, &access, &a, chat(5)).await;
    assert_eq!(a_again.status, StatusCode::TOO_MANY_REQUESTS);
}

// ---------- concurrent streams ----------

/// Poll with `request()` until it is answered 200; how long that took.
async fn until_ok(
    models: &FakeModels,
    access: &TestAccess,
    key: &str,
    request: impl Fn() -> Request<Body>,
) -> Duration {
    let start = Instant::now();
    loop {
        let answer = send(models, access, key, request()).await;
        if answer.status == StatusCode::OK {
            return start.elapsed();
        }
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            answer.body
        );
        assert!(start.elapsed() < Duration::from_secs(2), "slot never freed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_held_stream_takes_the_slot_until_it_is_dropped() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("streamer", &["streamer"], None).await;

    let held = respond(&models, &access.access, &key, slow_stream()).await;
    assert_eq!(held.status(), StatusCode::OK);
    let mut body = held.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.starts_with(b"data: {"), "{first:?}");

    for request in [chat(5), slow_stream()] {
        let refused = send(&models, &access, &key, request).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&refused, "retry-after"), Some("1"));
        insta::allow_duplicates! {
            assert_json_snapshot!(refused.json(), @r#"
            {
              "error": {
                "message": "Rate limit reached: 1 concurrent requests at most. Wait for one to finish and retry.",
                "type": "requests",
                "param": null,
                "code": "rate_limit_exceeded"
              }
            }
            "#);
        }
    }
    // Another key of the role has its own slot.
    let other = access.key("streamer too", &["streamer"], None).await;
    let elsewhere = send(&models, &access, &other, chat(5)).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);

    // Dropping the stream stops the generation and frees the slot.
    drop(body);
    assert_eq!(models.counters.dropped(), 1);
    let took = until_ok(&models, &access, &key, || chat(5)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // A finished request frees its slot too (also by a spawned task).
    let took = until_ok(&models, &access, &key, || chat(5)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

// ---------- tokens per day ----------

#[tokio::test]
async fn a_daily_token_quota_per_key() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("budget", &["budget"], None).await;

    // Each request uses 10 tokens; the headers show what was left before it.
    let mut remaining = 100;
    for _ in 0..7 {
        let ok = send(&models, &access, &key, chat(5)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(ok.json()["usage"]["total_tokens"], 10);
        let left = remaining.to_string();
        assert_eq!(
            token_headers(&ok),
            [Some("100"), Some(left.as_str()), Some(TO_MIDNIGHT)]
        );
        remaining -= 10;
    }

    // 30 left: a request that may need 50 for its answer alone is refused
    // before it reaches the model, and costs nothing.
    let greedy = send(&models, &access, &key, chat(50)).await;
    assert_eq!(greedy.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        token_headers(&greedy),
        [Some("100"), Some("30"), Some(TO_MIDNIGHT)]
    );
    assert_eq!(header(&greedy, "retry-after"), Some("73800"));
    assert_json_snapshot!(greedy.json(), @r#"
    {
      "error": {
        "message": "You exceeded your token quota: 30 of 100 tokens left today (UTC), and this request may need about 59. Lower max_tokens, or ask your administrator for a larger quota.",
        "type": "insufficient_quota",
        "param": null,
        "code": "insufficient_quota"
      }
    }
    "#);
    assert_eq!(models.received.chats().len(), 7);

    // Two more of 10, then one estimated at exactly the 10 left.
    for _ in 0..2 {
        assert_eq!(
            send(&models, &access, &key, chat(5)).await.status,
            StatusCode::OK
        );
    }
    let last = send(&models, &access, &key, chat(1)).await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.body);
    assert_eq!(token_headers(&last)[1], Some("10"));

    // Used up.
    let spent = send(&models, &access, &key, chat(1)).await;
    assert_eq!(spent.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&spent), "insufficient_quota");
    assert_eq!(token_headers(&spent)[1], Some("0"));
    assert!(spent.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("0 of 100 tokens left"));

    // A minute before midnight (UTC) it is still spent; at midnight the
    // quota is whole again.
    access
        .clock
        .advance_ms(ms_to_next_utc_day(access.clock.now_ms()) - 60_000);
    let late = send(&models, &access, &key, chat(1)).await;
    assert_eq!(late.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&late, "retry-after"), Some("60"));
    assert_eq!(token_headers(&late)[2], Some("1m0s"));
    access.clock.advance_ms(60_000);
    let next_day = send(&models, &access, &key, chat(5)).await;
    assert_eq!(next_day.status, StatusCode::OK, "{}", next_day.body);
    assert_eq!(
        token_headers(&next_day),
        [Some("100"), Some("100"), Some("24h0m0s")]
    );
}

#[tokio::test]
async fn a_role_wide_token_quota_is_shared_by_its_keys() {
    let access = limited().await;
    let models = FakeModels::new();
    let a = access.key("pool a", &["pool"], None).await;
    let b = access.key("pool b", &["pool"], None).await;
    for (key, left) in [(&a, "60"), (&b, "50"), (&a, "40"), (&b, "30"), (&a, "20")] {
        let ok = send(&models, &access, key, chat(5)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(
            token_headers(&ok),
            [Some("60"), Some(left), Some(TO_MIDNIGHT)]
        );
    }
    for key in [&a, &b] {
        let refused = send(&models, &access, key, chat(5)).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(code(&refused), "insufficient_quota");
        assert_eq!(token_headers(&refused)[1], Some("10"));
    }
}

/// The chat the fake models last received.
fn last_chat(models: &FakeModels) -> moat_protocol::chat::ChatCompletionRequest {
    models.received.chats().pop().unwrap()
}

#[tokio::test]
async fn an_answer_without_max_tokens_is_bounded_by_the_remaining_quota() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("budget", &["budget"], None).await;
    let unbounded = || {
        post_json(
            CHAT,
            r#"{"model":"echo","messages":[{"role":"user","content":"a b c d e"}]}"#,
        )
    };

    // 100 left, the prompt estimated at 9: the answer may have 91.
    let ok = send(&models, &access, &key, unbounded()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(last_chat(&models).token_budget, Some(91));
    assert_eq!(last_chat(&models).max_tokens, None);
    // 10 used: 81.
    send(&models, &access, &key, unbounded()).await;
    assert_eq!(last_chat(&models).token_budget, Some(81));
    // A request that names max_tokens was admitted with it and keeps it.
    send(&models, &access, &key, chat(5)).await;
    assert_eq!(last_chat(&models).token_budget, None);
    assert_eq!(last_chat(&models).max_tokens, Some(5));

    // Without a quota, the server's default bounds it; with neither, nothing.
    let free = access.key("free", &["user"], None).await;
    send(&models, &access, &free, unbounded()).await;
    assert_eq!(last_chat(&models).token_budget, None);
    let options = GatewayParts {
        settings: GatewaySettings {
            default_max_tokens: Some(20),
        },
        ..GatewayParts::default()
    };
    let mut request = unbounded();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {free}").parse().unwrap());
    let answered = common::router(models.registry(), access.access.clone(), options.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(last_chat(&models).token_budget, Some(20));
    // Both: the tighter one (70 left less the prompt's 9 = 61 > 20).
    let mut request = unbounded();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    common::router(models.registry(), access.access.clone(), options)
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(last_chat(&models).token_budget, Some(20));
}

#[tokio::test]
async fn a_text_completion_without_max_tokens_gets_16_at_most() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("budget", &["budget"], None).await;
    let complete = |body: &str| post_json("/v1/completions", body);
    let ok = send(
        &models,
        &access,
        &key,
        complete(r#"{"model":"echo","prompt":"a b c"}"#),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let received = models.received.completions().pop().unwrap();
    assert_eq!(received.token_budget, Some(16));
    send(
        &models,
        &access,
        &key,
        complete(r#"{"model":"echo","prompt":"a b c","max_tokens":40}"#),
    )
    .await;
    let received = models.received.completions().pop().unwrap();
    assert_eq!(
        (received.max_tokens, received.token_budget),
        (Some(40), None)
    );
}

#[tokio::test]
async fn an_abandoned_stream_counts_against_the_quota() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("budget", &["budget"], None).await;

    // Ten tokens streamed, then the client goes away.
    let stream = respond(&models, &access.access, &key, slow_stream()).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut body = stream.into_body();
    let mut text = String::new();
    while text.matches("\"content\":\"t").count() < 10 {
        let frame = body.frame().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&frame.into_data().unwrap()).unwrap());
    }
    drop(body);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let next = send(&models, &access, &key, chat(5)).await;
    assert_eq!(next.status, StatusCode::OK);
    // At least some of what was streamed counts (the model never reported
    // usage: the stream did not end).
    let left: u64 = token_headers(&next)[1].unwrap().parse().unwrap();
    assert!(
        left < 100,
        "the tokens of the abandoned stream were not counted: {left} of 100 left"
    );
    // And the request itself is usage.
    access.usage.flush().await;
    let usage = access.access.store.usage(UsageBy::Key, None).await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0].requests, 2, "{usage:?}");
}

// ---------- usage ----------

#[tokio::test]
async fn usage_is_recorded_per_key_and_model() {
    let access = limited().await;
    let models = FakeModels::new();
    let one = access.key("one", &["user"], None).await;
    let two = access.key("two", &["budget"], None).await;
    for _ in 0..3 {
        assert_eq!(
            send(&models, &access, &one, chat(5)).await.status,
            StatusCode::OK
        );
    }
    let tools = post_json(
        CHAT,
        r#"{"model":"tools","messages":[{"role":"user","content":"weather in Paris"}]}"#,
    );
    assert_eq!(
        send(&models, &access, &two, tools).await.status,
        StatusCode::OK
    );
    // Refused and failed requests are not usage.
    let denied = post_json(CHAT, r#"{"model":"nope","messages":[]}"#);
    assert_ne!(
        send(&models, &access, &two, denied).await.status,
        StatusCode::OK
    );

    access.usage.flush().await;
    let rows = access.access.store.usage(UsageBy::Key, None).await.unwrap();
    let one_id = access.key_id("one").await;
    let two_id = access.key_id("two").await;
    let by_key: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.group.clone(),
                r.requests,
                r.prompt_tokens,
                r.completion_tokens,
            )
        })
        .collect();
    let mut expected = vec![(one_id, 3, 15, 15), (two_id, 1, 3, 20)];
    expected.sort();
    assert_eq!(by_key, expected);

    let by_model = send(
        &models,
        &access,
        &access.admin_key,
        get("/admin/usage?by=model"),
    )
    .await;
    assert_eq!(by_model.status, StatusCode::OK, "{}", by_model.body);
    assert_json_snapshot!(by_model.json(), @r#"
    {
      "object": "list",
      "by": "model",
      "data": [
        {
          "model": "echo",
          "requests": 3,
          "prompt_tokens": 15,
          "completion_tokens": 15,
          "total_tokens": 30
        },
        {
          "model": "tools",
          "requests": 1,
          "prompt_tokens": 3,
          "completion_tokens": 20,
          "total_tokens": 23
        }
      ]
    }
    "#);
    let by_role = send(
        &models,
        &access,
        &access.admin_key,
        get("/admin/usage?by=role&since=2026-11-24"),
    )
    .await;
    let roles: Vec<(String, i64)> = by_role.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_owned(),
                r["requests"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(roles, [("budget".to_owned(), 1), ("user".to_owned(), 3)]);
    let later = send(
        &models,
        &access,
        &access.admin_key,
        get("/admin/usage?since=2026-11-25"),
    )
    .await;
    assert_eq!(later.json()["data"], json!([]));
    let bad = send(
        &models,
        &access,
        &access.admin_key,
        get("/admin/usage?by=week"),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["param"], "by");
}

// ---------- restarts ----------

#[tokio::test]
async fn the_days_tokens_per_key_survive_a_restart() {
    let access = limited().await;
    let models = FakeModels::new();
    let key = access.key("budget", &["budget"], None).await;
    for _ in 0..3 {
        assert_eq!(
            send(&models, &access, &key, chat(5)).await.status,
            StatusCode::OK
        );
    }
    access.usage.flush().await;

    let restarted = access.restart().await;
    let after = answer(respond(&models, &restarted.access, &key, chat(5)).await).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(
        token_headers(&after),
        [Some("100"), Some("70"), Some(TO_MIDNIGHT)]
    );
    // 60 left: five more fit, the sixth does not.
    for _ in 0..5 {
        let ok = answer(respond(&models, &restarted.access, &key, chat(5)).await).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    let refused = answer(respond(&models, &restarted.access, &key, chat(5)).await).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(token_headers(&refused)[1], Some("10"));
    restarted.usage.flush().await;
    assert_eq!(
        restarted
            .access
            .store
            .usage(UsageBy::Key, None)
            .await
            .unwrap()[0]
            .requests,
        9
    );
}

#[tokio::test]
async fn the_days_tokens_per_role_survive_a_restart() {
    let access = limited().await;
    let models = FakeModels::new();
    let a = access.key("pool a", &["pool"], None).await;
    let b = access.key("pool b", &["pool"], None).await;
    for key in [&a, &b, &a] {
        assert_eq!(
            send(&models, &access, key, chat(5)).await.status,
            StatusCode::OK
        );
    }
    access.usage.flush().await;

    let restarted = access.restart().await;
    let after = answer(respond(&models, &restarted.access, &b, chat(5)).await).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(
        token_headers(&after)[1],
        Some("30"),
        "the role's 30 tokens used today were forgotten on restart"
    );
}

// ---------- configuration ----------

#[test]
fn a_misspelled_limit_is_an_error_not_no_limit() {
    for text in [
        "name = \"x\"\nrequests_per_mintue = 5",
        "name = \"x\"\nper_key = { token_per_day = 5 }",
    ] {
        let parsed = toml::from_str::<RoleConfig>(text);
        assert!(parsed.is_err(), "{text}: {parsed:?}");
    }
}
