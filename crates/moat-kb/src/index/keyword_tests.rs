//! Tests of the keyword index: Chinese and identifier matching, stemming,
//! access control inside the scan, deletes, hostile queries, persistence.

#![allow(clippy::unwrap_used)]

use super::*;
use std::collections::HashMap;

fn entry<'a>(key: u64, file: u32, text: &'a str) -> KeywordEntry<'a> {
    KeywordEntry {
        key: ChunkKey(key),
        file: FileNo(file),
        text,
        title: "",
        headings: &[],
    }
}

fn index_of(entries: &[KeywordEntry<'_>]) -> KeywordIndex {
    let mut index = KeywordIndex::in_memory().unwrap();
    index.add(entries).unwrap();
    index.commit().unwrap();
    index
}

fn keys(hits: &[(ChunkKey, f32)]) -> Vec<u64> {
    hits.iter().map(|(key, _)| key.0).collect()
}

fn search(index: &KeywordIndex, query: &str) -> Vec<u64> {
    keys(&index.search(query, 10, &AllowedFiles::all()).unwrap())
}

#[test]
fn chinese_contract_found_by_words_and_by_its_number() {
    let index = index_of(&[
        entry(1, 1, "合同编号HT-2024-5082的付款期限为三十天。"),
        entry(2, 2, "合同编号HT-2024-5083的交货地点为上海。"),
        entry(3, 3, "The meeting is on Monday."),
    ]);
    assert_eq!(search(&index, "付款期限"), vec![1]);
    let by_number = index
        .search("HT-2024-5082", 10, &AllowedFiles::all())
        .unwrap();
    assert_eq!(keys(&by_number), vec![1, 2]);
    assert!(by_number[0].1 > by_number[1].1);
    assert_eq!(search(&index, "ht-2024-5083")[0], 2);
    assert_eq!(search(&index, "ＨＴ－２０２４－５０８２")[0], 1);
}

#[test]
fn chinese_question_without_spaces_finds_the_chinese_chunk_first() {
    let index = index_of(&[
        entry(
            1,
            1,
            "Payment terms: the invoice is due within thirty days.",
        ),
        entry(2, 1, "会议纪要：项目进度良好，下周进行验收。"),
        entry(3, 2, "本合同的付款期限为三十天，逾期需支付违约金。"),
        entry(4, 2, "员工手册规定每年有十五天带薪年假。"),
    ]);
    assert_eq!(search(&index, "合同的付款期限是多少天")[0], 3);
    assert_eq!(search(&index, "带薪年假有几天")[0], 4);
}

#[test]
fn unknown_names_match_by_bigrams() {
    let index = index_of(&[
        entry(1, 1, "项目负责人是欧阳娜娜，联系电话见附件。"),
        entry(2, 1, "项目负责人是张三。"),
    ]);
    assert_eq!(search(&index, "欧阳娜娜")[0], 1);
}

#[test]
fn english_words_match_their_other_forms() {
    let index = index_of(&[
        entry(1, 1, "The approval of the budget is pending."),
        entry(2, 1, "She approves every request."),
        entry(3, 1, "Nothing relevant here."),
    ]);
    let mut approved = search(&index, "approved");
    approved.sort_unstable();
    assert_eq!(approved, vec![1, 2]);
    assert_eq!(search(&index, "BUDGETS"), vec![1]);
}

#[test]
fn identifiers_match_whole_and_by_parts() {
    let index = index_of(&[
        entry(1, 1, "Spare part KX-310A fits model E37."),
        entry(2, 1, "Standard GB/T 22239-2019 applies."),
    ]);
    assert_eq!(search(&index, "kx-310a"), vec![1]);
    assert_eq!(search(&index, "E37"), vec![1]);
    assert_eq!(search(&index, "22239"), vec![2]);
    assert_eq!(search(&index, "GB/T 22239-2019"), vec![2]);
}

#[test]
fn title_and_headings_are_searched() {
    let headings = vec!["Reimbursement".to_owned(), "Travel".to_owned()];
    let mut index = KeywordIndex::in_memory().unwrap();
    index
        .add(&[
            KeywordEntry {
                key: ChunkKey(1),
                file: FileNo(1),
                text: "Keep every receipt.",
                title: "Expense policy",
                headings: &headings,
            },
            entry(2, 2, "Keep every receipt for travel."),
        ])
        .unwrap();
    index.commit().unwrap();
    assert_eq!(search(&index, "reimbursement"), vec![1]);
    assert_eq!(search(&index, "expense policy"), vec![1]);
}

#[test]
fn a_forbidden_file_is_never_returned_and_the_limit_is_filled() {
    let index = index_of(&[
        entry(1, 7, "salary salary salary salary table"),
        entry(2, 1, "salary review"),
        entry(3, 2, "salary of the board"),
        entry(4, 3, "salary bands and more words here"),
    ]);
    assert_eq!(search(&index, "salary")[0], 1);
    let allowed = AllowedFiles::only([FileNo(1), FileNo(2), FileNo(3)]);
    let hits = index.search("salary", 2, &allowed).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(!keys(&hits).contains(&1));
    let all_allowed = keys(&index.search("salary", 10, &allowed).unwrap());
    let mut sorted = all_allowed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![2, 3, 4]);
    assert!(index
        .search("salary", 10, &AllowedFiles::none())
        .unwrap()
        .is_empty());
}

