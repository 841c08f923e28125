//! HTML (`.html`, `.htm`): the text of a page without its boilerplate.
//!
//! The page is parsed (html5ever, through scraper) and its tree walked by
//! open and close edges, never recursively, so nesting depth costs heap,
//! not stack. Scripts, styles, navigation, headers, footers, asides, forms
//! and embedded content are dropped whole; `h1`–`h6` are headings, `li`
//! list items, table rows rows (a first row of `th` cells, or the `thead`,
//! is the header), `pre` keeps its line breaks, and the text of every other
//! block element is a paragraph. `<title>` is the document's title.

use ego_tree::iter::Edge;
use ego_tree::NodeId;
use scraper::{Html, Node};

use super::blocks::{collapse_whitespace, Blocks};
use super::{text, ExtractError, Extracted, Input};

/// Elements dropped with everything inside them.
const DROPPED: [&str; 15] = [
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg",
    "iframe", "object", "canvas", "audio", "video",
];

/// Elements whose text is a paragraph of its own (besides headings, list
/// items, `pre` and tables).
const BLOCKS: [&str; 27] = [
    "html",
    "body",
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "figure",
    "figcaption",
    "address",
    "center",
    "details",
    "summary",
    "caption",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "hr",
    "fieldset",
    "legend",
    "hgroup",
    "menu",
    "dialog",
    "search",
];

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let source = text::decode(input.bytes)?;
    let page = Html::parse_document(&source);
    let mut walker = Walker::new(Blocks::new(input.limits.max_text_bytes));
    for edge in page.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) => walker.open(element.name(), node.id())?,
                Node::Text(text) => walker.text(text),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(element) = node.value() {
                    walker.close(element.name(), node.id())?;
                }
            }
        }
    }
    walker.flush()?;
    Ok(Extracted {
        blocks: walker.blocks,
        title: walker.title,
        extractor: "html",
    })
}

/// What the text of an open block element becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Paragraph,
    ListItem,
    Heading(u8),
    Preformatted,
}

/// The table being read.
#[derive(Default)]
struct Table {
    header: Vec<String>,
    /// Rows emitted so far.
    rows: usize,
    in_head: bool,
    row: Option<Row>,
}

struct Row {
    cells: Vec<String>,
    /// Every cell so far is a `th`.
    all_header_cells: bool,
}

/// The walk's state: text waits in `pending` until its block closes.
struct Walker {
    blocks: Blocks,
    pending: String,
    /// Open block elements, innermost last.
    open: Vec<(NodeId, Kind)>,
    /// Inside a dropped element: the node whose close ends the drop.
    dropped: Option<NodeId>,
    /// Open tables, innermost last.
    tables: Vec<Table>,
    /// The cell being read and its text; a table inside a cell is read as
    /// more text of that cell.
    cell: Option<(NodeId, String)>,
    /// The `<title>` being read.
    title_node: Option<NodeId>,
    title: Option<String>,
}

impl Walker {
    fn new(blocks: Blocks) -> Self {
        Self {
            blocks,
            pending: String::new(),
            open: Vec::new(),
            dropped: None,
            tables: Vec::new(),
            cell: None,
            title_node: None,
            title: None,
        }
    }

    fn open(&mut self, name: &str, id: NodeId) -> Result<(), ExtractError> {
        if self.dropped.is_some() {
            return Ok(());
        }
        if DROPPED.contains(&name) {
            self.dropped = Some(id);
            return Ok(());
        }
        if name == "title" && self.title.is_none() && self.title_node.is_none() {
            self.title_node = Some(id);
            self.title = Some(String::new());
            return Ok(());
        }
        if let Some((_, text)) = &mut self.cell {
            // Structure inside a cell only separates words.
            text.push(' ');
            return Ok(());
        }
        match name {
            "table" => {
                self.flush()?;
                self.tables.push(Table::default());
            }
            "thead" => self.table(|table| table.in_head = true),
            "tr" => self.table(|table| {
                table.row = Some(Row {
                    cells: Vec::new(),
                    all_header_cells: true,
                });
            }),
            "td" | "th" => {
                let in_row = self.tables.last().is_some_and(|table| table.row.is_some());
                if in_row {
                    if name == "td" {
                        self.table(|table| {
                            if let Some(row) = &mut table.row {
                                row.all_header_cells = false;
                            }
                        });
                    }
                    self.cell = Some((id, String::new()));
                }
            }
            "br" => self.pending.push('\n'),
            _ => {
                if let Some(kind) = block_kind(name) {
                    self.flush()?;
                    self.open.push((id, kind));
                }
            }
        }
        Ok(())
    }

