//! Authentication (step 2): an `Authorization: Bearer` credential becomes a
//! [`Principal`]. API keys are looked up by their keyed hash in a cache that
//! follows the store (revocations reach every server within a second);
//! OIDC/JWT tokens are verified against the issuer's keys. Failures are
//! counted per client address ([`FailureTracker`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use moat_store::{ApiKeyRecord, Store};
use tokio_util::sync::CancellationToken;

use crate::apikey::{hashes_equal, looks_like_key, KeyHasher};
use crate::clock::Clock;
use crate::failures::{FailureTracker, Gate};
use crate::jwt::{looks_like_jwt, JwtVerifier};
use crate::principal::{Credential, Principal};
use crate::role::{Patterns, Roles};

/// How often the key cache asks the store whether keys changed.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_millis(500);
/// How often last-used times are written back (in refresh intervals).
const TOUCH_EVERY: u32 = 10;
/// How often the OIDC issuer's keys are reloaded (in refresh intervals),
/// so a key it withdrew stops being trusted: 10 minutes.
const JWKS_RELOAD_EVERY: u32 = 1200;

/// Why a request was not authenticated. The HTTP answer is the same 401
/// for every reason but [`AuthFailure::Locked`]; the reason is for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Unknown,
    Expired,
    Revoked,
    /// The token was refused (signature, issuer, audience, time…).
    Token(String),
    /// The client address failed too often and is refused for a while.
    Locked {
        retry_after_ms: u64,
    },
    /// The store could not be read.
    Unavailable,
}

impl AuthFailure {
    /// For logs.
    pub fn reason(&self) -> String {
        match self {
            Self::Missing => "no credentials".to_owned(),
            Self::Unknown => "unknown key".to_owned(),
            Self::Expired => "expired key".to_owned(),
            Self::Revoked => "revoked key".to_owned(),
            Self::Token(why) => format!("token refused: {why}"),
            Self::Locked { .. } => "address locked after repeated failures".to_owned(),
            Self::Unavailable => "key store unavailable".to_owned(),
        }
    }
}

/// A key as the cache holds it.
#[derive(Debug)]
struct CachedKey {
    hash: Vec<u8>,
    expires_ms: Option<i64>,
    revoked: bool,
    principal: Arc<Principal>,
}

#[derive(Debug, Default)]
struct KeyCache {
    revision: i64,
    /// By the first 8 bytes of the hash; the whole hash is then compared
    /// in constant time.
    by_selector: HashMap<[u8; 8], Vec<Arc<CachedKey>>>,
}

fn selector(hash: &[u8]) -> [u8; 8] {
    let mut s = [0u8; 8];
    let n = hash.len().min(8);
    s[..n].copy_from_slice(&hash[..n]);
    s
}

