//! Conversations kept on the server for their owner: OpenAI's
//! `/v1/conversations` objects and items, and moat's list of a caller's
//! own conversations. Every entry point takes the [`Call`].
//!
//! - **Owner.** A conversation is its creator's, named in the store by
//!   the subject's pseudonym (the audit log's), never the clear id.
//! - **Sealed.** Its metadata, title and every item are sealed under the
//!   owner's content key ([`AuditLog::content_key`]), bound to where they
//!   belong (the conversation's id, the item's id), so the store holds no
//!   text and cannot swap one sealed blob for another; erasing the subject
//!   (`moat audit erase --subject`) destroys the key and the conversations
//!   with it.
//! - **Nobody else.** Another caller is answered 404, as if the
//!   conversation did not exist, administrators included; a role with
//!   `read_all_conversations` may read (never change) anyone's, and each
//!   such read names the owner in its audit record (`conversation_of`).
//! - **Retention.** Each write sets the conversation's expiry from the
//!   owner's roles (`conversation_retention_days`, the shortest); an
//!   expired conversation is 404 at once and deleted by
//!   [`Conversations::purge_expired`], which the server runs at start and
//!   every hour.

use std::sync::Arc;

use moat_audit::{AuditLog, ContentKey};
use moat_policy::{Permission, Principal};
use moat_protocol::conversations::{
    Conversation, ConversationDeleted, ConversationExport, ConversationItem, ConversationSummary,
    CreateConversationRequest, CreateItemsRequest, InputItem, ItemListQuery, SummaryQuery,
    UpdateConversationRequest,
};
use moat_protocol::ids::object_id;
use moat_protocol::page::{ListOrder, ListPage};
use moat_protocol::time::now_ms;
use moat_protocol::vector_stores::Metadata;
use moat_protocol::ApiError;
use moat_store::{
    ConversationItemRecord, ConversationRecord, ConversationWrite, NewConversationItem, Store,
    StoreError,
};
use serde::{Deserialize, Serialize};

use crate::knowledge::page_query;
use crate::{Call, GatewayError};

/// The longest title taken from a first message, in characters.
pub const MAX_DERIVED_TITLE_CHARS: usize = 80;
/// The most conversations one search of the list reads (newest first
/// from its cursor); beyond, `has_more` says to go on from `last_id`.
pub const MAX_SEARCHED: usize = 2_000;
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Conversations; cheap to clone.
#[derive(Clone)]
pub struct Conversations {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    log: AuditLog,
}

/// What a conversation says of itself, sealed in its row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Own {
    #[serde(default)]
    metadata: Metadata,
    /// The start of its first user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    derived_title: Option<String>,
}

impl Own {
    fn title(&self) -> Option<String> {
        self.metadata
            .get("title")
            .cloned()
            .or_else(|| self.derived_title.clone())
    }
}

/// What [`Conversations::key_of`] needs of something kept for its owner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owned<'a> {
    pub(crate) owner: &'a str,
    pub(crate) expires_ms: Option<i64>,
    pub(crate) key_id: &'a str,
}

/// A conversation read and opened.
pub(crate) struct Opened {
    pub(crate) record: ConversationRecord,
    pub(crate) key: ContentKey,
    own: Own,
}

/// What the caller means to do with a conversation: reading is open to
/// `read_all_conversations`, changing only to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    Read,
    Change,
}

fn not_found(id: &str) -> ApiError {
    GatewayError::ConversationNotFound(id.to_owned()).into()
}

pub(crate) fn store_error(id: &str, e: StoreError) -> ApiError {
    match e {
        // The owner was erased while this ran: the conversation is gone.
        StoreError::KeyErased => not_found(id),
        StoreError::UnknownCursor { id } => ApiError::invalid_param(
            "after",
            format!("No object with id '{id}' in this listing."),
        ),
        other => {
            tracing::error!(error = %other, "conversation store failure");
            ApiError::unavailable()
        }
    }
}

pub(crate) fn audit_error(e: moat_audit::AuditError) -> ApiError {
    tracing::error!(error = %e, "conversation content key failure");
    ApiError::unavailable()
}

fn conversation_aad(id: &str) -> Vec<u8> {
    format!("moat.conversation\0{id}").into_bytes()
}

fn item_aad(conversation: &str, item: &str) -> Vec<u8> {
    format!("moat.conversation.item\0{conversation}\0{item}").into_bytes()
}

fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The first line of `text`, trimmed, at most
/// [`MAX_DERIVED_TITLE_CHARS`] characters (an ellipsis when cut).
fn derive_title(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut title: String = line.chars().take(MAX_DERIVED_TITLE_CHARS).collect();
    if line.chars().count() > MAX_DERIVED_TITLE_CHARS {
        title.push('…');
    }
    Some(title)
}

/// When a conversation of `principal` changed at `at_ms` expires.
pub(crate) fn expiry(principal: &Principal, at_ms: i64) -> Option<i64> {
    principal
        .conversation_retention_days()
        .map(|days| at_ms.saturating_add(i64::from(days).saturating_mul(DAY_MS)))
}

pub(crate) fn seal<T: Serialize>(
    key: &ContentKey,
    aad: &[u8],
    value: &T,
) -> Result<Vec<u8>, ApiError> {
    let json = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "conversation content not serialized");
        ApiError::internal()
    })?;
    key.seal(aad, &json).map_err(audit_error)
}

pub(crate) fn open<T: for<'de> Deserialize<'de>>(
    key: &ContentKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<T, ApiError> {
    let json = key.open(aad, sealed).ok_or_else(|| {
        tracing::error!("conversation content does not open under its owner's key");
        ApiError::internal()
    })?;
    serde_json::from_slice(&json).map_err(|e| {
        tracing::error!(error = %e, "conversation content not readable");
        ApiError::internal()
    })
}

impl Conversations {
    /// Conversations in `store`, sealed under the content keys of `log`.
    pub fn new(store: Store, log: AuditLog) -> Self {
        Self {
            inner: Arc::new(Inner { store, log }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The subject (pseudonym) conversations of `principal` are kept under.
    pub(crate) fn owner_of(&self, principal: &Principal) -> String {
        self.inner.log.keys().pseudonym(&principal.id)
    }

    /// The caller's content key, made when it has none.
    pub(crate) async fn own_key(&self, principal: &Principal) -> Result<ContentKey, ApiError> {
        self.inner
            .log
            .content_key(&principal.id)
            .await
            .map_err(audit_error)
    }

    /// The conversation `id` as `call` may see it for `intent`; 404 for
    /// one that does not exist, expired, or is not the caller's to see.
    pub(crate) async fn opened(
        &self,
        call: &Call,
        id: &str,
        intent: Intent,
    ) -> Result<Opened, ApiError> {
        let record = self
            .store()
            .conversation(id)
            .await
            .map_err(|e| store_error(id, e))?
            .ok_or_else(|| not_found(id))?;
        let owned = Owned {
            owner: &record.owner,
            expires_ms: record.expires_ms,
            key_id: &record.key_id,
        };
        let key = self
            .key_of(call, owned, intent)
            .await?
            .ok_or_else(|| not_found(id))?;
        let own = open(&key, &conversation_aad(id), &record.sealed)?;
        Ok(Opened { record, key, own })
    }

    /// The content key that opens something `owned` by someone, as
    /// `call` may see it for `intent`; `None` (answered 404, as if it did
    /// not exist) when it expired, is not the caller's to see, or its owner
    /// was erased. A read by a `read_all_conversations` role names the owner
    /// in the request's audit record.
    pub(crate) async fn key_of(
        &self,
        call: &Call,
        owned: Owned<'_>,
        intent: Intent,
    ) -> Result<Option<ContentKey>, ApiError> {
        if owned.expires_ms.is_some_and(|at| at <= now_ms()) {
            return Ok(None);
        }
        if owned.owner != self.owner_of(&call.principal) {
            let may_read =
                intent == Intent::Read && call.principal.may(Permission::ReadAllConversations);
            if !may_read {
                return Ok(None);
            }
            call.trail.conversation_of(owned.owner);
        }
        let Some(key) = self
            .inner
            .log
            .subject_content_key(owned.owner)
            .await
            .map_err(audit_error)?
        else {
            return Ok(None);
        };
        if key.id() != owned.key_id {
            tracing::error!("kept content sealed under a key its owner does not hold");
            return Err(ApiError::internal());
        }
        Ok(Some(key))
    }

    /// Items ready to store: given ids, sealed under `key`.
    fn sealed_items(
        key: &ContentKey,
        conversation: &str,
        items: Vec<InputItem>,
        at_ms: i64,
    ) -> Result<(Vec<NewConversationItem>, Vec<ConversationItem>), ApiError> {
        let kept = with_ids(items);
        let stored = Self::sealed(key, conversation, &kept, at_ms)?;
        Ok((stored, kept))
    }

    /// Items that have their ids, sealed under `key` for `conversation`.
    fn sealed(
        key: &ContentKey,
        conversation: &str,
        items: &[ConversationItem],
        at_ms: i64,
    ) -> Result<Vec<NewConversationItem>, ApiError> {
        items
            .iter()
            .map(|item| {
                Ok(NewConversationItem {
                    sealed: seal(key, &item_aad(conversation, item.id()), item)?,
                    id: item.id().to_owned(),
                    created_ms: at_ms,
                    key_id: key.id().to_owned(),
                })
            })
            .collect()
    }

    /// Adds `items` (ids given) after the conversation's last, as its
    /// owner: what a response in a conversation leaves there.
    pub(crate) async fn append(
        &self,
        call: &Call,
        id: &str,
        items: &[ConversationItem],
    ) -> Result<(), ApiError> {
        let mut opened = self.opened(call, id, Intent::Change).await?;
        let now = now_ms();
        let stored = Self::sealed(&opened.key, id, items, now)?;
        let write = ConversationWrite {
            owner: &opened.record.owner,
            wrapped_key: opened.key.wrapped(),
            at_ms: now,
            expires_ms: expiry(&call.principal, now),
        };
        self.store()
            .append_conversation_items(id, write, &stored)
            .await
            .map_err(|e| store_error(id, e))?
            .ok_or_else(|| not_found(id))?;
        self.title_from(call, &mut opened, items, now).await
    }

    /// Titles the conversation after the first user message of `items`
    /// when it has no title of its own yet.
    async fn title_from(
        &self,
        call: &Call,
        opened: &mut Opened,
        items: &[ConversationItem],
        now: i64,
    ) -> Result<(), ApiError> {
        if opened.own.derived_title.is_some() {
            return Ok(());
        }
        if let Some(title) = items
            .iter()
            .find_map(ConversationItem::user_text)
            .and_then(|t: String| derive_title(&t))
        {
            opened.own.derived_title = Some(title);
            self.rewrite(call, opened, now).await?;
        }
        Ok(())
    }

    /// Every item of the conversation `id`, oldest first, for its owner.
    pub(crate) async fn all_items(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<Vec<ConversationItem>, ApiError> {
        let opened = self.opened(call, id, Intent::Change).await?;
        self.items_of(&opened).await
    }

    async fn items_of(&self, opened: &Opened) -> Result<Vec<ConversationItem>, ApiError> {
        let id = &opened.record.id;
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .conversation_items(id, &page_query(100, ListOrder::Asc, &after, &None))
                .await
                .map_err(|e| store_error(id, e))?;
            for record in &page.items {
                items.push(self.item(opened, record)?);
            }
            after = page.items.last().map(|r| r.id.clone());
            if !page.has_more || after.is_none() {
                break;
            }
        }
        Ok(items)
    }

    fn item(
        &self,
        opened: &Opened,
        record: &ConversationItemRecord,
    ) -> Result<ConversationItem, ApiError> {
        open(
            &opened.key,
            &item_aad(&opened.record.id, &record.id),
            &record.sealed,
        )
    }

    /// `POST /v1/conversations`.
    pub async fn create(
        &self,
        call: &Call,
        request: CreateConversationRequest,
    ) -> Result<Conversation, ApiError> {
        request.validate()?;
        let key = self.own_key(&call.principal).await?;
        let now = now_ms();
        let id = object_id("conv_");
        let items = request.items.unwrap_or_default();
        let (stored, kept) = Self::sealed_items(&key, &id, items, now)?;
        let own = Own {
            metadata: request.metadata.unwrap_or_default(),
            derived_title: kept
                .iter()
                .find_map(ConversationItem::user_text)
                .and_then(|t: String| derive_title(&t)),
        };
        let record = ConversationRecord {
            sealed: seal(&key, &conversation_aad(&id), &own)?,
            id: id.clone(),
            owner: key.subject().to_owned(),
            created_ms: now,
            updated_ms: now,
            expires_ms: expiry(&call.principal, now),
            key_id: key.id().to_owned(),
        };
        self.store()
            .insert_conversation(&record, &stored, key.wrapped())
            .await
            .map_err(|e| store_error(&id, e))?;
        Ok(Conversation::new(id, seconds(now), own.metadata))
    }

    /// `GET /v1/conversations/{id}`.
    pub async fn get(&self, call: &Call, id: &str) -> Result<Conversation, ApiError> {
        let opened = self.opened(call, id, Intent::Read).await?;
        Ok(conversation(&opened.record, opened.own))
    }

    /// `POST /v1/conversations/{id}`: the metadata replaced.
    pub async fn update(
        &self,
        call: &Call,
        id: &str,
        request: UpdateConversationRequest,
    ) -> Result<Conversation, ApiError> {
        request.validate()?;
        let mut opened = self.opened(call, id, Intent::Change).await?;
        opened.own.metadata = request.metadata;
        let now = now_ms();
        self.rewrite(call, &opened, now).await?;
        opened.record.updated_ms = now;
        Ok(conversation(&opened.record, opened.own))
    }

    /// Seals `opened`'s own content again and stores it, with the update
    /// time `now`.
    async fn rewrite(&self, call: &Call, opened: &Opened, now: i64) -> Result<(), ApiError> {
        let id = &opened.record.id;
        let sealed = seal(&opened.key, &conversation_aad(id), &opened.own)?;
        let write = ConversationWrite {
            owner: &opened.record.owner,
            wrapped_key: opened.key.wrapped(),
            at_ms: now,
            expires_ms: expiry(&call.principal, now),
        };
        let done = self
            .store()
            .update_conversation(id, write, opened.key.id(), &sealed)
            .await
            .map_err(|e| store_error(id, e))?;
        if done {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// `DELETE /v1/conversations/{id}`: the conversation and its items.
    pub async fn delete(&self, call: &Call, id: &str) -> Result<ConversationDeleted, ApiError> {
        self.opened(call, id, Intent::Change).await?;
        let deleted = self
            .store()
            .delete_conversation(id)
            .await
            .map_err(|e| store_error(id, e))?;
        if !deleted {
            return Err(not_found(id));
        }
        Ok(ConversationDeleted::new(id))
    }

    /// `POST /v1/conversations/{id}/items`: the items added, in order.
    pub async fn add_items(
        &self,
        call: &Call,
        id: &str,
        request: CreateItemsRequest,
    ) -> Result<ListPage<ConversationItem>, ApiError> {
        request.validate()?;
        let kept = with_ids(request.items);
        self.append(call, id, &kept).await?;
        Ok(ListPage::new(kept, false, |item| item.id()))
    }

    /// `GET /v1/conversations/{id}/items`.
    pub async fn items(
        &self,
        call: &Call,
        id: &str,
        query: &ItemListQuery,
    ) -> Result<ListPage<ConversationItem>, ApiError> {
        query.validate()?;
        let opened = self.opened(call, id, Intent::Read).await?;
        let page = self
            .store()
            .conversation_items(
                id,
                &page_query(query.limit(), query.order, &query.after, &query.before),
            )
            .await
            .map_err(|e| store_error(id, e))?;
        let items = page
            .items
            .iter()
            .map(|record| self.item(&opened, record))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage::new(items, page.has_more, |item| item.id()))
    }

    /// `GET /v1/conversations/{id}/items/{item_id}`.
    pub async fn get_item(
        &self,
        call: &Call,
        id: &str,
        item_id: &str,
    ) -> Result<ConversationItem, ApiError> {
        let opened = self.opened(call, id, Intent::Read).await?;
        let record = self
            .store()
            .conversation_item(id, item_id)
            .await
            .map_err(|e| store_error(id, e))?
            .ok_or_else(|| item_not_found(item_id))?;
        self.item(&opened, &record)
    }

    /// `DELETE /v1/conversations/{id}/items/{item_id}`: the conversation.
    pub async fn delete_item(
        &self,
        call: &Call,
        id: &str,
        item_id: &str,
    ) -> Result<Conversation, ApiError> {
        let mut opened = self.opened(call, id, Intent::Change).await?;
        let now = now_ms();
        let deleted = self
            .store()
            .delete_conversation_item(id, item_id, now)
            .await
            .map_err(|e| store_error(id, e))?;
        if !deleted {
            return Err(item_not_found(item_id));
        }
        opened.record.updated_ms = now;
        Ok(conversation(&opened.record, opened.own))
    }

    /// `GET /v1/moat/conversations`: the caller's own conversations, last
    /// changed first by default; with `q`, those whose title or metadata
    /// contain it (any case).
    pub async fn summaries(
        &self,
        call: &Call,
        query: &SummaryQuery,
    ) -> Result<ListPage<ConversationSummary>, ApiError> {
        query.validate()?;
        let owner = self.owner_of(&call.principal);
        let Some(key) = self
            .inner
            .log
            .subject_content_key(&owner)
            .await
            .map_err(audit_error)?
        else {
            return Ok(ListPage::new(Vec::new(), false, |s| s.id.as_str()));
        };
        let needle = query
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        let limit = query.limit() as usize;
        let now = now_ms();
        let mut found = Vec::new();
        let mut cursor = query.after.clone();
        let mut read = 0usize;
        let has_more = loop {
            let batch = if needle.is_some() {
                100
            } else {
                query.limit() + 1
            };
            let page = self
                .store()
                .conversations(&owner, &page_query(batch, query.order, &cursor, &None))
                .await
                .map_err(|e| store_error("", e))?;
            for record in &page.items {
                read += 1;
                cursor = Some(record.id.clone());
                if record.expires_ms.is_some_and(|at| at <= now) || record.key_id != key.id() {
                    continue;
                }
                let own: Own = open(&key, &conversation_aad(&record.id), &record.sealed)?;
                let summary = summary(record, own);
                if needle.as_deref().is_none_or(|n| matches(&summary, n)) {
                    found.push(summary);
                }
                if found.len() > limit {
                    break;
                }
            }
            if found.len() > limit {
                found.truncate(limit);
                break true;
            }
            if !page.has_more {
                break false;
            }
            if read >= MAX_SEARCHED {
                break true;
            }
        };
        Ok(ListPage::new(found, has_more, |s| s.id.as_str()))
    }

    /// `GET /v1/moat/conversations/{id}/export`: the owner's conversation
    /// with every item, oldest first.
    pub async fn export(&self, call: &Call, id: &str) -> Result<ConversationExport, ApiError> {
        let opened = self.opened(call, id, Intent::Change).await?;
        let items = self.items_of(&opened).await?;
        Ok(ConversationExport {
            object: "moat.conversation.export".to_owned(),
            title: opened.own.title(),
            updated_at: seconds(opened.record.updated_ms),
            conversation: conversation(&opened.record, opened.own),
            items,
        })
    }

    /// Deletes every conversation whose retention ran out by `now_ms`;
    /// how many.
    pub async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.store().delete_expired_conversations(now_ms).await
    }

    /// Deletes every stored response whose retention ran out by `now_ms`;
    /// how many.
    pub async fn purge_expired_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.store().delete_expired_responses(now_ms).await
    }
}

/// Input items as kept, each with a new id of its kind.
pub(crate) fn with_ids(items: Vec<InputItem>) -> Vec<ConversationItem> {
    items
        .into_iter()
        .map(|item| {
            let id = object_id(item.id_prefix());
            item.into_item(id)
        })
        .collect()
}

fn item_not_found(item_id: &str) -> ApiError {
    GatewayError::ConversationItemNotFound(item_id.to_owned()).into()
}

fn conversation(record: &ConversationRecord, own: Own) -> Conversation {
    Conversation::new(record.id.clone(), seconds(record.created_ms), own.metadata)
}

fn summary(record: &ConversationRecord, own: Own) -> ConversationSummary {
    ConversationSummary {
        id: record.id.clone(),
        object: "moat.conversation.summary".to_owned(),
        created_at: seconds(record.created_ms),
        updated_at: seconds(record.updated_ms),
        title: own.title(),
        model: own.metadata.get("model").cloned(),
        metadata: own.metadata,
    }
}

/// `needle` (lower case) is in the summary's title or a metadata value.
fn matches(summary: &ConversationSummary, needle: &str) -> bool {
    summary
        .title
        .iter()
        .chain(summary.metadata.values())
        .any(|text| text.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_the_first_line_cut_short() {
        assert_eq!(
            derive_title("\n  Hello there \nmore").as_deref(),
            Some("Hello there")
        );
        assert_eq!(derive_title(" \n\t"), None);
        let long = "长".repeat(100);
        let title = derive_title(&long).unwrap();
        assert_eq!(title.chars().count(), MAX_DERIVED_TITLE_CHARS + 1);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn sealed_content_is_bound_to_its_place() {
        assert_ne!(conversation_aad("conv_a"), conversation_aad("conv_b"));
        assert_ne!(item_aad("conv_a", "msg_1"), item_aad("conv_a", "msg_2"));
        // The separator keeps ids from running into each other.
        assert_ne!(item_aad("conv_a", "bmsg"), item_aad("conv_ab", "msg"));
    }
}
