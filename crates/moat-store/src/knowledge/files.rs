//! Uploaded files: metadata and bytes, listed per owner or for everyone,
//! found by content hash for deduplication.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::page::{Listing, Page, PageQuery};
use crate::{Store, StoreError};

/// One uploaded file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// `file-…`.
    pub id: String,
    /// The subject of the principal that uploaded it.
    pub owner: String,
    pub filename: String,
    /// OpenAI's `purpose`, e.g. `assistants`.
    pub purpose: String,
    /// Length of the content.
    pub bytes: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
}

const FILE_COLUMNS: &str = "id, owner, filename, purpose, bytes, sha256, created_ms";

impl Store {
    /// Stores a file and its content (`record.bytes` is its length).
    pub async fn insert_file(&self, record: &FileRecord, content: &[u8]) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO files ({FILE_COLUMNS}, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(record.id.as_str())
        .bind(record.owner.as_str())
        .bind(record.filename.as_str())
        .bind(record.purpose.as_str())
        .bind(record.bytes)
        .bind(record.sha256.as_str())
        .bind(record.created_ms)
        .bind(content)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The file with this id, without its content.
    pub async fn file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    /// The bytes of the file with this id.
    pub async fn file_content(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT content FROM files WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("content")).transpose()?)
    }

    /// One page of the files of `owner` (everyone's when `None`), of one
    /// `purpose` when given. A cursor must name a file of the same owner.
    pub async fn files(
        &self,
        owner: Option<&str>,
        purpose: Option<&str>,
        page: &PageQuery,
    ) -> Result<Page<FileRecord>, StoreError> {
        Listing {
            table: "files",
            columns: FILE_COLUMNS,
            id: "id",
            order: "created_ms",
            scope: owner.map(|o| ("owner", o)).into_iter().collect(),
            filters: purpose.map(|p| ("purpose", p)).into_iter().collect(),
        }
        .page(&self.pool, page, file_from_row)
        .await
    }

    /// Deletes a file and its content; false when there was none. Its
    /// attachments to vector stores are left to the caller.
    pub async fn delete_file(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    /// The earliest file of `owner` whose content has this SHA-256.
    pub async fn file_by_sha256(
        &self,
        owner: &str,
        sha256: &str,
    ) -> Result<Option<FileRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE owner = $1 AND sha256 = $2 \
             ORDER BY created_ms, id LIMIT 1"
        ))
        .bind(owner)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(file_from_row).transpose()
    }
}

fn file_from_row(row: &AnyRow) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        filename: row.try_get("filename")?,
        purpose: row.try_get("purpose")?,
        bytes: row.try_get("bytes")?,
        sha256: row.try_get("sha256")?,
        created_ms: row.try_get("created_ms")?,
    })
}
