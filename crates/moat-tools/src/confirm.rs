//! One-time confirmation ids for tool calls that wait for a human's approval.
//!
//! An id is `tcf_` and 32 base62 characters from `rand`'s thread-local
//! CSPRNG, seeded by the operating system (about 190 bits): unguessable, so finding it in the map is the
//! check; it is never compared character by character against a secret.
//! Only the owner (the caller's principal id) can take it, once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};

/// Prefix of every confirmation id.
pub const ID_PREFIX: &str = "tcf_";
const ID_RANDOM_CHARS: usize = 32;

/// Too many calls are waiting for confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many tool calls are waiting for confirmation")]
pub struct ConfirmationsFull;

/// Why a confirmation id could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TakeError {
    #[error("unknown confirmation id")]
    Unknown,
    #[error("the confirmation has expired")]
    Expired,
    #[error("the confirmation belongs to another caller")]
    NotYours,
}

struct Pending<T> {
    owner: String,
    value: T,
    expires: Instant,
}

/// Pending calls by confirmation id, in memory.
pub struct Confirmations<T> {
    ttl: Duration,
    max_pending: usize,
    pending: Mutex<HashMap<String, Pending<T>>>,
}

impl<T> Confirmations<T> {
    /// Ids live `ttl`; at most `max_pending` wait at once.
    pub fn new(ttl: Duration, max_pending: usize) -> Self {
        Self {
            ttl,
            max_pending,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Keep `value` for `owner` and return its new one-time id.
    pub fn insert(&self, owner: &str, value: T) -> Result<String, ConfirmationsFull> {
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, p| p.expires > now);
        if pending.len() >= self.max_pending {
            return Err(ConfirmationsFull);
        }
        let id = new_id();
        pending.insert(
            id.clone(),
            Pending {
                owner: owner.to_owned(),
                value,
                expires: now + self.ttl,
            },
        );
        Ok(id)
    }

    /// Take the value for `id`: once, and only by its owner. Another owner's
    /// attempt leaves it in place.
    pub fn take(&self, id: &str, owner: &str) -> Result<T, TakeError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.get(id).ok_or(TakeError::Unknown)?;
        if entry.expires <= Instant::now() {
            pending.remove(id);
            return Err(TakeError::Expired);
        }
        if entry.owner != owner {
            return Err(TakeError::NotYours);
        }
        pending
            .remove(id)
            .map(|p| p.value)
            .ok_or(TakeError::Unknown)
    }

    /// Number of calls waiting (expired ones included until the next insert).
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no call is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> fmt::Debug for Confirmations<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Confirmations")
            .field("ttl", &self.ttl)
            .field("max_pending", &self.max_pending)
            .field("pending", &self.len())
            .finish()
    }
}

/// A new one-time confirmation id: `tcf_` and 32 random alphanumerics
/// from the thread's OS-seeded CSPRNG.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(ID_PREFIX.len() + ID_RANDOM_CHARS);
    id.push_str(ID_PREFIX);
    Alphanumeric.append_string(&mut rng, &mut id, ID_RANDOM_CHARS);
    id
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ids_look_right_and_differ() {
        let c = Confirmations::new(Duration::from_secs(60), 100);
        let a = c.insert("alice", 1).unwrap();
        let b = c.insert("alice", 2).unwrap();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 36, "{id}");
            assert!(id.starts_with("tcf_"));
            assert!(id[4..].chars().all(|ch| ch.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn one_time() {
        let c = Confirmations::new(Duration::from_secs(60), 10);
        let id = c.insert("alice", "call").unwrap();
        assert_eq!(c.take(&id, "alice"), Ok("call"));
        assert_eq!(c.take(&id, "alice"), Err(TakeError::Unknown));
        assert_eq!(c.take("tcf_nope", "alice"), Err(TakeError::Unknown));
    }

    #[test]
    fn not_yours_does_not_consume() {
        let c = Confirmations::new(Duration::from_secs(60), 10);
        let id = c.insert("alice", 7).unwrap();
        assert_eq!(c.take(&id, "mallory"), Err(TakeError::NotYours));
        assert_eq!(c.take(&id, "mallory"), Err(TakeError::NotYours));
        assert_eq!(c.take(&id, "alice"), Ok(7));
    }

    #[test]
    fn expiry() {
        let c = Confirmations::new(Duration::from_millis(30), 10);
        let id = c.insert("alice", 1).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.take(&id, "alice"), Err(TakeError::Expired));
        assert_eq!(c.take(&id, "alice"), Err(TakeError::Unknown));
    }

    #[test]
    fn capacity_counts_only_live_ids() {
        let c = Confirmations::new(Duration::from_millis(40), 2);
        let first = c.insert("alice", 1).unwrap();
        c.insert("alice", 2).unwrap();
        assert_eq!(c.insert("alice", 3), Err(ConfirmationsFull));
        // Taking one frees a place.
        c.take(&first, "alice").unwrap();
        c.insert("bob", 4).unwrap();
        assert_eq!(c.insert("bob", 5), Err(ConfirmationsFull));
        // Expired ones free theirs.
        std::thread::sleep(Duration::from_millis(80));
        c.insert("bob", 6).unwrap();
        assert_eq!(c.len(), 1);
    }
}
