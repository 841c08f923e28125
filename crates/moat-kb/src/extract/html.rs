//! HTML (`.html`, `.htm`): the text of a page without its boilerplate.
//!
//! The page is parsed (html5ever, through scraper) and its tree walked by
//! open and close edges, never recursively, so nesting depth costs heap,
//! not stack. Scripts, styles, navigation, headers, footers, asides, forms
//! and embedded content are dropped whole; `h1`–`h6` are headings, `li`
//! list items, table rows rows (a first row of `th` cells, or the `thead`,
//! is the header), `pre` keeps its line breaks, and the text of every other
//! block element is a paragraph. `<title>` is the document's title.
//!
//! An HTML tree builder checks the open elements on most start tags, so a
//! page that nests deep costs time that grows with the square of its depth
//! (20 000 nested `div`s take half a minute unoptimised). Before parsing, a
//! linear scan estimates that work ([`check_shape`]) and refuses pages far
//! beyond any real one, rather than leave a thread spinning past the
//! timeout.

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
    check_shape(&source)?;
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

/// Most start tags a page may have (a million elements is a large book).
const MAX_ELEMENTS: u64 = 2_000_000;

/// Most nesting work a page may take: each start tag counts the elements
/// open around it. A large real page (a million elements forty deep) is
/// well under; 14 000 nested `div`s are at it.
const MAX_NESTING_WORK: u64 = 100_000_000;

/// Elements that never hold others (no end tag).
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose end tag may be left out (the parser closes them at the
/// next sibling): not counted as nesting, so that a page of unclosed `<p>`
/// or `<li>` is not taken for a deep one.
const OPTIONAL_END: [&str; 13] = [
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rt", "rp", "thead", "tbody",
];

/// Elements whose content is text up to their end tag.
const RAW_TEXT: [&str; 6] = ["script", "style", "textarea", "title", "xmp", "plaintext"];

/// A linear scan of the tags: [`ExtractError::TooLarge`] when the page has
/// more than [`MAX_ELEMENTS`] start tags or more than [`MAX_NESTING_WORK`]
/// nesting work. Open elements are estimated by counting start and end
/// tags, leaving out void elements and those whose end tag is optional.
fn check_shape(source: &str) -> Result<(), ExtractError> {
    let too_large =
        || ExtractError::TooLarge("the HTML nests its elements too deeply to be read".into());
    let bytes = source.as_bytes();
    let (mut depth, mut work, mut elements) = (0u64, 0u64, 0u64);
    let mut at = 0;
    while let Some(found) = bytes[at..].iter().position(|byte| *byte == b'<') {
        at += found + 1;
        let rest = &source[at..];
        if let Some(comment) = rest.strip_prefix("!--") {
            at += 3 + comment.find("-->").map_or(comment.len(), |end| end + 3);
            continue;
        }
        let (closing, rest) = match rest.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let name_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if name_len == 0 || !rest.as_bytes()[0].is_ascii_alphabetic() {
            continue;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        let nests = !VOID.contains(&name.as_str()) && !OPTIONAL_END.contains(&name.as_str());
        if closing {
            if nests {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        elements += 1;
        work += depth;
        if elements > MAX_ELEMENTS || work > MAX_NESTING_WORK {
            return Err(too_large());
        }
        let self_closing = rest.find('>').is_some_and(|end| rest[..end].ends_with('/'));
        if nests && !self_closing {
            depth += 1;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            // Skip to this element's end tag: its text is not markup.
            let end = format!("</{name}");
            let lower = &rest[name_len..];
            match find_ignoring_case(lower, &end) {
                Some(offset) => at += (rest.len() - lower.len()) + offset,
                None => break,
            }
        }
    }
    Ok(())
}

/// Where `needle` (lower case ASCII) starts in `haystack`, any case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}
