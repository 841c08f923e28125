//! Vector stores: name, owner, metadata, chunking and expiry policy, the
//! model that embedded their chunks, and when they were last active.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::json_column;
use super::page::{Listing, Page, PageQuery};
use crate::{Store, StoreError};

/// One vector store as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStoreRecord {
    /// `vs_…`.
    pub id: String,
    pub name: String,
    /// The subject of the principal that created it.
    pub owner: String,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
    pub last_active_ms: i64,
    /// OpenAI's `metadata` object.
    pub metadata: Value,
    /// The model that embedded (or will embed) its chunks.
    pub embedding_model: String,
    /// The default chunking strategy of its files.
    pub chunking: Value,
    /// OpenAI's `expires_after` object, if any.
    pub expires_after: Option<Value>,
}

/// What [`Store::update_vector_store`] changes; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorStoreUpdate {
    pub name: Option<String>,
    pub metadata: Option<Value>,
    /// `Some(None)` removes the expiry policy.
    pub expires_after: Option<Option<Value>>,
}

const STORE_COLUMNS: &str = "id, name, owner, created_ms, last_active_ms, metadata, \
                             embedding_model, chunking, expires_after";

impl Store {
    /// Stores a new vector store, with no files.
    pub async fn insert_vector_store(&self, record: &VectorStoreRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO vector_stores ({STORE_COLUMNS}, next_file_no) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)"
        ))
        .bind(record.id.as_str())
        .bind(record.name.as_str())
        .bind(record.owner.as_str())
        .bind(record.created_ms)
        .bind(record.last_active_ms)
        .bind(record.metadata.to_string())
        .bind(record.embedding_model.as_str())
        .bind(record.chunking.to_string())
        .bind(record.expires_after.as_ref().map(Value::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The vector store with this id.
    pub async fn vector_store(&self, id: &str) -> Result<Option<VectorStoreRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {STORE_COLUMNS} FROM vector_stores WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(store_from_row).transpose()
    }

    /// One page of the vector stores of `owner` (everyone's when `None`).
    pub async fn vector_stores(
        &self,
        owner: Option<&str>,
        page: &PageQuery,
    ) -> Result<Page<VectorStoreRecord>, StoreError> {
        Listing {
            table: "vector_stores",
            columns: STORE_COLUMNS,
            id: "id",
            order: "created_ms",
            scope: owner.map(|o| ("owner", o)).into_iter().collect(),
            filters: Vec::new(),
        }
        .page(&self.pool, page, store_from_row)
        .await
    }

    /// Changes name, metadata and expiry policy as given; false when there
    /// is no such store.
    pub async fn update_vector_store(
        &self,
        id: &str,
        update: &VectorStoreUpdate,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM vector_stores WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        if let Some(name) = &update.name {
            sqlx::query("UPDATE vector_stores SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(metadata) = &update.metadata {
            sqlx::query("UPDATE vector_stores SET metadata = $2 WHERE id = $1")
                .bind(id)
                .bind(metadata.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(expires_after) = &update.expires_after {
            sqlx::query("UPDATE vector_stores SET expires_after = $2 WHERE id = $1")
                .bind(id)
                .bind(expires_after.as_ref().map(Value::to_string))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records use of a store at `now_ms` (never moving it back); false
    /// when there is no such store.
    pub async fn touch_vector_store(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let exists = sqlx::query(
            "UPDATE vector_stores SET last_active_ms = $2 \
             WHERE id = $1 AND last_active_ms < $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0;
        Ok(exists || self.vector_store(id).await?.is_some())
    }

    /// Deletes a store with its attached files, their chunks and its
    /// batches, in one transaction; false when there was none.
    pub async fn delete_vector_store(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in ["kb_chunks", "vector_store_files", "file_batches"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE store_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM vector_stores WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Records that the store's chunks are (to be) embedded by `model`.
    /// When that is a change, the stored embeddings of the old model are
    /// cleared in the same transaction, so that every stored vector belongs
    /// to the recorded model and a re-embed can resume from
    /// [`Store::chunks_missing_embedding`]. True when the model changed.
    pub async fn set_embedding_model(&self, id: &str, model: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE vector_stores SET embedding_model = $2 \
             WHERE id = $1 AND embedding_model <> $2",
        )
        .bind(id)
        .bind(model)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if changed {
            sqlx::query("UPDATE kb_chunks SET embedding = NULL WHERE store_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

fn store_from_row(row: &AnyRow) -> Result<VectorStoreRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let expires_after = match row.try_get::<Option<String>, _>("expires_after")? {
        Some(text) => Some(super::parse_json(&text, || {
            format!("expires_after of vector store {id}")
        })?),
        None => None,
    };
    Ok(VectorStoreRecord {
        name: row.try_get("name")?,
        owner: row.try_get("owner")?,
        created_ms: row.try_get("created_ms")?,
        last_active_ms: row.try_get("last_active_ms")?,
        metadata: json_column(row, "metadata", || format!("metadata of vector store {id}"))?,
        embedding_model: row.try_get("embedding_model")?,
        chunking: json_column(row, "chunking", || format!("chunking of vector store {id}"))?,
        expires_after,
        id,
    })
}
