//! What flows between the stages: a [`Document`] of [`Block`]s from
//! extraction, [`Chunk`]s from chunking.

use serde::{Deserialize, Serialize};

/// One structural unit of an extracted document, in reading order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    /// A heading; `level` 1 is the top.
    Heading { level: u8, text: String },
    /// A paragraph of running text.
    Paragraph { text: String },
    /// One item of a list.
    ListItem { text: String },
    /// One row of a table, with the table's header row (empty when the
    /// table has none), so a chunk of rows can repeat it.
    TableRow {
        header: Vec<String>,
        cells: Vec<String>,
    },
    /// A page or slide boundary (`number` from 1), for display.
    Page { number: u32 },
}

/// A document as extraction leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    /// The document's own title where it has one, else its file name.
    pub title: String,
    pub blocks: Vec<Block>,
    /// Which extractor produced it (`"pdf-extract"`, `"pdftotext"`,
    /// `"docx"`, ...), for the file's status.
    pub extractor: String,
}

/// One piece of a document, the unit that is indexed, retrieved and cited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub ordinal: u32,
    /// The text as shown and quoted (a table chunk starts with its header).
    pub text: String,
    /// The document's title.
    pub title: String,
    /// Headings above the chunk, outermost first.
    pub headings: Vec<String>,
    /// Page (or slide) the chunk starts on, where the format has pages.
    pub page: Option<u32>,
}
