//! Rate-limit counters in a real Redis (`MOAT_TEST_REDIS_URL`): the same
//! answers as the in-memory counters, atomic under concurrency, shared by
//! replicas. Skipped when no server is given, unless
//! `MOAT_TEST_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use moat_policy::limit::{Counters, MemoryCounters, RedisCounters};
use rand::Rng;

/// The server's URL, or `None` (after saying so) when the test is skipped.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var("MOAT_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("MOAT_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{test}: MOAT_TEST_REDIS_URL is not set but MOAT_TEST_REQUIRE_SERVICES=1");
            }
            eprintln!("{test}: skipped, MOAT_TEST_REDIS_URL is not set");
            None
        }
    }
}

/// A key prefix no other test run uses.
fn prefix() -> String {
    format!("moat-test:{:016x}:", rand::rng().random::<u64>())
}

async fn counters(url: &str) -> RedisCounters {
    RedisCounters::connect(url, &prefix()).await.unwrap()
}

#[tokio::test]
async fn takes_answer_exactly_like_the_memory_counters() {
    let Some(url) = redis_url("takes_answer_exactly_like_the_memory_counters") else {
        return;
    };
    let redis = counters(&url).await;
    let memory = MemoryCounters::new();
    let start: i64 = 1_764_000_000_000;
    // (bucket, per_minute, milliseconds after start)
    let mut steps: Vec<(&str, u32, i64)> = Vec::new();
    // A burst that empties a bucket of 6, refusals, a refill step by step.
    for _ in 0..8 {
        steps.push(("a", 6, 0));
    }
    for t in [
        1, 9_999, 10_000, 10_000, 15_001, 20_000, 20_001, 80_000, 80_000,
    ] {
        steps.push(("a", 6, t));
    }
    // Odd rates whose interval is not a whole number of milliseconds.
    for i in 0..12 {
        steps.push(("b", 7, i * 1_234));
        steps.push(("c", 1, i * 7_777));
        steps.push(("d", 1_000, i * 3));
        steps.push(("e", 0, i * 30_000));
    }
    // The clock standing still, then jumping far ahead.
    for _ in 0..5 {
        steps.push(("f", 3, 500));
    }
    steps.push(("f", 3, 3_600_000));
    // A rate that changes for the same bucket.
    for (i, rate) in [10, 10, 10, 2, 2, 50, 50, 1].into_iter().enumerate() {
        steps.push(("g", rate, 100 * i as i64));
    }
    // Random steps on a few buckets with a monotonic clock.
    let mut rng = rand::rng();
    let mut t = 100_000;
    for _ in 0..300 {
        t += rng.random_range(0..2_500);
        let bucket = ["r1", "r2", "r3"][rng.random_range(0..3)];
        let rate = [1, 5, 60, 61, 600][rng.random_range(0..5)];
        steps.push((bucket, rate, t));
    }
    for (i, (bucket, per_minute, offset)) in steps.iter().enumerate() {
        let now = start + offset;
        let expected = memory.take(bucket, *per_minute, now).await.unwrap();
        let got = redis.take(bucket, *per_minute, now).await.unwrap();
        assert_eq!(
            got, expected,
            "step {i}: bucket {bucket}, {per_minute}/min at +{offset} ms"
        );
    }
}

#[tokio::test]
async fn concurrent_acquires_never_exceed_the_limit() {
    let Some(url) = redis_url("concurrent_acquires_never_exceed_the_limit") else {
        return;
    };
    let redis = Arc::new(counters(&url).await);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let redis = Arc::clone(&redis);
            tokio::spawn(async move { redis.acquire("streams", 5).await.unwrap() })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    assert!(!redis.acquire("streams", 5).await.unwrap());
}

#[tokio::test]
async fn releases_free_slots_and_never_go_below_zero() {
    let Some(url) = redis_url("releases_free_slots_and_never_go_below_zero") else {
        return;
    };
    let redis = counters(&url).await;
    assert!(redis.acquire("k", 2).await.unwrap());
    assert!(redis.acquire("k", 2).await.unwrap());
    assert!(!redis.acquire("k", 2).await.unwrap());
    redis.release("k").await.unwrap();
    assert!(redis.acquire("k", 2).await.unwrap());
    assert!(!redis.acquire("k", 2).await.unwrap());
    // More releases than acquires: the count stays at zero.
    for _ in 0..5 {
        redis.release("k").await.unwrap();
    }
    assert!(redis.acquire("k", 2).await.unwrap());
    assert!(redis.acquire("k", 2).await.unwrap());
    assert!(!redis.acquire("k", 2).await.unwrap());
    // Releasing a bucket never acquired is harmless; a limit of zero
    // admits nothing.
    redis.release("never").await.unwrap();
    assert!(!redis.acquire("never", 0).await.unwrap());
    assert!(redis.acquire("never", 1).await.unwrap());
}

#[tokio::test]
async fn tokens_add_up_per_bucket_and_day() {
    let Some(url) = redis_url("tokens_add_up_per_bucket_and_day") else {
        return;
    };
    let redis = counters(&url).await;
    assert_eq!(redis.tokens("k", "2026-11-24").await.unwrap(), 0);
    assert_eq!(redis.add_tokens("k", "2026-11-24", 10).await.unwrap(), 10);
    assert_eq!(redis.add_tokens("k", "2026-11-24", 5).await.unwrap(), 15);
    assert_eq!(redis.add_tokens("k", "2026-11-25", 1).await.unwrap(), 1);
    assert_eq!(redis.add_tokens("other", "2026-11-25", 7).await.unwrap(), 7);
    assert_eq!(redis.tokens("k", "2026-11-24").await.unwrap(), 15);
    assert_eq!(redis.tokens("k", "2026-11-25").await.unwrap(), 1);
    assert_eq!(redis.tokens("other", "2026-11-24").await.unwrap(), 0);
}

#[tokio::test]
async fn two_replicas_share_one_bucket() {
    let Some(url) = redis_url("two_replicas_share_one_bucket") else {
        return;
    };
    let prefix = prefix();
    let one = RedisCounters::connect(&url, &prefix).await.unwrap();
    let two = RedisCounters::connect(&url, &prefix).await.unwrap();
    let now = 1_764_000_000_000;
    let mut allowed = 0;
    for i in 0..10 {
        let replica = if i % 2 == 0 { &one } else { &two };
        if replica.take("shared", 4, now).await.unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4);
    assert!(one.acquire("s", 1).await.unwrap());
    assert!(!two.acquire("s", 1).await.unwrap());
    two.release("s").await.unwrap();
    assert!(one.acquire("s", 1).await.unwrap());
    one.add_tokens("t", "2026-11-24", 3).await.unwrap();
    assert_eq!(two.add_tokens("t", "2026-11-24", 4).await.unwrap(), 7);
    // Another prefix sees none of it.
    let elsewhere = counters(&url).await;
    assert!(elsewhere.take("shared", 4, now).await.unwrap().allowed);
    assert_eq!(elsewhere.tokens("t", "2026-11-24").await.unwrap(), 0);
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_without_a_hang() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://moat:hunter2-secret@127.0.0.1:{port}/0");
    let started = Instant::now();
    let err = RedisCounters::connect(&url, "moat:").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("Redis"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let err = RedisCounters::connect("not a url", "moat:")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Redis"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // The kernel accepts the connection; nothing ever replies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    let started = Instant::now();
    let err = RedisCounters::connect(&url, "moat:").await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(7), "{waited:?}");
    assert!(err.to_string().contains("Redis"), "{err}");
    drop(silent);
}
