//! OIDC bearer tokens: signatures, claims, key selection and refresh, and
//! the attacks a verifier must refuse. Keys are generated here; the issuer
//! is a real HTTP server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use moat_policy::jwt::{
    looks_like_jwt, JwtError, JwtSetupError, JwtVerifier, OidcConfig, TokenIdentity,
};
use rand_core::OsRng;
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.example.org/realms/bank";
const AUDIENCE: &str = "moat";

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key as PEM (RSA keys only).
    public_pem: String,
}

impl TestKey {
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.algorithm, Some(&self.kid), claims)
    }

    fn sign_as(&self, algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &self.encoding).unwrap()
    }

    fn jwk_with(&self, extra: Value) -> Value {
        let mut jwk = self.jwk.clone();
        for (k, v) in extra.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        jwk
    }
}

fn rsa_key(kid: &str) -> TestKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let public = private.to_public_key();
    TestKey {
        kid: kid.to_owned(),
        algorithm: Algorithm::RS256,
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

/// Two RSA keys, generated once per test binary (slow in debug builds).
fn rsa_keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let other = std::thread::spawn(|| rsa_key("rsa-b"));
        let first = rsa_key("rsa-a");
        (first, other.join().unwrap())
    })
}

fn key_a() -> &'static TestKey {
    &rsa_keys().0
}

fn key_b() -> &'static TestKey {
    &rsa_keys().1
}

fn ec_key(kid: &str) -> TestKey {
    use p256::pkcs8::EncodePrivateKey;
    let private = p256::ecdsa::SigningKey::random(&mut OsRng);
    let point = private.verifying_key().to_encoded_point(false);
    TestKey {
        kid: kid.to_owned(),
        algorithm: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(private.to_pkcs8_der().unwrap().as_bytes()),
        jwk: json!({
            "kty": "EC",
            "crv": "P-256",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        }),
        public_pem: String::new(),
    }
}

fn ed_key(kid: &str) -> TestKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let private = ed25519_dalek::SigningKey::generate(&mut OsRng);
    TestKey {
        kid: kid.to_owned(),
        algorithm: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(private.to_pkcs8_der().unwrap().as_bytes()),
        jwk: json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(private.verifying_key().to_bytes()),
        }),
        public_pem: String::new(),
    }
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Keycloak-like claims; `changes` overrides them (`null` removes one).
fn claims(changes: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now(),
        "exp": now() + 300,
        "realm_access": { "roles": ["analyst", "auditor"] },
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn config() -> OidcConfig {
    OidcConfig::new(ISSUER, AUDIENCE)
}

fn verifier_a() -> JwtVerifier {
    JwtVerifier::from_jwks(config(), &jwks(&[key_a().jwk.clone()])).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn verifier_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<JwtVerifier>();
}

#[test]
fn jwt_shapes_are_told_from_api_keys() {
    assert!(looks_like_jwt("eyJhbGciOi.eyJzdWIi.c2ln-_"));
    assert!(looks_like_jwt("eyJhbGciOi.eyJzdWIi."));
    assert!(!looks_like_jwt("moat_sk_0123456789abcdef"));
    assert!(!looks_like_jwt("a.b"));
    assert!(!looks_like_jwt("a.b.c.d"));
    assert!(!looks_like_jwt(".b.c"));
    assert!(!looks_like_jwt("a+/.b.c"));
    assert!(!looks_like_jwt(""));
}

#[tokio::test]
async fn a_valid_rs256_token_gives_subject_and_realm_roles() {
    let exp = now() + 600;
    let token = key_a().sign(&claims(json!({ "exp": exp })));
    let identity = verifier_a().verify(&token).await.unwrap();
    assert_eq!(
        identity,
        TokenIdentity {
            issuer: ISSUER.to_owned(),
            subject: "alice".to_owned(),
            roles: vec!["analyst".to_owned(), "auditor".to_owned()],
            expires_at: exp,
        }
    );
}

#[tokio::test]
async fn groups_are_mapped_to_roles() {
    let mut config = config();
    config.roles_claim = "groups".to_owned();
    config.subject_claim = "preferred_username".to_owned();
    config.role_map = [
        ("/risk".to_owned(), vec!["analyst".to_owned()]),
        (
            "/it-ops".to_owned(),
            vec!["analyst".to_owned(), "admin".to_owned()],
        ),
    ]
    .into_iter()
    .collect();
    let verifier = JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone()])).unwrap();
    let token = key_a().sign(&claims(json!({
        "preferred_username": "bob",
        "groups": ["/risk", "/it-ops", "/canteen"],
    })));
    let identity = verifier.verify(&token).await.unwrap();
    assert_eq!(identity.subject, "bob");
    assert_eq!(identity.roles, ["analyst", "admin"]);
}

