//! Tokens: maximal runs of letters and digits (ASCII or full-width), the
//! units every recognizer matches whole: a value is never a piece of a token.

use crate::text::{ascii_at, ascii_before, unit_at, unit_before};

/// Longest token whose folded text is kept; longer tokens match nothing.
pub const MAX_TOKEN: usize = 64;

/// A maximal run of alphanumeric units in the input.
#[derive(Clone, Copy)]
pub struct Token {
    /// First byte in the input.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    units: usize,
    buf: [u8; MAX_TOKEN],
}

impl Token {
    /// Reads the token that starts at byte `start` (an alphanumeric unit).
    pub fn read(bytes: &[u8], start: usize) -> Token {
        let mut token = Token {
            start,
            end: start,
            units: 0,
            buf: [0; MAX_TOKEN],
        };
        while let Some(u) = unit_at(bytes, token.end) {
            if !u.ascii.is_ascii_alphanumeric() {
                break;
            }
            if let Some(slot) = token.buf.get_mut(token.units) {
                *slot = u.ascii;
            }
            token.units += 1;
            token.end += u.width;
        }
        token
    }

    /// The token folded to ASCII, or `None` when it is too long to be a value.
    pub fn folded(&self) -> Option<&[u8]> {
        self.buf.get(..self.units)
    }

    /// Whether every unit is a decimal digit.
    pub fn is_digits(&self) -> bool {
        self.folded()
            .is_some_and(|v| v.iter().all(u8::is_ascii_digit))
    }

    /// Digits, the last of which may be an `X` (ID card check character):
    /// the tokens a grouped number (`110105 19491231 002X`) is made of.
    pub fn is_number_group(&self) -> bool {
        match self.folded().and_then(|v| v.split_last()) {
            Some((last, rest)) => {
                rest.iter().all(u8::is_ascii_digit)
                    && (last.is_ascii_digit() || last.eq_ignore_ascii_case(&b'X'))
            }
            None => false,
        }
    }

    /// Whether the token is a piece of a decimal number (`13812345678.5`):
    /// all digits with a `.` and a digit on either side.
    pub fn in_decimal(&self, bytes: &[u8]) -> bool {
        if !self.is_digits() {
            return false;
        }
        let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
        let after = unit_at(bytes, self.end)
            .filter(|u| u.ascii == b'.')
            .is_some_and(|u| digit(ascii_at(bytes, self.end + u.width)));
        let before = unit_before(bytes, self.start)
            .filter(|u| u.ascii == b'.')
            .is_some_and(|u| digit(ascii_before(bytes, self.start - u.width)));
        after || before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_the_whole_alphanumeric_run() {
        let s = "号ID１３８x，";
        let t = Token::read(s.as_bytes(), 3);
        assert_eq!(t.folded(), Some(&b"ID138x"[..]));
        assert_eq!(&s[t.start..t.end], "ID１３８x");
        assert!(!t.is_digits());
    }

    #[test]
    fn number_groups_may_end_in_x() {
        assert!(Token::read(b"002X", 0).is_number_group());
        assert!(!Token::read(b"0X2", 0).is_number_group());
        assert!(Token::read(b"1.5", 2).in_decimal(b"1.5"));
        assert!(!Token::read(b"a.5", 2).in_decimal(b"a.5"));
    }

    #[test]
    fn long_tokens_have_no_folded_text() {
        let long = "1".repeat(MAX_TOKEN + 1);
        assert!(Token::read(long.as_bytes(), 0).folded().is_none());
    }
}
