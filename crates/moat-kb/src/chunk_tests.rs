//! Tests of chunking: exact chunks for headings, packing, sentence cuts
//! with overlap, tables and pages, and a property test over random text.

#![allow(clippy::unwrap_used)]

use super::*;

/// A token counter, as [`chunk`] takes it.
type Counter = dyn Fn(&str) -> usize;

/// One token a whitespace-separated word: easy to count by eye.
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

fn settings(max_tokens: usize, overlap_tokens: usize) -> ChunkSettings {
    ChunkSettings {
        max_tokens,
        overlap_tokens,
    }
}

fn doc(blocks: Vec<Block>) -> Document {
    Document {
        title: "Handbook".into(),
        blocks,
        extractor: "test".into(),
    }
}

fn h(level: u8, text: &str) -> Block {
    Block::Heading {
        level,
        text: text.into(),
    }
}

fn p(text: &str) -> Block {
    Block::Paragraph { text: text.into() }
}

fn li(text: &str) -> Block {
    Block::ListItem { text: text.into() }
}

fn texts(chunks: &[Chunk]) -> Vec<&str> {
    chunks.iter().map(|chunk| chunk.text.as_str()).collect()
}

#[test]
fn headings_stack_by_level() {
    let document = doc(vec![
        p("Preface."),
        h(1, "A"),
        p("a"),
        h(2, "B"),
        p("b"),
        h(3, "C"),
        p("c"),
        h(2, "D"),
        p("d"),
        h(4, "E"),
        h(1, "F"),
        p("f"),
    ]);
    let chunks = chunk(&document, &ChunkSettings::default(), &estimate_tokens);
    let expected: Vec<Chunk> = [
        ("Preface.", vec![]),
        ("a", vec!["A"]),
        ("b", vec!["A", "B"]),
        ("c", vec!["A", "B", "C"]),
        ("d", vec!["A", "D"]),
        ("f", vec!["F"]),
    ]
    .into_iter()
    .enumerate()
    .map(|(ordinal, (text, headings))| Chunk {
        ordinal: ordinal as u32,
        text: text.into(),
        title: "Handbook".into(),
        headings: headings.into_iter().map(String::from).collect(),
        page: None,
    })
    .collect();
    assert_eq!(chunks, expected);
}

#[test]
fn short_paragraphs_and_list_items_are_packed_whole() {
    let document = doc(vec![
        p("one two three four five"),
        p("six seven eight nine ten"),
        li("alpha beta"),
        li("gamma delta"),
        p("eleven twelve thirteen fourteen fifteen"),
        p("  \n "),
    ]);
    // "- " counts one word.
    let chunks = chunk(&document, &settings(16, 0), &word_count);
    assert_eq!(
        texts(&chunks),
        vec![
            "one two three four five\n\nsix seven eight nine ten\n\n- alpha beta\n- gamma delta",
            "eleven twelve thirteen fourteen fifteen",
        ]
    );
}

#[test]
fn a_long_paragraph_is_cut_at_sentence_ends_with_overlap() {
    let sentences: Vec<String> = (1..=8)
        .map(|n| format!("Sentence {n} has five words."))
        .collect();
    let document = doc(vec![p(&sentences.join(" ")), h(1, "Next"), p("After.")]);
    let chunks = chunk(&document, &settings(16, 6), &word_count);
    let joined = |range: std::ops::RangeInclusive<usize>| {
        sentences[range.start() - 1..*range.end()].join(" ")
    };
    assert_eq!(
        texts(&chunks),
        vec![
            joined(1..=3),
            joined(3..=5),
            joined(5..=7),
            joined(7..=8),
            "After.".into(),
        ]
    );
    assert_eq!(chunks[4].headings, vec!["Next"]);
}

#[test]
fn overlap_never_crosses_a_heading() {
    let document = doc(vec![
        p("One two three four. Five six seven eight. Nine ten eleven twelve. Thirteen to sixteen now, seventeen."),
        h(2, "Section"),
        p("Eighteen nineteen."),
    ]);
    let chunks = chunk(&document, &settings(16, 5), &word_count);
    assert_eq!(
        texts(&chunks),
        vec![
            "One two three four. Five six seven eight. Nine ten eleven twelve.",
            "Nine ten eleven twelve. Thirteen to sixteen now, seventeen.",
            "Eighteen nineteen.",
        ]
    );
}

