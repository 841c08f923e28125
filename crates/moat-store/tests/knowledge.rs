//! Files, vector stores, attachments, chunks and batches against real
//! databases: every body runs on a SQLite file and, when
//! `MOAT_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use moat_store::on_both;
use moat_store::{
    chunk_key, split_chunk_key, AttachedFile, FileBatchRecord, FileCounts, FileRecord, IngestError,
    IngestResult, IngestStatus, KbChunk, NewAttachment, PageQuery, SortOrder, Store, StoreError,
    VectorStoreRecord, VectorStoreUpdate,
};
use serde_json::json;

on_both!(
    files_round_trip_and_are_found_by_hash_per_owner,
    file_listings_page_both_ways_and_keep_owners_apart,
    vector_stores_round_trip_update_and_touch,
    vector_store_listings_page_by_cursor,
    attaching_numbers_files_densely_once_and_never_reuses,
    attached_files_record_ingest_states_and_counts,
    deleting_a_store_takes_its_files_chunks_and_batches,
    five_thousand_chunks_replace_and_read_back_in_pages,
    embeddings_are_set_in_batches_and_cleared_on_a_new_model,
    batches_count_their_files,
    concurrent_attaches_take_distinct_numbers_and_one_row_per_file,
    every_change_of_attached_files_moves_the_files_version,
);

// ---------------------------------------------------------------------------
// Fixtures

async fn open(location: &str) -> Store {
    Store::open(location).await.unwrap()
}

fn file(id: &str, owner: &str, purpose: &str, created_ms: i64, sha: &str) -> FileRecord {
    FileRecord {
        id: id.into(),
        owner: owner.into(),
        filename: format!("{id}.pdf"),
        purpose: purpose.into(),
        bytes: 3,
        sha256: sha.into(),
        created_ms,
    }
}

fn vector_store(id: &str, owner: &str, created_ms: i64) -> VectorStoreRecord {
    VectorStoreRecord {
        id: id.into(),
        name: format!("{id} name"),
        owner: owner.into(),
        created_ms,
        last_active_ms: created_ms,
        metadata: json!({"team": "hr"}),
        embedding_model: "bge-m3".into(),
        chunking: json!({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}),
        expires_after: Some(json!({"anchor": "last_active_at", "days": 7})),
    }
}

fn attachment(store_id: &str, file_id: &str, created_ms: i64) -> NewAttachment {
    NewAttachment {
        store_id: store_id.into(),
        file_id: file_id.into(),
        attributes: json!({"year": 2024, "lang": "zh", "public": true}),
        chunking: json!({"type": "auto"}),
        created_ms,
    }
}

async fn attach(store: &Store, store_id: &str, file_id: &str, created_ms: i64) -> AttachedFile {
    let (row, created) = store
        .attach_file(&attachment(store_id, file_id, created_ms))
        .await
        .unwrap()
        .unwrap();
    assert!(created, "{file_id} attached already");
    row
}

fn chunk(ordinal: u32, embedded: bool) -> KbChunk {
    KbChunk {
        ordinal,
        text: format!("第 {ordinal} 段 text of chunk {ordinal}"),
        title: "Handbook".into(),
        headings: vec!["Part 1".into(), format!("Section {}", ordinal / 10)],
        page: (!ordinal.is_multiple_of(3)).then_some(ordinal / 40 + 1),
        embedding: embedded.then(|| vec![ordinal as f32, -0.5, 1.0e-3]),
    }
}

fn page(limit: u32, order: SortOrder) -> PageQuery {
    PageQuery::first(limit, order)
}

fn after(limit: u32, order: SortOrder, id: &str) -> PageQuery {
    PageQuery {
        after: Some(id.into()),
        ..PageQuery::first(limit, order)
    }
}

fn before(limit: u32, order: SortOrder, id: &str) -> PageQuery {
    PageQuery {
        before: Some(id.into()),
        ..PageQuery::first(limit, order)
    }
}

