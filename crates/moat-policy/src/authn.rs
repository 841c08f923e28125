//! Authentication (step 2): an `Authorization: Bearer` credential becomes a
//! [`Principal`]. API keys are looked up by their keyed hash in a cache that
//! follows the store (revocations reach every server within a second);
//! OIDC/JWT tokens are verified against the issuer's keys. Failures are
//! counted per client address and per key they were aimed at
//! ([`FailureTracker`]); only failures are ever slowed or refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use moat_store::{ApiKeyRecord, Store};
use tokio_util::sync::CancellationToken;

use crate::apikey::{hashes_equal, hint, looks_like_key, KeyHasher};
use crate::clock::Clock;
use crate::failures::{FailureSource, FailureTracker, Gate};
use crate::jwt::{looks_like_jwt, JwtVerifier, TokenIdentity};
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
    /// The credential failed, and its client address (or the key it was
    /// aimed at) failed too often: answered 429 for a while.
    Locked {
        retry_after_ms: u64,
    },
    /// A web UI session that is unknown, timed out, signed out, or whose
    /// key no longer works.
    SessionEnded,
    /// A web UI sign-in of an administrator or auditor without the
    /// one-time code its key's second factor makes.
    SecondFactorRequired,
    /// A wrong, stale or reused one-time code (counted as a failure).
    SecondFactorInvalid,
    /// The sign-in needs a second factor and the key has none enrolled.
    SecondFactorNotEnrolled,
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
            Self::Locked { .. } => {
                "failed again from a locked address or against a locked key".to_owned()
            }
            Self::SessionEnded => "web UI session ended or unknown".to_owned(),
            Self::SecondFactorRequired => "one-time code needed".to_owned(),
            Self::SecondFactorInvalid => "wrong one-time code".to_owned(),
            Self::SecondFactorNotEnrolled => "no second factor enrolled".to_owned(),
            Self::Unavailable => "key store unavailable".to_owned(),
        }
    }
}

/// The client is told one thing per answer, never which check failed.
impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Locked { .. } => "Too many failed authentication attempts; retry later.",
            Self::Unavailable => moat_protocol::error::UNAVAILABLE_MESSAGE,
            Self::SessionEnded => "Your session has ended; sign in again.",
            Self::SecondFactorRequired => {
                "Administrators and auditors sign in with a one-time code from their \
                 authenticator app too; send it as `code`."
            }
            Self::SecondFactorInvalid => "That one-time code is not valid; use the current one.",
            Self::SecondFactorNotEnrolled => {
                "This key has no second factor; an operator enrolls one with \
                 `moat keys totp KEY_ID`."
            }
            _ => {
                "Incorrect API key provided. Send a valid key or token as \
                 `Authorization: Bearer ...`."
            }
        })
    }
}

impl moat_protocol::ErrorCode for AuthFailure {
    fn error_kind(&self) -> moat_protocol::ErrorKind {
        match self {
            Self::Locked { .. } => moat_protocol::ErrorKind::TooManyAuthFailures,
            Self::Unavailable => moat_protocol::ErrorKind::Unavailable,
            Self::SessionEnded => moat_protocol::ErrorKind::SessionEnded,
            Self::SecondFactorRequired => moat_protocol::ErrorKind::SecondFactorRequired,
            Self::SecondFactorInvalid => moat_protocol::ErrorKind::SecondFactorInvalid,
            Self::SecondFactorNotEnrolled => moat_protocol::ErrorKind::SecondFactorNotEnrolled,
            _ => moat_protocol::ErrorKind::InvalidApiKey,
        }
    }
}

/// A key as the cache holds it.
#[derive(Debug)]
struct CachedKey {
    hash: Vec<u8>,
    hint: String,
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
    /// Key ids by the displayed start of their secret (`moat_AbCd…`): a
    /// wrong secret that starts like a key counts as aimed at that key.
    by_hint: HashMap<String, String>,
}

/// A failed identification and the existing key it was aimed at, if any.
struct Refusal {
    failure: AuthFailure,
    key: Option<String>,
}