#[test]
fn a_long_chinese_paragraph_is_cut_at_chinese_sentence_ends() {
    // 8, 5, 5 and 5 tokens by the estimate: one a character.
    let cycle = "春天来了花开了。你喜欢吗！为什么呢？因为很美；";
    let paragraph = cycle.repeat(5);
    let document = doc(vec![p(&paragraph)]);
    let settings = settings(20, 6);
    let chunks = chunk(&document, &settings, &estimate_tokens);
    assert_eq!(
        texts(&chunks)[..4],
        [
            "春天来了花开了。你喜欢吗！为什么呢？",
            "为什么呢？因为很美；春天来了花开了。",
            "你喜欢吗！为什么呢？因为很美；",
            "因为很美；春天来了花开了。你喜欢吗！",
        ]
    );
    for chunk in &chunks {
        assert!(estimate_tokens(&chunk.text) <= 20, "{}", chunk.text);
        assert!(
            chunk.text.ends_with(['。', '！', '？', '；']),
            "{}",
            chunk.text
        );
    }
    assert_covers(&[paragraph.as_str()], &chunks);
}

#[test]
fn a_long_table_repeats_its_header_in_every_chunk() {
    let header = vec!["id".to_owned(), "name".to_owned()];
    let mut blocks = vec![h(1, "Staff")];
    for id in 0..200 {
        blocks.push(Block::TableRow {
            header: header.clone(),
            cells: vec![id.to_string(), format!("name {id}")],
        });
    }
    let chunks = chunk(&doc(blocks), &settings(50, 10), &estimate_tokens);
    // The header line is 5 tokens, each row 6: seven rows a chunk.
    assert_eq!(chunks.len(), 29);
    assert_eq!(
        chunks[0].text,
        "| id | name |\n| 0 | name 0 |\n| 1 | name 1 |\n| 2 | name 2 |\n| 3 | name 3 |\n\
         | 4 | name 4 |\n| 5 | name 5 |\n| 6 | name 6 |"
    );
    let mut rows = Vec::new();
    for chunk in &chunks {
        assert!(estimate_tokens(&chunk.text) <= 50);
        assert_eq!(chunk.headings, vec!["Staff"]);
        let mut lines = chunk.text.lines();
        assert_eq!(lines.next(), Some("| id | name |"));
        rows.extend(lines.map(str::to_owned));
    }
    let expected: Vec<String> = (0..200).map(|id| format!("| {id} | name {id} |")).collect();
    assert_eq!(rows, expected);
}

#[test]
fn a_table_after_text_starts_with_its_header_and_no_overlap() {
    let header = vec!["k".to_owned(), "v".to_owned()];
    let row = |k: &str, v: &str| Block::TableRow {
        header: header.clone(),
        cells: vec![k.into(), v.into()],
    };
    let document = doc(vec![
        p("Intro words here."),
        row("a", "1"),
        row("b", "2"),
        row("c", "3"),
        p("Closing words."),
    ]);
    // A header line or a row is 5 words: | k | v |
    let chunks = chunk(&document, &settings(20, 5), &word_count);
    assert_eq!(
        texts(&chunks),
        vec![
            "Intro words here.\n\n| k | v |\n| a | 1 |\n| b | 2 |",
            "| k | v |\n| c | 3 |\n\nClosing words.",
        ]
    );
}

#[test]
fn chunks_carry_the_page_they_start_on() {
    let ten = "w w w w w w w w w w";
    let document = doc(vec![
        Block::Page { number: 1 },
        p(ten),
        Block::Page { number: 2 },
        p(ten),
        Block::Page { number: 3 },
        p("x y z"),
    ]);
    let chunks = chunk(&document, &settings(16, 0), &word_count);
    let pages: Vec<Option<u32>> = chunks.iter().map(|chunk| chunk.page).collect();
    assert_eq!(pages, vec![Some(1), Some(2)]);
    assert_eq!(chunks[1].text, format!("{ten}\n\nx y z"));
}

#[test]
fn a_ten_thousand_character_word_is_cut_between_characters() {
    let word = "a".repeat(10_000);
    let chunks = chunk(&doc(vec![p(&word)]), &settings(100, 20), &estimate_tokens);
    assert_eq!(chunks.len(), 25);
    assert!(chunks.iter().all(|chunk| chunk.text.len() == 400));
    let joined: String = chunks.iter().map(|chunk| chunk.text.as_str()).collect();
    assert_eq!(joined, word);

    // Multi-byte characters, a combining accent and emoji joined by ZWJ are
    // never cut apart.
    let cluster = "e\u{301}中👩\u{200D}💻";
    let word = cluster.repeat(2_000);
    let chunks = chunk(&doc(vec![p(&word)]), &settings(16, 0), &estimate_tokens);
    for chunk in &chunks {
        assert!(estimate_tokens(&chunk.text) <= 16);
        assert!(!chunk.text.starts_with('\u{301}'));
        assert!(!chunk.text.starts_with('\u{200D}') && !chunk.text.starts_with('💻'));
    }
    let joined: String = chunks.iter().map(|chunk| chunk.text.as_str()).collect();
    assert_eq!(joined, word);
}

