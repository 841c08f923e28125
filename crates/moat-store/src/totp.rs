//! Second factors (TOTP) of API keys: the sealed shared secret, and the
//! newest time step a code was accepted for, so that no code is accepted
//! twice (across replicas too: the step only ever moves forward, in one
//! conditional update).

use sqlx::Row as _;

use crate::{Store, StoreError};

/// A key's second factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub key_id: String,
    /// The shared secret, sealed.
    pub sealed: Vec<u8>,
    pub created_ms: i64,
    /// The newest step a code was accepted for; 0: none yet.
    pub last_step: i64,
}

impl Store {
    /// Sets `key_id`'s second factor (replacing one it had); no code is
    /// accepted for it yet.
    pub async fn put_totp(
        &self,
        key_id: &str,
        sealed: &[u8],
        created_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM totp_factors WHERE key_id = $1")
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO totp_factors (key_id, sealed, created_ms, last_step) VALUES ($1, $2, $3, 0)",
        )
        .bind(key_id)
        .bind(sealed)
        .bind(created_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `key_id`'s second factor, if it has one.
    pub async fn totp(&self, key_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key_id, sealed, created_ms, last_step FROM totp_factors WHERE key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TotpRecord {
                key_id: row.try_get("key_id")?,
                sealed: row.try_get("sealed")?,
                created_ms: row.try_get("created_ms")?,
                last_step: row.try_get("last_step")?,
            })
        })
        .transpose()
    }

    /// Records that a code of `step` was accepted for `key_id`; false when
    /// one of that step or a later one already was (a replay).
    pub async fn use_totp_step(&self, key_id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $2 WHERE key_id = $1 AND last_step < $2",
        )
        .bind(key_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes `key_id`'s second factor; false when it had none.
    pub async fn delete_totp(&self, key_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM totp_factors WHERE key_id = $1")
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
