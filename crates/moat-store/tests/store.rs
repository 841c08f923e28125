//! The store against real databases: every shared test body runs once on a
//! SQLite file in a temporary directory and once on a fresh PostgreSQL
//! database created through `MOAT_TEST_POSTGRES_URL` (skipped when unset,
//! a failure when `MOAT_TEST_REQUIRE_SERVICES=1`).

// The bodies are plain async functions called from the generated tests, so
// clippy's allowance for `#[test]` functions does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use moat_store::{
    ApiKeyRecord, ParkError, ParkedCall, Store, StoreError, StoreKind, UsageBy, UsageDelta,
    UsageRow,
};
use sqlx::Connection as _;

// ---------------------------------------------------------------------------
// Running one body on both databases

use moat_store::testing::{on_postgres, on_sqlite, with_database};

/// Each named body becomes `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both {
    ($($body:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $body() {
                    crate::on_sqlite(crate::$body).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $body() {
                    crate::on_postgres(crate::$body).await;
                }
            )*
        }
    };
}

on_both!(
    reopening_keeps_data_and_schema,
    keys_are_stored_and_found,
    duplicate_id_or_hash_is_refused,
    revoking_is_once,
    rotating_replaces_the_hash,
    keys_revision_follows_changes,
    touching_keeps_the_latest_use,
    active_admin_needs_a_live_admin_key,
    usage_adds_up_and_groups,
    parked_calls_are_taken_once_by_their_owner,
    parked_calls_expire_and_are_capped,
);

// ---------------------------------------------------------------------------
// Fixtures

async fn open(location: &str) -> Store {
    Store::open(location).await.unwrap()
}

fn hash(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

fn key(id: &str, hash_byte: u8, roles: &[&str], created_ms: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        name: format!("{id} name"),
        hint: format!("moat_{id}"),
        hash: hash(hash_byte),
        roles: roles.iter().map(|role| role.to_string()).collect(),
        models: None,
        created_ms,
        expires_ms: None,
        revoked_ms: None,
        last_used_ms: None,
        updated_ms: created_ms,
    }
}

fn delta(day: &str, principal: &str, role: &str, model: &str, n: i64) -> UsageDelta {
    UsageDelta {
        day: day.into(),
        principal: principal.into(),
        role: role.into(),
        model: model.into(),
        requests: n,
        prompt_tokens: 10 * n,
        completion_tokens: 100 * n,
    }
}

fn total(group: &str, n: i64) -> UsageRow {
    UsageRow {
        group: group.into(),
        requests: n,
        prompt_tokens: 10 * n,
        completion_tokens: 100 * n,
    }
}

// ---------------------------------------------------------------------------
// Bodies run on both databases

async fn reopening_keeps_data_and_schema(location: String) {
    let store = open(&location).await;
    store
        .insert_key(&key("key_a", 1, &["admin"], 1_000))
        .await
        .unwrap();
    let revision = store.keys_revision().await.unwrap();
    store.close().await;

    // Migrations that already ran are not run again (they would fail:
    // CREATE TABLE of an existing table).
    let store = open(&location).await;
    assert_eq!(
        store.keys().await.unwrap(),
        vec![key("key_a", 1, &["admin"], 1_000)]
    );
    assert_eq!(store.keys_revision().await.unwrap(), revision);
    store.close().await;
    let store = open(&location).await;
    assert_eq!(store.keys().await.unwrap().len(), 1);
    store.close().await;
}