fn ids(items: &[FileRecord]) -> Vec<&str> {
    items.iter().map(|f| f.id.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Bodies

async fn files_round_trip_and_are_found_by_hash_per_owner(location: String) {
    let store = open(&location).await;
    let a = file("file-a", "alice", "assistants", 1_000, "aa11");
    let later_copy = file("file-b", "alice", "user_data", 2_000, "aa11");
    let bobs = file("file-c", "bob", "assistants", 500, "aa11");
    let content: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    store.insert_file(&a, &content).await.unwrap();
    store.insert_file(&later_copy, b"abc").await.unwrap();
    store.insert_file(&bobs, b"abc").await.unwrap();

    assert_eq!(store.file("file-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.file("file-x").await.unwrap(), None);
    assert_eq!(store.file_content("file-a").await.unwrap(), Some(content));
    assert_eq!(store.file_content("file-x").await.unwrap(), None);

    // The earliest of the owner's own copies; another owner's is not found.
    assert_eq!(
        store.file_by_sha256("alice", "aa11").await.unwrap(),
        Some(a)
    );
    assert_eq!(
        store.file_by_sha256("bob", "aa11").await.unwrap(),
        Some(bobs)
    );
    assert_eq!(store.file_by_sha256("carol", "aa11").await.unwrap(), None);
    assert_eq!(store.file_by_sha256("alice", "bb22").await.unwrap(), None);

    assert!(store.delete_file("file-a").await.unwrap());
    assert!(!store.delete_file("file-a").await.unwrap());
    assert_eq!(store.file("file-a").await.unwrap(), None);
    assert_eq!(store.file_content("file-a").await.unwrap(), None);
    assert_eq!(
        store.file_by_sha256("alice", "aa11").await.unwrap(),
        Some(later_copy)
    );
    store.close().await;
}

async fn file_listings_page_both_ways_and_keep_owners_apart(location: String) {
    let store = open(&location).await;
    // Two files share a time: the id breaks the tie, byte-wise ("B" < "a").
    for (id, owner, purpose, ms) in [
        ("file-1", "alice", "assistants", 1_000),
        ("file-2", "alice", "user_data", 2_000),
        ("file-3a", "alice", "assistants", 3_000),
        ("file-3B", "alice", "assistants", 3_000),
        ("file-4", "alice", "assistants", 4_000),
        ("file-9", "bob", "assistants", 2_500),
    ] {
        store
            .insert_file(&file(id, owner, purpose, ms, "00"), b"x")
            .await
            .unwrap();
    }
    use SortOrder::{Asc, Desc};
    let alice = Some("alice");

    let p = store.files(alice, None, &page(2, Desc)).await.unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (vec!["file-4", "file-3a"], true)
    );
    let p = store
        .files(alice, None, &after(2, Desc, "file-3a"))
        .await
        .unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (vec!["file-3B", "file-2"], true)
    );
    let p = store
        .files(alice, None, &after(2, Desc, "file-2"))
        .await
        .unwrap();
    assert_eq!((ids(&p.items), p.has_more), (vec!["file-1"], false));
    let p = store.files(alice, None, &page(10, Asc)).await.unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (
            vec!["file-1", "file-2", "file-3B", "file-3a", "file-4"],
            false
        )
    );
    let p = store
        .files(alice, None, &after(2, Asc, "file-2"))
        .await
        .unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (vec!["file-3B", "file-3a"], true)
    );
    // `before` gives the nearest items before the cursor, in listing order.
    let p = store
        .files(alice, None, &before(2, Desc, "file-2"))
        .await
        .unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (vec!["file-3a", "file-3B"], true)
    );
    let p = store
        .files(alice, None, &before(2, Asc, "file-3B"))
        .await
        .unwrap();
    assert_eq!(
        (ids(&p.items), p.has_more),
        (vec!["file-1", "file-2"], false)
    );
    let p = store
        .files(alice, None, &before(5, Desc, "file-4"))
        .await
        .unwrap();
    assert_eq!((ids(&p.items), p.has_more), (vec![], false));

    // Purpose narrows; no owner lists everyone's.
    let p = store
        .files(alice, Some("user_data"), &page(10, Desc))
        .await
        .unwrap();
    assert_eq!(ids(&p.items), vec!["file-2"]);
    let p = store.files(None, None, &page(10, Asc)).await.unwrap();
    assert_eq!(
        ids(&p.items),
        vec!["file-1", "file-2", "file-9", "file-3B", "file-3a", "file-4"]
    );
    let p = store
        .files(Some("bob"), None, &page(10, Desc))
        .await
        .unwrap();
    assert_eq!(ids(&p.items), vec!["file-9"]);

    // A cursor from another owner's listing names nothing in this one.
    for query in [after(2, Desc, "file-9"), before(2, Desc, "file-nope")] {
        let err = store.files(alice, None, &query).await.unwrap_err();
        assert!(matches!(err, StoreError::UnknownCursor { .. }), "{err:?}");
    }
    store.close().await;
}

