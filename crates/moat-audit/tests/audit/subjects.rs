//! Erasure by crypto-shredding and retention.

use std::time::Duration;

use moat_audit::{
    erase_subject, purge, reveal_principal, search, AuditError, AuditLog, AuditRecord, BreakKind,
    Content, ContentPolicy, Outcome, SearchFilter, StoredContent,
};

use crate::support::{exec, keys, open, record, settings, verify_all};

on_both!(
    erasing_a_subject_shreds_its_content_and_is_recorded,
    an_erasure_covers_what_was_queued_before_it,
    an_erasure_elsewhere_is_not_undone_by_a_cached_key,
    purging_keeps_the_rest_verifiable,
    content_keys_are_the_logs_and_die_with_the_subject,
);

fn with_content(i: u64, principal: Option<&str>, policy: ContentPolicy) -> AuditRecord {
    AuditRecord {
        principal: principal.map(str::to_owned),
        content: Some(Content {
            policy,
            prompt: format!("prompt {i}"),
            completion: format!("answer {i}"),
        }),
        ..record(i)
    }
}

async fn erasing_a_subject_shreds_its_content_and_is_recorded(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(settings(1000));
    for (i, principal, policy) in [
        (1, Some("key_alice"), ContentPolicy::Masked),
        (2, Some("key_bob"), ContentPolicy::Full),
        (3, Some("key_alice"), ContentPolicy::Full),
        (4, Some("key_carol"), ContentPolicy::Hash),
        (5, None, ContentPolicy::Full),
    ] {
        writer
            .append(with_content(i, principal, policy))
            .await
            .unwrap();
    }
    let alice = keys().pseudonym("key_alice");

    assert!(erase_subject(&log, &writer, "key_alice", 2_000_000)
        .await
        .unwrap());

    let found = search(&log, &SearchFilter::default()).await.unwrap();
    assert_eq!(found.len(), 6);
    let content = |seq: usize| found[seq - 1].record.content.clone().unwrap();
    assert_eq!(
        content(1),
        StoredContent::Erased {
            policy: ContentPolicy::Masked
        }
    );
    assert_eq!(
        content(3),
        StoredContent::Erased {
            policy: ContentPolicy::Full
        }
    );
    assert!(matches!(content(2), StoredContent::Readable { prompt, .. } if prompt == "prompt 2"));
    assert!(matches!(content(4), StoredContent::Hashed { .. }));
    assert!(matches!(content(5), StoredContent::Readable { prompt, .. } if prompt == "prompt 5"));
    // Nothing of the erased content is left in clear anywhere.
    for row in store.audit_rows(1, 10).await.unwrap() {
        assert!(!row.body.contains("prompt 1") && !row.body.contains("prompt 3"));
    }
    assert_eq!(reveal_principal(&log, &alice).await.unwrap(), None);
    assert_eq!(
        reveal_principal(&log, &keys().pseudonym("key_bob"))
            .await
            .unwrap()
            .as_deref(),
        Some("key_bob")
    );

    // The erasure is itself on record, about the subject's pseudonym.
    let erasure = &found[5];
    assert_eq!(
        (
            erasure.record.route.as_str(),
            erasure.record.outcome,
            erasure.record.status
        ),
        ("audit.erase", Outcome::Event, 200)
    );
    assert_eq!(erasure.record.principal.as_deref(), Some(alice.as_str()));
    assert_eq!(erasure.record.time_ms, 2_000_000);

    // The chain commits to ciphertext: it still verifies.
    writer.close().await.unwrap();
    let report = verify_all(&store).await;
    assert_eq!((report.records, report.first_break), (6, None));

    // Erasing again finds nothing, and says so on record.
    let writer = log.writer(settings(1000));
    assert!(!erase_subject(&log, &writer, "key_alice", 2_000_001)
        .await
        .unwrap());
    // New content of the subject gets a new key and is readable.
    writer
        .append(with_content(7, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    writer.close().await.unwrap();
    let by_alice = search(
        &log,
        &SearchFilter {
            principal: Some("key_alice".into()),
            ..SearchFilter::default()
        },
    )
    .await
    .unwrap();
    let seqs: Vec<u64> = by_alice.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 3, 6, 7, 8]);
    assert_eq!(by_alice[3].record.status, 404);
    assert!(
        matches!(&by_alice[4].record.content, Some(StoredContent::Readable { prompt, .. }) if prompt == "prompt 7")
    );
    assert_eq!(verify_all(&store).await.first_break, None);
    store.close().await;
}

