//! Records of the audit log's own events (erasure, purge) and the
//! auditor-side operations on data subjects.

use crate::canonical::hex;
use crate::record::{AuditRecord, Outcome};
use crate::{AuditError, AuditLog, AuditWriter};

/// An event record: method `EVENT`, outcome `event`, a fresh `evt_` id.
pub(crate) fn event_record(route: &str, status: u16, now_ms: i64) -> AuditRecord {
    AuditRecord {
        time_ms: now_ms,
        request_id: format!("evt_{}", hex(&rand::random::<[u8; 8]>())),
        method: "EVENT".into(),
        route: route.into(),
        status,
        outcome: Outcome::Event,
        ..AuditRecord::default()
    }
}

/// Crypto-shredding: destroys the content key and the sealed clear id of
/// `subject` (a clear principal id), which leaves its stored content
/// unreadable while the chain, which commits to the ciphertext, still
/// verifies; then records the erasure (outcome `event`, route
/// `audit.erase`, principal: the subject's pseudonym; status 200, or 404
/// when there was nothing to destroy). True when there was. The erasure
/// runs in `writer`'s order, after the records queued before it.
pub async fn erase_subject(
    log: &AuditLog,
    writer: &AuditWriter,
    subject: &str,
    now_ms: i64,
) -> Result<bool, AuditError> {
    // The writer erases in order: records queued before are written first,
    // so their content is erased with the rest.
    writer.erase(log.keys().pseudonym(subject), now_ms).await
}

/// The clear principal id behind a pseudonym, for auditors (the caller
/// checks the role); `None` when unknown or erased.
pub async fn reveal_principal(
    log: &AuditLog,
    pseudonym: &str,
) -> Result<Option<String>, AuditError> {
    log.principal(pseudonym).await
}
