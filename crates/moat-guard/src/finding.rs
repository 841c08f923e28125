//! One piece of personal data found in a text. Its value never shows in
//! `Debug` output, so a finding can be logged without leaking what it found.

use std::fmt;

use crate::kind::{Confidence, Kind};
use crate::mask;

/// Personal data found at `start..end` (byte offsets into the scanned UTF-8
/// text, always on char boundaries).
#[derive(Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// How sure the recognizer is.
    pub confidence: Confidence,
    /// The value folded to ASCII, separators and prefixes dropped
    /// (`+86 138-1234-5678` -> `13812345678`).
    value: String,
}

impl Finding {
    pub(crate) fn new(
        kind: Kind,
        start: usize,
        end: usize,
        confidence: Confidence,
        value: String,
    ) -> Self {
        Self {
            kind,
            start,
            end,
            confidence,
            value,
        }
    }

    /// The normalized value. It is personal data: do not log it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The text as it stands in `input` (the text this finding came from).
    pub fn text<'a>(&self, input: &'a str) -> Option<&'a str> {
        input.get(self.start..self.end)
    }

    /// The partial mask shown instead of the value (`138****5678`).
    pub fn masked(&self) -> String {
        mask::mask(&self.kind, &self.value)
    }

    /// Byte length of the text it covers.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether it covers no text (never true for a scanner's finding).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("kind", &self.kind)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("confidence", &self.confidence)
            .field("value", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let f = Finding::new(
            Kind::Mobile,
            0,
            11,
            Confidence::Medium,
            "13812345678".into(),
        );
        let shown = format!("{f:?} {f:#?}");
        assert!(!shown.contains("1381234"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(f.masked(), "138****5678");
    }
}
