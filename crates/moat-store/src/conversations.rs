//! Conversations kept for their owner, and their items in order. The
//! store sees owners (subject pseudonyms), ids and times; what was said is
//! sealed by the caller under the owner's content key (`audit_subject_keys`)
//! before it gets here, and `key_id` says which key. Erasing a subject
//! deletes its conversations (see [`Store::delete_audit_subject`]); every
//! write names the wrapped key it sealed with and is refused
//! ([`StoreError::KeyErased`]) unless that key is still the owner's, checked
//! in the write's own transaction with the key's row locked, so a write
//! racing an erasure cannot leave content behind.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::knowledge::page::Listing;
use crate::{Page, PageQuery, Store, StoreError};

/// One conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    /// `conv_…`.
    pub id: String,
    /// The owner's pseudonym (an audit subject).
    pub owner: String,
    /// Ms since the Unix epoch.
    pub created_ms: i64,
    /// Last change of its content or items.
    pub updated_ms: i64,
    /// When retention deletes it; `None`: kept.
    pub expires_ms: Option<i64>,
    /// The content key that sealed `sealed`.
    pub key_id: String,
    /// Its own content (metadata, title), sealed.
    pub sealed: Vec<u8>,
}

/// An item to add to a conversation; its position is given by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversationItem {
    /// Unique within its conversation (`msg_…`, `fc_…`).
    pub id: String,
    pub created_ms: i64,
    pub key_id: String,
    /// The item, sealed.
    pub sealed: Vec<u8>,
}

/// One item of a conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationItemRecord {
    pub id: String,
    /// Its place in the conversation, from 0; never reused.
    pub position: i64,
    pub created_ms: i64,
    pub key_id: String,
    pub sealed: Vec<u8>,
}

/// What every change of a conversation's content names: whose it is, the
/// owner's content key as stored (wrapped) that sealed what is written,
/// and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationWrite<'a> {
    pub owner: &'a str,
    pub wrapped_key: &'a [u8],
    /// The conversation's new update time.
    pub at_ms: i64,
    /// Its new retention expiry; `None`: kept.
    pub expires_ms: Option<i64>,
}

const CONVERSATION_COLUMNS: &str = "id, owner, created_ms, updated_ms, expires_ms, key_id, sealed";
const ITEM_COLUMNS: &str = "id, position, created_ms, key_id, sealed";

