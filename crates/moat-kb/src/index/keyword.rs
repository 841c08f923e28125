//! The keyword index ([`KeywordIndex`]): BM25 over chunk text and the
//! chunk's title and headings, in tantivy, with [`super::tokenize`]'s
//! Chinese-aware tokenizer for chunks and queries alike.
//!
//! Queries are user text, never tantivy query syntax: they are tokenized
//! and become a disjunction of term queries, so `AND (`, quotes and
//! `field:value` are just words.

use std::path::Path;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery, Weight};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal, SegmentReader,
    TantivyDocument, Term,
};

use super::allowed::AllowedFiles;
use super::error::IndexError;
use super::ids::{ChunkKey, FileNo};
use super::keyword_stats::{file_allowed, AllowedStatistics};
use super::tokenize::{query_terms, KbTokenizer, TOKENIZER_NAME};
use super::top::TopChunks;
use crate::Chunk;

/// Memory the writer may buffer before it writes a segment.
pub const WRITER_HEAP_BYTES: usize = 50_000_000;

/// Most distinct query terms used; the rest of a long query is ignored.
pub const MAX_QUERY_TERMS: usize = 64;

/// Longest chunk text plus title and headings accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// How much more a match in the title or headings counts than one in the
/// text.
pub const TITLE_BOOST: Score = 1.25;

const KEY: &str = "key";
const FILE: &str = "file";
const TEXT: &str = "text";
const TITLE_HEADINGS: &str = "title_headings";

/// One chunk as the keyword index takes it.
#[derive(Debug, Clone, Copy)]
pub struct KeywordEntry<'a> {
    pub key: ChunkKey,
    pub file: FileNo,
    pub text: &'a str,
    pub title: &'a str,
    /// Headings above the chunk, outermost first.
    pub headings: &'a [String],
}

impl<'a> KeywordEntry<'a> {
    /// The entry for `chunk` of `file`.
    pub fn from_chunk(key: ChunkKey, file: FileNo, chunk: &'a Chunk) -> Self {
        Self {
            key,
            file,
            text: &chunk.text,
            title: &chunk.title,
            headings: &chunk.headings,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    key: Field,
    file: Field,
    text: Field,
    title_headings: Field,
}

/// A knowledge base's keyword index, in a folder or in memory.
///
/// Writes ([`add`](Self::add), [`delete_file`](Self::delete_file)) become
/// visible to [`search`](Self::search) and [`len`](Self::len) only at
/// [`commit`](Self::commit).
pub struct KeywordIndex {
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
}

impl std::fmt::Debug for KeywordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordIndex").finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let number = NumericOptions::default().set_indexed().set_fast();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        key: builder.add_u64_field(KEY, number.clone()),
        file: builder.add_u64_field(FILE, number),
        text: builder.add_text_field(TEXT, text.clone()),
        title_headings: builder.add_text_field(TITLE_HEADINGS, text),
    };
    (builder.build(), fields)
}

