//! A data subject's content key. Sealing itself (AES-256-GCM, the nonce in
//! front, associated data naming what is sealed) is [`moat_store::seal`]'s,
//! shared with everything else stored encrypted.

pub(crate) use moat_store::seal::SealingKey;
use sha2::{Digest as _, Sha256};

use crate::canonical::hex;

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

/// A data subject's content key as the log keeps it, for content stored
/// outside the log that erasing the subject must destroy with the log's
/// (conversations): opened, with its id and its stored (wrapped) form,
/// which writes of that content name so the store can refuse them once
/// the key is erased. No `Debug` output of the key itself.
#[derive(Clone)]
pub struct ContentKey {
    pub(crate) subject: String,
    pub(crate) key: SubjectKey,
    pub(crate) wrapped: Vec<u8>,
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentKey")
            .field("subject", &self.subject)
            .field("id", &self.key.id)
            .finish_non_exhaustive()
    }
}

impl ContentKey {
    /// The subject (the principal's pseudonym) whose key this is.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Names this key among the subject's keys over time.
    pub fn id(&self) -> &str {
        &self.key.id
    }

    /// The key as stored, wrapped under the log's vault key.
    pub fn wrapped(&self) -> &[u8] {
        &self.wrapped
    }

    /// `plaintext` sealed under this key, bound to `aad` (what it is).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, crate::AuditError> {
        self.key
            .key
            .seal(aad, plaintext)
            .map_err(|e| crate::AuditError::Corrupt {
                what: "content to seal".into(),
                detail: e.to_string(),
            })
    }

    /// The plaintext of `sealed`; `None` when it was not sealed with this
    /// key and `aad`, or was altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.key.key.open(aad, sealed)
    }
}
