//! Search and export: records filtered by time, principal, model and
//! status, oldest first, with content decrypted where the subject's key
//! still exists; exported as JSON Lines or as an Elasticsearch/OpenSearch
//! bulk request.

use std::collections::BTreeSet;
use std::io::Write;

use moat_protocol::time::rfc3339_ms;
use moat_store::{AuditQuery, AuditRow};
use serde_json::{json, Value};

use crate::body::Body;
use crate::canonical::hex;
use crate::record::StoredRecord;
use crate::{AuditError, AuditLog};

/// Records per query when exporting.
const EXPORT_PAGE: u32 = 1000;

/// Which records to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// At or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Before this time.
    pub until_ms: Option<i64>,
    /// Clear principal id, matched through its pseudonym (a pseudonym as
    /// search shows it is matched too).
    pub principal: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// At most this many records (the oldest matching, or the newest
    /// with `newest_first`).
    pub limit: Option<u32>,
    /// Newest first instead of oldest first (searches only; an export is
    /// always in chain order).
    pub newest_first: bool,
}

/// Export formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON record per line.
    Jsonl,
    /// Elasticsearch/OpenSearch `_bulk` body: an `index` action line (the
    /// record hash as `_id`) and a document line (with `@timestamp`) per
    /// record.
    EsBulk {
        /// The target index.
        index: String,
    },
}

/// Records matching `filter`, oldest first.
pub async fn search(
    log: &AuditLog,
    filter: &SearchFilter,
) -> Result<Vec<StoredRecord>, AuditError> {
    page(log, filter, None, filter.limit, filter.newest_first).await
}

/// Writes the records matching `filter` to `out`; returns how many.
pub async fn export(
    log: &AuditLog,
    filter: &SearchFilter,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
) -> Result<u64, AuditError> {
    let mut written: u64 = 0;
    let mut after = None;
    loop {
        let left = filter
            .limit
            .map(|limit| u64::from(limit).saturating_sub(written));
        if left == Some(0) {
            break;
        }
        let size = left.map_or(EXPORT_PAGE, |left| {
            u32::try_from(left).unwrap_or(EXPORT_PAGE).min(EXPORT_PAGE)
        });
        let records = page(log, filter, after, Some(size), false).await?;
        let Some(last) = records.last() else {
            break;
        };
        after = i64::try_from(last.seq).ok();
        for record in &records {
            match &format {
                ExportFormat::Jsonl => {
                    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                }
                ExportFormat::EsBulk { index } => {
                    let action = json!({"index": {"_index": index, "_id": record.hash}});
                    serde_json::to_writer(&mut *out, &action).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                    let mut document =
                        serde_json::to_value(record).map_err(std::io::Error::from)?;
                    if let Value::Object(fields) = &mut document {
                        fields.insert(
                            "@timestamp".into(),
                            rfc3339_ms(record.record.time_ms).into(),
                        );
                    }
                    serde_json::to_writer(&mut *out, &document).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                }
            }
            written += 1;
        }
        if records.len() < usize::try_from(size).unwrap_or(usize::MAX) {
            break;
        }
    }
    out.flush()?;
    Ok(written)
}

async fn page(
    log: &AuditLog,
    filter: &SearchFilter,
    after_seq: Option<i64>,
    limit: Option<u32>,
    newest_first: bool,
) -> Result<Vec<StoredRecord>, AuditError> {
    let principals = filter
        .principal
        .as_ref()
        .map(|principal| vec![log.keys().pseudonym(principal), principal.clone()])
        .unwrap_or_default();
    let rows = log
        .store()
        .search_audit(&AuditQuery {
            since_ms: filter.since_ms,
            until_ms: filter.until_ms,
            principals,
            model: filter.model.clone(),
            status: filter.status.map(i64::from),
            after_seq,
            limit: limit.map(i64::from),
            newest_first,
        })
        .await?;
    decode(log, rows).await
}

/// Parses rows and opens their content.
pub(crate) async fn decode(
    log: &AuditLog,
    rows: Vec<AuditRow>,
) -> Result<Vec<StoredRecord>, AuditError> {
    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        let body = Body::parse(&row.body).map_err(|e| AuditError::Corrupt {
            what: format!("audit record {}", row.seq),
            detail: format!("{e}; run audit verification"),
        })?;
        parsed.push((row, body));
    }
    let subjects: Vec<String> = parsed
        .iter()
        .filter_map(|(_, body)| body.sealed_subject().map(str::to_owned))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let keys = if subjects.is_empty() {
        Default::default()
    } else {
        log.subject_keys(&subjects).await?
    };
    Ok(parsed
        .into_iter()
        .map(|(row, body)| {
            let key = body.sealed_subject().and_then(|subject| keys.get(subject));
            let mut record = body.into_stored(hex(&row.hash), hex(&row.prev_hash), key);
            // The row's position, which verification checks against the body.
            record.seq = u64::try_from(row.seq).unwrap_or(record.seq);
            record
        })
        .collect())
}
