//! Delimited tables (`.csv`, `.tsv`) through the csv crate: the first
//! non-empty record is the header, each following one a row under it.
//! Quoted fields (with the delimiter, quotes or line breaks inside) follow
//! RFC 4180; records may have more or fewer fields than the header.

use super::blocks::Blocks;
use super::{corrupt, text, ExtractError, Extracted, Input};

pub(crate) fn extract(input: &Input<'_>, delimiter: u8) -> Result<Extracted, ExtractError> {
    let source = text::decode(input.bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(source.as_bytes());
    let mut blocks = Blocks::new(input.limits.max_text_bytes);
    let mut header: Option<Vec<String>> = None;
    let mut rows = 0usize;
    for record in reader.records() {
        let record = record.map_err(|_| corrupt("the table could not be read as CSV"))?;
        let cells: Vec<String> = record.iter().map(|field| field.trim().to_owned()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        match &header {
            None => header = Some(cells),
            Some(header) => {
                blocks.row(header, cells)?;
                rows += 1;
            }
        }
    }
    if let (Some(header), 0) = (header, rows) {
        // A table of one row: its row is content, not a header.
        blocks.row(&[], header)?;
    }
    Ok(Extracted {
        blocks,
        title: None,
        extractor: if delimiter == b'\t' { "tsv" } else { "csv" },
    })
}