#[test]
fn a_character_over_the_limit_stands_alone() {
    // A counter for which every character is 100 tokens.
    let heavy = |text: &str| text.chars().count() * 100;
    let chunks = chunk(&doc(vec![p("abc")]), &settings(16, 0), &heavy);
    assert_eq!(texts(&chunks), vec!["a", "b", "c"]);
}

#[test]
fn settings_are_validated_or_clamped() {
    assert!(ChunkSettings::default().validate().is_ok());
    assert_eq!(ChunkSettings::new(400, 80), Ok(settings(400, 80)));
    assert_eq!(
        ChunkSettings::new(8, 0).unwrap_err().to_string(),
        "max_tokens must be at least 16, not 8"
    );
    assert_eq!(
        ChunkSettings::new(100, 50).unwrap_err().to_string(),
        "overlap_tokens must be less than half of max_tokens (50), not 50"
    );
    assert_eq!(settings(0, 99).clamped(), settings(16, 7));
    assert_eq!(settings(400, 300).clamped(), settings(400, 199));
    // chunk() clamps: a zero budget still yields chunks.
    let chunks = chunk(&doc(vec![p("one two three")]), &settings(0, 0), &word_count);
    assert_eq!(texts(&chunks), vec!["one two three"]);
}

#[test]
fn estimate_counts_words_by_four_characters_and_cjk_by_one() {
    assert_eq!(estimate_tokens(""), 0);
    assert_eq!(estimate_tokens("  \n\t "), 0);
    assert_eq!(estimate_tokens("The quick brown fox."), 7);
    assert_eq!(estimate_tokens("internationalization"), 5);
    assert_eq!(estimate_tokens("你好，世界！"), 6);
    assert_eq!(estimate_tokens("GPU显卡2块"), 5);
    assert_eq!(estimate_tokens("😀 -- ok"), 4);
}

#[test]
fn sentences_end_after_their_closing_quotes_and_spaces() {
    assert_eq!(
        sentences("He said \"Stop.\" Then left!  Why? 3.14 is pi.\nNext"),
        vec![
            "He said \"Stop.\" ",
            "Then left!  ",
            "Why? ",
            "3.14 is pi.\n",
            "Next"
        ]
    );
    assert_eq!(
        sentences("他说：“走吧。”然后离开！为什么？好；"),
        vec!["他说：“走吧。”", "然后离开！", "为什么？", "好；"]
    );
    assert_eq!(
        super::words("  lead and  trail "),
        vec!["  lead ", "and  ", "trail "]
    );
}

// ---- property test ----

/// xorshift64*: a small deterministic generator, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Characters of every kind chunking treats differently.
const POOL: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "A",
    "Q",
    "Z",
    "0",
    "7",
    "9",
    " ",
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\t",
    ".",
    "!",
    "?",
    ",",
    ";",
    "\"",
    ")",
    "-",
    "|",
    "中",
    "文",
    "字",
    "的",
    "是",
    "。",
    "！",
    "？",
    "；",
    "，",
    "”",
    "」",
    "ア",
    "한",
    "é",
    "ß",
    "ж",
    "\u{301}",
    "\u{200D}",
    "😀",
    "👩\u{200D}💻",
    "\u{FE0F}",
    "\u{3000}",
    "\u{A0}",
];

fn random_text(rng: &mut Rng, length: usize) -> String {
    let letters: Vec<&str> = POOL
        .iter()
        .copied()
        .filter(|pick| pick.chars().all(char::is_alphabetic))
        .collect();
    let mut text = String::new();
    while text.chars().count() < length {
        let pick = POOL[rng.below(POOL.len())];
        text.push_str(pick);
        if letters.contains(&pick) {
            // A word, some long enough to need cutting.
            let longest = if rng.below(20) == 0 { 400 } else { 8 };
            for _ in 0..rng.below(longest) {
                text.push_str(letters[rng.below(letters.len())]);
            }
        }
    }
    text
}

