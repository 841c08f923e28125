//! Mainland vehicle plates: province character, issuing-authority letter,
//! then 5 characters (or 6 for new-energy vehicles), with or without a `·`.

use crate::text::{char_before, unit_before};
use crate::token::Token;

/// The province abbreviations that begin a plate.
const PROVINCES: [char; 31] = [
    '京', '津', '沪', '渝', '冀', '豫', '云', '辽', '黑', '湘', '皖', '鲁', '新', '苏', '浙', '赣',
    '鄂', '桂', '甘', '晋', '蒙', '陕', '吉', '闽', '贵', '粤', '青', '藏', '川', '宁', '琼',
];

/// Separators written between the authority letter and the serial.
const SEPARATORS: [char; 5] = ['·', '•', '・', ' ', '-'];

/// Letters used on plates: A-Z without I and O.
fn plate_letter(c: u8) -> bool {
    c.is_ascii_uppercase() && c != b'I' && c != b'O'
}

/// The serial after the authority letter: 5 characters with at most two
/// letters, or the new-energy 6 (`D`/`F` + 5, or 5 digits + `D`/`F`).
fn serial(s: &[u8]) -> bool {
    let digit = |c: &u8| c.is_ascii_digit();
    match s {
        [_, _, _, _, _] => {
            s.iter().all(|c| digit(c) || plate_letter(*c))
                && s.iter().filter(|c| digit(c)).count() >= 3
        }
        [b'D' | b'F', second, rest @ ..] => {
            (digit(second) || plate_letter(*second)) && rest.len() == 4 && rest.iter().all(digit)
        }
        [head @ .., b'D' | b'F'] => head.len() == 5 && head.iter().all(digit),
        _ => false,
    }
}

/// The province character ending at byte `i`, if there is one.
fn province_before(text: &str, i: usize) -> Option<char> {
    char_before(text, i).filter(|c| PROVINCES.contains(c))
}

/// A plate whose letter and serial are one token (`京A12345`): its start and
/// normalized value.
pub fn glued(text: &str, token: &Token) -> Option<(usize, String)> {
    let v = token.folded()?;
    let (&letter, rest) = v.split_first()?;
    if !plate_letter(letter) || !serial(rest) {
        return None;
    }
    let province = province_before(text, token.start)?;
    Some((token.start - province.len_utf8(), value(province, v)))
}

/// A plate written with a separator (`京A·12345`), `token` being its serial:
/// its start and normalized value.
pub fn separated(text: &str, token: &Token) -> Option<(usize, String)> {
    let v = token.folded()?;
    if !serial(v) {
        return None;
    }
    let separator = char_before(text, token.start).filter(|c| SEPARATORS.contains(c))?;
    let letter_end = token.start - separator.len_utf8();
    let letter = unit_before(text.as_bytes(), letter_end).filter(|u| plate_letter(u.ascii))?;
    let letter_start = letter_end - letter.width;
    let province = province_before(text, letter_start)?;
    let mut folded = vec![letter.ascii];
    folded.extend_from_slice(v);
    Some((letter_start - province.len_utf8(), value(province, &folded)))
}

fn value(province: char, folded: &[u8]) -> String {
    let mut value = String::with_capacity(3 + folded.len());
    value.push(province);
    value.extend(folded.iter().map(|&b| char::from(b)));
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Option<(usize, String)> {
        let at = text
            .char_indices()
            .find(|(_, c)| c.is_ascii_alphanumeric())?
            .0;
        let token = Token::read(text.as_bytes(), at);
        glued(text, &token).or_else(|| {
            let serial_at =
                text[token.end..].find(|c: char| c.is_ascii_alphanumeric())? + token.end;
            separated(text, &Token::read(text.as_bytes(), serial_at))
        })
    }

    #[test]
    fn plates() {
        assert_eq!(find("车牌京A12345"), Some((6, "京A12345".into())));
        assert_eq!(find("粤B·D12345"), Some((0, "粤BD12345".into())));
        assert_eq!(find("沪C 12345F"), Some((0, "沪C12345F".into())));
        assert_eq!(find("京AB1C23"), Some((0, "京AB1C23".into())));
    }

    #[test]
    fn near_misses() {
        assert_eq!(find("京I12345"), None, "no I");
        assert_eq!(find("车A12345"), None, "not a province");
        assert_eq!(find("京A1234"), None, "too short");
        assert_eq!(find("京AABC12"), None, "three letters");
        assert_eq!(find("京A12345678"), None, "too long");
        assert_eq!(find("京AX12345"), None, "6-character serial must start D/F");
    }
}
