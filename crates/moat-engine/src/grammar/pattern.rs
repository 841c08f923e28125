//! A string's `pattern`, rewritten so that every string the grammar lets
//! the model write is a JSON string whose value matches it.
//!
//! llama.cpp turns an anchored pattern into grammar rules, but as written it
//! would let the model (a) repeat `+`, `*` and `{n,}` without end, and a
//! small model does, until `max_tokens`; (b) write `"`, `\` or a control
//! character raw inside the JSON string wherever `.` or a class such as
//! `[^@]` allows it, which ends the string early or breaks the JSON; and
//! (c) write any string at all for a pattern it cannot convert (not
//! anchored, `\d`, `\s`, `\w`), ignoring `maxLength` as well.
//!
//! So the pattern is parsed here (the ECMA-262 subset below) and written
//! back in the form llama.cpp converts: anchored, classes as explicit
//! code point ranges without `"`, `\` or control characters, characters
//! that JSON escapes written as their escape sequence, and every
//! repetition bounded: open ones at [`OPEN_REPETITION`], and all of them
//! lowered further when the schema's `maxLength` is shorter than the
//! longest string the pattern would allow. Each change only narrows the
//! set of strings, so what the grammar allows still matches the original
//! pattern (JSON Schema patterns are unanchored: a match anywhere counts).
//!
//! Lookaround, backreferences, word boundaries, named groups, Unicode
//! property escapes and anchors inside the pattern are not supported; such
//! a pattern is dropped from the grammar (the string keeps its length
//! bounds) and not enforced.

/// Most repetitions of an open-ended quantifier (`*`, `+`, `{n,}`) in the
/// grammar, unless its minimum is higher.
pub const OPEN_REPETITION: u32 = 64;

/// Highest count any repetition keeps (the same limit as the schema's
/// `max*` keywords).
const MAX_COUNT: u32 = super::MAX_REPETITION as u32;

/// What becomes of one `pattern` in the grammar's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rewrite {
    /// Use this pattern instead.
    Pattern(String),
    /// The grammar cannot express it: drop it.
    Unsupported(&'static str),
    /// Not a regular expression.
    Invalid(&'static str),
}

/// Rewrite `pattern` for a string of at most `max_length` characters.
pub(super) fn rewrite(pattern: &str, max_length: Option<u64>) -> Rewrite {
    match Parser::new(pattern).parse() {
        Ok(node) => {
            let bound = fit(&node, max_length);
            let mut out = String::from("^");
            write(&node, bound, false, &mut out);
            out.push('$');
            Rewrite::Pattern(out)
        }
        Err(Problem::Unsupported(why)) => Rewrite::Unsupported(why),
        Err(Problem::Invalid(why)) => Rewrite::Invalid(why),
    }
}

/// One parsed piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    /// One character, matched literally.
    Char(char),
    /// One character from these inclusive, sorted, disjoint code point
    /// ranges, all of them safe to write raw in a JSON string.
    Class(Vec<(u32, u32)>),
    Repeat {
        node: Box<Node>,
        min: u32,
        /// `None`: open-ended.
        max: Option<u32>,
    },
}

