//! Resident identity cards (GB 11643: 18 characters, or the legacy 15 digits)
//! and the foreigner's permanent residence ID card (18 characters, leading 9).

use crate::checksum::mod11_2;
use crate::kind::Kind;

/// Province-level codes that begin a resident ID card's region code
/// (71 Taiwan, 81 Hong Kong, 82 Macau, 83 Taiwan residence permits).
const RESIDENT_PROVINCES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// Whether two digits are a province code; with `mainland_only` the
/// Taiwan/Hong Kong/Macau codes are left out.
pub fn province(two: &[u8], mainland_only: bool) -> bool {
    let Some(code) = two_digits(two) else {
        return false;
    };
    RESIDENT_PROVINCES.contains(&code) && !(mainland_only && code >= 71)
}

fn two_digits(two: &[u8]) -> Option<u8> {
    match two {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Whether `year-month-day` is a real date in `1900..=max_year`.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV (1.85)
pub fn real_date(year: u32, month: u32, day: u32, max_year: u32) -> bool {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=max_year).contains(&year) && (1..=days).contains(&day)
}

/// Whether 8 digits are a real `YYYYMMDD` birth date.
fn birth_date(yyyymmdd: &[u8], max_year: u32) -> bool {
    match (
        yyyymmdd.get(..4).and_then(number),
        yyyymmdd.get(4..6).and_then(number),
        yyyymmdd.get(6..8).and_then(number),
    ) {
        (Some(y), Some(m), Some(d)) if yyyymmdd.len() == 8 => real_date(y, m, d, max_year),
        _ => false,
    }
}

/// The kind of a folded token that is a valid ID card number, if it is one.
pub fn classify(v: &[u8], max_year: u32) -> Option<Kind> {
    match v.len() {
        18 => {
            let first17 = v.get(..17)?;
            if !first17.iter().all(u8::is_ascii_digit)
                || !birth_date(v.get(6..14)?, max_year)
                || !mod11_2(v)
            {
                return None;
            }
            if v.first() == Some(&b'9') {
                // 9, issuing province, 3-digit nationality code.
                province(v.get(1..3)?, true).then_some(Kind::ForeignerId)
            } else {
                province(v.get(..2)?, false).then_some(Kind::IdCard)
            }
        }
        15 => {
            // Legacy: region, YYMMDD (19YY), 3-digit sequence, no check character.
            let ok = v.iter().all(u8::is_ascii_digit)
                && province(v.get(..2)?, false)
                && real_date(
                    1900 + number(v.get(6..8)?)?,
                    number(v.get(8..10)?)?,
                    number(v.get(10..12)?)?,
                    max_year,
                );
            ok.then_some(Kind::IdCard)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: u32 = 2025;

    #[test]
    fn valid_cards() {
        assert_eq!(classify(b"11010519491231002X", YEAR), Some(Kind::IdCard));
        assert_eq!(classify(b"11010519491231002x", YEAR), Some(Kind::IdCard));
        assert_eq!(
            classify(b"440524188001010014", YEAR),
            None,
            "1880 is before 1900"
        );
        assert_eq!(classify(b"110105491231002", YEAR), Some(Kind::IdCard));
        assert_eq!(
            classify(b"91115619850712001X", YEAR),
            Some(Kind::ForeignerId)
        );
    }

    #[test]
    fn near_misses() {
        // Wrong check character.
        assert_eq!(classify(b"110105194912310021", YEAR), None);
        // Province 99 (check character right).
        assert_eq!(classify(b"990105194912310023", YEAR), None);
        // 1999-02-30 does not exist.
        assert_eq!(classify(b"110105199902300015", YEAR), None);
        // Legacy form with month 13.
        assert_eq!(classify(b"110105491331002", YEAR), None);
        // 17 and 19 characters.
        assert_eq!(classify(b"11010519491231002", YEAR), None);
        assert_eq!(classify(b"11010519491231002X1", YEAR), None);
        // Born in the future.
        assert_eq!(classify(b"11010520300101001X", YEAR), None);
    }

    #[test]
    fn leap_days() {
        assert!(real_date(2000, 2, 29, YEAR));
        assert!(real_date(2024, 2, 29, YEAR));
        assert!(!real_date(1900, 2, 29, YEAR));
        assert!(!real_date(2023, 2, 29, YEAR));
        assert!(!real_date(2023, 4, 31, YEAR));
    }
}
