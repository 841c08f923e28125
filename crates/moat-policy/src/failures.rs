//! Brute-force protection: failed authentications counted per client
//! address; after a few, answers are slowed; after more, the address is
//! refused for a while, valid credentials or not. A success does not reset
//! the count (someone holding one valid key could otherwise keep guessing
//! others between successes); failures are forgotten after the window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// Thresholds; the `[auth]` table of moat.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSettings {
    /// Failures from one address after which each failed answer is delayed.
    pub slow_after_failures: u32,
    /// Failures from one address after which it is refused for `lockout_secs`.
    pub lock_after_failures: u32,
    /// Failures older than this are forgotten.
    pub window_secs: u64,
    /// How long a locked address is refused.
    pub lockout_secs: u64,
}

impl Default for FailureSettings {
    fn default() -> Self {
        Self {
            slow_after_failures: 5,
            lock_after_failures: 20,
            window_secs: 600,
            lockout_secs: 300,
        }
    }
}

/// What to do with a request or a failed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Answer the failure after this delay.
    Slow(Duration),
    /// Refuse everything from the address for this long.
    Locked {
        retry_after_ms: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failures per client address, in this process.
#[derive(Debug, Default)]
pub struct FailureTracker {
    settings: FailureSettings,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// Beyond this many tracked addresses, forgotten ones are dropped.
const PRUNE_ABOVE: usize = 10_000;
/// The longest delay of one failed answer.
const MAX_DELAY: Duration = Duration::from_secs(2);

impl FailureTracker {
    pub fn new(settings: FailureSettings) -> Self {
        Self {
            settings,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.settings.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Before authenticating: is this address locked out?
    pub fn check(&self, ip: IpAddr, now_ms: i64) -> Gate {
        match self.entries().get(&ip) {
            Some(e) if e.locked_until_ms > now_ms => Gate::Locked {
                retry_after_ms: u64::try_from(e.locked_until_ms - now_ms).unwrap_or(0),
            },
            _ => Gate::Open,
        }
    }

    /// Count a failure; the answer says how to answer it.
    pub fn failed(&self, ip: IpAddr, now_ms: i64) -> Gate {
        let window_ms = self.window_ms();
        let mut entries = self.entries();
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| now_ms - e.last_ms < window_ms || e.locked_until_ms > now_ms);
        }
        let entry = entries.entry(ip).or_insert(Entry {
            failures: 0,
            last_ms: now_ms,
            locked_until_ms: 0,
        });
        if now_ms - entry.last_ms >= window_ms {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_ms = now_ms;
        let s = &self.settings;
        if entry.failures >= s.lock_after_failures {
            let lockout_ms = i64::try_from(s.lockout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            entry.locked_until_ms = now_ms.saturating_add(lockout_ms);
            entry.failures = 0;
            return Gate::Locked {
                retry_after_ms: s.lockout_secs.saturating_mul(1000),
            };
        }
        if entry.failures > s.slow_after_failures {
            let extra = entry.failures - s.slow_after_failures;
            return Gate::Slow((Duration::from_millis(250) * extra).min(MAX_DELAY));
        }
        Gate::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowed_then_locked_then_free_again() {
        let t = FailureTracker::new(FailureSettings {
            slow_after_failures: 2,
            lock_after_failures: 5,
            window_secs: 60,
            lockout_secs: 30,
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(t.failed(ip, 0), Gate::Open);
        assert_eq!(t.failed(ip, 1), Gate::Open);
        assert_eq!(t.failed(ip, 2), Gate::Slow(Duration::from_millis(250)));
        assert_eq!(t.failed(ip, 3), Gate::Slow(Duration::from_millis(500)));
        assert_eq!(t.check(ip, 3), Gate::Open);
        assert_eq!(
            t.failed(ip, 4),
            Gate::Locked {
                retry_after_ms: 30_000
            }
        );
        assert_eq!(
            t.check(ip, 10_004),
            Gate::Locked {
                retry_after_ms: 20_000
            }
        );
        assert_eq!(t.check(other, 10_004), Gate::Open);
        assert_eq!(t.check(ip, 30_004), Gate::Open);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = FailureTracker::new(FailureSettings {
            slow_after_failures: 1,
            lock_after_failures: 3,
            window_secs: 10,
            lockout_secs: 30,
        });
        let ip: IpAddr = [192, 168, 0, 9].into();
        t.failed(ip, 0);
        assert_eq!(t.failed(ip, 20_000), Gate::Open);
        assert_eq!(t.failed(ip, 20_001), Gate::Slow(Duration::from_millis(250)));
    }
}
