//! Streaming restore: placeholders split across chunks at every position
//! give the same text as restoring the whole output at once, and nothing
//! that cannot begin a placeholder is held back.

// Helpers of a test crate fail loudly too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use moat_guard::{Policy, PseudonymVault, Scanner, StreamRestorer};
use support::{random_chunks, Rng};

const INPUT: &str = "客户张三，身份证11010519491231002X，手机13812345678，\
                     邮箱zhang.san@example.com，卡号6222021234567890128。";
const PLACEHOLDERS: [&str; 4] = ["<ID_CARD_1>", "<PHONE_1>", "<EMAIL_1>", "<BANK_CARD_1>"];
const OUTPUT: &str = "好的，<ID_CARD_1>的客户（电话<PHONE_1>）已登记。<<PHONE_1>> <PHONE_9> \
                      <EMAIL_1><BANK_CARD_1>< PHONE_1> <PHONE_1 <phone_1> <ID_CARD_1><ID_CARD_1 <PHO";

fn vault() -> PseudonymVault {
    let mut vault = PseudonymVault::new();
    let guarded = Policy::Pseudonymize
        .apply(&Scanner::new(), INPUT, &mut vault)
        .unwrap();
    for p in PLACEHOLDERS {
        assert!(guarded.text.contains(p), "{}", guarded.text);
    }
    vault
}

/// Restores `chunks` one by one, checking after each that everything which
/// cannot begin a placeholder was released.
fn streamed(vault: &PseudonymVault, chunks: &[&str]) -> String {
    let mut restorer = StreamRestorer::new(vault);
    let mut out = String::new();
    let mut received = String::new();
    for chunk in chunks {
        out.push_str(&restorer.push(chunk));
        received.push_str(chunk);
        if !ends_in_placeholder_start(&received) {
            assert_eq!(
                out,
                vault.restore(&received),
                "held back too much after {received:?}"
            );
        }
    }
    out.push_str(&restorer.finish());
    out
}

fn ends_in_placeholder_start(s: &str) -> bool {
    s.rfind('<').is_some_and(|i| {
        let tail = &s[i..];
        tail[1..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && PLACEHOLDERS
                .iter()
                .any(|p| p.starts_with(tail) && p.len() > tail.len())
    })
}

fn boundaries(s: &str) -> Vec<usize> {
    (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect()
}

#[test]
fn one_shot_restore_is_the_reference() {
    let vault = vault();
    assert_eq!(
        vault.restore(OUTPUT),
        "好的，11010519491231002X的客户（电话13812345678）已登记。<13812345678> <PHONE_9> \
         zhang.san@example.com6222021234567890128< PHONE_1> <PHONE_1 <phone_1> \
         11010519491231002X<ID_CARD_1 <PHO"
    );
}

#[test]
fn split_once_at_every_position() {
    let vault = vault();
    let expected = vault.restore(OUTPUT);
    for i in boundaries(OUTPUT) {
        assert_eq!(
            streamed(&vault, &[&OUTPUT[..i], &OUTPUT[i..]]),
            expected,
            "split at {i}"
        );
    }
}

#[test]
fn split_twice_at_every_pair_of_positions() {
    let vault = vault();
    let expected = vault.restore(OUTPUT);
    let cuts = boundaries(OUTPUT);
    let mut runs = 0;
    for (n, &i) in cuts.iter().enumerate() {
        for &j in &cuts[n..] {
            let chunks = [&OUTPUT[..i], &OUTPUT[i..j], &OUTPUT[j..]];
            assert_eq!(streamed(&vault, &chunks), expected, "split at {i} and {j}");
            runs += 1;
        }
    }
    assert_eq!(runs, cuts.len() * (cuts.len() + 1) / 2);
}

#[test]
fn one_char_chunks() {
    let vault = vault();
    let chunks: Vec<&str> = OUTPUT
        .char_indices()
        .map(|(i, c)| &OUTPUT[i..i + c.len_utf8()])
        .collect();
    assert_eq!(streamed(&vault, &chunks), vault.restore(OUTPUT));
    let ascii = "x<PHONE_1>y<EMAIL_1><BANK_CARD_1";
    let bytes: Vec<&str> = (0..ascii.len()).map(|i| &ascii[i..=i]).collect();
    assert_eq!(streamed(&vault, &bytes), vault.restore(ascii));
}

#[test]
fn random_chunking() {
    let vault = vault();
    let expected = vault.restore(OUTPUT);
    let mut rng = Rng::new(99);
    for _ in 0..2_000 {
        let chunks = random_chunks(&mut rng, OUTPUT, 1, 12);
        assert_eq!(streamed(&vault, &chunks), expected);
    }
}

#[test]
fn an_empty_vault_holds_nothing_back() {
    let vault = PseudonymVault::new();
    let mut r = StreamRestorer::new(&vault);
    assert_eq!(r.push("<PHONE_"), "<PHONE_");
    assert_eq!(r.finish(), "");
}
