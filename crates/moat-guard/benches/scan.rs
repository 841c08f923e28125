//! Scan throughput on ~1 MB of generated mixed Chinese/English text with
//! personal data about every 400 bytes, on one core.
//! `cargo bench -p moat-guard --bench scan`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use moat_guard::{Policy, PseudonymVault, Scanner};

#[path = "../tests/support/mod.rs"]
mod support;

fn scan_throughput(c: &mut Criterion) {
    let text = support::mixed_text(&mut support::Rng::new(42), 1 << 20);
    let scanner = Scanner::new();
    let found = scanner.scan(&text).len();
    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function(
        format!("scan {} bytes, {found} findings", text.len()),
        |b| b.iter(|| scanner.scan(std::hint::black_box(&text))),
    );
    group.bench_function("pseudonymize", |b| {
        b.iter(|| {
            let mut vault = PseudonymVault::new();
            Policy::Pseudonymize.apply(&scanner, std::hint::black_box(&text), &mut vault)
        })
    });
    let english =
        "The quarterly report was reviewed by the committee and approved. ".repeat(16_000);
    group.throughput(Throughput::Bytes(english.len() as u64));
    group.bench_function("scan english without personal data", |b| {
        b.iter(|| scanner.scan(std::hint::black_box(&english)))
    });
    group.finish();
}

criterion_group!(benches, scan_throughput);
criterion_main!(benches);
