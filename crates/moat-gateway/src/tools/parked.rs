//! Where a tool call waits for its caller's decision. With a store (the
//! server's database), the parked conversation is sealed with AES-256-GCM
//! under a key derived from the server secret and kept in the database:
//! any replica sharing the database and the secret can resume it, and a
//! restart keeps it. Without one (library use, tests), it stays in this
//! process's memory.
//!
//! The sealed bytes hold the conversation in clear text to the key's
//! holder (the caller's own messages, not yet guarded), which is why they
//! are sealed, and bound to their id and owner so a row cannot be moved.

use std::time::Duration;

use moat_protocol::time::now_ms;
use moat_protocol::ApiError;
use moat_store::seal::{SealingKey, NONCE_LEN};
use moat_store::{ParkError, ParkedCall, Store};
use moat_tools::Confirmations;

use super::run::Pending;
use crate::GatewayError;

pub(crate) enum Parked {
    Memory(Confirmations<Pending>),
    Store {
        store: Store,
        cipher: Box<SealingKey>,
        ttl: Duration,
        max_pending: usize,
    },
}

fn full() -> ApiError {
    GatewayError::ParkedFull.into()
}

fn unavailable() -> ApiError {
    GatewayError::ParkedUnavailable.into()
}

/// What the sealed bytes are bound to.
fn associated(id: &str, owner: &str) -> Vec<u8> {
    [id.as_bytes(), b"\0", owner.as_bytes()].concat()
}

impl Parked {
    pub(crate) fn in_store(
        store: Store,
        key: &[u8; 32],
        ttl: Duration,
        max_pending: usize,
    ) -> Self {
        Self::Store {
            store,
            cipher: Box::new(SealingKey::new(key)),
            ttl,
            max_pending,
        }
    }

    /// Park `pending` for `owner`; the one-time id to decide it with.
    pub(crate) async fn park(&self, owner: &str, pending: Pending) -> Result<String, ApiError> {
        let (store, cipher, ttl, max_pending) = match self {
            Self::Memory(memory) => return memory.insert(owner, pending).map_err(|_| full()),
            Self::Store {
                store,
                cipher,
                ttl,
                max_pending,
            } => (store, cipher, *ttl, *max_pending),
        };
        let id = moat_tools::new_confirmation_id();
        let plain = serde_json::to_vec(&pending).map_err(|error| {
            tracing::error!(%error, "cannot serialize a parked tool call");
            ApiError::internal()
        })?;
        let sealed = cipher
            .seal(&associated(&id, owner), &plain)
            .map_err(|_| ApiError::internal())?;
        let now = now_ms();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let call = ParkedCall {
            id: id.clone(),
            owner: owner.to_owned(),
            expires_ms: now.saturating_add(ttl_ms),
            sealed,
        };
        let max = i64::try_from(max_pending).unwrap_or(i64::MAX);
        match store.park_call(&call, now, max).await {
            Ok(()) => Ok(id),
            Err(ParkError::Full) => Err(full()),
            Err(ParkError::Store(error)) => {
                tracing::error!(%error, "cannot park a tool call");
                Err(unavailable())
            }
        }
    }

    /// The call parked under `id` for `owner`, once. `None`: none (decided,
    /// expired, never issued, another caller's).
    pub(crate) async fn take(&self, id: &str, owner: &str) -> Result<Option<Pending>, ApiError> {
        let (store, cipher) = match self {
            Self::Memory(memory) => return Ok(memory.take(id, owner).ok()),
            Self::Store { store, cipher, .. } => (store, cipher),
        };
        let call = match store.take_parked_call(id, owner, now_ms()).await {
            Ok(Some(call)) => call,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::error!(%error, "cannot resume a parked tool call");
                return Err(unavailable());
            }
        };
        if call.sealed.len() < NONCE_LEN {
            tracing::warn!("a parked tool call is too short to be sealed; ignored");
            return Ok(None);
        }
        let Some(plain) = cipher.open(&associated(id, owner), &call.sealed) else {
            // Another server secret, or a changed row.
            tracing::warn!("a parked tool call does not open with this server's key; ignored");
            return Ok(None);
        };
        match serde_json::from_slice(&plain) {
            Ok(pending) => Ok(Some(pending)),
            Err(error) => {
                tracing::warn!(%error, "a parked tool call cannot be read back; ignored");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::VecDeque;

    use moat_protocol::chat::{ChatCompletionRequest, ChatMessage, Role};

    use super::*;
    use crate::tools::Conversation;

    const PHONE: &str = "13812345678";

    fn pending() -> Pending {
        Pending {
            conversation: Conversation {
                request: ChatCompletionRequest {
                    model: "m".into(),
                    messages: vec![ChatMessage::text(Role::User, format!("call me on {PHONE}"))],
                    ..ChatCompletionRequest::default()
                },
                offered: vec!["send_email".into()],
                client_tools: vec!["mine".into()],
                steps: 1,
                invalid: 0,
                grounding: None,
            },
            calls: VecDeque::new(),
        }
    }

    /// A store in a temporary directory, calls parked in it, and the raw
    /// row of one call parked for `key_a` (taken out of the store).
    async fn parked_row() -> (tempfile::TempDir, Store, Parked, ParkedCall) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("moat.db").display().to_string())
            .await
            .unwrap();
        let parked = Parked::in_store(store.clone(), &[7; 32], Duration::from_secs(60), 10);
        let id = parked.park("key_a", pending()).await.unwrap();
        let row = store
            .take_parked_call(&id, "key_a", now_ms())
            .await
            .unwrap()
            .unwrap();
        (dir, store, parked, row)
    }

    #[tokio::test]
    async fn the_store_holds_only_sealed_bytes_and_they_round_trip() {
        let (_dir, _store, parked, row) = parked_row().await;
        let bytes = String::from_utf8_lossy(&row.sealed);
        assert!(
            !bytes.contains(PHONE) && !bytes.contains("send_email"),
            "{bytes}"
        );

        let id = parked.park("key_a", pending()).await.unwrap();
        let back = parked.take(&id, "key_a").await.unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(pending()).unwrap()
        );
        assert!(parked.take(&id, "key_a").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_sealed_call_moved_to_another_owner_does_not_open() {
        let (_dir, store, parked, mut row) = parked_row().await;
        // The same bytes under another owner.
        row.owner = "key_b".into();
        store.park_call(&row, now_ms(), 10).await.unwrap();
        assert!(parked.take(&row.id, "key_b").await.unwrap().is_none());
    }
}
