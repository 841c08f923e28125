//! Counters behind the rate limits and quotas: a token bucket of requests
//! per minute (GCRA: one "theoretical arrival time" per bucket), concurrent
//! streams, and tokens per UTC day. [`MemoryCounters`] for one replica,
//! [`RedisCounters`] when several replicas share the limits.

mod memory;
mod redis;

use async_trait::async_trait;

pub use self::memory::MemoryCounters;
pub use self::redis::RedisCounters;

/// What a counter store failed to do (Redis unreachable...).
#[derive(Debug, thiserror::Error)]
#[error("rate-limit counters: {0}")]
pub struct LimitError(pub String);

/// The answer of a token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admit {
    /// The request may go ahead (and consumed one token).
    pub allowed: bool,
    /// Requests per minute of this bucket.
    pub limit: u32,
    /// Requests left right now after this one.
    pub remaining: u32,
    /// When refused: milliseconds until one request is allowed again.
    pub retry_after_ms: u64,
    /// Milliseconds until the bucket is full again.
    pub reset_ms: u64,
}

/// Where the counters live.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Take one request from the bucket `bucket` that holds `per_minute`
    /// requests and refills at `per_minute` per 60 s; it starts full.
    async fn take(&self, bucket: &str, per_minute: u32, now_ms: i64) -> Result<Admit, LimitError>;

    /// Count one more running stream under `bucket` if fewer than `limit`
    /// run; `false` when `limit` already run (nothing is counted then).
    async fn acquire(&self, bucket: &str, limit: u32) -> Result<bool, LimitError>;

    /// One stream counted by a successful [`Counters::acquire`] ended.
    async fn release(&self, bucket: &str) -> Result<(), LimitError>;

    /// Add `tokens` to `bucket`'s count for `day` (`YYYY-MM-DD`); returns
    /// the new total.
    async fn add_tokens(&self, bucket: &str, day: &str, tokens: u64) -> Result<u64, LimitError>;

    /// Tokens counted for `bucket` on `day`.
    async fn tokens(&self, bucket: &str, day: &str) -> Result<u64, LimitError>;
}

/// The GCRA step shared by both stores, in microseconds: given the stored
/// theoretical arrival time `tat_us` (0 when none), return the answer and
/// the new stored value (unchanged when refused).
pub(crate) fn gcra(tat_us: i64, per_minute: u32, now_ms: i64) -> (Admit, i64) {
    let per_minute = per_minute.max(1);
    let period_us: i64 = 60_000_000;
    // At least 1 µs, so absurd limits cannot divide by zero.
    let interval_us = (period_us / i64::from(per_minute)).max(1);
    let now_us = now_ms.saturating_mul(1000);
    let tat = tat_us.max(now_us);
    // A full bucket lets `per_minute` requests through at once.
    let tolerance_us = period_us - interval_us;
    let to_ms = |us: i64| u64::try_from((us + 999) / 1000).unwrap_or(0);
    if tat - now_us > tolerance_us {
        let admit = Admit {
            allowed: false,
            limit: per_minute,
            remaining: 0,
            retry_after_ms: to_ms(tat - now_us - tolerance_us),
            reset_ms: to_ms(tat - now_us),
        };
        return (admit, tat_us);
    }
    let new_tat = tat + interval_us;
    let left = (now_us + period_us - new_tat) / interval_us;
    let admit = Admit {
        allowed: true,
        limit: per_minute,
        remaining: u32::try_from(left.max(0)).unwrap_or(0),
        retry_after_ms: 0,
        reset_ms: to_ms(new_tat - now_us),
    };
    (admit, new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_the_whole_minute_through_then_refills_evenly() {
        let mut tat = 0;
        let now = 1_000_000;
        for i in 0..6 {
            let (admit, next) = gcra(tat, 6, now);
            assert!(admit.allowed, "request {i}");
            assert_eq!(admit.remaining, 5 - i);
            tat = next;
        }
        let (admit, same) = gcra(tat, 6, now);
        assert!(!admit.allowed);
        assert_eq!(same, tat);
        assert_eq!(admit.retry_after_ms, 10_000);
        assert_eq!(admit.reset_ms, 60_000);
        // One interval later exactly one more fits.
        let (admit, next) = gcra(tat, 6, now + 10_000);
        assert!(admit.allowed);
        assert_eq!(admit.remaining, 0);
        let (admit, _) = gcra(next, 6, now + 10_000);
        assert!(!admit.allowed);
        // After a quiet minute the bucket is full again.
        let (admit, _) = gcra(next, 6, now + 80_000);
        assert!(admit.allowed);
        assert_eq!(admit.remaining, 5);
    }
}
