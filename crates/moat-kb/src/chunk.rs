//! Chunking: a [`Document`] cut into [`Chunk`]s of at most
//! [`ChunkSettings::max_tokens`] tokens, by a counter the caller passes
//! (the embedding model's tokenizer, or [`estimate_tokens`]).
//!
//! - A heading ends the chunk before it and sets the heading path (a
//!   level-2 heading replaces the path's entries of level 2 and below);
//!   chunks never span a heading, and never overlap across one.
//! - Paragraphs and list items are packed whole. One too long for a chunk
//!   is cut at sentence ends (`.` `!` `?` before a space, `。` `！` `？` `；`,
//!   and line breaks), a sentence too long at whitespace, a word too long
//!   between characters (never inside a UTF-8 character, nor before a
//!   combining mark, variation selector or after a zero-width joiner).
//! - The next chunk of a section starts with the last sentences of the one
//!   before, up to [`ChunkSettings::overlap_tokens`].
//! - Consecutive table rows with the same header are a table, written one
//!   row a line as `| a | b |`; every chunk holding rows of a table starts
//!   with its header line, and a row is only cut when it alone is too
//!   long. Table chunks carry no overlap: the header is their context.
//! - List items are written `- item`, one a line; other parts are separated
//!   by a blank line.
//! - A chunk's page is the page its first text is on.
//!
//! Token counts of the pieces are added up as chunks are packed; each
//! finished chunk is counted once more as a whole, and cut again should a
//! tokenizer count the joined text higher than its pieces.

mod split;

use crate::script::is_cjk_text;
use crate::types::{Block, Chunk, Document};
#[cfg(test)]
use split::{sentences, words};
use split::{split_to_fit, Piece, Words};

/// How big chunks are and how much consecutive chunks repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    /// Most tokens in a chunk, at least [`MIN_MAX_TOKENS`].
    pub max_tokens: usize,
    /// Tokens of the previous chunk's last sentences that the next chunk of
    /// a section starts with; less than half of `max_tokens`.
    pub overlap_tokens: usize,
}

/// The smallest `max_tokens` accepted.
pub const MIN_MAX_TOKENS: usize = 16;

impl Default for ChunkSettings {
    /// 400 tokens, 80 of overlap.
    fn default() -> Self {
        Self {
            max_tokens: 400,
            overlap_tokens: 80,
        }
    }
}

/// Why chunk settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidChunkSettings(pub String);

