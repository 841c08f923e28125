//! What the server records about a request, and what a search returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The facts of one API request (or audit event), written once for the
/// three forms a record takes: as the server fills it in
/// ([`AuditRecord`]), as the chain hashes it (the stored body, with the
/// principal pseudonymized and content sealed or digested) and as search
/// returns it ([`StoredRecord`]). `C` is how each form holds the content.
/// Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record<C> {
    /// When the request arrived.
    pub time_ms: i64,
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The principal. As the server fills it in: the clear id (`key_…`,
    /// `oidc:sub`). In the log and in search results: only its pseudonym
    /// (a keyed hash; for an erasure, the erased subject's), the clear id
    /// sealed for auditors.
    pub principal: Option<String>,
    /// Client IP address.
    pub client: Option<String>,
    /// HTTP method (`EVENT` for audit events).
    pub method: String,
    /// Path, e.g. `/v1/chat/completions`, or the event (`audit.erase`,
    /// `audit.purge`).
    pub route: String,
    /// The model asked for.
    pub model: Option<String>,
    /// `embedded` or `upstream`.
    pub backend: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// OpenAI-style error code, when the request failed.
    pub error_code: Option<String>,
    /// How the request ended.
    pub outcome: Outcome,
    /// Prompt tokens.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens.
    pub completion_tokens: Option<u32>,
    /// Time to first token.
    pub ttft_ms: Option<u32>,
    /// Total latency.
    pub latency_ms: u32,
    /// Personal data found: kind → count, never values.
    pub pii: BTreeMap<String, u32>,
    /// Tool calls.
    pub tools: Vec<ToolAudit>,
    /// Knowledge bases used.
    pub knowledge_bases: Vec<String>,
    /// Knowledge-base files the answer cited (file ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cited_files: Vec<String>,
    /// The owner (a pseudonym) of a conversation the caller read that is
    /// not the caller's own, under `read_all_conversations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_of: Option<String>,
    /// Content, as the role's audit policy asks; `None` for policy `none`.
    #[serde(default)]
    pub content: C,
}

impl<C> Record<C> {
    /// The same facts holding `content` instead, and the content they held.
    pub(crate) fn with_content<D>(self, content: D) -> (Record<D>, C) {
        let Self {
            time_ms,
            request_id,
            principal,
            client,
            method,
            route,
            model,
            backend,
            status,
            error_code,
            outcome,
            prompt_tokens,
            completion_tokens,
            ttft_ms,
            latency_ms,
            pii,
            tools,
            knowledge_bases,
            cited_files,
            conversation_of,
            content: held,
        } = self;
        let record = Record {
            time_ms,
            request_id,
            principal,
            client,
            method,
            route,
            model,
            backend,
            status,
            error_code,
            outcome,
            prompt_tokens,
            completion_tokens,
            ttft_ms,
            latency_ms,
            pii,
            tools,
            knowledge_bases,
            cited_files,
            conversation_of,
            content,
        };
        (record, held)
    }
}

/// One API request (or audit event) as the server fills it in: the clear
/// principal id and the content in clear text.
pub type AuditRecord = Record<Option<Content>>;

/// How a request ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered.
    #[default]
    Completed,
    /// Refused: authentication, permission, rate limit, personal-data block.
    Refused,
    /// Failed.
    Failed,
    /// Cut off by the client disconnecting.
    Disconnected,
    /// An event of the audit log itself, e.g. an erasure.
    Event,
}

/// One server-side tool call. Its arguments are not here: they belong to
/// the request's content (kept, encrypted, as the role's audit policy says).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolAudit {
    /// Tool name (`(unknown)` for a name that is not registered).
    pub name: String,
    /// The policy decision: `allowed`, `denied`, `invalid_arguments`,
    /// `awaiting_confirmation`, `confirmed`, `rejected`, or `skipped` (the
    /// same model turn called one of the client's own tools, so the answer
    /// went back to the client and this call was not run).
    pub decision: String,
    /// What came of the call: `ok`, `not_run`, or the failure (`timeout`,
    /// `too_large`, `http_error`, `redirect_refused`...).
    pub outcome: String,
    /// How long the call took, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
    /// Answered from the tool's cache.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

/// Content of a request, captured per the role's audit policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// How it is stored.
    pub policy: ContentPolicy,
    /// The prompt (masked already for [`ContentPolicy::Masked`]).
    pub prompt: String,
    /// The completion (masked already for [`ContentPolicy::Masked`]).
    pub completion: String,
}

/// How content is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentPolicy {
    /// Only the SHA-256 of prompt and completion.
    Hash,
    /// Masked text, encrypted with the data subject's key.
    Masked,
    /// Text as sent, encrypted with the data subject's key.
    Full,
}

/// A record as stored, for search and export: its place in the chain and
/// its facts (flattened: one JSON object), content opened where its
/// subject's key allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Position in the chain.
    pub seq: u64,
    /// Record hash (hex).
    pub hash: String,
    /// Hash of the record before (hex).
    pub prev_hash: String,
    /// What was recorded.
    #[serde(flatten)]
    pub record: Record<Option<StoredContent>>,
}

/// Stored content as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum StoredContent {
    /// Policy `hash`: digests only.
    Hashed {
        /// SHA-256 of the prompt (hex).
        prompt_sha256: String,
        /// SHA-256 of the completion (hex).
        completion_sha256: String,
    },
    /// Decrypted with the subject's key.
    Readable {
        /// `masked` or `full`.
        policy: ContentPolicy,
        /// The prompt.
        prompt: String,
        /// The completion.
        completion: String,
    },
    /// The subject was erased: its key is gone, the ciphertext unreadable.
    Erased {
        /// `masked` or `full`.
        policy: ContentPolicy,
    },
    /// The subject's key exists but does not open the content: the key or
    /// the ciphertext was altered outside moat.
    Unreadable {
        /// `masked` or `full`.
        policy: ContentPolicy,
    },
}