#[test]
fn deleted_file_disappears_at_commit() {
    let mut index = index_of(&[
        entry(1, 1, "quarterly report"),
        entry(2, 2, "quarterly plan"),
    ]);
    assert_eq!(index.len(), 2);
    index.delete_file(FileNo(1));
    assert_eq!(search(&index, "quarterly"), vec![1, 2], "not before commit");
    index.commit().unwrap();
    assert_eq!(search(&index, "quarterly"), vec![2]);
    assert_eq!(index.len(), 1);
    assert_eq!(index.files().unwrap(), [FileNo(2)]);
    // Delete then add again: the new chunks stay.
    index.delete_file(FileNo(2));
    index
        .add(&[entry(3, 2, "quarterly plan, revised")])
        .unwrap();
    index.commit().unwrap();
    assert_eq!(search(&index, "quarterly"), vec![3]);
    index
        .add(&[entry(9, 7, "annex"), entry(8, 7, "annex b")])
        .unwrap();
    assert_eq!(index.files().unwrap(), [FileNo(2)], "not before commit");
    index.commit().unwrap();
    assert_eq!(index.files().unwrap(), [FileNo(2), FileNo(7)]);
}

#[test]
fn hostile_queries_do_not_fail() {
    let index = index_of(&[entry(1, 1, "title x and more")]);
    let many_words = "word ".repeat(10_000);
    let queries = [
        "\"",
        "AND (",
        "title:x",
        "",
        "   ",
        "😀😀",
        "\u{301}",
        "\0",
        "a\0title",
        "*?~^[]{}!",
        &many_words,
    ];
    for query in queries {
        assert!(
            index.search(query, 10, &AllowedFiles::all()).is_ok(),
            "{query:?}"
        );
    }
    assert_eq!(search(&index, "title:x"), vec![1]);
    assert!(search(&index, "").is_empty());
    assert!(search(&index, "\u{301}").is_empty());
    assert!(index
        .search("title", 0, &AllowedFiles::all())
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .search("title", usize::MAX, &AllowedFiles::all())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn oversized_text_is_refused_and_nothing_is_added() {
    let mut index = KeywordIndex::in_memory().unwrap();
    let long = "a ".repeat(MAX_TEXT_BYTES);
    let result = index.add(&[entry(1, 1, "fine"), entry(2, 1, &long)]);
    assert!(matches!(result, Err(IndexError::TextTooLong { .. })));
    index.commit().unwrap();
    assert_eq!(index.len(), 0);
}

#[test]
fn committed_chunks_survive_reopening_uncommitted_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut index = KeywordIndex::create_in_dir(dir.path()).unwrap();
        index.add(&[entry(1, 1, "durable words")]).unwrap();
        index.commit().unwrap();
        index.add(&[entry(2, 1, "lost words")]).unwrap();
    }
    let index = KeywordIndex::open(dir.path()).unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(search(&index, "words"), vec![1]);
    // The file's whole entry came back too: the chunk gets its evidence.
    let (_, score) = index.search("durable", 1, &AllowedFiles::all()).unwrap()[0];
    assert!(close(score, 1.0 + DOCUMENT_WEIGHT), "{score}");
    assert!(!KeywordIndex::exists_in(&dir.path().join("elsewhere")));
}

