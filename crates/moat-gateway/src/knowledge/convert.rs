//! Stored records to OpenAI's objects, and the small checks on the way in.

use moat_protocol::files::{FileObject, FilePurpose};
use moat_protocol::page::{ListOrder, ListPage};
use moat_protocol::vector_stores::{
    ChunkingStrategy, ChunkingStrategyParam, ExpiresAfter, FileCounts, IngestDetails, LastError,
    LastErrorCode, ReembedProgress, VectorStore, VectorStoreDetails, VectorStoreFile,
    VectorStoreFileBatch, VectorStoreFileStatus, VectorStoreStatus,
};
use moat_protocol::ApiError;
use moat_store::StoreError;
use moat_store::{
    AttachedFile, FileBatchRecord, FileRecord, IngestStatus, Page, PageQuery, SortOrder,
    VectorStoreRecord,
};

/// The longest file name, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// A file name as sent in a multipart upload, reduced to its last path
/// component; no control characters, not empty, not too long.
pub(crate) fn check_filename(name: &str) -> Result<String, ApiError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err(ApiError::invalid_param("file", "The file has no name."));
    }
    if base.chars().any(char::is_control) {
        return Err(ApiError::invalid_param(
            "file",
            "The file name holds control characters.",
        ));
    }
    if base.chars().count() > MAX_FILENAME_CHARS {
        return Err(ApiError::invalid_param(
            "file",
            format!("The file name is longer than {MAX_FILENAME_CHARS} characters."),
        ));
    }
    Ok(base.to_owned())
}

fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(crate) fn file_object(record: &FileRecord) -> FileObject {
    let purpose = FilePurpose::parse(&record.purpose).unwrap_or(FilePurpose::Assistants);
    FileObject::new(
        record.id.clone(),
        unsigned(record.bytes),
        seconds(record.created_ms),
        record.filename.clone(),
        purpose,
    )
}

/// A page of the store as OpenAI's list page.
pub(crate) fn list<R, T>(page: Page<R>, convert: impl Fn(&R) -> T) -> ListPage<T>
where
    T: HasId,
{
    let data: Vec<T> = page.items.iter().map(convert).collect();
    ListPage::new(data, page.has_more, HasId::id)
}

/// What a list page takes its first and last ids from.
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for FileObject {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for VectorStoreFile {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The store's page query for a listing request.
pub fn page_query(
    limit: u32,
    order: ListOrder,
    after: &Option<String>,
    before: &Option<String>,
) -> PageQuery {
    PageQuery {
        limit,
        order: match order {
            ListOrder::Asc => SortOrder::Asc,
            ListOrder::Desc => SortOrder::Desc,
        },
        after: after.clone(),
        before: before.clone(),
    }
}

/// A listing's store error: an unknown cursor is the caller's 400.
pub(crate) fn page_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownCursor { id } => ApiError::invalid_param(
            "after",
            format!("No object with id '{id}' in this listing."),
        ),
        other => super::store_error(other),
    }
}

pub(crate) fn counts(counts: &moat_store::FileCounts) -> FileCounts {
    FileCounts {
        in_progress: unsigned(counts.in_progress),
        completed: unsigned(counts.completed),
        failed: unsigned(counts.failed),
        cancelled: unsigned(counts.cancelled),
        total: unsigned(counts.total),
    }
}

/// The store object; `reembed` while its chunks are embedded again.
pub(crate) fn vector_store(
    record: &VectorStoreRecord,
    stored: &moat_store::FileCounts,
    reembed: Option<ReembedProgress>,
) -> VectorStore {
    let file_counts = counts(stored);
    let expires_after: Option<ExpiresAfter> = record
        .expires_after
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let last_active_at = seconds(record.last_active_ms);
    let expires_at = expires_after.map(|e| e.expires_at(last_active_at));
    let now = seconds(moat_protocol::time::now_ms());
    VectorStore {
        id: record.id.clone(),
        object: "vector_store".to_owned(),
        created_at: seconds(record.created_ms),
        name: record.name.clone(),
        usage_bytes: unsigned(stored.usage_bytes),
        status: match VectorStore::status_for(&file_counts, expires_at, now) {
            VectorStoreStatus::Completed if reembed.is_some() => VectorStoreStatus::InProgress,
            status => status,
        },
        file_counts,
        expires_after,
        expires_at,
        last_active_at,
        metadata: serde_json::from_value(record.metadata.clone()).unwrap_or_default(),
        moat: Some(VectorStoreDetails {
            embedding_model: (!record.embedding_model.is_empty())
                .then(|| record.embedding_model.clone()),
            reembed,
        }),
    }
}

