//! Excel workbooks (`.xlsx`) through calamine's streaming cell reader: a
//! level-1 heading a worksheet (its name), the first non-empty row as the
//! header, each following non-empty row a table row under it. Columns that
//! are empty on the whole sheet are left out. Numbers read as written
//! (`3`, not `3.0`), dates as `YYYY-MM-DD` (with the time when it is not
//! midnight). The title is `dc:title`.
//!
//! calamine opens the archive itself, without our bounded reader: every
//! XML part is first inflated once under the limits
//! ([`Archive::inflate_all`]), so what calamine then reads is known to fit.

use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, Xlsx};

use super::archive::{Archive, OfficeKind};
use super::blocks::{text_too_large, Blocks, CELL_COST};
use super::ooxml::core_title;
use super::{corrupt, ExtractError, Extracted, Input};

const DAMAGED: &str = "the XLSX file is damaged and could not be read";

pub(crate) fn extract(input: &Input<'_>) -> Result<Extracted, ExtractError> {
    let mut archive = Archive::open(input, OfficeKind::Xlsx)?;
    archive.inflate_all(|name| name.ends_with(".xml") || name.ends_with(".rels"))?;
    let title = core_title(&mut archive)?;
    let mut workbook = Xlsx::new(Cursor::new(input.bytes)).map_err(|_| corrupt(DAMAGED))?;
    let max_text = input.limits.max_text_bytes;
    let mut blocks = Blocks::new(max_text);
    let sheets: Vec<String> = workbook
        .sheets_metadata()
        .iter()
        .filter(|sheet| sheet.typ == SheetType::WorkSheet)
        .map(|sheet| sheet.name.clone())
        .collect();
    for name in sheets {
        let budget = max_text.saturating_sub(blocks.text_bytes());
        let cells = read_cells(&mut workbook, &name, budget, max_text)?;
        if cells.is_empty() {
            continue;
        }
        blocks.heading(1, &name)?;
        let mut rows = DenseRows::new(cells);
        let header = rows.next().unwrap_or_default();
        let mut emitted = 0;
        for cells in rows {
            blocks.row(&header, cells)?;
            emitted += 1;
        }
        if emitted == 0 {
            // A sheet of one row: its row is content, not a header.
            blocks.row(&[], header)?;
        }
    }
    Ok(Extracted {
        blocks,
        title,
        extractor: "xlsx",
    })
}

/// A non-empty cell: row, column, text.
type SparseCell = (u32, u32, String);

/// Every non-empty cell of sheet `name`, in row then column order; more
/// than `budget` bytes of cell text (plus [`CELL_COST`] a cell) is too
/// large.
fn read_cells(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
    budget: usize,
    max_text_bytes: usize,
) -> Result<Vec<SparseCell>, ExtractError> {
    let mut reader = workbook
        .worksheet_cells_reader(name)
        .map_err(|_| corrupt(DAMAGED))?;
    let mut cells = Vec::new();
    let mut bytes = 0usize;
    while let Some(cell) = reader.next_cell().map_err(|_| corrupt(DAMAGED))? {
        let text = cell_text(cell.get_value());
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        bytes += text.len() + CELL_COST;
        if bytes > budget {
            return Err(text_too_large(max_text_bytes));
        }
        let (row, column) = cell.get_position();
        cells.push((row, column, text.to_owned()));
    }
    cells.sort_by_key(|(row, column, _)| (*row, *column));
    Ok(cells)
}

/// The rows of a sheet, made one at a time (the block list counts each
/// before the next is made), with a column for each column used anywhere
/// on the sheet.
struct DenseRows {
    cells: std::iter::Peekable<std::vec::IntoIter<SparseCell>>,
    columns: Vec<u32>,
}

impl DenseRows {
    fn new(cells: Vec<SparseCell>) -> Self {
        let mut columns: Vec<u32> = cells.iter().map(|(_, column, _)| *column).collect();
        columns.sort_unstable();
        columns.dedup();
        Self {
            cells: cells.into_iter().peekable(),
            columns,
        }
    }
}

impl Iterator for DenseRows {
    type Item = Vec<String>;

    fn next(&mut self) -> Option<Vec<String>> {
        let row = self.cells.peek()?.0;
        let mut dense = vec![String::new(); self.columns.len()];
        while let Some((_, column, text)) = self.cells.next_if(|(next, _, _)| *next == row) {
            if let Ok(index) = self.columns.binary_search(&column) {
                dense[index] = text;
            }
        }
        Some(dense)
    }
}

fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(number) => number.to_string(),
        DataRef::Float(number) => number.to_string(),
        DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => {
            text.clone()
        }
        DataRef::SharedString(text) => (*text).to_owned(),
        DataRef::Bool(value) => value.to_string(),
        DataRef::DateTime(date) if date.is_datetime() => match date.as_datetime() {
            Some(moment) if moment.date().and_hms_opt(0, 0, 0) == Some(moment) => {
                moment.date().to_string()
            }
            Some(moment) => moment.to_string(),
            None => date.as_f64().to_string(),
        },
        DataRef::DateTime(duration) => duration.as_f64().to_string(),
        DataRef::Error(error) => error.to_string(),
        DataRef::Empty => String::new(),
    }
}