#[tokio::test]
async fn roles_claim_of_the_wrong_shape_gives_no_roles() {
    let verifier = verifier_a();
    for (value, expected) in [
        (json!({ "roles": 42 }), vec![]),
        (
            json!({ "roles": ["user", 7, null, {"x": 1}] }),
            vec!["user"],
        ),
        (json!({ "roles": "single" }), vec!["single"]),
        (json!("not an object"), vec![]),
    ] {
        let token = key_a().sign(&claims(json!({ "realm_access": value })));
        let identity = verifier.verify(&token).await.unwrap();
        assert_eq!(identity.roles, expected, "realm_access = {value}");
    }
    let token = key_a().sign(&claims(json!({ "realm_access": null })));
    assert!(verifier.verify(&token).await.unwrap().roles.is_empty());
}

#[tokio::test]
async fn times_are_checked_with_leeway() {
    let verifier = verifier_a();
    let expired = key_a().sign(&claims(json!({ "exp": now() - 120 })));
    assert!(matches!(
        verifier.verify(&expired).await,
        Err(JwtError::Expired)
    ));
    let early = key_a().sign(&claims(json!({ "nbf": now() + 120 })));
    assert!(matches!(
        verifier.verify(&early).await,
        Err(JwtError::NotYetValid)
    ));
    // Within the 30 s default leeway both ways.
    let skewed = key_a().sign(&claims(json!({ "exp": now() - 10, "nbf": now() + 10 })));
    verifier.verify(&skewed).await.unwrap();
    let no_exp = key_a().sign(&claims(json!({ "exp": null })));
    assert!(matches!(
        verifier.verify(&no_exp).await,
        Err(JwtError::MissingClaim(c)) if c == "exp"
    ));
    let text_exp = key_a().sign(&claims(json!({ "exp": "tomorrow" })));
    assert!(verifier.verify(&text_exp).await.is_err());
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let verifier = verifier_a();
    for iss in [
        json!("https://evil.example.org/realms/bank"),
        json!(format!("{ISSUER}/")),
        json!([ISSUER, "https://evil.example.org"]),
    ] {
        let token = key_a().sign(&claims(json!({ "iss": iss })));
        assert!(
            matches!(verifier.verify(&token).await, Err(JwtError::WrongIssuer)),
            "iss = {iss}"
        );
    }
    let token = key_a().sign(&claims(json!({ "iss": null })));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(JwtError::MissingClaim(c)) if c == "iss"
    ));
}

