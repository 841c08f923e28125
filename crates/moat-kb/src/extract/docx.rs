//! Word documents (`.docx`): `word/document.xml` streamed with quick-xml.
//!
//! A paragraph (`w:p`) is a heading when its style is a heading (named
//! `heading 1`..`heading 9` or `Title` in `word/styles.xml`, or with an
//! outline level, following `basedOn`; without a styles part the style id
//! `Heading1`..`Heading9` / `Title` is taken at its word), a list item when
//! it is numbered (`w:numPr`, its own or its style's), else a paragraph.
//! A table (`w:tbl`) gives one row a `w:tr`, the first row the header; a
//! table nested in a cell is read as that cell's text. Deleted and moved-
//! away text and the fallback copies of alternate content are skipped. The
//! title is `dc:title`, else the first `Title` paragraph.

use std::collections::HashMap;
use std::io::Read;

use quick_xml::events::{BytesStart, Event};

use super::archive::{Archive, EntryError, OfficeKind};
use super::blocks::{collapse_whitespace, text_too_large, Blocks};
use super::ooxml::{attribute, core_title, push_reference, reader};
use super::{ExtractError, Extracted, Input};

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let mut archive = Archive::open(input, OfficeKind::Docx)?;
    let styles = archive
        .with_entry("word/styles.xml", read_styles)
        .ok()
        .flatten()
        .unwrap_or_default();
    let core = core_title(&mut archive)?;
    let mut body = Body::new(input.limits.max_text_bytes, &styles);
    archive
        .with_entry("word/document.xml", |entry| body.read(entry))?
        .ok_or_else(|| archive.error())?;
    Ok(Extracted {
        title: core.or(body.title_paragraph),
        blocks: body.blocks,
        extractor: "docx",
    })
}

/// What a paragraph style makes of its paragraphs.
#[derive(Debug, Clone, Default)]
struct Style {
    /// The style's name, lower case (`heading 1`).
    name: String,
    /// `w:outlineLvl`, 0 for the top level.
    outline: Option<u8>,
    based_on: Option<String>,
    numbered: bool,
}

type Styles = HashMap<String, Style>;

/// How many `basedOn` links are followed.
const MAX_STYLE_CHAIN: usize = 10;

