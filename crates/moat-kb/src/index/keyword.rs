//! The keyword index ([`KeywordIndex`]): BM25 over chunk text and the
//! chunk's title and headings, in tantivy, with [`super::tokenize`]'s
//! Chinese-aware tokenizer for chunks and queries alike.
//!
//! Each file is also indexed whole (all its chunks' text, its title and
//! first heading, one entry), and a chunk's rank takes in how well its
//! file as a whole matches: `chunk / best chunk + DOCUMENT_WEIGHT * file /
//! best file`. A document names its owner and edition once, in the title
//! or the first paragraph, and a question about a clause further down
//! names them too; chunk BM25 alone cannot tell that clause from the same
//! clause of a near-duplicate.
//!
//! Queries are user text, never tantivy query syntax: they are tokenized
//! and become a disjunction of term queries, so `AND (`, quotes and
//! `field:value` are just words.

use std::collections::{BTreeMap, HashMap};
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

/// Memory the chunks' writer may buffer before it writes a segment.
pub const WRITER_HEAP_BYTES: usize = 50_000_000;

/// Memory the whole files' writer may buffer: tantivy's least, as a file's
/// entry is written once per ingest and few are buffered at a time.
pub const FILES_WRITER_HEAP_BYTES: usize = 15_000_000;

/// Most distinct query terms used; the rest of a long query is ignored.
pub const MAX_QUERY_TERMS: usize = 64;

/// Longest chunk text plus title and headings accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// How much more a match in the title or headings counts than one in the
/// text.
pub const TITLE_BOOST: Score = 1.25;

/// How much a file's whole-document score counts next to its chunk's, both
/// scaled to the best of their search. Measured on the labelled set of
/// `benches/kb` (BENCHMARKS.md, `examples/keyword_quality.rs`): keyword
/// recall@5 / MRR@10 0.843 / 0.740 at 0, 0.907 / 0.815 at 1.
pub const DOCUMENT_WEIGHT: Score = 1.0;

/// Chunks ranked by BM25 before the file scores rescore them: at least
/// this many, or the number asked for when larger.
pub const RESCORED_CHUNKS: usize = 200;

/// Files ranked whole per search; a file further down adds nothing to its
/// chunks' scores.
pub const RANKED_FILES: usize = 1000;

/// Most text of one file indexed whole, in bytes; the rest of a longer file
/// still counts through its chunks.
pub const MAX_FILE_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// Subfolders of an index folder: the chunks, and the files whole.
const CHUNKS_DIR: &str = "chunks";
const FILES_DIR: &str = "files";

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

/// One tantivy index of [`schema`]: the chunks, or the files whole.
struct Part {
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
}

/// A file's chunks gathered since the last commit, indexed whole then:
/// their text, the title, and the file's first heading (a Markdown
/// document's `# heading`, where it names the document). The other
/// headings are left out: section names (`Payment`, `Term`) recur across
/// documents of a kind, and in the title field they made the whole-file
/// ranking worse on the labelled set (keyword recall@5 0.784 with every
/// heading, 0.854 with the first, measured before plain-text headings and
/// opening-heading titles).
#[derive(Debug, Default)]
struct WholeFile {
    text: String,
    title: String,
    heading: Option<String>,
}

