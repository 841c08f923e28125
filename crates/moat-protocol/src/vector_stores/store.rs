//! The vector store object, its create and modify requests and the delete
//! answer.

use serde::{Deserialize, Serialize};

use super::chunking::ChunkingStrategyParam;
use super::fields::{check_file_ids, check_metadata, check_name, nullable, ExpiresAfter, Metadata};
use crate::error::ApiError;
use crate::page::ListPage;

/// `status` of a vector store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorStoreStatus {
    Expired,
    InProgress,
    Completed,
}

/// How many files of a store (or batch) are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub total: u64,
}

/// The vector store object. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorStore {
    /// `vs_…`.
    pub id: String,
    /// Always `"vector_store"`.
    pub object: String,
    pub created_at: i64,
    pub name: String,
    /// Bytes the store's files take up.
    pub usage_bytes: u64,
    pub file_counts: FileCounts,
    pub status: VectorStoreStatus,
    pub expires_after: Option<ExpiresAfter>,
    pub expires_at: Option<i64>,
    pub last_active_at: i64,
    pub metadata: Metadata,
    /// moat's own: the store's embedding model and re-embed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moat: Option<VectorStoreDetails>,
}

/// `"moat"` of a vector store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorStoreDetails {
    /// The model that embeds the store's chunks; `null` for a store
    /// searched by keywords only (no embedding model was served when it
    /// was made).
    pub embedding_model: Option<String>,
    /// While the store's chunks are embedded again by a new model: how far
    /// that has come. Left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reembed: Option<ReembedProgress>,
}

/// A re-embed's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReembedProgress {
    /// Chunks with a vector of the new model.
    pub chunks_embedded: u64,
    /// Chunks of the store.
    pub chunks_total: u64,
}

impl VectorStore {
    /// `in_progress` while any file is, `expired` once `expires_at` (when
    /// set) is not after `now` (seconds), else `completed`.
    pub fn status_for(counts: &FileCounts, expires_at: Option<i64>, now: i64) -> VectorStoreStatus {
        match expires_at {
            Some(at) if at <= now => VectorStoreStatus::Expired,
            _ if counts.in_progress > 0 => VectorStoreStatus::InProgress,
            _ => VectorStoreStatus::Completed,
        }
    }
}

/// `GET /v1/vector_stores`.
pub type VectorStoreList = ListPage<VectorStore>;

/// `DELETE /v1/vector_stores/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorStoreDeleted {
    pub id: String,
    /// Always `"vector_store.deleted"`.
    pub object: String,
    pub deleted: bool,
}

impl VectorStoreDeleted {
    /// The answer for store `id`.
    pub fn new(id: impl Into<String>, deleted: bool) -> Self {
        Self {
            id: id.into(),
            object: "vector_store.deleted".to_owned(),
            deleted,
        }
    }
}

/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// `POST /v1/vector_stores`. Unknown fields are ignored, as in chat
/// requests: SDKs add fields faster than servers learn them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateVectorStoreRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// For the files of `file_ids`; `auto` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategyParam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<ExpiresAfter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateVectorStoreRequest {
    /// Name, metadata, file ids, chunking, expiry and description within
    /// their limits.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = &self.name {
            check_name(name, "name")?;
        }
        if let Some(ids) = &self.file_ids {
            check_file_ids(ids.iter().map(String::as_str), "file_ids")?;
        }
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata, "metadata")?;
        }
        if let Some(strategy) = &self.chunking_strategy {
            strategy.validate("chunking_strategy")?;
        }
        if let Some(expires) = &self.expires_after {
            expires.validate()?;
        }
        if let Some(description) = &self.description {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(ApiError::invalid_param(
                    "description",
                    format!("description must be at most {MAX_DESCRIPTION_CHARS} characters long."),
                ));
            }
        }
        Ok(())
    }
}

/// `POST /v1/vector_stores/{id}`: what is absent stays as it is;
/// `"expires_after": null` removes the expiry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModifyVectorStoreRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_after: Option<Option<ExpiresAfter>>,
}

