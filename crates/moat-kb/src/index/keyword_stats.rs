//! BM25 statistics over the chunks of allowed files only
//! ([`AllowedStatistics`]): document count, field lengths and term
//! frequencies that leave forbidden files out, so that scores reveal
//! nothing about them (how common a word is there, how many there are).

use tantivy::columnar::Column;
use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Searcher, SegmentReader, Term, TERMINATED};

use super::allowed::AllowedFiles;
use super::ids::FileNo;

/// Whether `doc` belongs to an allowed file, by its `file` fast field.
#[inline]
pub(super) fn file_allowed(files: &Column<u64>, doc: DocId, allowed: &AllowedFiles) -> bool {
    files
        .first(doc)
        .and_then(|file| u32::try_from(file).ok())
        .is_some_and(|file| allowed.contains(FileNo(file)))
}

/// The statistics of the live chunks of allowed files.
pub(super) struct AllowedStatistics<'a> {
    segments: &'a [SegmentReader],
    /// Per segment, per document: alive and of an allowed file.
    visible: Vec<Vec<bool>>,
    docs: u64,
    /// `total_num_tokens` per field, asked once per query term.
    tokens: std::sync::Mutex<std::collections::HashMap<Field, u64>>,
}

impl<'a> AllowedStatistics<'a> {
    /// Reads which chunks of `searcher` are visible: one pass over the
    /// `file` fast field (named `file_field`).
    pub(super) fn new(
        searcher: &'a Searcher,
        file_field: &str,
        allowed: &AllowedFiles,
    ) -> tantivy::Result<Self> {
        let segments = searcher.segment_readers();
        let mut visible = Vec::with_capacity(segments.len());
        let mut docs = 0u64;
        for reader in segments {
            let files = reader.fast_fields().u64(file_field)?;
            let alive = reader.alive_bitset();
            let segment: Vec<bool> = (0..reader.max_doc())
                .map(|doc| {
                    alive.is_none_or(|alive| alive.is_alive(doc))
                        && file_allowed(&files, doc, allowed)
                })
                .collect();
            docs += segment.iter().filter(|v| **v).count() as u64;
            visible.push(segment);
        }
        Ok(Self {
            segments,
            visible,
            docs,
            tokens: Default::default(),
        })
    }

    /// Number of visible chunks.
    pub(super) fn docs(&self) -> u64 {
        self.docs
    }
}

impl Bm25StatisticsProvider for AllowedStatistics<'_> {
    /// From the stored field lengths (exact up to 40 tokens, then within a
    /// few percent), as BM25 itself reads them.
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        if let Some(total) = self.tokens.lock().ok().and_then(|t| t.get(&field).copied()) {
            return Ok(total);
        }
        let mut total = 0u64;
        for (reader, visible) in self.segments.iter().zip(&self.visible) {
            let norms = reader.get_fieldnorms_reader(field)?;
            for (doc, _) in visible.iter().enumerate().filter(|(_, v)| **v) {
                total += u64::from(norms.fieldnorm(doc as DocId));
            }
        }
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(field, total);
        }
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut count = 0u64;
        for (reader, visible) in self.segments.iter().zip(&self.visible) {
            let inverted = reader.inverted_index(term.field())?;
            let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if visible.get(doc as usize).copied().unwrap_or(false) {
                    count += 1;
                }
                doc = postings.advance();
            }
        }
        Ok(count)
    }
}
