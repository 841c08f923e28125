//! Files attached to a vector store: each gets a number dense within its
//! store (`file_no`, never handed out twice), its attributes and chunking,
//! and the state of its ingest.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::page::{Listing, Page, PageQuery};
use super::{json_column, placeholders, u32_column};
use crate::{Store, StoreError};

/// Where the ingest of an attached file (or a batch) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IngestStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl IngestStatus {
    /// The name as stored (and as OpenAI spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Completed,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Why an ingest failed, as OpenAI's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestError {
    /// `server_error`, `unsupported_file` or `invalid_file`.
    pub code: String,
    pub message: String,
}

/// A file to attach to a store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    pub store_id: String,
    pub file_id: String,
    /// OpenAI's `attributes` object.
    pub attributes: Value,
    /// The chunking strategy the file is chunked with.
    pub chunking: Value,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
}

/// One attached file as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedFile {
    pub store_id: String,
    pub file_id: String,
    /// Dense within the store; moat-kb's `FileNo`.
    pub file_no: u32,
    pub attributes: Value,
    pub chunking: Value,
    pub status: IngestStatus,
    pub last_error: Option<IngestError>,
    /// Bytes the file's chunks take up.
    pub usage_bytes: i64,
    pub chunk_count: i64,
    /// Kinds of personal data found at ingest and how often, never values.
    pub pii: Value,
    /// SHA-256 (hex) of the content that was ingested.
    pub content_sha256: Option<String>,
    /// Which extractor read the text (`pdf-extract`, `pdftotext`, `docx`...).
    pub extractor: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What a finished ingest records.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestResult {
    pub usage_bytes: i64,
    pub chunk_count: i64,
    pub pii: Value,
    pub content_sha256: String,
    pub extractor: String,
}

/// How many attached files are in each state, and the bytes they use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub in_progress: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub total: i64,
    /// Sum of `usage_bytes` over the files counted.
    pub usage_bytes: i64,
}

const ATTACHED_COLUMNS: &str = "store_id, file_id, file_no, attributes, chunking, status, \
                                last_error_code, last_error_message, usage_bytes, chunk_count, \
                                pii, content_sha256, extractor, created_ms, updated_ms";

impl Store {
    /// Attaches a file to a store, `in_progress`, with the store's next
    /// file number. A file attached already is returned as it is, with
    /// `false`; `None` when there is no such store.
    pub async fn attach_file(
        &self,
        new: &NewAttachment,
    ) -> Result<Option<(AttachedFile, bool)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taking the number first locks the store's row, so concurrent
        // attaches of one store run one after the other and the lookup
        // below sees an attach that committed meanwhile.
        let row = sqlx::query(
            "UPDATE vector_stores SET next_file_no = next_file_no + 1 \
             WHERE id = $1 RETURNING next_file_no",
        )
        .bind(new.store_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let next: i64 = row.try_get("next_file_no")?;
        let existing = sqlx::query(&format!(
            "SELECT {ATTACHED_COLUMNS} FROM vector_store_files \
             WHERE store_id = $1 AND file_id = $2"
        ))
        .bind(new.store_id.as_str())
        .bind(new.file_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            // Dropping the transaction gives the number back.
            return Ok(Some((attached_from_row(&row)?, false)));
        }
        let file_no = u32_column(next - 1, || {
            format!("next file number of vector store {}", new.store_id)
        })?;
        let file = AttachedFile {
            store_id: new.store_id.clone(),
            file_id: new.file_id.clone(),
            file_no,
            attributes: new.attributes.clone(),
            chunking: new.chunking.clone(),
            status: IngestStatus::InProgress,
            last_error: None,
            usage_bytes: 0,
            chunk_count: 0,
            pii: Value::Object(serde_json::Map::new()),
            content_sha256: None,
            extractor: None,
            created_ms: new.created_ms,
            updated_ms: new.created_ms,
        };
        sqlx::query(&format!(
            "INSERT INTO vector_store_files ({ATTACHED_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, 0, 0, $7, NULL, NULL, $8, $8)"
        ))
        .bind(file.store_id.as_str())
        .bind(file.file_id.as_str())
        .bind(i64::from(file.file_no))
        .bind(file.attributes.to_string())
        .bind(file.chunking.to_string())
        .bind(file.status.as_str())
        .bind(file.pii.to_string())
        .bind(file.created_ms)
        .execute(&mut *tx)
        .await?;
        bump_files_version(&mut *tx, &file.store_id).await?;
        tx.commit().await?;
        Ok(Some((file, true)))
    }

