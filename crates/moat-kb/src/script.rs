//! Which characters belong to the East Asian scripts, which are written
//! without spaces between words.

/// Han, kana, hangul and bopomofo, with the CJK punctuation and full-width
/// forms written among them. Wider than the keyword tokenizer's own test,
/// which wants letters only: this one is for counting and joining text.
pub(crate) fn is_cjk_text(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'   // hangul jamo
        | '\u{2E80}'..='\u{2FDF}' // radicals
        | '\u{3000}'..='\u{303F}' // CJK symbols and punctuation
        | '\u{3040}'..='\u{30FF}' // hiragana, katakana
        | '\u{3100}'..='\u{31FF}' // bopomofo, kana extensions
        | '\u{3400}'..='\u{4DBF}' // extension A
        | '\u{4E00}'..='\u{9FFF}' // unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // hangul syllables
        | '\u{F900}'..='\u{FAFF}' // compatibility ideographs
        | '\u{FF00}'..='\u{FFEF}' // full-width forms
        | '\u{20000}'..='\u{3134F}')
}
