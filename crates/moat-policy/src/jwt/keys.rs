//! The issuer's public keys (a JWKS document), reduced to those that can
//! verify one of the accepted algorithms.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use super::error::JwtSetupError;

/// RSA keys shorter than this are refused.
const MIN_RSA_BITS: usize = 2048;

/// One verification key.
pub(crate) struct SigningKey {
    kid: Option<String>,
    /// The only algorithm the key may be used with, when the JWK says so.
    bound: Option<Algorithm>,
    family: AlgorithmFamily,
    curve: Option<EllipticCurve>,
    key: DecodingKey,
}

impl SigningKey {
    /// Whether this key may verify a token signed with `algorithm`.
    pub(crate) fn fits(&self, algorithm: Algorithm) -> bool {
        if self.bound.is_some_and(|bound| bound != algorithm) {
            return false;
        }
        if algorithm.family() != self.family {
            return false;
        }
        match algorithm {
            Algorithm::ES256 => self.curve == Some(EllipticCurve::P256),
            Algorithm::ES384 => self.curve == Some(EllipticCurve::P384),
            Algorithm::EdDSA => self.curve == Some(EllipticCurve::Ed25519),
            _ => true,
        }
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// The usable keys of one JWKS document.
pub(crate) struct KeySet {
    keys: Vec<SigningKey>,
}

/// Which key verifies a token.
pub(crate) enum KeyChoice<'a> {
    Found(&'a SigningKey),
    /// No key has this id.
    UnknownKid,
    /// Keys with this id exist but none fits the algorithm.
    Mismatch,
    /// No `kid` and not exactly one usable key.
    Ambiguous(usize),
}

impl KeySet {
    /// Parse a JWKS document and keep the keys that can verify one of
    /// `algorithms`; `origin` names the document in errors.
    pub(crate) fn parse(
        json: &str,
        algorithms: &[Algorithm],
        origin: &str,
    ) -> Result<Self, JwtSetupError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document =
            serde_json::from_str(json).map_err(|e| JwtSetupError::JwksFormat {
                origin: origin.to_owned(),
                reason: e.to_string(),
            })?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, value) in document.keys.into_iter().enumerate() {
            let label = match value.get("kid").and_then(|k| k.as_str()) {
                Some(kid) => format!("key `{kid}`"),
                None => format!("key #{index}"),
            };
            match usable_key(value, algorithms) {
                Ok(key) => keys.push(key),
                Err(why) => skipped.push(format!("{label}: {why}")),
            }
        }
        if keys.is_empty() {
            let names: Vec<String> = algorithms.iter().map(|a| format!("{a:?}")).collect();
            return Err(JwtSetupError::NoUsableKeys {
                origin: origin.to_owned(),
                algorithms: names.join(", "),
                skipped: if skipped.is_empty() {
                    "; the document lists no keys".to_owned()
                } else {
                    format!("; {}", skipped.join("; "))
                },
            });
        }
        for why in &skipped {
            tracing::debug!(origin, "JWKS {why}; left out");
        }
        Ok(Self { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether some key has this id.
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key for a token with header `kid` and `algorithm`.
    pub(crate) fn choose(&self, kid: Option<&str>, algorithm: Algorithm) -> KeyChoice<'_> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return KeyChoice::UnknownKid;
                }
                match named.find(|k| k.fits(algorithm)) {
                    Some(key) => KeyChoice::Found(key),
                    None => KeyChoice::Mismatch,
                }
            }
            None => match self.keys.as_slice() {
                [only] if only.fits(algorithm) => KeyChoice::Found(only),
                [_] => KeyChoice::Mismatch,
                keys => KeyChoice::Ambiguous(keys.len()),
            },
        }
    }
}

/// The key, or why it cannot verify any of `algorithms`.
fn usable_key(value: serde_json::Value, algorithms: &[Algorithm]) -> Result<SigningKey, String> {
    let jwk: Jwk = serde_json::from_value(value)
        .map_err(|_| "not a JWK moat can read (unknown key type or curve)".to_owned())?;
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(PublicKeyUse::Encryption) => return Err("meant for encryption (`use: enc`)".into()),
        Some(PublicKeyUse::Other(other)) => return Err(format!("unknown `use: {other}`")),
    }
    if let Some(operations) = &jwk.common.key_operations {
        if !operations.contains(&KeyOperations::Verify) {
            return Err("`key_ops` does not include `verify`".into());
        }
    }
    let bound = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256) => {
            return Err("meant for encryption (`alg`)".into())
        }
        Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => return Err("unknown `alg`".into()),
        Some(other) => Some(
            format!("{other:?}")
                .parse::<Algorithm>()
                .map_err(|_| format!("unknown `alg` {other:?}"))?,
        ),
    };
    let (family, curve) = match &jwk.algorithm {
        AlgorithmParameters::OctetKey(_) => {
            return Err("a shared secret (`kty: oct`), never used".into());
        }
        AlgorithmParameters::RSA(rsa) => {
            let modulus = decode(&rsa.n, "n")?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant * 8 < MIN_RSA_BITS {
                return Err(format!("RSA key shorter than {MIN_RSA_BITS} bits"));
            }
            decode(&rsa.e, "e")?;
            (AlgorithmFamily::Rsa, None)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let size = match ec.curve {
                EllipticCurve::P256 => 32,
                EllipticCurve::P384 => 48,
                _ => return Err(format!("unsupported curve {:?}", ec.curve)),
            };
            if decode(&ec.x, "x")?.len() != size || decode(&ec.y, "y")?.len() != size {
                return Err("EC coordinates of the wrong length".into());
            }
            (AlgorithmFamily::Ec, Some(ec.curve.clone()))
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err(format!("unsupported curve {:?}", okp.curve));
            }
            if decode(&okp.x, "x")?.len() != 32 {
                return Err("Ed25519 key of the wrong length".into());
            }
            (AlgorithmFamily::Ed, Some(EllipticCurve::Ed25519))
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unreadable key: {e}"))?;
    let key = SigningKey {
        kid: jwk.common.key_id.clone(),
        bound,
        family,
        curve,
        key,
    };
    if !algorithms.iter().any(|a| key.fits(*a)) {
        let kind = match (&key.bound, key.family) {
            (Some(bound), _) => format!("{bound:?}"),
            (None, AlgorithmFamily::Rsa) => "RSA".to_owned(),
            (None, AlgorithmFamily::Ec) => format!("EC {:?}", key.curve),
            (None, AlgorithmFamily::Ed) => "Ed25519".to_owned(),
            (None, AlgorithmFamily::Hmac) => "HMAC".to_owned(),
        };
        return Err(format!("a {kind} key, for none of the accepted algorithms"));
    }
    Ok(key)
}

fn decode(value: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("`{name}` is not base64url"))
}
