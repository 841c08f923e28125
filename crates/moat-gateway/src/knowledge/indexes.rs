//! The indexes of each store, opened on first use: the keyword index on
//! disk (one folder per store under the index folder, rebuilt from the
//! store's chunks when it is missing) and the vector index in memory
//! (rebuilt from the stored embeddings). Index work is CPU-heavy and runs
//! on blocking threads. Once a store's vectors reach the size where a scan
//! gets slow ([`moat_kb::APPROXIMATE_FROM`]), an HNSW graph is built over
//! a copy on a thread of its own and swapped in if nothing changed
//! meanwhile; until then, and after a removal drops it, searches scan.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use moat_kb::{AllowedFiles, Chunk, ChunkKey, FileNo, KeywordEntry, KeywordIndex, VectorIndex};
use moat_protocol::ApiError;
use moat_router::blocking;
use moat_store::{KbChunk, Store, StoredChunk};
use tokio::sync::Mutex;

/// How long writes must pause before a graph build starts.
const GRAPH_QUIET: std::time::Duration = std::time::Duration::from_secs(2);

/// A store's keyword index, under its folder.
const KEYWORD_DIR: &str = "keywords";

/// Where the keyword index of chunks alone was kept.
const LEGACY_KEYWORD_DIR: &str = "keyword";

/// Chunks read per page while rebuilding.
const REBUILD_PAGE: u32 = 2000;

/// How often the vectors of a store being re-embedded elsewhere are
/// compared with the store's.
const VECTOR_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

pub(crate) struct Indexes {
    dir: PathBuf,
    store: Store,
    open: Mutex<HashMap<String, Arc<StoreIndex>>>,
    /// Vectors from which a store's searches go through a graph.
    graph_from: usize,
}

/// One store's two indexes.
pub(crate) struct StoreIndex {
    keyword: RwLock<KeywordIndex>,
    vector: RwLock<Option<VectorIndex>>,
    graph_from: usize,
    /// Bumped by every change of the vectors: a graph built on a copy is
    /// swapped in only if it did not move meanwhile.
    generation: AtomicU64,
    /// A graph is being built.
    building: AtomicBool,
    /// The files whose chunks the indexes hold.
    files: std::sync::Mutex<BTreeSet<u32>>,
    /// The embedding model the vectors are of.
    model: std::sync::Mutex<String>,
    /// When the vectors were last compared with the store's, while some
    /// chunks had none at load (a re-embed under way); `None` once all
    /// had one.
    vectors_checked: std::sync::Mutex<Option<Instant>>,
    /// Held while the indexes are brought in line with the store.
    syncing: Mutex<()>,
}

fn index_failure(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "knowledge index failure");
    ApiError::internal()
}

/// A store id as a folder name: ids are generated (`vs_` and base-62), so
/// anything else is refused rather than mapped.
fn folder_name(store_id: &str) -> Result<&str, ApiError> {
    let ok = !store_id.is_empty()
        && store_id.len() <= 64
        && store_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(store_id)
    } else {
        Err(index_failure(format!("unexpected store id {store_id:?}")))
    }
}

pub(crate) fn kb_chunk(stored: &StoredChunk) -> Chunk {
    Chunk {
        ordinal: stored.chunk.ordinal,
        text: stored.chunk.text.clone(),
        title: stored.chunk.title.clone(),
        headings: stored.chunk.headings.clone(),
        page: stored.chunk.page,
    }
}

fn lock_failure() -> ApiError {
    index_failure("an index lock was poisoned by a panic")
}

impl Indexes {
    pub(crate) fn new(dir: PathBuf, store: Store, graph_from: usize) -> Self {
        Self {
            dir,
            store,
            open: Mutex::new(HashMap::new()),
            graph_from,
        }
    }

