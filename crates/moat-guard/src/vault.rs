//! The pseudonym vault of one request or conversation: which placeholder
//! (`<PHONE_1>`) stands for which original text, and the way back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::error::GuardError;
use crate::kind::Kind;

/// Placeholders given out for one request or conversation. The same text
/// always gets the same placeholder; placeholder-shaped text already in the
/// input is never reused, so restoring gives back exactly what came in.
#[derive(Clone, Default)]
pub struct PseudonymVault {
    by_text: HashMap<String, String>,
    by_placeholder: BTreeMap<String, String>,
    last_number: HashMap<String, u32>,
    reserved: HashSet<String>,
    longest: usize,
}

impl PseudonymVault {
    /// An empty vault.
    pub fn new() -> PseudonymVault {
        PseudonymVault::default()
    }

    /// The placeholder for `text` found as `kind`: the one it already has,
    /// or the next free `<LABEL_N>`.
    pub fn placeholder(&mut self, kind: &Kind, text: &str) -> Result<String, GuardError> {
        if let Some(p) = self.by_text.get(text) {
            return Ok(p.clone());
        }
        let label = kind.label();
        let mut number = self.last_number.get(&label).copied().unwrap_or(0);
        let placeholder = loop {
            number = number
                .checked_add(1)
                .ok_or(GuardError::Internal("placeholder numbers ran out"))?;
            let candidate = format!("<{label}_{number}>");
            if !self.reserved.contains(&candidate) && !self.by_placeholder.contains_key(&candidate)
            {
                break candidate;
            }
        };
        self.last_number.insert(label, number);
        self.longest = self.longest.max(placeholder.len());
        self.by_text.insert(text.to_owned(), placeholder.clone());
        self.by_placeholder
            .insert(placeholder.clone(), text.to_owned());
        Ok(placeholder)
    }

    /// Marks every placeholder-shaped piece of `text` that this vault did
    /// not give out as taken, so no value is ever replaced by it.
    pub fn reserve_literals(&mut self, text: &str) {
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let tail = rest.get(open..).unwrap_or_default();
            match placeholder_len(tail) {
                Some(len) => {
                    let shaped = tail.get(..len).unwrap_or_default();
                    if !self.by_placeholder.contains_key(shaped) {
                        self.reserved.insert(shaped.to_owned());
                    }
                    rest = tail.get(len..).unwrap_or_default();
                }
                None => rest = tail.get(1..).unwrap_or_default(),
            }
        }
    }

    /// The original text a placeholder stands for.
    pub fn original(&self, placeholder: &str) -> Option<&str> {
        self.by_placeholder.get(placeholder).map(String::as_str)
    }

    /// `text` with every placeholder of this vault replaced by its original;
    /// unknown placeholders stay as they are.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            out.push_str(rest.get(..open).unwrap_or_default());
            let tail = rest.get(open..).unwrap_or_default();
            let known = placeholder_len(tail).and_then(|len| {
                let original = self.original(tail.get(..len)?)?;
                Some((len, original))
            });
            match known {
                Some((len, original)) => {
                    out.push_str(original);
                    rest = tail.get(len..).unwrap_or_default();
                }
                None => {
                    out.push('<');
                    rest = tail.get(1..).unwrap_or_default();
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Whether some placeholder of this vault begins with `prefix`.
    pub(crate) fn could_begin(&self, prefix: &str) -> bool {
        self.by_placeholder
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|(p, _)| p.starts_with(prefix))
    }

    /// Byte length of the longest placeholder given out.
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// How many placeholders were given out.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    /// Whether no placeholder was given out.
    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }
}

/// The length of the placeholder shape (`<` `[A-Z0-9_]+` `>`) that `s`
/// begins with.
pub(crate) fn placeholder_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'<') {
        return None;
    }
    let inner = bytes
        .iter()
        .skip(1)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
        .count();
    (inner > 0 && bytes.get(inner + 1) == Some(&b'>')).then_some(inner + 2)
}

impl fmt::Debug for PseudonymVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymVault")
            .field("placeholders", &self.by_placeholder.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_placeholder() {
        let mut v = PseudonymVault::new();
        let a = v.placeholder(&Kind::Mobile, "13812345678").unwrap();
        let b = v.placeholder(&Kind::Landline, "010-62345678").unwrap();
        let c = v.placeholder(&Kind::Mobile, "13812345678").unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("<PHONE_1>", "<PHONE_2>"));
        assert_eq!(a, c);
        assert_eq!(
            v.restore("call <PHONE_1> or <PHONE_2>, not <PHONE_9>"),
            "call 13812345678 or 010-62345678, not <PHONE_9>"
        );
    }

    #[test]
    fn literal_placeholders_are_never_reused() {
        let mut v = PseudonymVault::new();
        v.reserve_literals("the template says <PHONE_1> and <<EMAIL_1>");
        assert_eq!(
            v.placeholder(&Kind::Mobile, "13812345678").unwrap(),
            "<PHONE_2>"
        );
        assert_eq!(v.placeholder(&Kind::Email, "a@b.cn").unwrap(), "<EMAIL_2>");
        assert_eq!(v.restore("<PHONE_1> <PHONE_2>"), "<PHONE_1> 13812345678");
    }

    #[test]
    fn debug_shows_no_values() {
        let mut v = PseudonymVault::new();
        v.placeholder(&Kind::Mobile, "13812345678").unwrap();
        assert!(!format!("{v:?}").contains("138"));
    }

    #[test]
    fn shapes() {
        assert_eq!(placeholder_len("<ID_CARD_1> x"), Some(11));
        assert_eq!(placeholder_len("<>"), None);
        assert_eq!(placeholder_len("<id_1>"), None);
        assert_eq!(placeholder_len("<ID_1"), None);
    }
}
