//! OIDC bearer tokens: verify a JWT against the issuer's published keys
//! and turn its claims into a subject and roles.
//!
//! The accepted algorithms come from the configuration, never from the
//! token alone: the header's `alg` must be one of them and the key it names
//! must be of that algorithm's type, so `none`, HS* tokens signed with a
//! public key as secret, and keys used across families are all refused.

mod claims;
mod config;
mod error;
mod fetch;
mod keys;
mod sign_in;

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use self::claims::ClaimMapping;
use self::keys::{KeyChoice, KeySet};

pub use self::config::OidcConfig;
pub use self::config::CALLBACK_PATH;
pub use self::error::{JwtError, JwtSetupError};
pub use self::sign_in::{
    code_challenge, SignInError, SingleSignOn, Started, SIGN_IN_COOKIE, SIGN_IN_TTL_MS,
};

/// At most one JWKS refresh for unknown key ids per this interval.
const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Longer bearer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 32 * 1024;
/// Attacker-chosen header values are cut to this length in errors.
const MAX_ECHOED_CHARS: usize = 64;

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// The issuer (the configured one: `iss` must equal it).
    pub issuer: String,
    /// The subject claim (`sub` by default).
    pub subject: String,
    /// Moat role names, after `role_map`.
    pub roles: Vec<String>,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Three dot-separated base64url segments: worth trying as a JWT rather than
/// an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => {
            !header.is_empty()
                && !payload.is_empty()
                && base64url(header)
                && base64url(payload)
                && base64url(signature)
        }
        _ => false,
    }
}

/// Where the keys came from, and so how they are loaded again.
#[derive(Debug)]
enum KeySource {
    /// Given by the caller: never reloaded.
    Given,
    /// Read from a file: reloaded by [`JwtVerifier::refresh`] only.
    File { path: PathBuf, origin: String },
    /// Fetched from a URL: fetched again by [`JwtVerifier::refresh`] and
    /// when a token names an unknown key.
    Url {
        url: String,
        client: reqwest::Client,
    },
}

impl KeySource {
    /// The source, as errors and logs name it.
    fn name(&self) -> &str {
        match self {
            Self::Given => "the JWKS document",
            Self::File { origin, .. } => origin,
            Self::Url { url, .. } => url,
        }
    }
}

/// Verifies bearer tokens of one OIDC issuer. Cheap to share in an `Arc`.
pub struct JwtVerifier {
    algorithms: Vec<Algorithm>,
    validations: Vec<(Algorithm, Validation)>,
    mapping: ClaimMapping,
    keys: RwLock<Arc<KeySet>>,
    source: KeySource,
    /// When the keys were last fetched again; `None` before the first time.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.mapping.issuer)
            .field("algorithms", &self.algorithms)
            .field("keys", &self.current_keys().len())
            .field("source", &self.source.name())
            .finish()
    }
}

impl JwtVerifier {
    /// Load the issuer's keys from `jwks_file`, from `jwks_url`, or from the
    /// `jwks_uri` of the issuer's discovery document (10 s timeout).
    pub async fn new(config: OidcConfig) -> Result<Self, JwtSetupError> {
        let algorithms = config.allowed_algorithms()?;
        let (json, source) = if let Some(path) = &config.jwks_file {
            let json = fetch::read_file(path).await?;
            let origin = format!("jwks_file {}", path.display());
            (
                json,
                KeySource::File {
                    path: path.clone(),
                    origin,
                },
            )
        } else {
            let client = fetch::http_client()?;
            let url = match &config.jwks_url {
                Some(url) => url.clone(),
                None => fetch::discover_jwks_uri(&client, &config.issuer).await?,
            };
            let json = fetch::get(&client, &url).await?;
            (json, KeySource::Url { url, client })
        };
        let keys = KeySet::parse(&json, &algorithms, source.name())?;
        tracing::info!(
            issuer = %config.issuer,
            keys = keys.len(),
            source = source.name(),
            "OIDC signing keys loaded"
        );
        Ok(Self::build(config, algorithms, keys, source))
    }

