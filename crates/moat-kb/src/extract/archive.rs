//! Office containers (docx, xlsx, pptx) opened under the archive limits.
//!
//! The entry count is checked from the end-of-central-directory record
//! before the directory is parsed, and again after. Entries are inflated
//! through [`Bounded`], which counts the bytes that actually come out of the
//! decompressor against [`ExtractLimits::max_inflated`] for the whole
//! archive and stops at the limit: the sizes an archive declares are only
//! used to refuse early, never trusted to bound the work. Every entry read
//! is XML, so [`Bounded`] also stops at a stretch without markup longer
//! than [`ExtractLimits::max_text_bytes`]: an XML parser buffers one text
//! node or tag whole, and one that long would be over the text limit
//! anyway (a part of a gigabyte of zeros costs that much, not a gigabyte).
//!
//! [`ExtractLimits::max_inflated`]: super::ExtractLimits::max_inflated
//! [`ExtractLimits::max_text_bytes`]: super::ExtractLimits::max_text_bytes

use std::io::{self, Cursor, Read};

use zip::ZipArchive;

use super::blocks::text_too_large;
use super::{corrupt, human_size, ExtractError, Input};

/// The Office document a ZIP holds, told by the part each one must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfficeKind {
    Docx,
    Xlsx,
    Pptx,
}

impl OfficeKind {
    /// The part that makes an archive this kind of document.
    fn main_part(self) -> &'static str {
        match self {
            Self::Docx => "word/document.xml",
            Self::Xlsx => "xl/workbook.xml",
            Self::Pptx => "ppt/presentation.xml",
        }
    }

    fn claimed(self) -> &'static str {
        match self {
            Self::Docx => "DOCX",
            Self::Xlsx => "XLSX",
            Self::Pptx => "PPTX",
        }
    }

    fn content(self) -> &'static str {
        match self {
            Self::Docx => "a Word document (DOCX)",
            Self::Xlsx => "an Excel workbook (XLSX)",
            Self::Pptx => "a PowerPoint presentation (PPTX)",
        }
    }
}

/// An open Office archive and what has been inflated from it so far.
pub(crate) struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    inflated: u64,
    max_inflated: u64,
    max_text_bytes: usize,
    /// Set once [`Bounded`] stopped a read at a limit, so that the error it
    /// caused, however a parser wrapped it, is reported as that limit.
    stopped: Option<Limit>,
    /// The message for a damaged archive of this kind.
    damaged: &'static str,
}

/// The message for an archive over `max_inflated`.
fn inflated_too_large(max_inflated: u64) -> ExtractError {
    ExtractError::TooLarge(format!(
        "the archive decompresses to more than the {} allowed",
        human_size(max_inflated)
    ))
}

