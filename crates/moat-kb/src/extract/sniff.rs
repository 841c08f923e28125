//! Which reader a file gets ([`Format`], from its extension) and whether
//! its content agrees ([`check`], from magic bytes).

use super::ExtractError;

/// The formats there is a reader for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Csv,
    Tsv,
}

impl Format {
    /// The format a lower-case extension names.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Some(match extension {
            "txt" | "text" => Self::Text,
            "md" | "markdown" => Self::Markdown,
            "html" | "htm" => Self::Html,
            "pdf" => Self::Pdf,
            "docx" => Self::Docx,
            "xlsx" => Self::Xlsx,
            "pptx" => Self::Pptx,
            "csv" => Self::Csv,
            "tsv" => Self::Tsv,
            _ => return None,
        })
    }

    /// How an error names the format.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Markdown => "Markdown",
            Self::Html => "HTML",
            Self::Pdf => "PDF",
            Self::Docx => "DOCX",
            Self::Xlsx => "XLSX",
            Self::Pptx => "PPTX",
            Self::Csv => "CSV",
            Self::Tsv => "TSV",
        }
    }
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    Pdf,
    Zip,
    /// Compound File Binary: legacy `.doc`, `.xls`, `.ppt`.
    LegacyOffice,
    Png,
    Jpeg,
    Gif,
    Gzip,
    /// Valid UTF-8, or UTF-16 with a byte order mark.
    Text,
    /// None of the above.
    Binary,
}

/// How far into a file `%PDF-` may start (readers accept leading junk).
const PDF_MAGIC_WINDOW: usize = 1024;

/// How much of a file is looked at to call it text.
const TEXT_SNIFF_BYTES: usize = 8192;

impl Content {
    pub fn of(bytes: &[u8]) -> Self {
        let magic: [(&[u8], Content); 8] = [
            (b"%PDF-", Self::Pdf),
            (b"PK\x03\x04", Self::Zip),
            (b"PK\x05\x06", Self::Zip),
            (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", Self::LegacyOffice),
            (b"\x89PNG\r\n\x1a\n", Self::Png),
            (b"\xFF\xD8\xFF", Self::Jpeg),
            (b"GIF8", Self::Gif),
            (b"\x1F\x8B", Self::Gzip),
        ];
        if let Some((_, content)) = magic.iter().find(|(m, _)| bytes.starts_with(m)) {
            return *content;
        }
        if looks_like_text(bytes) {
            Self::Text
        } else {
            Self::Binary
        }
    }

    /// How an error names the content.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Zip => "a ZIP archive",
            Self::LegacyOffice => "a legacy Office file (doc, xls or ppt)",
            Self::Png => "a PNG image",
            Self::Jpeg => "a JPEG image",
            Self::Gif => "a GIF image",
            Self::Gzip => "gzip-compressed",
            Self::Text => "plain text",
            Self::Binary => "binary data",
        }
    }
}

/// Whether the start of `bytes` is text: a UTF-16 byte order mark, or
/// UTF-8 without NUL bytes (a character cut at the window's end is fine).
fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    let window = &bytes[..bytes.len().min(TEXT_SNIFF_BYTES)];
    if window.contains(&0) {
        return false;
    }
    match std::str::from_utf8(window) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && window.len() == TEXT_SNIFF_BYTES,
    }
}

/// Whether `%PDF-` starts within the first KiB, as PDF readers accept.
fn has_pdf_header(bytes: &[u8]) -> bool {
    let window = &bytes[..bytes.len().min(PDF_MAGIC_WINDOW)];
    window.windows(5).any(|w| w == b"%PDF-")
}

/// [`ExtractError::Mismatch`] when `bytes` are not what `format` claims.
/// Text formats only refuse content with a known binary signature; whether
/// the text decodes is their reader's check.
pub(crate) fn check(format: Format, bytes: &[u8]) -> Result<(), ExtractError> {
    let content = Content::of(bytes);
    let mismatch = |actual: &str| ExtractError::Mismatch {
        claimed: format.name().to_owned(),
        actual: actual.to_owned(),
    };
    match format {
        Format::Text | Format::Markdown | Format::Html | Format::Csv | Format::Tsv => match content
        {
            Content::Text | Content::Binary => Ok(()),
            other => Err(mismatch(other.name())),
        },
        Format::Pdf if has_pdf_header(bytes) => Ok(()),
        Format::Pdf => Err(mismatch(content.name())),
        // Which Office document a ZIP holds is the archive reader's check,
        // made once the archive is open under the entry limits.
        Format::Docx | Format::Xlsx | Format::Pptx => match content {
            Content::Zip => Ok(()),
            other => Err(mismatch(other.name())),
        },
    }
}
