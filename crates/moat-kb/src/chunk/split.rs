//! Cutting text into pieces that fit a token budget: at sentence ends,
//! then at whitespace, then between characters.

/// A sentence or a cut of one, with the whitespace after it, and its count.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    pub text: String,
    pub tokens: usize,
}

impl Piece {
    pub const fn empty() -> Self {
        Self {
            text: String::new(),
            tokens: 0,
        }
    }
}

/// How the words of a sentence too long for a piece are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Words {
    /// Joined into pieces by their counts added up (the usual way).
    Packed,
    /// One piece a word, each counted on its own (for a chunk the counter
    /// put over the limit, which added counts cannot be trusted for).
    Apart,
}

/// `text` as pieces of at most `budget` tokens each: sentences, a sentence
/// too long cut at whitespace, a word too long between characters. The
/// pieces put together are `text`.
pub(super) fn split_to_fit(
    text: &str,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
    words_kept: Words,
) -> Vec<Piece> {
    let mut out = Vec::new();
    for sentence in sentences(text) {
        let tokens = count(sentence);
        if tokens <= budget {
            out.push(Piece {
                text: sentence.to_owned(),
                tokens,
            });
            continue;
        }
        let mut packed = Piece::empty();
        for word in words(sentence) {
            let tokens = count(word);
            let fits = packed.tokens + tokens <= budget && words_kept == Words::Packed;
            if !fits && !packed.text.is_empty() {
                out.push(std::mem::replace(&mut packed, Piece::empty()));
            }
            if tokens > budget {
                out.extend(cut_word(word, budget, count));
                continue;
            }
            packed.text.push_str(word);
            packed.tokens += tokens;
        }
        if !packed.text.is_empty() {
            out.push(packed);
        }
    }
    out
}

/// Sentences of `text`, each with the closing quotes or brackets and the
/// whitespace after its end: `.` `!` `?` followed by whitespace (or the
/// end), `。` `！` `？` `；` anywhere, and line breaks.
pub(super) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let mut next = at + c.len_utf8();
        let ends = match c {
            '。' | '！' | '？' | '；' | '\n' => true,
            '.' | '!' | '?' => {
                let after = skip(text, next, is_closing);
                text[after..].chars().next().is_none_or(char::is_whitespace)
            }
            _ => false,
        };
        if ends {
            next = skip(text, skip(text, next, is_closing), char::is_whitespace);
            out.push(&text[start..next]);
            start = next;
        }
        at = next;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The position after the characters from `from` that `wanted` accepts.
fn skip(text: &str, from: usize, wanted: fn(char) -> bool) -> usize {
    let mut at = from;
    for c in text[from..].chars() {
        if !wanted(c) {
            break;
        }
        at += c.len_utf8();
    }
    at
}

/// Closing quotes and brackets that belong to the sentence they follow.
fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '”' | '’' | '」' | '』' | '）' | '】' | '》' | '〉'
    )
}

/// Words of `text`, each with the whitespace after it (whitespace before
/// the first word is part of it).
pub(super) fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut in_space = false;
    for (index, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = seen_word;
        } else {
            if in_space {
                out.push(&text[start..index]);
                start = index;
                in_space = false;
            }
            seen_word = true;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A word cut between characters into pieces of at most `budget` tokens (a
/// character the counter alone puts over it stands alone). Each cut is
/// found by doubling then halving the number of characters taken, so the
/// counter runs a few times a piece.
fn cut_word(word: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < word.len() {
        let fits = |end: usize| count(&word[start..end]) <= budget;
        // The largest number of characters known to fit, and one known not
        // to (or the end of the word).
        let mut good = 1;
        let mut bad = None;
        let mut step = 2;
        loop {
            let end = advance(word, start, step);
            if !fits(end) {
                bad = Some(step);
                break;
            }
            good = step;
            if end == word.len() {
                break;
            }
            step *= 2;
        }
        if let Some(mut bad) = bad {
            while bad - good > 1 {
                let middle = good + (bad - good) / 2;
                if fits(advance(word, start, middle)) {
                    good = middle;
                } else {
                    bad = middle;
                }
            }
        }
        let end = advance(word, start, good);
        let text = &word[start..end];
        out.push(Piece {
            text: text.to_owned(),
            tokens: count(text),
        });
        start = end;
    }
    out
}

/// The position `characters` characters after `from` (or the end), where a
/// character takes the marks that attach to it along.
fn advance(word: &str, from: usize, characters: usize) -> usize {
    let mut at = from;
    for _ in 0..characters {
        let mut chars = word[at..].chars();
        let Some(first) = chars.next() else {
            break;
        };
        at += first.len_utf8();
        let mut previous = first;
        for c in chars {
            if !(joins_previous(c) || previous == '\u{200D}') {
                break;
            }
            at += c.len_utf8();
            previous = c;
        }
    }
    at
}

/// Characters that attach to the one before: combining marks, variation
/// selectors, emoji modifiers, tags, the zero-width joiner.
fn joins_previous(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}
