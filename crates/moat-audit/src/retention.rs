//! Retention: records older than the retention are deleted in whole ranges
//! ending at a signed checkpoint, from which verification then starts.

use std::time::Duration;

use crate::body::Prepared;
use crate::event::event_record;
use crate::log::WriterState;
use crate::verify::verify;
use crate::{AuditError, AuditLog};

/// The shortest retention allowed without the explicit override: 180 days.
pub const MIN_RETENTION: Duration = Duration::from_secs(180 * 86_400);

/// Deletes the records older than `retention` before `now_ms`, up to the
/// newest signed checkpoint that covers only such records, and records the
/// purge (route `audit.purge`). Returns how many records were deleted. A
/// retention under [`MIN_RETENTION`] is refused unless `allow_short`; a
/// range that does not verify is refused, so a purge cannot hide tampering.
pub async fn purge(
    log: &AuditLog,
    retention: Duration,
    now_ms: i64,
    allow_short: bool,
) -> Result<u64, AuditError> {
    if retention < MIN_RETENTION && !allow_short {
        return Err(AuditError::RetentionTooShort {
            days: retention.as_secs() / 86_400,
            minimum: MIN_RETENTION.as_secs() / 86_400,
        });
    }
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let before_ms = now_ms.saturating_sub(retention_ms);
    let store = log.store();
    let Some(checkpoint) = store.audit_purge_checkpoint(before_ms).await? else {
        return Ok(0);
    };
    let through = u64::try_from(checkpoint.seq).unwrap_or(0);
    let report = verify(store, &log.keys().verifying_key(), None, Some(through)).await?;
    if let Some(broken) = report.first_break {
        return Err(AuditError::BrokenChain {
            seq: broken.seq,
            detail: broken.detail,
        });
    }
    if report.last_seq != Some(through) {
        return Err(AuditError::BrokenChain {
            seq: through,
            detail: "the checkpointed record was not reached".into(),
        });
    }
    let deleted = store.purge_audit(checkpoint.seq).await?;
    tracing::info!(deleted, through, "audit records past retention purged");
    if deleted > 0 {
        let record = event_record("audit.purge", 200, now_ms);
        let mut prepared = [Prepared::event(log.keys(), record, None)?];
        log.append_batch(&mut WriterState::default(), &mut prepared, false)
            .await?;
    }
    Ok(deleted)
}
