//! Creating, listing, revoking and rotating API keys: one implementation
//! behind `moat keys …` and the admin HTTP API.

use std::time::Duration;

use moat_store::{ApiKeyRecord, Store, StoreError};

use crate::apikey::{hint, new_key_id, new_secret, KeyHasher};
use crate::role::{Patterns, Roles};

/// What a new key should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub roles: Vec<String>,
    /// Key-level model allow-list (names or globs); `None`: what the roles allow.
    pub models: Option<Vec<String>>,
    /// Lifetime from now; `None`: no expiry.
    pub expires_in: Option<Duration>,
}

/// A key just created or rotated: the secret is shown once, here.
#[derive(Debug)]
pub struct IssuedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

/// Why a key operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("no key with id `{0}`")]
    NotFound(String),
    #[error("key `{0}` is revoked")]
    Revoked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl moat_protocol::ErrorCode for KeyError {
    fn error_kind(&self) -> moat_protocol::ErrorKind {
        use moat_protocol::ErrorKind;
        match self {
            Self::Invalid(_) => ErrorKind::InvalidParameter,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Revoked(_) => ErrorKind::InvalidRequest,
            Self::Store(_) => ErrorKind::Internal,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::NotFound(id) => format!("No key with id `{id}`."),
            Self::Revoked(id) => format!("Key `{id}` is revoked; create a new one."),
            other => other.to_string(),
        }
    }
}

/// The key operations over a store.
#[derive(Debug, Clone)]
pub struct KeyService {
    store: Store,
    hasher: KeyHasher,
    roles: std::sync::Arc<Roles>,
}

impl KeyService {
    pub fn new(store: Store, hasher: KeyHasher, roles: std::sync::Arc<Roles>) -> Self {
        Self {
            store,
            hasher,
            roles,
        }
    }

    /// Create a key; roles must exist, the name must be printable and short.
    pub async fn create(&self, new: NewKey, now_ms: i64) -> Result<IssuedKey, KeyError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(KeyError::Invalid(
                "a key needs a name of 1-100 printable characters".to_owned(),
            ));
        }
        if new.roles.is_empty() {
            return Err(KeyError::Invalid(
                "a key needs at least one role".to_owned(),
            ));
        }
        self.roles
            .check_known(&new.roles)
            .map_err(KeyError::Invalid)?;
        if let Some(models) = &new.models {
            Patterns::new(models).map_err(|e| KeyError::Invalid(format!("models: {e}")))?;
        }
        let expires_ms = match new.expires_in {
            Some(d) => {
                let ms = i64::try_from(d.as_millis())
                    .map_err(|_| KeyError::Invalid("expiry too far away".to_owned()))?;
                if ms <= 0 {
                    return Err(KeyError::Invalid("expiry must be in the future".to_owned()));
                }
                Some(now_ms.saturating_add(ms))
            }
            None => None,
        };
        let secret = new_secret();
        let record = ApiKeyRecord {
            id: new_key_id(),
            name: name.to_owned(),
            hint: hint(&secret),
            hash: self.hasher.hash(&secret).to_vec(),
            roles: new.roles,
            models: new.models,
            created_ms: now_ms,
            expires_ms,
            revoked_ms: None,
            last_used_ms: None,
            updated_ms: now_ms,
        };
        self.store.insert_key(&record).await?;
        Ok(IssuedKey { record, secret })
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, KeyError> {
        Ok(self.store.keys().await?)
    }

    /// Revoke; takes effect on every server within a second.
    pub async fn revoke(&self, id: &str, now_ms: i64) -> Result<ApiKeyRecord, KeyError> {
        let existing = self.existing(id).await?;
        if existing.revoked_ms.is_some() {
            return Err(KeyError::Revoked(id.to_owned()));
        }
        self.store.revoke_key(id, now_ms).await?;
        self.existing(id).await
    }

    /// A new secret for the same key (id, name, roles, expiry unchanged);
    /// the old secret stops working.
    pub async fn rotate(&self, id: &str, now_ms: i64) -> Result<IssuedKey, KeyError> {
        let existing = self.existing(id).await?;
        if existing.revoked_ms.is_some() {
            return Err(KeyError::Revoked(id.to_owned()));
        }
        let secret = new_secret();
        let rotated = self
            .store
            .rotate_key(id, &self.hasher.hash(&secret), &hint(&secret), now_ms)
            .await?;
        if !rotated {
            return Err(KeyError::Revoked(id.to_owned()));
        }
        Ok(IssuedKey {
            record: self.existing(id).await?,
            secret,
        })
    }

    async fn existing(&self, id: &str) -> Result<ApiKeyRecord, KeyError> {
        self.store
            .key(id)
            .await?
            .ok_or_else(|| KeyError::NotFound(id.to_owned()))
    }
}

/// Parse a lifetime such as `90d`, `12h`, `30m`, `2w` or `1y`.
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a lifetime; write e.g. 90d, 12h, 2w or 1y"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; use s, m, h, d, w or y"
            ))
        }
    };
    if n == 0 {
        return Err("a lifetime must be more than zero".to_owned());
    }
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(
            parse_lifetime("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(
            parse_lifetime("12h").unwrap(),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            parse_lifetime("2w").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_lifetime("7").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("soon").unwrap_err().contains("90d"));
        assert!(parse_lifetime("3q").unwrap_err().contains("unknown unit"));
    }
}
