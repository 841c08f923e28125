//! Check-character algorithms: Luhn (bank cards), MOD 11-2 (ID cards,
//! ISO 7064), GB 32100 (unified social credit codes) and GB 11714
//! (organisation codes, positions 9-17 of a credit code).

use serde::Deserialize;

/// A check-character algorithm a custom recognizer can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checksum {
    /// Luhn over all digits (bank cards).
    Luhn,
    /// ISO 7064 MOD 11-2 over 17 digits and a check character `0-9X`.
    #[serde(rename = "mod11_2")]
    Mod11_2,
    /// GB 32100 over 18 characters of `0-9A-HJ-NP-RTUW-Y`.
    Gb32100,
    /// No check character.
    #[default]
    None,
}

impl Checksum {
    /// Whether `value` (folded ASCII) passes this check.
    pub fn verify(self, value: &[u8]) -> bool {
        match self {
            Checksum::Luhn => luhn(value),
            Checksum::Mod11_2 => mod11_2(value),
            Checksum::Gb32100 => gb32100(value),
            Checksum::None => true,
        }
    }
}

/// Luhn: every second digit from the right doubled, the sum a multiple of 10.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the MSRV (1.85)
pub fn luhn(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

const MOD11_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const MOD11_TABLE: &[u8; 11] = b"10X98765432";

/// The MOD 11-2 check character for 17 digits.
pub fn mod11_2_check(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(MOD11_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    MOD11_TABLE.get((sum % 11) as usize).copied()
}

/// MOD 11-2 over 18 characters; a lowercase `x` is accepted.
pub fn mod11_2(value: &[u8]) -> bool {
    match value.split_last() {
        Some((last, first)) if value.len() == 18 => {
            mod11_2_check(first) == Some(last.to_ascii_uppercase())
        }
        _ => false,
    }
}

/// The 31 characters of GB 32100, in code order.
pub const GB32100_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const GB32100_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The code (0..31) of a GB 32100 character, upper or lower case.
pub fn gb32100_code(c: u8) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    GB32100_CHARSET
        .iter()
        .position(|&x| x == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The GB 32100 check character for the first 17 characters.
pub fn gb32100_check(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.iter().zip(GB32100_WEIGHTS) {
        sum += gb32100_code(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    GB32100_CHARSET.get(check as usize).copied()
}

/// GB 32100 over 18 characters.
pub fn gb32100(value: &[u8]) -> bool {
    match value.split_last() {
        Some((last, first)) if value.len() == 18 => {
            gb32100_check(first) == Some(last.to_ascii_uppercase())
        }
        _ => false,
    }
}

const GB11714_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// GB 11714-1997 over 9 characters: 8 digits or capitals (`A` = 10 ...
/// `Z` = 35), then the check character `0-9` or `X` (11 - sum mod 11,
/// 10 written `X`, 11 written `0`).
pub fn gb11714(value: &[u8]) -> bool {
    let Some((last, body)) = value.split_last().filter(|_| value.len() == 9) else {
        return false;
    };
    let mut sum = 0;
    for (c, w) in body.iter().zip(GB11714_WEIGHTS) {
        let code = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        sum += code * w;
    }
    let expected = match 11 - sum % 11 {
        11 => b'0',
        10 => b'X',
        n => b'0' + u8::try_from(n).unwrap_or(0),
    };
    *last == expected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_numbers() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"6222021234567890128"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"41111a1111111111"));
    }

    #[test]
    fn mod11_2_known_ids() {
        // The example of GB 11643-1999.
        assert!(mod11_2(b"11010519491231002X"));
        assert!(mod11_2(b"11010519491231002x"));
        assert!(!mod11_2(b"110105194912310021"));
        assert!(mod11_2(b"440524188001010014"));
    }

    #[test]
    fn gb32100_known_codes() {
        assert!(gb32100(b"91350100M000100Y43"));
        assert!(gb32100(b"91110000600037341L"));
        assert!(!gb32100(b"91110000600037341M"));
        assert!(!gb32100(b"91110000600037341I"));
    }

    #[test]
    fn gb11714_known_codes() {
        assert!(gb11714(b"M000100Y4"));
        assert!(gb11714(b"600037341"));
        assert!(!gb11714(b"600037342"));
        assert!(!gb11714(b"60003734"));
        assert!(!gb11714(b"60003734x"));
    }
}
