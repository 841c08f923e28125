//! The `[auth.oidc]` table of moat.toml: which issuer to trust, for which
//! audience, with which keys and algorithms, and where the roles are.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::JwtSetupError;

/// The algorithms moat verifies, by their JWS names.
pub(crate) const SUPPORTED: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Clock skew tolerated at most: more would accept expired tokens.
const MAX_LEEWAY_SECS: u64 = 300;

/// How moat trusts bearer tokens from an OpenID Connect provider
/// (Keycloak, Entra ID, Okta, Dex...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL; a token's `iss` must equal it exactly.
    pub issuer: String,
    /// Accepted audiences (one string or a list); a token's `aud` (a string
    /// or a list) must contain one of them.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Read the signing keys (a JWKS document) from this file...
    #[serde(default = "default_jwks_file")]
    pub jwks_file: Option<PathBuf>,
    /// ...or fetch them from this URL. When neither is set, the URL is the
    /// `jwks_uri` of `{issuer}/.well-known/openid-configuration`.
    #[serde(default = "default_jwks_url")]
    pub jwks_url: Option<String>,
    /// Signature algorithms accepted, among RS256, RS384, RS512, PS256,
    /// PS384, PS512, ES256, ES384 and EdDSA. Shared-secret (HS*) and
    /// unsigned (`none`) tokens are never accepted.
    #[serde(
        default = "default_algorithms",
        deserialize_with = "signature_algorithms"
    )]
    pub algorithms: Vec<String>,
    /// Where the roles are in the claims: a dotted path (Keycloak's
    /// `realm_access.roles`, or `groups`, `roles`...). The value is a list of
    /// strings or one string.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// The claim that names the caller.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claim value → moat roles. When empty, claim values are moat role
    /// names as they are; when set, values not listed give no role.
    #[serde(default = "default_role_map")]
    pub role_map: BTreeMap<String, Vec<String>>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (at most 300).
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// The web UI's single sign-on (authorization code with PKCE) is on
    /// when this is set: moat's client id at the provider. It must be one
    /// of `audience` (the ID token's `aud` is the client id).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The callback URL registered at the provider, as browsers reach
    /// moat: `https://HOST/v1/moat/session/oidc/callback`.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// A file holding the client secret, for a confidential client (sent
    /// to the token endpoint with the code); none: a public client, PKCE
    /// only.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for at sign-in (`openid` is always among them).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned(), "profile".to_owned()]
}

/// Where the provider's callback comes back to, below the public URL.
pub const CALLBACK_PATH: &str = "/v1/moat/session/oidc/callback";

fn default_jwks_file() -> Option<PathBuf> {
    None
}

fn default_jwks_url() -> Option<String> {
    None
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned()]
}

fn default_roles_claim() -> String {
    "realm_access.roles".to_owned()
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

fn default_role_map() -> BTreeMap<String, Vec<String>> {
    BTreeMap::new()
}

fn default_leeway_secs() -> u64 {
    30
}

impl OidcConfig {
    /// A configuration for `issuer` and one `audience`, every other field at
    /// its default.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: vec![audience.into()],
            jwks_file: default_jwks_file(),
            jwks_url: default_jwks_url(),
            algorithms: default_algorithms(),
            roles_claim: default_roles_claim(),
            subject_claim: default_subject_claim(),
            role_map: default_role_map(),
            leeway_secs: default_leeway_secs(),
            client_id: None,
            redirect_url: None,
            client_secret_file: None,
            scopes: default_scopes(),
        }
    }

    /// Check what can be checked without the keys: issuer, audience, key
    /// source and algorithms.
    pub fn validate(&self) -> Result<(), JwtSetupError> {
        self.allowed_algorithms().map(|_| ())
    }

    /// The accepted algorithms, after the checks of [`OidcConfig::validate`].
    pub(crate) fn allowed_algorithms(&self) -> Result<Vec<Algorithm>, JwtSetupError> {
        let invalid = |reason: String| Err(JwtSetupError::Config(reason));
        if self.issuer.trim().is_empty() {
            return invalid("`issuer` is empty: set it to the issuer URL of the tokens".into());
        }
        if self.audience.iter().all(|a| a.trim().is_empty()) {
            return invalid(
                "`audience` is empty: set it to the client id (or audience) the tokens are issued for"
                    .into(),
            );
        }
        if self.jwks_file.is_some() && self.jwks_url.is_some() {
            return invalid("set one of `jwks_file` and `jwks_url`, not both".into());
        }
        if self.subject_claim.trim().is_empty() {
            return invalid("`subject_claim` is empty".into());
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return invalid(format!(
                "`leeway_secs` = {} would accept tokens long expired: at most {MAX_LEEWAY_SECS}",
                self.leeway_secs
            ));
        }
        if let Some(client_id) = &self.client_id {
            if !self.audience.contains(client_id) {
                return invalid(format!(
                    "`client_id` `{client_id}` is not in `audience`: an ID token's `aud` is the \
                     client id, so add it there"
                ));
            }
            let Some(redirect) = &self.redirect_url else {
                return invalid(format!(
                    "`client_id` is set but `redirect_url` is not: set it to \
                     https://HOST{CALLBACK_PATH}, as registered at the provider"
                ));
            };
            let local = redirect.starts_with("http://127.0.0.1:")
                || redirect.starts_with("http://localhost:");
            if !(redirect.starts_with("https://") || local) || !redirect.ends_with(CALLBACK_PATH) {
                return invalid(format!(
                    "`redirect_url` must be https://HOST{CALLBACK_PATH} (plain http only on \
                     127.0.0.1 or localhost), not `{redirect}`"
                ));
            }
        } else if self.redirect_url.is_some() || self.client_secret_file.is_some() {
            return invalid("`redirect_url` and `client_secret_file` need `client_id`".into());
        }
        if self.algorithms.is_empty() {
            return invalid(format!(
                "`algorithms` is empty: list at least one of {}",
                SUPPORTED.join(", ")
            ));
        }
        let mut algorithms = Vec::with_capacity(self.algorithms.len());
        for name in &self.algorithms {
            let algorithm = parse_algorithm(name).map_err(JwtSetupError::Config)?;
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        Ok(algorithms)
    }
}

/// One accepted signature algorithm, or why it is refused.
pub(crate) fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    let upper = name.to_ascii_uppercase();
    if upper == "NONE" {
        return Err(format!(
            "algorithm `{name}` is refused: unsigned tokens are never accepted"
        ));
    }
    if upper.starts_with("HS") {
        return Err(format!(
            "algorithm `{name}` is refused: shared-secret (HMAC) tokens are not accepted, \
             moat verifies tokens with the issuer's public keys; use one of {}",
            SUPPORTED.join(", ")
        ));
    }
    if !SUPPORTED.contains(&name) {
        return Err(format!(
            "unknown signature algorithm `{name}`: use one of {}",
            SUPPORTED.join(", ")
        ));
    }
    name.parse::<Algorithm>()
        .map_err(|_| format!("unknown signature algorithm `{name}`"))
}

/// `audience = "moat"` or `audience = ["moat", "api"]`.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => Ok(vec![one]),
        OneOrMany::Many(many) => Ok(many),
    }
}

/// The algorithm list, refused while the file is read when it names an
/// algorithm moat never accepts.
fn signature_algorithms<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    for name in &names {
        parse_algorithm(name).map_err(serde::de::Error::custom)?;
    }
    Ok(names)
}