async fn keys_are_stored_and_found(location: String) {
    let store = open(&location).await;
    assert!(store.keys().await.unwrap().is_empty());

    let mut full = key("key_b", 2, &["user", "auditor"], 2_000);
    full.models = Some(vec!["llama-*".into(), "qwen3".into()]);
    full.expires_ms = Some(9_000);
    full.last_used_ms = Some(2_500);
    let later = key("key_c", 3, &[], 3_000);
    let first = key("key_a", 1, &["admin"], 1_000);
    for record in [&full, &later, &first] {
        store.insert_key(record).await.unwrap();
    }

    assert_eq!(
        store.keys().await.unwrap(),
        vec![first.clone(), full.clone(), later.clone()]
    );
    assert_eq!(store.key("key_b").await.unwrap(), Some(full.clone()));
    assert_eq!(store.key("key_x").await.unwrap(), None);
    assert_eq!(store.key_by_hash(&hash(2)).await.unwrap(), Some(full));
    assert_eq!(store.key_by_hash(&hash(3)).await.unwrap(), Some(later));
    assert_eq!(store.key_by_hash(&hash(9)).await.unwrap(), None);
    store.close().await;
}

async fn duplicate_id_or_hash_is_refused(location: String) {
    let store = open(&location).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();
    let revision = store.keys_revision().await.unwrap();

    let err = store
        .insert_key(&key("key_b", 1, &["user"], 2_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateKey { field: "hash" }),
        "{err:?}"
    );
    assert!(err.to_string().contains("hash already exists"), "{err}");
    let err = store
        .insert_key(&key("key_a", 2, &["user"], 2_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateKey { field: "id" }),
        "{err:?}"
    );

    assert_eq!(store.keys().await.unwrap().len(), 1);
    assert_eq!(
        store.keys_revision().await.unwrap(),
        revision,
        "refused inserts count"
    );
    store.close().await;
}

async fn revoking_is_once(location: String) {
    let store = open(&location).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();

    assert!(store.revoke_key("key_a", 5_000).await.unwrap());
    let revoked = store.key("key_a").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_ms, Some(5_000));
    assert_eq!(revoked.updated_ms, 5_000);

    assert!(!store.revoke_key("key_a", 6_000).await.unwrap());
    assert_eq!(
        store.key("key_a").await.unwrap().unwrap().revoked_ms,
        Some(5_000)
    );
    assert!(!store.revoke_key("key_x", 6_000).await.unwrap());
    store.close().await;
}

async fn rotating_replaces_the_hash(location: String) {
    let store = open(&location).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();
    store
        .insert_key(&key("key_b", 2, &["user"], 1_000))
        .await
        .unwrap();

    assert!(store
        .rotate_key("key_a", &hash(7), "moat_new", 4_000)
        .await
        .unwrap());
    assert_eq!(store.key_by_hash(&hash(1)).await.unwrap(), None);
    let rotated = store.key_by_hash(&hash(7)).await.unwrap().unwrap();
    assert_eq!(rotated.id, "key_a");
    assert_eq!(rotated.hint, "moat_new");
    assert_eq!(rotated.updated_ms, 4_000);
    assert_eq!(rotated.created_ms, 1_000);

    let err = store
        .rotate_key("key_a", &hash(2), "moat_dup", 4_500)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateKey { field: "hash" }),
        "{err:?}"
    );
    assert_eq!(store.key("key_a").await.unwrap().unwrap().hash, hash(7));

    assert!(store.revoke_key("key_b", 5_000).await.unwrap());
    assert!(!store
        .rotate_key("key_b", &hash(8), "moat_x", 6_000)
        .await
        .unwrap());
    assert_eq!(store.key("key_b").await.unwrap().unwrap().hash, hash(2));
    assert_eq!(store.key_by_hash(&hash(8)).await.unwrap(), None);
    assert!(!store
        .rotate_key("key_x", &hash(9), "moat_x", 6_000)
        .await
        .unwrap());
    store.close().await;
}

