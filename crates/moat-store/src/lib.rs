//! Persistence: SQLite at `data/moat.db` by default, PostgreSQL when given a
//! `postgres://` URL; one set of queries for both (sqlx's Any driver), with a
//! migration folder per dialect.

mod audit;
mod confirmations;
mod conversations;
mod error;
mod keys;
mod knowledge;
mod location;
mod open;
mod responses;
pub mod seal;
mod sessions;
mod totp;
mod usage;

#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::sync::Arc;

use sqlx::AnyPool;

pub use audit::{
    AuditAppend, AuditCheckpoint, AuditHead, AuditPrincipal, AuditQuery, AuditRow, AuditSession,
    AuditSubjectKey,
};
pub use confirmations::{ParkError, ParkedCall};
pub use conversations::{
    ConversationItemRecord, ConversationRecord, ConversationWrite, NewConversationItem,
};
pub use error::StoreError;
pub use keys::ApiKeyRecord;
pub use knowledge::{
    chunk_key, split_chunk_key, AttachedFile, FileBatchRecord, FileCounts, FileRecord, IngestError,
    IngestResult, IngestStatus, KbChunk, NewAttachment, Page, PageQuery, SortOrder, StoredChunk,
    VectorStoreRecord, VectorStoreUpdate,
};
pub use responses::ResponseRecord;
pub use sessions::UiSessionRecord;
pub use totp::TotpRecord;
pub use usage::{UsageBy, UsageDelta, UsageRow};

/// A connection pool to the database. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    kind: StoreKind,
    description: Arc<str>,
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file, embedded in the process.
    Sqlite,
    /// A PostgreSQL server, shared by several replicas.
    Postgres,
}

impl Store {
    /// Which database this store talks to.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// "SQLite data/moat.db" or "PostgreSQL db.internal:5432/moat": where the
    /// data lives, without user or password, for logs and status pages.
    pub fn describe(&self) -> String {
        self.description.to_string()
    }

    /// Closes every connection; later operations fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("kind", &self.kind)
            .field("database", &self.description)
            .finish_non_exhaustive()
    }
}
