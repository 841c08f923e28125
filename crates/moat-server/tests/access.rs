//! Who may do what: every principal (API keys in every state, OIDC tokens
//! good and forged, no credentials at all) against every route and model,
//! in one table; the one 401 answer whatever the cause; brute-force lockout
//! over a real socket; the admin key API end to end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::access::Setup;
use common::{get, post_json, send_as, Answer, FakeModels, TestAccess};
use insta::assert_json_snapshot;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use moat_policy::clock::Clock as _;
use moat_policy::failures::FailureSettings;
use moat_policy::jwt::{JwtVerifier, OidcConfig};
use moat_policy::keys::NewKey;
use moat_server::{serve, ServerOptions};
use rand_core::OsRng;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ROLES: &str = r#"
[[roles]]
name = "analyst"
models = ["echo", "tools*"]

[[roles]]
name = "auditor"
models = []
admin = false
"#;

const ISSUER: &str = "https://idp.example.org/realms/bank";
const AUDIENCE: &str = "moat";

const CHAT: &str = "/v1/chat/completions";
const COMPLETIONS: &str = "/v1/completions";

// ---------- the matrix ----------

/// The answer a cell expects: status and error `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expect {
    status: u16,
    code: Option<&'static str>,
}

const fn expect(status: u16, code: Option<&'static str>) -> Expect {
    Expect { status, code }
}

const OK: Expect = expect(200, None);
const CREATED: Expect = expect(201, None);
/// No role (or the key's own list) allows the model, served or not.
const DENIED: Expect = expect(403, Some("model_not_allowed"));
/// Allowed by name or glob, but not served.
const NOT_FOUND: Expect = expect(404, Some("model_not_found"));
/// The admin API, for a principal without an admin role.
const ADMINS_ONLY: Expect = expect(403, Some("permission_denied"));
/// Any credential problem.
const UNAUTHORIZED: Expect = expect(401, Some("invalid_api_key"));

/// The models each row is asked about: `echo`, served and allowed to
/// analysts by name; `tools`, served and matching their `tools*`; `think`,
/// served but not allowed to analysts; `tools-v2`, not served but matching
/// `tools*`; `secret-model`, neither served nor allowed to analysts.
const MODELS: [&str; 5] = ["echo", "tools", "think", "tools-v2", "secret-model"];

/// The admin API, in the order of `admin_routes`: list keys, create a key,
/// revoke one, rotate one, usage.
const ADMIN_API: [Expect; 5] = [OK, CREATED, OK, OK, OK];
const NO_ADMIN_API: [Expect; 5] = [ADMINS_ONLY; 5];
const ALL_UNAUTHORIZED: [Expect; 5] = [UNAUTHORIZED; 5];

/// Every fake model served, as `GET /v1/models` lists them (sorted).
const SERVED: &[&str] = &[
    "echo",
    "error-before",
    "error-midstream",
    "slow",
    "think",
    "tools",
];

