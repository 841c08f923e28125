//! Search filters and the export formats.

use moat_audit::{export, search, ExportFormat, SearchFilter, StoredRecord};
use serde_json::Value;

use crate::support::{fill, keys, open, record};

on_both!(search_filters_combine, exports_are_jsonl_and_bulk_pairs);

async fn seqs(log: &moat_audit::AuditLog, filter: SearchFilter) -> Vec<u64> {
    search(log, &filter)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect()
}

async fn search_filters_combine(location: String) {
    let (store, log) = open(&location).await;
    fill(&log, 20, 1000).await;
    // record(i): time 1_000_000 + 10 i; alice even, bob odd; m2 every 5th;
    // status 429 every 4th.
    let all = SearchFilter::default();
    assert_eq!(seqs(&log, all.clone()).await, (1..=20).collect::<Vec<_>>());
    let window = SearchFilter {
        since_ms: Some(record(5).time_ms),
        until_ms: Some(record(9).time_ms),
        ..all.clone()
    };
    assert_eq!(seqs(&log, window).await, vec![5, 6, 7, 8]);
    let alice = SearchFilter {
        principal: Some("key_alice".into()),
        ..all.clone()
    };
    assert_eq!(
        seqs(&log, alice).await,
        (2..=20).step_by(2).collect::<Vec<_>>()
    );
    // The pseudonym search results show works as well.
    let by_pseudonym = SearchFilter {
        principal: Some(keys().pseudonym("key_bob")),
        ..all.clone()
    };
    assert_eq!(
        seqs(&log, by_pseudonym).await,
        (1..=19).step_by(2).collect::<Vec<_>>()
    );
    let m2 = SearchFilter {
        model: Some("m2".into()),
        ..all.clone()
    };
    assert_eq!(seqs(&log, m2).await, vec![5, 10, 15, 20]);
    let refused = SearchFilter {
        status: Some(429),
        ..all.clone()
    };
    assert_eq!(seqs(&log, refused).await, vec![4, 8, 12, 16, 20]);
    let combined = SearchFilter {
        principal: Some("key_alice".into()),
        status: Some(429),
        since_ms: Some(record(5).time_ms),
        limit: Some(2),
        ..all.clone()
    };
    assert_eq!(seqs(&log, combined.clone()).await, vec![8, 12]);
    let newest = SearchFilter {
        newest_first: true,
        ..combined
    };
    assert_eq!(seqs(&log, newest).await, vec![20, 16]);
    let nobody = SearchFilter {
        principal: Some("key_nobody".into()),
        ..all
    };
    assert!(seqs(&log, nobody).await.is_empty());
    store.close().await;
}

async fn exports_are_jsonl_and_bulk_pairs(location: String) {
    let (store, log) = open(&location).await;
    fill(&log, 7, 1000).await;
    let expected = search(&log, &SearchFilter::default()).await.unwrap();

    let mut jsonl = Vec::new();
    let n = export(
        &log,
        &SearchFilter::default(),
        ExportFormat::Jsonl,
        &mut jsonl,
    )
    .await
    .unwrap();
    assert_eq!(n, 7);
    let text = String::from_utf8(jsonl).unwrap();
    let parsed: Vec<StoredRecord> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(parsed, expected);

    let mut bulk = Vec::new();
    let limited = SearchFilter {
        limit: Some(5),
        ..SearchFilter::default()
    };
    let format = ExportFormat::EsBulk {
        index: "moat-audit".into(),
    };
    assert_eq!(export(&log, &limited, format, &mut bulk).await.unwrap(), 5);
    let text = String::from_utf8(bulk).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for (pair, record) in lines.chunks(2).zip(&expected) {
        let action = &pair[0]["index"];
        assert_eq!(action["_index"], "moat-audit");
        assert_eq!(action["_id"], record.hash.as_str());
        let document = &pair[1];
        assert_eq!(document["seq"], record.seq);
        assert_eq!(document["request_id"], record.record.request_id.as_str());
        // time_ms = 1_000_000 + 10 seq
        let timestamp = format!("1970-01-01T00:16:40.{:03}Z", 10 * record.seq);
        assert_eq!(document["@timestamp"], timestamp.as_str());
    }
    store.close().await;
}
