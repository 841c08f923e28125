//! The indexes of each store, opened on first use: the keyword index on
//! disk (one folder per store under the index folder, rebuilt from the
//! store's chunks when it is missing) and the vector index in memory
//! (rebuilt from the stored embeddings). Index work is CPU-heavy and runs
//! on blocking threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use moat_kb::{AllowedFiles, Chunk, ChunkKey, FileNo, KeywordEntry, KeywordIndex, VectorIndex};
use moat_protocol::ApiError;
use moat_router::blocking;
use moat_store::{KbChunk, Store, StoredChunk};
use tokio::sync::Mutex;

/// Chunks read per page while rebuilding.
const REBUILD_PAGE: u32 = 2000;

pub(crate) struct Indexes {
    dir: PathBuf,
    store: Store,
    open: Mutex<HashMap<String, Arc<StoreIndex>>>,
}

/// One store's two indexes.
pub(crate) struct StoreIndex {
    keyword: RwLock<KeywordIndex>,
    vector: RwLock<Option<VectorIndex>>,
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
    pub(crate) fn new(dir: PathBuf, store: Store) -> Self {
        Self {
            dir,
            store,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The indexes of `store_id`, opened (or rebuilt) on first use.
    pub(crate) async fn get(&self, store_id: &str) -> Result<Arc<StoreIndex>, ApiError> {
        let mut open = self.open.lock().await;
        if let Some(index) = open.get(store_id) {
            return Ok(Arc::clone(index));
        }
        let index = Arc::new(self.load(store_id).await?);
        open.insert(store_id.to_owned(), Arc::clone(&index));
        Ok(index)
    }

    async fn load(&self, store_id: &str) -> Result<StoreIndex, ApiError> {
        let path = self.dir.join(folder_name(store_id)?).join("keyword");
        let (keyword, fresh) = blocking("keyword index open", move || {
            if path.join("meta.json").exists() {
                KeywordIndex::open(&path)
                    .map(|k| (k, false))
                    .map_err(|e| e.to_string())
            } else {
                std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
                KeywordIndex::create_in_dir(&path)
                    .map(|k| (k, true))
                    .map_err(|e| e.to_string())
            }
        })
        .await?
        .map_err(index_failure)?;
        let index = StoreIndex {
            keyword: RwLock::new(keyword),
            vector: RwLock::new(None),
        };
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
            index.add_stored(page, fresh)?;
            if !full {
                break;
            }
        }
        if fresh {
            index.commit()?;
        }
        Ok(index)
    }

    /// Index (or re-index) the chunks of one file.
    pub(crate) async fn add_file(
        &self,
        store_id: &str,
        file_no: u32,
        chunks: Vec<KbChunk>,
    ) -> Result<(), ApiError> {
        let index = self.get(store_id).await?;
        blocking("keyword index write", move || {
            let stored: Vec<StoredChunk> = chunks
                .into_iter()
                .map(|chunk| StoredChunk { file_no, chunk })
                .collect();
            index.remove(FileNo(file_no))?;
            index.add_stored(stored, true)?;
            index.commit()
        })
        .await?
    }

    /// Take a file's chunks out of both indexes.
    pub(crate) async fn remove_file(&self, store_id: &str, file_no: u32) -> Result<(), ApiError> {
        let index = self.get(store_id).await?;
        blocking("keyword index delete", move || {
            index.remove(FileNo(file_no))?;
            index.commit()
        })
        .await?
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
        for c in &chunks {
            let Some(embedding) = &c.chunk.embedding else {
                continue;
            };
            if vector.is_none() {
                *vector = Some(VectorIndex::new(embedding.len()).map_err(index_failure)?);
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
            v.remove_file(file);
        }
        Ok(())
    }

    pub(crate) fn search_keyword(
        &self,
        query: &str,
        limit: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, ApiError> {
        self.keyword
            .read()
            .map_err(|_| lock_failure())?
            .search(query, limit, allowed)
            .map_err(index_failure)
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
