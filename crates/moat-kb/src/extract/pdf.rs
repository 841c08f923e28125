//! PDF: the text layer, page by page (a [`Block::Page`](crate::Block::Page)
//! mark, then the page's paragraphs, cut at blank lines).
//!
//! pdf-extract (pure Rust) reads first. When it fails, panics, or its text
//! looks wrong ([`Quality::garbled`]: mostly replacement, private-use or
//! control characters, no letters at all, or single-byte mojibake, as a
//! CJK font without a usable encoding gives), `pdftotext` reads the file
//! if it is installed, and whichever text is better is kept; the document
//! says which in its `extractor`. A PDF with no text layer (a scan) is
//! [`ExtractError::NoText`]: there is no OCR here.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::blocks::Blocks;
use super::{corrupt, pdftotext, ExtractError, Extracted, Input};
use crate::script::is_cjk_text;

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let primary = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(input.bytes)
    }))
    .ok()
    .and_then(Result::ok);
    let primary_quality = primary.as_deref().map(Quality::of);
    if let (Some(pages), Some(quality)) = (&primary, primary_quality) {
        if !quality.garbled() {
            return build(pages, "pdf-extract", input);
        }
    }
    let max_text = input.limits.max_text_bytes;
    if let Some(pages) = pdftotext::pages(input.bytes, max_text, input.deadline)? {
        let quality = Quality::of(&pages);
        let better = match primary_quality {
            Some(primary) => quality.better_than(&primary),
            None => true,
        };
        if better && quality.letters > 0 {
            return build(&pages, "pdftotext", input);
        }
    }
    match (primary, primary_quality) {
        (Some(pages), Some(quality)) if quality.letters > 0 => build(&pages, "pdf-extract", input),
        (Some(_), _) => Err(ExtractError::NoText),
        (None, _) => Err(corrupt(
            "the PDF file is damaged or encrypted and could not be read",
        )),
    }
}

fn build(
    pages: &[String],
    extractor: &'static str,
    input: &Input<'_>,
) -> Result<Extracted, ExtractError> {
    let mut blocks = Blocks::new(input.limits.max_text_bytes);
    for (index, page) in pages.iter().enumerate() {
        blocks.page(u32::try_from(index + 1).unwrap_or(u32::MAX));
        for paragraph in paragraphs(page) {
            blocks.paragraph(&paragraph)?;
        }
    }
    Ok(Extracted {
        blocks,
        title: None,
        extractor,
    })
}

/// A page's text cut at blank lines, each paragraph's lines joined (with a
/// space, except between two CJK characters, which no space separates).
fn paragraphs(page: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for line in page.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        let joins_tightly = current.chars().next_back().is_some_and(is_cjk_text)
            && line.chars().next().is_some_and(is_cjk_text);
        if !current.is_empty() && !joins_tightly {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// Counts that tell readable text from what a broken font encoding gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Quality {
    /// Characters other than whitespace.
    pub visible: usize,
    /// Letters and digits, in any script.
    pub letters: usize,
    /// U+FFFD, private-use and control characters.
    pub bad: usize,
    /// Letters from Latin-1's upper half (`Ã`, `¤`, ...): what CJK bytes
    /// read as a single-byte encoding look like.
    pub latin1_high: usize,
}

impl Quality {
    pub fn of(pages: &[String]) -> Self {
        let mut quality = Self::default();
        for c in pages.iter().flat_map(|page| page.chars()) {
            if c.is_whitespace() {
                continue;
            }
            quality.visible += 1;
            if c.is_alphanumeric() {
                quality.letters += 1;
                if ('\u{80}'..='\u{FF}').contains(&c) {
                    quality.latin1_high += 1;
                }
            }
            if c == '\u{FFFD}' || c.is_control() || is_private_use(c) {
                quality.bad += 1;
            }
        }
        quality
    }

    /// No letters, more than a tenth bad characters, or more than a third
    /// of the letters from Latin-1's upper half.
    pub fn garbled(&self) -> bool {
        self.letters == 0 || self.bad * 10 > self.visible || self.latin1_high * 3 > self.letters
    }

    /// Not garbled where `other` is, or else more letters.
    pub fn better_than(&self, other: &Self) -> bool {
        match (self.garbled(), other.garbled()) {
            (false, true) => true,
            (true, false) => false,
            _ => self.letters > other.letters,
        }
    }
}

fn is_private_use(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality(text: &str) -> Quality {
        Quality::of(&[text.to_owned()])
    }

    #[test]
    fn readable_text_is_not_garbled() {
        assert!(!quality("Quarterly report: revenue grew 12%.").garbled());
        assert!(!quality("季度报告：收入增长了百分之十二。").garbled());
        assert!(!quality("Größenänderung der Straße über Nacht").garbled());
    }

    #[test]
    fn broken_encodings_are_garbled() {
        assert!(quality("\u{FFFD}\u{FFFD}\u{FFFD} ab").garbled());
        assert!(quality("\u{E001}\u{E002}\u{E003}\u{E004} a").garbled());
        assert!(quality("... ,,, ;;; !!!").garbled());
        assert!(quality("¼¾¶È±¨¸æ£ºÊÕÈëÔö³¤").garbled());
        assert!(quality("").garbled());
    }

    #[test]
    fn readable_text_beats_garbled_text() {
        let good = quality("季度报告");
        let bad = quality("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}");
        assert!(good.better_than(&bad));
        assert!(!bad.better_than(&good));
    }

    #[test]
    fn lines_join_with_spaces_except_between_cjk() {
        let page = "The first line\n  and the second.\n\n第一行\n第二行\nend\n";
        assert_eq!(
            paragraphs(page),
            vec!["The first line and the second.", "第一行第二行 end"]
        );
    }
}
