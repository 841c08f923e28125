//! The block list every reader writes into: it normalises text, drops
//! empty blocks and counts the text against
//! [`ExtractLimits::max_text_bytes`](super::ExtractLimits::max_text_bytes).

use super::{human_size, ExtractError};
use crate::types::Block;

/// Blocks in reading order, with the text they hold counted.
pub(crate) struct Blocks {
    blocks: Vec<Block>,
    text_bytes: usize,
    max_text_bytes: usize,
}

impl Blocks {
    pub fn new(max_text_bytes: usize) -> Self {
        Self {
            blocks: Vec::new(),
            text_bytes: 0,
            max_text_bytes,
        }
    }

    /// A heading, whitespace collapsed; `level` clamped to 1..=9.
    pub fn heading(&mut self, level: u8, text: &str) -> Result<(), ExtractError> {
        let text = collapse_whitespace(text);
        if text.is_empty() {
            return Ok(());
        }
        self.count(text.len())?;
        self.blocks.push(Block::Heading {
            level: level.clamp(1, 9),
            text,
        });
        Ok(())
    }

    /// A paragraph, whitespace collapsed.
    pub fn paragraph(&mut self, text: &str) -> Result<(), ExtractError> {
        let text = collapse_whitespace(text);
        self.push_text(text, |text| Block::Paragraph { text })
    }

    /// A paragraph whose line breaks matter (code, plain text): each line
    /// is trimmed at its end, blank lines at either end dropped.
    pub fn preformatted(&mut self, text: &str) -> Result<(), ExtractError> {
        let text = trim_lines(text);
        self.push_text(text, |text| Block::Paragraph { text })
    }

    /// A list item, whitespace collapsed.
    pub fn list_item(&mut self, text: &str) -> Result<(), ExtractError> {
        let text = collapse_whitespace(text);
        self.push_text(text, |text| Block::ListItem { text })
    }

    /// A table row under `header`; cells are collapsed, rows with no text
    /// dropped.
    pub fn row(&mut self, header: &[String], cells: Vec<String>) -> Result<(), ExtractError> {
        let cells: Vec<String> = cells.iter().map(|cell| collapse_whitespace(cell)).collect();
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        let header: Vec<String> = header
            .iter()
            .map(|cell| collapse_whitespace(cell))
            .collect();
        let cost = cells_cost(&cells) + cells_cost(&header);
        self.count(cost)?;
        self.blocks.push(Block::TableRow { header, cells });
        Ok(())
    }

    /// A page or slide boundary.
    pub fn page(&mut self, number: u32) {
        self.blocks.push(Block::Page { number });
    }

    /// Text counted so far, in bytes.
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// The blocks, without page marks that no text follows.
    pub fn finish(mut self) -> Vec<Block> {
        while matches!(self.blocks.last(), Some(Block::Page { .. })) {
            self.blocks.pop();
        }
        self.blocks
    }

    fn push_text(
        &mut self,
        text: String,
        block: impl FnOnce(String) -> Block,
    ) -> Result<(), ExtractError> {
        if text.is_empty() {
            return Ok(());
        }
        self.count(text.len())?;
        self.blocks.push(block(text));
        Ok(())
    }

    fn count(&mut self, bytes: usize) -> Result<(), ExtractError> {
        self.text_bytes = self.text_bytes.saturating_add(bytes);
        if self.text_bytes > self.max_text_bytes {
            return Err(text_too_large(self.max_text_bytes));
        }
        Ok(())
    }
}

/// The error for text over `max_text_bytes`.
pub(crate) fn text_too_large(max_text_bytes: usize) -> ExtractError {
    ExtractError::TooLarge(format!(
        "the file holds more than the {} of text allowed",
        human_size(max_text_bytes as u64)
    ))
}

/// Whether a block carries text (a page mark does not).
pub(crate) fn has_text(block: &Block) -> bool {
    !matches!(block, Block::Page { .. })
}

/// What a table cell counts beyond its text: near what an empty cell takes
/// in memory, so that a table of mostly empty cells (a sheet with one cell
/// in its last column) cannot take many times the limit.
pub(crate) const CELL_COST: usize = 8;

fn cells_cost(cells: &[String]) -> usize {
    cells.iter().map(|cell| cell.len() + CELL_COST).sum()
}

/// Runs of whitespace (line breaks included) to one space, ends trimmed.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Each line's trailing whitespace removed, `\r\n` to `\n`, blank lines at
/// the start and end dropped.
pub(crate) fn trim_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let start = out.len() - out.trim_start_matches('\n').len();
    let kept = out[start..].trim_end();
    kept.to_owned()
}