/// Two editions of one policy by two owners: the same clause, the owner
/// named only in the first chunk.
fn two_owners() -> Vec<(u64, u32, &'static str)> {
    vec![
        (
            1,
            1,
            "Acme Bank travel policy, 2024 edition. Applies to all staff.",
        ),
        (
            2,
            1,
            "Hotel costs are reimbursed within thirty days of the trip.",
        ),
        (
            3,
            2,
            "Globex Insurance travel policy, 2024 edition. Applies to all staff.",
        ),
        (
            4,
            2,
            "Hotel costs are reimbursed within thirty days of the trip.",
        ),
    ]
}

fn entries(rows: &[(u64, u32, &'static str)]) -> Vec<KeywordEntry<'static>> {
    rows.iter()
        .map(|(key, file, text)| entry(*key, *file, text))
        .collect()
}

#[test]
fn the_whole_file_tells_near_duplicate_clauses_apart() {
    let index = index_of(&entries(&two_owners()));
    let question = "How soon does Acme reimburse hotel costs?";
    // By their own words the two clauses tie (smaller key first).
    let alone = index
        .search_chunks(question, 10, &AllowedFiles::all())
        .unwrap();
    let clause =
        |hits: &[(ChunkKey, f32)], key: u64| hits.iter().find(|(k, _)| k.0 == key).map(|(_, s)| *s);
    assert_eq!(clause(&alone, 2), clause(&alone, 4));
    // With their files' evidence Acme's clause comes first, Globex's last.
    let hits = index.search(question, 10, &AllowedFiles::all()).unwrap();
    assert_eq!(keys(&hits)[0], 2, "{hits:?}");
    assert!(clause(&hits, 2) > clause(&hits, 4), "{hits:?}");
    assert_eq!(keys(&hits).last(), Some(&4), "{hits:?}");
    assert!(close(hits[0].1, 1.0 + DOCUMENT_WEIGHT), "{hits:?}");
    let globex = keys(
        &index
            .search("Globex hotel costs", 10, &AllowedFiles::all())
            .unwrap(),
    );
    assert_eq!(globex[0], 4);
}

#[test]
fn a_replaced_file_is_judged_whole_by_its_new_text_only() {
    let mut index = index_of(&entries(&two_owners()));
    // Acme's policy replaced by one that no longer names Acme.
    index.delete_file(FileNo(1));
    index
        .add(&entries(&[
            (5, 1, "Travel policy, 2025 edition."),
            (
                6,
                1,
                "Hotel costs are reimbursed within thirty days of the trip.",
            ),
        ]))
        .unwrap();
    index.commit().unwrap();
    let hits = index
        .search(
            "How soon does Acme reimburse hotel costs?",
            10,
            &AllowedFiles::all(),
        )
        .unwrap();
    assert!(!keys(&hits).iter().any(|k| [1, 2].contains(k)), "{hits:?}");
    assert!(
        keys(&hits).contains(&6) && keys(&hits).contains(&4),
        "{hits:?}"
    );
    // The old whole entry went with the old chunks: no file names Acme.
    let acme = index
        .files
        .search(&query_terms("Acme", 8), 10, &AllowedFiles::all())
        .unwrap();
    assert!(acme.is_empty(), "{acme:?}");
    // Chunks added again with no delete first replace the whole entry.
    index
        .add(&entries(&[(7, 2, "Globex Insurance annex on travel.")]))
        .unwrap();
    index.commit().unwrap();
    let files = index
        .files
        .search(&query_terms("travel", 8), 10, &AllowedFiles::all())
        .unwrap();
    assert_eq!(
        files.iter().filter(|h| h.2 == FileNo(2)).count(),
        1,
        "{files:?}"
    );
}

#[test]
fn a_forbidden_file_lends_no_evidence_to_another() {
    // Only file 2 is allowed: file 1's whole entry, which names Acme, is
    // not ranked, so it cannot change the allowed chunks' order or scores.
    let index = index_of(&entries(&two_owners()));
    let only_globex = AllowedFiles::only([FileNo(2)]);
    let alone = index_of(&entries(&two_owners()[2..]));
    let question = "Acme hotel costs Globex";
    assert_eq!(
        index.search(question, 10, &only_globex).unwrap(),
        alone.search(question, 10, &AllowedFiles::all()).unwrap()
    );
}

#[test]
fn a_folder_with_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for part in [CHUNKS_DIR, FILES_DIR] {
        let mut builder = Schema::builder();
        builder.add_text_field("body", TextOptions::default());
        std::fs::create_dir(dir.path().join(part)).unwrap();
        Index::create_in_dir(dir.path().join(part), builder.build()).unwrap();
    }
    assert!(KeywordIndex::exists_in(dir.path()));
    let result = KeywordIndex::open(dir.path());
    assert!(
        matches!(result, Err(IndexError::Schema { .. })),
        "{result:?}"
    );
}

#[test]
fn scores_ignore_forbidden_files_statistics() {
    let mixed = index_of(&[
        entry(1, 1, "salary review for the team"),
        entry(2, 1, "holiday plan"),
        entry(3, 9, "salary salary bonus bonus secret"),
        entry(4, 9, "salary table"),
    ]);
    let alone = index_of(&[
        entry(1, 1, "salary review for the team"),
        entry(2, 1, "holiday plan"),
    ]);
    let allowed = AllowedFiles::only([FileNo(1)]);
    let from_mixed = mixed.search("salary bonus", 10, &allowed).unwrap();
    let from_alone = alone
        .search("salary bonus", 10, &AllowedFiles::all())
        .unwrap();
    assert_eq!(keys(&from_mixed), vec![1]);
    assert_eq!(from_mixed, from_alone);
    // With every file allowed the forbidden chunks do weigh in.
    let all = mixed.search("salary", 10, &AllowedFiles::all()).unwrap();
    let score_1 = all.iter().find(|(key, _)| key.0 == 1).map(|(_, s)| *s);
    assert_ne!(score_1, Some(from_alone[0].1));
    // No allowed chunk at all: nothing, not an error.
    let other = AllowedFiles::only([FileNo(5)]);
    assert!(mixed.search("salary", 10, &other).unwrap().is_empty());
}

/// Every live chunk of `allowed` files scored, no pruning: the ranking a
/// search must equal.
fn exhaustive(
    index: &KeywordIndex,
    text: &str,
    limit: usize,
    allowed: &AllowedFiles,
) -> Vec<(ChunkKey, f32)> {
    use tantivy::query::EnableScoring;
    let query = index.chunks.query(&query_terms(text, MAX_QUERY_TERMS));
    let searcher = index.chunks.reader.searcher();
    let statistics = AllowedStatistics::new(&searcher, FILE, allowed).unwrap();
    let scoring = if allowed.is_all() {
        EnableScoring::enabled_from_searcher(&searcher)
    } else {
        EnableScoring::enabled_from_statistics_provider(&statistics, &searcher)
    };
    let weight = query.weight(scoring).unwrap();
    let mut top = TopChunks::new(limit);
    for reader in searcher.segment_readers() {
        let fast = reader.fast_fields();
        let (keys, files) = (fast.u64(KEY).unwrap(), fast.u64(FILE).unwrap());
        let alive = reader.alive_bitset();
        let mut scorer = weight.scorer(reader, 1.0).unwrap();
        let mut doc = scorer.doc();
        while doc != tantivy::TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) && file_allowed(&files, doc, allowed) {
                top.push(ChunkKey(keys.first(doc).unwrap()), scorer.score());
            }
            doc = scorer.advance();
        }
    }
    top.into_sorted()
}

