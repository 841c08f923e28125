//! Why a token was refused, and why the verifier could not be set up.

use std::path::PathBuf;

/// Why a bearer token was refused. The text is meant for logs at debug
/// level; it never contains the token. Callers answer a plain 401.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not a compact JWS: three base64url segments with a JSON header.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm that is not in `algorithms`
    /// (including `none` and the HS* family).
    #[error("algorithm `{0}` is not accepted")]
    AlgorithmNotAllowed(String),
    /// The header lists critical extensions moat does not implement.
    #[error("token requires extensions moat does not implement (`crit`)")]
    CriticalExtension,
    /// No `kid` in the header and the key set has more than one key.
    #[error("token has no `kid` and the issuer publishes {0} usable keys")]
    MissingKeyId(usize),
    /// The `kid` names no key of the issuer, even after a refresh.
    #[error("no signing key with kid `{0}`")]
    UnknownKeyId(String),
    /// The key named by the token cannot verify the token's algorithm
    /// (an RSA key for ES256, a P-384 key for ES256...).
    #[error("key `{kid}` cannot verify {algorithm}")]
    KeyMismatch {
        /// The key id (or `-` when the token has none).
        kid: String,
        /// The token's algorithm.
        algorithm: String,
    },
    /// The signature does not match the key.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is still in the future (beyond the leeway).
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` contains none of the configured audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// An ID token's `nonce` is not the one its sign-in sent.
    #[error("wrong nonce")]
    WrongNonce,
    /// A required claim is absent.
    #[error("claim `{0}` is missing")]
    MissingClaim(String),
    /// A claim has the wrong type (a string `exp`...).
    #[error("claim `{0}` has an invalid format")]
    InvalidClaim(String),
    /// Any other verification failure.
    #[error("token refused: {0}")]
    Refused(String),
}

/// Why a [`super::JwtVerifier`] could not be built; each message says what
/// to fix.
#[derive(Debug, thiserror::Error)]
pub enum JwtSetupError {
    /// The `[auth.oidc]` table is inconsistent.
    #[error("[auth.oidc]: {0}")]
    Config(String),
    /// `jwks_file` cannot be read.
    #[error("[auth.oidc] jwks_file {}: {source}", path.display())]
    JwksFile {
        /// The configured path.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The document is not a JWKS.
    #[error("{origin} is not a JWKS document (expected {{\"keys\": [...]}}): {reason}")]
    JwksFormat {
        /// Where the document came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The JWKS has no key that can verify the accepted algorithms.
    #[error(
        "{origin} holds no key usable with algorithms {algorithms}{skipped} \
         (check `algorithms` in [auth.oidc])"
    )]
    NoUsableKeys {
        /// Where the document came from.
        origin: String,
        /// The accepted algorithms, comma-separated.
        algorithms: String,
        /// Why each key was left out, prefixed with "; ", or empty.
        skipped: String,
    },
    /// The issuer (discovery document or JWKS) cannot be reached.
    #[error("cannot fetch {url}: {reason} (is the issuer reachable from this host?)")]
    Unreachable {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document is unusable.
    #[error("OpenID discovery at {url}: {reason}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}
