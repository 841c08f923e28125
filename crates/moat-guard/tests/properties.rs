//! Properties on random UTF-8 text: findings lie within the text, on char
//! boundaries, sorted and disjoint; restore(pseudonymize(x)) == x; streamed
//! restore with random chunking equals the one-shot restore.
//! The long run: `MOAT_GUARD_PROPERTY_SECS=300 cargo test -p moat-guard
//! --release --test properties -- --ignored --nocapture`.

// Helpers of a test crate fail loudly too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use moat_guard::{mask, Policy, PseudonymVault, Scanner, StreamRestorer};
use support::{random_chunks, value_of, Rng, KINDS};

/// Pieces random texts are made of: the bytes the scanner reacts to, the
/// chars around them, and placeholder-shaped text.
const PIECES: [&str; 50] = [
    "0",
    "1",
    "3",
    "8",
    "9",
    "X",
    "x",
    "E",
    "A",
    "f",
    " ",
    "-",
    ".",
    ":",
    "::",
    "@",
    "+",
    "(",
    ")",
    "<",
    ">",
    "_",
    "０",
    "９",
    "Ｘ",
    "＠",
    "．",
    "－",
    "（",
    "）",
    "　",
    "中",
    "京",
    "粤",
    "·",
    "卡号",
    "护照",
    "é",
    "😀",
    "<PHONE_1>",
    // What the normaliser folds or drops.
    "\u{A0}",
    "\u{202F}",
    "\u{2013}",
    "\u{200B}",
    "\u{AD}",
    "\u{2060}",
    "\t",
    "\n",
    "١",
    "Х",
];

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.range(0, 60) {
        if rng.chance(8) {
            let kind = KINDS[rng.below(KINDS.len())];
            s.push_str(&value_of(rng, kind));
        } else if rng.chance(30) {
            let n = rng.range(1, 20);
            s.push_str(&rng.digits(n));
        } else {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    s
}

/// Every property on one text.
fn check(scanner: &Scanner, rng: &mut Rng, text: &str) {
    let findings = scanner.scan(text);
    let mut last_end = 0;
    for f in &findings {
        assert!(
            f.start >= last_end && f.start < f.end && f.end <= text.len(),
            "{f:?} in {text:?}"
        );
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "{f:?} in {text:?}"
        );
        last_end = f.end;
    }
    mask(text, &findings).unwrap();
    let mut vault = PseudonymVault::new();
    let pseudo = Policy::Pseudonymize
        .apply(scanner, text, &mut vault)
        .unwrap();
    assert_eq!(vault.restore(&pseudo.text), text, "round trip of {text:?}");
    let mut restorer = StreamRestorer::new(&vault);
    let mut streamed = String::new();
    for chunk in random_chunks(rng, &pseudo.text, 0, 8) {
        streamed.push_str(&restorer.push(chunk));
    }
    streamed.push_str(&restorer.finish());
    assert_eq!(streamed, text, "streamed round trip of {text:?}");
}

#[test]
fn properties_on_random_text() {
    let scanner = Scanner::new();
    let mut rng = Rng::new(1);
    for _ in 0..3_000 {
        let text = random_text(&mut rng);
        check(&scanner, &mut rng, &text);
    }
}

#[test]
fn properties_on_arbitrary_utf8() {
    let scanner = Scanner::new();
    let mut rng = Rng::new(2);
    for _ in 0..3_000 {
        let len = rng.range(0, 64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        check(&scanner, &mut rng, &text);
    }
}

/// The long randomized run (what the fuzz target checks), for a machine
/// without a nightly compiler: `MOAT_GUARD_PROPERTY_SECS` seconds (60 by default).
#[test]
#[ignore]
fn properties_for_a_while() {
    let secs: u64 = std::env::var("MOAT_GUARD_PROPERTY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let scanner = Scanner::new();
    let mut rng = Rng::new(std::process::id().into());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut inputs = 0u64;
    let mut bytes = 0u64;
    while Instant::now() < deadline {
        for _ in 0..1_000 {
            let text = random_text(&mut rng);
            bytes += text.len() as u64;
            check(&scanner, &mut rng, &text);
            inputs += 1;
        }
    }
    println!("properties held on {inputs} random inputs ({bytes} bytes) in {secs} s");
}
