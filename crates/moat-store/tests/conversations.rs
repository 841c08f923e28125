//! Conversations and their items against real databases: every body runs
//! on a SQLite file and, when `MOAT_TEST_POSTGRES_URL` is set, on a fresh
//! PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use moat_store::on_both;
use moat_store::{
    ConversationRecord, ConversationWrite, NewConversationItem, PageQuery, SortOrder, Store,
    StoreError,
};

on_both!(
    conversations_round_trip_update_and_delete_with_their_items,
    items_keep_their_order_and_page_both_ways,
    concurrent_appends_take_distinct_positions,
    deleted_items_leave_their_positions_unused,
    owners_listings_run_by_last_update_and_keep_owners_apart,
    retention_deletes_only_what_ran_out,
    erasing_a_subject_deletes_its_conversations_only,
    writes_need_the_owners_current_key_and_stay_with_the_owner,
    no_write_racing_an_erasure_outlives_it,
);

const KEY: &[u8] = b"wrapped key 1";

/// A store whose subjects subj1 and subj2 have content keys (KEY and
/// KEY2).
async fn open(location: &str) -> Store {
    let store = Store::open(location).await.unwrap();
    assert!(store
        .insert_audit_subject_key("subj1", KEY, 1)
        .await
        .unwrap());
    assert!(store
        .insert_audit_subject_key("subj2", KEY2, 1)
        .await
        .unwrap());
    store
}

const KEY2: &[u8] = b"wrapped key 2";

fn conversation(id: &str, owner: &str, created_ms: i64) -> ConversationRecord {
    ConversationRecord {
        id: id.into(),
        owner: owner.into(),
        created_ms,
        updated_ms: created_ms,
        expires_ms: None,
        key_id: "k1".into(),
        sealed: format!("sealed {id}").into_bytes(),
    }
}

fn write<'a>(
    owner: &'a str,
    wrapped_key: &'a [u8],
    at_ms: i64,
    expires_ms: Option<i64>,
) -> ConversationWrite<'a> {
    ConversationWrite {
        owner,
        wrapped_key,
        at_ms,
        expires_ms,
    }
}

fn item(id: &str, created_ms: i64) -> NewConversationItem {
    NewConversationItem {
        id: id.into(),
        created_ms,
        key_id: "k1".into(),
        sealed: format!("sealed {id}").into_bytes(),
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| id(i).to_owned()).collect()
}

async fn conversations_round_trip_update_and_delete_with_their_items(location: String) {
    let store = open(&location).await;
    let record = conversation("conv_a", "subj1", 1_000);
    let stored = store
        .insert_conversation(&record, &[item("msg_1", 1_000), item("msg_2", 1_000)], KEY)
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|i| i.position).collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(store.conversation("conv_a").await.unwrap(), Some(record));
    assert_eq!(store.conversation("conv_b").await.unwrap(), None);

    assert!(store
        .update_conversation(
            "conv_a",
            write("subj1", KEY, 2_000, Some(9_000)),
            "k2",
            b"new"
        )
        .await
        .unwrap());
    let updated = store.conversation("conv_a").await.unwrap().unwrap();
    assert_eq!(
        (
            updated.key_id.as_str(),
            updated.sealed.as_slice(),
            updated.updated_ms,
            updated.expires_ms,
            updated.created_ms
        ),
        ("k2", &b"new"[..], 2_000, Some(9_000), 1_000)
    );
    assert!(!store
        .update_conversation("conv_b", write("subj1", KEY, 2_000, None), "k2", b"x")
        .await
        .unwrap());

    let one = store
        .conversation_item("conv_a", "msg_2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.position, one.sealed), (1, b"sealed msg_2".to_vec()));
    assert!(store.delete_conversation("conv_a").await.unwrap());
    assert!(!store.delete_conversation("conv_a").await.unwrap());
    assert_eq!(
        store.conversation_item("conv_a", "msg_2").await.unwrap(),
        None
    );
    // Its item ids are free again for a conversation of the same id.
    store
        .insert_conversation(
            &conversation("conv_a", "subj1", 3_000),
            &[item("msg_1", 3_000)],
            KEY,
        )
        .await
        .unwrap();
    let page = store
        .conversation_items("conv_a", &PageQuery::first(10, SortOrder::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&page.items, |i| &i.id), ["msg_1"]);
}