impl From<AuthFailure> for Refusal {
    fn from(failure: AuthFailure) -> Self {
        Self { failure, key: None }
    }
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

    /// Authenticate the bearer credential of a request from `client`. A
    /// valid credential is always accepted; a failure is counted against
    /// the client address and the key it was aimed at, and answered slowly
    /// or, when either is locked, with [`AuthFailure::Locked`].
    pub async fn authenticate(
        &self,
        credential: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let now = self.inner.clock.now_ms();
        let refusal = match self.identify(credential, now).await {
            Ok(principal) => return Ok(principal),
            Err(refusal) => refusal,
        };
        if refusal.failure == AuthFailure::Unavailable {
            return Err(AuthFailure::Unavailable);
        }
        let mut gate = Gate::Open;
        if let Some(ip) = client {
            gate = gate.max(self.count_failure(FailureSource::address(ip), now));
        }
        if let Some(key) = refusal.key.clone() {
            gate = gate.max(self.count_failure(FailureSource::Key(key), now));
        }
        let delay = gate.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match gate {
            Gate::Locked { retry_after_ms } => Err(AuthFailure::Locked { retry_after_ms }),
            Gate::Open | Gate::Slow(_) => Err(refusal.failure),
        }
    }

    /// The failure to answer a second-factor check of `key_id` from
    /// `client` with, without checking it: the client address or the key
    /// is locked by earlier failures.
    pub fn second_factor_locked(
        &self,
        key_id: &str,
        client: Option<IpAddr>,
    ) -> Option<AuthFailure> {
        let now = self.inner.clock.now_ms();
        let failures = &self.inner.failures;
        let mut gate = failures.check(&FailureSource::Key(key_id.to_owned()), now);
        if let Some(ip) = client {
            gate = gate.max(failures.check(&FailureSource::address(ip), now));
        }
        match gate {
            Gate::Locked { retry_after_ms } => Some(AuthFailure::Locked { retry_after_ms }),
            Gate::Open | Gate::Slow(_) => None,
        }
    }

    /// A wrong one-time code for `key_id` from `client`: counted as a
    /// failed authentication against both, answered slowly, or locked.
    pub async fn second_factor_failed(&self, key_id: &str, client: Option<IpAddr>) -> AuthFailure {
        let now = self.inner.clock.now_ms();
        let mut gate = self.count_failure(FailureSource::Key(key_id.to_owned()), now);
        if let Some(ip) = client {
            gate = gate.max(self.count_failure(FailureSource::address(ip), now));
        }
        let delay = gate.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match gate {
            Gate::Locked { retry_after_ms } => AuthFailure::Locked { retry_after_ms },
            Gate::Open | Gate::Slow(_) => AuthFailure::SecondFactorInvalid,
        }
    }

    /// The principal a verified token (or a single sign-on) speaks for:
    /// `oidc:SUBJECT`, with the roles its claims name.
    pub fn token_principal(&self, identity: TokenIdentity) -> Arc<Principal> {
        let roles = self.inner.roles.resolve(&identity.roles);
        Arc::new(Principal {
            id: format!("oidc:{}", identity.subject),
            name: identity.subject.clone(),
            credential: Credential::Token {
                issuer: identity.issuer,
                subject: identity.subject,
            },
            roles,
            key_models: None,
        })
    }

    /// A failed single sign-on from `client`: counted against the address
    /// as a failed authentication, answered slowly, or locked.
    pub async fn sign_in_failed(&self, client: Option<IpAddr>) -> Option<AuthFailure> {
        let ip = client?;
        let now = self.inner.clock.now_ms();
        let gate = self.count_failure(FailureSource::address(ip), now);
        let delay = gate.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match gate {
            Gate::Locked { retry_after_ms } => Some(AuthFailure::Locked { retry_after_ms }),
            Gate::Open | Gate::Slow(_) => None,
        }
    }