    /// The indexes of `store_id`, opened (or rebuilt) on first use.
    pub(crate) async fn get(&self, store_id: &str) -> Result<Arc<StoreIndex>, ApiError> {
        let mut open = self.open.lock().await;
        if let Some(index) = open.get(store_id) {
            return Ok(Arc::clone(index));
        }
        let index = self.load(store_id).await?;
        open.insert(store_id.to_owned(), Arc::clone(&index));
        Ok(index)
    }

    async fn load(&self, store_id: &str) -> Result<Arc<StoreIndex>, ApiError> {
        let store_dir = self.dir.join(folder_name(store_id)?);
        let path = store_dir.join(KEYWORD_DIR);
        let (keyword, fresh) = blocking("keyword index open", move || {
            // An index of the chunks alone, from before files were also
            // indexed whole: rebuilt below like a lost one.
            let legacy = store_dir.join(LEGACY_KEYWORD_DIR);
            if legacy.exists() {
                if let Err(e) = std::fs::remove_dir_all(&legacy) {
                    tracing::warn!(error = %e, "an old keyword index folder was not removed");
                }
            }
            if KeywordIndex::exists_in(&path) {
                KeywordIndex::open(&path)
                    .map(|k| (k, false))
                    .map_err(|e| e.to_string())
            } else {
                // Missing, or left half made by a crash while it was
                // created: made anew, then filled from the store.
                if path.exists() {
                    std::fs::remove_dir_all(&path).map_err(|e| e.to_string())?;
                }
                std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
                KeywordIndex::create_in_dir(&path)
                    .map(|k| (k, true))
                    .map_err(|e| e.to_string())
            }
        })
        .await?
        .map_err(index_failure)?;
        // What the folder holds; files added or removed meanwhile (by
        // another replica, or while this one was down) are caught up by the
        // next search.
        let files: BTreeSet<u32> = keyword
            .files()
            .map_err(index_failure)?
            .into_iter()
            .map(|f| f.0)
            .collect();
        let index = Arc::new(StoreIndex::new(keyword, self.graph_from, String::new()));
        if fresh {
            // A new folder (or a lost one): the keyword index is rebuilt
            // from the store's chunks.
            let mut after = None;
            let mut rebuilt = BTreeSet::new();
            loop {
                let page = self
                    .store
                    .chunks(store_id, after, REBUILD_PAGE)
                    .await
                    .map_err(super::store_error)?;
                let Some(last) = page.last() else { break };
                after = Some(last.key());
                let full = page.len() == REBUILD_PAGE as usize;
                rebuilt.extend(page.iter().map(|c| c.file_no));
                let without_vectors = page
                    .into_iter()
                    .map(|mut c| {
                        c.chunk.embedding = None;
                        c
                    })
                    .collect();
                index.add_stored(without_vectors, true)?;
                if !full {
                    break;
                }
            }
            index.commit()?;
            *index.files.lock().map_err(|_| lock_failure())? = rebuilt;
        } else {
            *index.files.lock().map_err(|_| lock_failure())? = files;
        }
        self.reload_vectors(&index, store_id).await?;
        Ok(index)
    }

    /// The indexes of `store_id`, brought in line with the store first:
    /// `completed` are the numbers of its files whose ingest completed and
    /// `model` its embedding model, as the store has them now. Files
    /// ingested elsewhere (another replica sharing the database) are read
    /// in, files detached elsewhere taken out, and the vectors read again
    /// when the model changed or a re-embed elsewhere moved on;
    /// `reembedding_here` says this process's own re-embed is adding them.
    /// On one replica, with nothing to catch up, this compares two sets.
    pub(crate) async fn synced(
        &self,
        store_id: &str,
        model: &str,
        completed: &BTreeSet<u32>,
        reembedding_here: bool,
    ) -> Result<Arc<StoreIndex>, ApiError> {
        let index = self.get(store_id).await?;
        let syncing = index.syncing.lock().await;
        if index.model() != model
            || (!reembedding_here && self.vectors_behind(&index, store_id).await?)
        {
            self.reload_vectors(&index, store_id).await?;
        }
        let (missing, extra): (Vec<u32>, Vec<u32>) = {
            let have = index.files.lock().map_err(|_| lock_failure())?;
            (
                completed.difference(&have).copied().collect(),
                have.difference(completed).copied().collect(),
            )
        };
        for file_no in missing {
            let chunks = self
                .store
                .chunks_of_file(store_id, file_no)
                .await
                .map_err(super::store_error)?;
            Self::index_file(
                &index,
                file_no,
                chunks.into_iter().map(|c| c.chunk).collect(),
            )
            .await?;
        }
        if !extra.is_empty() {
            // Not completed here: detached, or still being ingested (kept).
            let attached: BTreeSet<u32> = self
                .store
                .attached_file_nos(store_id)
                .await
                .map_err(super::store_error)?
                .into_iter()
                .collect();
            for file_no in extra.into_iter().filter(|f| !attached.contains(f)) {
                Self::unindex_file(&index, file_no).await?;
            }
        }
        drop(syncing);
        Ok(index)
    }