async fn items_keep_their_order_and_page_both_ways(location: String) {
    let store = open(&location).await;
    // Every item in the same millisecond, ids against their order: the
    // position alone orders them.
    let first: Vec<_> = ["msg_z", "msg_y", "msg_x"]
        .iter()
        .map(|id| item(id, 5))
        .collect();
    store
        .insert_conversation(&conversation("conv_o", "subj1", 5), &first, KEY)
        .await
        .unwrap();
    let more: Vec<_> = ["msg_w", "msg_v"].iter().map(|id| item(id, 5)).collect();
    let appended = store
        .append_conversation_items("conv_o", write("subj1", KEY, 6, None), &more)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        appended.iter().map(|i| i.position).collect::<Vec<_>>(),
        [3, 4]
    );
    let all = ["msg_z", "msg_y", "msg_x", "msg_w", "msg_v"];
    let asc = store
        .conversation_items("conv_o", &PageQuery::first(10, SortOrder::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&asc.items, |i| &i.id), all);
    assert!(!asc.has_more);
    let desc = store
        .conversation_items("conv_o", &PageQuery::first(2, SortOrder::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&desc.items, |i| &i.id), ["msg_v", "msg_w"]);
    assert!(desc.has_more);
    let next = store
        .conversation_items(
            "conv_o",
            &PageQuery {
                after: Some("msg_w".into()),
                ..PageQuery::first(2, SortOrder::Desc)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&next.items, |i| &i.id), ["msg_x", "msg_y"]);
    assert!(next.has_more);
    let before = store
        .conversation_items(
            "conv_o",
            &PageQuery {
                before: Some("msg_x".into()),
                ..PageQuery::first(10, SortOrder::Asc)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&before.items, |i| &i.id), ["msg_z", "msg_y"]);
    // A cursor naming another conversation's item is refused.
    store
        .insert_conversation(
            &conversation("conv_p", "subj1", 5),
            &[item("msg_q", 5)],
            KEY,
        )
        .await
        .unwrap();
    let err = store
        .conversation_items(
            "conv_o",
            &PageQuery {
                after: Some("msg_q".into()),
                ..PageQuery::first(2, SortOrder::Asc)
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCursor { .. }), "{err:?}");
    // Appending to no conversation adds nothing.
    assert_eq!(
        store
            .append_conversation_items(
                "conv_none",
                write("subj1", KEY, 7, None),
                &[item("msg_1", 7)]
            )
            .await
            .unwrap(),
        None
    );
    // An item id is unique within its conversation.
    assert!(store
        .append_conversation_items("conv_o", write("subj1", KEY, 8, None), &[item("msg_z", 8)])
        .await
        .is_err());
    let after_refusal = store
        .append_conversation_items("conv_o", write("subj1", KEY, 9, None), &[item("msg_u", 9)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after_refusal[0].position, 5,
        "the refused append took no position"
    );
}

async fn concurrent_appends_take_distinct_positions(location: String) {
    let store = open(&location).await;
    store
        .insert_conversation(&conversation("conv_c", "subj1", 1), &[], KEY)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let items: Vec<_> = (0..5).map(|i| item(&format!("msg_{t}_{i}"), 2)).collect();
                store
                    .append_conversation_items("conv_c", write("subj1", KEY, 2, None), &items)
                    .await
                    .unwrap()
                    .unwrap()
            })
        })
        .collect();
    let mut positions = Vec::new();
    for task in tasks {
        let stored = task.await.unwrap();
        // One append's items are consecutive.
        let first = stored[0].position;
        assert_eq!(
            stored.iter().map(|i| i.position).collect::<Vec<_>>(),
            (first..first + 5).collect::<Vec<_>>()
        );
        positions.extend(stored.iter().map(|i| i.position));
    }
    positions.sort_unstable();
    assert_eq!(positions, (0..40).collect::<Vec<_>>());
}