impl<'a> Archive<'a> {
    /// Opens `input` as a `kind` document: [`ExtractError::TooLarge`] over
    /// the entry limit, [`ExtractError::Mismatch`] when it is another
    /// Office document or none, [`ExtractError::Corrupt`] when it is no
    /// readable ZIP.
    pub fn open(input: &Input<'a>, kind: OfficeKind) -> Result<Self, ExtractError> {
        let damaged = match kind {
            OfficeKind::Docx => "the DOCX file is damaged and could not be read",
            OfficeKind::Xlsx => "the XLSX file is damaged and could not be read",
            OfficeKind::Pptx => "the PPTX file is damaged and could not be read",
        };
        let max_entries = input.limits.max_entries;
        let too_many = || {
            ExtractError::TooLarge(format!(
                "the archive has more than the {max_entries} entries allowed"
            ))
        };
        if declared_entries(input.bytes).is_some_and(|entries| entries > max_entries as u64) {
            return Err(too_many());
        }
        let zip = ZipArchive::new(Cursor::new(input.bytes)).map_err(|_| corrupt(damaged))?;
        if zip.len() > max_entries {
            return Err(too_many());
        }
        let archive = Self {
            zip,
            inflated: 0,
            max_inflated: input.limits.max_inflated,
            max_text_bytes: input.limits.max_text_bytes,
            stopped: None,
            damaged,
        };
        if archive.has(kind.main_part()) {
            return Ok(archive);
        }
        let actual = [OfficeKind::Docx, OfficeKind::Xlsx, OfficeKind::Pptx]
            .into_iter()
            .find(|other| archive.has(other.main_part()))
            .map_or(
                "a ZIP archive that is not an Office document",
                OfficeKind::content,
            );
        Err(ExtractError::Mismatch {
            claimed: kind.claimed().to_owned(),
            actual: actual.to_owned(),
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// Every entry's name, in the archive's order.
    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(Result::ok)
            .map(|name| name.into_owned())
            .collect()
    }

    /// Runs `use_entry` on a bounded reader over entry `name`; `None` when
    /// there is no such entry. An I/O error from the reader (the limit, or
    /// damaged compressed data) is mapped by [`Archive::error`]; errors of
    /// `use_entry`'s own are returned as they are.
    pub fn with_entry<T, E>(
        &mut self,
        name: &str,
        use_entry: impl FnOnce(&mut dyn Read) -> Result<T, E>,
    ) -> Result<Option<T>, ExtractError>
    where
        E: Into<EntryError>,
    {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        self.with_index(index, use_entry).map(Some)
    }

    /// Inflates, and discards, every entry whose name `wanted` accepts, so
    /// that a reader which opens the archive itself (calamine) can only
    /// ever inflate what has already been counted.
    pub fn inflate_all(&mut self, wanted: impl Fn(&str) -> bool) -> Result<(), ExtractError> {
        let names = self.names_by_index();
        for (index, name) in names.into_iter().enumerate() {
            if name.as_deref().is_some_and(&wanted) {
                self.with_index(index, |entry| io::copy(entry, &mut io::sink()).map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// The error to report for a failure while reading: too large when the
    /// limit stopped a read, else damaged.
    pub fn error(&self) -> ExtractError {
        match self.stopped {
            Some(Limit::Inflated) => inflated_too_large(self.max_inflated),
            Some(Limit::Markup) => text_too_large(self.max_text_bytes),
            None => corrupt(self.damaged),
        }
    }

    fn names_by_index(&self) -> Vec<Option<String>> {
        (0..self.zip.len())
            .map(|index| {
                self.zip
                    .name_for_index(index)
                    .and_then(Result::ok)
                    .map(|name| name.into_owned())
            })
            .collect()
    }

    fn with_index<T, E>(
        &mut self,
        index: usize,
        use_entry: impl FnOnce(&mut dyn Read) -> Result<T, E>,
    ) -> Result<T, ExtractError>
    where
        E: Into<EntryError>,
    {
        let remaining = self.max_inflated.saturating_sub(self.inflated);
        let Self {
            zip,
            inflated,
            stopped,
            max_inflated,
            max_text_bytes,
            damaged,
        } = self;
        let entry = zip.by_index(index).map_err(|_| corrupt(damaged))?;
        if entry.size() > remaining {
            return Err(inflated_too_large(*max_inflated));
        }
        let mut bounded = Bounded {
            inner: entry,
            inflated,
            max: *max_inflated,
            since_markup: 0,
            max_markup_gap: *max_text_bytes,
            stopped,
        };
        let result = use_entry(&mut bounded).map_err(Into::into);
        drop(bounded);
        match result {
            Ok(value) => Ok(value),
            Err(_) if self.stopped.is_some() => Err(self.error()),
            Err(EntryError::Read) => Err(corrupt(self.damaged)),
            Err(EntryError::Extract(error)) => Err(error),
        }
    }
}

/// How reading an entry failed: the reader (limit or damaged data), or the
/// caller's own check.
pub(crate) enum EntryError {
    Read,
    Extract(ExtractError),
}

impl From<io::Error> for EntryError {
    fn from(_: io::Error) -> Self {
        Self::Read
    }
}

impl From<quick_xml::Error> for EntryError {
    fn from(_: quick_xml::Error) -> Self {
        Self::Read
    }
}

impl From<ExtractError> for EntryError {
    fn from(error: ExtractError) -> Self {
        Self::Extract(error)
    }
}

/// Which limit stopped a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// [`ExtractLimits::max_inflated`](super::ExtractLimits::max_inflated).
    Inflated,
    /// A stretch without `<` longer than the text limit.
    Markup,
}

/// A reader that counts what comes out of `inner` into the archive's total
/// and fails once the total passes `max`, or once more than
/// `max_markup_gap` bytes pass without a `<`.
struct Bounded<'b, R> {
    inner: R,
    inflated: &'b mut u64,
    max: u64,
    since_markup: usize,
    max_markup_gap: usize,
    stopped: &'b mut Option<Limit>,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never ask for more than one byte past the limit.
        let room = self.max.saturating_sub(*self.inflated).saturating_add(1);
        let wanted = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..wanted])?;
        *self.inflated += read as u64;
        if *self.inflated > self.max {
            *self.stopped = Some(Limit::Inflated);
            return Err(io::Error::other("inflated size limit reached"));
        }
        // The first stretch continues the one the last read ended with.
        let mut gap = 0;
        let mut stretches = buf[..read].split(|byte| *byte == b'<').peekable();
        while let Some(stretch) = stretches.next() {
            let length = self.since_markup + stretch.len();
            gap = gap.max(length);
            self.since_markup = if stretches.peek().is_some() {
                0
            } else {
                length
            };
        }
        if gap > self.max_markup_gap {
            *self.stopped = Some(Limit::Markup);
            return Err(io::Error::other("text without markup over the limit"));
        }
        Ok(read)
    }
}

/// The entry count the end-of-central-directory record (or its ZIP64
/// counterpart) declares, read without parsing the directory; `None` when
/// the record cannot be found.
fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8; 4] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    const MAX_COMMENT: usize = u16::MAX as usize;
    let search_from = bytes.len().saturating_sub(EOCD_LEN + MAX_COMMENT);
    let tail = &bytes[search_from..];
    let at = search_from + tail.windows(4).rposition(|w| w == EOCD)?;
    let record = bytes.get(at..at + EOCD_LEN)?;
    let entries = u16::from_le_bytes([record[10], record[11]]);
    if entries != u16::MAX {
        return Some(u64::from(entries));
    }
    // ZIP64: a locator just before the record points at the ZIP64 record.
    let locator = bytes.get(at.checked_sub(20)?..at)?;
    if &locator[..4] != b"PK\x06\x07" {
        return Some(u64::from(entries));
    }
    let offset = u64::from_le_bytes(locator[8..16].try_into().ok()?);
    let offset = usize::try_from(offset).ok()?;
    let record64 = bytes.get(offset..offset.checked_add(40)?)?;
    if &record64[..4] != b"PK\x06\x06" {
        return None;
    }
    Some(u64::from_le_bytes(record64[32..40].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], max: u64, max_markup_gap: usize) -> (io::Result<u64>, Option<Limit>) {
        let mut inflated = 0;
        let mut stopped = None;
        let mut bounded = Bounded {
            inner: bytes,
            inflated: &mut inflated,
            max,
            since_markup: 0,
            max_markup_gap,
            stopped: &mut stopped,
        };
        let result = io::copy(&mut bounded, &mut io::sink());
        (result, stopped)
    }

    #[test]
    fn bounded_reads_stop_one_byte_past_the_limit() {
        let xml = "<a>b</a>".repeat(1000);
        let (result, stopped) = read_all(xml.as_bytes(), 8000, 100);
        assert_eq!(result.ok(), Some(8000));
        assert_eq!(stopped, None);
        let (result, stopped) = read_all(xml.as_bytes(), 7999, 100);
        assert!(result.is_err());
        assert_eq!(stopped, Some(Limit::Inflated));
    }

    #[test]
    fn bounded_reads_stop_at_a_long_stretch_without_markup() {
        let mut xml = "<a>".to_owned();
        xml.push_str(&"x".repeat(101));
        xml.push_str("</a>");
        // `a>` and the 101 `x`s lie between two `<`.
        let (result, stopped) = read_all(xml.as_bytes(), u64::MAX, 102);
        assert!(result.is_err());
        assert_eq!(stopped, Some(Limit::Markup));
        let (result, stopped) = read_all(xml.as_bytes(), u64::MAX, 103);
        assert!(result.is_ok());
        assert_eq!(stopped, None);
    }

    #[test]
    fn declared_entries_come_from_the_end_record() {
        let mut zip = vec![0u8; 10];
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x39\x30\x39\x30\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(declared_entries(&zip), Some(12345));
        assert_eq!(declared_entries(b"no record here"), None);
    }
}
