//! Single sign-on for the web UI: OpenID Connect's authorization code flow
//! with PKCE (RFC 7636, `S256`) against the configured issuer.
//!
//! [`SingleSignOn::start`] makes a state, a nonce and a code verifier,
//! seals them (under a key derived from the server secret, bound to their
//! purpose) into a short-lived cookie value, and names the provider's
//! authorization URL. [`SingleSignOn::finish`] opens that cookie, checks the
//! state the provider sent back, exchanges the code (with the verifier) at
//! the token endpoint, and verifies the ID token as bearer tokens are
//! verified (signature, issuer, audience = the client id, time) plus its
//! nonce. Nothing is kept on the server between the two, so any replica
//! finishes what another started.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use moat_store::seal::SealingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::OidcConfig;
use super::error::JwtSetupError;
use super::fetch;
use super::{JwtVerifier, TokenIdentity};
use crate::apikey::ServerSecret;

/// How long a sign-in may take at the provider.
pub const SIGN_IN_TTL_MS: i64 = 10 * 60 * 1000;
/// The cookie that carries a sign-in under way.
pub const SIGN_IN_COOKIE: &str = "moat_sign_in";
/// Longest `code` or `state` accepted from the provider's redirect.
const MAX_PARAM_BYTES: usize = 4096;

/// Why a sign-in did not finish. The page is told only that it failed;
/// the reason goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider's redirect does not belong to a sign-in this browser
    /// started (no cookie, another state, expired): a forged or replayed
    /// callback.
    #[error("the callback does not match a sign-in started here: {0}")]
    Mismatch(&'static str),
    /// The provider said no (`error=` in the redirect).
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The token endpoint or the ID token was refused.
    #[error("the ID token was not accepted: {0}")]
    Token(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// A sign-in started: send the browser to `location`, with `cookie` set.
#[derive(Clone)]
pub struct Started {
    pub location: String,
    pub cookie: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Started(..)")
    }
}

/// What the cookie keeps between the two halves.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    expires_ms: i64,
}

/// The provider's endpoints.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
}

