//! PowerPoint presentations (`.pptx`): `ppt/slides/slideN.xml` in the
//! order of N, each a [`Block::Page`](crate::Block::Page) numbered from 1,
//! then the text of its title placeholder (`title` or `ctrTitle`) as a
//! level-1 heading, then each other text paragraph (`a:p`) as a paragraph
//! and each table (`a:tbl`) as rows under its first row. Speaker notes are
//! not read. The title is `dc:title`.

use std::io::Read;

use quick_xml::events::{BytesStart, Event};

use super::archive::{Archive, EntryError, OfficeKind};
use super::blocks::{collapse_whitespace, text_too_large, Blocks};
use super::ooxml::{attribute, core_title, push_reference, reader};
use super::{ExtractError, Extracted, Input};

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let mut archive = Archive::open(input, OfficeKind::Pptx)?;
    let title = core_title(&mut archive)?;
    let mut blocks = Blocks::new(input.limits.max_text_bytes);
    for (index, name) in slide_names(&archive.names()).iter().enumerate() {
        let budget = input
            .limits
            .max_text_bytes
            .saturating_sub(blocks.text_bytes());
        let slide = archive
            .with_entry(name, |entry| {
                read_slide(entry, budget, input.limits.max_text_bytes)
            })?
            .ok_or_else(|| archive.error())?;
        blocks.page(u32::try_from(index + 1).unwrap_or(u32::MAX));
        if !slide.title.is_empty() {
            blocks.heading(1, &slide.title.join(" "))?;
        }
        for part in slide.body {
            match part {
                Part::Paragraph(text) => blocks.paragraph(&text)?,
                Part::Row { header, cells } => blocks.row(&header, cells)?,
            }
        }
    }
    Ok(Extracted {
        blocks,
        title,
        extractor: "pptx",
    })
}

/// `ppt/slides/slideN.xml` names, in the order of N.
fn slide_names(names: &[String]) -> Vec<String> {
    let mut slides: Vec<(u64, &String)> = names
        .iter()
        .filter_map(|name| {
            let number = name
                .strip_prefix("ppt/slides/slide")?
                .strip_suffix(".xml")?;
            let number = number.parse().ok()?;
            Some((number, name))
        })
        .collect();
    slides.sort();
    slides.into_iter().map(|(_, name)| name.clone()).collect()
}

/// One slide's text: the title's paragraphs, then the rest in order.
#[derive(Default)]
struct Slide {
    title: Vec<String>,
    body: Vec<Part>,
}

enum Part {
    Paragraph(String),
    Row {
        header: Vec<String>,
        cells: Vec<String>,
    },
}

/// A table being read: the first row is the header.
#[derive(Default)]
struct Table {
    header: Option<Vec<String>>,
    rows: usize,
    row: Option<Vec<String>>,
    cell: Option<String>,
}

/// The reading state of one slide.
#[derive(Default)]
struct SlideReader {
    slide: Slide,
    /// Open shapes, innermost last: whether each is a title placeholder.
    shapes: Vec<bool>,
    paragraph: Option<String>,
    in_text: bool,
    table: Option<Table>,
    /// Depth inside `mc:Fallback`, whose content repeats `mc:Choice`'s.
    skipped: usize,
    /// Text bytes read so far.
    bytes: usize,
}

/// Reads one slide; more than `budget` bytes of text is too large (the
/// message naming `max_text_bytes`).
fn read_slide(
    entry: &mut dyn Read,
    budget: usize,
    max_text_bytes: usize,
) -> Result<Slide, EntryError> {
    let mut reader = reader(entry);
    let mut buffer = Vec::new();
    let mut state = SlideReader::default();
    loop {
        match reader.read_event_into(&mut buffer)? {
            Event::Start(element) => state.start(&element, false),
            Event::Empty(element) => state.start(&element, true),
            Event::End(element) => state.end(element.local_name().as_ref()),
            Event::Text(text) if state.in_text && state.skipped == 0 => {
                state.push_text(&text.xml10_content());
            }
            Event::GeneralRef(reference) if state.in_text && state.skipped == 0 => {
                let mut resolved = String::new();
                push_reference(&mut resolved, &reference);
                state.push_text(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
        if state.bytes > budget {
            return Err(text_too_large(max_text_bytes).into());
        }
    }
    Ok(state.slide)
}

impl SlideReader {
    fn start(&mut self, element: &BytesStart<'_>, empty: bool) {
        let local = element.local_name();
        let name = local.as_ref();
        if self.skipped > 0 || name == "Fallback" {
            if !empty {
                self.skipped += 1;
            }
            return;
        }
        match name {
            "sp" if !empty => self.shapes.push(false),
            "ph" => {
                let is_title = attribute(element, "type")
                    .is_some_and(|kind| kind == "title" || kind == "ctrTitle");
                if let Some(shape) = self.shapes.last_mut() {
                    *shape |= is_title;
                }
            }
            "p" if !empty => self.paragraph = Some(String::new()),
            "t" if !empty => self.in_text = true,
            "br" => self.push_text("\n"),
            "tbl" if !empty => self.table = Some(Table::default()),
            "tr" if !empty => {
                if let Some(table) = &mut self.table {
                    table.row = Some(Vec::new());
                }
            }
            "tc" if !empty => {
                if let Some(table) = &mut self.table {
                    table.cell = Some(String::new());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        if self.skipped > 0 {
            self.skipped -= 1;
            return;
        }
        match name {
            "sp" => {
                self.shapes.pop();
            }
            "t" => self.in_text = false,
            "p" => self.end_paragraph(),
            "tc" => {
                if let Some(table) = &mut self.table {
                    if let (Some(row), Some(cell)) = (&mut table.row, table.cell.take()) {
                        row.push(collapse_whitespace(&cell));
                    }
                }
            }
            "tr" => self.end_row(),
            "tbl" => {
                if let Some(table) = self.table.take() {
                    if let (Some(header), 0) = (table.header, table.rows) {
                        self.slide.body.push(Part::Row {
                            header: Vec::new(),
                            cells: header,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        self.bytes += text.len();
        if let Some(paragraph) = &mut self.paragraph {
            paragraph.push_str(text);
        }
    }

    fn end_paragraph(&mut self) {
        let Some(text) = self.paragraph.take() else {
            return;
        };
        if let Some(cell) = self.table.as_mut().and_then(|table| table.cell.as_mut()) {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&text);
            return;
        }
        let text = collapse_whitespace(&text);
        if text.is_empty() {
            return;
        }
        if self.shapes.last() == Some(&true) {
            self.slide.title.push(text);
        } else {
            self.slide.body.push(Part::Paragraph(text));
        }
    }

    fn end_row(&mut self) {
        let Some(table) = &mut self.table else {
            return;
        };
        let Some(cells) = table.row.take() else {
            return;
        };
        match &table.header {
            None => table.header = Some(cells),
            Some(header) => {
                table.rows += 1;
                self.slide.body.push(Part::Row {
                    header: header.clone(),
                    cells,
                });
            }
        }
    }
}
