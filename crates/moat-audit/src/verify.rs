//! Verification: walks the chain in seq order from its anchor (the genesis
//! hash, or after a purge the newest signed checkpoint before the first
//! stored record), recomputes every hash and link, checks each signed
//! checkpoint on the way, and reports the first break. Needs only the
//! public key.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use moat_store::{AuditCheckpoint, AuditRow, Store};
use serde::Serialize;

use crate::body::Body;
use crate::canonical::{chain_hash, hex, GENESIS_HASH};
use crate::checkpoint::is_signed_by;
use crate::AuditError;

/// Records read per query.
const PAGE: i64 = 1000;

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records verified.
    pub records: u64,
    /// Signed checkpoints verified.
    pub checkpoints: u64,
    /// The first break in seq order; `None`: the log verifies.
    pub first_break: Option<Break>,
    /// The checkpoint verification started from; `None`: the genesis hash.
    pub anchor: Option<u64>,
    /// The last record verified.
    pub last_seq: Option<u64>,
}

/// A break in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// Where: the first seq that is wrong.
    pub seq: u64,
    /// What kind of break.
    pub kind: BreakKind,
    /// What was found, for people.
    pub detail: String,
}

/// Kinds of break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// A record's content, hash or searchable fields were changed, or a
    /// record was replaced.
    Modified,
    /// Records are missing from the middle of the chain.
    Missing,
    /// A record that is not part of the chain: a second record claiming a
    /// seq, or one the next record does not link through.
    Inserted,
    /// A record sits at another seq than the one it was written at.
    Reordered,
    /// Records are missing from the end of the chain, as far back as a
    /// signed checkpoint or the chain head vouches for.
    Truncated,
    /// A checkpoint whose signature does not verify.
    BadCheckpoint,
}

/// Verifies the records from `from` (default: the first stored) to `to`
/// (default: the last). The walk starts at the newest signed checkpoint
/// before the first stored record at or after `from`, so it may verify a
/// few records before `from`.
pub async fn verify(
    store: &Store,
    key: &VerifyingKey,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<VerifyReport, AuditError> {
    // Checkpoints first, then the highest seq, then the head: every
    // checkpoint's record was committed before it, and the head (moved in
    // the same transaction as its records) is at least the highest seq, so
    // appends running alongside cannot look like breaks.
    let checkpoints: BTreeMap<i64, AuditCheckpoint> = store
        .audit_checkpoints()
        .await?
        .into_iter()
        .map(|checkpoint| (checkpoint.seq, checkpoint))
        .collect();
    let max_row = store.audit_max_seq().await?.unwrap_or(0);
    let head = store.audit_head().await?;
    let to = to.map_or(i64::MAX, |to| i64::try_from(to).unwrap_or(i64::MAX));
    let upper = max_row.max(head.seq).min(to);
    let from = from
        .map_or(1, |from| i64::try_from(from).unwrap_or(i64::MAX))
        .max(1);
    let first_stored = store.audit_seq_at_or_after(from).await?;
    let anchor_before = first_stored
        .unwrap_or(i64::MAX)
        .min(upper.saturating_add(1));

    let mut walk = Walk {
        report: VerifyReport {
            records: 0,
            checkpoints: 0,
            first_break: None,
            anchor: None,
            last_seq: None,
        },
        key,
        checkpoints: &checkpoints,
        anchor_seq: 0,
        expected: 1,
        prev: GENESIS_HASH.to_vec(),
        prevprev: None,
    };
    if let Some((_, anchor)) = checkpoints.range(..anchor_before).next_back() {
        if !is_signed_by(key, anchor) {
            return Ok(walk.broken(
                anchor.seq,
                BreakKind::BadCheckpoint,
                "the checkpoint verification would start from is not signed by this key".into(),
            ));
        }
        walk.report.checkpoints += 1;
        walk.report.anchor = to_u64(anchor.seq);
        walk.anchor_seq = anchor.seq;
        walk.expected = anchor.seq + 1;
        walk.prev.clone_from(&anchor.hash);
    }

    let mut cursor = walk.expected;
    while cursor <= upper {
        let Some(start) = store
            .audit_seq_at_or_after(cursor)
            .await?
            .filter(|&start| start <= upper)
        else {
            break;
        };
        let end = start.saturating_add(PAGE - 1).min(upper);
        let rows = store.audit_rows(start, end).await?;
        for (i, row) in rows.iter().enumerate() {
            let twin = rows.get(i + 1).is_some_and(|next| next.seq == row.seq);
            if let Err(found) = walk.step(row, twin) {
                return Ok(walk.broken(found.0, found.1, found.2));
            }
        }
        cursor = end.saturating_add(1);
    }

    // The end of the chain.
    let last = walk.expected - 1;
    walk.report.last_seq = to_u64(last).filter(|&last| last > 0);
    if head.seq < max_row && head.seq < to {
        return Ok(walk.broken(
            head.seq + 1,
            BreakKind::Inserted,
            format!(
                "records after the chain head (seq {}) that no append wrote",
                head.seq
            ),
        ));
    }
    if head.seq == last && head.hash != walk.prev && last > 0 {
        return Ok(walk.broken(
            last,
            BreakKind::Modified,
            "the last record is not the one the chain head records".into(),
        ));
    }
    if last < head.seq.min(to) {
        return Ok(walk.broken(
            last + 1,
            BreakKind::Truncated,
            format!(
                "the chain ends at seq {last} but its head is at seq {}",
                head.seq
            ),
        ));
    }
    let beyond: Vec<&AuditCheckpoint> = checkpoints
        .range(last + 1..)
        .map(|(_, checkpoint)| checkpoint)
        .filter(|checkpoint| checkpoint.seq <= to)
        .collect();
    if let Some(signed) = beyond.iter().rev().find(|c| is_signed_by(key, c)) {
        return Ok(walk.broken(
            last + 1,
            BreakKind::Truncated,
            format!(
                "the chain ends at seq {last} but a signed checkpoint vouches for seq {}",
                signed.seq
            ),
        ));
    }
    if let Some(forged) = beyond.first() {
        return Ok(walk.broken(
            forged.seq,
            BreakKind::BadCheckpoint,
            "a checkpoint beyond the end of the chain is not signed by this key".into(),
        ));
    }
    Ok(walk.report)
}

/// The state of a walk along the chain.
struct Walk<'a> {
    report: VerifyReport,
    key: &'a VerifyingKey,
    checkpoints: &'a BTreeMap<i64, AuditCheckpoint>,
    /// Seq of the anchor (0: genesis).
    anchor_seq: i64,
    /// The seq the next record must have.
    expected: i64,
    /// Hash of the record before `expected`.
    prev: Vec<u8>,
    /// Hash of the record before that, once walked.
    prevprev: Option<Vec<u8>>,
}