#[tokio::test]
async fn audience_must_be_one_of_ours() {
    let verifier = verifier_a();
    let wrong = key_a().sign(&claims(json!({ "aud": "account" })));
    assert!(matches!(
        verifier.verify(&wrong).await,
        Err(JwtError::WrongAudience)
    ));
    let list = key_a().sign(&claims(json!({ "aud": ["account", AUDIENCE] })));
    verifier.verify(&list).await.unwrap();
    let none = key_a().sign(&claims(json!({ "aud": null })));
    assert!(matches!(
        verifier.verify(&none).await,
        Err(JwtError::MissingClaim(c)) if c == "aud"
    ));

    let mut config = config();
    config.audience = vec!["other".to_owned(), "moat-prod".to_owned()];
    let verifier = JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone()])).unwrap();
    let token = key_a().sign(&claims(json!({ "aud": ["moat-prod"] })));
    verifier.verify(&token).await.unwrap();
    let token = key_a().sign(&claims(json!({})));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(JwtError::WrongAudience)
    ));
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let forged = key_b().sign_as(Algorithm::RS256, Some(&key_a().kid), &claims(json!({})));
    assert!(matches!(
        verifier_a().verify(&forged).await,
        Err(JwtError::BadSignature)
    ));
    // A valid token with its signature cut off or swapped.
    let token = key_a().sign(&claims(json!({})));
    let (signed, _) = token.rsplit_once('.').unwrap();
    assert!(verifier_a().verify(&format!("{signed}.")).await.is_err());
    let other = key_a().sign(&claims(json!({ "sub": "mallory" })));
    let (_, signature) = other.rsplit_once('.').unwrap();
    assert!(matches!(
        verifier_a().verify(&format!("{signed}.{signature}")).await,
        Err(JwtError::BadSignature)
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let header = b64(&json!({ "alg": "none", "typ": "JWT", "kid": key_a().kid }));
    let payload = b64(&claims(json!({})));
    let verifier = verifier_a();
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.c2ln"),
    ] {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(JwtError::AlgorithmNotAllowed(alg)) if alg == "none"
        ));
    }
    let header = b64(&json!({ "alg": "None" }));
    assert!(verifier
        .verify(&format!("{header}.{payload}."))
        .await
        .is_err());
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let pem = &key_a().public_pem;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key_a().kid.clone());
    let verifier = verifier_a();
    for secret in [pem.as_bytes(), pem.trim_end().as_bytes()] {
        let token = encode(
            &header,
            &claims(json!({})),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify(&token).await,
            Err(JwtError::AlgorithmNotAllowed(alg)) if alg == "HS256"
        ));
    }
}

#[tokio::test]
async fn the_algorithm_comes_from_the_configuration() {
    let ec = ec_key("ec-1");
    let mut config = config();
    config.algorithms = vec!["ES256".to_owned()];
    let verifier =
        JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone(), ec.jwk.clone()])).unwrap();
    let rs = key_a().sign(&claims(json!({})));
    assert!(matches!(
        verifier.verify(&rs).await,
        Err(JwtError::AlgorithmNotAllowed(alg)) if alg == "RS256"
    ));
    let identity = verifier.verify(&ec.sign(&claims(json!({})))).await.unwrap();
    assert_eq!(identity.subject, "alice");
}

#[tokio::test]
async fn a_key_only_verifies_its_own_family() {
    let ec = ec_key("ec-1");
    let mut config = config();
    config.algorithms = vec!["RS256".to_owned(), "ES256".to_owned()];
    let verifier =
        JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone(), ec.jwk.clone()])).unwrap();
    // An ES256 token naming the RSA key, and the reverse.
    let cross = ec.sign_as(Algorithm::ES256, Some(&key_a().kid), &claims(json!({})));
    assert!(matches!(
        verifier.verify(&cross).await,
        Err(JwtError::KeyMismatch { .. })
    ));
    let cross = key_a().sign_as(Algorithm::RS256, Some(&ec.kid), &claims(json!({})));
    assert!(matches!(
        verifier.verify(&cross).await,
        Err(JwtError::KeyMismatch { .. })
    ));
    // A JWK bound to RS256 does not verify PS256 even when PS256 is allowed.
    let mut config = self::config();
    config.algorithms = vec!["RS256".to_owned(), "PS256".to_owned()];
    let bound = key_a().jwk_with(json!({ "alg": "RS256" }));
    let verifier = JwtVerifier::from_jwks(config.clone(), &jwks(&[bound])).unwrap();
    let ps = key_a().sign_as(Algorithm::PS256, Some(&key_a().kid), &claims(json!({})));
    assert!(matches!(
        verifier.verify(&ps).await,
        Err(JwtError::KeyMismatch { .. })
    ));
    // Unbound, the same RSA key verifies both.
    let verifier = JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone()])).unwrap();
    verifier.verify(&ps).await.unwrap();
    verifier
        .verify(&key_a().sign(&claims(json!({}))))
        .await
        .unwrap();
}

