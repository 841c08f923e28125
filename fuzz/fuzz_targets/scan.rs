//! Fuzz target for the guard: scanning never panics and gives findings
//! within the text, on char boundaries, sorted and disjoint; masking works;
//! restore(pseudonymize(x)) == x; streamed restore with chunk sizes taken
//! from the input equals the one-shot restore.
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run scan` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_guard::{mask, Policy, PseudonymVault, Scanner, StreamRestorer};

fuzz_target!(|data: &[u8]| {
    // The first byte seeds the chunking; the rest is the text.
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let scanner = Scanner::new();
    let findings = scanner.scan(&text);
    let mut last_end = 0;
    for f in &findings {
        assert!(f.start >= last_end && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last_end = f.end;
    }
    mask(&text, &findings).expect("masking valid findings");

    let mut vault = PseudonymVault::new();
    let pseudo = Policy::Pseudonymize
        .apply(&scanner, &text, &mut vault)
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
});