impl Store {
    /// Stores a new conversation with its first items (positions 0, 1, …),
    /// all sealed under the owner's key `wrapped_key`.
    pub async fn insert_conversation(
        &self,
        record: &ConversationRecord,
        items: &[NewConversationItem],
        wrapped_key: &[u8],
    ) -> Result<Vec<ConversationItemRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.hold_key(&mut tx, &record.owner, wrapped_key).await?;
        sqlx::query(&format!(
            "INSERT INTO conversations ({CONVERSATION_COLUMNS}, next_position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(record.id.as_str())
        .bind(record.owner.as_str())
        .bind(record.created_ms)
        .bind(record.updated_ms)
        .bind(record.expires_ms)
        .bind(record.key_id.as_str())
        .bind(record.sealed.as_slice())
        .bind(count(items))
        .execute(&mut *tx)
        .await?;
        let stored = insert_items(&mut tx, &record.id, 0, items).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The conversation with this id.
    pub async fn conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// One page of `owner`'s conversations, by last update (newest first
    /// for [`SortOrder::Desc`](crate::SortOrder::Desc)).
    pub async fn conversations(
        &self,
        owner: &str,
        page: &PageQuery,
    ) -> Result<Page<ConversationRecord>, StoreError> {
        Listing {
            table: "conversations",
            columns: CONVERSATION_COLUMNS,
            id: "id",
            order: "updated_ms",
            scope: vec![("owner", owner)],
            filters: Vec::new(),
        }
        .page(&self.pool, page, conversation_from_row)
        .await
    }

    /// Replaces a conversation's own content (`sealed` under the key
    /// `key_id`); false when the writer's owner has no such conversation.
    pub async fn update_conversation(
        &self,
        id: &str,
        write: ConversationWrite<'_>,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.hold_key(&mut tx, write.owner, write.wrapped_key)
            .await?;
        let done = sqlx::query(
            "UPDATE conversations SET key_id = $2, sealed = $3, updated_ms = $4, expires_ms = $5 \
             WHERE id = $1 AND owner = $6",
        )
        .bind(id)
        .bind(key_id)
        .bind(sealed)
        .bind(write.at_ms)
        .bind(write.expires_ms)
        .bind(write.owner)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a conversation and its items; false when there was none.
    pub async fn delete_conversation(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM conversation_items WHERE conversation_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM conversations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds items after the last one, moving the conversation's update
    /// time and expiry; `None` when the writer's owner has no such
    /// conversation. Appends to one conversation run one after the other
    /// (the update takes its row), so positions never collide, across
    /// replicas too.
    pub async fn append_conversation_items(
        &self,
        id: &str,
        write: ConversationWrite<'_>,
        items: &[NewConversationItem],
    ) -> Result<Option<Vec<ConversationItemRecord>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        self.hold_key(&mut tx, write.owner, write.wrapped_key)
            .await?;
        let row = sqlx::query(
            "UPDATE conversations SET next_position = next_position + $2, updated_ms = $3, \
             expires_ms = $4 WHERE id = $1 AND owner = $5 RETURNING next_position",
        )
        .bind(id)
        .bind(count(items))
        .bind(write.at_ms)
        .bind(write.expires_ms)
        .bind(write.owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let next: i64 = row.try_get("next_position")?;
        let stored = insert_items(&mut tx, id, next - count(items), items).await?;
        tx.commit().await?;
        Ok(Some(stored))
    }

    /// One page of a conversation's items, by position.
    pub async fn conversation_items(
        &self,
        id: &str,
        page: &PageQuery,
    ) -> Result<Page<ConversationItemRecord>, StoreError> {
        Listing {
            table: "conversation_items",
            columns: ITEM_COLUMNS,
            id: "id",
            order: "position",
            scope: vec![("conversation_id", id)],
            filters: Vec::new(),
        }
        .page(&self.pool, page, item_from_row)
        .await
    }

    /// One item of a conversation.
    pub async fn conversation_item(
        &self,
        id: &str,
        item_id: &str,
    ) -> Result<Option<ConversationItemRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} FROM conversation_items \
             WHERE conversation_id = $1 AND id = $2"
        ))
        .bind(id)
        .bind(item_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// Deletes one item (its position is not reused) and moves the
    /// conversation's update time; false when there was no such item.
    pub async fn delete_conversation_item(
        &self,
        id: &str,
        item_id: &str,
        updated_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("DELETE FROM conversation_items WHERE conversation_id = $1 AND id = $2")
                .bind(id)
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
            sqlx::query("UPDATE conversations SET updated_ms = $2 WHERE id = $1")
                .bind(id)
                .bind(updated_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every conversation whose retention ran out by `now_ms`, with
    /// its items; how many.
    pub async fn delete_expired_conversations(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM conversation_items WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE expires_ms IS NOT NULL AND expires_ms <= $1)",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "DELETE FROM conversations WHERE expires_ms IS NOT NULL AND expires_ms <= $1",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Refuses the write in `tx` unless `wrapped` is `subject`'s content
    /// key, and holds that key's row until `tx` ends: an erasure (which
    /// deletes the key, then the conversations) waits for this write and
    /// then deletes what it wrote, or this write waits for the erasure and
    /// finds the key gone. SQLite's transactions run one at a time once
    /// they write; this one writes at once, to take that turn before it
    /// reads the key.
    pub(crate) async fn hold_key(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        subject: &str,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        let sql = match self.kind {
            crate::StoreKind::Postgres => {
                "SELECT subject FROM audit_subject_keys WHERE subject = $1 AND wrapped = $2 \
                 FOR UPDATE"
            }
            crate::StoreKind::Sqlite => {
                // A write that changes nothing takes SQLite's write lock.
                sqlx::query("UPDATE audit_subject_keys SET subject = subject WHERE subject = $1")
                    .bind(subject)
                    .execute(&mut **tx)
                    .await?;
                "SELECT subject FROM audit_subject_keys WHERE subject = $1 AND wrapped = $2"
            }
        };
        let held = sqlx::query(sql)
            .bind(subject)
            .bind(wrapped)
            .fetch_optional(&mut **tx)
            .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::KeyErased),
        }
    }
}

/// Deletes `owner`'s conversations and their items inside `tx` (a
/// subject's erasure); how many conversations.
pub(crate) async fn delete_owned(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
) -> Result<u64, StoreError> {
    sqlx::query(
        "DELETE FROM conversation_items WHERE conversation_id IN \
         (SELECT id FROM conversations WHERE owner = $1)",
    )
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    let done = sqlx::query("DELETE FROM conversations WHERE owner = $1")
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

async fn insert_items(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    first: i64,
    items: &[NewConversationItem],
) -> Result<Vec<ConversationItemRecord>, StoreError> {
    let mut stored = Vec::with_capacity(items.len());
    for (position, item) in (first..).zip(items) {
        sqlx::query(
            "INSERT INTO conversation_items \
             (conversation_id, position, id, created_ms, key_id, sealed) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(conversation_id)
        .bind(position)
        .bind(item.id.as_str())
        .bind(item.created_ms)
        .bind(item.key_id.as_str())
        .bind(item.sealed.as_slice())
        .execute(&mut **tx)
        .await?;
        stored.push(ConversationItemRecord {
            id: item.id.clone(),
            position,
            created_ms: item.created_ms,
            key_id: item.key_id.clone(),
            sealed: item.sealed.clone(),
        });
    }
    Ok(stored)
}

fn count(items: &[NewConversationItem]) -> i64 {
    i64::try_from(items.len()).unwrap_or(i64::MAX)
}

fn conversation_from_row(row: &AnyRow) -> Result<ConversationRecord, StoreError> {
    Ok(ConversationRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        key_id: row.try_get("key_id")?,
        sealed: row.try_get("sealed")?,
    })
}

fn item_from_row(row: &AnyRow) -> Result<ConversationItemRecord, StoreError> {
    Ok(ConversationItemRecord {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        created_ms: row.try_get("created_ms")?,
        key_id: row.try_get("key_id")?,
        sealed: row.try_get("sealed")?,
    })
}
