//! Markdown (`.md`, `.markdown`) through pulldown-cmark's events:
//! headings with their levels, paragraphs, list items (an item's own text
//! before a nested list is an item of its own), tables with their header
//! row, code blocks as paragraphs with their line breaks. Raw HTML is
//! dropped; a YAML front matter block's `title:` is the title.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::blocks::{collapse_whitespace, Blocks};
use super::{text, ExtractError, Extracted, Input};

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let source = text::decode(input.bytes)?;
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut reader = Reader {
        blocks: Blocks::new(input.limits.max_text_bytes),
        pending: String::new(),
        items: 0,
        skipped: 0,
        metadata: false,
        title: None,
        header: Vec::new(),
        row: Vec::new(),
        rows: 0,
    };
    for event in Parser::new_ext(&source, options) {
        reader.event(event)?;
    }
    reader.flush()?;
    Ok(Extracted {
        blocks: reader.blocks,
        title: reader.title,
        extractor: "markdown",
    })
}

/// Text is gathered in `pending` until the block it belongs to ends.
struct Reader {
    blocks: Blocks,
    pending: String,
    /// How many list items are open.
    items: usize,
    /// Open raw HTML blocks: their text is dropped.
    skipped: usize,
    /// Inside the front matter.
    metadata: bool,
    title: Option<String>,
    /// The current table's header row and the row being read.
    header: Vec<String>,
    row: Vec<String>,
    /// Rows of the current table so far.
    rows: usize,
}

impl Reader {
    fn event(&mut self, event: Event<'_>) -> Result<(), ExtractError> {
        match event {
            Event::Start(tag) => self.start(tag)?,
            Event::End(tag) => self.end(tag)?,
            Event::Text(text) if self.metadata => self.front_matter(&text),
            Event::Text(text)
            | Event::Code(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text) => {
                if self.skipped == 0 {
                    self.pending.push_str(&text);
                }
            }
            Event::SoftBreak => self.pending.push(' '),
            Event::HardBreak => self.pending.push('\n'),
            Event::Rule => self.flush()?,
            Event::Html(_)
            | Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::TaskListMarker(_) => {}
        }
        Ok(())
    }

    fn start(&mut self, tag: Tag<'_>) -> Result<(), ExtractError> {
        match tag {
            Tag::Paragraph => {
                if self.items > 0 {
                    self.pending.push(' ');
                } else {
                    self.flush()?;
                }
            }
            Tag::Item => {
                self.flush()?;
                self.items += 1;
            }
            Tag::Heading { .. }
            | Tag::BlockQuote(_)
            | Tag::List(_)
            | Tag::Table(_)
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition => self.flush()?,
            Tag::CodeBlock(_) => self.flush()?,
            Tag::HtmlBlock => self.skipped += 1,
            Tag::MetadataBlock(_) => self.metadata = true,
            Tag::TableHead | Tag::TableRow => self.row.clear(),
            Tag::TableCell => self.pending.clear(),
            Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. } => {}
        }
        Ok(())
    }

    fn end(&mut self, tag: TagEnd) -> Result<(), ExtractError> {
        match tag {
            TagEnd::Heading(level) => {
                self.blocks.heading(level as u8, &self.pending)?;
                self.pending.clear();
            }
            TagEnd::Paragraph => {
                if self.items == 0 {
                    self.flush()?;
                }
            }
            TagEnd::Item => {
                self.flush()?;
                self.items = self.items.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                self.blocks.preformatted(&self.pending)?;
                self.pending.clear();
            }
            TagEnd::HtmlBlock => self.skipped = self.skipped.saturating_sub(1),
            TagEnd::MetadataBlock(_) => self.metadata = false,
            TagEnd::TableCell => {
                let cell = collapse_whitespace(&self.pending);
                self.row.push(cell);
                self.pending.clear();
            }
            TagEnd::TableHead => self.header = std::mem::take(&mut self.row),
            TagEnd::TableRow => {
                let cells = std::mem::take(&mut self.row);
                self.blocks.row(&self.header, cells)?;
                self.rows += 1;
            }
            TagEnd::Table => {
                let header = std::mem::take(&mut self.header);
                if self.rows == 0 {
                    // A table of its header alone: the header is content.
                    self.blocks.row(&[], header)?;
                }
                self.rows = 0;
            }
            TagEnd::BlockQuote(_)
            | TagEnd::List(_)
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition => self.flush()?,
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image => {}
        }
        Ok(())
    }

    /// The gathered text as the block it is in: a list item inside a list,
    /// else a paragraph.
    fn flush(&mut self) -> Result<(), ExtractError> {
        if self.items > 0 {
            self.blocks.list_item(&self.pending)?;
        } else {
            self.blocks.paragraph(&self.pending)?;
        }
        self.pending.clear();
        Ok(())
    }

    /// `title:` in the YAML front matter, quotes removed.
    fn front_matter(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("title:") {
                let value = value.trim().trim_matches(['"', '\'']).trim();
                if !value.is_empty() {
                    self.title = Some(value.to_owned());
                }
            }
        }
    }
}
