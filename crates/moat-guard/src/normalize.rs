//! Normalising a text before it is scanned: Unicode spaces, dashes, other
//! digit forms and look-alike letters become the ASCII the recognizers read,
//! invisible format characters (zero-width space, soft hyphen, word joiner,
//! BOM...) are dropped or read as a space, and a map leads every offset in
//! the normalised text back to the original, so a finding covers the
//! separators it was written with.
//!
//! Full-width forms and the ideographic space are not touched here: the
//! scanner folds them itself ([`crate::text::unit_at`]).

/// How the chars that can be read two ways are read: invisible format
/// characters, and letters of other scripts that look like Latin ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Invisible chars dropped, look-alikes read as Latin letters:
    /// `138\u{200B}1234\u{200B}5678` is `13812345678`, `…002Х` ends in X.
    Joined,
    /// Invisible chars read as spaces, look-alikes left as they are (they
    /// end a token): `13812345678\u{200B}13912345678` is two numbers, and
    /// so is `13812345678Х13912345678`.
    Apart,
}

/// A normalised copy of a text and the way back to the original's offsets.
#[derive(Debug)]
pub struct Normalized {
    text: String,
    /// Every char that was changed, in order.
    edits: Vec<Edit>,
    /// Whether a char that can be read two ways was read the joined way.
    ambiguous: bool,
}

/// One original char that was replaced (by one ASCII byte) or dropped.
#[derive(Debug, Clone, Copy)]
struct Edit {
    /// Its position in the normalised text.
    norm: usize,
    /// Its position in the original text.
    orig: usize,
    /// Its width in the original text.
    width: usize,
    /// Replaced by one byte (`true`) or dropped.
    replaced: bool,
    /// Bytes the original is longer than the normalised text after this edit.
    shift: usize,
}

impl Normalized {
    /// The normalised copy of `text`, or `None` when nothing in it changes
    /// (the common case, which costs one pass over the chars).
    pub fn new(text: &str, reading: Reading) -> Option<Normalized> {
        if text.is_ascii() {
            return None;
        }
        let changes = |c: char| match fold(c) {
            Some(Fold::LookAlike(_)) => reading == Reading::Joined,
            other => other.is_some(),
        };
        let first = text.char_indices().find(|(_, c)| changes(*c))?.0;
        let mut out = Normalized {
            text: String::with_capacity(text.len()),
            edits: Vec::new(),
            ambiguous: false,
        };
        out.text.push_str(text.get(..first).unwrap_or_default());
        let mut shift = 0;
        for (orig, c) in text.get(first..).unwrap_or_default().char_indices() {
            let orig = orig + first;
            let width = c.len_utf8();
            let replacement = match (fold(c), reading) {
                (None, _) | (Some(Fold::LookAlike(_)), Reading::Apart) => {
                    out.text.push(c);
                    continue;
                }
                (Some(Fold::Invisible), Reading::Joined) => None,
                (Some(Fold::Invisible), Reading::Apart) => Some(b' '),
                (Some(Fold::LookAlike(b)), Reading::Joined) => {
                    out.ambiguous = true;
                    Some(b)
                }
                (Some(Fold::To(b)), _) => Some(b),
            };
            let norm = out.text.len();
            match replacement {
                Some(b) => {
                    out.text.push(char::from(b));
                    shift += width - 1;
                }
                None => {
                    out.ambiguous = true;
                    shift += width;
                }
            }
            out.edits.push(Edit {
                norm,
                orig,
                width,
                replaced: replacement.is_some(),
                shift,
            });
        }
        Some(out)
    }

    /// The normalised text, to scan.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether an invisible char was dropped or a look-alike read as a
    /// Latin letter: then the text read [`Reading::Apart`] may hold other
    /// values.
    pub fn ambiguous(&self) -> bool {
        self.ambiguous
    }

    /// The original offset of the char that starts at `norm` in the
    /// normalised text (invisible chars just before it stay outside).
    pub fn start(&self, norm: usize) -> usize {
        match self.last_edit_at_or_before(norm) {
            None => norm,
            Some(e) if e.replaced && e.norm == norm => e.orig,
            Some(e) => norm + e.shift,
        }
    }

    /// The original offset just past the char that ends at `norm` in the
    /// normalised text (invisible chars just after it stay outside).
    pub fn end(&self, norm: usize) -> usize {
        let Some(last) = norm.checked_sub(1) else {
            return 0;
        };
        match self.last_edit_at_or_before(last) {
            None => norm,
            Some(e) if e.replaced && e.norm == last => e.orig + e.width,
            Some(e) => norm + e.shift,
        }
    }

    fn last_edit_at_or_before(&self, norm: usize) -> Option<&Edit> {
        let after = self.edits.partition_point(|e| e.norm <= norm);
        after.checked_sub(1).and_then(|i| self.edits.get(i))
    }
}

/// What one char becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// An invisible format char (see [`Reading`]).
    Invisible,
    /// A letter that looks like this Latin one (see [`Reading`]).
    LookAlike(u8),
    /// This ASCII byte.
    To(u8),
}

/// The first code point of each block of ten decimal digits (Unicode
/// category Nd) read as ASCII digits, full-width excepted.
const DIGIT_ZEROS: [u32; 27] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x19D0, 0x1D7CE, 0x1D7D8,
    0x1D7E2, 0x1D7EC, 0x1D7F6, 0x104A0,
];

