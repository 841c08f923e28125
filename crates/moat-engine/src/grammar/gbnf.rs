//! A dry run of llama.cpp's GBNF parser (`llama-grammar.cpp`) over a
//! grammar this module built: it follows the same syntax and counts the
//! rules and elements the parser would allocate, without allocating them.
//!
//! Two things make this worth doing before llama.cpp sees a grammar. A
//! grammar llama.cpp refuses is printed whole to stderr (tool names, enum
//! values: request data) by a `fprintf` that no log callback catches; and a
//! grammar it accepts can expand far beyond its text: `S{m,n}` copies `S`
//! `m` times and adds `n - m` rules, and a `{10,2}` makes `n - m` wrap
//! around to 2^64, which allocates until the process is killed. So every
//! refusal llama.cpp would make is made here first, and the expansion is
//! bounded.

use std::collections::HashSet;

/// Most rules (named and generated) in one grammar.
pub const MAX_GRAMMAR_RULES: usize = 16_384;
/// Most grammar elements (8 bytes each in llama.cpp) over all rules.
pub const MAX_GRAMMAR_ELEMENTS: u64 = 1 << 21;
/// Deepest nesting of parenthesised groups; llama.cpp parses them by
/// recursion.
pub const MAX_GRAMMAR_NESTING: usize = 64;
/// llama.cpp's own limit on repetition counts (`MAX_REPETITION_THRESHOLD`).
const LLAMA_REPETITION_THRESHOLD: u64 = 2000;

/// Check `gbnf` as llama.cpp would parse it; the reason when it would
/// refuse it or expand it beyond the limits.
pub(super) fn check(gbnf: &str) -> Result<(), String> {
    let mut parser = DryRun {
        src: gbnf.as_bytes(),
        pos: 0,
        symbols: 0,
        names: HashSet::new(),
        defined: HashSet::new(),
        elements: 0,
        depth: 0,
    };
    parser.grammar()
}

struct DryRun<'a> {
    src: &'a [u8],
    pos: usize,
    /// Symbols (rule ids) made so far, named and generated.
    symbols: u64,
    /// Rule names seen, referenced or defined.
    names: HashSet<&'a [u8]>,
    defined: HashSet<&'a [u8]>,
    elements: u64,
    depth: usize,
}

/// Elements in a rule being built, and where its last symbol starts.
struct Sequence {
    len: u64,
    last_start: u64,
}

impl<'a> DryRun<'a> {
    fn peek(&self) -> u8 {
        self.src.get(self.pos).copied().unwrap_or(0)
    }