    /// Whether the store has more vectors than `index`, checked every
    /// [`VECTOR_CHECK`] while some chunks had none at load.
    async fn vectors_behind(&self, index: &StoreIndex, store_id: &str) -> Result<bool, ApiError> {
        let due = index
            .vectors_checked
            .lock()
            .map_err(|_| lock_failure())?
            .is_some_and(|at| at.elapsed() >= VECTOR_CHECK);
        if !due {
            return Ok(false);
        }
        let (total, embedded) = self
            .store
            .chunk_counts(store_id)
            .await
            .map_err(super::store_error)?;
        let held = index
            .vector
            .read()
            .map_err(|_| lock_failure())?
            .as_ref()
            .map_or(0, VectorIndex::len) as u64;
        if let Ok(mut checked) = index.vectors_checked.lock() {
            *checked = (embedded < total).then(Instant::now);
        }
        Ok(embedded > held)
    }

    /// Read a store's vectors (and its model) from the database, into a new
    /// vector index swapped in when complete; the keyword index stays. The
    /// caller holds `syncing` (or is opening the index).
    async fn reload_vectors(
        &self,
        index: &Arc<StoreIndex>,
        store_id: &str,
    ) -> Result<(), ApiError> {
        let model = self
            .store
            .vector_store(store_id)
            .await
            .map_err(super::store_error)?
            .map(|r| r.embedding_model)
            .unwrap_or_default();
        let mut fresh: Option<VectorIndex> = None;
        let mut unembedded = false;
        let mut after = None;
        loop {
            let page = self
                .store
                .chunks(store_id, after, REBUILD_PAGE)
                .await
                .map_err(super::store_error)?;
            let Some(last) = page.last() else { break };
            after = Some(last.key());
            let full = page.len() == REBUILD_PAGE as usize;
            unembedded |= page.iter().any(|c| c.chunk.embedding.is_none());
            let graph_from = self.graph_from;
            fresh = blocking("vector index reload", move || {
                add_vectors(&mut fresh, &page, graph_from).map(|()| fresh)
            })
            .await??;
            if !full {
                break;
            }
        }
        {
            let mut vector = index.vector.write().map_err(|_| lock_failure())?;
            index.generation.fetch_add(1, Ordering::AcqRel);
            *vector = fresh;
        }
        tracing::debug!(store = %store_id, model = %model, "store vectors read");
        *index.model.lock().map_err(|_| lock_failure())? = model;
        index.mark_vectors(unembedded);
        StoreIndex::graph_if_large(index);
        Ok(())
    }

    /// Index (or re-index) the chunks of one file.
    pub(crate) async fn add_file(
        &self,
        store_id: &str,
        file_no: u32,
        chunks: Vec<KbChunk>,
    ) -> Result<(), ApiError> {
        let index = self.get(store_id).await?;
        let _syncing = index.syncing.lock().await;
        Self::index_file(&index, file_no, chunks).await
    }