async fn vector_stores_round_trip_update_and_touch(location: String) {
    let store = open(&location).await;
    let mut vs = vector_store("vs_a", "alice", 1_000);
    store.insert_vector_store(&vs).await.unwrap();
    let mut bare = vector_store("vs_b", "bob", 2_000);
    bare.expires_after = None;
    bare.metadata = json!({});
    store.insert_vector_store(&bare).await.unwrap();
    assert_eq!(store.vector_store("vs_a").await.unwrap(), Some(vs.clone()));
    assert_eq!(store.vector_store("vs_b").await.unwrap(), Some(bare));
    assert_eq!(store.vector_store("vs_x").await.unwrap(), None);

    // Only what is given changes; Some(None) removes the expiry.
    let update = VectorStoreUpdate {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert!(store.update_vector_store("vs_a", &update).await.unwrap());
    vs.name = "Renamed".into();
    assert_eq!(store.vector_store("vs_a").await.unwrap(), Some(vs.clone()));
    let update = VectorStoreUpdate {
        name: None,
        metadata: Some(json!({"a": "b", "c": "d"})),
        expires_after: Some(None),
    };
    assert!(store.update_vector_store("vs_a", &update).await.unwrap());
    vs.metadata = json!({"a": "b", "c": "d"});
    vs.expires_after = None;
    assert_eq!(store.vector_store("vs_a").await.unwrap(), Some(vs.clone()));
    assert!(!store.update_vector_store("vs_x", &update).await.unwrap());

    // Touching moves last_active forward only.
    assert!(store.touch_vector_store("vs_a", 5_000).await.unwrap());
    assert!(store.touch_vector_store("vs_a", 4_000).await.unwrap());
    assert_eq!(
        store
            .vector_store("vs_a")
            .await
            .unwrap()
            .unwrap()
            .last_active_ms,
        5_000
    );
    assert!(!store.touch_vector_store("vs_x", 5_000).await.unwrap());

    // The same model is no change.
    assert!(!store.set_embedding_model("vs_a", "bge-m3").await.unwrap());
    assert!(store
        .set_embedding_model("vs_a", "qwen3-embedding")
        .await
        .unwrap());
    assert_eq!(
        store
            .vector_store("vs_a")
            .await
            .unwrap()
            .unwrap()
            .embedding_model,
        "qwen3-embedding"
    );
    assert!(!store.set_embedding_model("vs_x", "m").await.unwrap());
    store.close().await;
}

async fn vector_store_listings_page_by_cursor(location: String) {
    let store = open(&location).await;
    for (id, owner, ms) in [
        ("vs_1", "alice", 1),
        ("vs_2", "bob", 2),
        ("vs_3", "alice", 3),
        ("vs_4", "alice", 4),
    ] {
        store
            .insert_vector_store(&vector_store(id, owner, ms))
            .await
            .unwrap();
    }
    let names = |p: &moat_store::Page<VectorStoreRecord>| {
        p.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>()
    };
    let p = store
        .vector_stores(Some("alice"), &page(2, SortOrder::Desc))
        .await
        .unwrap();
    assert_eq!(
        (names(&p), p.has_more),
        (vec!["vs_4".into(), "vs_3".into()], true)
    );
    let p = store
        .vector_stores(Some("alice"), &after(2, SortOrder::Desc, "vs_3"))
        .await
        .unwrap();
    assert_eq!((names(&p), p.has_more), (vec!["vs_1".into()], false));
    let p = store
        .vector_stores(None, &after(2, SortOrder::Asc, "vs_1"))
        .await
        .unwrap();
    assert_eq!(
        (names(&p), p.has_more),
        (vec!["vs_2".into(), "vs_3".into()], true)
    );
    let err = store
        .vector_stores(Some("alice"), &after(2, SortOrder::Desc, "vs_2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownCursor { ref id } if id == "vs_2"),
        "{err:?}"
    );
    store.close().await;
}

async fn attaching_numbers_files_densely_once_and_never_reuses(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    store
        .insert_vector_store(&vector_store("vs_b", "alice", 2))
        .await
        .unwrap();
    let a = attach(&store, "vs_a", "file-a", 10).await;
    assert_eq!(
        a,
        AttachedFile {
            store_id: "vs_a".into(),
            file_id: "file-a".into(),
            file_no: 0,
            attributes: json!({"year": 2024, "lang": "zh", "public": true}),
            chunking: json!({"type": "auto"}),
            status: IngestStatus::InProgress,
            last_error: None,
            usage_bytes: 0,
            chunk_count: 0,
            pii: json!({}),
            content_sha256: None,
            extractor: None,
            created_ms: 10,
            updated_ms: 10,
        }
    );
    assert_eq!(
        store.attached_file("vs_a", "file-a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(attach(&store, "vs_a", "file-b", 11).await.file_no, 1);
    assert_eq!(attach(&store, "vs_a", "file-c", 12).await.file_no, 2);
    // Numbers are per store.
    assert_eq!(attach(&store, "vs_b", "file-c", 12).await.file_no, 0);

    // Attaching again returns the row as it is and takes no number.
    let mut again = attachment("vs_a", "file-a", 99);
    again.attributes = json!({"other": 1});
    let (row, created) = store.attach_file(&again).await.unwrap().unwrap();
    assert!(!created);
    assert_eq!(row, a);
    assert_eq!(attach(&store, "vs_a", "file-d", 13).await.file_no, 3);

    // The highest number, once detached, is not handed out again.
    assert!(store.detach_file("vs_a", "file-d").await.unwrap());
    assert!(!store.detach_file("vs_a", "file-d").await.unwrap());
    assert_eq!(store.attached_file("vs_a", "file-d").await.unwrap(), None);
    assert_eq!(attach(&store, "vs_a", "file-e", 14).await.file_no, 4);
    assert_eq!(attach(&store, "vs_a", "file-d", 15).await.file_no, 5);

    let all = store
        .attached_files("vs_a", None, &page(100, SortOrder::Asc))
        .await
        .unwrap();
    let numbers: Vec<(String, u32)> = all
        .items
        .iter()
        .map(|f| (f.file_id.clone(), f.file_no))
        .collect();
    assert_eq!(
        numbers,
        [
            ("file-a", 0),
            ("file-b", 1),
            ("file-c", 2),
            ("file-e", 4),
            ("file-d", 5)
        ]
        .map(|(f, n)| (f.to_owned(), n))
    );

    assert_eq!(
        store
            .attach_file(&attachment("vs_x", "file-a", 1))
            .await
            .unwrap(),
        None
    );
    store.close().await;
}

async fn attached_files_record_ingest_states_and_counts(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    store
        .insert_vector_store(&vector_store("vs_b", "alice", 2))
        .await
        .unwrap();
    for (i, id) in ["file-1", "file-2", "file-3", "file-4"].iter().enumerate() {
        attach(&store, "vs_a", id, 10 + i as i64).await;
    }
    attach(&store, "vs_b", "file-9", 5).await;
    assert_eq!(
        store.file_counts("vs_a").await.unwrap(),
        FileCounts {
            in_progress: 4,
            total: 4,
            ..Default::default()
        }
    );

    let result = IngestResult {
        usage_bytes: 2_048,
        chunk_count: 12,
        pii: json!({"phone": 2, "cn_resident_id": 1}),
        content_sha256: "ab".repeat(32),
        extractor: "pdftotext".into(),
    };
    assert!(store
        .complete_ingest("vs_a", "file-1", &result, 100)
        .await
        .unwrap());
    let error = IngestError {
        code: "unsupported_file".into(),
        message: "Not a document moat can read.".into(),
    };
    assert!(store
        .set_attached_status("vs_a", "file-2", IngestStatus::Failed, Some(&error), 101)
        .await
        .unwrap());
    assert!(store
        .set_attached_status("vs_a", "file-3", IngestStatus::Cancelled, Some(&error), 102)
        .await
        .unwrap());
    assert!(!store
        .set_attached_status("vs_a", "file-x", IngestStatus::Failed, None, 1)
        .await
        .unwrap());

    let done = store
        .attached_file("vs_a", "file-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            done.status,
            done.usage_bytes,
            done.chunk_count,
            &done.pii,
            done.content_sha256.as_deref(),
            done.extractor.as_deref(),
            done.updated_ms,
            done.created_ms
        ),
        (
            IngestStatus::Completed,
            2_048,
            12,
            &json!({"phone": 2, "cn_resident_id": 1}),
            Some("ab".repeat(32).as_str()),
            Some("pdftotext"),
            100,
            10
        )
    );
    let failed = store
        .attached_file("vs_a", "file-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status, failed.last_error),
        (IngestStatus::Failed, Some(error))
    );
    // An error is only kept with `failed`.
    let cancelled = store
        .attached_file("vs_a", "file-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.last_error),
        (IngestStatus::Cancelled, None)
    );

    assert_eq!(
        store.file_counts("vs_a").await.unwrap(),
        FileCounts {
            in_progress: 1,
            completed: 1,
            failed: 1,
            cancelled: 1,
            total: 4,
            usage_bytes: 2_048
        }
    );
    assert_eq!(
        store.file_counts("vs_x").await.unwrap(),
        FileCounts::default()
    );

    let listed = store
        .attached_files(
            "vs_a",
            Some(IngestStatus::Failed),
            &page(10, SortOrder::Desc),
        )
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|f| f.file_id.as_str())
            .collect::<Vec<_>>(),
        ["file-2"]
    );
    let listed = store
        .attached_files("vs_a", None, &after(2, SortOrder::Desc, "file-3"))
        .await
        .unwrap();
    assert_eq!(
        (
            listed
                .items
                .iter()
                .map(|f| f.file_id.as_str())
                .collect::<Vec<_>>(),
            listed.has_more
        ),
        (vec!["file-2", "file-1"], false)
    );
    // A cursor from another store is unknown here.
    let err = store
        .attached_files("vs_a", None, &after(2, SortOrder::Desc, "file-9"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCursor { .. }), "{err:?}");

    // Ingests to resume, across stores, oldest first.
    let pending = store
        .attached_files_with_status(IngestStatus::InProgress)
        .await
        .unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|f| (f.store_id.as_str(), f.file_id.as_str()))
            .collect::<Vec<_>>(),
        [("vs_b", "file-9"), ("vs_a", "file-4")]
    );
    store.close().await;
}

