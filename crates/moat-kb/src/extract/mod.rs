//! Extraction: an uploaded file's bytes to a [`Document`] of structural
//! blocks, one reader a format (`txt`, `md`, `html`, `pdf`, `docx`, `xlsx`,
//! `csv`/`tsv`, `pptx`).
//!
//! The file name's extension picks the reader and the content must agree
//! with it (`sniff`). Every input is treated as hostile: sizes are capped
//! before and while reading ([`ExtractLimits`]), archives are read through a
//! bounded reader that does not trust declared sizes, no reader recurses
//! over the input's nesting, and the reader runs on its own thread so that
//! a panic becomes [`ExtractError::Corrupt`] and a slow file
//! [`ExtractError::TimedOut`].

mod archive;
mod blocks;
mod delimited;
mod docx;
mod html;
mod markdown;
mod ooxml;
mod pdf;
mod pdftotext;
mod pptx;
mod sniff;
mod text;
mod xlsx;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::types::{Block, Document};
use sniff::Format;

/// The most an extraction may consume. Every field has a default (see
/// [`ExtractLimits::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Most text an extraction may produce, in bytes of UTF-8. A table cell
    /// counts 8 bytes more than its text, so that tables of empty cells
    /// cannot take many times this in memory, and each row counts its
    /// header's cells again, since every row carries a copy.
    pub max_text_bytes: usize,
    /// Most entries an archive (docx, xlsx, pptx) may list.
    pub max_entries: usize,
    /// Most bytes that may be decompressed from one archive, counted as they
    /// are inflated rather than from the sizes the archive declares.
    pub max_inflated: u64,
    /// Longest an extraction may take.
    pub timeout: Duration,
}

impl Default for ExtractLimits {
    /// 64 MiB files, 32 MiB of text, 10 000 archive entries, 512 MiB
    /// inflated, 60 seconds.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_text_bytes: 32 << 20,
            max_entries: 10_000,
            max_inflated: 512 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a file yielded no document. The texts are shown to users as the
/// file's last error: they name the problem, never the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No reader for this kind of file (the extension, or what the content
    /// was sniffed to be when there is no extension).
    #[error("files of type {0} are not supported")]
    Unsupported(String),
    /// The extension says one format, the content is another.
    #[error("the file is named as {claimed} but its content is {actual}")]
    Mismatch { claimed: String, actual: String },
    /// The content is damaged or not what its format requires (the reason,
    /// a full sentence).
    #[error("{0}")]
    Corrupt(String),
    /// Over one of the [`ExtractLimits`] (which one, a full sentence).
    #[error("{0}")]
    TooLarge(String),
    /// Over [`ExtractLimits::timeout`].
    #[error("reading the file took longer than the time allowed")]
    TimedOut,
    /// Readable, but holding no text (a scanned PDF, an empty sheet).
    #[error("no text was found in the file")]
    NoText,
}

/// The message a reader's panic is reported with.
const PANICKED: &str = "the file could not be read";

/// Stack of the extraction thread. No reader here recurses over the input,
/// but pdf-extract's PDF parser does over nested objects; the space is only
/// reserved, not touched, unless a file nests that deep.
const EXTRACT_STACK: usize = 64 << 20;

/// Extracts `bytes`, read as the format `file_name`'s extension names.
///
/// The work runs on a thread of its own named `kb-extract`: a panic inside
/// a reader is caught there and returned as [`ExtractError::Corrupt`], and
/// past [`ExtractLimits::timeout`] this returns [`ExtractError::TimedOut`]
/// while the thread is left to run to its end and exit (a thread cannot be
/// stopped from outside; the bytes are copied for it). A `pdftotext` child
/// it started is killed at the same deadline. When no thread can be
/// started, the extraction runs on the caller's thread, without the
/// timeout.
pub fn extract(
    file_name: &str,
    bytes: &[u8],
    limits: &ExtractLimits,
) -> Result<Document, ExtractError> {
    if bytes.len() > limits.max_bytes {
        return Err(ExtractError::TooLarge(format!(
            "the file is {}, more than the {} allowed",
            human_size(bytes.len() as u64),
            human_size(limits.max_bytes as u64)
        )));
    }
    let job = || Job {
        file_name: file_name.to_owned(),
        bytes: bytes.to_vec(),
        limits: limits.clone(),
        deadline: Instant::now() + limits.timeout,
    };
    let (sender, receiver) = mpsc::sync_channel(1);
    let on_thread = job();
    let spawned = std::thread::Builder::new()
        .name("kb-extract".into())
        .stack_size(EXTRACT_STACK)
        .spawn(move || {
            // The caller may have stopped waiting: a failed send is fine.
            let _ = sender.send(on_thread.run_caught());
        });
    if spawned.is_err() {
        return job().run_caught();
    }
    match receiver.recv_timeout(limits.timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ExtractError::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(corrupt(PANICKED)),
    }
}

