//! Batches of attachments: which files a batch attached, and its state;
//! its counts come from the attached files themselves.

use sqlx::Row as _;

use super::attached::{parse_status, FileCounts, IngestStatus};
use super::parse_json;
use crate::{Store, StoreError};

/// One batch as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBatchRecord {
    /// `vsfb_…`.
    pub id: String,
    pub store_id: String,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
    pub file_ids: Vec<String>,
    pub status: IngestStatus,
}

impl Store {
    /// Stores a new batch.
    pub async fn insert_file_batch(&self, batch: &FileBatchRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO file_batches (id, store_id, created_ms, file_ids, status) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(batch.id.as_str())
        .bind(batch.store_id.as_str())
        .bind(batch.created_ms)
        .bind(serde_json::Value::from(batch.file_ids.clone()).to_string())
        .bind(batch.status.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The batch with this id and the counts of its files by state (files
    /// detached since are not counted).
    pub async fn file_batch(
        &self,
        id: &str,
    ) -> Result<Option<(FileBatchRecord, FileCounts)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, store_id, created_ms, file_ids, status FROM file_batches WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let what = |field: &str| format!("{field} of file batch {id}");
        let file_ids: String = row.try_get("file_ids")?;
        let status: String = row.try_get("status")?;
        let batch = FileBatchRecord {
            id: row.try_get("id")?,
            store_id: row.try_get("store_id")?,
            created_ms: row.try_get("created_ms")?,
            file_ids: parse_json(&file_ids, || what("file_ids"))?,
            status: parse_status(&status, || what("status"))?,
        };
        let counts = self
            .file_counts_of(&batch.store_id, &batch.file_ids)
            .await?;
        Ok(Some((batch, counts)))
    }

    /// Sets the state of a batch; false when there is none.
    pub async fn set_file_batch_status(
        &self,
        id: &str,
        status: IngestStatus,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE file_batches SET status = $2 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed > 0)
    }
}
