//! Civil time: the wall clock as milliseconds since the Unix epoch, and UTC
//! calendar days (proleptic Gregorian, Howard Hinnant's `civil_from_days` /
//! `days_from_civil`), for every crate that stamps, prints or reads a time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// Days in 400 Gregorian years.
const DAYS_PER_ERA: i64 = 146_097;

/// Milliseconds since the Unix epoch by the system's wall clock (0 before
/// the epoch).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch by the system's wall clock (0 before the
/// epoch), as OpenAI's `created` fields hold them.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year; 0 is 1 BC.
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

/// The day `days` after 1970-01-01 (before it, when negative).
pub fn civil_from_days(days: i64) -> Date {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z.rem_euclid(DAYS_PER_ERA);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both in range by construction: 1..=31 and 1..=12.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    Date {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
    }
}

/// Days from 1970-01-01 to `date` (negative before it). A day past its
/// month's end counts on into the next month.
pub fn days_from_civil(date: Date) -> i64 {
    let month = i64::from(date.month);
    let year = if month <= 2 { date.year - 1 } else { date.year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - EPOCH_SHIFT
}

/// The UTC day of `ms` (milliseconds since the epoch), as `YYYY-MM-DD`.
pub fn utc_day(ms: i64) -> String {
    let Date { year, month, day } = civil_from_days(ms.div_euclid(MS_PER_DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// `ms` (milliseconds since the epoch) in RFC 3339 UTC with milliseconds:
/// `2024-05-01T12:00:00.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let of_day = secs.rem_euclid(86_400);
    let Date { year, month, day } = civil_from_days(secs.div_euclid(86_400));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Whether `text` has the shape of a day, `YYYY-MM-DD` (digits and dashes
/// only; see [`parse_day`] for the range check).
pub fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The day written `YYYY-MM-DD`; `None` when `text` is not of that shape
/// or its month is not 1 to 12 or its day not 1 to 31.
pub fn parse_day(text: &str) -> Option<Date> {
    if !is_day(text) {
        return None;
    }
    let date = Date {
        year: text.get(0..4)?.parse().ok()?,
        month: text.get(5..7)?.parse().ok()?,
        day: text.get(8..10)?.parse().ok()?,
    };
    ((1..=12).contains(&date.month) && (1..=31).contains(&date.day)).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i64, month: u32, day: u32) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn the_epoch_is_day_zero() {
        assert_eq!(civil_from_days(0), date(1970, 1, 1));
        assert_eq!(days_from_civil(date(1970, 1, 1)), 0);
        assert_eq!(civil_from_days(-1), date(1969, 12, 31));
        assert_eq!(days_from_civil(date(1969, 12, 31)), -1);
    }

    #[test]
    fn leap_days() {
        // 2000 is a leap year (divisible by 400), 2100 is not (by 100).
        assert_eq!(days_from_civil(date(2000, 2, 29)), 11_016);
        assert_eq!(civil_from_days(11_016), date(2000, 2, 29));
        assert_eq!(civil_from_days(11_017), date(2000, 3, 1));
        assert_eq!(days_from_civil(date(2100, 3, 1)), 47_541);
        assert_eq!(civil_from_days(47_540), date(2100, 2, 28));
        assert_eq!(civil_from_days(47_541), date(2100, 3, 1));
        assert_eq!(civil_from_days(19_782), date(2024, 2, 29));
        // A day past the month's end counts on.
        assert_eq!(days_from_civil(date(2100, 2, 29)), 47_541);
    }

    #[test]
    fn negative_days_and_the_four_digit_bounds() {
        assert_eq!(civil_from_days(-719_468), date(0, 3, 1));
        assert_eq!(days_from_civil(date(0, 1, 1)), -719_528);
        assert_eq!(civil_from_days(-719_528), date(0, 1, 1));
        assert_eq!(days_from_civil(date(9999, 12, 31)), 2_932_896);
        assert_eq!(civil_from_days(2_932_896), date(9999, 12, 31));
        assert_eq!(civil_from_days(2_932_897), date(10_000, 1, 1));
    }

    #[test]
    fn every_day_round_trips() {
        let mut previous = civil_from_days(-800_000);
        for days in -799_999..3_000_000 {
            let d = civil_from_days(days);
            assert_eq!(days_from_civil(d), days);
            assert!(d > previous, "{d:?} after {previous:?}");
            previous = d;
        }
    }

    #[test]
    fn days_and_timestamps_are_written_in_utc() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(86_399_999), "1970-01-01");
        assert_eq!(utc_day(86_400_000), "1970-01-02");
        assert_eq!(utc_day(-1), "1969-12-31");
        assert_eq!(utc_day(1_709_208_000_000), "2024-02-29");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(1_714_564_800_000), "2024-05-01T12:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn days_are_read_from_their_shape_and_range() {
        assert!(is_day("2026-11-24"));
        assert!(!is_day("2026-1-24"));
        assert!(!is_day("2026/11/24"));
        assert!(!is_day("2026-11-2x"));
        assert_eq!(parse_day("2026-11-24"), Some(date(2026, 11, 24)));
        assert_eq!(days_from_civil(date(2026, 11, 24)), 20_781);
        assert_eq!(parse_day("9999-12-31"), Some(date(9999, 12, 31)));
        assert_eq!(parse_day("0000-01-01"), Some(date(0, 1, 1)));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("2026-00-01"), None);
        assert_eq!(parse_day("2026-01-32"), None);
        assert_eq!(parse_day("2026-01-00"), None);
        assert_eq!(parse_day("+026-01-01"), None);
    }

    #[test]
    fn the_wall_clock_is_after_the_epoch() {
        assert!(now_ms() > 1_700_000_000_000);
        assert!(now_secs() > 1_700_000_000);
    }
}