async fn content_keys_are_the_logs_and_die_with_the_subject(location: String) {
    let (store, log) = open(&location).await;
    let alice = keys().pseudonym("key_alice");
    // Made on first use, stored, and the same on the next call.
    let first = log.content_key("key_alice").await.unwrap();
    assert_eq!(first.subject(), alice);
    let again = log.content_key("key_alice").await.unwrap();
    assert_eq!((again.id(), again.wrapped()), (first.id(), first.wrapped()));
    let stored = store
        .audit_subject_keys(std::slice::from_ref(&alice))
        .await
        .unwrap();
    assert_eq!(stored, vec![(alice.clone(), first.wrapped().to_vec())]);
    let sealed = first.seal(b"conversation conv_1", b"hello").unwrap();
    assert_eq!(
        again.open(b"conversation conv_1", &sealed).as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(again.open(b"conversation conv_2", &sealed), None);

    // The log's own records of the subject are sealed under the same key:
    // erasing shreds both.
    let writer = log.writer(settings(1000));
    writer
        .append(with_content(1, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    assert_eq!(
        store
            .audit_subject_keys(std::slice::from_ref(&alice))
            .await
            .unwrap(),
        vec![(alice.clone(), first.wrapped().to_vec())]
    );
    assert!(matches!(
        content_of(&log, 1).await,
        StoredContent::Readable { .. }
    ));
    // A subject whose key the writer made first gets that key.
    writer
        .append(with_content(2, Some("key_bob"), ContentPolicy::Full))
        .await
        .unwrap();
    let bob = log.content_key("key_bob").await.unwrap();
    assert_eq!(
        store
            .audit_subject_keys(&[keys().pseudonym("key_bob")])
            .await
            .unwrap()[0]
            .1,
        bob.wrapped()
    );

    assert!(erase_subject(&log, &writer, "key_alice", 2_000_000)
        .await
        .unwrap());
    assert!(matches!(
        content_of(&log, 1).await,
        StoredContent::Erased { .. }
    ));
    let after = log.content_key("key_alice").await.unwrap();
    assert_ne!(after.id(), first.id());
    assert_eq!(after.open(b"conversation conv_1", &sealed), None);
    writer.close().await.unwrap();
    store.close().await;
}

async fn content_of(log: &AuditLog, seq: u64) -> StoredContent {
    let found = search(log, &SearchFilter::default()).await.unwrap();
    let record = found.into_iter().find(|r| r.seq == seq).unwrap();
    record.record.content.unwrap()
}

async fn an_erasure_covers_what_was_queued_before_it(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(settings(1000));
    for i in 1..=20 {
        writer.append_detached(with_content(i, Some("key_alice"), ContentPolicy::Full));
    }
    assert!(erase_subject(&log, &writer, "key_alice", 2_000_000)
        .await
        .unwrap());
    writer
        .append(with_content(22, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    writer.close().await.unwrap();
    for seq in 1..=20 {
        assert!(
            matches!(content_of(&log, seq).await, StoredContent::Erased { .. }),
            "record {seq}"
        );
    }
    assert!(matches!(
        content_of(&log, 22).await,
        StoredContent::Readable { .. }
    ));
    assert_eq!(verify_all(&store).await.first_break, None);
    store.close().await;
}

async fn an_erasure_elsewhere_is_not_undone_by_a_cached_key(location: String) {
    // The server's writer has alice's key open; the CLI erases her.
    let (store, log) = open(&location).await;
    let server = log.writer(settings(1000));
    server
        .append(with_content(1, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    let cli_store = moat_store::Store::open(&location).await.unwrap();
    let cli_log = AuditLog::open(cli_store.clone(), keys()).await.unwrap();
    let cli = cli_log.writer(settings(1000));
    assert!(erase_subject(&cli_log, &cli, "key_alice", 2_000_000)
        .await
        .unwrap());
    cli.close().await.unwrap();
    cli_store.close().await;

    // The server's next record of alice is sealed with a new, stored key.
    let seq = server
        .append(with_content(3, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    assert_eq!(seq, 3);
    // Again, with the key deleted behind the writer's back and the head
    // where the writer left it: the cached key is neither used nor stored
    // again.
    let alice = keys().pseudonym("key_alice");
    assert!(store.delete_audit_subject(&alice).await.unwrap());
    let seq = server
        .append(with_content(4, Some("key_alice"), ContentPolicy::Full))
        .await
        .unwrap();
    assert_eq!(seq, 4);
    server.close().await.unwrap();
    for erased in [1, 3] {
        assert!(matches!(
            content_of(&log, erased).await,
            StoredContent::Erased { .. }
        ));
    }
    assert!(
        matches!(content_of(&log, 4).await, StoredContent::Readable { prompt, .. } if prompt == "prompt 4")
    );
    assert_eq!(verify_all(&store).await.first_break, None);
    store.close().await;
}

async fn purging_keeps_the_rest_verifiable(location: String) {
    const DAY_MS: i64 = 86_400_000;
    let now = 1_800_000_000_000;
    let (store, log) = open(&location).await;
    let writer = log.writer(settings(5));
    // 12 records 400 days old, then 6 from yesterday; checkpoints at 5, 10, 15.
    for i in 1..=18 {
        let age = if i <= 12 { 400 * DAY_MS } else { DAY_MS };
        let mut r = record(i);
        r.time_ms = now - age;
        writer.append(r).await.unwrap();
    }
    writer.close().await.unwrap();

    let err = purge(&log, Duration::from_secs(100 * 86_400), now, false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::RetentionTooShort {
                days: 100,
                minimum: 180
            }
        ),
        "{err}"
    );
    assert_eq!(store.audit_rows(1, 100).await.unwrap().len(), 18);

    // A year: 1 to 10 go (11 and 12 are old too, but no checkpoint ends
    // the range there), and the purge is on record.
    let year = Duration::from_secs(365 * 86_400);
    assert_eq!(purge(&log, year, now, false).await.unwrap(), 10);
    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!(
        (report.anchor, report.records, report.last_seq),
        (Some(10), 9, Some(19))
    );
    let found = search(&log, &SearchFilter::default()).await.unwrap();
    assert_eq!(found.first().unwrap().seq, 11);
    let event = found.last().unwrap();
    assert_eq!(
        (event.record.route.as_str(), event.record.outcome),
        ("audit.purge", Outcome::Event)
    );
    assert_eq!(purge(&log, year, now, false).await.unwrap(), 0);

    // Short retention with the override: up to the checkpoint at 18.
    let hour = Duration::from_secs(3600);
    assert_eq!(purge(&log, hour, now, true).await.unwrap(), 8);
    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!((report.anchor, report.records), (Some(18), 2));

    // Deleting more than a purge would is still found, and a purge refuses
    // to bury it.
    let writer = log.writer(settings(2));
    for i in 21..=24 {
        writer.append(record(i)).await.unwrap();
    }
    writer.close().await.unwrap();
    exec(&location, "DELETE FROM audit_records WHERE seq = 21").await;
    let report = verify_all(&store).await;
    let found = report.first_break.unwrap();
    assert_eq!((found.seq, found.kind), (21, BreakKind::Missing));
    let err = purge(&log, hour, now + DAY_MS, true).await.unwrap_err();
    assert!(
        matches!(err, AuditError::BrokenChain { seq: 21, .. }),
        "{err}"
    );
    assert_eq!(store.audit_rows(1, 100).await.unwrap().len(), 5);
    store.close().await;
}