async fn deleting_a_store_takes_its_files_chunks_and_batches(location: String) {
    let store = open(&location).await;
    for id in ["vs_a", "vs_b"] {
        store
            .insert_vector_store(&vector_store(id, "alice", 1))
            .await
            .unwrap();
        let f = attach(&store, id, "file-1", 2).await;
        store
            .replace_chunks(id, f.file_no, &[chunk(0, true), chunk(1, false)], "bge-m3")
            .await
            .unwrap();
        store
            .insert_file_batch(&FileBatchRecord {
                id: format!("vsfb_{id}"),
                store_id: id.into(),
                created_ms: 3,
                file_ids: vec!["file-1".into()],
                status: IngestStatus::InProgress,
            })
            .await
            .unwrap();
    }
    assert!(store.delete_vector_store("vs_a").await.unwrap());
    assert!(!store.delete_vector_store("vs_a").await.unwrap());
    assert_eq!(store.vector_store("vs_a").await.unwrap(), None);
    assert_eq!(store.attached_file("vs_a", "file-1").await.unwrap(), None);
    assert!(store.chunks("vs_a", None, 10).await.unwrap().is_empty());
    assert_eq!(store.file_batch("vsfb_vs_a").await.unwrap(), None);
    // The other store keeps everything.
    assert!(store
        .attached_file("vs_b", "file-1")
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.chunks("vs_b", None, 10).await.unwrap().len(), 2);
    assert!(store.file_batch("vsfb_vs_b").await.unwrap().is_some());

    // Detaching takes the file's chunks.
    assert!(store.detach_file("vs_b", "file-1").await.unwrap());
    assert!(store.chunks("vs_b", None, 10).await.unwrap().is_empty());
    store.close().await;
}

