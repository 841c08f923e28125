//! Counters in this process: right for one replica.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{gcra, Admit, Counters, LimitError};

/// In-memory counters; a restart starts every bucket full and every
/// stream count at zero (daily tokens are seeded from the store by the
/// caller).
#[derive(Debug, Default)]
pub struct MemoryCounters {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    arrivals: HashMap<String, i64>,
    streams: HashMap<String, u32>,
    /// (bucket, day) → tokens; days other than the newest are dropped.
    tokens: HashMap<(String, String), u64>,
    newest_day: String,
}

impl MemoryCounters {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every update
        // is a single assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn take(&self, bucket: &str, per_minute: u32, now_ms: i64) -> Result<Admit, LimitError> {
        let mut state = self.state();
        let tat = state.arrivals.get(bucket).copied().unwrap_or(0);
        let (admit, next) = gcra(tat, per_minute, now_ms);
        if admit.allowed {
            state.arrivals.insert(bucket.to_owned(), next);
        }
        Ok(admit)
    }

    async fn acquire(&self, bucket: &str, limit: u32) -> Result<bool, LimitError> {
        let mut state = self.state();
        let running = state.streams.entry(bucket.to_owned()).or_insert(0);
        if *running >= limit {
            return Ok(false);
        }
        *running += 1;
        Ok(true)
    }

    async fn release(&self, bucket: &str) -> Result<(), LimitError> {
        let mut state = self.state();
        if let Some(running) = state.streams.get_mut(bucket) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                state.streams.remove(bucket);
            }
        }
        Ok(())
    }

    async fn add_tokens(&self, bucket: &str, day: &str, tokens: u64) -> Result<u64, LimitError> {
        let mut state = self.state();
        if day > state.newest_day.as_str() {
            state.newest_day = day.to_owned();
            state.tokens.retain(|(_, d), _| d.as_str() >= day);
        }
        let total = state
            .tokens
            .entry((bucket.to_owned(), day.to_owned()))
            .or_insert(0);
        *total = total.saturating_add(tokens);
        Ok(*total)
    }

    async fn tokens(&self, bucket: &str, day: &str) -> Result<u64, LimitError> {
        let state = self.state();
        Ok(state
            .tokens
            .get(&(bucket.to_owned(), day.to_owned()))
            .copied()
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn buckets_are_separate() {
        let c = MemoryCounters::new();
        assert!(c.take("a", 1, 0).await.unwrap().allowed);
        assert!(!c.take("a", 1, 0).await.unwrap().allowed);
        assert!(c.take("b", 1, 0).await.unwrap().allowed);
        assert!(c.take("a", 1, 60_000).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn streams_are_counted_up_to_the_limit() {
        let c = MemoryCounters::new();
        assert!(c.acquire("k", 2).await.unwrap());
        assert!(c.acquire("k", 2).await.unwrap());
        assert!(!c.acquire("k", 2).await.unwrap());
        c.release("k").await.unwrap();
        assert!(c.acquire("k", 2).await.unwrap());
    }

    #[tokio::test]
    async fn tokens_add_up_per_day_and_old_days_go() {
        let c = MemoryCounters::new();
        assert_eq!(c.add_tokens("k", "2026-11-24", 10).await.unwrap(), 10);
        assert_eq!(c.add_tokens("k", "2026-11-24", 5).await.unwrap(), 15);
        assert_eq!(c.add_tokens("k", "2026-11-25", 1).await.unwrap(), 1);
        assert_eq!(c.tokens("k", "2026-11-24").await.unwrap(), 0);
        assert_eq!(c.tokens("k", "2026-11-25").await.unwrap(), 1);
    }
}