impl ChunkSettings {
    /// Checked settings (see [`ChunkSettings::validate`]).
    pub fn new(max_tokens: usize, overlap_tokens: usize) -> Result<Self, InvalidChunkSettings> {
        let settings = Self {
            max_tokens,
            overlap_tokens,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// `max_tokens` at least [`MIN_MAX_TOKENS`], `overlap_tokens` less than
    /// half of it. Settings from users are checked with this;
    /// [`chunk`] itself clamps what it is given instead of failing.
    pub fn validate(&self) -> Result<(), InvalidChunkSettings> {
        if self.max_tokens < MIN_MAX_TOKENS {
            return Err(InvalidChunkSettings(format!(
                "max_tokens must be at least {MIN_MAX_TOKENS}, not {}",
                self.max_tokens
            )));
        }
        if self.overlap_tokens >= self.max_tokens / 2 {
            return Err(InvalidChunkSettings(format!(
                "overlap_tokens must be less than half of max_tokens ({}), not {}",
                self.max_tokens / 2,
                self.overlap_tokens
            )));
        }
        Ok(())
    }

    /// The settings [`chunk`] uses: `max_tokens` raised to
    /// [`MIN_MAX_TOKENS`], `overlap_tokens` lowered below half of it.
    fn clamped(&self) -> Self {
        let max_tokens = self.max_tokens.max(MIN_MAX_TOKENS);
        Self {
            max_tokens,
            overlap_tokens: self.overlap_tokens.min(max_tokens / 2 - 1),
        }
    }
}

/// A cheap token count for when there is no tokenizer: a run of letters
/// and digits counts one token each 4 characters (rounded up), each CJK
/// character one, each other visible character (punctuation, symbols,
/// emoji) one; whitespace nothing. It errs high for English, which keeps
/// chunks under a real tokenizer's limit.
pub fn estimate_tokens(text: &str) -> usize {
    let mut tokens = 0;
    let mut word: usize = 0;
    for c in text.chars() {
        if c.is_alphanumeric() && !is_cjk_text(c) {
            word += 1;
            continue;
        }
        tokens += word.div_ceil(4);
        word = 0;
        if !c.is_whitespace() {
            tokens += 1;
        }
    }
    tokens + word.div_ceil(4)
}

/// Cuts `doc` into chunks of at most `settings.max_tokens` tokens by
/// `count_tokens` (settings out of range are clamped, see
/// [`ChunkSettings::validate`]). Only a single character the counter
/// puts over the limit makes a chunk longer.
pub fn chunk(
    doc: &Document,
    settings: &ChunkSettings,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let settings = settings.clamped();
    let mut packer = Packer::new(settings, count_tokens);
    let mut headings: Vec<(u8, String)> = Vec::new();
    let mut page = None;
    for block in &doc.blocks {
        match block {
            Block::Heading { level, text } => {
                packer.end_section(&path(&headings));
                while headings.last().is_some_and(|(open, _)| open >= level) {
                    headings.pop();
                }
                let text = text.trim();
                if !text.is_empty() {
                    headings.push((*level, text.to_owned()));
                }
            }
            Block::Page { number } => page = Some(*number),
            Block::Paragraph { text } => packer.text(text, false, page),
            Block::ListItem { text } => packer.text(text, true, page),
            Block::TableRow { header, cells } => packer.row(header, cells, page),
        }
    }
    packer.end_section(&path(&headings));
    packer
        .chunks
        .into_iter()
        .enumerate()
        .map(|(ordinal, (text, headings, page))| Chunk {
            ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
            text,
            title: doc.title.clone(),
            headings,
            page,
        })
        .collect()
}

fn path(headings: &[(u8, String)]) -> Vec<String> {
    headings.iter().map(|(_, text)| text.clone()).collect()
}

#[derive(Debug, Clone)]
enum Body {
    Text {
        list: bool,
        pieces: Vec<Piece>,
    },
    Table {
        header: Option<Piece>,
        rows: Vec<Piece>,
    },
}

/// One paragraph, list item or table, or the part of one in a chunk.
#[derive(Debug, Clone)]
struct Part {
    /// Which block (or table) it comes from, so that a block cut across
    /// chunks continues its part after the overlap.
    source: u64,
    body: Body,
    page: Option<u32>,
}

/// The chunk being packed.
#[derive(Debug, Default)]
struct Draft {
    parts: Vec<Part>,
    tokens: usize,
    /// Holds something besides the overlap it started with.
    fresh: bool,
}

/// The table rows are being added to.
struct Table {
    source: u64,
    cells: Vec<String>,
    /// The header line, when chunks repeat it (it has cells and takes at
    /// most half a chunk).
    header: Option<Piece>,
}

/// What the separators cost by the caller's counter.
struct Costs {
    /// Between parts (`"\n\n"`).
    part: usize,
    /// Between lines of a table, or list items (`"\n"`).
    line: usize,
    /// Before a list item (`"- "`).
    bullet: usize,
}

struct Packer<'c> {
    settings: ChunkSettings,
    count: &'c dyn Fn(&str) -> usize,
    costs: Costs,
    draft: Draft,
    table: Option<Table>,
    /// Blocks and tables seen, for [`Part::source`].
    sources: u64,
    /// Finished drafts of the current section.
    section: Vec<Draft>,
    /// Finished chunks: text, heading path, page.
    chunks: Vec<(String, Vec<String>, Option<u32>)>,
}

impl<'c> Packer<'c> {
    fn new(settings: ChunkSettings, count: &'c dyn Fn(&str) -> usize) -> Self {
        let costs = Costs {
            part: count("\n\n"),
            line: count("\n"),
            bullet: count("- "),
        };
        Self {
            settings,
            count,
            costs,
            draft: Draft::default(),
            table: None,
            sources: 0,
            section: Vec::new(),
            chunks: Vec::new(),
        }
    }

    fn max(&self) -> usize {
        self.settings.max_tokens
    }

    /// A paragraph or list item.
    fn text(&mut self, text: &str, list: bool, page: Option<u32>) {
        self.table = None;
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.sources += 1;
        let source = self.sources;
        let bullet = if list { self.costs.bullet } else { 0 };
        let budget = self.max().saturating_sub(bullet).max(1);
        let pieces = split_to_fit(text, budget, self.count, Words::Packed);
        let total: usize = pieces.iter().map(|piece| piece.tokens).sum();
        if bullet + total <= self.max() {
            // Whole, in this chunk or the next.
            let need = move |packer: &Packer<'_>| packer.part_cost(list) + bullet + total;
            self.make_room(need, true);
            let need = need(self);
            let body = Body::Text { list, pieces };
            self.push_part(Part { source, body, page }, need);
            return;
        }
        for piece in pieces {
            if self.continues(source) && self.draft.tokens + piece.tokens <= self.max() {
                self.extend_last(piece);
                continue;
            }
            let tokens = piece.tokens;
            let need = move |packer: &Packer<'_>| packer.part_cost(list) + bullet + tokens;
            self.make_room(need, true);
            if self.continues(source) {
                // The overlap is this block's own last sentences.
                self.extend_last(piece);
                continue;
            }
            let need = need(self);
            let body = Body::Text {
                list,
                pieces: vec![piece],
            };
            self.push_part(Part { source, body, page }, need);
        }
    }

