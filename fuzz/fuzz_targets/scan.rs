//! Fuzz target for the guard: scanning never panics and gives findings
//! within the text, on char boundaries, sorted and disjoint; masking works;
//! restore(pseudonymize(x)) == x; streamed restore with chunk sizes taken
//! from the input equals the one-shot restore. Each input is checked as it
//! is and with a char the scanner normalises (a Unicode space, a dash, an
//! invisible char, another script's digit) after every ASCII digit, so the
//! offset map of the normalisation is exercised on every run.
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run scan` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_guard::{mask, Policy, PseudonymVault, Scanner, StreamRestorer};

/// Chars the scanner normalises, one of which is put after each digit.
const SPICE: [&str; 8] = [
    "\u{A0}", "\u{202F}", "\u{2013}", "\u{200B}", "\u{AD}", "\u{2060}", "\u{FEFF}", "١",
];

fuzz_target!(|data: &[u8]| {
    // The first byte seeds the chunking; the rest is the text.
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    check(&text, seed);
    let spice = SPICE[usize::from(seed) % SPICE.len()];
    let spiced: String = text
        .chars()
        .flat_map(|c| {
            let after = if c.is_ascii_digit() { spice } else { "" };
            [c.to_string(), after.to_owned()]
        })
        .collect();
    check(&spiced, seed);
});

fn check(text: &str, seed: u8) {
    let scanner = Scanner::new();
    let findings = scanner.scan(text);
    let mut last_end = 0;
    for f in &findings {
        assert!(f.start >= last_end && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last_end = f.end;
    }
    mask(text, &findings).expect("masking valid findings");

    let mut vault = PseudonymVault::new();
    let pseudo = Policy::Pseudonymize
        .apply(&scanner, text, &mut vault)
        .expect("pseudonymizing");
    assert_eq!(vault.restore(&pseudo.text), text);

    let mut restorer = StreamRestorer::new(&vault);
    let mut streamed = String::new();
    let mut at = 0;
    let mut step = usize::from(seed % 7) + 1;
    let out = &pseudo.text;
    while at < out.len() {
        let mut end = (at + step).min(out.len());
        while !out.is_char_boundary(end) {
            end += 1;
        }
        streamed.push_str(&restorer.push(&out[at..end]));
        at = end;
        step = step % 11 + usize::from(seed >> 4) + 1;
    }
    streamed.push_str(&restorer.finish());
    assert_eq!(streamed, text);
}
