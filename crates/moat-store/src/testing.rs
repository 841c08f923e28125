//! Running one test body on both databases: a SQLite file in a temporary
//! directory, and a fresh PostgreSQL database created through
//! `MOAT_TEST_POSTGRES_URL` (skipped when unset, a failure when
//! `MOAT_TEST_REQUIRE_SERVICES=1`). For the tests of this crate and of the
//! crates built on it (feature `testing`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection as _, Executor as _};

/// `on_both!(a, b, …)` at a test crate's root: a `#[tokio::test]` for each
/// named `async fn a(location: String)` there, once on SQLite (`sqlite::a`)
/// and once on PostgreSQL (`postgres::a`).
// `crate::` is meant: the test functions live in the crate that calls it.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! on_both {
    ($($body:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $body() {
                    $crate::testing::on_sqlite(crate::$body).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $body() {
                    $crate::testing::on_postgres(crate::$body).await;
                }
            )*
        }
    };
}

/// Runs `body` with the location of a new SQLite file in a temporary directory.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("moat.db").display().to_string();
    body(location).await;
}

/// Runs `body` with the URL of a new PostgreSQL database, dropped afterwards.
pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let database = TempDatabase::create(&admin_url).await;
    // A spawned task catches the body's panic, so the database is dropped.
    let outcome = tokio::spawn(body(database.url.clone())).await;
    database.drop().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("MOAT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("MOAT_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!(
                "MOAT_TEST_REQUIRE_SERVICES=1 but MOAT_TEST_POSTGRES_URL is not set; \
                 start the services with scripts/services.sh"
            )
        }
        _ => {
            eprintln!("skipped: MOAT_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)");
            None
        }
    }
}

/// A database of its own for one test, so that tests can run in parallel.
struct TempDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TempDatabase {
    async fn create(admin_url: &str) -> TempDatabase {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "moat_test_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
        admin
            .execute(&*format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        TempDatabase {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    async fn drop(self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        admin.execute(&*drop).await.unwrap();
        admin.close().await.unwrap();
    }
}

/// `url` with its database replaced by `database` (query string kept).
pub fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").unwrap() + 3;
    let (base, query) = match url.find('?') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    format!("{}/{database}{query}", &base[..authority_end])
}