async fn five_thousand_chunks_replace_and_read_back_in_pages(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    let first = attach(&store, "vs_a", "file-1", 2).await;
    let second = attach(&store, "vs_a", "file-2", 3).await;
    let chunks: Vec<KbChunk> = (0..5_000).map(|i| chunk(i, i.is_multiple_of(2))).collect();
    store
        .replace_chunks("vs_a", second.file_no, &chunks, "bge-m3")
        .await
        .unwrap();
    store
        .replace_chunks(
            "vs_a",
            first.file_no,
            &[chunk(0, false), chunk(1, true)],
            "bge-m3",
        )
        .await
        .unwrap();

    // Paged by key: file 0's two chunks, then file 1's 5 000, exactly.
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.chunks("vs_a", cursor, 1_000).await.unwrap();
        assert!(page.len() <= 1_000);
        let Some(last) = page.last() else { break };
        cursor = Some(last.key());
        read.extend(page);
    }
    assert_eq!(read.len(), 5_002);
    assert_eq!(
        (read[0].file_no, read[0].chunk.clone()),
        (0, chunk(0, false))
    );
    assert_eq!(
        (read[1].file_no, read[1].chunk.clone()),
        (0, chunk(1, true))
    );
    for (i, stored) in read[2..].iter().enumerate() {
        assert_eq!(stored.file_no, 1);
        assert_eq!(stored.chunk, chunks[i]);
    }
    assert_eq!(read[4_001].key(), chunk_key(1, 3_999));

    let of_first = store.chunks_of_file("vs_a", first.file_no).await.unwrap();
    assert_eq!(
        of_first.iter().map(|c| c.chunk.clone()).collect::<Vec<_>>(),
        [chunk(0, false), chunk(1, true)]
    );
    assert_eq!(
        store
            .chunks_of_file("vs_a", second.file_no)
            .await
            .unwrap()
            .len(),
        5_000
    );
    assert_eq!(
        store.attached_file_nos("vs_a").await.unwrap(),
        [first.file_no, second.file_no]
    );
    assert!(store.attached_file_nos("vs_b").await.unwrap().is_empty());
    // Replacing is all of the file's chunks, the other file untouched.
    store
        .replace_chunks("vs_a", second.file_no, &[chunk(7, true)], "bge-m3")
        .await
        .unwrap();
    let all = store.chunks("vs_a", None, 10_000).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.key()).collect::<Vec<_>>(),
        [chunk_key(0, 0), chunk_key(0, 1), chunk_key(1, 7)]
    );

    // By keys, in key order, unknown keys left out.
    let found = store
        .chunks_by_keys(
            "vs_a",
            &[
                chunk_key(1, 7),
                chunk_key(9, 9),
                chunk_key(0, 1),
                chunk_key(1, 0),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|c| (c.file_no, c.chunk.clone()))
            .collect::<Vec<_>>(),
        [(0, chunk(1, true)), (1, chunk(7, true))]
    );
    assert!(store
        .chunks_by_keys("vs_b", &[chunk_key(0, 1)])
        .await
        .unwrap()
        .is_empty());

    assert_eq!(store.delete_chunks("vs_a", first.file_no).await.unwrap(), 2);
    assert_eq!(store.chunks("vs_a", None, 10).await.unwrap().len(), 1);

    // Chunks of a file that is not attached are refused.
    assert!(store
        .replace_chunks("vs_a", 42, &[chunk(0, false)], "bge-m3")
        .await
        .is_err());
    store.close().await;
}

