//! Recall and precision of every recognizer on a generated corpus: valid
//! values of each kind in Chinese and English sentences (plain, grouped,
//! full-width), and near-misses that must not be reported.
//! `cargo test -p moat-guard --test corpus -- --nocapture` prints the table.

// Helpers of a test crate fail loudly too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use moat_guard::Scanner;
use support::{near_miss_sentence, sentence, Rng, Sample, KINDS};

const PER_KIND: usize = 1_000;
const NEAR_MISSES: usize = 6_000;

#[derive(Default, Clone, Copy)]
struct Tally {
    true_pos: usize,
    false_pos: usize,
    false_neg: usize,
}

impl Tally {
    fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }

    fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn corpus() -> Vec<Sample> {
    let mut rng = Rng::new(20_240_601);
    let mut samples = Vec::new();
    for kind in KINDS {
        for _ in 0..PER_KIND {
            samples.push(sentence(&mut rng, kind));
        }
    }
    for _ in 0..NEAR_MISSES {
        samples.push(near_miss_sentence(&mut rng));
    }
    // Several values in one text, none separated by spaces from Chinese.
    for _ in 0..PER_KIND {
        let mut joined = Sample::default();
        for _ in 0..3 {
            let kind = KINDS[rng.below(KINDS.len())];
            let s = sentence(&mut rng, kind);
            let offset = joined.text.len();
            joined.text.push_str(&s.text);
            joined.expected.extend(
                s.expected
                    .iter()
                    .map(|&(k, a, b)| (k, a + offset, b + offset)),
            );
        }
        samples.push(joined);
    }
    samples
}

#[test]
fn recall_and_precision_on_the_generated_corpus() {
    let scanner = Scanner::new();
    let samples = corpus();
    let mut tally: BTreeMap<&str, Tally> = KINDS.iter().map(|k| (*k, Tally::default())).collect();
    let mut misses = Vec::new();
    for sample in &samples {
        let found: Vec<(String, usize, usize)> = scanner
            .scan(&sample.text)
            .iter()
            .map(|f| (f.kind.name().to_owned(), f.start, f.end))
            .collect();
        for &(kind, start, end) in &sample.expected {
            let hit = found
                .iter()
                .any(|(k, s, e)| k == kind && *s == start && *e == end);
            let t = tally.entry(kind).or_default();
            if hit {
                t.true_pos += 1;
            } else {
                t.false_neg += 1;
                misses.push(format!("missed {kind}: {:?}", sample.text));
            }
        }
        for (kind, start, end) in &found {
            let expected = sample
                .expected
                .iter()
                .any(|&(k, s, e)| k == kind && s == *start && e == *end);
            if !expected {
                let name = KINDS
                    .iter()
                    .find(|k| **k == kind)
                    .copied()
                    .unwrap_or("custom");
                tally.entry(name).or_default().false_pos += 1;
                misses.push(format!(
                    "false {kind} {:?} in {:?}",
                    &sample.text[*start..*end],
                    sample.text
                ));
            }
        }
    }

    let mut total = Tally::default();
    println!(
        "{} texts, {} bytes",
        samples.len(),
        samples.iter().map(|s| s.text.len()).sum::<usize>()
    );
    println!(
        "{:<16} {:>6} {:>4} {:>4} {:>8} {:>9}",
        "kind", "tp", "fp", "fn", "recall", "precision"
    );
    for (kind, t) in &tally {
        println!(
            "{kind:<16} {:>6} {:>4} {:>4} {:>7.2}% {:>8.2}%",
            t.true_pos,
            t.false_pos,
            t.false_neg,
            100.0 * t.recall(),
            100.0 * t.precision()
        );
        total.true_pos += t.true_pos;
        total.false_pos += t.false_pos;
        total.false_neg += t.false_neg;
    }
    println!(
        "{:<16} {:>6} {:>4} {:>4} {:>7.2}% {:>8.2}%",
        "overall",
        total.true_pos,
        total.false_pos,
        total.false_neg,
        100.0 * total.recall(),
        100.0 * total.precision()
    );
    for m in misses.iter().take(30) {
        println!("{m}");
    }
    assert!(total.recall() >= 0.995, "recall {:.4}", total.recall());
    assert!(
        total.precision() >= 0.995,
        "precision {:.4}",
        total.precision()
    );
    for (kind, t) in &tally {
        assert!(
            t.recall() >= 0.99 && t.precision() >= 0.99,
            "{kind}: recall {:.4} precision {:.4}",
            t.recall(),
            t.precision()
        );
    }
}