async fn deleted_items_leave_their_positions_unused(location: String) {
    let store = open(&location).await;
    store
        .insert_conversation(
            &conversation("conv_d", "subj1", 1),
            &[item("msg_1", 1), item("msg_2", 1), item("msg_3", 1)],
            KEY,
        )
        .await
        .unwrap();
    assert!(store
        .delete_conversation_item("conv_d", "msg_3", 50)
        .await
        .unwrap());
    assert!(!store
        .delete_conversation_item("conv_d", "msg_3", 60)
        .await
        .unwrap());
    assert_eq!(
        store
            .conversation("conv_d")
            .await
            .unwrap()
            .unwrap()
            .updated_ms,
        50,
        "a refused delete does not touch it"
    );
    let next = store
        .append_conversation_items(
            "conv_d",
            write("subj1", KEY, 70, None),
            &[item("msg_4", 70)],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next[0].position, 3);
    let page = store
        .conversation_items("conv_d", &PageQuery::first(10, SortOrder::Asc))
        .await
        .unwrap();
    assert_eq!(ids(&page.items, |i| &i.id), ["msg_1", "msg_2", "msg_4"]);
}

async fn owners_listings_run_by_last_update_and_keep_owners_apart(location: String) {
    let store = open(&location).await;
    for (id, owner, key, ms) in [
        ("conv_1", "subj1", KEY, 10),
        ("conv_2", "subj1", KEY, 20),
        ("conv_3", "subj2", KEY2, 30),
        ("conv_4", "subj1", KEY, 40),
    ] {
        store
            .insert_conversation(&conversation(id, owner, ms), &[], key)
            .await
            .unwrap();
    }
    // The oldest is written to last: it lists first, newest first.
    store
        .append_conversation_items(
            "conv_1",
            write("subj1", KEY, 50, None),
            &[item("msg_1", 50)],
        )
        .await
        .unwrap();
    let page = store
        .conversations("subj1", &PageQuery::first(2, SortOrder::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&page.items, |c| &c.id), ["conv_1", "conv_4"]);
    assert!(page.has_more);
    let rest = store
        .conversations(
            "subj1",
            &PageQuery {
                after: Some("conv_4".into()),
                ..PageQuery::first(10, SortOrder::Desc)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&rest.items, |c| &c.id), ["conv_2"]);
    assert!(!rest.has_more);
    // Another owner's conversation is not a cursor here.
    let err = store
        .conversations(
            "subj1",
            &PageQuery {
                after: Some("conv_3".into()),
                ..PageQuery::first(10, SortOrder::Desc)
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCursor { .. }), "{err:?}");
    let theirs = store
        .conversations("subj2", &PageQuery::first(10, SortOrder::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&theirs.items, |c| &c.id), ["conv_3"]);
}

async fn retention_deletes_only_what_ran_out(location: String) {
    let store = open(&location).await;
    let mut kept = conversation("conv_kept", "subj1", 1);
    kept.expires_ms = None;
    let mut old = conversation("conv_old", "subj1", 1);
    old.expires_ms = Some(100);
    let mut young = conversation("conv_young", "subj1", 1);
    young.expires_ms = Some(100);
    for c in [&kept, &old, &young] {
        store
            .insert_conversation(c, &[item("msg_1", 1)], KEY)
            .await
            .unwrap();
    }
    // Written to again: its retention counts from now.
    store
        .append_conversation_items(
            "conv_young",
            write("subj1", KEY, 90, Some(190)),
            &[item("msg_2", 90)],
        )
        .await
        .unwrap();
    assert_eq!(store.delete_expired_conversations(99).await.unwrap(), 0);
    assert_eq!(store.delete_expired_conversations(100).await.unwrap(), 1);
    assert_eq!(store.conversation("conv_old").await.unwrap(), None);
    assert_eq!(
        store.conversation_item("conv_old", "msg_1").await.unwrap(),
        None
    );
    assert!(store.conversation("conv_young").await.unwrap().is_some());
    assert_eq!(
        store.delete_expired_conversations(i64::MAX).await.unwrap(),
        1
    );
    assert!(store.conversation("conv_kept").await.unwrap().is_some());
}