    /// The attachment of `file_id` to `store_id`.
    pub async fn attached_file(
        &self,
        store_id: &str,
        file_id: &str,
    ) -> Result<Option<AttachedFile>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ATTACHED_COLUMNS} FROM vector_store_files \
             WHERE store_id = $1 AND file_id = $2"
        ))
        .bind(store_id)
        .bind(file_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(attached_from_row).transpose()
    }

    /// One page of the files of a store, only those in `status` when given.
    pub async fn attached_files(
        &self,
        store_id: &str,
        status: Option<IngestStatus>,
        page: &PageQuery,
    ) -> Result<Page<AttachedFile>, StoreError> {
        Listing {
            table: "vector_store_files",
            columns: ATTACHED_COLUMNS,
            id: "file_id",
            order: "created_ms",
            scope: vec![("store_id", store_id)],
            filters: status.map(|s| ("status", s.as_str())).into_iter().collect(),
        }
        .page(&self.pool, page, attached_from_row)
        .await
    }

    /// A number that moves with every change of the store's attached files
    /// (made after the change, or with it); 0 for no such store.
    pub async fn files_version(&self, store_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT files_version FROM vector_stores WHERE id = $1")
            .bind(store_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(row.try_get("files_version")?),
            None => Ok(0),
        }
    }

    /// The numbers of every file attached to a store, whatever its state,
    /// in order.
    pub async fn attached_file_nos(&self, store_id: &str) -> Result<Vec<u32>, StoreError> {
        let rows = sqlx::query(
            "SELECT file_no FROM vector_store_files WHERE store_id = $1 ORDER BY file_no",
        )
        .bind(store_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let n: i64 = row.try_get("file_no")?;
                u32_column(n, || {
                    format!("file_no of a file of vector store {store_id}")
                })
            })
            .collect()
    }

    /// Every attached file, of any store, in `status` (e.g. the ingests to
    /// resume after a restart), oldest first.
    pub async fn attached_files_with_status(
        &self,
        status: IngestStatus,
    ) -> Result<Vec<AttachedFile>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHED_COLUMNS} FROM vector_store_files WHERE status = $1 \
             ORDER BY created_ms, store_id, file_no"
        ))
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attached_from_row).collect()
    }

    /// Sets the state of an attached file (`error` only kept with
    /// `failed`); false when it is not attached.
    pub async fn set_attached_status(
        &self,
        store_id: &str,
        file_id: &str,
        status: IngestStatus,
        error: Option<&IngestError>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let error = error.filter(|_| status == IngestStatus::Failed);
        let changed = sqlx::query(
            "UPDATE vector_store_files SET status = $3, last_error_code = $4, \
             last_error_message = $5, updated_ms = $6 WHERE store_id = $1 AND file_id = $2",
        )
        .bind(store_id)
        .bind(file_id)
        .bind(status.as_str())
        .bind(error.map(|e| e.code.as_str()))
        .bind(error.map(|e| e.message.as_str()))
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed > 0 {
            bump_files_version(&self.pool, store_id).await?;
        }
        Ok(changed > 0)
    }

    /// Marks an attached file `completed` with what its ingest found;
    /// false when it is not attached.
    pub async fn complete_ingest(
        &self,
        store_id: &str,
        file_id: &str,
        result: &IngestResult,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE vector_store_files SET status = 'completed', last_error_code = NULL, \
             last_error_message = NULL, usage_bytes = $3, chunk_count = $4, pii = $5, \
             content_sha256 = $6, updated_ms = $7, extractor = $8 \
             WHERE store_id = $1 AND file_id = $2",
        )
        .bind(store_id)
        .bind(file_id)
        .bind(result.usage_bytes)
        .bind(result.chunk_count)
        .bind(result.pii.to_string())
        .bind(result.content_sha256.as_str())
        .bind(now_ms)
        .bind(result.extractor.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed > 0 {
            bump_files_version(&self.pool, store_id).await?;
        }
        Ok(changed > 0)
    }

    /// Detaches a file from a store with its chunks; false when it was not
    /// attached. Its number is not handed out again.
    pub async fn detach_file(&self, store_id: &str, file_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT file_no FROM vector_store_files WHERE store_id = $1 AND file_id = $2",
        )
        .bind(store_id)
        .bind(file_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let file_no: i64 = row.try_get("file_no")?;
        // The store's row first, as ingest's `replace_chunks` locks it:
        // one lock order, no deadlock on PostgreSQL.
        bump_files_version(&mut *tx, store_id).await?;
        sqlx::query("DELETE FROM kb_chunks WHERE store_id = $1 AND file_no = $2")
            .bind(store_id)
            .bind(file_no)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vector_store_files WHERE store_id = $1 AND file_id = $2")
            .bind(store_id)
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every store `file_id` is attached to, with its number there.
    pub async fn stores_with_file(&self, file_id: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT store_id, file_no FROM vector_store_files WHERE file_id = $1 \
             ORDER BY store_id",
        )
        .bind(file_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let file_no = u32_column(row.try_get("file_no")?, || {
                    format!("vector_store_files.file_no of {file_id}")
                })?;
                Ok((row.try_get("store_id")?, file_no))
            })
            .collect()
    }

    /// How many files of a store are in each state.
    pub async fn file_counts(&self, store_id: &str) -> Result<FileCounts, StoreError> {
        self.counts_where(store_id, None).await
    }

    /// How many of `file_ids` attached to a store are in each state (for a
    /// batch).
    pub async fn file_counts_of(
        &self,
        store_id: &str,
        file_ids: &[String],
    ) -> Result<FileCounts, StoreError> {
        if file_ids.is_empty() {
            return Ok(FileCounts::default());
        }
        let mut counts = FileCounts::default();
        // Within both databases' limits on parameters per statement.
        for ids in file_ids.chunks(1000) {
            let part = self.counts_where(store_id, Some(ids)).await?;
            counts.in_progress += part.in_progress;
            counts.completed += part.completed;
            counts.failed += part.failed;
            counts.cancelled += part.cancelled;
            counts.total += part.total;
            counts.usage_bytes += part.usage_bytes;
        }
        Ok(counts)
    }

    async fn counts_where(
        &self,
        store_id: &str,
        file_ids: Option<&[String]>,
    ) -> Result<FileCounts, StoreError> {
        let only = match file_ids {
            Some(ids) => format!("AND file_id IN ({})", placeholders(2, ids.len())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(usage_bytes), 0) AS BIGINT) AS bytes \
             FROM vector_store_files WHERE store_id = $1 {only} GROUP BY status"
        );
        let mut q = sqlx::query(&sql).bind(store_id);
        for id in file_ids.unwrap_or_default() {
            q = q.bind(id.as_str());
        }
        let mut counts = FileCounts::default();
        for row in q.fetch_all(&self.pool).await? {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            let slot = match IngestStatus::parse(&status) {
                Some(IngestStatus::InProgress) => &mut counts.in_progress,
                Some(IngestStatus::Completed) => &mut counts.completed,
                Some(IngestStatus::Failed) => &mut counts.failed,
                Some(IngestStatus::Cancelled) => &mut counts.cancelled,
                None => return Err(bad_status(&status, store_id)),
            };
            *slot += n;
            counts.total += n;
            counts.usage_bytes += row.try_get::<i64, _>("bytes")?;
        }
        Ok(counts)
    }
}