#[derive(Debug)]
enum Problem {
    Unsupported(&'static str),
    Invalid(&'static str),
}

/// Code points that must not appear raw in a JSON string.
const JSON_UNSAFE: [(u32, u32); 3] = [(0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C)];
/// Surrogates are not characters.
const SURROGATES: (u32, u32) = (0xD800, 0xDFFF);
const LAST: u32 = 0x10FFFF;
const DIGITS: [(u32, u32); 1] = [(0x30, 0x39)];
const WORD: [(u32, u32); 4] = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];
/// ECMA-262 `\s`: white space and line terminators.
const SPACE: [(u32, u32); 10] = [
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
];
/// `.`: anything but line terminators.
const NOT_DOT: [(u32, u32); 3] = [(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)];

/// Sorted, merged copy of `ranges`.
fn normalize(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Every code point not in `ranges` (normalized).
fn complement(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in ranges {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= LAST {
        out.push((next, LAST));
    }
    out
}

/// `ranges` without `remove` (both normalized).
fn subtract(ranges: &[(u32, u32)], remove: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let keep = complement(remove);
    let mut out = Vec::new();
    for &(lo, hi) in ranges {
        for &(klo, khi) in &keep {
            let (a, b) = (lo.max(klo), hi.min(khi));
            if a <= b {
                out.push((a, b));
            }
        }
    }
    out
}

/// The class node of `ranges` with what JSON cannot hold raw taken out.
fn class(ranges: Vec<(u32, u32)>) -> Result<Node, Problem> {
    let mut unsafe_ = JSON_UNSAFE.to_vec();
    unsafe_.push(SURROGATES);
    let safe = subtract(&normalize(ranges), &normalize(unsafe_));
    if safe.is_empty() {
        return Err(Problem::Unsupported(
            "a character class with only characters JSON escapes",
        ));
    }
    Ok(Node::Class(safe))
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn new(pattern: &str) -> Self {
        Self {
            chars: pattern.chars().collect(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn next(&mut self) -> Result<char, Problem> {
        let c = self.peek().ok_or(Problem::Invalid("it ends too early"))?;
        self.at += 1;
        Ok(c)
    }

    /// The whole pattern, with what its missing anchors allow around it.
    fn parse(mut self) -> Result<Node, Problem> {
        let start_anchored = self.eat('^');
        let end_anchored = ends_with_anchor(&self.chars);
        if end_anchored {
            self.chars.pop();
        }
        let body = self.alternation()?;
        if self.at < self.chars.len() {
            return Err(Problem::Invalid("unbalanced parentheses"));
        }
        let anything = || Node::Repeat {
            node: Box::new(Node::Class(complement(&normalize(NOT_DOT.to_vec())))),
            min: 0,
            max: None,
        };
        let mut seq = Vec::with_capacity(3);
        if !start_anchored {
            seq.push(anything());
        }
        seq.push(body);
        if !end_anchored {
            seq.push(anything());
        }
        let node = if seq.len() == 1 {
            seq.pop().unwrap_or(Node::Seq(Vec::new()))
        } else {
            Node::Seq(seq)
        };
        // `anything` holds `"` and `\`: make every class JSON-safe.
        sanitize(node)
    }

    fn alternation(&mut self) -> Result<Node, Problem> {
        let mut alternatives = vec![self.sequence()?];
        while self.eat('|') {
            alternatives.push(self.sequence()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().unwrap_or(Node::Seq(Vec::new()))
        } else {
            Node::Alt(alternatives)
        })
    }

    fn sequence(&mut self) -> Result<Node, Problem> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            let atom = match c {
                '|' | ')' => break,
                '(' => {
                    self.at += 1;
                    if self.eat('?') && !self.eat(':') {
                        return Err(Problem::Unsupported("lookaround or a named group"));
                    }
                    let inner = self.alternation()?;
                    if !self.eat(')') {
                        return Err(Problem::Invalid("unbalanced parentheses"));
                    }
                    inner
                }
                '[' => {
                    self.at += 1;
                    self.class()?
                }
                '.' => {
                    self.at += 1;
                    class(complement(&normalize(NOT_DOT.to_vec())))?
                }
                '^' | '$' => return Err(Problem::Unsupported("an anchor inside the pattern")),
                '*' | '+' | '?' | '{' => return Err(Problem::Invalid("nothing to repeat")),
                '\\' => {
                    self.at += 1;
                    self.escape()?
                }
                c => {
                    self.at += 1;
                    Node::Char(c)
                }
            };
            items.push(self.quantified(atom)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Seq(Vec::new()))
        } else {
            Node::Seq(items)
        })
    }

    /// `atom` with the quantifier that follows it, if any.
    fn quantified(&mut self, atom: Node) -> Result<Node, Problem> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                let start = self.at;
                let Some(bounds) = self.counts() else {
                    self.at = start;
                    return Err(Problem::Unsupported("a `{` that is not a repetition"));
                };
                return self.after_quantifier(atom, bounds.0, bounds.1);
            }
            _ => return Ok(atom),
        };
        self.at += 1;
        self.after_quantifier(atom, min, max)
    }