    /// A table row under `header`.
    fn row(&mut self, header: &[String], cells: &[String], page: Option<u32>) {
        if self
            .table
            .as_ref()
            .is_none_or(|table| table.cells != header)
        {
            self.start_table(header, page);
        }
        let Some(table) = &self.table else {
            return;
        };
        let source = table.source;
        let header_cost = table
            .header
            .as_ref()
            .map_or(0, |header| header.tokens + self.costs.line);
        let line = render_row(cells);
        if line.is_empty() {
            return;
        }
        let budget = self.max().saturating_sub(header_cost).max(1);
        for piece in split_to_fit(&line, budget, self.count, Words::Packed) {
            self.table_piece(source, piece, header_cost, page);
        }
    }

    fn start_table(&mut self, header: &[String], page: Option<u32>) {
        let line = render_row(header);
        let tokens = (self.count)(&line);
        let repeated = !line.is_empty() && tokens <= self.max() / 2;
        if !line.is_empty() && !repeated {
            // Too long to repeat: said once, as text.
            self.text(&line, false, page);
        }
        self.sources += 1;
        self.table = Some(Table {
            source: self.sources,
            cells: header.to_vec(),
            header: repeated.then_some(Piece { text: line, tokens }),
        });
    }

    fn table_piece(&mut self, source: u64, piece: Piece, header_cost: usize, page: Option<u32>) {
        if !self.draft.fresh {
            // Table chunks start with their header, not with overlap.
            self.draft = Draft::default();
        }
        let line = self.costs.line;
        if self.continues(source) && self.draft.tokens + line + piece.tokens <= self.max() {
            if let Some(Part {
                body: Body::Table { rows, .. },
                ..
            }) = self.draft.parts.last_mut()
            {
                self.draft.tokens += line + piece.tokens;
                rows.push(piece);
            }
            return;
        }
        let tokens = piece.tokens;
        let need = move |packer: &Packer<'_>| packer.part_cost(false) + header_cost + tokens;
        self.make_room(need, false);
        let need = need(self);
        let header = self.table.as_ref().and_then(|table| table.header.clone());
        let body = Body::Table {
            header,
            rows: vec![piece],
        };
        self.push_part(Part { source, body, page }, need);
    }

    /// Whether the draft's last part comes from `source`.
    fn continues(&self, source: u64) -> bool {
        self.draft
            .parts
            .last()
            .is_some_and(|part| part.source == source)
    }

    /// Adds a piece to the draft's last (text) part.
    fn extend_last(&mut self, piece: Piece) {
        if let Some(Part {
            body: Body::Text { pieces, .. },
            ..
        }) = self.draft.parts.last_mut()
        {
            self.draft.tokens += piece.tokens;
            self.draft.fresh = true;
            pieces.push(piece);
        }
    }

    /// What starting a new part costs before its own text: the separator
    /// from the part before, if any.
    fn part_cost(&self, list: bool) -> usize {
        match self.draft.parts.last() {
            None => 0,
            Some(Part {
                body: Body::Text { list: true, .. },
                ..
            }) if list => self.costs.line,
            Some(_) => self.costs.part,
        }
    }

    fn push_part(&mut self, part: Part, need: usize) {
        self.draft.tokens += need;
        self.draft.parts.push(part);
        self.draft.fresh = true;
    }

    /// Makes room for what `need` says the next part costs: a draft with
    /// content of its own is finished (the next one starting with its
    /// overlap when `overlap`), then overlap is dropped from the front
    /// until the part fits.
    fn make_room(&mut self, need: impl Fn(&Self) -> usize, overlap: bool) {
        if self.draft.tokens + need(self) <= self.max() {
            return;
        }
        if self.draft.fresh {
            let done = std::mem::take(&mut self.draft);
            if overlap {
                self.draft = self.overlap_of(&done);
            }
            self.section.push(done);
        }
        while !self.draft.parts.is_empty() && self.draft.tokens + need(self) > self.max() {
            self.drop_first_piece();
        }
        if self.draft.parts.is_empty() {
            self.draft.tokens = 0;
        }
    }