fn bad_status(status: &str, store_id: &str) -> StoreError {
    StoreError::Corrupt {
        what: format!("status of a file of vector store {store_id}"),
        detail: format!("`{status}` is not a known status"),
    }
}

pub(crate) fn parse_status(
    status: &str,
    what: impl FnOnce() -> String,
) -> Result<IngestStatus, StoreError> {
    IngestStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
        what: what(),
        detail: format!("`{status}` is not a known status"),
    })
}

fn attached_from_row(row: &AnyRow) -> Result<AttachedFile, StoreError> {
    let store_id: String = row.try_get("store_id")?;
    let file_id: String = row.try_get("file_id")?;
    let what = |field: &str| format!("{field} of file {file_id} in vector store {store_id}");
    let status: String = row.try_get("status")?;
    let code: Option<String> = row.try_get("last_error_code")?;
    let message: Option<String> = row.try_get("last_error_message")?;
    Ok(AttachedFile {
        file_no: u32_column(row.try_get("file_no")?, || what("file_no"))?,
        attributes: json_column(row, "attributes", || what("attributes"))?,
        chunking: json_column(row, "chunking", || what("chunking"))?,
        status: parse_status(&status, || what("status"))?,
        last_error: code.map(|code| IngestError {
            code,
            message: message.unwrap_or_default(),
        }),
        usage_bytes: row.try_get("usage_bytes")?,
        chunk_count: row.try_get("chunk_count")?,
        pii: json_column(row, "pii", || what("pii"))?,
        content_sha256: row.try_get("content_sha256")?,
        extractor: row.try_get("extractor")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        store_id,
        file_id,
    })
}

/// Move the store's [`Store::files_version`] on.
async fn bump_files_version<'e, E>(executor: E, store_id: &str) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("UPDATE vector_stores SET files_version = files_version + 1 WHERE id = $1")
        .bind(store_id)
        .execute(executor)
        .await?;
    Ok(())
}