#[tokio::test]
async fn es256_and_eddsa_tokens_verify() {
    let ec = ec_key("ec-1");
    let ed = ed_key("ed-1");
    let mut config = config();
    config.algorithms = vec!["ES256".to_owned(), "EdDSA".to_owned()];
    let verifier =
        JwtVerifier::from_jwks(config, &jwks(&[ec.jwk.clone(), ed.jwk.clone()])).unwrap();
    for key in [&ec, &ed] {
        let identity = verifier
            .verify(&key.sign(&claims(json!({}))))
            .await
            .unwrap();
        assert_eq!(identity.roles, ["analyst", "auditor"]);
    }
    let other = ec_key("ec-1");
    assert!(matches!(
        verifier.verify(&other.sign(&claims(json!({})))).await,
        Err(JwtError::BadSignature)
    ));
}

#[tokio::test]
async fn keys_for_encryption_are_ignored() {
    let enc = key_b().jwk_with(json!({ "use": "enc" }));
    let oaep = key_b().jwk_with(json!({ "kid": "oaep", "alg": "RSA-OAEP", "use": null }));
    let verifier =
        JwtVerifier::from_jwks(config(), &jwks(&[key_a().jwk.clone(), enc, oaep])).unwrap();
    let token = key_b().sign(&claims(json!({})));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(JwtError::UnknownKeyId(kid)) if kid == "rsa-b"
    ));
    // Without a kid the one signing key is used...
    let token = key_a().sign_as(Algorithm::RS256, None, &claims(json!({})));
    verifier.verify(&token).await.unwrap();

    let only_enc = key_a().jwk_with(json!({ "use": "enc" }));
    let err = JwtVerifier::from_jwks(config(), &jwks(&[only_enc])).unwrap_err();
    assert!(matches!(err, JwtSetupError::NoUsableKeys { .. }), "{err}");
    assert!(err.to_string().contains("encryption"), "{err}");
}

#[tokio::test]
async fn a_token_without_kid_needs_a_single_key() {
    let token = key_a().sign_as(Algorithm::RS256, None, &claims(json!({})));
    verifier_a().verify(&token).await.unwrap();
    let two = JwtVerifier::from_jwks(config(), &jwks(&[key_a().jwk.clone(), key_b().jwk.clone()]))
        .unwrap();
    assert!(matches!(
        two.verify(&token).await,
        Err(JwtError::MissingKeyId(2))
    ));
}

#[tokio::test]
async fn unknown_kid_with_a_jwks_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[key_a().jwk.clone()])).unwrap();
    let mut config = config();
    config.jwks_file = Some(path);
    let verifier = JwtVerifier::new(config).await.unwrap();
    verifier
        .verify(&key_a().sign(&claims(json!({}))))
        .await
        .unwrap();
    assert!(matches!(
        verifier.verify(&key_b().sign(&claims(json!({})))).await,
        Err(JwtError::UnknownKeyId(kid)) if kid == "rsa-b"
    ));
    // A refresh reads the file again; a broken file keeps the old keys.
    std::fs::write(dir.path().join("jwks.json"), jwks(&[key_b().jwk.clone()])).unwrap();
    verifier.refresh().await.unwrap();
    verifier
        .verify(&key_b().sign(&claims(json!({}))))
        .await
        .unwrap();
    std::fs::write(dir.path().join("jwks.json"), "{").unwrap();
    assert!(verifier.refresh().await.is_err());
    verifier
        .verify(&key_b().sign(&claims(json!({}))))
        .await
        .unwrap();
}