async fn embeddings_are_set_in_batches_and_cleared_on_a_new_model(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    let f = attach(&store, "vs_a", "file-1", 2).await;
    let chunks: Vec<KbChunk> = (0..6).map(|i| chunk(i, i < 2)).collect();
    store
        .replace_chunks("vs_a", f.file_no, &chunks, "bge-m3")
        .await
        .unwrap();

    let missing = store
        .chunks_missing_embedding("vs_a", None, 3)
        .await
        .unwrap();
    assert_eq!(
        missing.iter().map(|c| c.chunk.ordinal).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let vectors: Vec<(u64, Vec<f32>)> = missing
        .iter()
        .map(|c| {
            (
                c.key(),
                vec![c.chunk.ordinal as f32, f32::MIN_POSITIVE, -0.0],
            )
        })
        .chain([(chunk_key(0, 99), vec![1.0])])
        .collect();
    assert_eq!(
        store
            .set_missing_embeddings("vs_a", "bge-m3", &vectors)
            .await
            .unwrap(),
        [chunk_key(0, 2), chunk_key(0, 3), chunk_key(0, 4)]
    );
    assert_eq!(store.chunk_counts("vs_a").await.unwrap(), (6, 5));
    // A chunk with a vector keeps it; a vector of another model is not
    // stored.
    assert!(store
        .set_missing_embeddings("vs_a", "bge-m3", &[(chunk_key(0, 0), vec![9.0, 9.0, 9.0])])
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .set_missing_embeddings("vs_a", "other", &[(chunk_key(0, 5), vec![9.0, 9.0, 9.0])])
        .await
        .unwrap()
        .is_empty());
    let rest = store
        .chunks_missing_embedding("vs_a", Some(chunk_key(0, 4)), 3)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|c| c.chunk.ordinal).collect::<Vec<_>>(),
        [5]
    );
    let three = store
        .chunks_by_keys("vs_a", &[chunk_key(0, 3)])
        .await
        .unwrap();
    let embedding = three[0].chunk.embedding.clone().unwrap();
    assert_eq!(embedding.len(), 3);
    assert_eq!(embedding[0].to_bits(), 3.0f32.to_bits());
    assert_eq!(embedding[1].to_bits(), f32::MIN_POSITIVE.to_bits());
    assert_eq!(embedding[2].to_bits(), (-0.0f32).to_bits());

    // A new model clears every stored vector: a re-embed starts over.
    assert!(store
        .set_embedding_model("vs_a", "other-model")
        .await
        .unwrap());
    assert_eq!(
        store
            .chunks_missing_embedding("vs_a", None, 100)
            .await
            .unwrap()
            .len(),
        6
    );
    // Chunks embedded by the old model are refused now, and nothing of
    // them is written; by the new one they are stored.
    assert!(!store
        .replace_chunks("vs_a", f.file_no, &[chunk(0, true)], "bge-m3")
        .await
        .unwrap());
    assert_eq!(store.chunk_counts("vs_a").await.unwrap(), (6, 0));
    assert!(store
        .replace_chunks("vs_a", f.file_no, &[chunk(0, true)], "other-model")
        .await
        .unwrap());
    assert_eq!(store.chunk_counts("vs_a").await.unwrap(), (1, 1));
    assert!(!store
        .replace_chunks("vs_gone", f.file_no, &[chunk(0, true)], "other-model")
        .await
        .unwrap());
    assert_eq!(split_chunk_key(chunk_key(7, 9)), (7, 9));
    store.close().await;
}

