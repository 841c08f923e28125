//! Unified social credit codes against numbers that are not: order numbers,
//! invoice numbers, ID numbers with a wrong check digit, and eighteen-digit
//! numbers built to pass the GB 32100 check character and nothing else.
//! Precision before (the check character, a known first character and
//! digits at 3-8, as the recognizer read codes until now) and after (the
//! authority, type, division and organisation-code check of GB 32100-2015).
//! `cargo test -p moat-guard --test uscc -- --nocapture` prints the figures.

#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use moat_guard::Scanner;
use support::{mod11_check, uscc, uscc_check, Rng, USCC_CHARS};

const PER_GROUP: usize = 1_000;

/// The earlier rule: 18 characters of the charset, a first character
/// among `1-9 A-G N Y`, digits at 3-8, the final check character.
fn earlier_rule(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 18
        && b"123456789ABCDEFGNY".contains(&b[0])
        && b[2..8].iter().all(u8::is_ascii_digit)
        && b.iter().all(|c| USCC_CHARS.contains(c))
        && uscc_check(&v[..17]) == char::from(b[17])
}

fn negatives() -> Vec<(&'static str, String)> {
    let mut rng = Rng::new(32_100);
    let mut out = Vec::new();
    for _ in 0..PER_GROUP {
        // Order numbers: date, then a serial.
        let date = format!(
            "20{:02}{:02}{:02}",
            rng.range(15, 26),
            rng.range(1, 12),
            rng.range(1, 28)
        );
        out.push(("order number", format!("{date}{}", rng.digits(10))));
        // Invoice-style numbers: a tax-office prefix, year, serial.
        let prefix = rng.pick(&["011", "044", "031", "051", "144", "232"]);
        out.push((
            "invoice number",
            format!("{prefix}{}{}", rng.range(15, 26), rng.digits(13)),
        ));
        // ID numbers whose check digit is wrong.
        let first17 = format!("{}19{}", rng.digits(6), rng.digits(9));
        let right = mod11_check(&first17);
        let wrong = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
            .into_iter()
            .find(|&c| c != right)
            .unwrap();
        out.push(("invalid id", format!("{first17}{wrong}")));
        // Random digits, and random digits given the right check character.
        out.push(("random", rng.digits(18)));
        let body = rng.digits(17);
        let check = uscc_check(&body);
        out.push(("check only", format!("{body}{check}")));
    }
    out
}

/// Whether the scanner reports `value` (alone in a sentence) as a code.
fn found_as_uscc(scanner: &Scanner, value: &str) -> bool {
    let text = format!("编号 {value} 已登记");
    scanner
        .scan(&text)
        .iter()
        .any(|f| f.kind.name() == "uscc" && f.text(&text) == Some(value))
}

#[test]
fn precision_on_numbers_that_are_not_credit_codes() {
    let scanner = Scanner::new();
    let negatives = negatives();
    let positives: Vec<String> = {
        let mut rng = Rng::new(11_714);
        (0..PER_GROUP).map(|_| uscc(&mut rng)).collect()
    };
    let found = positives
        .iter()
        .filter(|v| found_as_uscc(&scanner, v))
        .count();
    assert_eq!(found, positives.len(), "every valid code is found");
    let before_positives = positives.iter().filter(|v| earlier_rule(v)).count();
    assert_eq!(before_positives, positives.len());

    let mut rows = Vec::new();
    for group in [
        "order number",
        "invoice number",
        "invalid id",
        "random",
        "check only",
    ] {
        let values: Vec<&String> = negatives
            .iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, v)| v)
            .collect();
        let before = values.iter().filter(|v| earlier_rule(v)).count();
        let after = values.iter().filter(|v| found_as_uscc(&scanner, v)).count();
        rows.push((group, values.len(), before, after));
    }
    let precision = |false_pos: usize| found as f64 / (found + false_pos) as f64;
    println!(
        "{:<16} {:>6} {:>10} {:>10}",
        "negatives", "n", "fp before", "fp after"
    );
    for (group, n, before, after) in &rows {
        println!("{group:<16} {n:>6} {before:>10} {after:>10}");
    }
    let realistic: Vec<_> = rows.iter().filter(|r| r.0 != "check only").collect();
    let (n, before, after) = realistic
        .iter()
        .fold((0, 0, 0), |(n, b, a), r| (n + r.1, b + r.2, a + r.3));
    println!(
        "realistic {n} negatives, {found} codes: precision before {:.2}%, after {:.2}%",
        100.0 * precision(before),
        100.0 * precision(after)
    );
    let check_only = rows.iter().find(|r| r.0 == "check only").unwrap();
    println!(
        "built to pass the check character, {} negatives: precision before {:.2}%, after {:.2}%",
        check_only.1,
        100.0 * precision(check_only.2),
        100.0 * precision(check_only.3)
    );
    assert!(before > 0, "the earlier rule let some through");
    assert!(
        after * 10 <= before,
        "false positives on realistic negatives: {after} (before {before})"
    );
    assert!(
        precision(after) >= 0.999,
        "precision {:.4}",
        precision(after)
    );
    assert!(
        check_only.3 * 50 <= check_only.1,
        "numbers passing only the check character: {} of {}",
        check_only.3,
        check_only.1
    );
}