    /// A draft of `done`'s last sentences, up to the overlap; none after a
    /// table.
    fn overlap_of(&self, done: &Draft) -> Draft {
        let limit = self.settings.overlap_tokens;
        let mut taken: Vec<Part> = Vec::new();
        let mut tokens = 0;
        for part in done.parts.iter().rev() {
            let Body::Text { list, pieces } = &part.body else {
                break;
            };
            let mut cost = if *list { self.costs.bullet } else { 0 } + self.costs.part;
            let mut kept = Vec::new();
            for piece in pieces.iter().rev() {
                if tokens + cost + piece.tokens > limit {
                    break;
                }
                cost += piece.tokens;
                kept.push(piece.clone());
            }
            let whole = kept.len() == pieces.len();
            if !kept.is_empty() {
                kept.reverse();
                tokens += cost;
                let body = Body::Text {
                    list: *list,
                    pieces: kept,
                };
                taken.push(Part {
                    source: part.source,
                    body,
                    page: part.page,
                });
            }
            if !whole {
                break;
            }
        }
        taken.reverse();
        Draft {
            parts: taken,
            tokens,
            fresh: false,
        }
    }

    /// Drops the first piece of an overlap-only draft.
    fn drop_first_piece(&mut self) {
        let Some(first) = self.draft.parts.first_mut() else {
            return;
        };
        let emptied = match &mut first.body {
            Body::Text { list, pieces } => {
                if !pieces.is_empty() {
                    let piece = pieces.remove(0);
                    self.draft.tokens = self.draft.tokens.saturating_sub(piece.tokens);
                }
                if pieces.is_empty() {
                    let bullet = if *list { self.costs.bullet } else { 0 };
                    let overhead = bullet + self.costs.part;
                    self.draft.tokens = self.draft.tokens.saturating_sub(overhead);
                }
                pieces.is_empty()
            }
            Body::Table { .. } => true,
        };
        if emptied {
            self.draft.parts.remove(0);
        }
    }

    /// Finishes the section's chunks under heading path `headings`.
    fn end_section(&mut self, headings: &[String]) {
        self.table = None;
        let last = std::mem::take(&mut self.draft);
        if last.fresh {
            self.section.push(last);
        }
        for draft in std::mem::take(&mut self.section) {
            let page = draft.parts.first().and_then(|part| part.page);
            let text = render(&draft.parts);
            if text.is_empty() {
                continue;
            }
            if (self.count)(&text) <= self.max() {
                self.chunks.push((text, headings.to_vec(), page));
                continue;
            }
            // The counter puts the joined text higher than its pieces.
            let pieces = split_to_fit(&text, self.max(), self.count, Words::Apart);
            for text in pack(pieces, self.max(), self.count) {
                self.chunks.push((text, headings.to_vec(), page));
            }
        }
    }
}

/// Pieces joined greedily into texts that `count` puts at no more than
/// `max` tokens, the joined text counted each time (this only runs for a
/// chunk the counter put over the limit, so the quadratic cost is rare).
fn pack(pieces: Vec<Piece>, max: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let joined = format!("{current}{}", piece.text);
        if !current.trim().is_empty() && count(joined.trim()) > max {
            out.push(std::mem::replace(&mut current, piece.text));
        } else {
            current = joined;
        }
    }
    out.push(current);
    out.into_iter()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .collect()
}

/// A chunk's text: parts separated by a blank line, list items by a line
/// break.
fn render(parts: &[Part]) -> String {
    let mut out = String::new();
    let mut previous_list = false;
    for part in parts {
        let is_list = matches!(part.body, Body::Text { list: true, .. });
        if !out.is_empty() {
            out.push_str(if previous_list && is_list {
                "\n"
            } else {
                "\n\n"
            });
        }
        match &part.body {
            Body::Text { list, pieces } => {
                let text: String = pieces.iter().map(|piece| piece.text.as_str()).collect();
                if *list {
                    out.push_str("- ");
                }
                out.push_str(text.trim());
            }
            Body::Table { header, rows } => {
                let mut lines: Vec<&str> = Vec::new();
                if let Some(header) = header {
                    lines.push(&header.text);
                }
                lines.extend(rows.iter().map(|row| row.text.trim()));
                out.push_str(&lines.join("\n"));
            }
        }
        previous_list = is_list;
    }
    out.trim().to_owned()
}

/// `| a | b |`, a `|` inside a cell escaped; empty when no cell has text.
fn render_row(cells: &[String]) -> String {
    if cells.iter().all(|cell| cell.trim().is_empty()) {
        return String::new();
    }
    let mut line = String::from("|");
    for cell in cells {
        line.push(' ');
        line.push_str(&cell.trim().replace('|', "\\|"));
        line.push_str(" |");
    }
    line
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;

/// What is embedded for a chunk: its title and headings (a heading that
/// repeats the title once), then its text; the context is joined by ` › `
/// on a line of its own.
pub fn embedding_text(title: &str, headings: &[String], text: &str) -> String {
    let mut context: Vec<&str> = Vec::with_capacity(headings.len() + 1);
    if !title.is_empty() {
        context.push(title);
    }
    context.extend(headings.iter().map(String::as_str).filter(|h| *h != title));
    if context.is_empty() {
        text.to_owned()
    } else {
        format!("{}\n{}", context.join(" › "), text)
    }
}