#[test]
fn pruned_search_ranks_exactly_as_scoring_every_chunk() {
    // Long posting lists (every chunk holds most words), many score ties
    // (repeated texts), deletes and a restricted set: the cases where
    // skipping blocks could drop or reorder a result.
    let texts: Vec<String> = (0..3_000).map(|i| synthetic_chunk(i % 700)).collect();
    let entries: Vec<KeywordEntry<'_>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| entry(i as u64, (i / 10) as u32, text))
        .collect();
    let mut index = index_of(&entries);
    index.delete_file(FileNo(7));
    index.commit().unwrap();
    let some = AllowedFiles::only((0..300).filter(|n| n % 3 != 0).map(FileNo));
    for allowed in [AllowedFiles::all(), some] {
        for query in [
            "合同的付款期限",
            "HT-2024-0042",
            "budget approval travel",
            "违约金 invoice",
            "review",
        ] {
            let whole: HashMap<ChunkKey, f32> = exhaustive(&index, query, usize::MAX, &allowed)
                .into_iter()
                .collect();
            for limit in [1, 10, 40] {
                let pruned = index.search_chunks(query, limit, &allowed).unwrap();
                let every = exhaustive(&index, query, limit, &allowed);
                // Block scoring sums in another order, so a score may differ
                // in its last bits and two chunks of equal score may swap:
                // rank by rank the scores agree, and each chunk returned
                // has the score scoring every chunk gives it.
                assert_eq!(pruned.len(), every.len(), "{query} top {limit}");
                for ((key, a), (_, b)) in pruned.iter().zip(&every) {
                    assert!(close(*a, *b), "{query} top {limit}: {pruned:?} {every:?}");
                    assert!(close(*a, whole[key]), "{query} top {limit}: {key:?}");
                }
            }
        }
    }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * b.abs()
}

