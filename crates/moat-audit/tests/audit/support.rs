//! Running each test body on SQLite and on PostgreSQL, and the fixtures the
//! bodies share.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moat_audit::{
    AuditKeys, AuditLog, AuditRecord, AuditWriter, Content, ContentPolicy, Outcome, ToolAudit,
    VerifyReport, WriterSettings,
};
use moat_store::Store;
use sqlx::{AnyConnection, Connection as _, Executor as _};

// ---------------------------------------------------------------------------
// One body on both databases

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

fn postgres_admin_url() -> Option<String> {
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
            "moat_audit_test_{}_{}_{}",
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
fn with_database(url: &str, database: &str) -> String {
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

/// Each named body of the calling module becomes `sqlite::NAME` and
/// `postgres::NAME` there.
macro_rules! on_both {
    ($($body:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $body() {
                    crate::support::on_sqlite(super::$body).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $body() {
                    crate::support::on_postgres(super::$body).await;
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------
// Fixtures

/// The keys every test uses.
pub fn keys() -> AuditKeys {
    AuditKeys::from_bytes([1; 32], [2; 32])
}

/// A writer that checkpoints every `every` records and never by time.
pub fn settings(every: u64) -> WriterSettings {
    WriterSettings {
        max_batch: 512,
        checkpoint_every: every,
        checkpoint_interval: Duration::ZERO,
    }
}

pub async fn open(location: &str) -> (Store, AuditLog) {
    let store = Store::open(location).await.unwrap();
    let log = AuditLog::open(store.clone(), keys()).await.unwrap();
    (store, log)
}

/// Request `i`: principal `key_alice` or `key_bob` in turn, model `m1` or
/// `m2`, status 429 for every fourth, at `1_000_000 + 10 i` ms.
pub fn record(i: u64) -> AuditRecord {
    let mut pii = std::collections::BTreeMap::new();
    if i % 3 == 0 {
        pii.insert("email".to_owned(), 2);
    }
    AuditRecord {
        time_ms: 1_000_000 + 10 * i64::try_from(i).unwrap(),
        request_id: format!("req-{i}"),
        principal: Some(if i % 2 == 0 { "key_alice" } else { "key_bob" }.into()),
        client: Some("10.0.0.7".into()),
        method: "POST".into(),
        route: "/v1/chat/completions".into(),
        model: Some(if i % 5 == 0 { "m2" } else { "m1" }.into()),
        backend: Some("embedded".into()),
        status: if i % 4 == 0 { 429 } else { 200 },
        error_code: (i % 4 == 0).then(|| "rate_limited".into()),
        outcome: if i % 4 == 0 {
            Outcome::Refused
        } else {
            Outcome::Completed
        },
        prompt_tokens: Some(12),
        completion_tokens: Some(34),
        ttft_ms: Some(56),
        latency_ms: 789,
        pii,
        tools: vec![ToolAudit {
            name: "search".into(),
            decision: "allowed".into(),
            outcome: "ok".into(),
        }],
        knowledge_bases: vec!["policies".into()],
        content: Some(Content {
            policy: ContentPolicy::Masked,
            prompt: format!("prompt {i} for <EMAIL_1>"),
            completion: format!("answer {i}"),
        }),
    }
}

/// Appends records 1..=n one at a time (so checkpoints land exactly every
/// `every` records) and closes the writer.
pub async fn fill(log: &AuditLog, n: u64, every: u64) {
    let writer = log.writer(settings(every));
    append_all(&writer, 1..=n).await;
    writer.close().await.unwrap();
}

pub async fn append_all(writer: &AuditWriter, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        writer.append(record(i)).await.unwrap();
    }
}

pub async fn verify_all(store: &Store) -> VerifyReport {
    moat_audit::verify(store, &keys().verifying_key(), None, None)
        .await
        .unwrap()
}

/// A connection of its own to the database at `location`, outside the store.
pub async fn raw(location: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    let url = if location.starts_with("postgres") {
        location.to_owned()
    } else {
        format!("sqlite://{location}")
    };
    AnyConnection::connect(&url).await.unwrap()
}

/// Runs one statement outside the store; returns the rows it changed.
pub async fn exec(location: &str, sql: &str) -> u64 {
    let mut conn = raw(location).await;
    let changed = sqlx::query(sql)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    conn.close().await.unwrap();
    changed
}