/// Cyrillic and Greek letters (and the Roman numeral ten) that look like
/// the Latin letters values begin or end with: the ID card's check `X`,
/// passports `E`/`P`/`S`, permits `C`/`H`/`M` (`Е12345678`, `…002Х`).
const LOOK_ALIKES: [(char, u8); 16] = [
    ('Х', b'X'),
    ('х', b'x'),
    ('Χ', b'X'),
    ('Ⅹ', b'X'),
    ('ⅹ', b'x'),
    ('Е', b'E'),
    ('Ε', b'E'),
    ('Р', b'P'),
    ('Ρ', b'P'),
    ('Ѕ', b'S'),
    ('С', b'C'),
    ('Ϲ', b'C'),
    ('Н', b'H'),
    ('Η', b'H'),
    ('М', b'M'),
    ('Μ', b'M'),
];

/// What `c` becomes in the normalised text; `None` when it stays.
fn fold(c: char) -> Option<Fold> {
    let u = u32::from(c);
    // Most non-ASCII text is CJK: nothing between U+3000 and U+FDFF changes
    // (the ideographic space and full-width forms are the scanner's).
    if u < 0x85 || (0x3000..0xFE00).contains(&u) {
        return None;
    }
    let to = match c {
        // Invisible format characters (Unicode Cf and the like): soft
        // hyphen, combining grapheme joiner, Arabic letter mark, Mongolian
        // vowel separator and free variation selectors, zero-width space,
        // non-joiner, joiner, direction marks, bidi embeddings, word joiner,
        // invisible operators, isolates, variation selectors, BOM, tags.
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' => {
            return Some(Fold::Invisible)
        }
        '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' => {
            return Some(Fold::Invisible)
        }
        '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}' => {
            return Some(Fold::Invisible)
        }
        // Line breaks that are not ASCII: next line, line and paragraph
        // separators.
        '\u{85}' | '\u{2028}' | '\u{2029}' => b'\n',
        // Space separators (Zs): no-break, Ogham, en quad .. hair space,
        // narrow no-break, medium mathematical.
        '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => b' ',
        // Dashes and minus signs: hyphen, non-breaking hyphen, figure, en,
        // em dash, horizontal bar, hyphen bullet, minus, two- and three-em
        // dash, small em dash, small hyphen-minus, modifier minus.
        '\u{2010}'..='\u{2015}' | '\u{2043}' | '\u{2212}' | '\u{2E3A}' | '\u{2E3B}' => b'-',
        '\u{FE58}' | '\u{FE63}' | '\u{2D7}' => b'-',
        // One dot leader, small full stop; small commercial at, plus sign
        // and parentheses.
        '\u{2024}' | '\u{FE52}' => b'.',
        '\u{FE6B}' => b'@',
        '\u{FE62}' => b'+',
        '\u{FE59}' => b'(',
        '\u{FE5A}' => b')',
        _ => {
            if let Some(zero) = DIGIT_ZEROS.iter().find(|&&z| (z..z + 10).contains(&u)) {
                let digit = u8::try_from(u - zero).unwrap_or(0);
                b'0' + digit
            } else {
                let letter = LOOK_ALIKES.iter().find(|(l, _)| *l == c)?.1;
                return Some(Fold::LookAlike(letter));
            }
        }
    };
    Some(Fold::To(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &str, reading: Reading) -> Normalized {
        Normalized::new(text, reading).expect("something to normalise")
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert!(Normalized::new("手机13812345678，谢谢", Reading::Joined).is_none());
        assert!(Normalized::new("ascii only 138 1234 5678", Reading::Joined).is_none());
        assert!(Normalized::new("全角１３８　１２３４", Reading::Joined).is_none());
    }

    #[test]
    fn separators_fold_and_invisibles_go() {
        let n = normalized("138\u{A0}1234\u{2013}5678\u{200B}9\u{AD}x", Reading::Joined);
        assert_eq!(n.text(), "138 1234-56789x");
        assert!(n.ambiguous());
        let s = normalized("1\u{200B}2\u{2060}3Х", Reading::Apart);
        assert_eq!(s.text(), "1 2 3Х");
        assert!(!s.ambiguous());
        assert!(Normalized::new("002Х", Reading::Apart).is_none());
        assert_eq!(
            normalized("٠١٢ ۳ 𝟗𝟖 Е12 Х", Reading::Joined).text(),
            "012 3 98 E12 X"
        );
    }

    #[test]
    fn offsets_lead_back_into_the_original() {
        let text = "a\u{200B}138\u{202F}1234\u{2060}\u{2014}5678\u{FEFF}b";
        let n = normalized(text, Reading::Joined);
        assert_eq!(n.text(), "a138 1234-5678b");
        let (s, e) = (n.text().find('1').unwrap(), n.text().find('b').unwrap());
        let (start, end) = (n.start(s), n.end(e));
        assert_eq!(&text[start..end], "138\u{202F}1234\u{2060}\u{2014}5678");
        // A replaced char at either end is covered whole.
        let t = "\u{A0}12\u{A0}";
        let m = normalized(t, Reading::Joined);
        assert_eq!((m.start(0), m.end(4)), (0, t.len()));
        assert_eq!((m.start(1), m.end(3)), (2, 4));
        // Every normalised char boundary maps onto an original one.
        let wild = "١\u{AD}٢𝟑\u{200D}\u{200D}x\u{2009}é";
        let w = normalized(wild, Reading::Joined);
        for i in 0..=w.text().len() {
            if w.text().is_char_boundary(i) {
                assert!(wild.is_char_boundary(w.start(i)), "start {i}");
                assert!(wild.is_char_boundary(w.end(i)), "end {i}");
                assert!(w.start(i) <= wild.len() && w.end(i) <= wild.len());
            }
        }
    }
}
