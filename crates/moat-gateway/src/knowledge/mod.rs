//! Step 6's source, knowledge bases: uploaded files, vector stores (OpenAI's
//! name for a knowledge base), the ingest that turns an attached file into
//! indexed chunks, and search. Every entry point takes the [`Call`] and
//! checks it first:
//!
//! - a store is readable by its creator, by admins and by roles whose
//!   `knowledge_bases` or `kb_write` name it (by id or by name); writable
//!   by its creator, admins and roles whose `kb_write` names it. Creating a
//!   store needs a `kb_write` pattern matching its name, uploading a file
//!   some `kb_write` (admins need neither). A store the caller may not read
//!   is answered 404, never 403, so ids cannot be probed;
//! - inside a store, a file whose attributes carry `allowed_roles` (a
//!   comma-separated list of role names) is found only by callers holding
//!   one of them: the file is left out of the allowed set the indexes scan
//!   with, so its chunks never reach ranking, counts or results;
//! - a file is the uploader's (admins see every file).

mod convert;
mod indexes;
mod ingest;
mod reembed;
mod search;

use std::path::PathBuf;
use std::sync::Arc;

use moat_kb::ExtractLimits;
use moat_policy::{Permission, Principal};
use moat_protocol::files::{FileDeleted, FileListQuery, FileObject, FilePurpose};
use moat_protocol::ids::{new_file_batch_id, new_file_id, new_vector_store_id};
use moat_protocol::page::ListPage;
use moat_protocol::time::now_ms;
use moat_protocol::vector_stores::{
    AttachFileRequest, CreateFileBatchRequest, CreateVectorStoreRequest, ModifyVectorStoreRequest,
    ReembedProgress, VectorStore, VectorStoreDeleted, VectorStoreFile, VectorStoreFileBatch,
    VectorStoreFileDeleted, VectorStoreFileListQuery, VectorStoreList,
};
use moat_protocol::ApiError;
use moat_router::ModelRegistry;
use moat_store::Store;
use moat_store::{
    FileBatchRecord, FileRecord, IngestStatus, NewAttachment, VectorStoreRecord, VectorStoreUpdate,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::guard::PiiGuard;
use crate::{Call, GatewayError};
pub use convert::page_query;
pub use search::{FusionWeights, SearchMode, SearchOptions};

use indexes::Indexes;

/// How knowledge bases behave; one default per field.
#[derive(Debug, Clone)]
pub struct KnowledgeSettings {
    /// Where the keyword indexes live (one folder per store).
    pub index_dir: PathBuf,
    /// The embedding model of new stores; `None`: the first model served
    /// that embeds, if any (without one, stores are keyword-only).
    pub embedding_model: Option<String>,
    /// Largest uploaded file, in bytes.
    pub max_file_bytes: usize,
    /// Bounds on one extraction.
    pub extract: ExtractLimits,
    /// Files ingested at the same time.
    pub ingest_workers: usize,
    /// How much each ranking counts in a hybrid search (a request may say
    /// otherwise in `moat.weights`).
    pub fusion_weights: FusionWeights,
    /// Vectors from which a store's vector searches go through an HNSW
    /// graph (approximate) instead of a scan (exact).
    pub vector_graph_from: usize,
    /// The reranker (a served model with rank pooling) that rescores a
    /// search's best fused candidates; `None`: results keep the fusion's
    /// order.
    pub reranker: Option<String>,
    /// Fused candidates the reranker rescores (at least the results
    /// asked for).
    pub rerank_candidates: usize,
}

impl KnowledgeSettings {
    /// 64 MiB.
    pub const DEFAULT_MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
    /// A cross-encoder reads every candidate whole: 20 chunks of ~300
    /// tokens is one to two seconds on two CPU cores (BENCHMARKS.md).
    pub const DEFAULT_RERANK_CANDIDATES: usize = 20;

    /// The defaults, with indexes under `index_dir`.
    pub fn new(index_dir: PathBuf) -> Self {
        Self {
            index_dir,
            embedding_model: None,
            max_file_bytes: Self::DEFAULT_MAX_FILE_BYTES,
            extract: ExtractLimits::default(),
            ingest_workers: 1,
            vector_graph_from: moat_kb::APPROXIMATE_FROM,
            fusion_weights: FusionWeights::default(),
            reranker: None,
            rerank_candidates: Self::DEFAULT_RERANK_CANDIDATES,
        }
    }
}

/// Files, stores, ingest and search; cheap to clone.
#[derive(Clone)]
pub struct Knowledge {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    models: ModelRegistry,
    guard: PiiGuard,
    settings: KnowledgeSettings,
    indexes: Indexes,
    ingest_slots: Arc<Semaphore>,
    metrics: crate::Metrics,
    /// Stores being re-embedded, and how far each has come.
    reembeds: std::sync::Mutex<std::collections::HashMap<String, ReembedProgress>>,
    /// Each searched store's completed files, with the files version they
    /// were read at.
    file_tables: std::sync::Mutex<std::collections::HashMap<String, FileTable>>,
}

/// A store's completed files as of one files version.
type FileTable = (i64, Arc<search::CompletedFiles>);

/// The refusal of anything about a store the caller may not read, or that
/// does not exist: the same answer.
fn store_not_found(id: &str) -> ApiError {
    GatewayError::StoreNotFound(id.to_owned()).into()
}

fn file_not_found(id: &str) -> ApiError {
    GatewayError::FileNotFound(id.to_owned()).into()
}

fn forbidden_write(id: &str) -> ApiError {
    GatewayError::ReadOnlyStore(id.to_owned()).into()
}

/// A store error as the client sees it (logged here).
fn store_error(e: moat_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "knowledge store failure");
    ApiError::unavailable()
}