/// Synthetic chunks mixing Chinese, English and identifiers.
fn synthetic_chunk(i: u64) -> String {
    const CHINESE: [&str; 12] = [
        "合同",
        "付款",
        "期限",
        "供应商",
        "验收",
        "违约金",
        "发票",
        "项目",
        "审批",
        "预算",
        "会议",
        "报告",
    ];
    const ENGLISH: [&str; 10] = [
        "approval", "budget", "invoice", "delivery", "contract", "report", "meeting", "policy",
        "travel", "review",
    ];
    let mut seed = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut text = String::new();
    for _ in 0..40 {
        text.push_str(CHINESE[next(CHINESE.len())]);
    }
    text.push_str("。 ");
    for _ in 0..30 {
        text.push_str(ENGLISH[next(ENGLISH.len())]);
        text.push(' ');
    }
    text.push_str(&format!("HT-2024-{:04}", i % 10_000));
    text
}

/// `cargo test --release -p moat-kb -- --ignored --nocapture keyword_speed`
#[test]
#[ignore = "timing, run by hand in release"]
fn keyword_speed_100k_chunks() {
    let count = 100_000u64;
    let texts: Vec<String> = (0..count).map(synthetic_chunk).collect();
    let mut index = KeywordIndex::in_memory().unwrap();
    let start = std::time::Instant::now();
    for (batch, chunk) in texts.chunks(1000).enumerate() {
        let entries: Vec<KeywordEntry<'_>> = chunk
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let key = batch as u64 * 1000 + i as u64;
                entry(key, (key / 10) as u32, text)
            })
            .collect();
        index.add(&entries).unwrap();
    }
    index.commit().unwrap();
    let indexing = start.elapsed();
    let queries = [
        "合同的付款期限是多少",
        "HT-2024-5082",
        "budget approval for travel",
        "供应商违约金",
        "meeting report review",
    ];
    let some = AllowedFiles::only((0..10_000).filter(|n| n % 10 != 3).map(FileNo));
    for (name, allowed) in [("all files", AllowedFiles::all()), ("90% of files", some)] {
        let mut times = Vec::new();
        for _ in 0..5 {
            for query in queries {
                let start = std::time::Instant::now();
                let hits = index.search(query, 20, &allowed).unwrap();
                times.push(start.elapsed());
                assert_eq!(hits.len(), 20);
            }
        }
        times.sort();
        eprintln!(
            "keyword search over {count} chunks, {name}: p50 {:?}, max {:?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    eprintln!("indexing {count} chunks: {indexing:?}");
}