type Found = (i64, BreakKind, String);

impl Walk<'_> {
    fn broken(mut self, seq: i64, kind: BreakKind, detail: String) -> VerifyReport {
        self.report.first_break = Some(Break {
            seq: to_u64(seq).unwrap_or(0),
            kind,
            detail,
        });
        self.report
    }

    /// Checks the next row; `twin`: another row claims the same seq.
    fn step(&mut self, row: &AuditRow, twin: bool) -> Result<(), Found> {
        let e = self.expected;
        if row.seq > e {
            let detail = if row.seq == e + 1 {
                format!("record {e} is missing")
            } else {
                format!("records {e} to {} are missing", row.seq - 1)
            };
            return Err((e, BreakKind::Missing, detail));
        }
        if twin {
            return Err((e, BreakKind::Inserted, format!("two records claim seq {e}")));
        }
        if chain_hash(&row.prev_hash, &row.body).as_slice() != row.hash.as_slice() {
            return Err((
                e,
                BreakKind::Modified,
                "the record's hash does not match its content".into(),
            ));
        }
        let body = Body::parse(&row.body).map_err(|err| {
            (
                e,
                BreakKind::Modified,
                format!("the record's body is not a valid record: {err}"),
            )
        })?;
        let mut differing = Vec::new();
        if body.record.time_ms != row.time_ms {
            differing.push("time_ms");
        }
        if body.record.principal != row.principal {
            differing.push("principal");
        }
        if body.record.model != row.model {
            differing.push("model");
        }
        if i64::from(body.record.status) != row.status {
            differing.push("status");
        }
        if !differing.is_empty() {
            return Err((
                e,
                BreakKind::Modified,
                format!(
                    "the stored {} disagree(s) with the hashed record",
                    differing.join(", ")
                ),
            ));
        }
        let written_at = i64::try_from(body.seq).unwrap_or(i64::MAX);
        if row.prev_hash != self.prev {
            if self.prevprev.as_ref() == Some(&row.prev_hash) {
                return Err((
                    e - 1,
                    BreakKind::Inserted,
                    format!(
                        "record {} is not part of the chain: record {e} links to the record before it",
                        e - 1
                    ),
                ));
            }
            if written_at != e {
                return Err((
                    e,
                    BreakKind::Reordered,
                    format!("the record at seq {e} was written as seq {written_at}"),
                ));
            }
            if e - 1 > self.anchor_seq {
                return Err((
                    e - 1,
                    BreakKind::Modified,
                    format!(
                        "record {} is not the record that record {e} was chained to (changed \
                         and rehashed, or replaced)",
                        e - 1
                    ),
                ));
            }
            return Err((
                e,
                BreakKind::Modified,
                format!(
                    "record {e} does not link to the hash {} it must follow",
                    hex(&self.prev)
                ),
            ));
        }
        if written_at != e {
            return Err((
                e,
                BreakKind::Reordered,
                format!("the record at seq {e} was written as seq {written_at}"),
            ));
        }
        if let Some(checkpoint) = self.checkpoints.get(&e) {
            if !is_signed_by(self.key, checkpoint) {
                return Err((
                    e,
                    BreakKind::BadCheckpoint,
                    "the checkpoint's signature does not verify with this key".into(),
                ));
            }
            if checkpoint.hash != row.hash {
                return Err((
                    e,
                    BreakKind::Modified,
                    "the record's hash differs from the one its signed checkpoint vouches for: \
                     the chain was rewritten up to here"
                        .into(),
                ));
            }
            self.report.checkpoints += 1;
        }
        self.report.records += 1;
        self.prevprev = Some(std::mem::replace(&mut self.prev, row.hash.clone()));
        self.expected += 1;
        Ok(())
    }
}

fn to_u64(seq: i64) -> Option<u64> {
    u64::try_from(seq).ok()
}
