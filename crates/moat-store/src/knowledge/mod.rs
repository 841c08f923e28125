//! Knowledge bases as stored: uploaded files with their bytes, vector
//! stores, the files attached to each store, their chunks (text and
//! embedding) and batches of attachments. Listings page by cursor in
//! OpenAI's manner, ordered by creation time and then id.

mod attached;
mod batches;
mod chunks;
mod files;
pub(crate) mod page;
mod stores;

pub use attached::{
    AttachedFile, FileCounts, IngestError, IngestResult, IngestStatus, NewAttachment,
};
pub use batches::FileBatchRecord;
pub use chunks::{chunk_key, split_chunk_key, KbChunk, StoredChunk};
pub use files::FileRecord;
pub use page::{Page, PageQuery, SortOrder};
pub use stores::{VectorStoreRecord, VectorStoreUpdate};

use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::StoreError;

/// Reads a JSON text column.
pub(crate) fn json_column(
    row: &AnyRow,
    column: &str,
    what: impl FnOnce() -> String,
) -> Result<serde_json::Value, StoreError> {
    let text: String = row.try_get(column)?;
    parse_json(&text, what)
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: e.to_string(),
    })
}

/// An integer column that must fit a `u32` (file numbers, ordinals, pages).
pub(crate) fn u32_column(value: i64, what: impl FnOnce() -> String) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        what: what(),
        detail: format!("{value} is not a number from 0 to {}", u32::MAX),
    })
}

/// `$first, $first+1, …` for `n` parameters.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