    fn after_quantifier(
        &mut self,
        atom: Node,
        min: u32,
        max: Option<u32>,
    ) -> Result<Node, Problem> {
        if max.is_some_and(|max| max < min) {
            return Err(Problem::Invalid(
                "a repetition whose maximum is below its minimum",
            ));
        }
        if min > MAX_COUNT {
            return Err(Problem::Unsupported("a repetition count above 256"));
        }
        // Laziness changes which match is found, not whether one is.
        self.eat('?');
        if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
            return Err(Problem::Invalid("a quantifier after a quantifier"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max: max.map(|m| m.min(MAX_COUNT)),
        })
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor.
    fn counts(&mut self) -> Option<(u32, Option<u32>)> {
        self.at += 1;
        let number = |p: &mut Self| {
            let start = p.at;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.at += 1;
            }
            let digits: String = p.chars[start..p.at].iter().collect();
            // Saturate: an over-long count is refused as too large.
            (!digits.is_empty()).then(|| digits.parse::<u32>().unwrap_or(u32::MAX))
        };
        let min = number(self)?;
        let max = if self.eat(',') {
            number(self)
        } else {
            Some(min)
        };
        self.eat('}').then_some((min, max))
    }

    /// A class, after its `[`.
    fn class(&mut self) -> Result<Node, Problem> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self
                .peek()
                .ok_or(Problem::Invalid("an unterminated character class"))?;
            if c == ']' {
                if first {
                    return Err(Problem::Unsupported("an empty character class"));
                }
                self.at += 1;
                break;
            }
            first = false;
            let lo = match self.class_item()? {
                Item::Set(set) => {
                    ranges.extend(set);
                    continue;
                }
                Item::Char(c) => c as u32,
            };
            let is_range =
                self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&c| c != ']');
            if !is_range {
                ranges.push((lo, lo));
                continue;
            }
            self.at += 1;
            let Item::Char(hi) = self.class_item()? else {
                return Err(Problem::Unsupported("a class escape as a range end"));
            };
            let hi = hi as u32;
            if hi < lo {
                return Err(Problem::Invalid("a character range out of order"));
            }
            ranges.push((lo, hi));
        }
        let ranges = normalize(ranges);
        class(if negated { complement(&ranges) } else { ranges })
    }

    fn class_item(&mut self) -> Result<Item, Problem> {
        let c = self.next()?;
        if c != '\\' {
            return Ok(Item::Char(c));
        }
        let e = self.next()?;
        if let Some(set) = shorthand(e) {
            return Ok(Item::Set(set));
        }
        if e == 'b' {
            return Ok(Item::Char('\u{8}'));
        }
        self.char_escape(e).map(Item::Char)
    }

    /// An escape outside a class, after its `\`.
    fn escape(&mut self) -> Result<Node, Problem> {
        let e = self
            .next()
            .map_err(|_| Problem::Invalid("a trailing backslash"))?;
        if let Some(set) = shorthand(e) {
            return class(set);
        }
        self.char_escape(e).map(Node::Char)
    }

    /// A single-character escape (`\n`, `\x41`, `\u00e9`, `\.`) after its `\`.
    fn char_escape(&mut self, e: char) -> Result<char, Problem> {
        let hex = |p: &mut Self, n: usize| -> Result<char, Problem> {
            let digits: String = p.chars.get(p.at..p.at + n).unwrap_or(&[]).iter().collect();
            let value = (digits.len() == n)
                .then(|| u32::from_str_radix(&digits, 16).ok())
                .flatten()
                .ok_or(Problem::Unsupported("a malformed hexadecimal escape"))?;
            p.at += n;
            char::from_u32(value).ok_or(Problem::Unsupported("an escaped surrogate"))
        };
        match e {
            't' => Ok('\t'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            'f' => Ok('\u{c}'),
            'v' => Ok('\u{b}'),
            '0' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => Ok('\0'),
            'x' => hex(self, 2),
            'u' if self.peek() != Some('{') => hex(self, 4),
            c if c.is_ascii_punctuation() || c == ' ' => Ok(c),
            _ => Err(Problem::Unsupported(
                "an escape other than \\d \\w \\s, their negations and single characters",
            )),
        }
    }
}

