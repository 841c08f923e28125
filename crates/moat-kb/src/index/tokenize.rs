//! The keyword index's one tokenizer, used for chunks and queries alike
//! ([`KbTokenizer`], registered as [`TOKENIZER_NAME`]).
//!
//! - Every character is first folded: compatibility forms decomposed
//!   (full-width `ＡＢＣ１２３` becomes `abc123`, `ﬁ` becomes `fi`), accents
//!   and other combining marks dropped (`café` = `cafe`; a lone combining
//!   mark is nothing), lowercased, dashes unified to `-`.
//! - A run of CJK characters (Han, kana, Hangul) gives jieba's search-mode
//!   words (HMM on) and every overlapping bigram of the run, so words jieba
//!   does not know (new product names, people's names) still match.
//! - A run of letters and digits joined by `-` `_` `/` `.` is an identifier:
//!   `HT-2024-5082` gives `ht-2024-5082` whole and its parts `ht`, `2024`,
//!   `5082`; a part mixing letters and digits (`310a`) gives itself and its
//!   letter and digit pieces (`310`, `a`). Plain ASCII words are stemmed
//!   (English Snowball): `approved`, `approval`, `approves` give `approv`.
//! - Tokens longer than [`MAX_TOKEN_BYTES`] are dropped (their parts stay).

use std::sync::OnceLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The name the tokenizer is registered under in the keyword index.
pub const TOKENIZER_NAME: &str = "moat_kb";

/// Longest token kept, in bytes (a SHA-256 in hex is 64).
pub const MAX_TOKEN_BYTES: usize = 80;

/// Longest query read, in bytes; the rest is ignored.
pub const MAX_QUERY_BYTES: usize = 4096;

/// The segmenter, built once: loading its dictionary takes a while.
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Loads the Chinese dictionary now rather than on the first chunk or
/// query that needs it.
pub fn warm_up() {
    jieba();
}

/// The tokenizer as tantivy calls it.
#[derive(Debug, Clone, Copy, Default)]
pub struct KbTokenizer;

impl Tokenizer for KbTokenizer {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        Tokens {
            tokens: tokenize(text),
            next: 0,
            none: Token::default(),
        }
    }
}

/// The tokens of one text, handed to tantivy one at a time.
#[derive(Debug)]
pub struct Tokens {
    tokens: Vec<Token>,
    /// Index of the current token plus one (0 before the first advance).
    next: usize,
    /// What `token()` shows before the first advance.
    none: Token,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.none)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.none,
        }
    }
}

/// All tokens of `text`, in order, with byte offsets into `text`.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut analyzer = Analyzer::new();
    for (from, c) in text.char_indices() {
        let to = from + c.len_utf8();
        if c.is_ascii() {
            analyzer.feed(c.to_ascii_lowercase(), from, to);
        } else if is_hangul_syllable(c) {
            // Compatibility decomposition would split it into jamo.
            analyzer.feed(c, from, to);
        } else {
            decompose_compatible(c, |d| {
                for l in d.to_lowercase() {
                    if !is_combining_mark(l) {
                        analyzer.feed(unify_dash(l), from, to);
                    }
                }
            });
        }
    }
    analyzer.end_word();
    analyzer.end_cjk();
    analyzer.tokens
}

/// The distinct terms of a query, in order of first appearance, at most
/// `max_terms`, reading at most [`MAX_QUERY_BYTES`] of it.
pub fn query_terms(query: &str, max_terms: usize) -> Vec<String> {
    let mut end = query.len().min(MAX_QUERY_BYTES);
    while !query.is_char_boundary(end) {
        end -= 1;
    }
    let mut terms: Vec<String> = Vec::new();
    for token in tokenize(&query[..end]) {
        if terms.len() >= max_terms {
            break;
        }
        if !terms.contains(&token.text) {
            terms.push(token.text);
        }
    }
    terms
}

/// Splits folded characters into words and CJK runs and emits their tokens.
struct Analyzer {
    tokens: Vec<Token>,
    position: usize,
    stemmer: frostem::Stemmer,
    /// The identifier being read (letters, digits, inner connectors).
    word: String,
    word_from: usize,
    word_to: usize,
    /// A connector after the word, kept only if a letter or digit follows.
    pending_connector: Option<char>,
    /// The CJK run being read, with each character's offset in the text.
    cjk: String,
    cjk_offsets: Vec<usize>,
    cjk_to: usize,
    /// Scratch: byte positions of the run's characters.
    cjk_bytes: Vec<usize>,
}