fn is_admin(principal: &Principal) -> bool {
    principal.may(Permission::Admin)
}

impl Knowledge {
    pub fn new(
        store: Store,
        models: ModelRegistry,
        guard: PiiGuard,
        settings: KnowledgeSettings,
        metrics: crate::Metrics,
    ) -> Self {
        let workers = settings.ingest_workers.max(1);
        Self {
            inner: Arc::new(Inner {
                indexes: Indexes::new(
                    settings.index_dir.clone(),
                    store.clone(),
                    settings.vector_graph_from,
                ),
                store,
                models,
                guard,
                settings,
                ingest_slots: Arc::new(Semaphore::new(workers)),
                metrics,
                reembeds: Default::default(),
                file_tables: Default::default(),
            }),
        }
    }

    pub fn settings(&self) -> &KnowledgeSettings {
        &self.inner.settings
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    // ---------- access ----------

    /// Every store `principal` may read, in `order` of creation. Every
    /// store is read and the readable kept: stores are few (hundreds), and
    /// grants are patterns over names.
    async fn readable_stores(
        &self,
        principal: &Principal,
        order: moat_protocol::page::ListOrder,
    ) -> Result<Vec<VectorStoreRecord>, ApiError> {
        let mut readable: Vec<VectorStoreRecord> = self
            .all_stores()
            .await?
            .into_iter()
            .filter(|r| may_read(principal, r))
            .collect();
        if order == moat_protocol::page::ListOrder::Desc {
            readable.reverse();
        }
        Ok(readable)
    }

    /// The id of the store `name` names for `principal`: a store id it may
    /// read, or the name of exactly one store it may read (404 when none,
    /// 400 when several share the name).
    pub async fn resolve(&self, principal: &Principal, name: &str) -> Result<String, ApiError> {
        if let Ok(record) = self.readable(principal, name).await {
            return Ok(record.id);
        }
        let named: Vec<VectorStoreRecord> = self
            .readable_stores(principal, moat_protocol::page::ListOrder::Asc)
            .await?
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        match named.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(store_not_found(name)),
            _ => Err(GatewayError::AmbiguousStoreName(name.to_owned()).into()),
        }
    }

