//! Files in a vector store and batches of them: the objects, the attach
//! and batch requests, the delete answer and the list query.

use serde::{Deserialize, Serialize};

use super::chunking::{ChunkingStrategy, ChunkingStrategyParam};
use super::fields::{check_attributes, check_file_ids, Attributes};
use super::store::FileCounts;
use crate::error::ApiError;
use crate::page::{check_cursors, check_limit, ListOrder, ListPage, DEFAULT_LIMIT, MAX_LIMIT};

/// `status` of a file in a store, and of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorStoreFileStatus {
    InProgress,
    Completed,
    Cancelled,
    Failed,
}

impl VectorStoreFileStatus {
    /// The name as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }
}

/// `last_error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastErrorCode {
    ServerError,
    UnsupportedFile,
    InvalidFile,
}

/// Why a file could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub code: LastErrorCode,
    pub message: String,
}

/// The vector store file object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorStoreFile {
    /// The file's id, `file-…`.
    pub id: String,
    /// Always `"vector_store.file"`.
    pub object: String,
    pub usage_bytes: u64,
    /// Unix seconds.
    pub created_at: i64,
    pub vector_store_id: String,
    pub status: VectorStoreFileStatus,
    pub last_error: Option<LastError>,
    pub chunking_strategy: ChunkingStrategy,
    pub attributes: Attributes,
    /// What moat knows of the ingest beyond OpenAI's fields; `None` until
    /// the file was ingested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moat: Option<IngestDetails>,
}

/// `"moat"` of a vector store file: its ingest's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestDetails {
    /// Chunks indexed.
    pub chunks: u64,
    /// SHA-256 (hex) of the content ingested, for skipping unchanged files.
    pub content_sha256: String,
    /// Kinds of personal data found and how often (never values).
    #[serde(default)]
    pub pii: serde_json::Map<String, serde_json::Value>,
    /// Which extractor read the text: `pdf-extract` or `pdftotext` for a
    /// PDF (whichever read it better), else the format's reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<String>,
}

/// `GET /v1/vector_stores/{id}/files`.
pub type VectorStoreFileList = ListPage<VectorStoreFile>;

/// `DELETE /v1/vector_stores/{id}/files/{file_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorStoreFileDeleted {
    pub id: String,
    /// Always `"vector_store.file.deleted"`.
    pub object: String,
    pub deleted: bool,
}

impl VectorStoreFileDeleted {
    /// The answer for file `id`.
    pub fn new(id: impl Into<String>, deleted: bool) -> Self {
        Self {
            id: id.into(),
            object: "vector_store.file.deleted".to_owned(),
            deleted,
        }
    }
}

/// `POST /v1/vector_stores/{id}/files`. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttachFileRequest {
    pub file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategyParam>,
}

impl AttachFileRequest {
    /// A plausible file id, attributes and chunking within their limits.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_file_ids(std::iter::once(self.file_id.as_str()), "file_id")?;
        if let Some(attributes) = &self.attributes {
            check_attributes(attributes, "attributes")?;
        }
        if let Some(strategy) = &self.chunking_strategy {
            strategy.validate("chunking_strategy")?;
        }
        Ok(())
    }
}

/// The vector store files batch object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorStoreFileBatch {
    /// `vsfb_…`.
    pub id: String,
    /// Always `"vector_store.files_batch"`.
    pub object: String,
    /// Unix seconds.
    pub created_at: i64,
    pub vector_store_id: String,
    pub status: VectorStoreFileStatus,
    pub file_counts: FileCounts,
}

/// One file of a batch with its own attributes and chunking.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchFile {
    pub file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategyParam>,
}

/// `POST /v1/vector_stores/{id}/file_batches`: either `file_ids`, sharing
/// `attributes` and `chunking_strategy`, or `files`, each with its own.
/// Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateFileBatchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<BatchFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategyParam>,
}

