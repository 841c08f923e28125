//! Chunks of attached files: text, title, headings, page and embedding,
//! keyed by (store, file number, ordinal). moat-kb's `ChunkKey` is
//! `(file_no << 32) | ordinal` ([`chunk_key`]), its `FileNo` the file number.

use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use super::{parse_json, placeholders, u32_column};
use crate::{Store, StoreError};

/// The key of chunk `ordinal` of file `file_no`: `(file_no << 32) | ordinal`.
pub fn chunk_key(file_no: u32, ordinal: u32) -> u64 {
    (u64::from(file_no) << 32) | u64::from(ordinal)
}

/// The file number and ordinal of a [`chunk_key`].
pub fn split_chunk_key(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, (key & 0xffff_ffff) as u32)
}

/// One chunk of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct KbChunk {
    /// Position in the file, from 0.
    pub ordinal: u32,
    pub text: String,
    /// The document's title.
    pub title: String,
    /// Headings above the chunk, outermost first.
    pub headings: Vec<String>,
    /// Page (or slide) the chunk starts on, where the format has pages.
    pub page: Option<u32>,
    /// The chunk's vector by the store's embedding model, once embedded.
    pub embedding: Option<Vec<f32>>,
}

/// A chunk as read back, with the number of its file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub file_no: u32,
    pub chunk: KbChunk,
}

impl StoredChunk {
    /// Its [`chunk_key`].
    pub fn key(&self) -> u64 {
        chunk_key(self.file_no, self.chunk.ordinal)
    }
}

/// Rows per INSERT: 8 parameters each, well within both databases' limits.
const INSERT_ROWS: usize = 500;
/// Keys per lookup statement.
const LOOKUP_KEYS: usize = 400;

const CHUNK_COLUMNS: &str = "file_no, ordinal, text, title, headings, page, embedding";

impl Store {
    /// Replaces every chunk of file `file_no` of a store with `chunks`, in
    /// one transaction, if the store's embedding model is still
    /// `embedded_by` (the model the chunks' vectors are of; `""` for a
    /// keyword-only store). False, with nothing written, when the model
    /// changed meanwhile (or the store is gone): vectors of two models are
    /// never mixed in one store. The file must be attached.
    ///
    /// The check is an UPDATE of the store's row, first in the transaction:
    /// it takes the write lock on SQLite and the row's lock on PostgreSQL,
    /// so a model change ([`Store::set_embedding_model`]) waits for this
    /// transaction and then clears what it wrote.
    pub async fn replace_chunks(
        &self,
        store_id: &str,
        file_no: u32,
        chunks: &[KbChunk],
        embedded_by: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let current = sqlx::query(
            "UPDATE vector_stores SET next_file_no = next_file_no \
             WHERE id = $1 AND embedding_model = $2",
        )
        .bind(store_id)
        .bind(embedded_by)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !current {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM kb_chunks WHERE store_id = $1 AND file_no = $2")
            .bind(store_id)
            .bind(i64::from(file_no))
            .execute(&mut *tx)
            .await?;
        for batch in chunks.chunks(INSERT_ROWS) {
            insert_chunks(&mut tx, store_id, file_no, batch).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// How many chunks a store has, and how many of them have an embedding.
    pub async fn chunk_counts(&self, store_id: &str) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(embedding) AS embedded \
             FROM kb_chunks WHERE store_id = $1",
        )
        .bind(store_id)
        .fetch_one(&self.pool)
        .await?;
        let count = |name: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(name)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok((count("total")?, count("embedded")?))
    }

    /// Up to `limit` chunks of a store in key order, from just after
    /// `after` (a [`chunk_key`]) or from the start: reading page after page
    /// rebuilds the in-memory indexes without holding every chunk at once.
    pub async fn chunks(
        &self,
        store_id: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        self.chunks_from(store_id, after, limit, "").await
    }

    /// Every chunk of file `file_no` of a store, in order.
    pub async fn chunks_of_file(
        &self,
        store_id: &str,
        file_no: u32,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHUNK_COLUMNS} FROM kb_chunks WHERE store_id = $1 AND file_no = $2 \
             ORDER BY ordinal"
        ))
        .bind(store_id)
        .bind(i64::from(file_no))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| chunk_from_row(row, store_id))
            .collect()
    }

    /// As [`Store::chunks`], only chunks that have no embedding yet.
    pub async fn chunks_missing_embedding(
        &self,
        store_id: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        self.chunks_from(store_id, after, limit, "AND embedding IS NULL")
            .await
    }

    async fn chunks_from(
        &self,
        store_id: &str,
        after: Option<u64>,
        limit: u32,
        only: &str,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        // (-1, -1) sorts before every real key.
        let (file_no, ordinal) = match after.map(split_chunk_key) {
            Some((f, o)) => (i64::from(f), i64::from(o)),
            None => (-1, -1),
        };
        let rows = sqlx::query(&format!(
            "SELECT {CHUNK_COLUMNS} FROM kb_chunks WHERE store_id = $1 \
             AND (file_no > $2 OR (file_no = $2 AND ordinal > $3)) {only} \
             ORDER BY file_no, ordinal LIMIT $4"
        ))
        .bind(store_id)
        .bind(file_no)
        .bind(ordinal)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| chunk_from_row(row, store_id))
            .collect()
    }

    /// The chunks of a store with these keys, in key order; keys with no
    /// chunk are left out.
    pub async fn chunks_by_keys(
        &self,
        store_id: &str,
        keys: &[u64],
    ) -> Result<Vec<StoredChunk>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for batch in keys.chunks(LOOKUP_KEYS) {
            // One primary-key lookup per key, driven by the list of keys: as
            // `store_id = $1 AND (... OR ...)`, SQLite scans the whole store
            // once the list has five keys or more.
            let keys = (0..batch.len())
                .map(|i| format!("(${}, ${})", 2 + 2 * i, 3 + 2 * i))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {CHUNK_COLUMNS} FROM (VALUES {keys}) AS k CROSS JOIN kb_chunks \
                 WHERE store_id = $1 AND file_no = k.column1 AND ordinal = k.column2"
            );
            let mut q = sqlx::query(&sql).bind(store_id);
            for key in batch {
                let (file_no, ordinal) = split_chunk_key(*key);
                q = q.bind(i64::from(file_no)).bind(i64::from(ordinal));
            }
            for row in q.fetch_all(&self.pool).await? {
                found.push(chunk_from_row(&row, store_id)?);
            }
        }
        found.sort_by_key(StoredChunk::key);
        found.dedup_by_key(|c| c.key());
        Ok(found)
    }

    /// Stores the embeddings of chunks by key, in one transaction, where a
    /// chunk has none yet and the store's embedding model is still `model`;
    /// returns the keys set. A chunk replaced meanwhile (its file ingested
    /// again, with vectors) keeps its own vector; a chunk deleted meanwhile
    /// is not there to set.
    pub async fn set_missing_embeddings(
        &self,
        store_id: &str,
        model: &str,
        embeddings: &[(u64, Vec<f32>)],
    ) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut set = Vec::with_capacity(embeddings.len());
        for (key, vector) in embeddings {
            let (file_no, ordinal) = split_chunk_key(*key);
            let updated = sqlx::query(
                "UPDATE kb_chunks SET embedding = $4 \
                 WHERE store_id = $1 AND file_no = $2 AND ordinal = $3 \
                 AND embedding IS NULL AND EXISTS (SELECT 1 FROM vector_stores \
                 WHERE id = $1 AND embedding_model = $5)",
            )
            .bind(store_id)
            .bind(i64::from(file_no))
            .bind(i64::from(ordinal))
            .bind(vector_bytes(vector))
            .bind(model)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated > 0 {
                set.push(*key);
            }
        }
        tx.commit().await?;
        Ok(set)
    }

    /// Deletes every chunk of file `file_no` of a store; returns how many.
    pub async fn delete_chunks(&self, store_id: &str, file_no: u32) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM kb_chunks WHERE store_id = $1 AND file_no = $2")
                .bind(store_id)
                .bind(i64::from(file_no))
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

