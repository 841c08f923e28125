//! Reading UTF-8 text as "units": chars that fold to one ASCII byte
//! (ASCII itself, the full-width forms U+FF01..U+FF5E, the ideographic space).

/// One char of the input that folds to ASCII: the folded byte and the char's
/// width in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The ASCII byte the char folds to (`０` -> `0`, `Ａ` -> `A`, `－` -> `-`).
    pub ascii: u8,
    /// How many bytes the char takes in the input.
    pub width: usize,
}

/// The unit starting at byte `i`, if the char there folds to ASCII.
/// `i` must be on a char boundary.
#[inline]
pub fn unit_at(bytes: &[u8], i: usize) -> Option<Unit> {
    let lead = *bytes.get(i)?;
    if lead < 0x80 {
        return Some(Unit {
            ascii: lead,
            width: 1,
        });
    }
    let second = *bytes.get(i + 1)?;
    let third = *bytes.get(i + 2)?;
    let ascii = match (lead, second) {
        // U+FF01..U+FF3F: EF BC 81..BF -> '!'..'_'
        (0xEF, 0xBC) if (0x81..=0xBF).contains(&third) => third - 0x81 + 0x21,
        // U+FF40..U+FF5E: EF BD 80..9E -> '`'..'~'
        (0xEF, 0xBD) if (0x80..=0x9E).contains(&third) => third - 0x80 + 0x60,
        // U+3000 ideographic space
        (0xE3, 0x80) if third == 0x80 => b' ',
        _ => return None,
    };
    Some(Unit { ascii, width: 3 })
}

/// The unit ending at byte `i` (the char just before `i`), if it folds to
/// ASCII. `i` must be on a char boundary.
#[inline]
pub fn unit_before(bytes: &[u8], i: usize) -> Option<Unit> {
    let last = *bytes.get(i.checked_sub(1)?)?;
    if last < 0x80 {
        return Some(Unit {
            ascii: last,
            width: 1,
        });
    }
    // In valid UTF-8 a lead byte at i-3 starts a char that ends at i.
    let start = i.checked_sub(3)?;
    match bytes.get(start) {
        Some(0xEF | 0xE3) => unit_at(bytes, start),
        _ => None,
    }
}

/// The folded byte of the unit at `i`, or `None` when there is none.
#[inline]
pub fn ascii_at(bytes: &[u8], i: usize) -> Option<u8> {
    unit_at(bytes, i).map(|u| u.ascii)
}

/// The folded byte of the unit before `i`, or `None` when there is none.
#[inline]
pub fn ascii_before(bytes: &[u8], i: usize) -> Option<u8> {
    unit_before(bytes, i).map(|u| u.ascii)
}

/// Whether the unit at `i` is an ASCII letter or digit after folding.
#[inline]
pub fn alnum_at(bytes: &[u8], i: usize) -> bool {
    ascii_at(bytes, i).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Whether the unit before `i` is an ASCII letter or digit after folding.
#[inline]
pub fn alnum_before(bytes: &[u8], i: usize) -> bool {
    ascii_before(bytes, i).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// A run of units at `start` whose folded bytes satisfy `keep`, at most
/// `max_units` long: its end and its folded bytes (appended to `out`).
pub fn run_forward(
    bytes: &[u8],
    start: usize,
    max_units: usize,
    out: &mut Vec<u8>,
    keep: impl Fn(u8) -> bool,
) -> usize {
    let mut i = start;
    let mut taken = 0;
    while taken < max_units {
        match unit_at(bytes, i) {
            Some(u) if keep(u.ascii) => {
                out.push(u.ascii);
                i += u.width;
                taken += 1;
            }
            _ => break,
        }
    }
    i
}

/// Walks back from `end` over units whose folded bytes satisfy `keep`, at most
/// `max_units` and never before `floor`: the run's start.
pub fn run_backward(
    bytes: &[u8],
    end: usize,
    floor: usize,
    max_units: usize,
    keep: impl Fn(u8) -> bool,
) -> usize {
    let mut i = end;
    let mut taken = 0;
    while taken < max_units && i > floor {
        match unit_before(bytes, i) {
            Some(u) if keep(u.ascii) && i - u.width >= floor => {
                i -= u.width;
                taken += 1;
            }
            _ => break,
        }
    }
    i
}

/// The char just before byte `i` (a char boundary).
pub fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// Whether one of `words` occurs in the `window` bytes of `text` before
/// `start` (ASCII letters compared case-insensitively).
pub fn context_before<W: AsRef<str>>(text: &str, start: usize, window: usize, words: &[W]) -> bool {
    let mut from = start.saturating_sub(window);
    while from < start && !text.is_char_boundary(from) {
        from += 1;
    }
    let Some(before) = text.get(from..start) else {
        return false;
    };
    let lower = before.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_folds_to_ascii() {
        let s = "０９ＡＺａｚ－＋＠　";
        let b = s.as_bytes();
        let mut out = Vec::new();
        let end = run_forward(b, 0, 100, &mut out, |_| true);
        assert_eq!(end, s.len());
        assert_eq!(out, b"09AZaz-+@ ");
    }

    #[test]
    fn backward_reads_the_same_units() {
        let s = "中a１b";
        let b = s.as_bytes();
        assert_eq!(
            run_backward(b, s.len(), 0, 100, |c| c.is_ascii_alphanumeric()),
            3
        );
        assert_eq!(unit_before(b, 3), None);
        assert_eq!(ascii_before(b, 7), Some(b'1'));
    }

    #[test]
    fn chinese_is_not_a_unit() {
        let s = "中文，";
        assert_eq!(unit_at(s.as_bytes(), 0), None);
        assert_eq!(ascii_at(s.as_bytes(), 6), Some(b','));
    }

    #[test]
    fn context_window_respects_char_boundaries() {
        let text = "银行卡号：6222";
        let start = text.find('6').unwrap();
        assert!(context_before(text, start, 16, &["卡号"]));
        assert!(context_before("my Card no 1", 11, 16, &["card"]));
        assert!(!context_before(text, start, 4, &["卡号"]));
    }
}