impl CreateFileBatchRequest {
    /// Exactly one of `file_ids` and `files`, not empty, at most 500 distinct
    /// files; attributes and chunking within their limits; shared
    /// attributes or chunking only with `file_ids`.
    pub fn validate(&self) -> Result<(), ApiError> {
        match (&self.file_ids, &self.files) {
            (Some(_), Some(_)) => Err(ApiError::invalid_param(
                "files",
                "Give either file_ids or files, not both.",
            )),
            (None, None) => Err(ApiError::invalid_param(
                "file_ids",
                "Give the files of the batch as file_ids or files.",
            )),
            (Some(ids), None) => {
                if ids.is_empty() {
                    return Err(ApiError::invalid_param("file_ids", "file_ids is empty."));
                }
                check_file_ids(ids.iter().map(String::as_str), "file_ids")?;
                if let Some(attributes) = &self.attributes {
                    check_attributes(attributes, "attributes")?;
                }
                if let Some(strategy) = &self.chunking_strategy {
                    strategy.validate("chunking_strategy")?;
                }
                Ok(())
            }
            (None, Some(files)) => {
                if files.is_empty() {
                    return Err(ApiError::invalid_param("files", "files is empty."));
                }
                if self.attributes.is_some() || self.chunking_strategy.is_some() {
                    return Err(ApiError::invalid_param(
                        "files",
                        "With files, give attributes and chunking_strategy per file.",
                    ));
                }
                check_file_ids(files.iter().map(|f| f.file_id.as_str()), "files")?;
                for (i, file) in files.iter().enumerate() {
                    if let Some(attributes) = &file.attributes {
                        check_attributes(attributes, &format!("files[{i}].attributes"))?;
                    }
                    if let Some(strategy) = &file.chunking_strategy {
                        strategy.validate(&format!("files[{i}].chunking_strategy"))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// The batch as one [`BatchFile`] per file, shared settings copied in.
    pub fn into_files(self) -> Vec<BatchFile> {
        match (self.file_ids, self.files) {
            (_, Some(files)) => files,
            (Some(ids), None) => ids
                .into_iter()
                .map(|file_id| BatchFile {
                    file_id,
                    attributes: self.attributes.clone(),
                    chunking_strategy: self.chunking_strategy,
                })
                .collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// The query string of a store's (or batch's) file listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorStoreFileListQuery {
    /// 1 to 100; 20 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: ListOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Only files in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<VectorStoreFileStatus>,
}

impl VectorStoreFileListQuery {
    /// `limit` within 1..=100 and at most one plausible cursor.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_limit(self.limit, MAX_LIMIT)?;
        check_cursors(self.after.as_deref(), self.before.as_deref())
    }

    /// The page size asked for, or the default.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;
    use crate::vector_stores::StaticChunking;
    use serde_json::json;

    fn attach(body: &str) -> Result<AttachFileRequest, ApiError> {
        parse_json::<AttachFileRequest>(body.as_bytes()).and_then(|r| r.validate().map(|()| r))
    }

    fn batch(body: &str) -> Result<CreateFileBatchRequest, ApiError> {
        parse_json::<CreateFileBatchRequest>(body.as_bytes()).and_then(|r| r.validate().map(|()| r))
    }

    #[test]
    fn the_file_object_has_openai_shape() {
        let file = VectorStoreFile {
            id: "file-abc".into(),
            object: "vector_store.file".into(),
            usage_bytes: 1234,
            created_at: 1_700_000_000,
            vector_store_id: "vs_abc".into(),
            status: VectorStoreFileStatus::Failed,
            last_error: Some(LastError {
                code: LastErrorCode::UnsupportedFile,
                message: "Not a document.".into(),
            }),
            chunking_strategy: ChunkingStrategy::from(ChunkingStrategyParam::Auto),
            attributes: serde_json::from_value(json!({"year": 2024, "lang": "zh", "draft": false}))
                .unwrap(),
            moat: None,
        };
        insta::assert_snapshot!(serde_json::to_string(&file).unwrap(), @r#"{"id":"file-abc","object":"vector_store.file","usage_bytes":1234,"created_at":1700000000,"vector_store_id":"vs_abc","status":"failed","last_error":{"code":"unsupported_file","message":"Not a document."},"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":400}},"attributes":{"year":2024,"lang":"zh","draft":false}}"#);
        let ok = VectorStoreFile {
            status: VectorStoreFileStatus::Completed,
            last_error: None,
            attributes: Attributes::new(),
            ..file
        };
        insta::assert_snapshot!(serde_json::to_string(&ok).unwrap(), @r#"{"id":"file-abc","object":"vector_store.file","usage_bytes":1234,"created_at":1700000000,"vector_store_id":"vs_abc","status":"completed","last_error":null,"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":400}},"attributes":{}}"#);
        let ingested = VectorStoreFile {
            moat: Some(IngestDetails {
                chunks: 3,
                content_sha256: "ab".repeat(32),
                pii: serde_json::from_value(json!({"phone": 2})).unwrap(),
                extractor: Some("pdftotext".into()),
            }),
            ..ok.clone()
        };
        insta::assert_snapshot!(serde_json::to_string(&ingested).unwrap(), @r#"{"id":"file-abc","object":"vector_store.file","usage_bytes":1234,"created_at":1700000000,"vector_store_id":"vs_abc","status":"completed","last_error":null,"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":400}},"attributes":{},"moat":{"chunks":3,"content_sha256":"abababababababababababababababababababababababababababababababab","pii":{"phone":2},"extractor":"pdftotext"}}"#);
        insta::assert_snapshot!(serde_json::to_string(&VectorStoreFileDeleted::new("file-abc", true)).unwrap(), @r#"{"id":"file-abc","object":"vector_store.file.deleted","deleted":true}"#);
    }

    #[test]
    fn the_batch_object_has_openai_shape() {
        let b = VectorStoreFileBatch {
            id: "vsfb_abc".into(),
            object: "vector_store.files_batch".into(),
            created_at: 1_700_000_000,
            vector_store_id: "vs_abc".into(),
            status: VectorStoreFileStatus::InProgress,
            file_counts: FileCounts {
                in_progress: 2,
                completed: 1,
                failed: 0,
                cancelled: 0,
                total: 3,
            },
        };
        insta::assert_snapshot!(serde_json::to_string(&b).unwrap(), @r#"{"id":"vsfb_abc","object":"vector_store.files_batch","created_at":1700000000,"vector_store_id":"vs_abc","status":"in_progress","file_counts":{"in_progress":2,"completed":1,"failed":0,"cancelled":0,"total":3}}"#);
    }

    #[test]
    fn attach_requests_as_the_sdk_sends_them() {
        // client.vector_stores.files.create(vector_store_id, file_id="file-a")
        let r = attach(r#"{"file_id":"file-a"}"#).unwrap();
        assert_eq!(
            (r.file_id.as_str(), r.attributes, r.chunking_strategy),
            ("file-a", None, None)
        );
        // ... attributes={...}, chunking_strategy={"type": "static", ...}
        let r = attach(r#"{"file_id":"file-a","attributes":{"year":2024,"dept":"hr","public":true},"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":300,"chunk_overlap_tokens":0}}}"#).unwrap();
        assert_eq!(r.attributes.unwrap()["year"], json!(2024));
        assert_eq!(
            r.chunking_strategy.unwrap().sizes(),
            StaticChunking {
                max_chunk_size_tokens: 300,
                chunk_overlap_tokens: 0
            }
        );
        for (body, param) in [
            (r#"{}"#, "file_id"),
            (r#"{"file_id":""}"#, "file_id"),
            (
                r#"{"file_id":"file-a","attributes":{"a":[1]}}"#,
                "attributes",
            ),
            (
                r#"{"file_id":"file-a","chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":50,"chunk_overlap_tokens":0}}}"#,
                "chunking_strategy.static.max_chunk_size_tokens",
            ),
        ] {
            let e = attach(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn batch_requests_as_the_sdk_sends_them() {
        let r = batch(r#"{"file_ids":["file-a","file-b"],"attributes":{"k":"v"},"chunking_strategy":{"type":"auto"}}"#).unwrap();
        let files = r.into_files();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].file_id, "file-b");
        assert_eq!(files[1].attributes.as_ref().unwrap()["k"], "v");
        assert_eq!(
            files[1].chunking_strategy,
            Some(ChunkingStrategyParam::Auto)
        );
        let r =
            batch(r#"{"files":[{"file_id":"file-a","attributes":{"n":1}},{"file_id":"file-b"}]}"#)
                .unwrap();
        let files = r.into_files();
        assert_eq!(files[0].attributes.as_ref().unwrap()["n"], 1);
        assert_eq!(files[1].attributes, None);
        for (body, param) in [
            (r#"{}"#, "file_ids"),
            (r#"{"file_ids":[]}"#, "file_ids"),
            (
                r#"{"file_ids":["file-a"],"files":[{"file_id":"file-b"}]}"#,
                "files",
            ),
            (
                r#"{"files":[{"file_id":"file-a"}],"attributes":{"k":"v"}}"#,
                "files",
            ),
            (
                r#"{"files":[{"file_id":"file-a"},{"file_id":"file-a"}]}"#,
                "files",
            ),
            (
                r#"{"files":[{"file_id":"file-a","attributes":{"k":null}}]}"#,
                "files[0].attributes",
            ),
            (
                r#"{"files":[{"file_id":"file-a","chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":200,"chunk_overlap_tokens":101}}}]}"#,
                "files[0].chunking_strategy.static.chunk_overlap_tokens",
            ),
        ] {
            let e = batch(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn the_list_query_reads_the_filter() {
        let q: VectorStoreFileListQuery =
            parse_json(br#"{"filter":"failed","order":"asc","limit":3}"#).unwrap();
        q.validate().unwrap();
        assert_eq!(
            (q.filter, q.order, q.limit()),
            (Some(VectorStoreFileStatus::Failed), ListOrder::Asc, 3)
        );
        assert!(parse_json::<VectorStoreFileListQuery>(br#"{"filter":"done"}"#).is_err());
        let q = VectorStoreFileListQuery {
            limit: Some(0),
            ..Default::default()
        };
        assert_eq!(q.validate().unwrap_err().param.as_deref(), Some("limit"));
    }
}