    /// Use the keys of an already loaded JWKS document; they are never
    /// fetched again, whatever `jwks_url` says.
    pub fn from_jwks(config: OidcConfig, jwks_json: &str) -> Result<Self, JwtSetupError> {
        let algorithms = config.allowed_algorithms()?;
        let source = KeySource::Given;
        let keys = KeySet::parse(jwks_json, &algorithms, source.name())?;
        Ok(Self::build(config, algorithms, keys, source))
    }

    /// Fetch the keys again at most once per `interval` when tokens name an
    /// unknown key (10 s by default).
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    fn build(
        config: OidcConfig,
        algorithms: Vec<Algorithm>,
        keys: KeySet,
        source: KeySource,
    ) -> Self {
        let validations = algorithms
            .iter()
            .map(|algorithm| {
                let mut validation = Validation::new(*algorithm);
                validation.leeway = config.leeway_secs;
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                validation.set_issuer(&[config.issuer.as_str()]);
                validation.set_audience(&config.audience);
                (*algorithm, validation)
            })
            .collect();
        Self {
            algorithms,
            validations,
            mapping: ClaimMapping {
                issuer: config.issuer,
                subject_claim: config.subject_claim,
                roles_claim: config.roles_claim,
                role_map: config.role_map,
            },
            keys: RwLock::new(Arc::new(keys)),
            source,
            last_refresh: tokio::sync::Mutex::new(None),
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
        }
    }

    /// Check the signature and the claims (`iss`, `aud`, `exp`, `nbf`) of
    /// `token` and return who it speaks for. When it names an unknown key
    /// and the keys come from a URL, they are fetched again (at most once
    /// per refresh interval) before the token is refused.
    pub async fn verify(&self, token: &str) -> Result<TokenIdentity, JwtError> {
        self.verify_with(token, None).await
    }