    /// Count a failure of `source`, saying so when it locks the source.
    fn count_failure(&self, source: FailureSource, now: i64) -> Gate {
        let failures = &self.inner.failures;
        let was_locked = matches!(failures.check(&source, now), Gate::Locked { .. });
        let gate = failures.failed(source.clone(), now);
        if !was_locked && matches!(gate, Gate::Locked { .. }) {
            match source {
                FailureSource::Address(ip) => tracing::warn!(
                    client = %ip,
                    "client address locked after repeated authentication failures"
                ),
                FailureSource::Key(key) => tracing::warn!(
                    %key,
                    "key locked after repeated failed attempts against it; the key itself still works"
                ),
            }
        }
        gate
    }

    async fn identify(
        &self,
        credential: Option<&str>,
        now: i64,
    ) -> Result<Arc<Principal>, Refusal> {
        let credential = credential.map(str::trim).filter(|c| !c.is_empty());
        let Some(credential) = credential else {
            return Err(AuthFailure::Missing.into());
        };
        if looks_like_key(credential) {
            return self.key(credential, now).await;
        }
        match &self.inner.jwt {
            Some(jwt) if looks_like_jwt(credential) => {
                let identity = jwt
                    .verify(credential)
                    .await
                    .map_err(|e| Refusal::from(AuthFailure::Token(e.to_string())))?;
                Ok(self.token_principal(identity))
            }
            _ => Err(AuthFailure::Unknown.into()),
        }
    }

    async fn key(&self, secret: &str, now: i64) -> Result<Arc<Principal>, Refusal> {
        let hash = self.inner.hasher.hash(secret);
        self.key_by_hash(&hash, Some(secret), now).await
    }

    /// The principal of the key stored as `hash`, if it works at `now`;
    /// `secret` (when it is at hand) names the key a wrong one was aimed at.
    async fn key_by_hash(
        &self,
        hash: &[u8],
        secret: Option<&str>,
        now: i64,
    ) -> Result<Arc<Principal>, Refusal> {
        let revision_before = self.revision();
        let cached = self.cached(hash);
        let key = match cached {
            Some(key) => key,
            // Not in the cache: maybe created a moment ago elsewhere.
            None => match self.inner.store.key_by_hash(hash).await {
                Ok(Some(record)) if hashes_equal(&record.hash, hash) => {
                    let key = Arc::new(self.compile(&record));
                    self.insert_unless_reloaded(key.clone(), revision_before);
                    key
                }
                Ok(_) => {
                    return Err(Refusal {
                        failure: AuthFailure::Unknown,
                        key: secret.and_then(|s| self.key_with_hint(&hint(s))),
                    })
                }
                Err(error) => {
                    tracing::error!(%error, "cannot read API keys");
                    return Err(AuthFailure::Unavailable.into());
                }
            },
        };
        let aimed = |failure| Refusal {
            failure,
            key: Some(key.principal.id.clone()),
        };
        if key.revoked {
            return Err(aimed(AuthFailure::Revoked));
        }
        if key.expires_ms.is_some_and(|at| at <= now) {
            return Err(aimed(AuthFailure::Expired));
        }
        if let Ok(mut used) = self.inner.used.lock() {
            used.insert(key.principal.id.clone(), now);
        }
        Ok(key.principal.clone())
    }

    /// The principal of the working key stored as `hash` (a web UI
    /// session's key), or why there is none. Not counted as a failure: the
    /// hash came from the store, not from a caller.
    pub(crate) async fn key_of_hash(&self, hash: &[u8]) -> Result<Arc<Principal>, AuthFailure> {
        let now = self.inner.clock.now_ms();
        self.key_by_hash(hash, None, now)
            .await
            .map_err(|refusal| refusal.failure)
    }

    pub(crate) fn hasher(&self) -> &KeyHasher {
        &self.inner.hasher
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
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

    /// The id of the key whose secret starts like `hint`, if one does.
    fn key_with_hint(&self, hint: &str) -> Option<String> {
        self.inner
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_hint
            .get(hint)
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
        cache
            .by_hint
            .insert(key.hint.clone(), key.principal.id.clone());
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
            hint: record.hint.clone(),
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
            by_hint: HashMap::new(),
        };
        for record in &records {
            let key = Arc::new(self.compile(record));
            fresh
                .by_hint
                .insert(key.hint.clone(), key.principal.id.clone());
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