enum Item {
    Char(char),
    Set(Vec<(u32, u32)>),
}

/// `\d`, `\w`, `\s` and their negations.
fn shorthand(e: char) -> Option<Vec<(u32, u32)>> {
    let (set, negated): (&[(u32, u32)], bool) = match e {
        'd' => (&DIGITS, false),
        'D' => (&DIGITS, true),
        'w' => (&WORD, false),
        'W' => (&WORD, true),
        's' => (&SPACE, false),
        'S' => (&SPACE, true),
        _ => return None,
    };
    let set = normalize(set.to_vec());
    Some(if negated { complement(&set) } else { set })
}

/// Whether the pattern ends with an unescaped `$`.
fn ends_with_anchor(chars: &[char]) -> bool {
    if chars.last() != Some(&'$') {
        return false;
    }
    let backslashes = chars[..chars.len() - 1]
        .iter()
        .rev()
        .take_while(|&&c| c == '\\')
        .count();
    backslashes % 2 == 0
}

/// Every class of `node` without JSON-unsafe characters.
fn sanitize(node: Node) -> Result<Node, Problem> {
    Ok(match node {
        Node::Seq(items) => Node::Seq(items.into_iter().map(sanitize).collect::<Result<_, _>>()?),
        Node::Alt(items) => Node::Alt(items.into_iter().map(sanitize).collect::<Result<_, _>>()?),
        Node::Class(ranges) => class(ranges)?,
        Node::Repeat { node, min, max } => Node::Repeat {
            node: Box::new(sanitize(*node)?),
            min,
            max,
        },
        c @ Node::Char(_) => c,
    })
}