async fn keys_revision_follows_changes(location: String) {
    let store = open(&location).await;
    let mut seen = vec![store.keys_revision().await.unwrap()];
    assert_eq!(seen[0], 0);
    let mut changed = |revision: i64| {
        assert!(
            !seen.contains(&revision),
            "revision {revision} seen before: {seen:?}"
        );
        seen.push(revision);
    };

    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();
    changed(store.keys_revision().await.unwrap());
    store
        .insert_key(&key("key_b", 2, &["user"], 1_000))
        .await
        .unwrap();
    changed(store.keys_revision().await.unwrap());

    let before = store.keys_revision().await.unwrap();
    store.touch_keys(&[("key_a".into(), 1_500)]).await.unwrap();
    assert_eq!(
        store.keys_revision().await.unwrap(),
        before,
        "touch changed the revision"
    );
    assert!(!store.revoke_key("key_x", 1_000).await.unwrap());
    assert_eq!(
        store.keys_revision().await.unwrap(),
        before,
        "no-op revoke changed it"
    );

    // Two rotations in the same millisecond still count as two changes.
    store
        .rotate_key("key_a", &hash(3), "moat_3", 2_000)
        .await
        .unwrap();
    changed(store.keys_revision().await.unwrap());
    store
        .rotate_key("key_a", &hash(4), "moat_4", 2_000)
        .await
        .unwrap();
    changed(store.keys_revision().await.unwrap());
    store.revoke_key("key_b", 2_000).await.unwrap();
    changed(store.keys_revision().await.unwrap());
    store.close().await;
}

async fn touching_keeps_the_latest_use(location: String) {
    let store = open(&location).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();
    store
        .insert_key(&key("key_b", 2, &["user"], 1_000))
        .await
        .unwrap();
    let last_used = |id: &'static str| {
        let store = store.clone();
        async move { store.key(id).await.unwrap().unwrap().last_used_ms }
    };

    store
        .touch_keys(&[("key_a".into(), 3_000), ("key_x".into(), 3_000)])
        .await
        .unwrap();
    assert_eq!(last_used("key_a").await, Some(3_000));
    assert_eq!(last_used("key_b").await, None);

    store
        .touch_keys(&[("key_a".into(), 2_000), ("key_b".into(), 2_500)])
        .await
        .unwrap();
    assert_eq!(
        last_used("key_a").await,
        Some(3_000),
        "an older use went back in time"
    );
    assert_eq!(last_used("key_b").await, Some(2_500));

    store.touch_keys(&[("key_a".into(), 4_000)]).await.unwrap();
    assert_eq!(last_used("key_a").await, Some(4_000));
    assert_eq!(store.key("key_a").await.unwrap().unwrap().updated_ms, 1_000);
    store.touch_keys(&[]).await.unwrap();
    store.close().await;
}

async fn active_admin_needs_a_live_admin_key(location: String) {
    let store = open(&location).await;
    assert!(!store.active_admin_exists(1_000).await.unwrap());

    store
        .insert_key(&key("key_user", 1, &["user", "administrator"], 1_000))
        .await
        .unwrap();
    let mut expired = key("key_expired", 2, &["user", "admin"], 1_000);
    expired.expires_ms = Some(5_000);
    store.insert_key(&expired).await.unwrap();
    assert!(
        !store.active_admin_exists(5_000).await.unwrap(),
        "expired at its expiry time"
    );
    assert!(store.active_admin_exists(4_999).await.unwrap());

    store
        .insert_key(&key("key_revoked", 3, &["admin"], 1_000))
        .await
        .unwrap();
    assert!(store.active_admin_exists(6_000).await.unwrap());
    store.revoke_key("key_revoked", 6_000).await.unwrap();
    assert!(!store.active_admin_exists(6_000).await.unwrap());

    let mut later = key("key_later", 4, &["admin"], 7_000);
    later.expires_ms = Some(20_000);
    store.insert_key(&later).await.unwrap();
    assert!(store.active_admin_exists(10_000).await.unwrap());
    assert!(!store.active_admin_exists(20_000).await.unwrap());
    store.close().await;
}

