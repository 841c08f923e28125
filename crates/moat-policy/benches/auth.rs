//! The access-control cost of one request: authenticate an API key against
//! a warm cache over a SQLite store of ~1000 keys, check the model against
//! the principal's roles, and pass the rate limits and quota (set high
//! enough never to refuse). Also authentication alone, and a well-formed
//! key that is not in the store (a miss goes to the database).
//! `cargo bench -p moat-policy --bench auth`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use moat_policy::apikey::{new_secret, KeyHasher, ServerSecret};
use moat_policy::clock::{Clock, SystemClock};
use moat_policy::failures::{FailureSettings, FailureTracker};
use moat_policy::keys::{KeyService, NewKey};
use moat_policy::limit::MemoryCounters;
use moat_policy::{Authenticator, Limiter, RoleConfig, Roles};
use moat_store::Store;

/// Keys in the store.
const KEYS: usize = 1000;
/// The client address, as the server passes it (its failures are tracked).
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));

/// Limits on every key and on the role as a whole, never reached.
const ROLES: &str = r#"
[[roles]]
name = "analyst"
models = ["qwen3-*", "smollm2"]
requests_per_minute = 4000000000
concurrent_streams = 1000000
tokens_per_day = 1000000000000000
per_key = { requests_per_minute = 4000000000, concurrent_streams = 1000000, tokens_per_day = 1000000000000000 }
"#;

struct Fixture {
    authenticator: Authenticator,
    limiter: Limiter,
    /// A key in the middle of the store.
    secret: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    #[derive(serde::Deserialize)]
    struct File {
        roles: Vec<RoleConfig>,
    }
    let file: File = toml::from_str(ROLES).unwrap();
    let roles = Arc::new(Roles::new(&file.roles).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("moat.db").to_str().unwrap())
        .await
        .unwrap();
    let hasher = KeyHasher::new(&ServerSecret::from_bytes([7; 32]));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = KeyService::new(store.clone(), hasher.clone(), roles.clone());
    let mut secret = String::new();
    for i in 0..KEYS {
        let issued = keys
            .create(
                NewKey {
                    name: format!("service {i}"),
                    roles: vec!["analyst".to_owned()],
                    models: None,
                    expires_in: None,
                },
                clock.now_ms(),
            )
            .await
            .unwrap();
        if i == KEYS / 2 {
            secret = issued.secret;
        }
    }
    let authenticator = Authenticator::new(
        store.clone(),
        hasher,
        roles,
        None,
        FailureTracker::new(FailureSettings::default()),
        clock.clone(),
    );
    authenticator.refresh().await.unwrap();
    // As the server builds it with in-memory counters: seeded from the store.
    let limiter = Limiter::new(Arc::new(MemoryCounters::new()), clock, None, Some(store));
    Fixture {
        authenticator,
        limiter,
        secret,
        _dir: dir,
    }
}

fn access_per_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture());
    let unknown = new_secret();
    // Warm: the key is cached and its limit buckets exist.
    rt.block_on(async {
        let p = f
            .authenticator
            .authenticate(Some(&f.secret), CLIENT)
            .await
            .unwrap();
        assert!(p.may(moat_policy::Permission::Model("qwen3-8b")));
        f.limiter.admit(&p, 500).await.unwrap();
        assert!(f
            .authenticator
            .authenticate(Some(&unknown), None)
            .await
            .is_err());
    });

    let mut group = c.benchmark_group("access");
    group.bench_function(
        format!("authenticate + authorize + admit, {KEYS} keys"),
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let principal = f
                        .authenticator
                        .authenticate(Some(black_box(&f.secret)), CLIENT)
                        .await
                        .unwrap();
                    assert!(principal.may(moat_policy::Permission::Model(black_box("qwen3-8b"))));
                    let admission = f.limiter.admit(&principal, 500).await.unwrap();
                    // Dropped as after a request: a task releases its stream
                    // slots; yield so that it runs within the iteration.
                    drop(black_box(admission));
                    tokio::task::yield_now().await;
                })
            })
        },
    );
    group.bench_function(format!("authenticate, {KEYS} keys"), |b| {
        b.iter(|| {
            rt.block_on(
                f.authenticator
                    .authenticate(Some(black_box(&f.secret)), CLIENT),
            )
            .unwrap()
        })
    });
    // Without a client address: from one address, misses would lock it.
    group.bench_function("authenticate an unknown key (database miss)", |b| {
        b.iter(|| {
            rt.block_on(
                f.authenticator
                    .authenticate(Some(black_box(&unknown)), None),
            )
            .unwrap_err()
        })
    });
    group.finish();
}

criterion_group!(benches, access_per_request);
criterion_main!(benches);