    /// The store `id` if `principal` may read it.
    async fn readable(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<VectorStoreRecord, ApiError> {
        let record = self
            .store()
            .vector_store(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| store_not_found(id))?;
        if may_read(principal, &record) {
            Ok(record)
        } else {
            Err(store_not_found(id))
        }
    }

    /// The store `id` if `principal` may change it (404 when it may not
    /// even read it, 403 when it may only read it).
    async fn writable(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<VectorStoreRecord, ApiError> {
        let record = self.readable(principal, id).await?;
        if may_write(principal, &record) {
            Ok(record)
        } else {
            Err(forbidden_write(id))
        }
    }

    /// The file `id` if `principal` uploaded it (or is an admin).
    async fn own_file(&self, principal: &Principal, id: &str) -> Result<FileRecord, ApiError> {
        let record = self
            .store()
            .file(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| file_not_found(id))?;
        if record.owner == principal.id || is_admin(principal) {
            Ok(record)
        } else {
            Err(file_not_found(id))
        }
    }

    // ---------- files ----------

    /// Store an uploaded file. The same content uploaded again by the same
    /// caller is stored again under a new id (OpenAI's behaviour); ingest
    /// skips unchanged content by its hash.
    pub async fn upload(
        &self,
        call: &Call,
        filename: &str,
        purpose: FilePurpose,
        content: Vec<u8>,
    ) -> Result<FileObject, ApiError> {
        may_change(&call.principal, Permission::KnowledgeBaseWrite(None))?;
        let filename = convert::check_filename(filename)?;
        if content.len() > self.settings().max_file_bytes {
            return Err(GatewayError::FileTooLarge {
                bytes: content.len(),
                max: self.settings().max_file_bytes,
            }
            .into());
        }
        let sha256 = hex(&Sha256::digest(&content));
        let record = FileRecord {
            id: new_file_id(),
            owner: call.principal.id.clone(),
            filename,
            purpose: purpose.as_str().to_owned(),
            bytes: i64::try_from(content.len()).unwrap_or(i64::MAX),
            sha256,
            created_ms: now_ms(),
        };
        self.store()
            .insert_file(&record, &content)
            .await
            .map_err(store_error)?;
        Ok(convert::file_object(&record))
    }

    pub async fn files(
        &self,
        call: &Call,
        query: &FileListQuery,
    ) -> Result<ListPage<FileObject>, ApiError> {
        query.validate()?;
        let owner = (!is_admin(&call.principal)).then_some(call.principal.id.as_str());
        let purpose = query.purpose.map(FilePurpose::as_str);
        let page = self
            .store()
            .files(
                owner,
                purpose,
                &page_query(query.limit(), query.order, &query.after, &None),
            )
            .await
            .map_err(convert::page_error)?;
        Ok(convert::list(page, convert::file_object))
    }

    pub async fn file(&self, call: &Call, id: &str) -> Result<FileObject, ApiError> {
        Ok(convert::file_object(
            &self.own_file(&call.principal, id).await?,
        ))
    }

    /// The file's bytes and name.
    pub async fn file_content(&self, call: &Call, id: &str) -> Result<(String, Vec<u8>), ApiError> {
        let record = self.own_file(&call.principal, id).await?;
        let content = self
            .store()
            .file_content(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| file_not_found(id))?;
        Ok((record.filename, content))
    }

    /// Delete a file, detaching it from every store first: its chunks
    /// leave both indexes before the answer.
    pub async fn delete_file(&self, call: &Call, id: &str) -> Result<FileDeleted, ApiError> {
        self.own_file(&call.principal, id).await?;
        for (store_id, file_no) in self
            .store()
            .stores_with_file(id)
            .await
            .map_err(store_error)?
        {
            self.inner.indexes.remove_file(&store_id, file_no).await?;
            self.store()
                .detach_file(&store_id, id)
                .await
                .map_err(store_error)?;
        }
        let deleted = self.store().delete_file(id).await.map_err(store_error)?;
        Ok(FileDeleted::new(id, deleted))
    }

    // ---------- vector stores ----------

    pub async fn create_store(
        &self,
        call: &Call,
        request: CreateVectorStoreRequest,
    ) -> Result<VectorStore, ApiError> {
        request.validate()?;
        let name = request.name.as_deref().unwrap_or_default();
        may_change(&call.principal, Permission::KnowledgeBaseWrite(Some(name)))?;
        let now = now_ms();
        let record = VectorStoreRecord {
            id: new_vector_store_id(),
            name: request.name.clone().unwrap_or_default(),
            owner: call.principal.id.clone(),
            created_ms: now,
            last_active_ms: now,
            metadata: serde_json::to_value(request.metadata.clone().unwrap_or_default())
                .unwrap_or_default(),
            embedding_model: self.embedding_model().unwrap_or_default(),
            chunking: serde_json::to_value(request.chunking_strategy.unwrap_or_default())
                .unwrap_or_default(),
            expires_after: request
                .expires_after
                .as_ref()
                .and_then(|e| serde_json::to_value(e).ok()),
        };
        self.store()
            .insert_vector_store(&record)
            .await
            .map_err(store_error)?;
        let id = record.id.clone();
        if let Some(file_ids) = request.file_ids {
            for file_id in file_ids {
                self.attach(
                    call,
                    &id,
                    AttachFileRequest {
                        file_id,
                        attributes: None,
                        chunking_strategy: request.chunking_strategy,
                    },
                )
                .await?;
            }
        }
        self.vector_store(call, &id).await
    }

    /// The model that embeds new stores' chunks: the configured one, else
    /// the first served model that embeds, a multilingual one (an id
    /// naming `multilingual` or `e5`) before the others, since stores hold
    /// Chinese as well as English.
    fn embedding_model(&self) -> Option<String> {
        if let Some(model) = &self.settings().embedding_model {
            return Some(model.clone());
        }
        let embedders: Vec<String> = self
            .inner
            .models
            .infos()
            .into_iter()
            .filter(|info| info.purpose.embeds())
            .map(|info| info.id)
            .collect();
        let multilingual = |id: &&String| id_words(id).any(|w| w == "multilingual" || w == "e5");
        embedders
            .iter()
            .find(multilingual)
            .or_else(|| embedders.first())
            .cloned()
    }

    pub async fn vector_store(&self, call: &Call, id: &str) -> Result<VectorStore, ApiError> {
        let record = self.readable(&call.principal, id).await?;
        let counts = self.store().file_counts(id).await.map_err(store_error)?;
        Ok(convert::vector_store(
            &record,
            &counts,
            self.reembed_progress(&record.id),
        ))
    }

    pub async fn vector_stores(
        &self,
        call: &Call,
        query: &moat_protocol::page::ListQuery,
    ) -> Result<VectorStoreList, ApiError> {
        query.validate()?;
        let readable = self.readable_stores(&call.principal, query.order).await?;
        let start = match &query.after {
            Some(after) => readable
                .iter()
                .position(|r| &r.id == after)
                .map(|i| i + 1)
                .ok_or_else(|| ApiError::invalid_param("after", "No such vector store id."))?,
            None => 0,
        };
        let limit = query.limit() as usize;
        let has_more = readable.len() > start + limit;
        let mut data = Vec::new();
        for record in readable.into_iter().skip(start).take(limit) {
            let counts = self
                .store()
                .file_counts(&record.id)
                .await
                .map_err(store_error)?;
            let reembed = self.reembed_progress(&record.id);
            data.push(convert::vector_store(&record, &counts, reembed));
        }
        Ok(ListPage::new(data, has_more, |s: &VectorStore| {
            s.id.as_str()
        }))
    }

    pub async fn modify_store(
        &self,
        call: &Call,
        id: &str,
        request: ModifyVectorStoreRequest,
    ) -> Result<VectorStore, ApiError> {
        request.validate()?;
        self.writable(&call.principal, id).await?;
        let update = VectorStoreUpdate {
            name: request.name,
            metadata: request
                .metadata
                .map(|m| serde_json::to_value(m).unwrap_or_default()),
            expires_after: request
                .expires_after
                .map(|e| e.and_then(|e| serde_json::to_value(e).ok())),
        };
        self.store()
            .update_vector_store(id, &update)
            .await
            .map_err(store_error)?;
        self.vector_store(call, id).await
    }

    pub async fn delete_store(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<VectorStoreDeleted, ApiError> {
        self.writable(&call.principal, id).await?;
        let deleted = self
            .store()
            .delete_vector_store(id)
            .await
            .map_err(store_error)?;
        self.inner.indexes.drop_store(id).await?;
        if let Ok(mut tables) = self.inner.file_tables.lock() {
            tables.remove(id);
        }
        Ok(VectorStoreDeleted::new(id, deleted))
    }

    // ---------- files in stores ----------

    /// Attach a file and start its ingest; the answer is `in_progress`
    /// (poll it). A file attached already is answered as it stands.
    pub async fn attach(
        &self,
        call: &Call,
        store_id: &str,
        request: AttachFileRequest,
    ) -> Result<VectorStoreFile, ApiError> {
        request.validate()?;
        let record = self.writable(&call.principal, store_id).await?;
        self.own_file(&call.principal, &request.file_id).await?;
        let attributes = request.attributes.clone().unwrap_or_default();
        let chunking = request
            .chunking_strategy
            .unwrap_or_else(|| serde_json::from_value(record.chunking.clone()).unwrap_or_default());
        let new = NewAttachment {
            store_id: store_id.to_owned(),
            file_id: request.file_id.clone(),
            attributes: serde_json::to_value(&attributes).unwrap_or_default(),
            chunking: serde_json::to_value(chunking).unwrap_or_default(),
            created_ms: now_ms(),
        };
        let (attached, created) = self
            .store()
            .attach_file(&new)
            .await
            .map_err(store_error)?
            .ok_or_else(|| store_not_found(store_id))?;
        if created {
            self.start_ingest(attached.clone());
        }
        Ok(convert::vector_store_file(&attached))
    }

    pub async fn store_file(
        &self,
        call: &Call,
        store_id: &str,
        file_id: &str,
    ) -> Result<VectorStoreFile, ApiError> {
        self.readable(&call.principal, store_id).await?;
        let attached = self
            .store()
            .attached_file(store_id, file_id)
            .await
            .map_err(store_error)?
            .filter(|a| may_see(&call.principal, &a.attributes))
            .ok_or_else(|| file_not_found(file_id))?;
        Ok(convert::vector_store_file(&attached))
    }

    pub async fn store_files(
        &self,
        call: &Call,
        store_id: &str,
        query: &VectorStoreFileListQuery,
    ) -> Result<ListPage<VectorStoreFile>, ApiError> {
        query.validate()?;
        self.readable(&call.principal, store_id).await?;
        let status = query.filter.map(convert::ingest_status);
        let mut page = self
            .store()
            .attached_files(
                store_id,
                status,
                &page_query(query.limit(), query.order, &query.after, &query.before),
            )
            .await
            .map_err(convert::page_error)?;
        page.items
            .retain(|a| may_see(&call.principal, &a.attributes));
        Ok(convert::list(page, convert::vector_store_file))
    }

    pub async fn detach(
        &self,
        call: &Call,
        store_id: &str,
        file_id: &str,
    ) -> Result<VectorStoreFileDeleted, ApiError> {
        self.writable(&call.principal, store_id).await?;
        let attached = self
            .store()
            .attached_file(store_id, file_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| file_not_found(file_id))?;
        self.inner
            .indexes
            .remove_file(store_id, attached.file_no)
            .await?;
        let deleted = self
            .store()
            .detach_file(store_id, file_id)
            .await
            .map_err(store_error)?;
        Ok(VectorStoreFileDeleted::new(file_id, deleted))
    }

    /// Attach several files at once; the batch is polled by its id.
    pub async fn create_batch(
        &self,
        call: &Call,
        store_id: &str,
        request: CreateFileBatchRequest,
    ) -> Result<VectorStoreFileBatch, ApiError> {
        request.validate()?;
        self.writable(&call.principal, store_id).await?;
        let files = request.into_files();
        for file in &files {
            self.own_file(&call.principal, &file.file_id).await?;
        }
        let file_ids: Vec<String> = files.iter().map(|f| f.file_id.clone()).collect();
        let batch = FileBatchRecord {
            id: new_file_batch_id(),
            store_id: store_id.to_owned(),
            file_ids: file_ids.clone(),
            status: IngestStatus::InProgress,
            created_ms: now_ms(),
        };
        self.store()
            .insert_file_batch(&batch)
            .await
            .map_err(store_error)?;
        for file in files {
            self.attach(
                call,
                store_id,
                AttachFileRequest {
                    file_id: file.file_id,
                    attributes: file.attributes,
                    chunking_strategy: file.chunking_strategy,
                },
            )
            .await?;
        }
        self.file_batch(call, store_id, &batch.id).await
    }

    pub async fn file_batch(
        &self,
        call: &Call,
        store_id: &str,
        batch_id: &str,
    ) -> Result<VectorStoreFileBatch, ApiError> {
        self.readable(&call.principal, store_id).await?;
        let (batch, counts) = self
            .store()
            .file_batch(batch_id)
            .await
            .map_err(store_error)?
            .filter(|(batch, _)| batch.store_id == store_id)
            .ok_or_else(|| ApiError::from(GatewayError::BatchNotFound(batch_id.to_owned())))?;
        Ok(convert::file_batch(&batch, &counts))
    }

    /// Start ingesting `attached` in the background (bounded by the ingest
    /// slots); its state is in the store for the caller to poll.
    fn start_ingest(&self, attached: moat_store::AttachedFile) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(_slot) = Arc::clone(&this.inner.ingest_slots).acquire_owned().await else {
                return;
            };
            ingest::run(&this, attached).await;
        });
    }

