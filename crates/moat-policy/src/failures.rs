//! Brute-force protection: failed authentications counted per client
//! address (IPv6: per /64) and per key they were aimed at (a revoked or
//! expired key, or a wrong secret that starts like an existing key). After
//! a few failures the failed answers are slowed; after more, failures from
//! that address or against that key are answered 429 for a while. Only
//! failures are ever refused: a valid credential is accepted whatever
//! others did from the same address (behind a NAT or a proxy everyone
//! shares one), since a 256-bit key cannot be guessed and a lockout of
//! valid keys would only let one client lock out all the others. A success
//! does not reset the count (someone holding one valid key could otherwise
//! keep guessing others between successes); failures are forgotten after
//! the window.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// Thresholds; the `[auth]` table of moat.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSettings {
    /// Failures from one address (or against one key) after which each
    /// failed answer is delayed.
    pub slow_after_failures: u32,
    /// Failures from one address (or against one key) after which its
    /// failures are answered 429 for `lockout_secs`.
    pub lock_after_failures: u32,
    /// Failures older than this are forgotten.
    pub window_secs: u64,
    /// How long failures from a locked address (or against a locked key)
    /// are answered 429.
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

/// What to do with a failed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Answer the failure after this delay.
    Slow(Duration),
    /// Answer the failure 429 (after the longest delay): its source is
    /// locked for this long.
    Locked {
        retry_after_ms: u64,
    },
}

impl Gate {
    /// The stricter of two answers.
    #[must_use]
    pub fn max(self, other: Self) -> Self {
        match (self, other) {
            (Self::Locked { retry_after_ms: a }, Self::Locked { retry_after_ms: b }) => {
                Self::Locked {
                    retry_after_ms: a.max(b),
                }
            }
            (locked @ Self::Locked { .. }, _) | (_, locked @ Self::Locked { .. }) => locked,
            (Self::Slow(a), Self::Slow(b)) => Self::Slow(a.max(b)),
            (slow @ Self::Slow(_), Self::Open) | (Self::Open, slow @ Self::Slow(_)) => slow,
            (Self::Open, Self::Open) => Self::Open,
        }
    }

    /// How long to hold the failed answer back.
    pub fn delay(self) -> Duration {
        match self {
            Self::Open => Duration::ZERO,
            Self::Slow(delay) => delay,
            Self::Locked { .. } => MAX_DELAY,
        }
    }
}

/// Whose failures one count holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureSource {
    /// A client address, as [`client_key`] groups them.
    Address(IpAddr),
    /// An existing key, by id, that failed attempts were aimed at.
    Key(String),
}

impl FailureSource {
    /// The source for the client at `ip`.
    pub fn address(ip: IpAddr) -> Self {
        Self::Address(client_key(ip))
    }
}

/// The address a client is counted under: IPv4-mapped IPv6 addresses as
/// IPv4, IPv6 addresses by their /64 (a host usually holds a whole /64 and
/// can pick any address in it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        v4 => v4,
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failures per client address and per key, in this process.
#[derive(Debug, Default)]
pub struct FailureTracker {
    settings: FailureSettings,
    entries: Mutex<HashMap<FailureSource, Entry>>,
}