pub(crate) fn file_status(status: IngestStatus) -> VectorStoreFileStatus {
    match status {
        IngestStatus::InProgress => VectorStoreFileStatus::InProgress,
        IngestStatus::Completed => VectorStoreFileStatus::Completed,
        IngestStatus::Failed => VectorStoreFileStatus::Failed,
        IngestStatus::Cancelled => VectorStoreFileStatus::Cancelled,
    }
}

pub(crate) fn ingest_status(status: VectorStoreFileStatus) -> IngestStatus {
    match status {
        VectorStoreFileStatus::InProgress => IngestStatus::InProgress,
        VectorStoreFileStatus::Completed => IngestStatus::Completed,
        VectorStoreFileStatus::Failed => IngestStatus::Failed,
        VectorStoreFileStatus::Cancelled => IngestStatus::Cancelled,
    }
}

/// The chunking an attached file records.
pub(crate) fn chunking(value: &serde_json::Value) -> ChunkingStrategyParam {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

pub(crate) fn vector_store_file(attached: &AttachedFile) -> VectorStoreFile {
    let last_error = attached.last_error.as_ref().map(|e| LastError {
        code: match e.code.as_str() {
            "unsupported_file" => LastErrorCode::UnsupportedFile,
            "invalid_file" => LastErrorCode::InvalidFile,
            _ => LastErrorCode::ServerError,
        },
        message: e.message.clone(),
    });
    VectorStoreFile {
        id: attached.file_id.clone(),
        object: "vector_store.file".to_owned(),
        usage_bytes: unsigned(attached.usage_bytes),
        created_at: seconds(attached.created_ms),
        vector_store_id: attached.store_id.clone(),
        status: file_status(attached.status),
        last_error,
        chunking_strategy: ChunkingStrategy::from(chunking(&attached.chunking)),
        attributes: attached.attributes.as_object().cloned().unwrap_or_default(),
        moat: attached
            .content_sha256
            .as_ref()
            .filter(|_| attached.status == moat_store::IngestStatus::Completed)
            .map(|sha| IngestDetails {
                chunks: unsigned(attached.chunk_count),
                content_sha256: sha.clone(),
                pii: attached.pii.as_object().cloned().unwrap_or_default(),
                extractor: attached.extractor.clone(),
            }),
    }
}

pub(crate) fn file_batch(
    batch: &FileBatchRecord,
    stored: &moat_store::FileCounts,
) -> VectorStoreFileBatch {
    let file_counts = counts(stored);
    let status = if file_counts.in_progress > 0 {
        VectorStoreFileStatus::InProgress
    } else if file_counts.cancelled > 0 && file_counts.completed == 0 {
        VectorStoreFileStatus::Cancelled
    } else {
        VectorStoreFileStatus::Completed
    };
    VectorStoreFileBatch {
        id: batch.id.clone(),
        object: "vector_store.files_batch".to_owned(),
        created_at: seconds(batch.created_ms),
        vector_store_id: batch.store_id.clone(),
        status,
        file_counts,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_names_keep_their_last_component_only() {
        assert_eq!(check_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(check_filename("C:\\docs\\合同.pdf").unwrap(), "合同.pdf");
        assert!(check_filename("..").is_err());
        assert!(check_filename("a/").is_err());
        assert!(check_filename("bad\u{0}name.txt").is_err());
        assert!(check_filename(&"x".repeat(300)).is_err());
    }
}