/// One principal's row: the outcome for each of [`MODELS`] (the same on
/// POST /v1/chat/completions, POST /v1/completions and GET
/// /v1/models/{model}), what GET /v1/models lists (`None`: 401), and the
/// admin API. /health and /ready answer 200 to every row.
type Row = (
    &'static str,
    [Expect; 5],
    Option<&'static [&'static str]>,
    [Expect; 5],
);

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // principal                      echo          tools         think         tools-v2      secret-model   GET /v1/models            admin API
    ("admin key",                   [OK,          OK,           OK,           NOT_FOUND,    NOT_FOUND],    Some(SERVED),             ADMIN_API),
    ("user key",                    [OK,          OK,           OK,           NOT_FOUND,    NOT_FOUND],    Some(SERVED),             NO_ADMIN_API),
    ("analyst key",                 [OK,          OK,           DENIED,       NOT_FOUND,    DENIED],       Some(&["echo", "tools"]), NO_ADMIN_API),
    ("analyst key, models [echo]",  [OK,          DENIED,       DENIED,       DENIED,       DENIED],       Some(&["echo"]),          NO_ADMIN_API),
    ("auditor key",                 [DENIED,      DENIED,       DENIED,       DENIED,       DENIED],       Some(&[]),                NO_ADMIN_API),
    ("key of a removed role",       [DENIED,      DENIED,       DENIED,       DENIED,       DENIED],       Some(&[]),                NO_ADMIN_API),
    ("rotated key, new secret",     [OK,          OK,           OK,           NOT_FOUND,    NOT_FOUND],    Some(SERVED),             NO_ADMIN_API),
    ("expired key",                 [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("revoked key",                 [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("rotated key, old secret",     [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("malformed key",               [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("unknown key",                 [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("no Authorization",            [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("admin key, Basic scheme",     [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("analyst token",               [OK,          OK,           DENIED,       NOT_FOUND,    DENIED],       Some(&["echo", "tools"]), NO_ADMIN_API),
    ("token, unconfigured role",    [DENIED,      DENIED,       DENIED,       DENIED,       DENIED],       Some(&[]),                NO_ADMIN_API),
    ("expired token",               [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("token signed by another key", [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("token for another audience",  [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("token with alg none",         [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
    ("HS256 token, public key",     [UNAUTHORIZED; 5],                                                     None,                     ALL_UNAUTHORIZED),
];

/// One request of the matrix and what it must get.
#[derive(Debug)]
struct Cell {
    who: &'static str,
    method: Method,
    path: String,
    body: Option<String>,
    expect: Expect,
    /// For GET /v1/models: the models listed.
    listed: Option<&'static [&'static str]>,
}

/// Ids of the keys the admin cells revoke and rotate.
struct Targets {
    revoke: String,
    rotate: String,
}

fn admin_routes(targets: &Targets) -> [(Method, String, Option<String>); 5] {
    [
        (Method::GET, "/admin/keys".to_owned(), None),
        (
            Method::POST,
            "/admin/keys".to_owned(),
            Some(r#"{"name":"made by the matrix","roles":["user"]}"#.to_owned()),
        ),
        (
            Method::POST,
            format!("/admin/keys/{}/revoke", targets.revoke),
            None,
        ),
        (
            Method::POST,
            format!("/admin/keys/{}/rotate", targets.rotate),
            None,
        ),
        (Method::GET, "/admin/usage".to_owned(), None),
    ]
}

fn chat_body(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello there"}]}).to_string()
}

fn completion_body(model: &str) -> String {
    json!({"model": model, "prompt": "Hello there", "max_tokens": 8}).to_string()
}

/// The table, one cell per principal × route × model.
fn cells(targets: &Targets) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &(who, models, listed, admin) in TABLE {
        let mut push = |method: Method, path: String, body: Option<String>, expect: Expect| {
            cells.push(Cell {
                who,
                method,
                path,
                body,
                expect,
                listed,
            });
        };
        for (model, expect) in MODELS.into_iter().zip(models) {
            push(
                Method::POST,
                CHAT.to_owned(),
                Some(chat_body(model)),
                expect,
            );
            push(
                Method::POST,
                COMPLETIONS.to_owned(),
                Some(completion_body(model)),
                expect,
            );
            push(Method::GET, format!("/v1/models/{model}"), None, expect);
        }
        push(
            Method::GET,
            "/v1/models".to_owned(),
            None,
            if listed.is_some() { OK } else { UNAUTHORIZED },
        );
        for ((method, path, body), expect) in admin_routes(targets).into_iter().zip(admin) {
            push(method, path, body, expect);
        }
        push(Method::GET, "/health".to_owned(), None, OK);
        push(Method::GET, "/ready".to_owned(), None, OK);
    }
    cells
}

/// What a 200 or 201 must hold, beyond its status.
fn check_success(cell: &Cell, json: &Value) -> Result<(), String> {
    let model = |body: &Option<String>| -> String {
        let body: Value = serde_json::from_str(body.as_deref().unwrap_or("{}")).unwrap();
        body["model"].as_str().unwrap_or_default().to_owned()
    };
    let fine = match (cell.method.as_str(), cell.path.as_str()) {
        ("POST", CHAT) => {
            let model = model(&cell.body);
            let choice = &json["choices"][0];
            json["object"] == "chat.completion"
                && json["model"] == model.as_str()
                && match model.as_str() {
                    "echo" => choice["message"]["content"] == "Hello there",
                    "tools" => {
                        choice["finish_reason"] == "tool_calls"
                            && choice["message"]["tool_calls"][0]["function"]["name"]
                                == "get_weather"
                    }
                    _ => choice["finish_reason"] == "stop",
                }
        }
        ("POST", COMPLETIONS) => {
            let model = model(&cell.body);
            json["object"] == "text_completion"
                && json["model"] == model.as_str()
                && (model != "echo" || json["choices"][0]["text"] == "Hello there")
        }
        ("GET", "/v1/models") => {
            let ids: BTreeSet<&str> = json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap())
                .collect();
            json["object"] == "list" && ids == cell.listed.unwrap().iter().copied().collect()
        }
        ("GET", path) if path.starts_with("/v1/models/") => {
            json["object"] == "model" && json["id"].as_str() == path.strip_prefix("/v1/models/")
        }
        ("GET", "/admin/keys") => json["object"] == "list" && json["data"].is_array(),
        ("POST", "/admin/keys") => {
            json["status"] == "active"
                && json["key"].as_str().is_some_and(|k| k.starts_with("moat_"))
        }
        ("POST", path) if path.ends_with("/revoke") => json["status"] == "revoked",
        ("POST", path) if path.ends_with("/rotate") => {
            json["status"] == "active"
                && json["key"].as_str().is_some_and(|k| k.starts_with("moat_"))
        }
        ("GET", "/admin/usage") => json["object"] == "list" && json["by"] == "key",
        ("GET", "/health") => json["status"] == "ok",
        ("GET", "/ready") => json["status"] == "ready",
        _ => false,
    };
    if fine {
        Ok(())
    } else {
        Err("unexpected body".to_owned())
    }
}

/// The answer does not match the cell: why.
fn mismatch(cell: &Cell, answer: &Answer) -> Option<String> {
    let status = answer.status.as_u16();
    let json: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let code = json["error"]["code"].as_str();
    let why = if status != cell.expect.status || code != cell.expect.code {
        Some(format!(
            "expected {} {:?}, got {status} {code:?}",
            cell.expect.status, cell.expect.code
        ))
    } else if cell.expect.code.is_none() {
        check_success(cell, &json).err()
    } else if json["error"]["message"].as_str().is_none_or(str::is_empty) {
        Some("no error message".to_owned())
    } else {
        None
    }?;
    Some(format!(
        "{}: {} {} {}: {why}; body: {}",
        cell.who,
        cell.method,
        cell.path,
        cell.body.as_deref().unwrap_or(""),
        answer.body
    ))
}

/// An RSA signing key of the test issuer and its public forms.
struct TestKey {
    kid: &'static str,
    encoding: EncodingKey,
    jwk: Value,
    public_pem: String,
}

fn rsa_key(kid: &'static str) -> TestKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let public = private.to_public_key();
    TestKey {
        kid,
        encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
        jwk: json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }),
        public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
    }
}

/// The issuer's key and another one, generated once (slow in debug builds).
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let other = std::thread::spawn(|| rsa_key("other"));
        (rsa_key("issuer-1"), other.join().unwrap())
    })
}

fn verifier() -> JwtVerifier {
    let jwks = json!({ "keys": [keys().0.jwk] }).to_string();
    JwtVerifier::from_jwks(OidcConfig::new(ISSUER, AUDIENCE), &jwks).unwrap()
}

fn now_secs() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Keycloak-like claims with `roles` in `realm_access`; `changes` overrides.
fn claims(roles: &[&str], changes: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now_secs(),
        "exp": now_secs() + 600,
        "realm_access": { "roles": roles },
    });
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn sign(key: &TestKey, kid: &str, algorithm: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &key.encoding).unwrap()
}

/// The `Authorization` header of each principal of the table.
async fn credentials(access: &TestAccess) -> BTreeMap<&'static str, Option<String>> {
    let (issuer, other) = keys();
    let keys = &access.access.keys;
    let bearer = |secret: &str| Some(format!("Bearer {secret}"));
    let user = access.key("user", &["user"], None).await;
    let analyst = access.key("analyst", &["analyst"], None).await;
    let narrow = access.key("narrow", &["analyst"], Some(&["echo"])).await;
    let auditor = access.key("auditor", &["auditor"], None).await;
    let removed = access.key_with_stored_roles("removed", &["retired"]).await;

    let expired = keys
        .create(
            NewKey {
                name: "expired".to_owned(),
                roles: vec!["user".to_owned()],
                models: None,
                expires_in: Some(Duration::from_secs(60)),
            },
            access.clock.now_ms(),
        )
        .await
        .unwrap()
        .secret;
    // Used once before each change, so the authenticator's cache holds it.
    let revoked = access.key("revoked", &["user"], None).await;
    let rotated = access.key("rotated", &["user"], None).await;
    for secret in [&expired, &revoked, &rotated] {
        let answer = send(access, &bearer(secret), get("/v1/models")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    access.clock.advance_ms(60_001);
    let now = access.clock.now_ms();
    keys.revoke(&access.key_id("revoked").await, now)
        .await
        .unwrap();
    let new_secret = keys
        .rotate(&access.key_id("rotated").await, now)
        .await
        .unwrap()
        .secret;
    access.access.authenticator.refresh().await.unwrap();

    let rs256 = |key: &TestKey, roles: &[&str], changes: Value| {
        sign(key, issuer.kid, Algorithm::RS256, &claims(roles, changes))
    };
    let analyst_token = rs256(issuer, &["analyst"], json!({}));
    let unconfigured = rs256(issuer, &["contractor"], json!({ "sub": "bob" }));
    let expired_token = rs256(issuer, &["analyst"], json!({ "exp": now_secs() - 600 }));
    let forged = rs256(other, &["analyst"], json!({}));
    let wrong_audience = rs256(issuer, &["analyst"], json!({ "aud": "account" }));
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": issuer.kid})),
        b64(claims(&["admin"], json!({})))
    );
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(issuer.kid.to_owned());
    let public_as_secret = encode(
        &hs256,
        &claims(&["admin"], json!({})),
        &EncodingKey::from_secret(issuer.public_pem.as_bytes()),
    )
    .unwrap();

    let basic = STANDARD.encode(format!("{}:", access.admin_key));
    BTreeMap::from([
        ("admin key", bearer(&access.admin_key)),
        ("user key", bearer(&user)),
        ("analyst key", bearer(&analyst)),
        ("analyst key, models [echo]", bearer(&narrow)),
        ("auditor key", bearer(&auditor)),
        ("key of a removed role", bearer(&removed)),
        ("rotated key, new secret", bearer(&new_secret)),
        ("expired key", bearer(&expired)),
        ("revoked key", bearer(&revoked)),
        ("rotated key, old secret", bearer(&rotated)),
        ("malformed key", bearer("moat_short")),
        ("unknown key", bearer(&moat_policy::apikey::new_secret())),
        ("no Authorization", None),
        ("admin key, Basic scheme", Some(format!("Basic {basic}"))),
        ("analyst token", bearer(&analyst_token)),
        ("token, unconfigured role", bearer(&unconfigured)),
        ("expired token", bearer(&expired_token)),
        ("token signed by another key", bearer(&forged)),
        ("token for another audience", bearer(&wrong_audience)),
        ("token with alg none", bearer(&unsigned)),
        ("HS256 token, public key", bearer(&public_as_secret)),
    ])
}

/// Send `request` with `authorization` (none when `None`).
async fn send(
    access: &TestAccess,
    authorization: &Option<String>,
    request: Request<Body>,
) -> Answer {
    let mut request = request;
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().unwrap());
    }
    send_as(
        FakeModels::new().registry(),
        access,
        ServerOptions::default(),
        request,
    )
    .await
}

async fn matrix_access() -> TestAccess {
    TestAccess::build(Setup {
        roles_toml: ROLES.to_owned(),
        jwt: Some(verifier()),
        // The matrix uses each refused key on every route: far more often
        // than the failures counted against one key may go unanswered 429.
        failures: Some(FailureSettings {
            slow_after_failures: 10_000,
            lock_after_failures: 10_000,
            ..FailureSettings::default()
        }),
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn every_principal_on_every_route_and_model() {
    let access = matrix_access().await;
    let credentials = credentials(&access).await;
    access.key("to revoke", &["user"], None).await;
    access.key("to rotate", &["user"], None).await;
    let targets = Targets {
        revoke: access.key_id("to revoke").await,
        rotate: access.key_id("to rotate").await,
    };
    let cells = cells(&targets);
    assert_eq!(cells.len(), TABLE.len() * 23);

    let mut wrong = Vec::new();
    let mut unauthorized_bodies = BTreeSet::new();
    for cell in &cells {
        let request = match &cell.body {
            Some(body) => post_json(&cell.path, body),
            None => Request::builder()
                .method(cell.method.clone())
                .uri(&cell.path)
                .body(Body::empty())
                .unwrap(),
        };
        let answer = send(&access, &credentials[cell.who], request).await;
        if answer.status == StatusCode::UNAUTHORIZED {
            unauthorized_bodies.insert(answer.body.clone());
        }
        wrong.extend(mismatch(cell, &answer));
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cells differ:\n{}",
        wrong.len(),
        cells.len(),
        wrong.join("\n")
    );

    // One answer, byte for byte, whatever was wrong with the credentials.
    assert_eq!(unauthorized_bodies.len(), 1, "{unauthorized_bodies:#?}");
    let body: Value = serde_json::from_str(unauthorized_bodies.first().unwrap()).unwrap();
    assert_json_snapshot!(body, @r#"
    {
      "error": {
        "message": "Incorrect API key provided. Send a valid key or token as `Authorization: Bearer ...`.",
        "type": "invalid_request_error",
        "param": null,
        "code": "invalid_api_key"
      }
    }
    "#);
}

#[tokio::test]
async fn refusals_read_as_openai_errors() {
    let access = matrix_access().await;
    let analyst = Some(format!(
        "Bearer {}",
        access.key("analyst", &["analyst"], None).await
    ));
    let denied = send(&access, &analyst, post_json(CHAT, &chat_body("think"))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_json_snapshot!(denied.json(), @r#"
    {
      "error": {
        "message": "You are not allowed to use the model `think`.",
        "type": "permission_error",
        "param": "model",
        "code": "model_not_allowed"
      }
    }
    "#);
    // Not served and not allowed: the same 403 as a served model, so names
    // cannot be probed.
    let probe = send(&access, &analyst, get("/v1/models/secret-model")).await;
    assert_eq!(probe.status, StatusCode::FORBIDDEN);
    assert_eq!(probe.json()["error"]["code"], "model_not_allowed");
    let missing = send(
        &access,
        &analyst,
        post_json(COMPLETIONS, &completion_body("tools-v2")),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!(missing.json(), @r#"
    {
      "error": {
        "message": "The model `tools-v2` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found"
      }
    }
    "#);
    let admin_only = send(&access, &analyst, get("/admin/keys")).await;
    assert_eq!(admin_only.status, StatusCode::FORBIDDEN);
    assert_json_snapshot!(admin_only.json(), @r#"
    {
      "error": {
        "message": "This API is for administrators; your key's roles do not include one.",
        "type": "permission_error",
        "param": null,
        "code": "permission_denied"
      }
    }
    "#);
}

// ---------- brute force, over a real socket ----------

/// A server on 127.0.0.1:0 over `access`; stops when the token is cancelled.
async fn start(access: &TestAccess, stop: &CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = common::state(
        FakeModels::new().registry(),
        access.access.clone(),
        ServerOptions::default(),
    );
    let stop = stop.clone();
    tokio::spawn(serve(
        listener,
        state,
        async move { stop.cancelled().await },
    ));
    addr
}

/// Status, `Retry-After`, error code, and how long the answer took.
async fn models_as(
    client: &reqwest::Client,
    addr: SocketAddr,
    key: &str,
) -> (u16, Option<String>, Value, Duration) {
    let start = Instant::now();
    let response = client
        .get(format!("http://{addr}/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let took = start.elapsed();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let json: Value = response.json().await.unwrap();
    (status, retry_after, json, took)
}

/// Slowed after 2 failures, locked for 60 s at the 4th.
async fn guarded_access() -> TestAccess {
    TestAccess::build(Setup {
        failures: Some(FailureSettings {
            slow_after_failures: 2,
            lock_after_failures: 4,
            window_secs: 600,
            lockout_secs: 60,
        }),
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn repeated_failures_slow_then_lock_the_address_for_failures_only() {
    let access = guarded_access().await;
    let stop = CancellationToken::new();
    let addr = start(&access, &stop).await;
    let client = reqwest::Client::new();
    let wrong = moat_policy::apikey::new_secret();

    // Two failures answered at once, the third after a delay, the fourth
    // locks the address.
    for _ in 0..2 {
        let (status, _, json, _) = models_as(&client, addr, &wrong).await;
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (401, Some("invalid_api_key"))
        );
    }
    let (status, _, _, took) = models_as(&client, addr, &wrong).await;
    assert_eq!(status, 401);
    assert!(took >= Duration::from_millis(250), "{took:?}");
    let (status, retry_after, json, _) = models_as(&client, addr, &wrong).await;
    assert_eq!(status, 429);
    assert_eq!(retry_after.as_deref(), Some("60"));
    assert_json_snapshot!(json, @r#"
    {
      "error": {
        "message": "Too many failed authentication attempts; retry later.",
        "type": "requests",
        "param": null,
        "code": "too_many_auth_failures"
      }
    }
    "#);

    // Locked: a valid key from the same address still works (behind a NAT
    // everyone shares it); failures are answered 429.
    let (status, _, json, _) = models_as(&client, addr, &access.admin_key).await;
    assert_eq!(status, 200, "{json}");
    access.clock.advance_ms(30_000);
    let (status, retry_after, _, _) = models_as(&client, addr, &wrong).await;
    assert_eq!(status, 429);
    assert_eq!(retry_after.as_deref(), Some("30"));
    let (status, _, _, _) = models_as(&client, addr, &access.admin_key).await;
    assert_eq!(status, 200);

    // Another address is not locked.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let (status, _, _, _) = models_as(&elsewhere, addr, &wrong).await;
    assert_eq!(status, 401);

    // After the lockout failures are 401 again.
    access.clock.advance_ms(30_001);
    let (status, _, _, _) = models_as(&client, addr, &wrong).await;
    assert_eq!(status, 401);
    stop.cancel();
}

#[tokio::test]
async fn a_valid_key_between_failures_does_not_reset_the_count() {
    let access = guarded_access().await;
    let stop = CancellationToken::new();
    let addr = start(&access, &stop).await;
    let client = reqwest::Client::new();
    let wrong = moat_policy::apikey::new_secret();

    // Someone holding one valid key guesses others, three at a time, with
    // a valid request in between.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        for _ in 0..3 {
            statuses.push(models_as(&client, addr, &wrong).await.0);
        }
        statuses.push(models_as(&client, addr, &access.admin_key).await.0);
    }
    // The fourth failure in the window locks the address all the same; the
    // valid key is never refused.
    assert_eq!(statuses, [401, 401, 401, 200, 429, 429, 429, 200]);
    stop.cancel();
}

/// A client bound to 127.0.0.`n`.
fn client_at(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .build()
        .unwrap()
}

#[tokio::test]
async fn guesses_at_one_key_from_rotating_addresses_lock_that_key_only() {
    let access = guarded_access().await;
    // The key cache, as the server's refresh task keeps it.
    access.access.authenticator.refresh().await.unwrap();
    let stop = CancellationToken::new();
    let addr = start(&access, &stop).await;
    // A wrong secret that starts like the admin key (what its listing
    // shows), each from another address.
    let aimed = |n: u8| {
        let mut guess: String = access.admin_key.chars().take(9).collect();
        guess.push_str(&format!("{n:0>43}")[9 - 5..]);
        assert!(moat_policy::apikey::looks_like_key(&guess), "{guess}");
        guess
    };
    let mut statuses = Vec::new();
    for n in 10..16 {
        statuses.push(models_as(&client_at(n), addr, &aimed(n)).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    // The key itself still works, from any of those addresses.
    assert_eq!(
        models_as(&client_at(12), addr, &access.admin_key).await.0,
        200
    );
    // Random guesses from a fresh address are not affected.
    let random = moat_policy::apikey::new_secret();
    assert_eq!(models_as(&client_at(20), addr, &random).await.0, 401);
    stop.cancel();
}

#[tokio::test]
async fn a_revoked_key_used_again_and_again_is_locked_everywhere() {
    let access = guarded_access().await;
    let stop = CancellationToken::new();
    access.access.authenticator.refresh().await.unwrap();
    let refresh = access.access.authenticator.spawn_refresh(stop.clone());
    let secret = access.key("leaked", &["user"], None).await;
    let id = access.key_id("leaked").await;
    let addr = start(&access, &stop).await;
    let revoked = admin_post(&access, &format!("/admin/keys/{id}/revoke"), "").await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    // One failure against the key (from no address) when it is refused.
    until_status(&access, &secret, StatusCode::UNAUTHORIZED).await;
    let statuses = statuses_from(addr, &secret, 31..37).await;
    assert_eq!(statuses, [401, 401, 429, 429, 429, 429]);
    // Other keys are not affected, from the same addresses.
    assert_eq!(
        models_as(&client_at(31), addr, &access.admin_key).await.0,
        200
    );
    stop.cancel();
    refresh.await.unwrap();
}

async fn statuses_from(addr: SocketAddr, secret: &str, from: std::ops::Range<u8>) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in from {
        statuses.push(models_as(&client_at(n), addr, secret).await.0);
    }
    statuses
}

// ---------- the admin key API ----------

fn bearer(secret: &str) -> Option<String> {
    Some(format!("Bearer {secret}"))
}

async fn admin_post(access: &TestAccess, path: &str, body: &str) -> Answer {
    send(access, &bearer(&access.admin_key), post_json(path, body)).await
}

#[tokio::test]
async fn a_created_key_works_at_once() {
    let access = matrix_access().await;
    let created = admin_post(
        &access,
        "/admin/keys",
        r#"{"name":"risk dashboard","role":"analyst","models":["echo"],"expires_in":"90d"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let json = created.json();
    let secret = json["key"].as_str().unwrap().to_owned();
    assert!(moat_policy::apikey::looks_like_key(&secret), "{secret}");
    assert_eq!(json["hint"], format!("{}…", &secret[..9]));
    assert_eq!(
        json["expires_at"].as_i64().unwrap() - json["created_at"].as_i64().unwrap(),
        90 * 86_400
    );
    assert_json_snapshot!(json, {
        ".id" => "[id]",
        ".key" => "[secret]",
        ".hint" => "[hint]",
        ".created_at" => "[time]",
        ".expires_at" => "[time]",
    }, @r#"
    {
      "id": "[id]",
      "object": "api_key",
      "name": "risk dashboard",
      "hint": "[hint]",
      "roles": [
        "analyst"
      ],
      "models": [
        "echo"
      ],
      "status": "active",
      "created_at": "[time]",
      "expires_at": "[time]",
      "revoked_at": null,
      "last_used_at": null,
      "key": "[secret]"
    }
    "#);

    let chat = send(
        &access,
        &bearer(&secret),
        post_json(CHAT, &chat_body("echo")),
    )
    .await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.body);
    assert_eq!(
        chat.json()["choices"][0]["message"]["content"],
        "Hello there"
    );
    let listed = send(&access, &bearer(&secret), get("/v1/models")).await;
    assert_eq!(listed.json()["data"][0]["id"], "echo");
    assert_eq!(listed.json()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn listings_never_show_a_secret_or_its_hash() {
    let access = matrix_access().await;
    let mut secrets = vec![
        access.admin_key.clone(),
        access.key("a", &["user"], None).await,
    ];
    for name in ["b", "c"] {
        let created = admin_post(
            &access,
            "/admin/keys",
            &json!({"name": name, "roles": ["analyst"]}).to_string(),
        )
        .await;
        secrets.push(created.json()["key"].as_str().unwrap().to_owned());
    }
    let id = access.key_id("c").await;
    let rotated = admin_post(&access, &format!("/admin/keys/{id}/rotate"), "").await;
    secrets.push(rotated.json()["key"].as_str().unwrap().to_owned());
    let hasher = moat_policy::apikey::KeyHasher::new(
        &moat_policy::apikey::ServerSecret::from_bytes([7; 32]),
    );

    let listing = send(&access, &bearer(&access.admin_key), get("/admin/keys")).await;
    assert_eq!(listing.status, StatusCode::OK);
    for secret in &secrets {
        assert!(
            !listing.body.contains(&secret[9..]),
            "{secret} in {}",
            listing.body
        );
        let hash = hasher.hash(secret);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        for form in [hex, STANDARD.encode(hash), URL_SAFE_NO_PAD.encode(hash)] {
            assert!(!listing.body.contains(&form), "a hash in {}", listing.body);
        }
    }
    let json = listing.json();
    assert_eq!(json["data"].as_array().unwrap().len(), 4);
    assert!(!listing.body.contains("\"hash\"") && !listing.body.contains("\"key\""));
    // Keys made in the same millisecond are listed in id order: find it.
    let a = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "a")
        .unwrap();
    assert_json_snapshot!(a, {
        ".id" => "[id]",
        ".hint" => "[hint]",
        ".created_at" => "[time]",
    }, @r#"
    {
      "id": "[id]",
      "object": "api_key",
      "name": "a",
      "hint": "[hint]",
      "roles": [
        "user"
      ],
      "models": null,
      "status": "active",
      "created_at": "[time]",
      "expires_at": null,
      "revoked_at": null,
      "last_used_at": null
    }
    "#);
}

/// Poll `GET /v1/models` with `secret` until it gets `status`; how long
/// that took.
async fn until_status(access: &TestAccess, secret: &str, status: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        let answer = send(access, &bearer(secret), get("/v1/models")).await;
        if answer.status == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still {} after 3 s: {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_within_a_second() {
    let access = matrix_access().await;
    let stop = CancellationToken::new();
    access.access.authenticator.refresh().await.unwrap();
    let refresh = access.access.authenticator.spawn_refresh(stop.clone());
    let secret = access.key("leaked", &["user"], None).await;
    let id = access.key_id("leaked").await;
    assert_eq!(
        send(&access, &bearer(&secret), get("/v1/models"))
            .await
            .status,
        StatusCode::OK
    );

    let revoked = admin_post(&access, &format!("/admin/keys/{id}/revoke"), "").await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.json()["status"], "revoked");
    assert!(revoked.json()["revoked_at"].as_i64().is_some());
    let took = until_status(&access, &secret, StatusCode::UNAUTHORIZED).await;
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");

    let again = admin_post(&access, &format!("/admin/keys/{id}/revoke"), "").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json()["error"]["message"],
        format!("Key `{id}` is revoked; create a new one.")
    );
    let rotate = admin_post(&access, &format!("/admin/keys/{id}/rotate"), "").await;
    assert_eq!(rotate.status, StatusCode::BAD_REQUEST);
    stop.cancel();
    refresh.await.unwrap();
}

#[tokio::test]
async fn a_rotated_key_works_only_with_its_new_secret() {
    let access = matrix_access().await;
    let stop = CancellationToken::new();
    access.access.authenticator.refresh().await.unwrap();
    let refresh = access.access.authenticator.spawn_refresh(stop.clone());
    let old = access.key("service", &["analyst"], None).await;
    let id = access.key_id("service").await;
    assert_eq!(
        send(&access, &bearer(&old), get("/v1/models")).await.status,
        StatusCode::OK
    );

    let rotated = admin_post(&access, &format!("/admin/keys/{id}/rotate"), "").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let json = rotated.json();
    assert_eq!(json["id"], id.as_str());
    assert_eq!(json["roles"], json!(["analyst"]));
    let new = json["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    let fresh = send(&access, &bearer(&new), post_json(CHAT, &chat_body("echo"))).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    let took = until_status(&access, &old, StatusCode::UNAUTHORIZED).await;
    assert!(took < Duration::from_secs(1), "rotation took {took:?}");
    stop.cancel();
    refresh.await.unwrap();
}

#[tokio::test]
async fn bad_key_requests_say_what_is_wrong() {
    let access = matrix_access().await;
    let cases = [
        (
            r#"{"name":"x","roles":["superuser"]}"#,
            "unknown role `superuser`; the roles are: admin, analyst, auditor, user",
            None,
        ),
        (
            r#"{"name":"  ","roles":["user"]}"#,
            "a key needs a name of 1-100 printable characters",
            None,
        ),
        (
            r#"{"name":"x","roles":["user"],"expires_in":"soon"}"#,
            "`soon` is not a lifetime; write e.g. 90d, 12h, 2w or 1y",
            Some("expires_in"),
        ),
        (
            r#"{"name":"x","roles":[]}"#,
            "a key needs at least one role",
            None,
        ),
        (
            r#"{"name":"x","roles":["user"],"models":["a["]}"#,
            "models: `a[` is not a valid pattern",
            None,
        ),
    ];
    for (body, message, param) in cases {
        let answer = admin_post(&access, "/admin/keys", body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
        let json = answer.json();
        assert_eq!(json["error"]["code"], "invalid_value", "{body}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(message),
            "{body}: {}",
            answer.body
        );
        assert_eq!(json["error"]["param"].as_str(), param, "{body}");
    }
    let unknown_field = admin_post(
        &access,
        "/admin/keys",
        r#"{"name":"x","roles":["user"],"scope":"all"}"#,
    )
    .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown_field.body.contains("scope"),
        "{}",
        unknown_field.body
    );
    let missing = admin_post(&access, "/admin/keys/key_nothere/revoke", "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!(missing.json(), @r#"
    {
      "error": {
        "message": "No key with id `key_nothere`.",
        "type": "invalid_request_error",
        "param": null,
        "code": "not_found"
      }
    }
    "#);
    // Nothing was created by the refused requests.
    assert_eq!(access.access.keys.list().await.unwrap().len(), 1);
}