    /// Resume the ingests a restart interrupted.
    pub async fn resume_ingests(&self) -> Result<usize, ApiError> {
        let pending = self
            .store()
            .attached_files_with_status(IngestStatus::InProgress)
            .await
            .map_err(store_error)?;
        let n = pending.len();
        for attached in pending {
            self.start_ingest(attached);
        }
        Ok(n)
    }
}

/// The attribute that limits which roles may find a file.
pub(crate) const ALLOWED_ROLES: &str = "allowed_roles";

/// May `principal` find the file with these `attributes`? A file without
/// `allowed_roles` is for every reader of its store; with it (role names,
/// separated by commas), only for holders of one of those roles, and for
/// admins.
pub(crate) fn may_see(principal: &Principal, attributes: &serde_json::Value) -> bool {
    let Some(allowed) = attributes.get(ALLOWED_ROLES) else {
        return true;
    };
    if principal.may(Permission::Admin) {
        return true;
    }
    let Some(list) = allowed.as_str() else {
        // Not a string: nobody but admins (fail closed).
        return false;
    };
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .any(|name| principal.roles.iter().any(|role| role.name == name))
}

/// The words of a model id, lowercased: `multilingual-e5-small.q4_0` →
/// multilingual, e5, small, q4, 0.
fn id_words(id: &str) -> impl Iterator<Item = String> + '_ {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