async fn every_change_of_attached_files_moves_the_files_version(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    let mut seen = vec![store.files_version("vs_a").await.unwrap()];
    let mut moved = |v: i64| {
        assert!(!seen.contains(&v), "{v} seen before: {seen:?}");
        seen.push(v);
    };
    attach(&store, "vs_a", "file-1", 2).await;
    moved(store.files_version("vs_a").await.unwrap());
    let result = IngestResult {
        usage_bytes: 1,
        chunk_count: 1,
        pii: json!({}),
        content_sha256: "00".into(),
        extractor: "text".into(),
    };
    assert!(store
        .complete_ingest("vs_a", "file-1", &result, 3)
        .await
        .unwrap());
    moved(store.files_version("vs_a").await.unwrap());
    assert!(store
        .set_attached_status("vs_a", "file-1", IngestStatus::Failed, None, 4)
        .await
        .unwrap());
    moved(store.files_version("vs_a").await.unwrap());
    assert!(store.detach_file("vs_a", "file-1").await.unwrap());
    moved(store.files_version("vs_a").await.unwrap());
    // Nothing attached to change: the version stays.
    let last = store.files_version("vs_a").await.unwrap();
    assert!(!store.detach_file("vs_a", "file-1").await.unwrap());
    assert_eq!(store.files_version("vs_a").await.unwrap(), last);
    assert_eq!(store.files_version("vs_none").await.unwrap(), 0);
    store.close().await;
}

