//! Bank card numbers: 16-19 digits passing Luhn with a known issuer prefix,
//! or any 16-19 digits right after a word such as 卡号 or "card".

use crate::checksum::luhn;
use crate::kind::Confidence;

/// Words that make a nearby 16-19 digit number a card number.
pub const CONTEXT: [&str; 12] = [
    "卡号",
    "银行卡",
    "信用卡",
    "借记卡",
    "储蓄卡",
    "账号",
    "帐号",
    "账户",
    "card",
    "account",
    "acct",
    "a/c",
];

/// How far before a number a context word is looked for, in bytes.
pub const CONTEXT_WINDOW: usize = 24;

/// Whether a card number starts like one issued by a card scheme:
/// UnionPay 62/81, Visa 4, Mastercard 51-55 and 2221-2720, Amex/JCB/Diners 3,
/// Discover 60/64/65, old domestic debit 95.
fn known_issuer(v: &[u8]) -> bool {
    let prefix4 = v
        .get(..4)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.parse::<u32>().ok());
    match v {
        [b'3' | b'4' | b'5' | b'6', ..] => true,
        [b'8', b'1', ..] | [b'9', b'5', ..] => true,
        [b'2', ..] => prefix4.is_some_and(|p| (2221..=2720).contains(&p)),
        _ => false,
    }
}

/// The confidence that digits `v` are a card number, `None` when they are not
/// one. `context` says whether a context word stands just before.
pub fn confidence(v: &[u8], context: impl FnOnce() -> bool) -> Option<Confidence> {
    if !(16..=19).contains(&v.len()) || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let checked = luhn(v);
    if checked && known_issuer(v) {
        return Some(Confidence::High);
    }
    match (checked, context()) {
        (true, true) => Some(Confidence::High),
        (false, true) => Some(Confidence::Low),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuer() {
        assert_eq!(
            confidence(b"6222021234567890128", || false),
            Some(Confidence::High)
        );
        assert_eq!(
            confidence(b"4111111111111111", || false),
            Some(Confidence::High)
        );
        // Luhn passes but no scheme starts with 20 and no context word.
        assert_eq!(confidence(b"2023081512345678", || false), None);
        assert_eq!(
            confidence(b"2023081512345678", || true),
            Some(Confidence::High)
        );
    }

    #[test]
    fn context_rescues_a_failed_check() {
        assert_eq!(confidence(b"6222021234567890129", || false), None);
        assert_eq!(
            confidence(b"6222021234567890129", || true),
            Some(Confidence::Low)
        );
        assert_eq!(confidence(b"622202123456789", || true), None, "15 digits");
    }
}