/// What an embedding model wants before a search query and before a
/// passage: e5 models (an id naming `e5`) were trained with `query: ` and
/// `passage: `, and retrieve worse without; others want nothing.
pub(crate) fn embedding_prefixes(model: &str) -> (&'static str, &'static str) {
    if id_words(model).any(|w| w == "e5") {
        ("query: ", "passage: ")
    } else {
        ("", "")
    }
}

/// May `principal` read `store`?
fn may_read(principal: &Principal, store: &VectorStoreRecord) -> bool {
    store.owner == principal.id
        || is_admin(principal)
        || principal.may(Permission::KnowledgeBase(&store.id))
        || (!store.name.is_empty() && principal.may(Permission::KnowledgeBase(&store.name)))
}

/// May `principal` change `store` (attach, detach, rename, delete)?
fn may_write(principal: &Principal, store: &VectorStoreRecord) -> bool {
    store.owner == principal.id
        || is_admin(principal)
        || principal.may(Permission::KnowledgeBaseWrite(Some(&store.id)))
        || (!store.name.is_empty()
            && principal.may(Permission::KnowledgeBaseWrite(Some(&store.name))))
}

/// May `principal` do `permission` on knowledge bases? Admins may do all.
fn may_change(principal: &Principal, permission: Permission<'_>) -> Result<(), ApiError> {
    if is_admin(principal) {
        return Ok(());
    }
    moat_policy::authorize(principal, permission).map_err(ApiError::from)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e5_models_get_their_prefixes_and_others_none() {
        assert_eq!(
            embedding_prefixes("multilingual-e5-small.q4_0"),
            ("query: ", "passage: ")
        );
        assert_eq!(embedding_prefixes("E5-large"), ("query: ", "passage: "));
        assert_eq!(embedding_prefixes("all-MiniLM-L6-v2-minilm.f16"), ("", ""));
        // A word, not a substring.
        assert_eq!(embedding_prefixes("bge-m3-e50"), ("", ""));
    }
}