async fn batches_count_their_files(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    for id in ["file-1", "file-2", "file-3"] {
        attach(&store, "vs_a", id, 2).await;
    }
    let batch = FileBatchRecord {
        id: "vsfb_1".into(),
        store_id: "vs_a".into(),
        created_ms: 5,
        file_ids: vec!["file-1".into(), "file-2".into(), "file-gone".into()],
        status: IngestStatus::InProgress,
    };
    store.insert_file_batch(&batch).await.unwrap();
    let result = IngestResult {
        usage_bytes: 10,
        chunk_count: 1,
        pii: json!({}),
        content_sha256: "00".into(),
        extractor: "text".into(),
    };
    store
        .complete_ingest("vs_a", "file-1", &result, 6)
        .await
        .unwrap();
    store
        .complete_ingest("vs_a", "file-3", &result, 6)
        .await
        .unwrap();
    let (read, counts) = store.file_batch("vsfb_1").await.unwrap().unwrap();
    assert_eq!(read, batch);
    assert_eq!(
        counts,
        FileCounts {
            in_progress: 1,
            completed: 1,
            total: 2,
            usage_bytes: 10,
            ..Default::default()
        }
    );
    assert!(store
        .set_file_batch_status("vsfb_1", IngestStatus::Cancelled)
        .await
        .unwrap());
    assert!(!store
        .set_file_batch_status("vsfb_x", IngestStatus::Cancelled)
        .await
        .unwrap());
    assert_eq!(
        store.file_batch("vsfb_1").await.unwrap().unwrap().0.status,
        IngestStatus::Cancelled
    );
    assert_eq!(store.file_batch("vsfb_x").await.unwrap(), None);
    store.close().await;
}

async fn concurrent_attaches_take_distinct_numbers_and_one_row_per_file(location: String) {
    let store = open(&location).await;
    store
        .insert_vector_store(&vector_store("vs_a", "alice", 1))
        .await
        .unwrap();
    // Eight attaches of one file and eight of distinct files, all at once.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let file_id = if i % 2 == 0 {
                "file-same".to_owned()
            } else {
                format!("file-{i}")
            };
            tokio::spawn(async move {
                store
                    .attach_file(&attachment("vs_a", &file_id, i))
                    .await
                    .unwrap()
                    .unwrap()
            })
        })
        .collect();
    let mut created_same = 0;
    for task in tasks {
        let (row, created) = task.await.unwrap();
        if row.file_id == "file-same" && created {
            created_same += 1;
        }
    }
    assert_eq!(created_same, 1);
    let all = store
        .attached_files("vs_a", None, &page(100, SortOrder::Asc))
        .await
        .unwrap();
    let mut numbers: Vec<u32> = all.items.iter().map(|f| f.file_no).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..9).collect::<Vec<_>>());
    store.close().await;
}

#[test]
fn chunk_keys_are_file_number_then_ordinal() {
    assert_eq!(chunk_key(0, 0), 0);
    assert_eq!(chunk_key(1, 2), (1 << 32) | 2);
    assert_eq!(chunk_key(u32::MAX, u32::MAX), u64::MAX);
    assert_eq!(split_chunk_key((5 << 32) | 7), (5, 7));
    assert!(chunk_key(1, 0) > chunk_key(0, u32::MAX));
}