    async fn index_file(
        index: &Arc<StoreIndex>,
        file_no: u32,
        chunks: Vec<KbChunk>,
    ) -> Result<(), ApiError> {
        let written = Arc::clone(index);
        blocking("keyword index write", move || {
            let stored: Vec<StoredChunk> = chunks
                .into_iter()
                .map(|chunk| StoredChunk { file_no, chunk })
                .collect();
            written.remove(FileNo(file_no))?;
            written.add_stored(stored, true)?;
            // Listed before its chunks become searchable, so that every
            // chunk a searcher sees is of a listed file.
            written
                .files
                .lock()
                .map_err(|_| lock_failure())?
                .insert(file_no);
            written.commit()?;
            Ok::<_, ApiError>(())
        })
        .await??;
        StoreIndex::graph_if_large(index);
        Ok(())
    }

    /// Take a file's chunks out of both indexes.
    pub(crate) async fn remove_file(&self, store_id: &str, file_no: u32) -> Result<(), ApiError> {
        let index = self.get(store_id).await?;
        let _syncing = index.syncing.lock().await;
        Self::unindex_file(&index, file_no).await
    }

    async fn unindex_file(index: &Arc<StoreIndex>, file_no: u32) -> Result<(), ApiError> {
        let written = Arc::clone(index);
        blocking("keyword index delete", move || {
            written.remove(FileNo(file_no))?;
            written.commit()?;
            written
                .files
                .lock()
                .map_err(|_| lock_failure())?
                .remove(&file_no);
            Ok::<_, ApiError>(())
        })
        .await??;
        StoreIndex::graph_if_large(index);
        Ok(())
    }

    /// Read an open store's vectors from the database again (its
    /// embedding model changed); a store not open reads them when opened.
    pub(crate) async fn reload(&self, store_id: &str) -> Result<(), ApiError> {
        let open = self.open.lock().await.get(store_id).cloned();
        if let Some(index) = open {
            let _syncing = index.syncing.lock().await;
            self.reload_vectors(&index, store_id).await?;
        }
        Ok(())
    }

    /// Add vectors of chunks already in the keyword index (a re-embed's).
    pub(crate) async fn add_vectors(
        &self,
        store_id: &str,
        chunks: Vec<StoredChunk>,
    ) -> Result<(), ApiError> {
        let index = self.get(store_id).await?;
        let _syncing = index.syncing.lock().await;
        let written = Arc::clone(&index);
        blocking("vector index write", move || {
            written.add_stored(chunks, false)
        })
        .await??;
        StoreIndex::graph_if_large(&index);
        Ok(())
    }

    /// Forget a deleted store's indexes and remove its folder.
    pub(crate) async fn drop_store(&self, store_id: &str) -> Result<(), ApiError> {
        self.open.lock().await.remove(store_id);
        let path = self.dir.join(folder_name(store_id)?);
        blocking("keyword index removal", move || {
            if path.exists() {
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(error = %e, "a deleted store's index folder was not removed");
                }
            }
        })
        .await
    }
}

impl StoreIndex {
    fn new(keyword: KeywordIndex, graph_from: usize, model: String) -> Self {
        Self {
            keyword: RwLock::new(keyword),
            vector: RwLock::new(None),
            graph_from,
            generation: AtomicU64::new(0),
            building: AtomicBool::new(false),
            files: Default::default(),
            model: std::sync::Mutex::new(model),
            vectors_checked: Default::default(),
            syncing: Mutex::new(()),
        }
    }