/// A knowledge base's keyword index, in a folder or in memory.
///
/// Writes ([`add`](Self::add), [`delete_file`](Self::delete_file)) become
/// visible to [`search`](Self::search) and [`len`](Self::len) only at
/// [`commit`](Self::commit). A file's chunks are added in one go (before
/// one commit) after its old ones are deleted, as ingest does: its whole
/// entry is written from the chunks added before the commit.
pub struct KeywordIndex {
    chunks: Part,
    files: Part,
    pending: BTreeMap<FileNo, WholeFile>,
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
        let create = |name: &str, heap: usize| -> Result<Part, IndexError> {
            let dir = path.join(name);
            std::fs::create_dir(&dir)?;
            Part::start(Index::create_in_dir(&dir, schema().0)?, heap)
        };
        Ok(Self::of(
            create(CHUNKS_DIR, WRITER_HEAP_BYTES)?,
            create(FILES_DIR, FILES_WRITER_HEAP_BYTES)?,
        ))
    }

    /// Whether `path` holds an index (of any schema) to [`open`](Self::open).
    pub fn exists_in(path: &Path) -> bool {
        [CHUNKS_DIR, FILES_DIR]
            .iter()
            .all(|name| path.join(name).join("meta.json").exists())
    }

    /// The index kept in `path`, as of its last commit.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let chunks = Part::open(&path.join(CHUNKS_DIR), WRITER_HEAP_BYTES)?;
        let files = Part::open(&path.join(FILES_DIR), FILES_WRITER_HEAP_BYTES)?;
        Ok(Self::of(chunks, files))
    }

    /// A new, empty index in memory (lost when dropped).
    pub fn in_memory() -> Result<Self, IndexError> {
        let chunks = Part::start(Index::create_in_ram(schema().0), WRITER_HEAP_BYTES)?;
        let files = Part::start(Index::create_in_ram(schema().0), FILES_WRITER_HEAP_BYTES)?;
        Ok(Self::of(chunks, files))
    }

    fn of(chunks: Part, files: Part) -> Self {
        Self {
            chunks,
            files,
            pending: BTreeMap::new(),
        }
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
            self.chunks.add(
                entry.key.0,
                entry.file,
                entry.text,
                &title_headings(entry.title, entry.headings),
            )?;
            self.pending.entry(entry.file).or_default().take(entry);
        }
        Ok(())
    }

    /// Removes every chunk of `file` added before this call (visible after
    /// the next commit). Chunks added after it, before the commit, stay:
    /// delete, add the new chunks, commit.
    pub fn delete_file(&mut self, file: FileNo) {
        self.chunks.delete_file(file);
        self.files.delete_file(file);
        self.pending.remove(&file);
    }

    /// Makes every add and delete so far durable and visible to searches.
    ///
    /// Tantivy writes the new segments, syncs them, then atomically
    /// replaces the index's `meta.json`: when `commit` returns `Ok` the
    /// changes survive a crash; a crash before that leaves the index as of
    /// the previous commit (the uncommitted changes are lost, never half
    /// applied). On error the uncommitted changes are discarded and the
    /// index stays as of its last commit. The whole files are committed
    /// first: a crash between the two commits leaves a whole entry with no
    /// chunks, which ranks nothing, and a file [`files`](Self::files) does
    /// not list, which ingest indexes again.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        let pending = std::mem::take(&mut self.pending);
        let written = pending.into_iter().try_for_each(|(file, whole)| {
            // An entry from an earlier commit (chunks added with no delete
            // first) is replaced, not doubled.
            self.files.delete_file(file);
            self.files.add(
                u64::from(file.0),
                file,
                &whole.text,
                &title_headings(&whole.title, whole.heading.as_slice()),
            )
        });
        if let Err(error) = written.and_then(|()| self.files.commit()) {
            self.files.rollback();
            self.chunks.rollback();
            return Err(error);
        }
        if let Err(error) = self.chunks.commit() {
            self.chunks.rollback();
            return Err(error);
        }
        Ok(())
    }

    /// Number of chunks in the index as of its last commit.
    pub fn len(&self) -> u64 {
        self.chunks.reader.searcher().num_docs()
    }

    /// The files with chunks in the index as of its last commit, in order:
    /// what an index kept on disk holds, to compare with the store.
    pub fn files(&self) -> Result<Vec<FileNo>, IndexError> {
        let searcher = self.chunks.reader.searcher();
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
    /// first: the [`RESCORED_CHUNKS`] best by BM25, ranked by `chunk / best
    /// chunk + DOCUMENT_WEIGHT * file / best file` (equal scores by smaller
    /// key). A query with no words finds nothing. Chunks and files not
    /// allowed never enter a ranking, and unless every file is allowed
    /// BM25's statistics (entry count, lengths, how many entries hold a
    /// word) are taken over the allowed files only, so scores say nothing
    /// about the others.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, IndexError> {
        let terms = query_terms(query, MAX_QUERY_TERMS);
        if limit == 0 || terms.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = self
            .chunks
            .search(&terms, limit.max(RESCORED_CHUNKS), allowed)?;
        let Some(best_chunk) = chunks.first().map(|h| h.1).filter(|s| *s > 0.0) else {
            return Ok(Vec::new());
        };
        let files = self.files.search(&terms, RANKED_FILES, allowed)?;
        let best_file = files.first().map_or(0.0, |h| h.1);
        let by_file: HashMap<FileNo, f32> = files
            .into_iter()
            .filter(|_| best_file > 0.0)
            .map(|(_, score, file)| (file, score / best_file))
            .collect();
        let mut ranked: Vec<(ChunkKey, f32)> = chunks
            .into_iter()
            .map(|(key, score, file)| {
                let whole = by_file.get(&file).copied().unwrap_or(0.0);
                (key, score / best_chunk + DOCUMENT_WEIGHT * whole)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        Ok(ranked)
    }

    /// The `limit` best chunks by their own BM25 alone, best first.
    #[cfg(test)]
    fn search_chunks(
        &self,
        query: &str,
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, IndexError> {
        let hits = self
            .chunks
            .search(&query_terms(query, MAX_QUERY_TERMS), limit, allowed)?;
        Ok(hits
            .into_iter()
            .map(|(key, score, _)| (key, score))
            .collect())
    }
}

/// A title and headings as one field's text, a line each; a heading that
/// repeats the title (the document's opening heading, which titles it) is
/// left out.
fn title_headings(title: &str, headings: &[String]) -> String {
    let mut joined = String::from(title);
    for heading in headings.iter().filter(|h| *h != title) {
        joined.push('\n');
        joined.push_str(heading);
    }
    joined
}

impl WholeFile {
    /// Gathers `entry`'s text up to [`MAX_FILE_TEXT_BYTES`], and its title
    /// and first heading if none came before.
    fn take(&mut self, entry: &KeywordEntry<'_>) {
        if self.title.is_empty() {
            entry.title.clone_into(&mut self.title);
        }
        if self.heading.is_none() {
            self.heading = entry.headings.first().cloned();
        }
        let room = MAX_FILE_TEXT_BYTES.saturating_sub(self.text.len());
        if room > 0 {
            let mut end = entry.text.len().min(room - 1);
            while !entry.text.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&entry.text[..end]);
            self.text.push('\n');
        }
    }
}

impl Part {
    fn open(path: &Path, heap: usize) -> Result<Self, IndexError> {
        let index = Index::open_in_dir(path)?;
        let (schema, _) = schema();
        let found = serde_json::to_value(index.schema()).ok();
        if found != serde_json::to_value(&schema).ok() {
            return Err(IndexError::Schema {
                path: path.display().to_string(),
                reason: format!("expected fields {KEY}, {FILE}, {TEXT}, {TITLE_HEADINGS}"),
            });
        }
        Self::start(index, heap)
    }

    /// `heap`: what the writer may buffer, at least tantivy's 15 MB.
    fn start(index: Index, heap: usize) -> Result<Self, IndexError> {
        let (_, fields) = schema();
        index
            .tokenizers()
            .register(TOKENIZER_NAME, TextAnalyzer::from(KbTokenizer));
        let writer = index.writer_with_num_threads(1, heap)?;
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

    fn add(
        &mut self,
        key: u64,
        file: FileNo,
        text: &str,
        title_headings: &str,
    ) -> Result<(), IndexError> {
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.fields.key, key);
        doc.add_u64(self.fields.file, u64::from(file.0));
        doc.add_text(self.fields.text, text);
        doc.add_text(self.fields.title_headings, title_headings);
        self.writer.add_document(doc)?;
        Ok(())
    }

    fn delete_file(&mut self, file: FileNo) {
        self.writer
            .delete_term(Term::from_field_u64(self.fields.file, u64::from(file.0)));
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops the uncommitted changes; the writer stays usable, as of the
    /// last commit.
    fn rollback(&mut self) {
        let _ = self.writer.rollback();
    }

    /// The `limit` best entries of `allowed` files for `terms` (BM25; ties
    /// by smaller key).
    fn search(
        &self,
        terms: &[String],
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<Hit>, IndexError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self.query(terms);
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

    /// The query of `terms`, each in the text and (boosted) in the title
    /// and headings.
    fn query(&self, terms: &[String]) -> BooleanQuery {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for term in terms {
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
        BooleanQuery::new(clauses)
    }
}

/// Collects the best chunks of allowed files, reading each candidate's
/// file from its fast field before scoring it.
struct AllowedTop {
    limit: usize,
    allowed: AllowedFiles,
}

/// An entry found: its key, its BM25 score and its file.
type Hit = (ChunkKey, f32, FileNo);

struct SegmentTop {
    keys: Column<u64>,
    files: Column<u64>,
    allowed: AllowedFiles,
    top: TopChunks<FileNo>,
}

impl SegmentTop {
    #[inline]
    fn is_allowed(&self, doc: DocId) -> bool {
        file_allowed(&self.files, doc, &self.allowed)
    }

    #[inline]
    fn keep(&mut self, doc: DocId, score: Score) {
        let file = self.files.first(doc).and_then(|f| u32::try_from(f).ok());
        if let (Some(key), Some(file)) = (self.keys.first(doc), file) {
            self.top.push_with(ChunkKey(key), score, FileNo(file));
        }
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.is_allowed(doc) {
            self.keep(doc, score);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.top.into_sorted_with()
    }
}

impl Collector for AllowedTop {
    type Fruit = Vec<Hit>;
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
        for (key, score, file) in segments.into_iter().flatten() {
            top.push_with(key, score, file);
        }
        Ok(top.into_sorted_with())
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