/// The web UI's single sign-on; cheap to clone.
#[derive(Clone)]
pub struct SingleSignOn {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: String,
    scopes: String,
    verifier: Arc<JwtVerifier>,
    sealing: SealingKey,
    http: reqwest::Client,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

impl std::fmt::Debug for SingleSignOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleSignOn")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

fn random_text() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// RFC 7636's `S256` challenge of `verifier`.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

const AAD: &[u8] = b"moat.ui.sign-in";

impl SingleSignOn {
    /// Single sign-on with `config`'s client, when it names one
    /// (`client_id`); `None` otherwise. ID tokens are checked by
    /// `verifier`, the API's own.
    pub async fn new(
        config: &OidcConfig,
        verifier: Arc<JwtVerifier>,
        secret: &ServerSecret,
    ) -> Result<Option<Self>, JwtSetupError> {
        let (Some(client_id), Some(redirect_url)) = (&config.client_id, &config.redirect_url)
        else {
            return Ok(None);
        };
        let client_secret = match &config.client_secret_file {
            Some(path) => Some(fetch::read_file(path).await?.trim().to_owned()),
            None => None,
        };
        let mut scopes: Vec<&str> = vec!["openid"];
        for scope in &config.scopes {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        Ok(Some(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer.clone(),
                client_id: client_id.clone(),
                client_secret,
                redirect_url: redirect_url.clone(),
                scopes: scopes.join(" "),
                verifier,
                sealing: SealingKey::new(&secret.derive_key("web ui sign-in v1")),
                http: fetch::http_client()?,
                endpoints: tokio::sync::OnceCell::new(),
            }),
        }))
    }

    /// The provider's endpoints, read once from its discovery document.
    async fn endpoints(&self) -> Result<&Endpoints, SignInError> {
        self.inner
            .endpoints
            .get_or_try_init(|| async {
                let (url, discovery) = fetch::discover(&self.inner.http, &self.inner.issuer)
                    .await
                    .map_err(|e| SignInError::Unavailable(e.to_string()))?;
                match (discovery.authorization_endpoint, discovery.token_endpoint) {
                    (Some(authorization), Some(token)) => Ok(Endpoints {
                        authorization,
                        token,
                    }),
                    _ => Err(SignInError::Unavailable(format!(
                        "{url} names no authorization_endpoint or token_endpoint"
                    ))),
                }
            })
            .await
    }

    /// Start a sign-in at `now_ms`.
    pub async fn start(&self, now_ms: i64) -> Result<Started, SignInError> {
        let endpoints = self.endpoints().await?;
        let pending = Pending {
            state: random_text(),
            nonce: random_text(),
            verifier: random_text(),
            expires_ms: now_ms.saturating_add(SIGN_IN_TTL_MS),
        };
        let json = serde_json::to_vec(&pending)
            .map_err(|e| SignInError::Unavailable(format!("state not serialized: {e}")))?;
        let sealed = self
            .inner
            .sealing
            .seal(AAD, &json)
            .map_err(|_| SignInError::Unavailable("state not sealed".into()))?;
        let mut location = reqwest::Url::parse(&endpoints.authorization)
            .map_err(|e| SignInError::Unavailable(format!("authorization_endpoint: {e}")))?;
        location
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.client_id)
            .append_pair("redirect_uri", &self.inner.redirect_url)
            .append_pair("scope", &self.inner.scopes)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &code_challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Started {
            location: location.into(),
            cookie: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Finish the sign-in whose `cookie` this browser holds, with the
    /// provider's redirect (`code` and `state`, or `error`), at `now_ms`.
    pub async fn finish(
        &self,
        cookie: Option<&str>,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<TokenIdentity, SignInError> {
        let cookie = cookie.ok_or(SignInError::Mismatch("no sign-in cookie"))?;
        let sealed = URL_SAFE_NO_PAD
            .decode(cookie.as_bytes())
            .map_err(|_| SignInError::Mismatch("unreadable sign-in cookie"))?;
        let json = self
            .inner
            .sealing
            .open(AAD, &sealed)
            .ok_or(SignInError::Mismatch("sign-in cookie not sealed here"))?;
        let pending: Pending = serde_json::from_slice(&json)
            .map_err(|_| SignInError::Mismatch("unreadable sign-in cookie"))?;
        if pending.expires_ms <= now_ms {
            return Err(SignInError::Mismatch("the sign-in took too long"));
        }
        let state = state
            .filter(|s| s.len() <= MAX_PARAM_BYTES)
            .ok_or(SignInError::Mismatch("no state"))?;
        if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(SignInError::Mismatch("another sign-in's state"));
        }
        if let Some(error) = error {
            let error: String = error.chars().take(64).collect();
            return Err(SignInError::Refused(error));
        }
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= MAX_PARAM_BYTES)
            .ok_or(SignInError::Mismatch("no code"))?;
        let endpoints = self.endpoints().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.inner.redirect_url.as_str()),
            ("client_id", self.inner.client_id.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        if let Some(secret) = &self.inner.client_secret {
            form.push(("client_secret", secret.as_str()));
        }
        let body = fetch::post_form(&self.inner.http, &endpoints.token, &form)
            .await
            .map_err(|e| SignInError::Token(e.to_string()))?;
        #[derive(Deserialize)]
        struct Tokens {
            id_token: Option<String>,
        }
        let tokens: Tokens = serde_json::from_str(&body)
            .map_err(|e| SignInError::Token(format!("token response: {e}")))?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| SignInError::Token("no id_token in the token response".into()))?;
        self.inner
            .verifier
            .verify_id_token(&id_token, &pending.nonce)
            .await
            .map_err(|e| SignInError::Token(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636, appendix B.
    #[test]
    fn the_rfc_challenge() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