async fn usage_adds_up_and_groups(location: String) {
    let store = open(&location).await;
    assert!(store.usage(UsageBy::Key, None).await.unwrap().is_empty());
    assert_eq!(store.tokens_on("key_a", "2025-01-01").await.unwrap(), 0);

    store
        .add_usage(&[
            delta("2025-01-01", "key_a", "user", "qwen3", 1),
            delta("2025-01-01", "key_a", "admin", "qwen3", 2),
            delta("2025-01-02", "key_a", "user", "llama", 4),
            delta("2025-01-02", "key_b", "user", "qwen3", 8),
        ])
        .await
        .unwrap();
    // Same (day, principal, role, model): added to the existing row.
    store
        .add_usage(&[delta("2025-01-01", "key_a", "user", "qwen3", 16)])
        .await
        .unwrap();
    store.add_usage(&[]).await.unwrap();

    assert_eq!(
        store.usage(UsageBy::Key, None).await.unwrap(),
        vec![total("key_a", 23), total("key_b", 8)]
    );
    assert_eq!(
        store.usage(UsageBy::Role, None).await.unwrap(),
        vec![total("admin", 2), total("user", 29)]
    );
    assert_eq!(
        store.usage(UsageBy::Model, None).await.unwrap(),
        vec![total("llama", 4), total("qwen3", 27)]
    );
    assert_eq!(
        store.usage(UsageBy::Day, None).await.unwrap(),
        vec![total("2025-01-01", 19), total("2025-01-02", 12)]
    );
    assert_eq!(
        store.usage(UsageBy::Key, Some("2025-01-02")).await.unwrap(),
        vec![total("key_a", 4), total("key_b", 8)]
    );
    assert!(store
        .usage(UsageBy::Day, Some("2025-01-03"))
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        store.tokens_on("key_a", "2025-01-01").await.unwrap(),
        19 * 110
    );
    assert_eq!(
        store.tokens_on("key_a", "2025-01-02").await.unwrap(),
        4 * 110
    );
    assert_eq!(store.tokens_on("key_b", "2025-01-01").await.unwrap(), 0);
    store.close().await;
}

// ---------------------------------------------------------------------------
// SQLite only

#[tokio::test]
async fn sqlite_open_creates_directories_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/moat.db");
    let store = open(&path.display().to_string()).await;
    assert!(path.is_file());
    assert_eq!(store.kind(), StoreKind::Sqlite);
    assert_eq!(store.describe(), format!("SQLite {}", path.display()));
    store.close().await;
}

#[tokio::test]
async fn sqlite_url_forms_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("with space").join("moat.db");
    let store = open(&format!("sqlite://{}", path.display())).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();
    store.close().await;

    let store = open(&format!("sqlite:{}", path.display())).await;
    assert_eq!(store.describe(), format!("SQLite {}", path.display()));
    assert_eq!(store.keys().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moat.db");
    let store = open(&path.display().to_string()).await;
    store
        .insert_key(&key("key_a", 1, &["user"], 1_000))
        .await
        .unwrap();

    // WAL is recorded in the file: a plain connection sees it too.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn sqlite_unwritable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a directory should be: fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let path = blocker.join("data/moat.db");

    let err = Store::open(&path.display().to_string()).await.unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&blocker.join("data").display().to_string()),
        "{message}"
    );
    assert!(message.contains("writable directory"), "{message}");
}

#[tokio::test]
async fn sqlite_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moat.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();

    // At once, with SQLite's own words, not after a pool timeout.
    let opened = tokio::time::timeout(
        Duration::from_secs(10),
        Store::open(&path.display().to_string()),
    )
    .await
    .expect("opening a broken file hangs");
    let err = opened.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::OpenSqlite { .. }), "{err:?}");
    assert!(message.contains("file is not a database"), "{message}");
    assert!(
        message.contains(&format!("cannot open SQLite database {}", path.display())),
        "{message}"
    );
}

// ---------------------------------------------------------------------------
// PostgreSQL only

