//! Operator-defined recognizers from the configuration: a fixed prefix, a
//! small shape language and an optional check character.
//!
//! The shape language: `d` a digit, `a` a letter, `x` a letter or a digit,
//! each optionally followed by `{n}` or `{m,n}`. `prefix = "KH"` with
//! `pattern = "d{10}"` finds `KH0012345678`. A custom value, like every
//! value, is a whole token (a run of letters and digits), and only tokens
//! with at least one digit are looked at.

use std::sync::Arc;

use serde::Deserialize;

use crate::checksum::Checksum;
use crate::error::GuardError;
use crate::kind::{Confidence, Kind, BUILTIN};
use crate::token::MAX_TOKEN;

/// An operator-defined recognizer, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRecognizer {
    /// Kind name in findings (`customer_no`); the placeholder label is the
    /// name upper-cased (`<CUSTOMER_NO_1>`). Lowercase letters, digits, `_`.
    pub name: String,
    /// Letters and digits the value starts with, compared ignoring case.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Shape of the rest of the value (see the module documentation).
    pub pattern: String,
    /// Check character over the part after the prefix.
    #[serde(default)]
    pub checksum: Checksum,
    /// Words of which one must stand within 32 bytes before the value;
    /// empty means none is needed.
    #[serde(default)]
    pub context: Vec<String>,
}

/// How far before a value a custom context word is looked for, in bytes.
pub const CONTEXT_WINDOW: usize = 32;

#[derive(Debug, Clone, Copy)]
enum Class {
    Digit,
    Letter,
    Alnum,
}

impl Class {
    fn accepts(self, b: u8) -> bool {
        match self {
            Class::Digit => b.is_ascii_digit(),
            Class::Letter => b.is_ascii_alphabetic(),
            Class::Alnum => b.is_ascii_alphanumeric(),
        }
    }
}

/// A custom recognizer ready to match tokens.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The kind its findings carry.
    pub kind: Kind,
    prefix: Vec<u8>,
    shape: Vec<(Class, usize, usize)>,
    checksum: Checksum,
    /// Lower-cased context words.
    pub context: Vec<String>,
}

impl Compiled {
    /// Checks and compiles a recognizer from the configuration.
    pub fn new(r: &CustomRecognizer) -> Result<Compiled, GuardError> {
        let invalid = |reason: &str| GuardError::Config {
            name: r.name.clone(),
            reason: reason.to_owned(),
        };
        let mut name = r.name.bytes();
        let name_ok = name.next().is_some_and(|b| b.is_ascii_lowercase())
            && name.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && r.name.len() <= 32;
        if !name_ok {
            return Err(invalid("the name must be lowercase letters, digits and _ (at most 32), starting with a letter"));
        }
        if BUILTIN.iter().any(|(_, info)| info.name == r.name) {
            return Err(invalid("the name is a built-in kind"));
        }
        let prefix = r.prefix.clone().unwrap_or_default();
        if !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("the prefix must be ASCII letters and digits"));
        }
        let shape = parse_shape(&r.pattern).map_err(invalid)?;
        let longest: usize = shape.iter().map(|(_, _, max)| max).sum();
        if prefix.len() + longest > MAX_TOKEN {
            return Err(invalid(
                "values longer than 64 characters are not supported",
            ));
        }
        Ok(Compiled {
            kind: Kind::Custom(Arc::from(r.name.as_str())),
            prefix: prefix.to_ascii_uppercase().into_bytes(),
            shape,
            checksum: r.checksum,
            context: r.context.iter().map(|w| w.to_lowercase()).collect(),
        })
    }

    /// High with a check character, Medium on shape alone.
    pub fn confidence(&self) -> Confidence {
        if self.checksum == Checksum::None {
            Confidence::Medium
        } else {
            Confidence::High
        }
    }

    /// Whether a folded token is a value of this recognizer.
    pub fn matches(&self, v: &[u8]) -> bool {
        let Some(head) = v.get(..self.prefix.len()) else {
            return false;
        };
        if !head.eq_ignore_ascii_case(&self.prefix) {
            return false;
        }
        let rest = v.get(self.prefix.len()..).unwrap_or_default();
        shape_matches(&self.shape, rest) && self.checksum.verify(rest)
    }
}

