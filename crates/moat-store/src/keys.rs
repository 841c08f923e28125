//! API keys: only a keyed hash of each secret is stored, never the secret,
//! plus a revision counter that servers poll to refresh their key cache.

use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::{Store, StoreError};

/// One API key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Stable identifier chosen by the caller, e.g. `key_3fA9…`.
    pub id: String,
    /// What the key is for, as given by an administrator.
    pub name: String,
    /// Displayable start of the key, e.g. `moat_Ab12…`.
    pub hint: String,
    /// Keyed hash of the secret (32 bytes); unique across keys.
    pub hash: Vec<u8>,
    /// Role names granted to the key.
    pub roles: Vec<String>,
    /// Model allow-list (globs) of the key itself; `None`: whatever the roles allow.
    pub models: Option<Vec<String>>,
    /// When the key was created (ms since the Unix epoch).
    pub created_ms: i64,
    /// When the key stops working, if ever.
    pub expires_ms: Option<i64>,
    /// When the key was revoked, if it was.
    pub revoked_ms: Option<i64>,
    /// When the key was last used, as far as recorded.
    pub last_used_ms: Option<i64>,
    /// When the key was created, revoked or rotated last.
    pub updated_ms: i64,
}

const KEY_COLUMNS: &str = "id, name, hint, hash, roles, models, created_ms, expires_ms, \
                           revoked_ms, last_used_ms, updated_ms";

impl Store {
    /// Stores a new key; a key with the same id or hash is refused with
    /// [`StoreError::DuplicateKey`].
    pub async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(key.id.as_str())
        .bind(key.name.as_str())
        .bind(key.hint.as_str())
        .bind(key.hash.as_slice())
        .bind(json_list(&key.roles))
        .bind(key.models.as_deref().map(json_list))
        .bind(key.created_ms)
        .bind(key.expires_ms)
        .bind(key.revoked_ms)
        .bind(key.last_used_ms)
        .bind(key.updated_ms)
        .execute(&mut *tx)
        .await
        .map_err(duplicate_key)?;
        bump_keys_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every key, revoked and expired ones included, oldest first.
    pub async fn keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys"))
            .fetch_all(&self.pool)
            .await?;
        let mut keys = rows
            .iter()
            .map(key_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // Sorted here rather than in SQL: the databases' text collations differ.
        keys.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(keys)
    }

    /// The key with this id.
    pub async fn key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// The key whose secret has this keyed hash.
    pub async fn key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Revokes a key at `now_ms`; false when there is no such key or it was
    /// revoked already.
    pub async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET revoked_ms = $2, updated_ms = $2 \
             WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if changed {
            bump_keys_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Gives a key a new secret: replaces its hash and hint at `now_ms`; false
    /// when there is no such key or it is revoked. A hash that another key
    /// has is refused with [`StoreError::DuplicateKey`].
    pub async fn rotate_key(
        &self,
        id: &str,
        hash: &[u8],
        hint: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET hash = $2, hint = $3, updated_ms = $4 \
             WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(hash)
        .bind(hint)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(duplicate_key)?
        .rows_affected()
            > 0;
        if changed {
            bump_keys_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// A number that changes whenever a key is inserted, revoked or rotated
    /// (0 before the first key); servers poll it to know when to reload keys.
    pub async fn keys_revision(&self) -> Result<i64, StoreError> {
        let revision = sqlx::query("SELECT value FROM revisions WHERE scope = 'api_keys'")
            .fetch_optional(&self.pool)
            .await?;
        match revision {
            Some(row) => Ok(row.try_get("value")?),
            None => Ok(0),
        }
    }

    /// Records key use: `last_used_ms` becomes the later of the stored and
    /// the given time for each `(id, ms)`. Unknown ids are skipped; the keys
    /// revision does not change.
    pub async fn touch_keys(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, ms) in used {
            sqlx::query(
                "UPDATE api_keys SET last_used_ms = $2 \
                 WHERE id = $1 AND (last_used_ms IS NULL OR last_used_ms < $2)",
            )
            .bind(id.as_str())
            .bind(*ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether a key with role `admin` exists that is neither revoked nor
    /// expired at `now_ms`.
    pub async fn active_admin_exists(&self, now_ms: i64) -> Result<bool, StoreError> {
        let rows = sqlx::query(
            "SELECT id, roles FROM api_keys \
             WHERE revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1)",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let roles = parse_list(row.try_get("roles")?, || format!("roles of API key {id}"))?;
            if roles.iter().any(|role| role == "admin") {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Counts one change to the keys, inside the transaction that makes it.
async fn bump_keys_revision(tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
    sqlx::query("UPDATE revisions SET value = value + 1 WHERE scope = 'api_keys'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Maps a unique-constraint violation to the field it is about.
fn duplicate_key(err: sqlx::Error) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => {
            // PostgreSQL names the index; SQLite says "…: api_keys.hash".
            let on_hash =
                db.constraint() == Some("api_keys_hash") || db.message().contains("api_keys.hash");
            StoreError::DuplicateKey {
                field: if on_hash { "hash" } else { "id" },
            }
        }
        _ => StoreError::Query(err),
    }
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let roles = parse_list(row.try_get("roles")?, || format!("roles of API key {id}"))?;
    let models = match row.try_get::<Option<String>, _>("models")? {
        Some(models) => Some(parse_list(models, || format!("models of API key {id}"))?),
        None => None,
    };
    Ok(ApiKeyRecord {
        name: row.try_get("name")?,
        hint: row.try_get("hint")?,
        hash: row.try_get("hash")?,
        roles,
        models,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        id,
    })
}

/// A list of names as a JSON array.
fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items).to_string()
}

fn parse_list(text: String, what: impl FnOnce() -> String) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: e.to_string(),
    })
}
