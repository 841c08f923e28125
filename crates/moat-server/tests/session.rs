//! Web UI sessions: an API key exchanged for a cookie, the cookie acting
//! as the key on every route, writes needing the CSRF token, and every way
//! a session ends (idle, absolute lifetime, the key revoked, sign-out).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::access::Setup;
use common::{post_json, send_as, Answer, FakeModels, TestAccess};
use moat_policy::clock::Clock as _;
use moat_policy::failures::FailureSettings;
use moat_policy::SessionSettings;
use moat_server::ServerOptions;
use serde_json::{json, Value};

async fn send(access: &TestAccess, request: Request<Body>) -> Answer {
    send_as(
        FakeModels::new().registry(),
        access,
        ServerOptions::default(),
        request,
    )
    .await
}

/// A signed-in browser: its cookie header and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(access: &TestAccess, key: &str) -> (Answer, Browser) {
    let answer = send(
        access,
        post_json("/v1/moat/session", &json!({ "api_key": key }).to_string()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = answer.json()["csrf_token"].as_str().unwrap().to_owned();
    (answer, Browser { cookie: pair, csrf })
}

fn with_cookie(browser: &Browser, method: &str, uri: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", format!("theme=dark; {}", browser.cookie));
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn with_csrf(mut request: Request<Body>, csrf: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    request
}

fn code(answer: &Answer) -> String {
    answer.json()["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_key_signs_in_to_a_cookie_that_acts_as_the_key() {
    let access = TestAccess::new().await;
    let (answer, browser) = sign_in(&access, &access.admin_key).await;
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with("moat_session="), "{set_cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let mut body = answer.json();
    assert_eq!(body["csrf_token"].as_str().unwrap().len(), 43);
    assert!(body["expires_at"].as_i64().unwrap() > common::access::START_MS / 1000);
    body["csrf_token"] = json!("…");
    body["expires_at"] = json!(0);
    body["principal"]["id"] = json!("…");
    assert_eq!(
        body,
        json!({
            "object": "moat.session",
            "principal": {"id": "…", "name": "admin", "roles": ["admin"]},
            "permissions": {"admin": true, "audit": true},
            "csrf_token": "…",
            "idle_timeout_seconds": 1800,
            "expires_at": 0
        })
    );
    // The token is not the key, and not the CSRF token.
    assert!(!browser.cookie.contains(&access.admin_key));
    assert!(!browser.cookie.contains(&browser.csrf));

    // Reads need only the cookie.
    let models = send(&access, with_cookie(&browser, "GET", "/v1/models", None)).await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.body);
    let again = send(
        &access,
        with_cookie(&browser, "GET", "/v1/moat/session", None),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["csrf_token"], browser.csrf.as_str());

    // Writes need the CSRF token too: missing or wrong is 403, and nothing is done.
    let create = || {
        with_cookie(
            &browser,
            "POST",
            "/admin/keys",
            Some(json!({"name": "from the browser", "roles": ["user"]})),
        )
    };
    let refused = send(&access, create()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(code(&refused), "csrf_token_invalid");
    let wrong = send(&access, with_csrf(create(), &"A".repeat(43))).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let listed = send(&access, with_cookie(&browser, "GET", "/admin/keys", None)).await;
    assert!(!listed.body.contains("from the browser"), "{}", listed.body);
    let created = send(&access, with_csrf(create(), &browser.csrf)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // A bearer credential wins over a cookie, and needs no CSRF token.
    let user_key = access.key("alice", &["user"], None).await;
    let mut as_alice = with_cookie(&browser, "GET", "/admin/keys", None);
    as_alice.headers_mut().insert(
        "authorization",
        format!("Bearer {user_key}").parse().unwrap(),
    );
    let forbidden = send(&access, as_alice).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    assert_eq!(code(&forbidden), "permission_denied");
}

#[tokio::test]
async fn a_user_session_has_the_users_rights_only() {
    let access = TestAccess::new().await;
    let key = access.key("alice", &["user"], None).await;
    let (answer, browser) = sign_in(&access, &key).await;
    assert_eq!(
        answer.json()["permissions"],
        json!({"admin": false, "audit": false})
    );
    let admin = send(&access, with_cookie(&browser, "GET", "/admin/keys", None)).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN, "{}", admin.body);
}

#[tokio::test]
async fn wrong_keys_are_refused_and_count_as_failed_authentications() {
    let access = TestAccess::build(Setup {
        failures: Some(FailureSettings {
            slow_after_failures: 100,
            lock_after_failures: 3,
            window_secs: 600,
            lockout_secs: 600,
        }),
        ..Setup::default()
    })
    .await;
    let try_key = |key: String| {
        let access = &access;
        async move {
            send(
                access,
                post_json("/v1/moat/session", &json!({ "api_key": key }).to_string()),
            )
            .await
        }
    };
    let wrong = try_key(format!("moat_{}", "x".repeat(43))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(code(&wrong), "invalid_api_key");
    assert!(!wrong.headers.contains_key("set-cookie"));
    let not_a_key = try_key("eyJhbGciOi.not.a-key".to_owned()).await;
    assert_eq!(
        not_a_key.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        not_a_key.body
    );
    // Wrong secrets aimed at the admin key (its displayed start) lock
    // it against further guesses; the key itself still signs in.
    access.access.authenticator.refresh().await.unwrap();
    let aimed = format!("{}{}", &access.admin_key[..9], "z".repeat(39));
    let mut last = try_key(String::new()).await;
    for _ in 0..4 {
        last = try_key(aimed.clone()).await;
    }
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.body);
    assert!(last.headers.contains_key("retry-after"));
    let (_, _) = sign_in(&access, &access.admin_key).await;

    let odd = send(&access, post_json("/v1/moat/session", r#"{"api_key": 7}"#)).await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST, "{}", odd.body);
    let extra = send(
        &access,
        post_json("/v1/moat/session", r#"{"api_key": "k", "remember": true}"#),
    )
    .await;
    assert_eq!(extra.status, StatusCode::BAD_REQUEST, "{}", extra.body);
}

#[tokio::test]
async fn a_session_ends_when_idle_at_its_lifetime_and_with_its_key() {
    let access = TestAccess::new().await;
    let session = |browser: &Browser| with_cookie(browser, "GET", "/v1/moat/session", None);

    // Idle: 29 minutes is fine (and counts as activity), 31 more is not.
    let (_, idle) = sign_in(&access, &access.admin_key).await;
    access.clock.advance_ms(29 * 60_000);
    assert_eq!(send(&access, session(&idle)).await.status, StatusCode::OK);
    access.clock.advance_ms(29 * 60_000);
    assert_eq!(send(&access, session(&idle)).await.status, StatusCode::OK);
    access.clock.advance_ms(31 * 60_000);
    let ended = send(&access, session(&idle)).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{}", ended.body);
    assert_eq!(code(&ended), "session_ended");
    assert!(ended.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let models = send(&access, with_cookie(&idle, "GET", "/v1/models", None)).await;
    assert_eq!(models.status, StatusCode::UNAUTHORIZED, "{}", models.body);

    // Lifetime: active every 20 minutes, still over after 12 hours.
    let (_, active) = sign_in(&access, &access.admin_key).await;
    for _ in 0..35 {
        access.clock.advance_ms(20 * 60_000);
        assert_eq!(send(&access, session(&active)).await.status, StatusCode::OK);
    }
    access.clock.advance_ms(20 * 60_000);
    assert_eq!(
        send(&access, session(&active)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The key revoked: its sessions end at once.
    let key = access.key("bob", &["user"], None).await;
    let (_, bobs) = sign_in(&access, &key).await;
    let id = access.key_id("bob").await;
    access
        .access
        .keys
        .revoke(&id, access.clock.now_ms())
        .await
        .unwrap();
    access.access.authenticator.refresh().await.unwrap();
    let revoked = send(&access, with_cookie(&bobs, "GET", "/v1/models", None)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{}", revoked.body);
    assert_eq!(code(&revoked), "session_ended");
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_ends_the_session() {
    let access = TestAccess::new().await;
    let (_, browser) = sign_in(&access, &access.admin_key).await;
    let out = || with_cookie(&browser, "DELETE", "/v1/moat/session", None);
    let refused = send(&access, out()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(code(&refused), "csrf_token_invalid");
    let signed_out = send(&access, with_csrf(out(), &browser.csrf)).await;
    assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.body);
    assert_eq!(
        signed_out.json(),
        json!({"object": "moat.session.deleted", "deleted": true})
    );
    assert!(signed_out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = send(&access, with_cookie(&browser, "GET", "/v1/models", None)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.body);
    let forged = Browser {
        cookie: "moat_session=../../etc/passwd".to_owned(),
        csrf: String::new(),
    };
    let odd = send(
        &access,
        with_cookie(&forged, "GET", "/v1/moat/session", None),
    )
    .await;
    assert_eq!(odd.status, StatusCode::UNAUTHORIZED, "{}", odd.body);
}

#[tokio::test]
async fn administrators_and_auditors_sign_in_with_a_second_factor() {
    let access = TestAccess::build(Setup {
        roles_toml: "[[roles]]\nname = \"auditor\"\nmodels = [\"*\"]\nauditor = true\n".to_owned(),
        failures: Some(FailureSettings {
            slow_after_failures: 100,
            lock_after_failures: 8,
            window_secs: 600,
            lockout_secs: 600,
        }),
        sessions: Some(SessionSettings {
            admin_second_factor: true,
            ..SessionSettings::default()
        }),
        ..Setup::default()
    })
    .await;
    let attempt = |key: String, code: Option<String>| {
        let access = &access;
        async move {
            let body = json!({ "api_key": key, "code": code }).to_string();
            send(access, post_json("/v1/moat/session", &body)).await
        }
    };
    // A user signs in with the key alone.
    let user = access.key("user", &["user"], None).await;
    let (_, _) = sign_in(&access, &user).await;

    let root = access.key("root", &["admin"], None).await;
    let root_id = access.key_id("root").await;
    let refused = attempt(root.clone(), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(code(&refused), "second_factor_not_enrolled");
    assert!(!refused.headers.contains_key("set-cookie"));

    let factors = common::access::second_factors(&access.access.store);
    let enrolled = factors.enroll(&root_id, "root", 0).await.unwrap();
    assert!(enrolled.uri.starts_with("otpauth://totp/moat:root?secret="));
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolled.secret.as_bytes())
        .unwrap();
    let code_now = || {
        let step = moat_policy::totp::step_of(access.clock.now_ms());
        format!("{:06}", moat_policy::totp::code_at(&secret, step as u64))
    };
    let missing = attempt(root.clone(), None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&missing), "second_factor_required");
    for wrong in ["000000", "12345", "1234567", "١٢٣٤٥٦", " "] {
        let current = code_now();
        if wrong == current {
            continue;
        }
        let answer = attempt(root.clone(), Some(wrong.to_owned())).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{wrong}: {}",
            answer.body
        );
        assert!(
            matches!(
                code(&answer).as_str(),
                "second_factor_invalid" | "second_factor_required"
            ),
            "{wrong}: {}",
            answer.body
        );
        assert!(!answer.headers.contains_key("set-cookie"));
    }
    // The current code signs in, once; the next step's code works next.
    let current = code_now();
    let ok = attempt(root.clone(), Some(current.clone())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.headers.contains_key("set-cookie"));
    assert_eq!(ok.json()["permissions"]["admin"], true);
    let replay = attempt(root.clone(), Some(current)).await;
    assert_eq!(code(&replay), "second_factor_invalid");
    access.clock.advance_ms(30_000);
    let next = attempt(root.clone(), Some(code_now())).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    // A code of a minute ago is stale.
    access.clock.advance_ms(60_000);
    let old_step = moat_policy::totp::step_of(access.clock.now_ms()) - 2;
    let stale = format!(
        "{:06}",
        moat_policy::totp::code_at(&secret, old_step as u64)
    );
    assert_eq!(
        code(&attempt(root.clone(), Some(stale)).await),
        "second_factor_invalid"
    );

    // An auditor needs it too.
    let auditor = access.key("aud", &["auditor"], None).await;
    assert_eq!(
        code(&attempt(auditor, None).await),
        "second_factor_not_enrolled"
    );

    // Wrong codes count as failed authentications (four in the loop above,
    // the replay, the stale one): at the eighth the key is locked, and
    // then even the right code is refused unread.
    access.clock.advance_ms(30_000);
    let mut last = attempt(root.clone(), Some("999999".into())).await;
    for _ in 0..3 {
        last = attempt(root.clone(), Some("999999".into())).await;
    }
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.body);
    let locked = attempt(root.clone(), Some(code_now())).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.body
    );
    // The key still works as a bearer key on the API (the factor guards
    // the web UI's sign-in only).
    let models = send(
        &access,
        Request::builder()
            .uri("/v1/models")
            .header("authorization", format!("Bearer {root}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(models.status, StatusCode::OK);
}
