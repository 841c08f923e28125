//! Tool calls parked until their caller decides: sealed bytes under a
//! one-time id, bound to their owner, kept until taken or expired. The
//! store never sees what is inside (the server seals it), so any replica
//! can resume a parked call and a restart does not lose it.

use sqlx::Row as _;

use crate::{Store, StoreError};

/// One parked call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedCall {
    /// The one-time confirmation id (`tcf_…`).
    pub id: String,
    /// The principal that may decide it.
    pub owner: String,
    /// When it stops being decidable (ms since the Unix epoch).
    pub expires_ms: i64,
    /// The parked state, sealed by the server.
    pub sealed: Vec<u8>,
}

/// Why a call could not be parked.
#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    /// `max_pending` calls are parked already.
    #[error("too many tool calls are waiting for confirmation")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Park `call` unless `max_pending` unexpired calls are parked already;
    /// expired ones are deleted first.
    pub async fn park_call(
        &self,
        call: &ParkedCall,
        now_ms: i64,
        max_pending: i64,
    ) -> Result<(), ParkError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        sqlx::query("DELETE FROM tool_confirmations WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let parked: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tool_confirmations")
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .try_get("n")
            .map_err(StoreError::from)?;
        if parked >= max_pending {
            return Err(ParkError::Full);
        }
        sqlx::query(
            "INSERT INTO tool_confirmations (id, owner, expires_ms, sealed) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(call.id.as_str())
        .bind(call.owner.as_str())
        .bind(call.expires_ms)
        .bind(call.sealed.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Take the call parked under `id` for `owner`, once: it is deleted in
    /// the same statement, so two replicas cannot both take it. `None` when
    /// there is no such call, it belongs to someone else (left in place),
    /// or it has expired (deleted).
    pub async fn take_parked_call(
        &self,
        id: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<Option<ParkedCall>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM tool_confirmations WHERE id = $1 AND owner = $2 \
             RETURNING expires_ms, sealed",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_ms: i64 = row.try_get("expires_ms")?;
        if expires_ms <= now_ms {
            return Ok(None);
        }
        Ok(Some(ParkedCall {
            id: id.to_owned(),
            owner: owner.to_owned(),
            expires_ms,
            sealed: row.try_get("sealed")?,
        }))
    }
}
