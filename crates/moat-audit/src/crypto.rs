//! Sealing with AES-256-GCM: a random 96-bit nonce, stored in front of the
//! ciphertext, and associated data that names what the plaintext is, so that
//! a sealed value cannot be moved to another role or subject.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _};

use sha2::{Digest as _, Sha256};

use crate::canonical::hex;
use crate::AuditError;

const NONCE_LEN: usize = 12;

/// A data subject's content key, opened, with its id: a digest of the
/// stored (wrapped) key, which sealed content names so that content of a
/// destroyed key reads as erased even after the subject got a new key.
#[derive(Clone)]
pub(crate) struct SubjectKey {
    pub key: SealingKey,
    pub id: String,
}

impl SubjectKey {
    pub(crate) fn new(key: &[u8; 32], wrapped: &[u8]) -> Self {
        Self {
            key: SealingKey::new(key),
            id: hex(&Sha256::digest(wrapped)[..8]),
        }
    }
}

/// An AES-256-GCM key.
#[derive(Clone)]
pub(crate) struct SealingKey(Aes256Gcm);

impl SealingKey {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(&(*key).into()))
    }

    /// `nonce || ciphertext || tag`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AuditError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| AuditError::Write("content too large to encrypt".into()))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext; `None` when `sealed` was not sealed with this key and
    /// `aad`, or was altered.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_label() {
        let key = SealingKey::new(&[7; 32]);
        let sealed = key.seal(b"label", b"secret text").unwrap();
        assert_eq!(key.open(b"label", &sealed).unwrap(), b"secret text");
        assert!(key.open(b"other", &sealed).is_none());
        assert!(SealingKey::new(&[8; 32]).open(b"label", &sealed).is_none());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(b"label", &altered).is_none());
        assert_ne!(key.seal(b"label", b"secret text").unwrap(), sealed);
    }
}