impl Analyzer {
    fn new() -> Self {
        Self {
            tokens: Vec::new(),
            position: 0,
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
            word: String::new(),
            word_from: 0,
            word_to: 0,
            pending_connector: None,
            cjk: String::new(),
            cjk_offsets: Vec::new(),
            cjk_to: 0,
            cjk_bytes: Vec::new(),
        }
    }

    /// One folded character, taken from `text[from..to]`.
    fn feed(&mut self, c: char, from: usize, to: usize) {
        if is_cjk(c) {
            self.end_word();
            self.cjk.push(c);
            self.cjk_offsets.push(from);
            self.cjk_to = to;
        } else if c.is_alphanumeric() {
            self.end_cjk();
            if self.word.is_empty() {
                self.word_from = from;
            } else if let Some(connector) = self.pending_connector.take() {
                self.word.push(connector);
            }
            self.word.push(c);
            self.word_to = to;
        } else if is_connector(c) && !self.word.is_empty() && self.pending_connector.is_none() {
            self.pending_connector = Some(c);
        } else {
            self.end_word();
            self.end_cjk();
        }
    }

    fn end_word(&mut self) {
        self.pending_connector = None;
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        if word.contains(is_connector) {
            self.emit(&word, self.word_from, self.word_to);
            for part in word.split(is_connector) {
                self.emit_part(part);
            }
        } else {
            self.emit_part(&word);
        }
        self.word = word;
        self.word.clear();
    }

    /// A part of an identifier, or a plain word.
    fn emit_part(&mut self, part: &str) {
        let has_letter = part.chars().any(char::is_alphabetic);
        let has_digit = part.chars().any(char::is_numeric);
        if !(has_letter && has_digit) {
            self.emit_simple(part);
            return;
        }
        self.emit(part, self.word_from, self.word_to);
        let mut start = 0;
        let mut numeric = None;
        for (i, c) in part.char_indices() {
            let is_numeric = c.is_numeric();
            if numeric.is_some_and(|n| n != is_numeric) {
                self.emit_simple(&part[start..i]);
                start = i;
            }
            numeric = Some(is_numeric);
        }
        self.emit_simple(&part[start..]);
    }

    /// Letters only or digits only: ASCII words are stemmed.
    fn emit_simple(&mut self, piece: &str) {
        if !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_lowercase()) {
            let stemmed = self.stemmer.stem(piece).into_owned();
            self.emit(&stemmed, self.word_from, self.word_to);
        } else {
            self.emit(piece, self.word_from, self.word_to);
        }
    }

    fn end_cjk(&mut self) {
        if self.cjk.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.cjk);
        let offsets = std::mem::take(&mut self.cjk_offsets);
        let run_to = self.cjk_to;
        let offset_of = |char_index: usize| offsets.get(char_index).copied().unwrap_or(run_to);
        let chars = offsets.len();
        for word in jieba().cut_for_search(&run, true) {
            // Two-character words are among the bigrams below.
            if chars >= 2 && word.end - word.start == 2 {
                continue;
            }
            self.emit(word.word, offset_of(word.start), offset_of(word.end));
        }
        if chars >= 2 {
            let mut bytes = std::mem::take(&mut self.cjk_bytes);
            bytes.clear();
            bytes.extend(run.char_indices().map(|(i, _)| i));
            bytes.push(run.len());
            for i in 0..chars - 1 {
                if let (Some(&from), Some(&to)) = (bytes.get(i), bytes.get(i + 2)) {
                    self.emit(&run[from..to], offset_of(i), offset_of(i + 2));
                }
            }
            self.cjk_bytes = bytes;
        }
        self.cjk = run;
        self.cjk.clear();
        self.cjk_offsets = offsets;
        self.cjk_offsets.clear();
    }

    fn emit(&mut self, text: &str, offset_from: usize, offset_to: usize) {
        if text.is_empty() || text.len() > MAX_TOKEN_BYTES {
            return;
        }
        self.tokens.push(Token {
            offset_from,
            offset_to,
            position: self.position,
            text: text.to_owned(),
            position_length: 1,
        });
        self.position += 1;
    }
}

/// Joins the parts of an identifier (`HT-2024-5082`, `GB/T`, `v1.2`, `a_b`).
fn is_connector(c: char) -> bool {
    matches!(c, '-' | '_' | '/' | '.')
}

/// Hyphens, dashes and the minus sign, as `-`.
fn unify_dash(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' => '-',
        other => other,
    }
}

fn is_hangul_syllable(c: char) -> bool {
    matches!(c, '\u{ac00}'..='\u{d7a3}')
}

