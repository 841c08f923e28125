//! One tampering per kind of break, done in SQL behind the log's back;
//! verification must name exactly that break at the right seq. Each log has
//! 20 records with signed checkpoints at 5, 10, 15 and 20.

use ed25519_dalek::{Signer as _, SigningKey};
use moat_audit::{chain_hash, checkpoint_message, BreakKind, VerifyReport};
use moat_store::{AuditRow, Store};
use sqlx::Connection as _;

use crate::support::{exec, fill, open, raw, verify_all};

on_both!(
    a_changed_body_is_modified,
    a_changed_column_is_modified,
    a_deleted_record_is_missing,
    a_second_record_for_a_seq_is_inserted,
    a_record_slipped_into_the_chain_is_inserted,
    swapped_records_are_reordered,
    a_deleted_tail_is_truncated_back_to_the_checkpoint,
    a_forged_checkpoint_is_bad,
);

async fn tampered_log(location: &str) -> Store {
    let (store, log) = open(location).await;
    fill(&log, 20, 5).await;
    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!((report.records, report.checkpoints), (20, 4));
    store
}

#[track_caller]
fn assert_break(report: &VerifyReport, seq: u64, kind: BreakKind) {
    let found = report
        .first_break
        .as_ref()
        .unwrap_or_else(|| panic!("no break found: {report:?}"));
    assert_eq!((found.seq, found.kind), (seq, kind), "{found:?}");
}

async fn row(store: &Store, seq: i64) -> AuditRow {
    let rows = store.audit_rows(seq, seq).await.unwrap();
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().unwrap()
}

async fn insert_row(location: &str, row: &AuditRow) {
    let mut conn = raw(location).await;
    sqlx::query(
        "INSERT INTO audit_records \
         (seq, hash, prev_hash, time_ms, principal, model, status, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.seq)
    .bind(row.hash.as_slice())
    .bind(row.prev_hash.as_slice())
    .bind(row.time_ms)
    .bind(row.principal.as_deref())
    .bind(row.model.as_deref())
    .bind(row.status)
    .bind(row.body.as_str())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

/// `row` with another request id, rehashed as an attacker who knows the
/// format would.
fn forged(row: &AuditRow) -> AuditRow {
    let body = row
        .body
        .replace(r#""request_id":"req-"#, r#""request_id":"forged-"#);
    assert_ne!(body, row.body);
    AuditRow {
        hash: chain_hash(&row.prev_hash, &body).to_vec(),
        body,
        ..row.clone()
    }
}

async fn a_changed_body_is_modified(location: String) {
    let store = tampered_log(&location).await;
    let changed = exec(
        &location,
        r#"UPDATE audit_records SET body = REPLACE(body, '"latency_ms":789', '"latency_ms":1')
           WHERE seq = 7"#,
    )
    .await;
    assert_eq!(changed, 1);
    assert_break(&verify_all(&store).await, 7, BreakKind::Modified);
    store.close().await;
}

async fn a_changed_column_is_modified(location: String) {
    let store = tampered_log(&location).await;
    // The searchable column, not the hashed body: searches would lie.
    assert_eq!(
        exec(
            &location,
            "UPDATE audit_records SET status = 200 WHERE seq = 8"
        )
        .await,
        1
    );
    let report = verify_all(&store).await;
    assert_break(&report, 8, BreakKind::Modified);
    assert!(report.first_break.unwrap().detail.contains("status"));
    store.close().await;
}

async fn a_deleted_record_is_missing(location: String) {
    let store = tampered_log(&location).await;
    assert_eq!(
        exec(&location, "DELETE FROM audit_records WHERE seq = 4").await,
        1
    );
    assert_break(&verify_all(&store).await, 4, BreakKind::Missing);
    store.close().await;
}

async fn a_second_record_for_a_seq_is_inserted(location: String) {
    let store = tampered_log(&location).await;
    insert_row(&location, &forged(&row(&store, 6).await)).await;
    assert_break(&verify_all(&store).await, 6, BreakKind::Inserted);
    store.close().await;
}

async fn a_record_slipped_into_the_chain_is_inserted(location: String) {
    let store = tampered_log(&location).await;
    // Make room at 7 and put a well-formed record there that links to 6.
    let original = row(&store, 7).await;
    assert_eq!(
        exec(
            &location,
            "UPDATE audit_records SET seq = seq + 1 WHERE seq >= 7"
        )
        .await,
        14
    );
    insert_row(&location, &forged(&original)).await;
    let report = verify_all(&store).await;
    assert_break(&report, 7, BreakKind::Inserted);
    store.close().await;
}

async fn swapped_records_are_reordered(location: String) {
    let store = tampered_log(&location).await;
    exec(&location, "UPDATE audit_records SET seq = -1 WHERE seq = 5").await;
    exec(&location, "UPDATE audit_records SET seq = 5 WHERE seq = 9").await;
    exec(&location, "UPDATE audit_records SET seq = 9 WHERE seq = -1").await;
    assert_break(&verify_all(&store).await, 5, BreakKind::Reordered);
    store.close().await;
}

async fn a_deleted_tail_is_truncated_back_to_the_checkpoint(location: String) {
    let store = tampered_log(&location).await;
    // The last three records (after the checkpoint at 15): the head and
    // the checkpoint at 20 both vouch for them.
    assert_eq!(
        exec(&location, "DELETE FROM audit_records WHERE seq > 17").await,
        3
    );
    assert_break(&verify_all(&store).await, 18, BreakKind::Truncated);

    // Covering the tracks in the head does not help: checkpoint 20 is signed.
    let last = row(&store, 17).await;
    let mut conn = raw(&location).await;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last.seq)
        .bind(last.hash.as_slice())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let report = verify_all(&store).await;
    assert_break(&report, 18, BreakKind::Truncated);
    assert!(report.first_break.unwrap().detail.contains("checkpoint"));

    // Neither does cutting back past a checkpoint.
    exec(&location, "DELETE FROM audit_records WHERE seq > 12").await;
    assert_break(&verify_all(&store).await, 13, BreakKind::Truncated);
    store.close().await;
}

async fn a_forged_checkpoint_is_bad(location: String) {
    let store = tampered_log(&location).await;
    let checkpoint = store
        .audit_checkpoints()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.seq == 10)
        .unwrap();

    // Signed with another key, over the true seq and hash.
    let other = SigningKey::from_bytes(&[9; 32]);
    let message = checkpoint_message(checkpoint.seq, &checkpoint.hash, checkpoint.time_ms);
    let forged = other.sign(message.as_bytes()).to_bytes();
    let mut conn = raw(&location).await;
    sqlx::query("UPDATE audit_checkpoints SET signature = $1 WHERE seq = 10")
        .bind(forged.as_slice())
        .execute(&mut conn)
        .await
        .unwrap();
    assert_break(&verify_all(&store).await, 10, BreakKind::BadCheckpoint);

    // The true signature over a changed time.
    sqlx::query(
        "UPDATE audit_checkpoints SET signature = $1, time_ms = time_ms + 1 WHERE seq = 10",
    )
    .bind(checkpoint.signature.as_slice())
    .execute(&mut conn)
    .await
    .unwrap();
    assert_break(&verify_all(&store).await, 10, BreakKind::BadCheckpoint);

    // Restored, the log verifies again.
    sqlx::query("UPDATE audit_checkpoints SET time_ms = $1 WHERE seq = 10")
        .bind(checkpoint.time_ms)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(verify_all(&store).await.first_break, None);
    store.close().await;
}
