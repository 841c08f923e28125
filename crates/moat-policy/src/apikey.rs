//! API key secrets: how they are made (`moat_` and 43 base62 characters,
//! 256 random bits), how they are stored (HMAC-SHA-256 under a server
//! secret kept outside the database), and that secret's file.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::distr::{Alphanumeric, SampleString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Every key starts with this, so leaked keys are recognisable by scanners.
pub const KEY_PREFIX: &str = "moat_";
/// Base62 characters after the prefix: 43 × log2(62) ≈ 256 bits.
const SECRET_CHARS: usize = 43;
/// Characters of the key shown in listings (`moat_AbCd…`).
const HINT_CHARS: usize = KEY_PREFIX.len() + 4;

/// A new API key's secret. Shown once; never stored.
pub fn new_secret() -> String {
    format!(
        "{KEY_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::rng(), SECRET_CHARS)
    )
}

/// A new key id (`key_` and 12 base62 characters); public.
pub fn new_key_id() -> String {
    format!("key_{}", Alphanumeric.sample_string(&mut rand::rng(), 12))
}

/// The displayable start of a key.
pub fn hint(secret: &str) -> String {
    let start: String = secret.chars().take(HINT_CHARS).collect();
    format!("{start}…")
}

/// Whether `text` has the shape of a moat key (cheap check before hashing).
pub fn looks_like_key(text: &str) -> bool {
    text.len() == KEY_PREFIX.len() + SECRET_CHARS
        && text.starts_with(KEY_PREFIX)
        && text[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// Hashes key secrets with the server secret.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(..)")
    }
}

impl KeyHasher {
    pub fn new(server_secret: &ServerSecret) -> Self {
        // HMAC takes keys of any length; only fixed-key MACs can fail here.
        let mac = Hmac::<Sha256>::new_from_slice(&server_secret.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Self { mac }
    }

    /// The stored form of `secret`.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Constant-time equality of two stored hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The server secret under which key hashes are computed: 32 random bytes
/// in a file of its own (mode 0600), never in the database, so a copy of
/// the database alone cannot be used to test guessed keys.
pub struct ServerSecret([u8; 32]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

/// Why the server secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the server secret {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the server secret {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the server secret {path} is not 64 hex characters; restore the original file")]
    Malformed { path: PathBuf },
    #[error(
        "the server secret {path} is missing but the database holds API keys; restore the \
         file (every replica needs the same one), or every key must be created anew"
    )]
    Missing { path: PathBuf },
}

impl ServerSecret {
    /// A 32-byte key for `purpose`, derived from the secret with
    /// HMAC-SHA256: every replica holding the same secret derives the same
    /// key, and keys for different purposes are unrelated.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"moat derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// For tests and for callers that hold the bytes elsewhere.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Read the secret from `path`, or create it when it does not exist and
    /// `may_create` (false when keys already exist: a new secret would make
    /// them all unusable).
    pub fn load_or_create(path: &Path, may_create: bool) -> Result<Self, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(text.trim(), path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !may_create {
                    return Err(SecretError::Missing {
                        path: path.to_owned(),
                    });
                }
                Self::create(path)
            }
            Err(source) => Err(SecretError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self, SecretError> {
        let malformed = || SecretError::Malformed {
            path: path.to_owned(),
        };
        if text.len() != 64 {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2).ok_or_else(malformed)?, 16)
                .map_err(|_| malformed())?;
        }
        Ok(Self(bytes))
    }

    fn create(path: &Path) -> Result<Self, SecretError> {
        let create_err = |source| SecretError::Create {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(create_err)?;
        }
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(create_err)?;
        file.write_all(format!("{hex}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(create_err)?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape_and_do_not_repeat() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(looks_like_key(&a), "{a}");
        assert_eq!(a.len(), 48);
        assert!(!looks_like_key("moat_short"));
        assert!(!looks_like_key(&a.replace("moat_", "sk-__")));
        assert_eq!(hint(&a), format!("{}…", &a[..9]));
        assert!(new_key_id().starts_with("key_"));
    }

    #[test]
    fn derived_keys_depend_on_secret_and_purpose() {
        let one = ServerSecret::from_bytes([1; 32]);
        let key = one.derive_key("tool confirmations");
        assert_eq!(
            key,
            ServerSecret::from_bytes([1; 32]).derive_key("tool confirmations")
        );
        assert_ne!(key, one.derive_key("something else"));
        assert_ne!(
            key,
            ServerSecret::from_bytes([2; 32]).derive_key("tool confirmations")
        );
        assert_ne!(key, [1; 32]);
    }

    #[test]
    fn hashes_depend_on_the_server_secret() {
        let one = KeyHasher::new(&ServerSecret::from_bytes([1; 32]));
        let two = KeyHasher::new(&ServerSecret::from_bytes([2; 32]));
        let key = new_secret();
        assert_eq!(one.hash(&key), one.hash(&key));
        assert_ne!(one.hash(&key), two.hash(&key));
        assert!(hashes_equal(&one.hash(&key), &one.hash(&key)));
        assert!(!hashes_equal(&one.hash(&key), &two.hash(&key)));
    }

    #[test]
    fn the_secret_file_is_created_once_private_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/moat.secret");
        let err = ServerSecret::load_or_create(&path, false).unwrap_err();
        assert!(err.to_string().contains("restore"), "{err}");
        let first = ServerSecret::load_or_create(&path, true).unwrap();
        let again = ServerSecret::load_or_create(&path, true).unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        let err = ServerSecret::load_or_create(&path, true).unwrap_err();
        assert!(matches!(err, SecretError::Malformed { .. }));
    }
}