/// The chunks, overlaps removed, hold every visible character of
/// `paragraphs` in order.
fn assert_covers(paragraphs: &[&str], chunks: &[Chunk]) {
    let visible =
        |text: &str| -> Vec<char> { text.chars().filter(|c| !c.is_whitespace()).collect() };
    let expected: Vec<char> = paragraphs.iter().flat_map(|text| visible(text)).collect();
    let mut at = 0;
    for chunk in chunks {
        let got = visible(&chunk.text);
        let overlap = (0..=got.len().min(at))
            .rev()
            .find(|overlap| {
                expected[at - overlap..at] == got[..*overlap]
                    && expected[at..].starts_with(&got[*overlap..])
            })
            .unwrap_or_else(|| {
                panic!(
                    "chunk {} does not continue the text: {:?}",
                    chunk.ordinal, chunk.text
                )
            });
        at += got.len() - overlap;
    }
    assert_eq!(at, expected.len(), "the chunks end before the text");
}

#[test]
fn random_text_chunks_fit_and_cover_everything() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let max_tokens = 16 + rng.below(120);
        let overlap_tokens = rng.below(max_tokens / 2);
        let settings = settings(max_tokens, overlap_tokens);
        let mut blocks = Vec::new();
        let mut paragraphs = Vec::new();
        for _ in 0..1 + rng.below(4) {
            if rng.below(4) == 0 {
                blocks.push(h(1 + rng.below(3) as u8, &random_text(&mut rng, 5)));
            }
            let length = rng.below(1500);
            let text = random_text(&mut rng, length);
            paragraphs.push(text.clone());
            blocks.push(p(&text));
        }
        let document = doc(blocks);
        let chunks = chunk(&document, &settings, &estimate_tokens);
        for (ordinal, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.ordinal as usize, ordinal);
            assert!(!chunk.text.is_empty());
            assert_eq!(chunk.text.trim(), chunk.text);
            assert!(
                estimate_tokens(&chunk.text) <= max_tokens,
                "round {round}: {} tokens over {max_tokens}: {:?}",
                estimate_tokens(&chunk.text),
                chunk.text
            );
        }
        let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
        assert_covers(&paragraphs, &chunks);
    }
}

#[test]
fn random_documents_of_every_kind_fit_under_any_counter() {
    // Counters that do not add up: with `ceiling` a joined text counts less
    // than its pieces (and the empty string one), with `floor` more, which
    // only the count of each finished chunk catches.
    let ceiling = |text: &str| text.len() / 3 + 1;
    let floor = |text: &str| text.len() / 3;
    let counters: [(&str, &Counter); 4] = [
        ("estimate", &estimate_tokens),
        ("words", &word_count),
        ("ceiling", &ceiling),
        ("floor", &floor),
    ];
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for round in 0..200 {
        let max_tokens = 16 + rng.below(100);
        let settings = settings(max_tokens, rng.below(max_tokens / 2));
        let mut blocks = Vec::new();
        for _ in 0..rng.below(12) {
            let length = rng.below(600);
            blocks.push(match rng.below(5) {
                0 => h(1 + rng.below(6) as u8, &random_text(&mut rng, 10)),
                1 => li(&random_text(&mut rng, length)),
                2 => Block::Page {
                    number: rng.below(9) as u32,
                },
                3 => {
                    let header = (0..rng.below(4))
                        .map(|_| random_text(&mut rng, 8))
                        .collect();
                    let cells = (0..rng.below(5))
                        .map(|_| random_text(&mut rng, length / 4))
                        .collect();
                    Block::TableRow { header, cells }
                }
                _ => p(&random_text(&mut rng, length)),
            });
        }
        let document = doc(blocks);
        for (name, counter) in counters {
            let chunks = chunk(&document, &settings, counter);
            for (ordinal, chunk) in chunks.iter().enumerate() {
                assert_eq!(chunk.ordinal as usize, ordinal);
                assert!(!chunk.text.is_empty());
                let tokens = counter(&chunk.text);
                let single = chunk.text.chars().count() == 1;
                assert!(
                    tokens <= max_tokens || single,
                    "round {round}, {name}: {tokens} tokens over {max_tokens}: {:?}",
                    chunk.text
                );
            }
        }
    }
}

#[test]
fn embedding_text_puts_title_and_headings_above_the_text_once() {
    let headings = vec!["Travel policy".to_owned(), "Hotels".to_owned()];
    assert_eq!(
        embedding_text("Travel policy", &headings, "Up to 180 euros."),
        "Travel policy › Hotels\nUp to 180 euros."
    );
    assert_eq!(embedding_text("", &[], "Just text."), "Just text.");
    assert_eq!(embedding_text("", &headings[1..], "x"), "Hotels\nx");
}
