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
