//! Stored responses of the Responses API. As with conversations, the store
//! sees owners (subject pseudonyms), ids and times; what was said is sealed
//! by the caller under the owner's content key, the write is refused
//! ([`StoreError::KeyErased`]) unless that key is still the owner's, and a
//! subject's erasure deletes its responses.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::{Store, StoreError};

/// One response as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRecord {
    /// `resp_…`.
    pub id: String,
    /// The owner's pseudonym (an audit subject).
    pub owner: String,
    /// The response it continues (`previous_response_id`).
    pub previous_id: Option<String>,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
    /// When retention deletes it; `None`: kept.
    pub expires_ms: Option<i64>,
    /// The content key that sealed `sealed`.
    pub key_id: String,
    /// The response, its input and instructions, sealed.
    pub sealed: Vec<u8>,
}

const COLUMNS: &str = "id, owner, previous_id, created_ms, expires_ms, key_id, sealed";

impl Store {
    /// Stores a response sealed under the owner's key `wrapped_key`.
    pub async fn insert_response(
        &self,
        record: &ResponseRecord,
        wrapped_key: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.hold_key(&mut tx, &record.owner, wrapped_key).await?;
        sqlx::query(&format!(
            "INSERT INTO responses ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(record.id.as_str())
        .bind(record.owner.as_str())
        .bind(record.previous_id.as_deref())
        .bind(record.created_ms)
        .bind(record.expires_ms)
        .bind(record.key_id.as_str())
        .bind(record.sealed.as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The response with this id.
    pub async fn response(&self, id: &str) -> Result<Option<ResponseRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM responses WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Deletes `owner`'s response `id`; false when it has none such.
    pub async fn delete_response(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM responses WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every response whose retention ran out by `now_ms`; how
    /// many.
    pub async fn delete_expired_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM responses WHERE expires_ms IS NOT NULL AND expires_ms <= $1")
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}

/// Deletes `owner`'s responses inside `tx` (a subject's erasure); how many.
pub(crate) async fn delete_owned(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM responses WHERE owner = $1")
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

fn from_row(row: &AnyRow) -> Result<ResponseRecord, StoreError> {
    Ok(ResponseRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        previous_id: row.try_get("previous_id")?,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        key_id: row.try_get("key_id")?,
        sealed: row.try_get("sealed")?,
    })
}
