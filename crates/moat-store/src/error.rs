//! The store's one error type; each message says what went wrong and what to
//! do about it, and none carries a password from a database URL.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database location could not be understood.
    #[error("invalid database location: {reason}")]
    Location {
        /// What is wrong with it, without the location's password.
        reason: String,
    },

    /// The directory for a SQLite database could not be created.
    #[error(
        "cannot create directory {} for the SQLite database: {source}; \
         create it or choose a database path in a writable directory",
        dir.display()
    )]
    CreateDir {
        /// The directory that could not be created.
        dir: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// A SQLite database file could not be opened or created.
    #[error(
        "cannot open SQLite database {path}: {source}; check that the file and its \
         directory exist and are writable by this user"
    )]
    OpenSqlite {
        /// The path as given.
        path: String,
        /// What SQLite said.
        source: sqlx::Error,
    },

    /// A PostgreSQL server could not be reached or refused the connection.
    #[error(
        "cannot connect to PostgreSQL at {target}: {source}; check that the server is \
         running and reachable and that the URL's user, password and database are right"
    )]
    ConnectPostgres {
        /// `host:port/database`, without user or password.
        target: String,
        /// What the driver or server said.
        source: sqlx::Error,
    },

    /// The schema could not be brought up to date.
    #[error(
        "cannot bring the schema of {target} up to date: {source}; the database may \
         have been written by a newer moat, or belong to another application"
    )]
    Migrate {
        /// What [`Store::describe`](crate::Store::describe) says.
        target: String,
        /// What the migration said.
        source: sqlx::migrate::MigrateError,
    },

    /// An API key with the same id or hash is already stored.
    #[error("an API key with this {field} already exists; choose another")]
    DuplicateKey {
        /// `"id"` or `"hash"`.
        field: &'static str,
    },

    /// A listing's `after` or `before` names nothing in that listing.
    #[error(
        "no object with id {id} in this listing; page from the start or from an id it returned"
    )]
    UnknownCursor {
        /// The cursor as given.
        id: String,
    },

    /// Content sealed under a subject's content key was to be stored, but
    /// the key is no longer the subject's (the subject was erased
    /// meanwhile): nothing was stored.
    #[error("the content key it was sealed with was erased; nothing was stored")]
    KeyErased,

    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {detail}; the database was changed outside moat")]
    Corrupt {
        /// Which value, e.g. `roles of API key key_1`.
        what: String,
        /// Why it could not be read.
        detail: String,
    },

    /// A query failed.
    #[error("database query failed: {0}; check that the database is reachable and not full")]
    Query(#[from] sqlx::Error),
}