impl KeywordIndex {
    /// A new, empty index in `path`, an existing empty folder.
    pub fn create_in_dir(path: &Path) -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        Self::start(Index::create_in_dir(path, schema)?, fields)
    }

    /// The index kept in `path`, as of its last commit.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let index = Index::open_in_dir(path)?;
        let (schema, fields) = schema();
        let found = serde_json::to_value(index.schema()).ok();
        if found != serde_json::to_value(&schema).ok() {
            return Err(IndexError::Schema {
                path: path.display().to_string(),
                reason: format!("expected fields {KEY}, {FILE}, {TEXT}, {TITLE_HEADINGS}"),
            });
        }
        Self::start(index, fields)
    }

    /// A new, empty index in memory (lost when dropped).
    pub fn in_memory() -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        Self::start(Index::create_in_ram(schema), fields)
    }

    fn start(index: Index, fields: Fields) -> Result<Self, IndexError> {
        index
            .tokenizers()
            .register(TOKENIZER_NAME, TextAnalyzer::from(KbTokenizer));
        let writer = index.writer_with_num_threads(1, WRITER_HEAP_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            writer,
            reader,
            fields,
        })
    }

    /// Adds chunks (visible after the next commit). Nothing is added when
    /// one of them is refused. A key already in the index is not replaced:
    /// delete the file first to index it again.
    pub fn add(&mut self, entries: &[KeywordEntry<'_>]) -> Result<(), IndexError> {
        for entry in entries {
            let len = entry.text.len()
                + entry.title.len()
                + entry.headings.iter().map(|h| h.len() + 1).sum::<usize>();
            if len > MAX_TEXT_BYTES {
                return Err(IndexError::TextTooLong {
                    len,
                    max: MAX_TEXT_BYTES,
                });
            }
        }
        for entry in entries {
            let mut title_headings = String::from(entry.title);
            for heading in entry.headings {
                title_headings.push('\n');
                title_headings.push_str(heading);
            }
            let mut doc = TantivyDocument::new();
            doc.add_u64(self.fields.key, entry.key.0);
            doc.add_u64(self.fields.file, u64::from(entry.file.0));
            doc.add_text(self.fields.text, entry.text);
            doc.add_text(self.fields.title_headings, &title_headings);
            self.writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes every chunk of `file` added before this call (visible after
    /// the next commit). Chunks added after it, before the commit, stay:
    /// delete, add the new chunks, commit.
    pub fn delete_file(&mut self, file: FileNo) {
        self.writer
            .delete_term(Term::from_field_u64(self.fields.file, u64::from(file.0)));
    }

    /// Makes every add and delete so far durable and visible to searches.
    ///
    /// Tantivy writes the new segments, syncs them, then atomically
    /// replaces the index's `meta.json`: when `commit` returns `Ok` the
    /// changes survive a crash; a crash before that leaves the index as of
    /// the previous commit (the uncommitted changes are lost, never half
    /// applied). On error the uncommitted changes are discarded and the
    /// index stays as of its last commit.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        if let Err(error) = self.writer.commit() {
            // Leaves the writer usable, as of the last commit.
            let _ = self.writer.rollback();
            return Err(error.into());
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Number of chunks in the index as of its last commit.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The files with chunks in the index as of its last commit, in order:
    /// what an index kept on disk holds, to compare with the store.
    pub fn files(&self) -> Result<Vec<FileNo>, IndexError> {
        let searcher = self.reader.searcher();
        let mut files = std::collections::BTreeSet::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64(FILE)?;
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    if let Some(file) = column.first(doc).and_then(|f| u32::try_from(f).ok()) {
                        files.insert(file);
                    }
                }
            }
        }
        Ok(files.into_iter().map(FileNo).collect())
    }

    /// Whether the index held no chunk at its last commit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `limit` chunks of `allowed` files that best match `query`, best
    /// first (BM25; equal scores by smaller key). A query with no words
    /// finds nothing. Chunks of other files never enter the ranking, and
    /// unless every file is allowed BM25's statistics (chunk count,
    /// lengths, how many chunks hold a word) are taken over the allowed
    /// files only, so scores say nothing about the others.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, IndexError> {
        let Some(query) = self.query(query).filter(|_| limit > 0) else {
            return Ok(Vec::new());
        };
        let collector = AllowedTop {
            limit,
            allowed: allowed.clone(),
        };
        let searcher = self.reader.searcher();
        if allowed.is_all() {
            return Ok(searcher.search(&query, &collector)?);
        }
        let statistics = AllowedStatistics::new(&searcher, FILE, allowed)?;
        if statistics.docs() == 0 {
            return Ok(Vec::new());
        }
        Ok(searcher.search_with_statistics_provider(&query, &collector, &statistics)?)
    }

    /// The query of `text`'s words, each in the text and (boosted) in the
    /// title and headings; `None` when it has no words.
    fn query(&self, text: &str) -> Option<BooleanQuery> {
        let terms = query_terms(text, MAX_QUERY_TERMS);
        if terms.is_empty() {
            return None;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for term in &terms {
            let text = Term::from_field_text(self.fields.text, term);
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(text, IndexRecordOption::WithFreqs)),
            ));
            let title = Term::from_field_text(self.fields.title_headings, term);
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(title, IndexRecordOption::WithFreqs)),
                    TITLE_BOOST,
                )),
            ));
        }
        Some(BooleanQuery::new(clauses))
    }
}

/// Collects the best chunks of allowed files, reading each candidate's
/// file from its fast field before scoring it.
struct AllowedTop {
    limit: usize,
    allowed: AllowedFiles,
}

struct SegmentTop {
    keys: Column<u64>,
    files: Column<u64>,
    allowed: AllowedFiles,
    top: TopChunks,
}

impl SegmentTop {
    #[inline]
    fn is_allowed(&self, doc: DocId) -> bool {
        file_allowed(&self.files, doc, &self.allowed)
    }

    #[inline]
    fn keep(&mut self, doc: DocId, score: Score) {
        if let Some(key) = self.keys.first(doc) {
            self.top.push(ChunkKey(key), score);
        }
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(ChunkKey, f32)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.is_allowed(doc) {
            self.keep(doc, score);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.top.into_sorted()
    }
}

impl Collector for AllowedTop {
    type Fruit = Vec<(ChunkKey, f32)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        let fast = reader.fast_fields();
        Ok(SegmentTop {
            keys: fast.u64(KEY)?,
            files: fast.u64(FILE)?,
            allowed: self.allowed.clone(),
            top: TopChunks::new(self.limit),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut top = TopChunks::new(self.limit);
        for (key, score) in segments.into_iter().flatten() {
            top.push(key, score);
        }
        Ok(top.into_sorted())
    }

    /// Walks the matches with block-max pruning (a block of postings whose
    /// best possible score cannot enter the top is skipped unread), keeping
    /// only live chunks of allowed files; the threshold rises with allowed
    /// chunks only, so a forbidden chunk never displaces or hides one.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let mut collector = self.for_segment(segment, reader)?;
        let alive = reader.alive_bitset();
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_none_or(|alive| alive.is_alive(doc)) && collector.is_allowed(doc) {
                collector.keep(doc, score);
            }
            collector.top.threshold()
        })?;
        Ok(collector.harvest())
    }
}

#[cfg(test)]
#[path = "keyword_tests.rs"]
mod tests;