/// Parses `d{3}a x{2,4}`-style shapes (spaces ignored).
fn parse_shape(pattern: &str) -> Result<Vec<(Class, usize, usize)>, &'static str> {
    let mut shape = Vec::new();
    let mut chars = pattern.chars().filter(|c| !c.is_whitespace()).peekable();
    while let Some(c) = chars.next() {
        let class = match c {
            'd' => Class::Digit,
            'a' => Class::Letter,
            'x' => Class::Alnum,
            _ => return Err("the pattern may only use d, a, x and {n} / {m,n}"),
        };
        let (min, max) = if chars.peek() == Some(&'{') {
            chars.next();
            let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
            let number = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| "a repeat count is not a number")
            };
            match spec.split_once(',') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => (number(&spec)?, number(&spec)?),
            }
        } else {
            (1, 1)
        };
        if max == 0 || min > max {
            return Err("a repeat range is empty");
        }
        shape.push((class, min, max));
    }
    if shape.is_empty() {
        return Err("the pattern is empty");
    }
    Ok(shape)
}

/// Whether `v` is exactly the shape: the set of reachable positions is
/// carried through the elements (no backtracking blow-up).
fn shape_matches(shape: &[(Class, usize, usize)], v: &[u8]) -> bool {
    let mut reach = vec![false; v.len() + 1];
    if let Some(first) = reach.first_mut() {
        *first = true;
    }
    for &(class, min, max) in shape {
        let mut next = vec![false; v.len() + 1];
        for (p, _) in reach.iter().enumerate().filter(|(_, r)| **r) {
            let run = v
                .iter()
                .skip(p)
                .take(max)
                .take_while(|&&b| class.accepts(b))
                .count();
            for k in min..=run {
                if let Some(slot) = next.get_mut(p + k) {
                    *slot = true;
                }
            }
        }
        reach = next;
    }
    reach.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(prefix: Option<&str>, pattern: &str, checksum: Checksum) -> Compiled {
        Compiled::new(&CustomRecognizer {
            name: "customer_no".into(),
            prefix: prefix.map(str::to_owned),
            pattern: pattern.into(),
            checksum,
            context: vec![],
        })
        .unwrap()
    }

    #[test]
    fn prefix_shape_and_checksum() {
        let r = compiled(Some("KH"), "d{10}", Checksum::None);
        assert!(r.matches(b"KH0012345678"));
        assert!(r.matches(b"kh0012345678"));
        assert!(!r.matches(b"KH001234567"));
        assert!(!r.matches(b"KA0012345678"));
        let luhn = compiled(None, "d{8,12}", Checksum::Luhn);
        assert!(luhn.matches(b"79927398713"));
        assert!(!luhn.matches(b"79927398710"));
        let mixed = compiled(None, "a{2} d{3,4} x", Checksum::None);
        assert!(mixed.matches(b"AB123Z"));
        assert!(mixed.matches(b"AB12345"));
        assert!(!mixed.matches(b"AB12Z"));
    }

    #[test]
    fn bad_configuration_is_refused() {
        let bad = |name: &str, pattern: &str| {
            Compiled::new(&CustomRecognizer {
                name: name.into(),
                prefix: None,
                pattern: pattern.into(),
                checksum: Checksum::None,
                context: vec![],
            })
            .is_err()
        };
        assert!(bad("Customer", "d{4}"));
        assert!(bad("mobile", "d{4}"));
        assert!(bad("ok", "q{4}"));
        assert!(bad("ok", "d{4,2}"));
        assert!(bad("ok", "d{65}"));
        assert!(bad("ok", ""));
        assert!(!bad("ok", "d{4}"));
    }
}
