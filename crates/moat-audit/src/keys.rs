//! The keys kept outside the database, in one file (mode 0600): the Ed25519
//! key that signs checkpoints and a 32-byte secret from which the
//! pseudonym key (HMAC-SHA-256 of principal ids) and the vault key (which
//! wraps subject content keys and seals clear principal ids) are derived.
//! A copy of the database alone reveals neither content nor identities and
//! cannot forge a checkpoint.

use std::io::Write as _;
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::canonical::{hex, unhex};
use crate::crypto::SealingKey;
use crate::AuditError;

const HEADER: &str = "# moat audit keys: checkpoint signing key and pseudonym/vault secret.\n\
                      # Keep private and back up with the database; every replica needs this file.\n";

/// The audit log's keys. No `Debug` output of the keys themselves.
#[derive(Clone)]
pub struct AuditKeys {
    signing: SigningKey,
    pseudonyms: Hmac<Sha256>,
    vault: SealingKey,
}

impl std::fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKeys")
            .field(
                "verifying_key",
                &hex(self.signing.verifying_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

impl AuditKeys {
    /// Keys from their bytes: the Ed25519 seed and the secret.
    pub fn from_bytes(signing: [u8; 32], secret: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&signing),
            pseudonyms: derive_mac(&secret, b"moat-audit pseudonym v1"),
            vault: SealingKey::new(&derive(&secret, b"moat-audit vault v1")),
        }
    }

    /// Reads the keys from `path`, or creates the file when it does not
    /// exist and `may_create` (pass [`log_is_empty`](crate::log_is_empty):
    /// new keys for a log with records could neither continue its signed
    /// chain nor read its content).
    pub fn load_or_create(path: &Path, may_create: bool) -> Result<Self, AuditError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !may_create {
                    return Err(AuditError::MissingKeys {
                        path: path.to_owned(),
                    });
                }
                Self::create(path)
            }
            Err(source) => Err(AuditError::ReadKeys {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// A digest that names these keys without revealing them: the
    /// verifying key and a keyed hash of a fixed label under the secret.
    /// The log stores it when first opened, so that a process with another
    /// keys file is refused.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut digest = Sha256::new();
        digest.update(self.signing.verifying_key().as_bytes());
        digest.update(
            self.pseudonym("\0moat-audit keys fingerprint v1")
                .as_bytes(),
        );
        hex(&digest.finalize())
    }

    /// The public key that verifies checkpoints; give it to auditors.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// [`verifying_key`](Self::verifying_key) as a PEM public key
    /// (`-----BEGIN PUBLIC KEY-----`).
    pub fn verifying_key_pem(&self) -> Result<String, AuditError> {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| AuditError::Corrupt {
                what: "audit verifying key".into(),
                detail: e.to_string(),
            })
    }

    /// The pseudonym the log stores for a clear principal id: hex
    /// HMAC-SHA-256 under the key file's secret.
    pub fn pseudonym(&self, principal: &str) -> String {
        let mut mac = self.pseudonyms.clone();
        mac.update(principal.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn vault(&self) -> &SealingKey {
        &self.vault
    }

    fn parse(text: &str, path: &Path) -> Result<Self, AuditError> {
        let malformed = |reason: &str| AuditError::MalformedKeys {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let mut signing = None;
        let mut secret = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(malformed("a line is not `name = hex`"));
            };
            let bytes: [u8; 32] = unhex(value.trim())
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| malformed("a value is not 64 hex characters"))?;
            match name.trim() {
                "signing-key" => signing = Some(bytes),
                "secret" => secret = Some(bytes),
                _ => return Err(malformed("unknown name; expected signing-key and secret")),
            }
        }
        match (signing, secret) {
            (Some(signing), Some(secret)) => Ok(Self::from_bytes(signing, secret)),
            _ => Err(malformed("signing-key or secret is missing")),
        }
    }

    fn create(path: &Path) -> Result<Self, AuditError> {
        let create_err = |source| AuditError::CreateKeys {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(create_err)?;
        }
        let signing: [u8; 32] = rand::random();
        let secret: [u8; 32] = rand::random();
        let text = format!(
            "{HEADER}signing-key = {}\nsecret = {}\n",
            hex(&signing),
            hex(&secret)
        );
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(create_err)?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(create_err)?;
        Ok(Self::from_bytes(signing, secret))
    }
}

fn derive_mac(secret: &[u8; 32], label: &[u8]) -> Hmac<Sha256> {
    let key = derive(secret, label);
    // HMAC takes keys of any length; only fixed-key MACs can fail here.
    <Hmac<Sha256> as hmac::Mac>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// A 32-byte key for one purpose: HMAC-SHA-256(secret, label).
fn derive(secret: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(label);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_file_is_created_once_private_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.key");
        let err = AuditKeys::load_or_create(&path, false).unwrap_err();
        assert!(matches!(err, AuditError::MissingKeys { .. }), "{err}");
        let first = AuditKeys::load_or_create(&path, true).unwrap();
        let again = AuditKeys::load_or_create(&path, false).unwrap();
        assert_eq!(first.verifying_key(), again.verifying_key());
        assert_eq!(first.pseudonym("key_a"), again.pseudonym("key_a"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "signing-key = zz\n").unwrap();
        let err = AuditKeys::load_or_create(&path, true).unwrap_err();
        assert!(matches!(err, AuditError::MalformedKeys { .. }), "{err}");
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let one = AuditKeys::from_bytes([1; 32], [1; 32]);
        let two = AuditKeys::from_bytes([1; 32], [2; 32]);
        assert_eq!(one.pseudonym("key_a"), one.pseudonym("key_a"));
        assert_ne!(one.pseudonym("key_a"), one.pseudonym("key_b"));
        assert_ne!(one.pseudonym("key_a"), two.pseudonym("key_a"));
        assert_eq!(one.pseudonym("key_a").len(), 64);
        assert!(one
            .verifying_key_pem()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
