//! Unified social credit codes (GB 32100-2015): 18 characters, registration
//! authority, organisation type, 6-digit region, organisation code, check.

use crate::checksum::gb32100;

/// Registration authorities that begin a code.
const AUTHORITIES: &[u8] = b"123456789ABCDEFGNY";

/// Whether a folded token is a unified social credit code.
pub fn valid(v: &[u8]) -> bool {
    v.len() == 18
        && v.first().is_some_and(|c| AUTHORITIES.contains(c))
        && v.get(2..8)
            .is_some_and(|r| r.iter().all(u8::is_ascii_digit))
        && v.iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && gb32100(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(valid(b"91350100M000100Y43"));
        assert!(valid(b"91110000600037341L"));
        assert!(!valid(b"91110000600037341M"), "wrong check");
        assert!(!valid(b"9111000060003734L"), "17 characters");
        assert!(!valid(b"911A0000600037341L"), "letter in the region code");
        assert!(!valid(b"91350100m000100y43"), "lower case");
    }
}
