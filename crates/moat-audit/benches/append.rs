//! Durable appends to the audit log on SQLite: throughput with 64
//! concurrent appenders (group commit) and the latency of one append, from
//! call to committed, alone and under that load.
//!
//! `cargo bench -p moat-audit --bench append`; a percentile summary follows
//! Criterion's output on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use moat_audit::{
    AuditKeys, AuditLog, AuditRecord, AuditWriter, Content, ContentPolicy, Outcome, ToolAudit,
    WriterSettings,
};
use moat_store::Store;
use tokio::runtime::Runtime;

const TASKS: u64 = 64;

/// A typical answered chat request with masked content.
fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time_ms: 1_750_000_000_000 + i64::try_from(i).unwrap(),
        request_id: format!("req_{i:016x}"),
        principal: Some(format!("key_{:04}", i % 16)),
        client: Some("10.1.2.3".into()),
        method: "POST".into(),
        route: "/v1/chat/completions".into(),
        model: Some("qwen3-8b".into()),
        backend: Some("embedded".into()),
        status: 200,
        error_code: None,
        outcome: Outcome::Completed,
        prompt_tokens: Some(412),
        completion_tokens: Some(128),
        ttft_ms: Some(85),
        latency_ms: 2_310,
        pii: BTreeMap::from([("email".to_owned(), 1), ("iban".to_owned(), 1)]),
        tools: vec![ToolAudit {
            name: "kb_search".into(),
            decision: "allowed".into(),
            outcome: "ok".into(),
            latency_ms: Some(12),
            cached: false,
        }],
        knowledge_bases: vec!["policies".into()],
        cited_files: Vec::new(),
        conversation_of: None,
        content: Some(Content {
            policy: ContentPolicy::Masked,
            prompt: "Summarise the complaint from <PERSON_1> (<EMAIL_1>) about the \
                     transfer to <IBAN_1> and draft a reply."
                .repeat(3),
            completion: "Dear <PERSON_1>, thank you for your message about the transfer. "
                .repeat(6),
        }),
    }
}

struct Bench {
    _dir: tempfile::TempDir,
    writer: AuditWriter,
}

fn setup(rt: &Runtime) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("moat.db").display().to_string();
    let writer = rt.block_on(async {
        let store = Store::open(&location).await.unwrap();
        let log = AuditLog::open(store, AuditKeys::from_bytes([1; 32], [2; 32]))
            .await
            .unwrap();
        log.writer(WriterSettings::default())
    });
    Bench { _dir: dir, writer }
}

/// `total` appends spread over `tasks` concurrent tasks; per-append
/// latencies and the elapsed time.
async fn concurrent(writer: &AuditWriter, tasks: u64, total: u64) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let writer = writer.clone();
            let count = total / tasks + u64::from(task < total % tasks);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(usize::try_from(count).unwrap());
                for i in 0..count {
                    let begun = Instant::now();
                    writer.append(record(task << 32 | i)).await.unwrap();
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.unwrap());
    }
    (latencies, start.elapsed())
}

fn criterion_benches(c: &mut Criterion, rt: &Runtime) {
    let bench = setup(rt);
    let mut group = c.benchmark_group("audit_append");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    group.bench_function("durable_64_tasks_sqlite", |b| {
        b.iter_custom(|iters| rt.block_on(concurrent(&bench.writer, TASKS, iters)).1);
    });
    group.bench_function("durable_sequential_sqlite", |b| {
        b.iter_custom(|iters| rt.block_on(concurrent(&bench.writer, 1, iters)).1);
    });
    group.finish();
    rt.block_on(bench.writer.close()).unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn summary(rt: &Runtime) {
    eprintln!("\naudit append summary (SQLite, WAL, durable = committed):");
    for (tasks, total) in [(1, 5_000), (TASKS, 50_000)] {
        let bench = setup(rt);
        // Warm up: the first appends create subject keys and pseudonyms.
        rt.block_on(concurrent(&bench.writer, tasks, 2_000));
        let (mut latencies, elapsed) = rt.block_on(concurrent(&bench.writer, tasks, total));
        rt.block_on(bench.writer.close()).unwrap();
        latencies.sort_unstable();
        eprintln!(
            "  {tasks:>2} appender(s): {:>7.0} appends/s; latency p50 {:>7.1} µs, p90 {:>7.1} µs, p99 {:>7.1} µs",
            total as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e6,
            percentile(&latencies, 0.90).as_secs_f64() * 1e6,
            percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        );
    }
    // What the request path pays when it does not wait (a disconnect).
    let bench = setup(rt);
    let n = 20_000u64;
    let start = Instant::now();
    for i in 0..n {
        bench.writer.append_detached(record(i));
    }
    let enqueue = start.elapsed();
    rt.block_on(bench.writer.close()).unwrap();
    eprintln!(
        "  append_detached: {:.2} µs per record on the caller",
        enqueue.as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &rt);
    c.final_summary();
    summary(&rt);
}