#[tokio::test]
async fn malformed_tokens_are_errors() {
    let verifier = verifier_a();
    let long = "a".repeat(100_000);
    let payload = b64(&claims(json!({})));
    let tokens = [
        "".to_owned(),
        "abc".to_owned(),
        "a.b.c".to_owned(),
        "a.b.c.d".to_owned(),
        "!!!.###.$$$".to_owned(),
        "eyJ.eyJ.sig".to_owned(),
        format!("{long}.{long}.{long}"),
        format!("{}.{payload}.c2ln", b64(&json!("just a string"))),
        format!("{}.{payload}.c2ln", b64(&json!({ "typ": "JWT" }))),
        format!("{}.bm90IGpzb24.c2ln", b64(&json!({ "alg": "RS256" }))),
        format!(
            "{}.{payload}.c2ln",
            b64(&json!({ "alg": "RS256", "crit": ["exp"] }))
        ),
        format!(
            "{}.{payload}.c2ln",
            b64(&json!({ "alg": "RS256", "kid": 5 }))
        ),
    ];
    for token in &tokens {
        let result = verifier.verify(token).await;
        assert!(result.is_err(), "{token:.40} was accepted");
    }
    // Unknown kids are cut short in messages.
    let header = b64(&json!({ "alg": "RS256", "kid": "k".repeat(500) }));
    let err = verifier
        .verify(&format!("{header}.{payload}.c2ln"))
        .await
        .unwrap_err();
    assert!(err.to_string().len() < 120, "{err}");
}

#[test]
fn shared_secret_and_unsigned_algorithms_are_refused_at_setup() {
    for algorithm in ["HS256", "HS512", "none", "RS1", "rs256"] {
        let mut config = config();
        config.algorithms = vec!["RS256".to_owned(), algorithm.to_owned()];
        let err = JwtVerifier::from_jwks(config, &jwks(&[key_a().jwk.clone()])).unwrap_err();
        assert!(matches!(err, JwtSetupError::Config(_)), "{err}");
        assert!(err.to_string().contains(algorithm), "{err}");
    }
    let mut config = config();
    config.algorithms.clear();
    assert!(config.validate().is_err());
    let mut config = self::config();
    config.leeway_secs = u64::MAX;
    assert!(config.validate().is_err());
    let mut config = self::config();
    config.audience = vec![String::new()];
    assert!(config.validate().is_err());
}