/// Beyond this many tracked sources, forgotten ones are dropped.
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

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<FailureSource, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.settings.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Is `source` locked?
    pub fn check(&self, source: &FailureSource, now_ms: i64) -> Gate {
        match self.entries().get(source) {
            Some(e) if e.locked_until_ms > now_ms => Gate::Locked {
                retry_after_ms: u64::try_from(e.locked_until_ms - now_ms).unwrap_or(0),
            },
            _ => Gate::Open,
        }
    }

    /// Count a failure of `source`; the answer says how to answer it.
    pub fn failed(&self, source: FailureSource, now_ms: i64) -> Gate {
        let window_ms = self.window_ms();
        let mut entries = self.entries();
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| now_ms - e.last_ms < window_ms || e.locked_until_ms > now_ms);
        }
        let entry = entries.entry(source).or_insert(Entry {
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
        if entry.locked_until_ms > now_ms {
            return Gate::Locked {
                retry_after_ms: u64::try_from(entry.locked_until_ms - now_ms).unwrap_or(0),
            };
        }
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slowed_then_locked_then_free_again() {
        let t = FailureTracker::new(FailureSettings {
            slow_after_failures: 2,
            lock_after_failures: 5,
            window_secs: 60,
            lockout_secs: 30,
        });
        let ip = FailureSource::address([10, 0, 0, 1].into());
        let other = FailureSource::address([10, 0, 0, 2].into());
        let ip = || ip.clone();
        assert_eq!(t.failed(ip(), 0), Gate::Open);
        assert_eq!(t.failed(ip(), 1), Gate::Open);
        assert_eq!(t.failed(ip(), 2), Gate::Slow(Duration::from_millis(250)));
        assert_eq!(t.failed(ip(), 3), Gate::Slow(Duration::from_millis(500)));
        assert_eq!(t.check(&ip(), 3), Gate::Open);
        assert_eq!(
            t.failed(ip(), 4),
            Gate::Locked {
                retry_after_ms: 30_000
            }
        );
        assert_eq!(
            t.check(&ip(), 10_004),
            Gate::Locked {
                retry_after_ms: 20_000
            }
        );
        // A failure while locked neither ends nor extends the lock.
        assert_eq!(
            t.failed(ip(), 10_004),
            Gate::Locked {
                retry_after_ms: 20_000
            }
        );
        assert_eq!(t.check(&other, 10_004), Gate::Open);
        assert_eq!(t.check(&ip(), 30_004), Gate::Open);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = FailureTracker::new(FailureSettings {
            slow_after_failures: 1,
            lock_after_failures: 3,
            window_secs: 10,
            lockout_secs: 30,
        });
        let ip = FailureSource::address([192, 168, 0, 9].into());
        t.failed(ip.clone(), 0);
        assert_eq!(t.failed(ip.clone(), 20_000), Gate::Open);
        assert_eq!(t.failed(ip, 20_001), Gate::Slow(Duration::from_millis(250)));
    }

    #[test]
    fn addresses_and_keys_are_counted_apart() {
        let t = FailureTracker::new(FailureSettings {
            slow_after_failures: 1,
            lock_after_failures: 2,
            window_secs: 60,
            lockout_secs: 30,
        });
        let key = FailureSource::Key("key_abc".to_owned());
        t.failed(key.clone(), 0);
        assert!(matches!(t.failed(key.clone(), 1), Gate::Locked { .. }));
        assert!(matches!(t.check(&key, 2), Gate::Locked { .. }));
        assert_eq!(
            t.check(&FailureSource::Key("key_other".to_owned()), 2),
            Gate::Open
        );
        assert_eq!(
            t.check(&FailureSource::address([10, 0, 0, 1].into()), 2),
            Gate::Open
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(
            FailureSource::address(ip("2001:db8:1:2::1")),
            FailureSource::address(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            FailureSource::address(ip("2001:db8:1:2::1")),
            FailureSource::address(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            FailureSource::address(ip("::ffff:10.1.2.3")),
            FailureSource::address(ip("10.1.2.3"))
        );
    }

    #[test]
    fn the_stricter_gate_wins() {
        let slow = |ms| Gate::Slow(Duration::from_millis(ms));
        let locked = |ms| Gate::Locked { retry_after_ms: ms };
        assert_eq!(Gate::Open.max(slow(5)), slow(5));
        assert_eq!(slow(9).max(slow(5)), slow(9));
        assert_eq!(slow(9).max(locked(1)), locked(1));
        assert_eq!(locked(3).max(locked(7)), locked(7));
        assert_eq!(locked(3).delay(), MAX_DELAY);
    }
}
