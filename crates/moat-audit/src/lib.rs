//! Tamper-evident audit log: one hash-chained record per API request, with
//! signed checkpoints, verification, search and export, retention, and
//! erasure of a data subject by crypto-shredding.
//!
//! Each record's body is canonical JSON holding the request's metadata, the
//! principal only as a keyed pseudonym, and content per the role's policy
//! (digests, or ciphertext under the data subject's key); `hash =
//! SHA-256(prev_hash || body)`. A batching writer commits records before
//! the caller's append resolves and signs checkpoints of the chain head
//! with an Ed25519 key kept, with the pseudonym and vault secret, in a key
//! file outside the database.

mod body;
mod canonical;
mod checkpoint;
mod crypto;
mod error;
mod event;
#[cfg(test)]
mod golden;
mod keys;
mod log;
mod record;
mod retention;
mod search;
mod verify;
mod writer;

use moat_store::Store;

pub use body::ANONYMOUS_SUBJECT;
pub use canonical::{canonical_json, chain_hash, GENESIS_HASH};
pub use checkpoint::checkpoint_message;
pub use crypto::ContentKey;
pub use ed25519_dalek::VerifyingKey;
pub use error::AuditError;
pub use event::{erase_subject, reveal_principal};
pub use keys::AuditKeys;
pub use log::AuditLog;
pub use record::{
    AuditRecord, Content, ContentPolicy, Outcome, Record, StoredContent, StoredRecord, ToolAudit,
};
pub use retention::{purge, MIN_RETENTION};
pub use search::{export, search, ExportFormat, SearchFilter};
pub use verify::{verify, Break, BreakKind, VerifyReport};
pub use writer::{AuditWriter, WriterSettings};

/// Whether no record was ever appended to the log in `store`: only then may
/// [`AuditKeys::load_or_create`] create a new key file.
pub async fn log_is_empty(store: &Store) -> Result<bool, AuditError> {
    Ok(store.audit_head().await?.seq == 0)
}