/// Turns credentials into principals.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    hasher: KeyHasher,
    roles: Arc<Roles>,
    jwt: Option<Arc<JwtVerifier>>,
    clock: Arc<dyn Clock>,
    failures: FailureTracker,
    cache: RwLock<KeyCache>,
    used: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("store", &self.inner.store.describe())
            .field("oidc", &self.inner.jwt.is_some())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over `store`; call [`Authenticator::refresh`] once
    /// before serving and [`Authenticator::spawn_refresh`] to follow changes.
    pub fn new(
        store: Store,
        hasher: KeyHasher,
        roles: Arc<Roles>,
        jwt: Option<Arc<JwtVerifier>>,
        failures: FailureTracker,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                hasher,
                roles,
                jwt,
                clock,
                failures,
                cache: RwLock::default(),
                used: Mutex::default(),
            }),
        }
    }

    pub fn roles(&self) -> &Arc<Roles> {
        &self.inner.roles
    }

    /// Authenticate the bearer credential of a request from `client`.
    pub async fn authenticate(
        &self,
        credential: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let now = self.inner.clock.now_ms();
        if let Some(ip) = client {
            if let Gate::Locked { retry_after_ms } = self.inner.failures.check(ip, now) {
                return Err(AuthFailure::Locked { retry_after_ms });
            }
        }
        let result = self.identify(credential, now).await;
        let Some(ip) = client else {
            return result;
        };
        match result {
            Ok(principal) => Ok(principal),
            Err(AuthFailure::Unavailable) => Err(AuthFailure::Unavailable),
            Err(failure) => match self.inner.failures.failed(ip, now) {
                Gate::Open => Err(failure),
                Gate::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    Err(failure)
                }
                Gate::Locked { retry_after_ms } => {
                    tracing::warn!(client = %ip, "client address locked after repeated authentication failures");
                    Err(AuthFailure::Locked { retry_after_ms })
                }
            },
        }
    }

    async fn identify(
        &self,
        credential: Option<&str>,
        now: i64,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let credential = credential.map(str::trim).filter(|c| !c.is_empty());
        let Some(credential) = credential else {
            return Err(AuthFailure::Missing);
        };
        if looks_like_key(credential) {
            return self.key(credential, now).await;
        }
        match &self.inner.jwt {
            Some(jwt) if looks_like_jwt(credential) => {
                let identity = jwt
                    .verify(credential)
                    .await
                    .map_err(|e| AuthFailure::Token(e.to_string()))?;
                let roles = self.inner.roles.resolve(&identity.roles);
                Ok(Arc::new(Principal {
                    id: format!("oidc:{}", identity.subject),
                    name: identity.subject.clone(),
                    credential: Credential::Token {
                        issuer: identity.issuer,
                        subject: identity.subject,
                    },
                    roles,
                    key_models: None,
                }))
            }
            _ => Err(AuthFailure::Unknown),
        }
    }

    async fn key(&self, secret: &str, now: i64) -> Result<Arc<Principal>, AuthFailure> {
        let hash = self.inner.hasher.hash(secret);
        let revision_before = self.revision();
        let cached = self.cached(&hash);
        let key = match cached {
            Some(key) => key,
            // Not in the cache: maybe created a moment ago elsewhere.
            None => match self.inner.store.key_by_hash(&hash).await {
                Ok(Some(record)) if hashes_equal(&record.hash, &hash) => {
                    let key = Arc::new(self.compile(&record));
                    self.insert_unless_reloaded(key.clone(), revision_before);
                    key
                }
                Ok(_) => return Err(AuthFailure::Unknown),
                Err(error) => {
                    tracing::error!(%error, "cannot read API keys");
                    return Err(AuthFailure::Unavailable);
                }
            },
        };
        if key.revoked {
            return Err(AuthFailure::Revoked);
        }
        if key.expires_ms.is_some_and(|at| at <= now) {
            return Err(AuthFailure::Expired);
        }
        if let Ok(mut used) = self.inner.used.lock() {
            used.insert(key.principal.id.clone(), now);
        }
        Ok(key.principal.clone())
    }

    fn cached(&self, hash: &[u8]) -> Option<Arc<CachedKey>> {
        let cache = self
            .inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .by_selector
            .get(&selector(hash))?
            .iter()
            .find(|k| hashes_equal(&k.hash, hash))
            .cloned()
    }

    fn revision(&self) -> i64 {
        self.inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .revision
    }

    /// Cache a key read from the store, unless the cache was reloaded while
    /// it was read: the reload may hold a newer state of it (revoked), which
    /// this older read must not replace.
    fn insert_unless_reloaded(&self, key: Arc<CachedKey>, revision_before: i64) {
        let mut cache = self
            .inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.revision != revision_before {
            return;
        }
        let list = cache.by_selector.entry(selector(&key.hash)).or_default();
        list.retain(|k| k.principal.id != key.principal.id);
        list.push(key);
    }

    fn compile(&self, record: &ApiKeyRecord) -> CachedKey {
        let key_models = record.models.as_ref().map(|m| {
            Patterns::new(m).unwrap_or_else(|error| {
                // Checked when the key was created; a hand-edited row denies all.
                tracing::warn!(key = %record.id, %error, "key model list unreadable; denying all models");
                Patterns::default()
            })
        });
        CachedKey {
            hash: record.hash.clone(),
            expires_ms: record.expires_ms,
            revoked: record.revoked_ms.is_some(),
            principal: Arc::new(Principal {
                id: record.id.clone(),
                name: record.name.clone(),
                credential: Credential::ApiKey {
                    id: record.id.clone(),
                },
                roles: self.inner.roles.resolve(&record.roles),
                key_models,
            }),
        }
    }

    /// Reload every key when the store's key revision changed.
    pub async fn refresh(&self) -> Result<(), moat_store::StoreError> {
        let revision = self.inner.store.keys_revision().await?;
        let current = self
            .inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .revision;
        if revision == current && revision != 0 {
            return Ok(());
        }
        let records = self.inner.store.keys().await?;
        let mut fresh = KeyCache {
            revision,
            by_selector: HashMap::new(),
        };
        for record in &records {
            let key = Arc::new(self.compile(record));
            fresh
                .by_selector
                .entry(selector(&key.hash))
                .or_default()
                .push(key);
        }
        *self
            .inner
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        tracing::debug!(keys = records.len(), "API key cache reloaded");
        Ok(())
    }

    /// Write last-used times gathered since the previous call.
    pub async fn write_last_used(&self) -> Result<(), moat_store::StoreError> {
        let used: Vec<(String, i64)> = match self.inner.used.lock() {
            Ok(mut used) => used.drain().collect(),
            Err(_) => return Ok(()),
        };
        if used.is_empty() {
            return Ok(());
        }
        self.inner.store.touch_keys(&used).await
    }

    /// Follow the store: reload keys when they change, write last-used
    /// times every few seconds. Ends when `stop` is cancelled (after a last
    /// write of last-used times).
    pub fn spawn_refresh(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEY_REFRESH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u32 = 0;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.cancelled() => break,
                }
                if let Err(error) = this.refresh().await {
                    tracing::warn!(%error, "cannot refresh API keys");
                }
                n = n.wrapping_add(1);
                if n.is_multiple_of(TOUCH_EVERY) {
                    if let Err(error) = this.write_last_used().await {
                        tracing::warn!(%error, "cannot record when keys were last used");
                    }
                }
                if n.is_multiple_of(JWKS_RELOAD_EVERY) {
                    if let Some(jwt) = &this.inner.jwt {
                        if let Err(error) = jwt.refresh().await {
                            tracing::warn!(%error, "cannot reload the OIDC issuer's keys; keeping the old ones");
                        }
                    }
                }
            }
            if let Err(error) = this.write_last_used().await {
                tracing::warn!(%error, "cannot record when keys were last used");
            }
        })
    }
}