#[tokio::test]
async fn postgres_unreachable_is_a_clear_error_without_password() {
    // Nothing listens on port 1; the error must come at once, not after a
    // pool timeout, and name the server but not the password.
    let url = "postgres://moat:pa55-w0rd-XYZ@127.0.0.1:1/moat";
    let opened = tokio::time::timeout(Duration::from_secs(10), Store::open(url))
        .await
        .expect("opening an unreachable server hangs");
    let err = opened.unwrap_err();
    assert!(matches!(err, StoreError::ConnectPostgres { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1/moat: "),
        "{message}"
    );
    assert!(
        message.contains("check that the server is running"),
        "{message}"
    );
    assert!(!message.contains("pa55-w0rd-XYZ"), "{message}");
    assert!(!format!("{err:?}").contains("pa55-w0rd-XYZ"), "{err:?}");
}

#[tokio::test]
async fn postgres_describe_hides_user_and_password() {
    on_postgres(|url| async move {
        // Trust authentication ignores a password, so one can be added.
        let (scheme, rest) = url.split_once("://").unwrap();
        let (userinfo, host_and_db) = rest.split_once('@').unwrap();
        let (url, password) = match userinfo.split_once(':') {
            Some((_, password)) => (url.clone(), password.to_owned()),
            None => (
                format!("{scheme}://{userinfo}:hunter2-XYZ@{host_and_db}"),
                "hunter2-XYZ".to_owned(),
            ),
        };
        let store = open(&url).await;
        assert_eq!(store.kind(), StoreKind::Postgres);
        let host_and_db = host_and_db.split('?').next().unwrap();
        assert_eq!(store.describe(), format!("PostgreSQL {host_and_db}"));
        assert!(!store.describe().contains(&password));
        assert!(!format!("{store:?}").contains(&password), "{store:?}");
        store.close().await;
    })
    .await;
}

#[test]
fn database_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "t1"),
        "postgres://u@h:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/postgres?sslmode=disable", "t1"),
        "postgres://u:p@h/t1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
}

#[test]
fn store_is_shared_between_tasks() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Store>();
}

// ---------------------------------------------------------------------------
// Parked tool calls

fn parked(id: &str, owner: &str, expires_ms: i64) -> ParkedCall {
    ParkedCall {
        id: id.to_owned(),
        owner: owner.to_owned(),
        expires_ms,
        sealed: vec![0, 1, 2, 255],
    }
}

async fn parked_calls_are_taken_once_by_their_owner(location: String) {
    let store = open(&location).await;
    let call = parked("tcf_a", "key_alice", 10_000);
    store.park_call(&call, 1_000, 10).await.unwrap();
    // Another owner gets nothing, and the call stays for its owner.
    assert_eq!(
        store
            .take_parked_call("tcf_a", "key_bob", 2_000)
            .await
            .unwrap(),
        None
    );
    // Another connection (a second replica) takes it, once.
    let other = open(&location).await;
    assert_eq!(
        other
            .take_parked_call("tcf_a", "key_alice", 2_000)
            .await
            .unwrap(),
        Some(call)
    );
    assert_eq!(
        store
            .take_parked_call("tcf_a", "key_alice", 2_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_parked_call("tcf_none", "key_alice", 2_000)
            .await
            .unwrap(),
        None
    );
}

async fn parked_calls_expire_and_are_capped(location: String) {
    let store = open(&location).await;
    store
        .park_call(&parked("tcf_1", "o", 5_000), 1_000, 2)
        .await
        .unwrap();
    store
        .park_call(&parked("tcf_2", "o", 9_000), 1_000, 2)
        .await
        .unwrap();
    assert!(matches!(
        store
            .park_call(&parked("tcf_3", "o", 9_000), 1_000, 2)
            .await,
        Err(ParkError::Full)
    ));
    // An expired call is not given out...
    assert_eq!(
        store.take_parked_call("tcf_1", "o", 5_000).await.unwrap(),
        None
    );
    // ...and expired calls make room.
    store
        .park_call(&parked("tcf_3", "o", 9_000), 6_000, 2)
        .await
        .unwrap();
    assert!(store
        .take_parked_call("tcf_2", "o", 6_000)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .take_parked_call("tcf_3", "o", 6_000)
        .await
        .unwrap()
        .is_some());
}