    fn model(&self) -> String {
        self.model.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Record whether some chunks had no vector when the vectors were read:
    /// then they are compared with the store's now and then.
    fn mark_vectors(&self, unembedded: bool) {
        let watch = unembedded && !self.model().is_empty();
        if let Ok(mut checked) = self.vectors_checked.lock() {
            *checked = watch.then(Instant::now);
        }
    }

    /// Whether the vectors are many enough for a graph and have none.
    fn wants_graph(&self) -> bool {
        self.vector.read().is_ok_and(|v| {
            v.as_ref()
                .is_some_and(|v| v.len() >= self.graph_from && !v.has_graph())
        })
    }

    /// Start building the graph on a thread of its own if the store wants
    /// one and no build is under way. The build works on a copy (searches
    /// go on scanning the original) and is redone if the vectors changed
    /// before it finished.
    pub(crate) fn graph_if_large(index: &Arc<Self>) {
        if !index.wants_graph() || index.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let index = Arc::clone(index);
        let spawned = std::thread::Builder::new()
            .name("kb-graph".into())
            .spawn(move || {
                while index.wants_graph() {
                    // Wait for a pause in writes: an ingest under way
                    // would make the build start over again and again.
                    let mut generation = index.generation.load(Ordering::Acquire);
                    loop {
                        std::thread::sleep(GRAPH_QUIET);
                        let now = index.generation.load(Ordering::Acquire);
                        if now == generation {
                            break;
                        }
                        generation = now;
                    }
                    let copy = match index.vector.read() {
                        Ok(v) => v.clone(),
                        Err(_) => break,
                    };
                    let Some(mut copy) = copy else { break };
                    let started = std::time::Instant::now();
                    copy.build_graph();
                    let Ok(mut vector) = index.vector.write() else {
                        break;
                    };
                    if index.generation.load(Ordering::Acquire) == generation {
                        tracing::info!(
                            vectors = copy.len(),
                            seconds = started.elapsed().as_secs_f64(),
                            "vector graph built"
                        );
                        *vector = Some(copy);
                        break;
                    }
                }
                index.building.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the vector graph build could not start; searches scan");
        }
    }

    /// Add chunks: to the keyword index when `keyword` (else it has them
    /// already), and those with embeddings to the vector index.
    fn add_stored(&self, chunks: Vec<StoredChunk>, keyword: bool) -> Result<(), ApiError> {
        if keyword {
            let converted: Vec<(ChunkKey, FileNo, Chunk)> = chunks
                .iter()
                .map(|c| (ChunkKey(c.key()), FileNo(c.file_no), kb_chunk(c)))
                .collect();
            let entries: Vec<KeywordEntry<'_>> = converted
                .iter()
                .map(|(key, file, chunk)| KeywordEntry::from_chunk(*key, *file, chunk))
                .collect();
            self.keyword
                .write()
                .map_err(|_| lock_failure())?
                .add(&entries)
                .map_err(index_failure)?;
        }
        let mut vector = self.vector.write().map_err(|_| lock_failure())?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        add_vectors(&mut vector, &chunks, self.graph_from)
    }

    /// Make the keyword index's changes visible to searches (and durable).
    fn commit(&self) -> Result<(), ApiError> {
        self.keyword
            .write()
            .map_err(|_| lock_failure())?
            .commit()
            .map_err(index_failure)
    }

    fn remove(&self, file: FileNo) -> Result<(), ApiError> {
        self.keyword
            .write()
            .map_err(|_| lock_failure())?
            .delete_file(file);
        if let Some(v) = self.vector.write().map_err(|_| lock_failure())?.as_mut() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            v.remove_file(file);
        }
        Ok(())
    }

    /// The `limit` best chunks of `allowed` files for `query`. When every
    /// file the index holds is allowed, the search runs as unrestricted,
    /// which spares it the statistics over allowed files (a pass over
    /// every chunk). Decided under the read lock, which keeps out commits:
    /// a file is listed before its chunks are committed and unlisted after
    /// their removal is, so no chunk of an unlisted file is searchable.
    pub(crate) fn search_keyword(
        &self,
        query: &str,
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, ApiError> {
        let keyword = self.keyword.read().map_err(|_| lock_failure())?;
        let holds_only_allowed = self
            .files
            .lock()
            .map_err(|_| lock_failure())?
            .iter()
            .all(|f| allowed.contains(FileNo(*f)));
        let everything = AllowedFiles::all();
        let allowed = if holds_only_allowed {
            &everything
        } else {
            allowed
        };
        keyword.search(query, limit, allowed).map_err(index_failure)
    }

    /// `None` when the store has no vectors.
    pub(crate) fn search_vector(
        &self,
        query: &[f32],
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Option<Vec<(ChunkKey, f32)>>, ApiError> {
        let vector = self.vector.read().map_err(|_| lock_failure())?;
        match vector.as_ref() {
            Some(v) if v.dims() == query.len() => v
                .search(query, limit, allowed)
                .map(Some)
                .map_err(index_failure),
            _ => Ok(None),
        }
    }
}

/// Add the embeddings of `chunks` to `vector` (made with the first one's
/// dimensions when there is none); an embedding of other dimensions is
/// left out.
fn add_vectors(
    vector: &mut Option<VectorIndex>,
    chunks: &[StoredChunk],
    graph_from: usize,
) -> Result<(), ApiError> {
    for c in chunks {
        let Some(embedding) = &c.chunk.embedding else {
            continue;
        };
        if vector.is_none() {
            let mut created = VectorIndex::new(embedding.len()).map_err(index_failure)?;
            created.set_approximate_from(graph_from);
            *vector = Some(created);
        }
        if let Some(v) = vector.as_mut() {
            if v.dims() == embedding.len() {
                v.add(ChunkKey(c.key()), FileNo(c.file_no), embedding)
                    .map_err(index_failure)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` chunks of `files` files with pseudo-random 16-dimensional
    /// embeddings.
    fn chunks(count: u32, files: u32) -> Vec<StoredChunk> {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        (0..count)
            .map(|i| {
                let embedding = (0..16)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        (seed % 2000) as f32 / 1000.0 - 1.0
                    })
                    .collect();
                StoredChunk {
                    file_no: i % files,
                    chunk: KbChunk {
                        ordinal: i / files,
                        text: format!("chunk {i}"),
                        title: String::new(),
                        headings: Vec::new(),
                        page: None,
                        embedding: Some(embedding),
                    },
                }
            })
            .collect()
    }

    fn has_graph(index: &StoreIndex) -> bool {
        index
            .vector
            .read()
            .unwrap()
            .as_ref()
            .is_some_and(VectorIndex::has_graph)
    }

    fn wait_for_graph(index: &StoreIndex) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < until {
            if has_graph(index) && !index.building.load(Ordering::Acquire) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    #[test]
    fn a_large_store_gets_a_graph_in_the_background_and_a_removal_rebuilds_it() {
        let index = Arc::new(StoreIndex::new(
            KeywordIndex::in_memory().unwrap(),
            100,
            String::new(),
        ));
        index.add_stored(chunks(60, 4), false).unwrap();
        StoreIndex::graph_if_large(&index);
        assert!(
            !index.building.load(Ordering::Acquire),
            "60 vectors need no graph"
        );

        let stored = chunks(200, 4);
        index.add_stored(stored.clone(), false).unwrap();
        StoreIndex::graph_if_large(&index);
        let query = stored[7].chunk.embedding.clone().unwrap();
        // Until the graph is in, searches scan: they are answered at once.
        let scanned = index
            .search_vector(&query, 5, &AllowedFiles::all())
            .unwrap()
            .unwrap();
        assert!(wait_for_graph(&index), "no graph was built");
        let through_graph = index
            .search_vector(&query, 5, &AllowedFiles::all())
            .unwrap()
            .unwrap();
        assert_eq!(through_graph[0].0, scanned[0].0);
        assert!((through_graph[0].1 - 1.0).abs() < 1e-5);

        // A removal drops the graph; the next write's check builds it again.
        index.remove(FileNo(3)).unwrap();
        assert!(!has_graph(&index));
        StoreIndex::graph_if_large(&index);
        assert!(wait_for_graph(&index), "the graph was not rebuilt");
        let left = index
            .search_vector(&query, 300, &AllowedFiles::all())
            .unwrap()
            .unwrap();
        assert_eq!(left.len(), 195);
    }
}