/// One extraction, owned so that it can move to its thread.
struct Job {
    file_name: String,
    bytes: Vec<u8>,
    limits: ExtractLimits,
    deadline: Instant,
}

impl Job {
    fn run_caught(self) -> Result<Document, ExtractError> {
        caught(|| self.run())
    }

    fn run(&self) -> Result<Document, ExtractError> {
        let (stem, extension) = split_name(&self.file_name);
        let Some(format) = Format::from_extension(&extension) else {
            let named = if extension.is_empty() {
                sniff::Content::of(&self.bytes).name().to_owned()
            } else {
                format!(".{extension}")
            };
            return Err(ExtractError::Unsupported(named));
        };
        if self.bytes.is_empty() {
            return Err(ExtractError::NoText);
        }
        sniff::check(format, &self.bytes)?;
        let input = Input {
            bytes: &self.bytes,
            limits: &self.limits,
            deadline: self.deadline,
        };
        let extracted = match format {
            Format::Text => text::extract(&input)?,
            Format::Markdown => markdown::extract(&input)?,
            Format::Html => html::extract(&input)?,
            Format::Pdf => pdf::extract(&input)?,
            Format::Docx => docx::extract(&input)?,
            Format::Xlsx => xlsx::extract(&input)?,
            Format::Pptx => pptx::extract(&input)?,
            Format::Csv => delimited::extract(&input, b',')?,
            Format::Tsv => delimited::extract(&input, b'\t')?,
        };
        extracted.into_document(stem)
    }
}

/// `read`'s result, a panic inside it as [`ExtractError::Corrupt`].
fn caught(read: impl FnOnce() -> Result<Document, ExtractError>) -> Result<Document, ExtractError> {
    catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|_| Err(corrupt(PANICKED)))
}

/// What a reader gets: the bytes and what it may spend on them.
pub(crate) struct Input<'a> {
    pub bytes: &'a [u8],
    pub limits: &'a ExtractLimits,
    /// When the whole extraction must be over (for child processes).
    pub deadline: Instant,
}

/// A reader's result: blocks, the document's own title if it has one, and
/// the extractor's name.
pub(crate) struct Extracted {
    pub blocks: blocks::Blocks,
    pub title: Option<String>,
    pub extractor: &'static str,
}

impl Extracted {
    /// The document, titled by its own title (metadata, `<title>`), else
    /// by the level-1 heading it opens with (`# Travel policy of Acme`),
    /// else by `stem`; [`ExtractError::NoText`] when it holds no text.
    fn into_document(self, stem: &str) -> Result<Document, ExtractError> {
        let blocks = self.blocks.finish();
        if !blocks.iter().any(blocks::has_text) {
            return Err(ExtractError::NoText);
        }
        let opening = match blocks.iter().find(|b| blocks::has_text(b)) {
            Some(Block::Heading { level: 1, text }) => Some(text.clone()),
            _ => None,
        };
        let title = self
            .title
            .map(|title| blocks::collapse_whitespace(&title))
            .filter(|title| !title.is_empty())
            .or(opening)
            .unwrap_or_else(|| stem.to_owned());
        Ok(Document {
            title,
            blocks,
            extractor: self.extractor.to_owned(),
        })
    }
}

/// Whether files named like `file_name` have a reader, by their extension
/// (`.txt`, `.md`, `.pdf`, `.docx`...): what a bulk ingest uploads.
pub fn has_reader(file_name: &str) -> bool {
    Format::from_extension(&split_name(file_name).1).is_some()
}

/// `"Report.Final.PDF"` → (`"Report.Final"`, `"pdf"`). A leading dot
/// (`.env`) is part of the name, not an extension.
fn split_name(file_name: &str) -> (&str, String) {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rfind('.') {
        Some(dot) if dot > 0 => (&base[..dot], base[dot + 1..].to_ascii_lowercase()),
        _ => (base, String::new()),
    }
}

pub(crate) fn corrupt(reason: &str) -> ExtractError {
    ExtractError::Corrupt(reason.to_owned())
}

/// `1536` → `"1.5 KiB"`, for limit messages.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let shown = format!("{value:.1}");
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} {}", UNITS[unit])
}
