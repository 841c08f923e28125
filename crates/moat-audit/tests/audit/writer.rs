//! The batching writer: durability, order and concurrency.

use std::collections::BTreeSet;
use std::time::Duration;

use moat_audit::{search, AuditError, AuditLog, SearchFilter, WriterSettings};
use moat_store::Store;
use sqlx::{Connection as _, Row as _};

use crate::support::{keys, open, raw, record, settings, verify_all};

on_both!(
    concurrent_appends_are_gapless_and_verify,
    an_append_resolves_only_once_committed,
    two_stores_share_one_chain,
    close_writes_what_is_queued,
    an_idle_writer_signs_its_head_in_time,
);

async fn concurrent_appends_are_gapless_and_verify(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(WriterSettings::default());
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..500 {
                    seqs.push(writer.append(record(task * 1000 + i)).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        // One task's records are in the order it appended them.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=4000).collect::<Vec<u64>>());
    writer.close().await.unwrap();
    assert_eq!(writer.backlog(), 0);

    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!(report.records, 4000);
    assert!(report.checkpoints >= 4, "{report:?}");
    let request_ids: BTreeSet<String> = search(&log, &SearchFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record.request_id)
        .collect();
    assert_eq!(request_ids.len(), 4000);
    store.close().await;
}

async fn an_append_resolves_only_once_committed(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(settings(1000));
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let writer = writer.clone();
            let location = location.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let seq = writer.append(record(task * 100 + i)).await.unwrap();
                    // A connection of its own, opened after the append
                    // resolved, sees the record.
                    let mut conn = raw(&location).await;
                    let row = sqlx::query("SELECT body FROM audit_records WHERE seq = $1")
                        .bind(i64::try_from(seq).unwrap())
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    let body: String = row.try_get("body").unwrap();
                    assert!(body.contains(&format!("\"req-{}\"", task * 100 + i)));
                    conn.close().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    writer.close().await.unwrap();
    store.close().await;
}

async fn two_stores_share_one_chain(location: String) {
    // Two pools on one database, as two server replicas (or the server and
    // the CLI) would have: writers take turns through the chain head.
    let (store, log) = open(&location).await;
    let other_store = Store::open(&location).await.unwrap();
    let other = AuditLog::open(other_store.clone(), keys()).await.unwrap();
    let writers = [log.writer(settings(50)), other.writer(settings(70))];
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let writer = writers[usize::try_from(task % 2).unwrap()].clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    writer.append(record(task * 1000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for writer in &writers {
        writer.close().await.unwrap();
    }
    let report = verify_all(&store).await;
    assert_eq!(report.first_break, None, "{report:?}");
    assert_eq!(report.records, 400);
    other_store.close().await;
    store.close().await;
}

async fn close_writes_what_is_queued(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(settings(1000));
    for i in 1..=30 {
        writer.append_detached(record(i));
    }
    writer.close().await.unwrap();
    assert_eq!(writer.backlog(), 0);
    let found = search(&log, &SearchFilter::default()).await.unwrap();
    let ids: Vec<String> = found.iter().map(|r| r.record.request_id.clone()).collect();
    let expected: Vec<String> = (1..=30).map(|i| format!("req-{i}")).collect();
    assert_eq!(ids, expected, "detached records are written in order");
    // Closing signed the head.
    let latest = store.latest_audit_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.seq, 30);

    let err = writer.append(record(31)).await.unwrap_err();
    assert!(matches!(err, AuditError::Closed), "{err}");
    writer.close().await.unwrap();
    store.close().await;
}

async fn an_idle_writer_signs_its_head_in_time(location: String) {
    let (store, log) = open(&location).await;
    let writer = log.writer(WriterSettings {
        max_batch: 512,
        checkpoint_every: 0,
        checkpoint_interval: Duration::from_millis(200),
    });
    for i in 1..=3 {
        writer.append(record(i)).await.unwrap();
    }
    assert_eq!(store.latest_audit_checkpoint().await.unwrap(), None);
    let mut signed = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        signed = store.latest_audit_checkpoint().await.unwrap();
        if signed.is_some() {
            break;
        }
    }
    assert_eq!(signed.map(|c| c.seq), Some(3));
    assert_eq!(verify_all(&store).await.checkpoints, 1);
    writer.close().await.unwrap();
    store.close().await;
}
