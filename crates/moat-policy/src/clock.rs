//! Time as the limits see it: the system clock in the server, a clock the
//! test moves by hand in the rate-limit tests. The clock and the calendar
//! themselves are [`moat_protocol::time`]'s.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The UTC calendar day of `ms`, as `YYYY-MM-DD` (quotas and usage are per
/// UTC day).
pub use moat_protocol::time::utc_day;
use moat_protocol::time::MS_PER_DAY;

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        moat_protocol::time::now_ms()
    }
}

/// A clock that only moves when told to; clones share the time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(ms)))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Milliseconds from `ms` to the next UTC midnight.
pub fn ms_to_next_utc_day(ms: i64) -> i64 {
    MS_PER_DAY - ms.rem_euclid(MS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(86_399_999), "1970-01-01");
        assert_eq!(utc_day(86_400_000), "1970-01-02");
        // 2024-02-29T12:00:00Z
        assert_eq!(utc_day(1_709_208_000_000), "2024-02-29");
        // 2026-11-24T03:30:00Z
        assert_eq!(utc_day(1_795_491_000_000), "2026-11-24");
        assert_eq!(ms_to_next_utc_day(86_400_000 - 5), 5);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at(1000);
        let shared = c.clone();
        c.advance_ms(500);
        assert_eq!(shared.now_ms(), 1500);
        c.set_ms(7);
        assert_eq!(shared.now_ms(), 7);
    }
}
