//! Plain text (`.txt`): decoded ([`decode`], shared by every text format)
//! and cut into paragraphs at blank lines. Line breaks inside a paragraph
//! are kept: plain text uses them for verse, addresses and lists as often
//! as for wrapping, and joining wrapped Chinese lines with spaces would add
//! spaces that are not there.
//!
//! A line underlined by a line of one repeated `=`, `-` or `~` (three or
//! more, as Markdown's setext headings and reStructuredText write them) is
//! a heading of level 1, 2 or 3: plain-text policies and manuals mark
//! their title and sections that way, and the chunks under a section then
//! carry its name.

use super::blocks::Blocks;
use super::{corrupt, ExtractError, Extracted, Input};

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let text = decode(input.bytes)?;
    let mut blocks = Blocks::new(input.limits.max_text_bytes);
    for paragraph in paragraphs(&text) {
        let lines: Vec<&str> = paragraph.lines().collect();
        let mut start = 0;
        let mut i = 0;
        while i + 1 < lines.len() {
            match underline_level(lines[i + 1]) {
                Some(level)
                    if !lines[i].trim().is_empty() && underline_level(lines[i]).is_none() =>
                {
                    if start < i {
                        blocks.preformatted(&lines[start..i].join("\n"))?;
                    }
                    blocks.heading(level, lines[i])?;
                    i += 2;
                    start = i;
                }
                _ => i += 1,
            }
        }
        if start < lines.len() {
            blocks.preformatted(&lines[start..].join("\n"))?;
        }
    }
    Ok(Extracted {
        blocks,
        title: None,
        extractor: "text",
    })
}

/// The heading level a line of one repeated `=`, `-` or `~` (at least
/// three, surrounding spaces allowed) gives the line above it.
fn underline_level(line: &str) -> Option<u8> {
    let line = line.trim();
    let first = line.chars().next()?;
    let level = match first {
        '=' => 1,
        '-' => 2,
        '~' => 3,
        _ => return None,
    };
    (line.chars().count() >= 3 && line.chars().all(|c| c == first)).then_some(level)
}

/// The text between blank lines (lines of whitespace only).
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// The bytes as text: UTF-8 (a byte order mark dropped), or UTF-16 when it
/// starts with a byte order mark. Anything else is
/// [`ExtractError::Corrupt`].
pub(crate) fn decode(bytes: &[u8]) -> Result<String, ExtractError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes);
    }
    utf8(bytes)
}

fn utf8(bytes: &[u8]) -> Result<String, ExtractError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("the file is not valid UTF-8 text"))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, ExtractError> {
    let invalid = || corrupt("the file is not valid UTF-16 text");
    if !bytes.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| invalid())
}