    /// [`JwtVerifier::verify`] for an ID token of a sign-in, whose `nonce`
    /// claim must be the one the sign-in sent.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
    ) -> Result<TokenIdentity, JwtError> {
        self.verify_with(token, Some(nonce)).await
    }

    async fn verify_with(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<TokenIdentity, JwtError> {
        let header = parse_header(token)?;
        let algorithm = self.accepted_algorithm(&header.alg)?;
        let keys = self.current_keys();
        match keys.choose(header.kid.as_deref(), algorithm) {
            KeyChoice::Found(key) => self.check(token, algorithm, key.decoding_key(), nonce),
            KeyChoice::UnknownKid => {
                let kid = header.kid.as_deref().unwrap_or_default();
                let Some(keys) = self.refresh_for(kid).await else {
                    return Err(JwtError::UnknownKeyId(echo(kid)));
                };
                match keys.choose(Some(kid), algorithm) {
                    KeyChoice::Found(key) => {
                        self.check(token, algorithm, key.decoding_key(), nonce)
                    }
                    KeyChoice::Mismatch => Err(mismatch(Some(kid), algorithm)),
                    _ => Err(JwtError::UnknownKeyId(echo(kid))),
                }
            }
            KeyChoice::Mismatch => Err(mismatch(header.kid.as_deref(), algorithm)),
            KeyChoice::Ambiguous(count) => Err(JwtError::MissingKeyId(count)),
        }
    }

    fn accepted_algorithm(&self, name: &str) -> Result<Algorithm, JwtError> {
        config::SUPPORTED
            .contains(&name)
            .then(|| name.parse::<Algorithm>().ok())
            .flatten()
            .filter(|algorithm| self.algorithms.contains(algorithm))
            .ok_or_else(|| JwtError::AlgorithmNotAllowed(echo(name)))
    }

    fn check(
        &self,
        token: &str,
        algorithm: Algorithm,
        key: &jsonwebtoken::DecodingKey,
        nonce: Option<&str>,
    ) -> Result<TokenIdentity, JwtError> {
        let validation = self
            .validations
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, v)| v)
            .ok_or_else(|| JwtError::AlgorithmNotAllowed(format!("{algorithm:?}")))?;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, validation)
            .map_err(|e| token_error(e.into_kind()))?;
        if let Some(nonce) = nonce {
            let sent = data.claims.get("nonce").and_then(serde_json::Value::as_str);
            let matches = sent.is_some_and(|sent| {
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    sent.as_bytes(),
                    nonce.as_bytes(),
                ))
            });
            if !matches {
                return Err(JwtError::WrongNonce);
            }
        }
        self.mapping.identity(&data.claims)
    }

    fn current_keys(&self) -> Arc<KeySet> {
        // Replacing the Arc is the only write: a poisoned lock still holds
        // a complete key set.
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetch the keys again for a token naming `kid`, unless that was done
    /// less than the refresh interval ago; the new set, or `None` when
    /// nothing new was fetched.
    async fn refresh_for(&self, kid: &str) -> Option<Arc<KeySet>> {
        let KeySource::Url { url, client } = &self.source else {
            return None;
        };
        let mut last = self.last_refresh.lock().await;
        // Another task may have fetched the key while this one waited.
        let keys = self.current_keys();
        if keys.has_kid(kid) {
            return Some(keys);
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            tracing::debug!("unknown JWT key id; JWKS fetched recently, not again");
            return None;
        }
        *last = Some(Instant::now());
        match self.load(fetch::get(client, url).await) {
            Ok(keys) => Some(keys),
            Err(e) => {
                tracing::warn!("OIDC signing keys not refreshed, the previous ones stay: {e}");
                None
            }
        }
    }

    /// Load the keys again from their file or URL (nothing to do when
    /// they were given to [`JwtVerifier::from_jwks`]), so keys the issuer
    /// withdrew stop being trusted; call it periodically. On error the
    /// previous keys stay.
    pub async fn refresh(&self) -> Result<(), JwtSetupError> {
        let json = match &self.source {
            KeySource::Given => return Ok(()),
            KeySource::File { path, .. } => fetch::read_file(path).await,
            KeySource::Url { url, client } => {
                let mut last = self.last_refresh.lock().await;
                *last = Some(Instant::now());
                fetch::get(client, url).await
            }
        };
        self.load(json).map(|_| ())
    }

    /// Parse a fetched document and make it the current key set.
    fn load(&self, json: Result<String, JwtSetupError>) -> Result<Arc<KeySet>, JwtSetupError> {
        let keys = Arc::new(KeySet::parse(&json?, &self.algorithms, self.source.name())?);
        tracing::info!(
            source = self.source.name(),
            keys = keys.len(),
            "OIDC signing keys reloaded"
        );
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&keys);
        Ok(keys)
    }
}

/// The fields of the JOSE header moat looks at before trusting anything.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

fn parse_header(token: &str) -> Result<RawHeader, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("token too long"));
    }
    if !looks_like_jwt(token) {
        return Err(JwtError::Malformed("not three base64url segments"));
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| JwtError::Malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Malformed("header is not a JSON object with `alg`"))?;
    if header.crit.is_some() {
        return Err(JwtError::CriticalExtension);
    }
    Ok(header)
}

fn token_error(kind: ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim),
        ErrorKind::InvalidClaimFormat(claim) => JwtError::InvalidClaim(claim),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            JwtError::Malformed("not a compact JWS")
        }
        // serde's text may quote claim values: keep it out of the logs.
        ErrorKind::Json(_) => JwtError::Malformed("claims are not a JSON object"),
        ErrorKind::InvalidAlgorithm => JwtError::Refused("algorithm does not fit the key".into()),
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => JwtError::Refused("the issuer's key is unusable".into()),
        other => JwtError::Refused(format!("{other:?}")),
    }
}

fn mismatch(kid: Option<&str>, algorithm: Algorithm) -> JwtError {
    JwtError::KeyMismatch {
        kid: kid.map_or_else(|| "-".to_owned(), echo),
        algorithm: format!("{algorithm:?}"),
    }
}

/// A header value for an error message, cut short.
fn echo(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_ECHOED_CHARS)
        .filter(|c| !c.is_control())
        .collect();
    if value.chars().count() > MAX_ECHOED_CHARS {
        out.push('…');
    }
    out
}