#[test]
fn the_toml_table_reads_with_defaults() {
    let config: OidcConfig = toml::from_str(
        r#"
        issuer = "https://idp.example.org/realms/bank"
        audience = "moat"
        "#,
    )
    .unwrap();
    assert_eq!(config, OidcConfig::new(ISSUER, AUDIENCE));
    assert_eq!(config.algorithms, ["RS256"]);
    assert_eq!(config.roles_claim, "realm_access.roles");
    assert_eq!(config.subject_claim, "sub");
    assert_eq!(config.leeway_secs, 30);

    let config: OidcConfig = toml::from_str(
        r#"
        issuer = "https://login.example.org"
        audience = ["moat", "api://moat"]
        jwks_url = "https://login.example.org/keys"
        algorithms = ["RS256", "ES256"]
        roles_claim = "groups"
        role_map = { "g-risk" = ["analyst"] }
        leeway_secs = 5
        "#,
    )
    .unwrap();
    assert_eq!(config.audience, ["moat", "api://moat"]);
    assert_eq!(config.role_map["g-risk"], ["analyst"]);

    let err = toml::from_str::<OidcConfig>(
        "issuer = \"x\"\naudience = \"moat\"\nalgorithms = [\"HS256\"]\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("HS256"), "{err}");
    let err = toml::from_str::<OidcConfig>("issuer = \"x\"\naudience = \"moat\"\nsecret = \"s\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn setup_errors_say_what_to_fix() {
    let mut missing = config();
    missing.jwks_file = Some("/nonexistent/moat/jwks.json".into());
    let err = JwtVerifier::new(missing).await.unwrap_err();
    assert!(matches!(err, JwtSetupError::JwksFile { .. }));
    assert!(
        err.to_string().contains("/nonexistent/moat/jwks.json"),
        "{err}"
    );

    let err = JwtVerifier::from_jwks(config(), "{\"kes\": []}").unwrap_err();
    assert!(matches!(err, JwtSetupError::JwksFormat { .. }), "{err}");
    let err = JwtVerifier::from_jwks(config(), "{\"keys\": []}").unwrap_err();
    assert!(matches!(err, JwtSetupError::NoUsableKeys { .. }), "{err}");
    let secret = json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "s" });
    let err = JwtVerifier::from_jwks(config(), &jwks(&[secret])).unwrap_err();
    assert!(err.to_string().contains("shared secret"), "{err}");

    let mut both = config();
    both.jwks_file = Some("jwks.json".into());
    both.jwks_url = Some("https://idp/keys".into());
    assert!(matches!(
        JwtVerifier::new(both).await,
        Err(JwtSetupError::Config(_))
    ));

    // Nothing listens on port 1: the issuer is unreachable.
    let down = OidcConfig::new("http://127.0.0.1:1/realms/x", AUDIENCE);
    let err = JwtVerifier::new(down).await.unwrap_err();
    assert!(matches!(err, JwtSetupError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("reachable"), "{err}");
}

/// A minimal OIDC provider: discovery document and a JWKS that can rotate.
struct Issuer {
    base: String,
    jwks: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct IssuerState {
    base: String,
    jwks: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
}

async fn start_issuer(initial: String) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = IssuerState {
        base: base.clone(),
        jwks: Arc::new(Mutex::new(initial)),
        jwks_hits: Arc::new(AtomicUsize::new(0)),
        discovery_hits: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<IssuerState>| async move {
                s.discovery_hits.fetch_add(1, Ordering::SeqCst);
                Json(json!({
                    "issuer": s.base,
                    "jwks_uri": format!("{}/protocol/openid-connect/certs", s.base),
                }))
            }),
        )
        .route(
            "/protocol/openid-connect/certs",
            get(|State(s): State<IssuerState>| async move {
                s.jwks_hits.fetch_add(1, Ordering::SeqCst);
                let body = s.jwks.lock().unwrap().clone();
                ([("content-type", "application/json")], body)
            }),
        )
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer {
        base,
        jwks: state.jwks,
        jwks_hits: state.jwks_hits,
        discovery_hits: state.discovery_hits,
    }
}

#[tokio::test]
async fn rotated_keys_are_fetched_again_at_most_once_per_interval() {
    let issuer = start_issuer(jwks(&[key_a().jwk.clone()])).await;
    let mut config = config();
    config.jwks_url = Some(format!("{}/protocol/openid-connect/certs", issuer.base));
    let verifier = JwtVerifier::new(config.clone()).await.unwrap();
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);
    verifier
        .verify(&key_a().sign(&claims(json!({}))))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);

    // The issuer rotates to key B: its tokens verify after one refetch.
    *issuer.jwks.lock().unwrap() = jwks(&[key_b().jwk.clone()]);
    let identity = verifier
        .verify(&key_b().sign(&claims(json!({}))))
        .await
        .unwrap();
    assert_eq!(identity.subject, "alice");
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);
    verifier
        .verify(&key_b().sign(&claims(json!({ "sub": "bob" }))))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);

    // A flood of unknown kids within the interval fetches nothing more.
    for i in 0..20 {
        let kid = format!("unknown-{i}");
        let token = key_b().sign_as(Algorithm::RS256, Some(&kid), &claims(json!({})));
        assert!(matches!(
            verifier.verify(&token).await,
            Err(JwtError::UnknownKeyId(k)) if k == kid
        ));
    }
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);

    // With no interval, each unknown kid fetches once; the old keys stay
    // when the issuer fails.
    let verifier = JwtVerifier::new(config)
        .await
        .unwrap()
        .with_min_refresh_interval(Duration::ZERO);
    let before = issuer.jwks_hits.load(Ordering::SeqCst);
    *issuer.jwks.lock().unwrap() = "not json".to_owned();
    let token = key_a().sign_as(Algorithm::RS256, Some("gone"), &claims(json!({})));
    assert!(verifier.verify(&token).await.is_err());
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), before + 1);
    verifier
        .verify(&key_b().sign(&claims(json!({}))))
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_are_found_through_discovery() {
    let issuer = start_issuer(jwks(&[key_a().jwk.clone()])).await;
    let verifier = JwtVerifier::new(OidcConfig::new(issuer.base.clone(), AUDIENCE))
        .await
        .unwrap();
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);
    let token = key_a().sign(&claims(json!({ "iss": issuer.base })));
    let identity = verifier.verify(&token).await.unwrap();
    assert_eq!(identity.issuer, issuer.base);

    // A discovery document for another issuer is not trusted.
    let err = JwtVerifier::new(OidcConfig::new(format!("{}/", issuer.base), AUDIENCE))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtSetupError::Discovery { .. }), "{err}");
}

