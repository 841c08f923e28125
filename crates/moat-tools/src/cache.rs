//! Results of successful calls, kept for the tool's `cache_ttl` and keyed by
//! (scope, tool, canonical arguments) so one caller never sees another's.
//!
//! A small map under a mutex, bounded in entries and in bytes; the entry
//! closest to expiry is dropped first when full. Tool calls are slow (HTTP)
//! and few, so a lock per lookup costs nothing that matters.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Most entries kept.
pub const MAX_ENTRIES: usize = 10_000;
/// Most bytes of content kept, all entries together.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Cache counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    scope: String,
    tool: String,
    arguments: String,
}

struct Entry {
    content: String,
    status: u16,
    expires: Instant,
    seq: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// (expiry, insertion number) → key: eviction order.
    by_expiry: BTreeMap<(Instant, u64), Key>,
    bytes: usize,
    next_seq: u64,
}

/// The result cache shared by all clones of a [`crate::ToolExecutor`].
#[derive(Default)]
pub(crate) struct ResultCache {
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    max_entries: usize,
    max_bytes: usize,
}

impl ResultCache {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            ..Self::default()
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// A fresh result, counting a hit or a miss.
    pub(crate) fn get(&self, scope: &str, tool: &str, arguments: &Value) -> Option<(String, u16)> {
        let key = key(scope, tool, arguments);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let found = match state.entries.get(&key) {
            Some(entry) if entry.expires > now => Some((entry.content.clone(), entry.status)),
            Some(_) => {
                state.remove(&key);
                None
            }
            None => None,
        };
        drop(state);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub(crate) fn insert(
        &self,
        scope: &str,
        tool: &str,
        arguments: &Value,
        content: &str,
        status: u16,
        ttl: Duration,
    ) {
        if content.len() > self.max_bytes {
            return;
        }
        let key = key(scope, tool, arguments);
        let now = Instant::now();
        let Some(expires) = now.checked_add(ttl) else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.remove(&key);
        // Expired entries first, then those closest to expiry.
        while let Some((&(when, seq), _)) = state.by_expiry.first_key_value() {
            let full = state.entries.len() >= self.max_entries
                || state.bytes + content.len() > self.max_bytes;
            if when > now && !full {
                break;
            }
            if let Some(old) = state.by_expiry.remove(&(when, seq)) {
                state.remove(&old);
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.bytes += content.len();
        state.by_expiry.insert((expires, seq), key.clone());
        state.entries.insert(
            key,
            Entry {
                content: content.to_owned(),
                status,
                expires,
                seq,
            },
        );
    }
}

impl State {
    fn remove(&mut self, key: &Key) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.content.len();
            self.by_expiry.remove(&(entry.expires, entry.seq));
        }
    }
}

fn key(scope: &str, tool: &str, arguments: &Value) -> Key {
    let mut canonical = String::new();
    write_canonical(arguments, &mut canonical);
    Key {
        scope: scope.to_owned(),
        tool: tool.to_owned(),
        arguments: canonical,
    }
}

/// JSON with object keys sorted at every level: equal arguments, equal text.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "s"}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": "s", "y": [1, {"c": 3, "d": 2}]}, "b": 1}"#)
                .unwrap();
        let (mut ca, mut cb) = (String::new(), String::new());
        write_canonical(&a, &mut ca);
        write_canonical(&b, &mut cb);
        assert_eq!(ca, cb);
        assert_eq!(ca, r#"{"a":{"x":"s","y":[1,{"c":3,"d":2}]},"b":1}"#);
    }

    #[test]
    fn keyed_by_scope_tool_and_arguments() {
        let cache = ResultCache::new(10, 1000);
        cache.insert("alice", "t", &json!({"a": 1, "b": 2}), "r", 200, TTL);
        assert_eq!(
            cache.get("alice", "t", &json!({"b": 2, "a": 1})),
            Some(("r".into(), 200))
        );
        assert_eq!(cache.get("bob", "t", &json!({"a": 1, "b": 2})), None);
        assert_eq!(cache.get("alice", "u", &json!({"a": 1, "b": 2})), None);
        assert_eq!(cache.get("alice", "t", &json!({"a": 1})), None);
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 3 });
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let cache = ResultCache::new(3, 10);
        for i in 0..5 {
            cache.insert("s", "t", &json!(i), "x", 200, TTL + Duration::from_secs(i));
        }
        let state = cache.state.lock().unwrap();
        assert_eq!(state.entries.len(), 3);
        assert_eq!(state.by_expiry.len(), 3);
        drop(state);
        // The ones closest to expiry went first.
        assert!(cache.get("s", "t", &json!(0)).is_none());
        assert!(cache.get("s", "t", &json!(4)).is_some());
        cache.insert("s", "t", &json!("big"), "0123456789", 200, TTL * 2);
        let state = cache.state.lock().unwrap();
        assert!(state.bytes <= 10, "{}", state.bytes);
        assert_eq!(state.entries.len(), 1);
        drop(state);
        cache.insert("s", "t", &json!("too big"), "01234567890", 200, TTL);
        assert!(cache.get("s", "t", &json!("too big")).is_none());
    }

    #[test]
    fn expired_entries_miss() {
        let cache = ResultCache::new(10, 100);
        cache.insert("s", "t", &json!({}), "r", 200, Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("s", "t", &json!({})).is_none());
        assert!(cache.state.lock().unwrap().entries.is_empty());
    }
}
