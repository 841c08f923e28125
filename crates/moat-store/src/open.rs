//! Opening a store: connecting, SQLite's settings, and running migrations.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Connection as _, Executor as _};

use crate::location::{sqlite_url, Location};
use crate::{Store, StoreError, StoreKind};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Run on every new SQLite connection. WAL lets readers run beside the one
/// writer; NORMAL sync is durable across process crashes and, with WAL, only
/// loses the last commits on power loss.
const SQLITE_SETTINGS: &str = "PRAGMA busy_timeout = 5000; \
                               PRAGMA journal_mode = WAL; \
                               PRAGMA synchronous = NORMAL; \
                               PRAGMA foreign_keys = ON;";

impl Store {
    /// Opens the database at `location` and brings its schema up to date.
    ///
    /// `location` is `postgres://…` or `postgresql://…` for PostgreSQL;
    /// `sqlite://PATH`, `sqlite:PATH` or a plain path for a SQLite file, which
    /// is created, with its parent directories, when missing.
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let location = Location::parse(location)?;
        let description = location.describe();
        let (kind, url) = match &location {
            Location::Sqlite { path, .. } => (
                StoreKind::Sqlite,
                sqlite_url(&prepare_sqlite_file(path).await?),
            ),
            Location::Postgres { url, .. } => (StoreKind::Postgres, url.clone()),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|e| connect_error(&location, e))?;

        // One plain connection first, with the settings applied: a pool
        // retries failed connections until its timeout and then only says
        // that it timed out.
        let mut probe = AnyConnection::connect_with(&options)
            .await
            .map_err(|e| connect_error(&location, e))?;
        if kind == StoreKind::Sqlite {
            if let Err(e) = probe.execute(SQLITE_SETTINGS).await {
                let _ = probe.close().await;
                return Err(connect_error(&location, e));
            }
        }
        let _ = probe.close().await;

        let pool = pool_options(kind)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(&location, e))?;
        let migrations = match kind {
            StoreKind::Sqlite => &SQLITE_MIGRATIONS,
            StoreKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        if let Err(source) = migrations.run(&pool).await {
            pool.close().await;
            return Err(StoreError::Migrate {
                target: description,
                source,
            });
        }
        tracing::info!(database = %description, "database ready");
        Ok(Store {
            pool,
            kind,
            description: Arc::from(description),
        })
    }
}

/// Creates the file's directory and returns the file's absolute path.
async fn prepare_sqlite_file(path: &Path) -> Result<PathBuf, StoreError> {
    let Some(file) = path.file_name() else {
        return Err(StoreError::Location {
            reason: format!(
                "{} does not name a file; give a path such as data/moat.db",
                path.display()
            ),
        });
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let create_dir_error = |source| StoreError::CreateDir {
        dir: dir.to_owned(),
        source,
    };
    // A directory made here is private to the server's user: the database,
    // its write-ahead log and (by default) the server secret live in it.
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await.map_err(create_dir_error)?;
    let dir = tokio::fs::canonicalize(dir)
        .await
        .map_err(create_dir_error)?;
    Ok(dir.join(file))
}

fn pool_options(kind: StoreKind) -> AnyPoolOptions {
    let options = AnyPoolOptions::new();
    match kind {
        StoreKind::Postgres => options,
        StoreKind::Sqlite => options.after_connect(|conn, _| {
            Box::pin(async move { conn.execute(SQLITE_SETTINGS).await.map(|_| ()) })
        }),
    }
}

fn connect_error(location: &Location, source: sqlx::Error) -> StoreError {
    match location {
        Location::Sqlite { shown, .. } => StoreError::OpenSqlite {
            path: shown.clone(),
            source,
        },
        Location::Postgres { target, .. } => StoreError::ConnectPostgres {
            target: target.clone(),
            source,
        },
    }
}