fn read_styles(entry: &mut dyn Read) -> Result<Styles, EntryError> {
    let mut reader = reader(entry);
    let mut buffer = Vec::new();
    let mut styles = Styles::new();
    let mut current: Option<(String, Style)> = None;
    loop {
        let event = reader.read_event_into(&mut buffer)?;
        match &event {
            Event::Start(element) | Event::Empty(element) => {
                let name = element.local_name();
                match name.as_ref() {
                    "style" => {
                        let is_paragraph =
                            attribute(element, "type").is_none_or(|t| t == "paragraph");
                        current = match attribute(element, "styleId") {
                            Some(id) if is_paragraph => Some((id, Style::default())),
                            _ => None,
                        };
                    }
                    "name" => {
                        if let (Some((_, style)), Some(value)) =
                            (&mut current, attribute(element, "val"))
                        {
                            style.name = value.to_lowercase();
                        }
                    }
                    "basedOn" => {
                        if let Some((_, style)) = &mut current {
                            style.based_on = attribute(element, "val");
                        }
                    }
                    "outlineLvl" => {
                        if let Some((_, style)) = &mut current {
                            style.outline = attribute(element, "val").and_then(|v| v.parse().ok());
                        }
                    }
                    "numId" => {
                        if let Some((_, style)) = &mut current {
                            style.numbered = attribute(element, "val").is_some_and(|v| v != "0");
                        }
                    }
                    _ => {}
                }
            }
            Event::End(element) if element.local_name().as_ref() == "style" => {
                if let Some((id, style)) = current.take() {
                    styles.insert(id, style);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    Ok(styles)
}

/// The heading level a style id gives (1 for `Title`), following
/// `basedOn`.
fn heading_level(styles: &Styles, style_id: &str) -> Option<u8> {
    if !styles.contains_key(style_id) {
        // No styles part, or a style it does not define: the id is all
        // there is (`Heading2`, `Title`).
        return level_from_name(&style_id.to_lowercase().replace("heading", "heading "));
    }
    let mut id = style_id;
    for _ in 0..MAX_STYLE_CHAIN {
        let style = styles.get(id)?;
        if let Some(level) = level_from_name(&style.name) {
            return Some(level);
        }
        if let Some(outline) = style.outline.filter(|level| *level < 9) {
            return Some(outline + 1);
        }
        id = style.based_on.as_deref()?;
    }
    None
}

/// `heading 3` → 3, `title` → 1.
fn level_from_name(name: &str) -> Option<u8> {
    if name == "title" {
        return Some(1);
    }
    let level: u8 = name.strip_prefix("heading ")?.trim().parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

fn is_title_style(styles: &Styles, style_id: &str) -> bool {
    match styles.get(style_id) {
        Some(style) => style.name == "title",
        None => style_id.eq_ignore_ascii_case("title"),
    }
}

/// Whether a style id numbers its paragraphs, following `basedOn`.
fn style_numbered(styles: &Styles, style_id: &str) -> bool {
    let mut id = style_id;
    for _ in 0..MAX_STYLE_CHAIN {
        let Some(style) = styles.get(id) else {
            return false;
        };
        if style.numbered {
            return true;
        }
        let Some(next) = style.based_on.as_deref() else {
            return false;
        };
        id = next;
    }
    false
}

/// A paragraph being read.
#[derive(Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    /// `Some` once `w:numId` was seen: whether it numbers (`0` does not).
    numbered: Option<bool>,
    outline: Option<u8>,
}

/// A table being read: rows become blocks once the header is known.
#[derive(Default)]
struct Table {
    header: Option<Vec<String>>,
    rows: usize,
    row: Option<Vec<String>>,
    cell: Option<String>,
    /// A table inside a cell keeps its text to hand to that cell.
    nested_text: String,
}

/// Elements skipped with everything inside them.
const SKIPPED: [&str; 3] = ["Fallback", "moveFrom", "del"];

struct Body<'s> {
    blocks: Blocks,
    styles: &'s Styles,
    paragraphs: Vec<Paragraph>,
    tables: Vec<Table>,
    /// Inside `w:t`.
    in_text: bool,
    /// Inside `w:pPr` of the innermost paragraph.
    in_properties: bool,
    /// Depth inside a skipped element.
    skipped: usize,
    title_paragraph: Option<String>,
    /// Text read so far, before whitespace is collapsed, and its limit.
    text_read: usize,
    max_text_bytes: usize,
}

impl<'s> Body<'s> {
    fn new(max_text_bytes: usize, styles: &'s Styles) -> Self {
        Self {
            blocks: Blocks::new(max_text_bytes),
            text_read: 0,
            max_text_bytes,
            styles,
            paragraphs: Vec::new(),
            tables: Vec::new(),
            in_text: false,
            in_properties: false,
            skipped: 0,
            title_paragraph: None,
        }
    }

    fn read(&mut self, entry: &mut dyn Read) -> Result<(), EntryError> {
        let mut reader = reader(entry);
        let mut buffer = Vec::new();
        loop {
            match reader.read_event_into(&mut buffer)? {
                Event::Start(element) => self.start(&element, false)?,
                Event::Empty(element) => self.start(&element, true)?,
                Event::End(element) => self.end(element.local_name().as_ref())?,
                Event::Text(text) if self.in_text && self.skipped == 0 => {
                    self.push_text(&text.xml10_content());
                }
                Event::GeneralRef(reference) if self.in_text && self.skipped == 0 => {
                    let mut resolved = String::new();
                    push_reference(&mut resolved, &reference);
                    self.push_text(&resolved);
                }
                Event::Eof => break,
                _ => {}
            }
            buffer.clear();
            if self.text_read > self.max_text_bytes {
                return Err(text_too_large(self.max_text_bytes).into());
            }
        }
        Ok(())
    }

    fn start(&mut self, element: &BytesStart<'_>, empty: bool) -> Result<(), ExtractError> {
        let local = element.local_name();
        let name = local.as_ref();
        if self.skipped > 0 {
            if !empty {
                self.skipped += 1;
            }
            return Ok(());
        }
        if SKIPPED.contains(&name) {
            if !empty {
                self.skipped = 1;
            }
            return Ok(());
        }
        match name {
            "p" if !empty => self.paragraphs.push(Paragraph::default()),
            "pPr" if !empty => self.in_properties = true,
            "pStyle" if self.in_properties => {
                if let Some(paragraph) = self.paragraphs.last_mut() {
                    paragraph.style = attribute(element, "val");
                }
            }
            "numId" if self.in_properties => {
                if let Some(paragraph) = self.paragraphs.last_mut() {
                    paragraph.numbered = Some(attribute(element, "val").is_some_and(|v| v != "0"));
                }
            }
            "outlineLvl" if self.in_properties => {
                if let Some(paragraph) = self.paragraphs.last_mut() {
                    paragraph.outline = attribute(element, "val").and_then(|v| v.parse().ok());
                }
            }
            "t" if !empty => self.in_text = true,
            "tab" if !self.in_properties => self.push_text("\t"),
            "br" | "cr" => self.push_text("\n"),
            "noBreakHyphen" => self.push_text("-"),
            "tbl" if !empty => self.tables.push(Table::default()),
            "tr" if !empty => {
                if let Some(table) = self.tables.last_mut() {
                    table.row = Some(Vec::new());
                }
            }
            "tc" if !empty => {
                if let Some(table) = self.tables.last_mut() {
                    table.cell = Some(String::new());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<(), ExtractError> {
        if self.skipped > 0 {
            self.skipped -= 1;
            return Ok(());
        }
        match name {
            "t" => self.in_text = false,
            "pPr" => self.in_properties = false,
            "p" => self.end_paragraph()?,
            "tc" => {
                if let Some(table) = self.tables.last_mut() {
                    if let (Some(row), Some(cell)) = (&mut table.row, table.cell.take()) {
                        row.push(collapse_whitespace(&cell));
                    }
                }
            }
            "tr" => self.end_row()?,
            "tbl" => self.end_table()?,
            _ => {}
        }
        Ok(())
    }

    fn push_text(&mut self, text: &str) {
        self.text_read += text.len();
        if let Some(paragraph) = self.paragraphs.last_mut() {
            paragraph.text.push_str(text);
        }
    }

    fn end_paragraph(&mut self) -> Result<(), ExtractError> {
        self.in_properties = false;
        let Some(paragraph) = self.paragraphs.pop() else {
            return Ok(());
        };
        if let Some(cell) = self.tables.last_mut().and_then(|table| table.cell.as_mut()) {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&paragraph.text);
            return Ok(());
        }
        let style = paragraph.style.as_deref().unwrap_or_default();
        let level = paragraph
            .outline
            .filter(|level| *level < 9)
            .map(|level| level + 1)
            .or_else(|| heading_level(self.styles, style));
        if let Some(level) = level {
            if self.title_paragraph.is_none() && is_title_style(self.styles, style) {
                self.title_paragraph = Some(collapse_whitespace(&paragraph.text));
            }
            return self.blocks.heading(level, &paragraph.text);
        }
        let numbered = paragraph
            .numbered
            .unwrap_or_else(|| style_numbered(self.styles, style));
        if numbered {
            self.blocks.list_item(&paragraph.text)
        } else {
            self.blocks.paragraph(&paragraph.text)
        }
    }

    fn end_row(&mut self) -> Result<(), ExtractError> {
        let nested = self.tables.len() > 1;
        let Some(table) = self.tables.last_mut() else {
            return Ok(());
        };
        let Some(cells) = table.row.take() else {
            return Ok(());
        };
        if nested {
            for cell in cells {
                if !table.nested_text.is_empty() {
                    table.nested_text.push(' ');
                }
                table.nested_text.push_str(&cell);
            }
            return Ok(());
        }
        match &table.header {
            None => table.header = Some(cells),
            Some(header) => {
                table.rows += 1;
                self.blocks.row(header, cells)?;
            }
        }
        Ok(())
    }

    fn end_table(&mut self) -> Result<(), ExtractError> {
        let Some(table) = self.tables.pop() else {
            return Ok(());
        };
        if let Some(outer) = self.tables.last_mut() {
            if let Some(cell) = &mut outer.cell {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&table.nested_text);
            }
            return Ok(());
        }
        match table.header {
            // A table of one row: its row is content, not a header.
            Some(header) if table.rows == 0 => self.blocks.row(&[], header),
            _ => Ok(()),
        }
    }
}
