//! Mainland phone numbers: mobiles (11 digits in the allocated 13x-19x
//! segments, optional 86 / 0086 prefix) and landlines with an area code.

/// Whether 11 digits are a mobile number in an allocated segment:
/// 13x, 145-149, 150-153, 155-159, 162, 165-167, 170-178, 18x, 19x.
pub fn mobile(v: &[u8]) -> bool {
    if v.len() != 11 || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match v {
        [b'1', b'3' | b'8' | b'9', ..] => true,
        [b'1', b'4', c, ..] => (b'5'..=b'9').contains(c),
        [b'1', b'5', c, ..] => *c != b'4',
        [b'1', b'6', c, ..] => matches!(c, b'2' | b'5' | b'6' | b'7'),
        [b'1', b'7', c, ..] => *c <= b'8',
        _ => false,
    }
}

/// The country code that may stand before a mobile number.
pub fn country_code(v: &[u8]) -> bool {
    v == b"86" || v == b"0086"
}

/// A mobile number with an optional glued 86 / 0086 prefix: the 11 digits.
pub fn mobile_with_prefix(v: &[u8]) -> Option<&[u8]> {
    let digits = match v.len() {
        11 => v,
        13 if v.starts_with(b"86") => v.get(2..)?,
        15 if v.starts_with(b"0086") => v.get(4..)?,
        _ => return None,
    };
    mobile(digits).then_some(digits)
}

/// The local-number lengths an area code allows: 010 and 02x have 8-digit
/// numbers, the 4-digit codes (03xx-09xx) 7 or 8.
fn local_lengths(area: &[u8]) -> Option<(usize, usize)> {
    if !area.iter().all(u8::is_ascii_digit) || area.first() != Some(&b'0') {
        return None;
    }
    match area {
        [_, b'1', b'0'] | [_, b'2', _] => Some((8, 8)),
        [_, b'3'..=b'9', _, _] => Some((7, 8)),
        _ => None,
    }
}

/// Whether an area code and a local number (digits only) make a landline.
pub fn landline(area: &[u8], local: &[u8]) -> bool {
    let Some((min, max)) = local_lengths(area) else {
        return false;
    };
    (min..=max).contains(&local.len())
        && local.iter().all(u8::is_ascii_digit)
        && matches!(local.first(), Some(b'2'..=b'8'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles() {
        assert!(mobile(b"13812345678"));
        assert!(mobile(b"19912345678"));
        assert!(!mobile(b"12812345678"));
        assert!(!mobile(b"15412345678"));
        assert!(!mobile(b"1381234567"));
        assert_eq!(
            mobile_with_prefix(b"8613812345678"),
            Some(&b"13812345678"[..])
        );
        assert_eq!(
            mobile_with_prefix(b"008613812345678"),
            Some(&b"13812345678"[..])
        );
        assert_eq!(mobile_with_prefix(b"8713812345678"), None);
    }

    #[test]
    fn landlines() {
        assert!(landline(b"010", b"62345678"));
        assert!(landline(b"0571", b"8765432"));
        assert!(!landline(b"010", b"6234567"));
        assert!(!landline(b"010", b"12345678"));
        assert!(!landline(b"0123", b"62345678"));
        assert!(!landline(b"2023", b"62345678"));
    }
}