async fn erasing_a_subject_deletes_its_conversations_only(location: String) {
    let store = open(&location).await;
    store
        .insert_conversation(
            &conversation("conv_e1", "subj1", 1),
            &[item("msg_1", 1)],
            KEY,
        )
        .await
        .unwrap();
    store
        .insert_conversation(
            &conversation("conv_e2", "subj2", 1),
            &[item("msg_1", 1)],
            KEY2,
        )
        .await
        .unwrap();
    assert!(store.delete_audit_subject("subj1").await.unwrap());
    assert_eq!(store.conversation("conv_e1").await.unwrap(), None);
    assert_eq!(
        store.conversation_item("conv_e1", "msg_1").await.unwrap(),
        None
    );
    assert!(store.conversation("conv_e2").await.unwrap().is_some());
    assert!(!store.delete_audit_subject("subj1").await.unwrap());
    // Content sealed under the erased key is refused from now on.
    let err = store
        .insert_conversation(&conversation("conv_e3", "subj1", 2), &[], KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyErased), "{err:?}");
    assert_eq!(store.conversation("conv_e3").await.unwrap(), None);
}

async fn writes_need_the_owners_current_key_and_stay_with_the_owner(location: String) {
    let store = open(&location).await;
    // A key stored first wins: the second one offered is not stored.
    assert!(!store
        .insert_audit_subject_key("subj1", b"another", 9)
        .await
        .unwrap());
    for wrong in [KEY2, &b"another"[..]] {
        let err = store
            .insert_conversation(
                &conversation("conv_w", "subj1", 1),
                &[item("msg_1", 1)],
                wrong,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::KeyErased), "{err:?}");
    }
    assert_eq!(store.conversation("conv_w").await.unwrap(), None);
    assert_eq!(
        store.conversation_item("conv_w", "msg_1").await.unwrap(),
        None
    );
    store
        .insert_conversation(&conversation("conv_w", "subj1", 1), &[], KEY)
        .await
        .unwrap();
    let err = store
        .append_conversation_items("conv_w", write("subj1", KEY2, 2, None), &[item("msg_1", 2)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyErased), "{err:?}");
    let err = store
        .update_conversation("conv_w", write("subj1", KEY2, 2, None), "k", b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyErased), "{err:?}");
    // Another owner, with their own valid key, finds no such conversation.
    assert_eq!(
        store
            .append_conversation_items("conv_w", write("subj2", KEY2, 2, None), &[item("msg_1", 2)])
            .await
            .unwrap(),
        None
    );
    assert!(!store
        .update_conversation("conv_w", write("subj2", KEY2, 2, None), "k", b"x")
        .await
        .unwrap());
    let page = store
        .conversation_items("conv_w", &PageQuery::first(10, SortOrder::Asc))
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(
        store.conversation("conv_w").await.unwrap().unwrap().sealed,
        b"sealed conv_w"
    );
}

async fn no_write_racing_an_erasure_outlives_it(location: String) {
    let store = open(&location).await;
    for round in 0..20 {
        let subject = format!("racer{round}");
        assert!(store
            .insert_audit_subject_key(&subject, KEY, 1)
            .await
            .unwrap());
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (store, subject) = (store.clone(), subject.clone());
                tokio::spawn(async move {
                    let id = format!("conv_{subject}_{w}");
                    match store
                        .insert_conversation(
                            &conversation(&id, &subject, 1),
                            &[item("msg_1", 1)],
                            KEY,
                        )
                        .await
                    {
                        Ok(_) | Err(StoreError::KeyErased) => {}
                        Err(e) => panic!("{e}"),
                    }
                })
            })
            .collect();
        let eraser = {
            let (store, subject) = (store.clone(), subject.clone());
            tokio::spawn(async move { store.delete_audit_subject(&subject).await.unwrap() })
        };
        for writer in writers {
            writer.await.unwrap();
        }
        assert!(eraser.await.unwrap());
        let left = store
            .conversations(&subject, &PageQuery::first(10, SortOrder::Asc))
            .await
            .unwrap();
        assert!(left.items.is_empty(), "round {round}: {:?}", left.items);
    }
}