    fn at(&self, offset: usize) -> u8 {
        self.src.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn space(&mut self, newline_ok: bool) {
        loop {
            match self.peek() {
                b' ' | b'\t' => self.pos += 1,
                b'#' => {
                    while !matches!(self.peek(), 0 | b'\r' | b'\n') {
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' if newline_ok => self.pos += 1,
                _ => return,
            }
        }
    }

    fn name(&mut self) -> Result<&'a [u8], String> {
        let start = self.pos;
        while matches!(self.peek(), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-') {
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("expecting a name");
        }
        let src = self.src;
        Ok(&src[start..self.pos])
    }

    fn int(&mut self) -> Result<u64, String> {
        let start = self.pos;
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("expecting an integer");
        }
        // llama.cpp's `stoull` throws beyond 64 bits; saturate, and the
        // threshold below refuses it.
        let digits = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("0");
        Ok(digits.parse::<u64>().unwrap_or(u64::MAX))
    }

    /// One character of a literal or class: an escape or a UTF-8 sequence.
    fn char(&mut self) -> Result<(), String> {
        match self.peek() {
            0 => self.fail("unexpected end of input"),
            b'\\' => {
                let hex = match self.at(1) {
                    b'x' => 2,
                    b'u' => 4,
                    b'U' => 8,
                    b't' | b'r' | b'n' | b'\\' | b'"' | b'[' | b']' | b'-' => 0,
                    _ => return self.fail("unknown escape"),
                };
                self.pos += 2;
                for _ in 0..hex {
                    if !self.peek().is_ascii_hexdigit() {
                        return self.fail("expecting hex digits");
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            first => {
                let len = match first {
                    0x00..=0x7F => 1,
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF7 => 4,
                    _ => return self.fail("invalid UTF-8"),
                };
                self.pos = (self.pos + len).min(self.src.len());
                Ok(())
            }
        }
    }

    fn add_elements(&mut self, n: u64) -> Result<(), String> {
        self.elements = self.elements.saturating_add(n);
        if self.elements > MAX_GRAMMAR_ELEMENTS {
            return Err(format!(
                "it would expand to more than {MAX_GRAMMAR_ELEMENTS} grammar elements"
            ));
        }
        Ok(())
    }

    fn new_symbol(&mut self) -> Result<(), String> {
        self.symbols += 1;
        if self.symbols > MAX_GRAMMAR_RULES as u64 {
            return Err(format!(
                "it would have more than {MAX_GRAMMAR_RULES} grammar rules"
            ));
        }
        Ok(())
    }

    fn reference(&mut self, name: &'a [u8]) -> Result<(), String> {
        if self.names.insert(name) {
            self.new_symbol()?;
        }
        Ok(())
    }

    fn grammar(&mut self) -> Result<(), String> {
        self.space(true);
        while self.peek() != 0 {
            self.rule()?;
        }
        if let Some(name) = self.names.iter().find(|n| !self.defined.contains(*n)) {
            return Err(format!(
                "the rule `{}` is used but not defined",
                String::from_utf8_lossy(name)
            ));
        }
        Ok(())
    }

    fn rule(&mut self) -> Result<(), String> {
        let name = self.name()?;
        self.reference(name)?;
        self.defined.insert(name);
        self.space(false);
        if !self.src[self.pos..].starts_with(b"::=") {
            return self.fail("expecting ::=");
        }
        self.pos += 3;
        self.space(true);
        self.alternates(false)?;
        match self.peek() {
            b'\r' if self.at(1) == b'\n' => self.pos += 2,
            b'\r' | b'\n' => self.pos += 1,
            0 => {}
            _ => return self.fail("expecting a newline or the end"),
        }
        self.space(true);
        Ok(())
    }

    /// Alternatives up to the end of the rule or group; their elements,
    /// one `ALT` between two and an `END`, make one rule.
    fn alternates(&mut self, nested: bool) -> Result<(), String> {
        let mut len = self.sequence(nested)?;
        while self.peek() == b'|' {
            self.pos += 1;
            self.space(true);
            len += 1 + self.sequence(nested)?;
        }
        self.add_elements(len + 1)
    }

    /// One sequence; returns its length in elements. Elements of the
    /// rules it generates are counted as they are made.
    fn sequence(&mut self, nested: bool) -> Result<u64, String> {
        let mut seq = Sequence {
            len: 0,
            last_start: 0,
        };
        // Rules made by the last symbol (a group's inner rules).
        let mut prev_rules: u64 = 1;
        loop {
            match self.peek() {
                b'"' => {
                    self.pos += 1;
                    seq.last_start = seq.len;
                    prev_rules = 1;
                    while self.peek() != b'"' {
                        self.char()?;
                        seq.len += 1;
                    }
                    self.pos += 1;
                    self.space(nested);
                }
                b'[' => {
                    self.pos += 1;
                    if self.peek() == b'^' {
                        self.pos += 1;
                    }
                    seq.last_start = seq.len;
                    prev_rules = 1;
                    while self.peek() != b']' {
                        self.char()?;
                        seq.len += 1;
                        if self.peek() == b'-' && self.at(1) != b']' {
                            if self.at(1) == 0 {
                                return self.fail("unexpected end of input");
                            }
                            self.pos += 1;
                            self.char()?;
                            seq.len += 1;
                        }
                    }
                    self.pos += 1;
                    self.space(nested);
                }
                b'<' | b'!' => return self.fail("token references are not used here"),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                    let name = self.name()?;
                    self.reference(name)?;
                    self.space(nested);
                    seq.last_start = seq.len;
                    prev_rules = 1;
                    seq.len += 1;
                }
                b'(' => {
                    self.pos += 1;
                    self.space(true);
                    self.depth += 1;
                    if self.depth > MAX_GRAMMAR_NESTING {
                        return Err(format!(
                            "it nests groups deeper than {MAX_GRAMMAR_NESTING} levels"
                        ));
                    }
                    let before = self.symbols;
                    self.new_symbol()?;
                    self.alternates(true)?;
                    self.depth -= 1;
                    prev_rules = (self.symbols - before).max(1);
                    seq.last_start = seq.len;
                    seq.len += 1;
                    if self.peek() != b')' {
                        return self.fail("expecting ')'");
                    }
                    self.pos += 1;
                    self.space(nested);
                }
                b'.' => {
                    seq.last_start = seq.len;
                    prev_rules = 1;
                    seq.len += 1;
                    self.pos += 1;
                    self.space(nested);
                }
                b'*' | b'+' | b'?' => {
                    let (min, max) = match self.peek() {
                        b'*' => (0, None),
                        b'+' => (1, None),
                        _ => (0, Some(1)),
                    };
                    self.pos += 1;
                    self.space(nested);
                    self.repeat(&mut seq, &mut prev_rules, min, max)?;
                }
                b'{' => {
                    self.pos += 1;
                    self.space(nested);
                    let min = self.int()?;
                    self.space(nested);
                    let max = match self.peek() {
                        b'}' => Some(min),
                        b',' => {
                            self.pos += 1;
                            self.space(nested);
                            let max = if self.peek().is_ascii_digit() {
                                let max = self.int()?;
                                self.space(nested);
                                Some(max)
                            } else {
                                None
                            };
                            if self.peek() != b'}' {
                                return self.fail("expecting '}'");
                            }
                            max
                        }
                        _ => return self.fail("expecting ','"),
                    };
                    self.pos += 1;
                    self.space(nested);
                    if min > LLAMA_REPETITION_THRESHOLD {
                        return self.fail("a repetition count beyond llama.cpp's limit");
                    }
                    if max.is_some_and(|max| max < min) {
                        return self.fail("a repetition whose maximum is below its minimum");
                    }
                    let max = max.filter(|&m| m <= LLAMA_REPETITION_THRESHOLD);
                    self.repeat(&mut seq, &mut prev_rules, min, max)?;
                }
                _ => return Ok(seq.len),
            }
        }
    }

    /// llama.cpp's `handle_repetitions` for the last symbol of `seq`.
    fn repeat(
        &mut self,
        seq: &mut Sequence,
        prev_rules: &mut u64,
        min: u64,
        max: Option<u64>,
    ) -> Result<(), String> {
        if seq.last_start == seq.len {
            return self.fail("nothing to repeat");
        }
        let prev = seq.len - seq.last_start;
        let total = match max {
            Some(max) if max > 0 => max,
            _ if min > 0 => min,
            _ => 1,
        };
        if prev_rules.saturating_mul(total) > LLAMA_REPETITION_THRESHOLD {
            return self.fail("a repetition of a complex group beyond llama.cpp's limit");
        }
        if min == 0 {
            seq.len = seq.last_start;
        } else {
            seq.len = seq.len.saturating_add((min - 1).saturating_mul(prev));
        }
        let optional = match max {
            None => 1,
            Some(max) => max - min,
        };
        for _ in 0..optional {
            self.new_symbol()?;
        }
        // Each optional rule: the symbol, maybe a reference, ALT, END.
        self.add_elements(optional.saturating_mul(prev + 3))?;
        if optional > 0 {
            seq.len += 1;
        }
        if seq.len > MAX_GRAMMAR_ELEMENTS {
            return Err(format!(
                "it would expand to more than {MAX_GRAMMAR_ELEMENTS} grammar elements"
            ));
        }
        *prev_rules = prev_rules.saturating_mul(total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn grammars_llama_cpp_accepts_pass() {
        for gbnf in [
            "root ::= \"a\" | [b-d]+ x\nx ::= (\"y\" | \"z\"){0,3} [^\\\"\\\\]* # comment\n",
            "root ::= (\n  \"a\"\n  | \"b\"\n)?\n",
            "root ::= \"\\u00e9\\x41\\n\" [\\[\\]\\-] . \"日本\"",
            "root ::= x{2} x{1,} x{0,5}\nx ::= \"x\"",
        ] {
            assert_eq!(check(gbnf), Ok(()), "{gbnf}");
        }
    }

    #[test]
    fn a_maximum_below_the_minimum_is_refused() {
        let err = check("root ::= char{10,2}\nchar ::= [a-z]").unwrap_err();
        assert!(err.contains("maximum is below its minimum"), "{err}");
        let err = check("root ::= (\"a\" (\",\" \"a\"){9,1})").unwrap_err();
        assert!(err.contains("maximum is below its minimum"), "{err}");
    }

    #[test]
    fn what_llama_cpp_would_refuse_is_refused() {
        for (gbnf, why) in [
            ("root ::= x", "not defined"),
            ("root ::= \"a", "end of input"),
            ("root ::= [a", "end of input"),
            ("root ::= \"\\q\"", "unknown escape"),
            ("root ::= (\"a\"", "expecting ')'"),
            ("root ::= \"a\"{3001}", "limit"),
            ("root ::= \"a\"{2,x}", "expecting '}'"),
            ("root ::= *", "nothing to repeat"),
            ("root := \"a\"", "::="),
            ("root ::= <[12]>", "token"),
            ("root ::= ((\"a\"{0,40}){0,40}){0,40}", "complex group"),
        ] {
            let err = check(gbnf).unwrap_err();
            assert!(err.contains(why), "{gbnf}: {err}");
        }
    }

    #[test]
    fn expansion_is_bounded() {
        let long = "a".repeat(2000);
        let err = check(&format!("root ::= \"{long}\"{{1999}}")).unwrap_err();
        assert!(err.contains("grammar elements"), "{err}");
        let deep = format!("root ::= {}\"a\"{}", "(".repeat(100), ")".repeat(100));
        assert!(check(&deep).unwrap_err().contains("nests groups"));
        let many: String = (0..MAX_GRAMMAR_RULES + 1)
            .map(|i| format!("r{i} ::= \"a\"\n"))
            .collect();
        assert!(check(&many).unwrap_err().contains("grammar rules"));
    }
}
