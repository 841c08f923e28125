//! The audit log's one error type.

use std::path::PathBuf;

use moat_store::StoreError;

/// Why an audit operation failed. Tampering found by [`verify`](crate::verify)
/// is not an error: it is reported as a [`Break`](crate::Break).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The key file exists but could not be read.
    #[error("cannot read the audit key file {path}: {source}")]
    ReadKeys {
        /// The key file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// The key file could not be created.
    #[error("cannot create the audit key file {path}: {source}")]
    CreateKeys {
        /// The key file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// The key file is not in the expected format.
    #[error("the audit key file {path} is malformed ({reason}); restore the original file")]
    MalformedKeys {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The key file is missing but the log already has records.
    #[error(
        "the audit key file {path} is missing but the database holds audit records; restore \
         the file (every replica needs the same one): a new key could neither sign for the \
         existing chain nor read its content"
    )]
    MissingKeys {
        /// The key file.
        path: PathBuf,
    },

    /// The key file does not belong to this log.
    #[error(
        "the audit key file does not match this database: its key does not verify the latest \
         checkpoint (seq {seq}); use the key file the log was written with, or run audit \
         verification to check whether the checkpoint was altered"
    )]
    KeysMismatch {
        /// The checkpoint that did not verify.
        seq: u64,
    },

    /// The keys file is not the one the log was first opened with (another
    /// replica's own, made at the same first start, or a wrong file).
    #[error(
        "the audit keys file is not the one this log belongs to (the log's keys are {stored}, \
         this file's are {found}): every replica and every `moat audit` command must use the \
         log's keys file (--audit-keys)"
    )]
    KeysNotTheLogs {
        /// The fingerprint the log stores.
        stored: String,
        /// This file's.
        found: String,
    },

    /// A stored value could not be decrypted or decoded.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// Why.
        detail: String,
    },

    /// Records could not be written; every append of the batch gets this.
    #[error("cannot write audit records: {0}")]
    Write(String),

    /// The writer was closed or has stopped.
    #[error("the audit writer is closed")]
    Closed,

    /// A retention shorter than the minimum without the explicit override.
    #[error(
        "audit retention of {days} days is below the minimum of {minimum} days; keep records \
         longer, or override explicitly"
    )]
    RetentionTooShort {
        /// The retention asked for.
        days: u64,
        /// The minimum without override.
        minimum: u64,
    },

    /// A purge found the chain broken in the range it would delete.
    #[error(
        "refusing to purge: the audit chain is broken at seq {seq} ({detail}); deleting the \
         range would destroy the evidence"
    )]
    BrokenChain {
        /// Where the break is.
        seq: u64,
        /// What is wrong.
        detail: String,
    },

    /// Writing an export failed.
    #[error("cannot write the audit export: {0}")]
    Export(#[from] std::io::Error),
}

impl From<moat_store::seal::SealError> for AuditError {
    fn from(_: moat_store::seal::SealError) -> Self {
        Self::Write("content too large to encrypt".into())
    }
}
