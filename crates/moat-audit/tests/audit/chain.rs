//! Round trip, keys and the chain's shape.

use moat_audit::{
    log_is_empty, reveal_principal, search, verify, AuditError, AuditKeys, AuditLog, BreakKind,
    SearchFilter, StoredContent, GENESIS_HASH,
};
use moat_store::Store;

use crate::support::{fill, keys, open, record, verify_all};

on_both!(
    records_round_trip_and_verify,
    the_chain_links_from_genesis_with_checkpoints,
    a_range_verifies_from_the_checkpoint_before_it,
    another_key_file_is_refused,
    a_second_first_start_with_its_own_keys_is_refused,
);

async fn records_round_trip_and_verify(location: String) {
    let (store, log) = open(&location).await;
    assert!(log_is_empty(&store).await.unwrap());
    fill(&log, 12, 5).await;
    assert!(!log_is_empty(&store).await.unwrap());

    let found = search(&log, &SearchFilter::default()).await.unwrap();
    assert_eq!(found.len(), 12);
    for (i, stored) in (1..).zip(&found) {
        let sent = record(i);
        assert_eq!(stored.seq, i);
        assert_eq!(stored.record.request_id, sent.request_id);
        assert_eq!(stored.record.time_ms, sent.time_ms);
        assert_eq!(stored.record.model, sent.model);
        assert_eq!(stored.record.status, sent.status);
        assert_eq!(stored.record.error_code, sent.error_code);
        assert_eq!(stored.record.outcome, sent.outcome);
        assert_eq!(stored.record.client, sent.client);
        assert_eq!(stored.record.backend, sent.backend);
        assert_eq!(stored.record.prompt_tokens, sent.prompt_tokens);
        assert_eq!(stored.record.completion_tokens, sent.completion_tokens);
        assert_eq!(stored.record.ttft_ms, sent.ttft_ms);
        assert_eq!(stored.record.latency_ms, sent.latency_ms);
        assert_eq!(stored.record.pii, sent.pii);
        assert_eq!(stored.record.tools, sent.tools);
        assert_eq!(stored.record.knowledge_bases, sent.knowledge_bases);
        // Only the pseudonym is stored; auditors can reveal the clear id.
        let clear = sent.principal.unwrap();
        let pseudonym = stored.record.principal.clone().unwrap();
        assert_eq!(pseudonym, keys().pseudonym(&clear));
        assert_eq!(
            reveal_principal(&log, &pseudonym).await.unwrap(),
            Some(clear)
        );
        let content = sent.content.unwrap();
        assert_eq!(
            stored.record.content,
            Some(StoredContent::Readable {
                policy: content.policy,
                prompt: content.prompt,
                completion: content.completion,
            })
        );
    }
    assert_eq!(reveal_principal(&log, "unknown").await.unwrap(), None);

    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!(report.records, 12);
    // Every 5 records, and one of the last two on close.
    assert_eq!(report.checkpoints, 3);
    assert_eq!(report.anchor, None);
    assert_eq!(report.last_seq, Some(12));
    store.close().await;

    // Reopened, the log continues the same chain.
    let (store, log) = open(&location).await;
    let writer = log.writer(crate::support::settings(5));
    assert_eq!(writer.append(record(13)).await.unwrap(), 13);
    writer.close().await.unwrap();
    let report = verify_all(&store).await;
    assert_eq!((report.records, report.first_break), (13, None));
    store.close().await;
}

async fn the_chain_links_from_genesis_with_checkpoints(location: String) {
    let (store, log) = open(&location).await;
    fill(&log, 7, 3).await;
    let rows = store.audit_rows(1, 100).await.unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].prev_hash, GENESIS_HASH.to_vec());
    for pair in rows.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    for row in &rows {
        assert_eq!(
            moat_audit::chain_hash(&row.prev_hash, &row.body).to_vec(),
            row.hash
        );
        // The body is canonical JSON, stored as hashed.
        let value: serde_json::Value = serde_json::from_str(&row.body).unwrap();
        assert_eq!(moat_audit::canonical_json(&value), row.body);
        assert!(!row.body.contains("key_alice") && !row.body.contains("<EMAIL_1>"));
    }
    let head = store.audit_head().await.unwrap();
    assert_eq!((head.seq, &head.hash), (7, &rows[6].hash));
    let seqs: Vec<i64> = store
        .audit_checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, vec![3, 6, 7]);
    store.close().await;
}

async fn a_range_verifies_from_the_checkpoint_before_it(location: String) {
    let (store, log) = open(&location).await;
    fill(&log, 20, 5).await;
    let key = keys().verifying_key();
    let report = verify(&store, &key, Some(12), Some(15)).await.unwrap();
    assert_eq!(report.first_break, None, "{report:?}");
    // From the checkpoint at 10: records 11 to 15, checkpoints 10 and 15.
    assert_eq!(
        (
            report.anchor,
            report.records,
            report.checkpoints,
            report.last_seq
        ),
        (Some(10), 5, 2, Some(15))
    );

    crate::support::exec(&location, "DELETE FROM audit_records WHERE seq = 18").await;
    let before = verify(&store, &key, None, Some(17)).await.unwrap();
    assert_eq!(before.first_break, None, "{before:?}");
    let after = verify(&store, &key, Some(16), None).await.unwrap();
    let found = after.first_break.unwrap();
    assert_eq!((found.seq, found.kind), (18, BreakKind::Missing));
    store.close().await;
}

async fn another_key_file_is_refused(location: String) {
    let (store, log) = open(&location).await;
    fill(&log, 3, 1).await;
    let other = AuditKeys::from_bytes([7; 32], [2; 32]);
    let err = AuditLog::open(store.clone(), other).await.unwrap_err();
    assert!(matches!(err, AuditError::KeysMismatch { seq: 3 }), "{err}");
    store.close().await;

    // The key file is not created anew for a log with records.
    let store = Store::open(&location).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let may_create = log_is_empty(&store).await.unwrap();
    let err = AuditKeys::load_or_create(&path, may_create).unwrap_err();
    assert!(matches!(err, AuditError::MissingKeys { .. }), "{err}");
    assert!(!path.exists());
    store.close().await;
}

/// Two replicas starting at once on an empty log each make a keys file;
/// the second to open the log is refused before it writes anything the
/// first could not read (pseudonyms, content keys), checkpoint or not.
async fn a_second_first_start_with_its_own_keys_is_refused(location: String) {
    let (store, _log) = open(&location).await;
    assert!(log_is_empty(&store).await.unwrap());
    let other = AuditKeys::from_bytes([8; 32], [9; 32]);
    let err = AuditLog::open(store.clone(), other.clone())
        .await
        .unwrap_err();
    match &err {
        AuditError::KeysNotTheLogs { stored, found } => {
            assert_eq!(stored, &keys().fingerprint());
            assert_eq!(found, &other.fingerprint());
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("--audit-keys"), "{err}");
    // The log's own keys still open it, and the same keys always give the
    // same fingerprint.
    AuditLog::open(store.clone(), keys()).await.unwrap();
    assert_eq!(keys().fingerprint(), keys().fingerprint());
    assert_ne!(keys().fingerprint(), other.fingerprint());
    store.close().await;
}