/// The highest count any repetition keeps, so that the longest string
/// fits `max_length` when the pattern allows that at all.
fn fit(node: &Node, max_length: Option<u64>) -> u32 {
    let Some(limit) = max_length else {
        return MAX_COUNT;
    };
    // Longest string length falls as the bound falls: find the highest
    // bound that fits.
    let (mut low, mut high) = (0, MAX_COUNT);
    if longest(node, high) <= limit {
        return high;
    }
    while low < high {
        let mid = (low + high).div_ceil(2);
        if longest(node, mid) <= limit {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// A repetition's maximum under `bound`.
fn count(min: u32, max: Option<u32>, bound: u32) -> u32 {
    let max = max.unwrap_or(OPEN_REPETITION).min(bound);
    max.max(min)
}

/// The longest string `node` matches under `bound`, in characters.
fn longest(node: &Node, bound: u32) -> u64 {
    match node {
        Node::Char(_) | Node::Class(_) => 1,
        Node::Seq(items) => items
            .iter()
            .fold(0u64, |sum, n| sum.saturating_add(longest(n, bound))),
        Node::Alt(items) => items.iter().map(|n| longest(n, bound)).max().unwrap_or(0),
        Node::Repeat { node, min, max } => {
            longest(node, bound).saturating_mul(u64::from(count(*min, *max, bound)))
        }
    }
}

/// `node` in the syntax llama.cpp converts. `grouped`: `node` sits in a
/// sequence, where an alternation needs parentheses.
fn write(node: &Node, bound: u32, grouped: bool, out: &mut String) {
    match node {
        Node::Seq(items) => {
            for item in items {
                write(item, bound, true, out);
            }
        }
        Node::Alt(items) => {
            if grouped {
                out.push('(');
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write(item, bound, false, out);
            }
            if grouped {
                out.push(')');
            }
        }
        Node::Char(c) => write_char(*c, out),
        Node::Class(ranges) => {
            out.push('[');
            for &(lo, hi) in ranges {
                write_code_point(lo, out);
                if hi > lo {
                    out.push('-');
                    write_code_point(hi, out);
                }
            }
            out.push(']');
        }
        Node::Repeat { node, min, max } => {
            // A group around anything but a class: llama.cpp would join a
            // literal with the literal before it and repeat both.
            let group = !matches!(**node, Node::Class(_));
            if group {
                out.push('(');
            }
            write(node, bound, false, out);
            if group {
                out.push(')');
            }
            out.push_str(&format!("{{{min},{}}}", count(*min, *max, bound)));
        }
    }
}

/// One literal character. What JSON escapes is written as its escape
/// sequence (`\"`, `\\`, `\n`, `\u001f`): those characters are what the
/// model must write for the string's value to hold the character.
fn write_char(c: char, out: &mut String) {
    match c {
        // `\\` is a backslash to llama.cpp; `"` it writes as itself.
        '"' => out.push_str("\\\\\""),
        '\\' => out.push_str("\\\\\\\\"),
        '\n' => out.push_str("\\\\n"),
        '\r' => out.push_str("\\\\r"),
        '\t' => out.push_str("\\\\t"),
        c if (c as u32) < 0x20 => out.push_str(&format!("\\\\u{:04x}", c as u32)),
        '^' | '$' | '.' | '[' | ']' | '(' | ')' | '|' | '{' | '}' | '*' | '+' | '?' => {
            out.push('\\');
            out.push(c);
        }
        c => out.push(c),
    }
}

/// One code point inside a class: letters and digits as themselves, the
/// rest as a hexadecimal escape llama.cpp reads in classes.
fn write_code_point(cp: u32, out: &mut String) {
    match char::from_u32(cp) {
        Some(c) if c.is_ascii_alphanumeric() => out.push(c),
        _ if cp <= 0xFF => out.push_str(&format!("\\x{cp:02X}")),
        _ if cp <= 0xFFFF => out.push_str(&format!("\\u{cp:04X}")),
        _ => out.push_str(&format!("\\U{cp:08X}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str, max_length: Option<u64>) -> String {
        match rewrite(p, max_length) {
            Rewrite::Pattern(p) => p,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn open_repetitions_are_bounded() {
        assert_eq!(pattern("^[a-z]+$", None), "^[a-z]{1,64}$");
        assert_eq!(
            pattern("^a*b{2,}c{3}$", None),
            "^(a){0,64}(b){2,64}(c){3,3}$"
        );
        // A minimum above the bound stays.
        assert_eq!(pattern("^a{100,}$", None), "^(a){100,100}$");
        // Explicit maxima stay without maxLength.
        assert_eq!(pattern("^a{1,200}$", None), "^(a){1,200}$");
    }

    #[test]
    fn max_length_lowers_every_bound_until_the_longest_string_fits() {
        let email = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$";
        let rewritten = pattern(email, Some(100));
        // Three open repetitions and two fixed characters: 32 each fits.
        assert_eq!(
            rewritten,
            "^[\\x25\\x2B\\x2D-\\x2E0-9A-Z\\x5Fa-z]{1,32}@[\\x2D-\\x2E0-9A-Za-z]{1,32}\\.[A-Za-z]{2,32}$"
        );
        assert_eq!(pattern("^[a-z]{1,200}$", Some(10)), "^[a-z]{1,10}$");
        // Fixed parts longer than maxLength: the minimum counts stay.
        assert_eq!(pattern("^abc[0-9]{5}$", Some(3)), "^abc[0-9]{5,5}$");
    }

    #[test]
    fn classes_and_dots_leave_out_what_json_escapes() {
        // `"` (22), `\` (5C) and control characters are never raw.
        assert_eq!(
            pattern("^[^@]$", None),
            "^[\\x20-\\x21\\x23-\\x3FA-\\x5B\\x5D-\\uD7FF\\uE000-\\U0010FFFF]$"
        );
        assert_eq!(
            pattern("^.$", None),
            "^[\\x20-\\x21\\x23-\\x5B\\x5D-\\u2027\\u202A-\\uD7FF\\uE000-\\U0010FFFF]$"
        );
        assert_eq!(
            pattern(r"^[\s]$", None),
            "^[\\x20\\xA0\\u1680\\u2000-\\u200A\\u2028-\\u2029\\u202F\\u205F\\u3000\\uFEFF]$"
        );
        assert_eq!(pattern(r"^\d\w$", None), "^[0-9][0-9A-Z\\x5Fa-z]$");
        assert_eq!(pattern(r"^[\d-]$", None), "^[\\x2D0-9]$");
    }

    #[test]
    fn literals_that_json_escapes_are_written_as_their_escape() {
        assert_eq!(pattern("^a\"b$", None), "^a\\\\\"b$");
        assert_eq!(pattern(r"^a\\b$", None), "^a\\\\\\\\b$");
        assert_eq!(pattern(r"^a\nb$", None), "^a\\\\nb$");
        assert_eq!(pattern(r"^a\.b\$$", None), "^a\\.b\\$$");
    }

    #[test]
    fn a_pattern_without_anchors_matches_anywhere_in_the_string() {
        let dot_class = "[\\x20-\\x21\\x23-\\x5B\\x5D-\\u2027\\u202A-\\uD7FF\\uE000-\\U0010FFFF]";
        assert_eq!(
            pattern("ab|cd", None),
            format!("^{dot_class}{{0,64}}(ab|cd){dot_class}{{0,64}}$")
        );
        assert_eq!(pattern("^ORD-", None), format!("^ORD-{dot_class}{{0,64}}$"));
    }

    #[test]
    fn groups_alternations_and_lazy_quantifiers() {
        assert_eq!(pattern("^(ab|c)+?$", None), "^(ab|c){1,64}$");
        assert_eq!(pattern("^(?:ab)?x$", None), "^(ab){0,1}x$");
    }

    #[test]
    fn what_the_grammar_cannot_express_is_reported() {
        for p in [
            r"^(?=a)b$",
            r"^\bx$",
            r"^(a)\1$",
            r"^a^b$",
            r"^\p{L}$",
            "^a{x}$",
            "^[]$",
        ] {
            assert!(
                matches!(rewrite(p, None), Rewrite::Unsupported(_)),
                "{p}: {:?}",
                rewrite(p, None)
            );
        }
        for p in [
            "^(a$", "^a)$", "^*a$", "^[a-$", "^a{3,1}$", r"^[z-a]$", "\\",
        ] {
            assert!(
                matches!(rewrite(p, None), Rewrite::Invalid(_)),
                "{p}: {:?}",
                rewrite(p, None)
            );
        }
    }

    #[test]
    fn every_rewrite_is_converted_by_llama_cpp() {
        for p in [
            r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
            "^ORD-[0-9]{6}$",
            "a\"b|c\\\\d",
            r"^\S+\s\d*$",
            "^.*$",
            "^é+ü$",
        ] {
            let Rewrite::Pattern(rewritten) = rewrite(p, Some(50)) else {
                panic!("{p}");
            };
            let schema = serde_json::json!({"type": "string", "pattern": rewritten});
            let gbnf = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                .unwrap_or_else(|e| panic!("{p} -> {rewritten}: {e}"));
            // llama.cpp's fallback for a pattern it cannot convert is
            // any JSON string, made of `char`s.
            assert!(!gbnf.contains("char ::="), "{p} -> {rewritten}: {gbnf}");
        }
        let raw = serde_json::json!({"type": "string", "pattern": r"^\d+$"});
        let gbnf = llama_cpp_2::json_schema_to_grammar(&raw.to_string()).unwrap();
        assert!(gbnf.contains("char ::="), "{gbnf}");
    }
}