impl ModifyVectorStoreRequest {
    /// Name, metadata and expiry within their limits.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = &self.name {
            check_name(name, "name")?;
        }
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata, "metadata")?;
        }
        if let Some(Some(expires)) = &self.expires_after {
            expires.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;
    use crate::vector_stores::{ExpiresAnchor, StaticChunking};

    fn create(body: &str) -> Result<CreateVectorStoreRequest, ApiError> {
        parse_json::<CreateVectorStoreRequest>(body.as_bytes())
            .and_then(|r| r.validate().map(|()| r))
    }

    #[test]
    fn the_object_has_openai_shape() {
        let store = VectorStore {
            id: "vs_abc".into(),
            object: "vector_store".into(),
            created_at: 1_700_000_000,
            name: "Handbook".into(),
            usage_bytes: 4096,
            file_counts: FileCounts {
                in_progress: 1,
                completed: 2,
                failed: 0,
                cancelled: 0,
                total: 3,
            },
            status: VectorStoreStatus::InProgress,
            expires_after: Some(ExpiresAfter {
                anchor: ExpiresAnchor::LastActiveAt,
                days: 7,
            }),
            expires_at: Some(1_700_604_800),
            last_active_at: 1_700_000_000,
            metadata: Metadata::from([("team".into(), "hr".into())]),
            moat: None,
        };
        insta::assert_snapshot!(serde_json::to_string(&store).unwrap(), @r#"{"id":"vs_abc","object":"vector_store","created_at":1700000000,"name":"Handbook","usage_bytes":4096,"file_counts":{"in_progress":1,"completed":2,"failed":0,"cancelled":0,"total":3},"status":"in_progress","expires_after":{"anchor":"last_active_at","days":7},"expires_at":1700604800,"last_active_at":1700000000,"metadata":{"team":"hr"}}"#);
        let back: VectorStore =
            serde_json::from_str(&serde_json::to_string(&store).unwrap()).unwrap();
        assert_eq!(back, store);
        let reembedding = VectorStore {
            moat: Some(VectorStoreDetails {
                embedding_model: Some("multilingual-e5-small.q4_0".into()),
                reembed: Some(ReembedProgress {
                    chunks_embedded: 96,
                    chunks_total: 400,
                }),
            }),
            ..store.clone()
        };
        let json = serde_json::to_value(&reembedding).unwrap();
        insta::assert_snapshot!(json["moat"].to_string(), @r#"{"embedding_model":"multilingual-e5-small.q4_0","reembed":{"chunks_embedded":96,"chunks_total":400}}"#);
        let keyword_only = VectorStoreDetails {
            embedding_model: None,
            reembed: None,
        };
        insta::assert_snapshot!(serde_json::to_string(&keyword_only).unwrap(), @r#"{"embedding_model":null}"#);
        insta::assert_snapshot!(serde_json::to_string(&VectorStoreDeleted::new("vs_abc", true)).unwrap(), @r#"{"id":"vs_abc","object":"vector_store.deleted","deleted":true}"#);
        let list = VectorStoreList::new(vec![], false, |s| s.id.as_str());
        insta::assert_snapshot!(serde_json::to_string(&list).unwrap(), @r#"{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}"#);
    }

    #[test]
    fn status_follows_files_and_expiry() {
        let busy = FileCounts {
            in_progress: 1,
            total: 1,
            ..Default::default()
        };
        let done = FileCounts {
            completed: 1,
            total: 1,
            ..Default::default()
        };
        assert_eq!(
            VectorStore::status_for(&busy, None, 10),
            VectorStoreStatus::InProgress
        );
        assert_eq!(
            VectorStore::status_for(&done, Some(11), 10),
            VectorStoreStatus::Completed
        );
        assert_eq!(
            VectorStore::status_for(&busy, Some(10), 10),
            VectorStoreStatus::Expired
        );
    }

    #[test]
    fn create_requests_as_the_sdk_sends_them() {
        // client.vector_stores.create(name="Support FAQ")
        let r = create(r#"{"name":"Support FAQ"}"#).unwrap();
        assert_eq!(r.name.as_deref(), Some("Support FAQ"));
        // create(name=..., file_ids=[...], chunking_strategy=..., expires_after=..., metadata=...)
        let r = create(
            r#"{"name":"Docs","file_ids":["file-a","file-b"],"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":512,"chunk_overlap_tokens":128}},"expires_after":{"anchor":"last_active_at","days":30},"metadata":{"owner":"it"},"description":"Manuals"}"#,
        )
        .unwrap();
        assert_eq!(r.file_ids.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(
            r.chunking_strategy,
            Some(ChunkingStrategyParam::Static {
                sizes: StaticChunking {
                    max_chunk_size_tokens: 512,
                    chunk_overlap_tokens: 128
                }
            })
        );
        assert_eq!(r.expires_after.map(|e| e.days), Some(30));
        assert_eq!(r.metadata.unwrap()["owner"], "it");
        // An empty body creates an unnamed store; unknown fields are ignored.
        assert_eq!(create("{}").unwrap(), CreateVectorStoreRequest::default());
        assert_eq!(
            create(r#"{"future_field":1}"#).unwrap(),
            CreateVectorStoreRequest::default()
        );
        // metadata null is as good as absent (the SDK's Optional[Metadata]).
        assert_eq!(create(r#"{"metadata":null}"#).unwrap().metadata, None);
    }

    #[test]
    fn hostile_create_requests_are_refused() {
        let long_name = format!(r#"{{"name":"{}"}}"#, "n".repeat(257));
        let many: Vec<String> = (0..501).map(|i| format!("file-{i}")).collect();
        let many_ids = serde_json::json!({ "file_ids": many }).to_string();
        let many_pairs: serde_json::Map<String, serde_json::Value> =
            (0..17).map(|i| (format!("k{i}"), "v".into())).collect();
        let many_meta = serde_json::json!({ "metadata": many_pairs }).to_string();
        let long_description = format!(r#"{{"description":"{}"}}"#, "d".repeat(513));
        for (body, param) in [
            (long_name.as_str(), "name"),
            (&many_ids, "file_ids"),
            (&many_meta, "metadata"),
            (r#"{"metadata":{"k":1}}"#, "metadata.k"),
            (
                r#"{"expires_after":{"anchor":"last_active_at","days":0}}"#,
                "expires_after.days",
            ),
            (
                r#"{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":401}}}"#,
                "chunking_strategy.static.chunk_overlap_tokens",
            ),
            (
                r#"{"chunking_strategy":{"type":"semantic"}}"#,
                "chunking_strategy.type",
            ),
            (&long_description, "description"),
            (r#"{"file_ids":"file-a"}"#, "file_ids"),
        ] {
            let e = create(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn modify_tells_absent_from_null() {
        let parse = |b: &str| parse_json::<ModifyVectorStoreRequest>(b.as_bytes()).unwrap();
        assert_eq!(parse("{}").expires_after, None);
        assert_eq!(parse(r#"{"expires_after":null}"#).expires_after, Some(None));
        let r = parse(
            r#"{"name":"New","metadata":{"a":"b"},"expires_after":{"anchor":"last_active_at","days":3}}"#,
        );
        r.validate().unwrap();
        assert_eq!(r.name.as_deref(), Some("New"));
        assert_eq!(r.expires_after.flatten().map(|e| e.days), Some(3));
        let bad = parse(r#"{"expires_after":{"anchor":"last_active_at","days":400}}"#);
        assert_eq!(
            bad.validate().unwrap_err().param.as_deref(),
            Some("expires_after.days")
        );
        let bad = parse(&format!(r#"{{"name":"{}"}}"#, "n".repeat(257)));
        assert_eq!(bad.validate().unwrap_err().param.as_deref(), Some("name"));
    }
}