    fn close(&mut self, name: &str, id: NodeId) -> Result<(), ExtractError> {
        if let Some(dropped) = self.dropped {
            if dropped == id {
                self.dropped = None;
            }
            return Ok(());
        }
        if self.title_node == Some(id) {
            self.title_node = None;
            return Ok(());
        }
        if let Some((cell_id, _)) = &self.cell {
            if *cell_id != id {
                return Ok(());
            }
            if let Some((_, text)) = self.cell.take() {
                let text = collapse_whitespace(&text);
                self.table(|table| {
                    if let Some(row) = &mut table.row {
                        row.cells.push(text);
                    }
                });
            }
            return Ok(());
        }
        match name {
            "table" => {
                if let Some(table) = self.tables.pop() {
                    if table.rows == 0 {
                        // A table of its header alone: the header is content.
                        self.blocks.row(&[], table.header)?;
                    }
                }
            }
            "thead" => self.table(|table| table.in_head = false),
            "tr" => self.end_row()?,
            _ => {
                if self.open.last().is_some_and(|(open, _)| *open == id) {
                    self.flush()?;
                    self.open.pop();
                }
            }
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if self.dropped.is_some() {
            return;
        }
        if self.title_node.is_some() {
            if let Some(title) = &mut self.title {
                title.push_str(text);
            }
            return;
        }
        match &mut self.cell {
            Some((_, cell)) => cell.push_str(text),
            None => self.pending.push_str(text),
        }
    }

    /// The row that closed: the table's header if it is the first and all
    /// `th` (or in `thead`), else a row under the header.
    fn end_row(&mut self) -> Result<(), ExtractError> {
        let Some(table) = self.tables.last_mut() else {
            return Ok(());
        };
        let Some(row) = table.row.take() else {
            return Ok(());
        };
        let is_header = table.header.is_empty()
            && table.rows == 0
            && (table.in_head || row.all_header_cells)
            && !row.cells.is_empty();
        if is_header {
            table.header = row.cells;
            return Ok(());
        }
        table.rows += 1;
        self.blocks.row(&table.header, row.cells)
    }

    fn table(&mut self, change: impl FnOnce(&mut Table)) {
        if let Some(table) = self.tables.last_mut() {
            change(table);
        }
    }

    /// The pending text as the innermost open block's kind.
    fn flush(&mut self) -> Result<(), ExtractError> {
        let kind = self.open.last().map_or(Kind::Paragraph, |(_, kind)| *kind);
        match kind {
            Kind::Paragraph => self.blocks.paragraph(&self.pending)?,
            Kind::ListItem => self.blocks.list_item(&self.pending)?,
            Kind::Heading(level) => self.blocks.heading(level, &self.pending)?,
            Kind::Preformatted => self.blocks.preformatted(&self.pending)?,
        }
        self.pending.clear();
        Ok(())
    }
}

fn block_kind(name: &str) -> Option<Kind> {
    match name {
        "h1" => Some(Kind::Heading(1)),
        "h2" => Some(Kind::Heading(2)),
        "h3" => Some(Kind::Heading(3)),
        "h4" => Some(Kind::Heading(4)),
        "h5" => Some(Kind::Heading(5)),
        "h6" => Some(Kind::Heading(6)),
        "li" => Some(Kind::ListItem),
        "pre" => Some(Kind::Preformatted),
        _ if BLOCKS.contains(&name) => Some(Kind::Paragraph),
        _ => None,
    }
}