async fn insert_chunks(
    tx: &mut Transaction<'_, Any>,
    store_id: &str,
    file_no: u32,
    chunks: &[KbChunk],
) -> Result<(), StoreError> {
    let rows = (0..chunks.len())
        .map(|i| format!("({})", placeholders(1 + 8 * i, 8)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO kb_chunks (store_id, {CHUNK_COLUMNS}) VALUES {rows}");
    let mut q = sqlx::query(&sql);
    for chunk in chunks {
        q = q
            .bind(store_id)
            .bind(i64::from(file_no))
            .bind(i64::from(chunk.ordinal))
            .bind(chunk.text.as_str())
            .bind(chunk.title.as_str())
            .bind(serde_json::Value::from(chunk.headings.clone()).to_string())
            .bind(chunk.page.map(i64::from))
            .bind(chunk.embedding.as_deref().map(vector_bytes));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// A vector as little-endian `f32` bytes.
fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn chunk_from_row(row: &AnyRow, store_id: &str) -> Result<StoredChunk, StoreError> {
    let file_no: i64 = row.try_get("file_no")?;
    let ordinal: i64 = row.try_get("ordinal")?;
    let what =
        |field: &str| format!("{field} of chunk {file_no}/{ordinal} of vector store {store_id}");
    let headings: String = row.try_get("headings")?;
    let embedding = match row.try_get::<Option<Vec<u8>>, _>("embedding")? {
        Some(bytes) if bytes.len().is_multiple_of(4) => Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Some(bytes) => {
            return Err(StoreError::Corrupt {
                what: what("embedding"),
                detail: format!("{} bytes is not a whole number of f32", bytes.len()),
            })
        }
        None => None,
    };
    Ok(StoredChunk {
        file_no: u32_column(file_no, || what("file_no"))?,
        chunk: KbChunk {
            ordinal: u32_column(ordinal, || what("ordinal"))?,
            text: row.try_get("text")?,
            title: row.try_get("title")?,
            headings: parse_json(&headings, || what("headings"))?,
            page: row
                .try_get::<Option<i64>, _>("page")?
                .map(|p| u32_column(p, || what("page")))
                .transpose()?,
            embedding,
        },
    })
}
