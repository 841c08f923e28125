//! Running each test body on SQLite and on PostgreSQL, and the fixtures the
//! bodies share.

use std::time::Duration;

use moat_audit::{
    AuditKeys, AuditLog, AuditRecord, AuditWriter, Content, ContentPolicy, Outcome, ToolAudit,
    VerifyReport, WriterSettings,
};
use moat_store::Store;
use sqlx::{AnyConnection, Connection as _};

// ---------------------------------------------------------------------------
// One body on both databases

pub use moat_store::testing::{on_postgres, on_sqlite};

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
            latency_ms: Some(12),
            cached: false,
        }],
        knowledge_bases: vec!["policies".into()],
        cited_files: Vec::new(),
        conversation_of: None,
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