#[tokio::test]
async fn withdrawn_keys_stop_verifying_after_a_refresh() {
    let issuer = start_issuer(jwks(&[key_a().jwk.clone(), key_b().jwk.clone()])).await;
    let mut config = config();
    config.jwks_url = Some(format!("{}/protocol/openid-connect/certs", issuer.base));
    let verifier = JwtVerifier::new(config).await.unwrap();
    let token = key_a().sign(&claims(json!({})));
    verifier.verify(&token).await.unwrap();
    *issuer.jwks.lock().unwrap() = jwks(&[key_b().jwk.clone()]);
    verifier.refresh().await.unwrap();
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(JwtError::UnknownKeyId(_))
    ));
    // The refresh counts as the fetch of this interval.
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 2);
}

#[test]
fn single_sign_on_needs_a_client_in_the_audience_and_an_exact_callback() {
    let with = |client: Option<&str>, redirect: Option<&str>| {
        let mut config = config();
        config.client_id = client.map(str::to_owned);
        config.redirect_url = redirect.map(str::to_owned);
        config.validate()
    };
    let callback = "https://moat.bank.internal/v1/moat/session/oidc/callback";
    with(Some(AUDIENCE), Some(callback)).unwrap();
    with(
        Some(AUDIENCE),
        Some("http://127.0.0.1:8080/v1/moat/session/oidc/callback"),
    )
    .unwrap();
    with(None, None).unwrap();
    for (client, redirect, named) in [
        (Some("another-client"), Some(callback), "audience"),
        (Some(AUDIENCE), None, "redirect_url"),
        (
            Some(AUDIENCE),
            Some("http://moat.bank.internal/v1/moat/session/oidc/callback"),
            "https",
        ),
        (
            Some(AUDIENCE),
            Some("https://moat.bank.internal/elsewhere"),
            "redirect_url",
        ),
        (None, Some(callback), "client_id"),
    ] {
        let err = with(client, redirect).unwrap_err().to_string();
        assert!(err.contains(named), "{client:?} {redirect:?}: {err}");
    }
}

#[tokio::test]
async fn an_id_token_must_carry_the_sign_ins_nonce() {
    let verifier = verifier_a();
    let token = key_a().sign(&claims(json!({ "nonce": "n-123" })));
    verifier.verify_id_token(&token, "n-123").await.unwrap();
    for (token, nonce) in [
        (token.clone(), "n-124"),
        (token.clone(), ""),
        (key_a().sign(&claims(json!({}))), "n-123"),
        (key_a().sign(&claims(json!({ "nonce": 7 }))), "7"),
    ] {
        let err = verifier.verify_id_token(&token, nonce).await.unwrap_err();
        assert!(matches!(err, JwtError::WrongNonce), "{err}");
    }
}
