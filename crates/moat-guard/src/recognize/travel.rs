//! Travel documents: passports (E/G series, and P/S/D only next to a word
//! such as 护照) and Hong Kong/Macau permits (C, H, M series).

use crate::kind::{Confidence, Kind};

/// Words that make a weak passport shape a passport number.
pub const PASSPORT_CONTEXT: [&str; 2] = ["护照", "passport"];

/// How far before a number a context word is looked for, in bytes.
pub const CONTEXT_WINDOW: usize = 32;

fn digits(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_digit)
}

/// The kind of a folded token that is a travel document number, if it is one.
/// `context` says whether a passport word stands just before.
pub fn classify(v: &[u8], context: impl FnOnce() -> bool) -> Option<(Kind, Confidence)> {
    let (&first, rest) = v.split_first()?;
    match (first, rest.len()) {
        // E + 8 digits, E + letter (not I/O) + 7 digits, G + 8 digits.
        (b'E' | b'G', 8) if digits(rest) => Some((Kind::Passport, Confidence::Medium)),
        (b'E', 8) => {
            let (&letter, tail) = rest.split_first()?;
            (letter.is_ascii_uppercase() && letter != b'I' && letter != b'O' && digits(tail))
                .then_some((Kind::Passport, Confidence::Medium))
        }
        // Service, official and diplomatic passports: 7 or 8 digits, with context.
        (b'P' | b'S' | b'D', 7 | 8) if digits(rest) => {
            context().then_some((Kind::Passport, Confidence::Medium))
        }
        // Travel permit to HK/Macau (C), home-return permits (H, M; 8 or 10 digits).
        (b'C', 8) | (b'H' | b'M', 8 | 10) if digits(rest) => {
            Some((Kind::HkMacauPermit, Confidence::Medium))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(v: &[u8], context: bool) -> Option<Kind> {
        classify(v, || context).map(|(k, _)| k)
    }

    #[test]
    fn passports() {
        assert_eq!(kind(b"E12345678", false), Some(Kind::Passport));
        assert_eq!(kind(b"EA1234567", false), Some(Kind::Passport));
        assert_eq!(kind(b"G12345678", false), Some(Kind::Passport));
        assert_eq!(kind(b"EI1234567", false), None);
        assert_eq!(kind(b"E1234567", false), None);
        assert_eq!(kind(b"S1234567", false), None);
        assert_eq!(kind(b"S1234567", true), Some(Kind::Passport));
    }

    #[test]
    fn permits() {
        assert_eq!(kind(b"C12345678", false), Some(Kind::HkMacauPermit));
        assert_eq!(kind(b"H1234567890", false), Some(Kind::HkMacauPermit));
        assert_eq!(kind(b"M12345678", false), Some(Kind::HkMacauPermit));
        assert_eq!(kind(b"C1234567890", false), None);
        assert_eq!(kind(b"H123456789", false), None);
    }
}