/// Han ideographs, kana and Hangul: scripts written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'
        | '\u{3040}'..='\u{30ff}'
        | '\u{31f0}'..='\u{31ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{20000}'..='\u{2fa1f}'
        | '\u{30000}'..='\u{323af}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn identifier_whole_and_parts() {
        assert_eq!(
            texts("HT-2024-5082"),
            ["ht-2024-5082", "ht", "2024", "5082"]
        );
        assert_eq!(texts("KX-310A"), ["kx-310a", "kx", "310a", "310", "a"]);
        assert_eq!(texts("E37"), ["e37", "e", "37"]);
        assert_eq!(
            texts("GB/T 22239-2019"),
            ["gb/t", "gb", "t", "22239-2019", "22239", "2019"]
        );
    }

    #[test]
    fn trailing_and_doubled_connectors_end_the_word() {
        assert_eq!(texts("end. Next"), ["end", "next"]);
        assert_eq!(texts("a--b"), ["a", "b"]);
        assert_eq!(texts("-x-"), ["x"]);
    }

    #[test]
    fn english_words_are_stemmed_identifiers_are_not() {
        assert_eq!(
            texts("Approved approval APPROVES"),
            ["approv", "approv", "approv"]
        );
        assert_eq!(texts("running-dogs"), ["running-dogs", "run", "dog"]);
    }

    #[test]
    fn full_width_and_accents_fold_to_ascii() {
        assert_eq!(texts("ＡＢＣ１２３"), ["abc123", "abc", "123"]);
        assert_eq!(texts("ＨＴ－２０２４"), ["ht-2024", "ht", "2024"]);
        assert_eq!(texts("Café"), texts("cafe"));
        assert_eq!(texts("cafe\u{301}"), texts("cafe"));
        assert_eq!(texts("Straße"), ["straße"]);
    }

    #[test]
    fn cjk_run_gives_jieba_words_and_bigrams() {
        assert_eq!(texts("付款期限"), ["付款", "款期", "期限"]);
        let tokens = texts("中华人民共和国");
        for expected in ["共和国", "中华人民共和国", "中华", "华人", "民共"] {
            assert!(
                tokens.iter().any(|t| t == expected),
                "{expected} in {tokens:?}"
            );
        }
        // Each bigram once: two-character jieba words are not repeated.
        assert_eq!(tokens.iter().filter(|t| *t == "人民").count(), 1);
        assert_eq!(texts("人"), ["人"]);
        // A name jieba does not know still matches by its bigrams.
        let name = texts("张伟明");
        assert!(name.iter().any(|t| t == "伟明"), "{name:?}");
    }

    #[test]
    fn mixed_script_splits_at_script_changes() {
        let tokens = tokenize("合同编号HT-2024-5082的付款");
        let ht = tokens.iter().find(|t| t.text == "ht-2024-5082");
        let ht = ht.map(|t| (t.offset_from, t.offset_to));
        assert_eq!(ht, Some((12, 24)));
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert!(texts.contains(&"合同"), "{texts:?}");
        assert!(texts.contains(&"付款"), "{texts:?}");
        assert!(!texts.iter().any(|t| t.contains("编号h")), "{texts:?}");
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "ＡＢ 付款";
        for token in tokenize(text) {
            assert!(text.get(token.offset_from..token.offset_to).is_some());
        }
        let first = tokenize(text)
            .into_iter()
            .next()
            .map(|t| (t.offset_from, t.offset_to));
        assert_eq!(first, Some((0, 6)));
    }

    #[test]
    fn odd_input_gives_no_tokens() {
        assert!(texts("").is_empty());
        assert!(texts("\u{301}\u{301}").is_empty());
        assert!(texts("\0\0 😀 \"()").is_empty());
        assert_eq!(texts("a\0b"), ["a", "b"]);
        let long = "x".repeat(200);
        assert!(texts(&long).is_empty());
        assert_eq!(texts(&format!("{long}-ab")), ["ab"]);
    }

    #[test]
    fn query_terms_are_distinct_and_capped() {
        assert_eq!(query_terms("dog dogs DOG cat", 64), ["dog", "cat"]);
        let many: String = (0..10_000).map(|i| format!("w{i} ")).collect();
        assert_eq!(query_terms(&many, 64).len(), 64);
        // A multi-byte character across the byte limit is not split.
        let wide = "付".repeat(MAX_QUERY_BYTES);
        assert!(!query_terms(&wide, 64).is_empty());
    }

    #[test]
    fn token_stream_walks_the_tokens() {
        let mut tokenizer = KbTokenizer;
        let mut stream = tokenizer.token_stream("a b");
        assert_eq!(stream.token().text, "");
        let mut seen = Vec::new();
        while stream.advance() {
            seen.push(stream.token().text.clone());
        }
        assert_eq!(seen, ["a", "b"]);
        assert!(!stream.advance());
    }
}
