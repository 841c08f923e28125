//! Web UI sessions: a row per signed-in browser, known by the hash of its
//! cookie token and standing for the key it was opened with. The server
//! decides what a row means (timeouts, the key's state); the store keeps
//! rows and deletes them.

use sqlx::Row as _;

use crate::{Store, StoreError};

/// One session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSessionRecord {
    /// The hash of the cookie token.
    pub token_hash: Vec<u8>,
    /// The stored hash of the API key the session was opened with.
    pub key_hash: Vec<u8>,
    pub created_ms: i64,
    /// The last request seen, as last written (writes are spaced out).
    pub last_seen_ms: i64,
    /// The absolute end of the session, whatever its activity.
    pub expires_ms: i64,
    /// A single sign-on session's identity, sealed (`key_hash` is empty).
    pub identity: Option<Vec<u8>>,
}

impl Store {
    pub async fn insert_ui_session(&self, session: &UiSessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ui_sessions \
             (token_hash, key_hash, created_ms, last_seen_ms, expires_ms, identity) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.token_hash.as_slice())
        .bind(session.key_hash.as_slice())
        .bind(session.created_ms)
        .bind(session.last_seen_ms)
        .bind(session.expires_ms)
        .bind(session.identity.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn ui_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<UiSessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key_hash, created_ms, last_seen_ms, expires_ms, identity FROM ui_sessions \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(UiSessionRecord {
            token_hash: token_hash.to_vec(),
            key_hash: row.try_get("key_hash")?,
            created_ms: row.try_get("created_ms")?,
            last_seen_ms: row.try_get("last_seen_ms")?,
            expires_ms: row.try_get("expires_ms")?,
            identity: row.try_get("identity")?,
        }))
    }

    /// Record activity at `now_ms`.
    pub async fn touch_ui_session(&self, token_hash: &[u8], now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE ui_sessions SET last_seen_ms = $1 WHERE token_hash = $2")
            .bind(now_ms)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Delete one session; whether it existed.
    pub async fn delete_ui_session(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ui_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Delete the sessions past their absolute end or idle since before
    /// `idle_before_ms`; how many.
    pub async fn delete_stale_ui_sessions(
        &self,
        now_ms: i64,
        idle_before_ms: i64,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM ui_sessions WHERE expires_ms <= $1 OR last_seen_ms < $2")
                .bind(now_ms)
                .bind(idle_before_ms)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}
