//! Web UI sessions: an API key exchanged once for a session cookie, so a
//! browser never keeps the key. A session stands for its key (the key's
//! roles, limits and audit identity), ends when the key is revoked or
//! expires, after [`SessionSettings::idle`] without a request, at
//! [`SessionSettings::lifetime`] after sign-in whatever its activity, and
//! at sign-out. The cookie's token is 256 random bits; the store keeps
//! only its keyed hash. A write made with the cookie must also carry the
//! session's CSRF token, derived from the cookie token under the server
//! secret, which a page of another origin cannot read.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use moat_store::{StoreError, UiSessionRecord};
use subtle::ConstantTimeEq;

use crate::apikey::ServerSecret;
use crate::authn::{AuthFailure, Authenticator};
use crate::jwt::{SingleSignOn, TokenIdentity};
use crate::principal::{Credential, Principal};
use crate::totp::{CodeRefused, SecondFactors};
use crate::Permission;
use moat_store::seal::SealingKey;
use serde::{Deserialize, Serialize};

/// The cookie that carries a session's token.
pub const SESSION_COOKIE: &str = "moat_session";
/// The header a write made with the cookie carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Base64url characters of a token (32 bytes).
const TOKEN_CHARS: usize = 43;
/// Activity is written at most this often per session.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Administrators and auditors sign in with a one-time code from their
    /// key's second factor too (`[ui] admin_second_factor`).
    pub admin_second_factor: bool,
    /// A session with no request for this long has ended.
    pub idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub lifetime: Duration,
}

impl Default for SessionSettings {
    /// 30 minutes idle, 12 hours in all.
    fn default() -> Self {
        Self {
            admin_second_factor: false,
            idle: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A live session, as a request made with its cookie sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Arc<Principal>,
    /// The token a write must carry in [`CSRF_HEADER`].
    pub csrf_token: String,
    /// Its absolute end (ms since the Unix epoch).
    pub expires_ms: i64,
}

/// A session just opened: its cookie token, shown to the browser once.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub session: Session,
}

/// The sessions of one server (and every replica on its store); cheap to
/// clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    authenticator: Authenticator,
    settings: SessionSettings,
    second_factors: SecondFactors,
    single_sign_on: Option<SingleSignOn>,
    /// Seals a single sign-on session's identity in its row.
    identities: SealingKey,
}

/// A single sign-on session's identity, as sealed in its row.
#[derive(Serialize, Deserialize)]
struct SealedIdentity {
    issuer: String,
    subject: String,
    roles: Vec<String>,
}

const IDENTITY_AAD: &[u8] = b"moat.ui.session.identity";

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `token` has the shape of a session token (cheap check before
/// hashing and reading the store).
fn looks_like_token(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Sessions {
    /// Sessions whose keys `authenticator` checks.
    /// Sessions of `authenticator`'s principals; `secret` (the server
    /// secret) seals the keys' second factors and single sign-on
    /// identities, and `single_sign_on` is the provider sign-in, if on.
    pub fn new(
        authenticator: Authenticator,
        settings: SessionSettings,
        secret: &ServerSecret,
        single_sign_on: Option<SingleSignOn>,
    ) -> Self {
        let second_factors = SecondFactors::new(authenticator.store().clone(), secret);
        Self {
            inner: Arc::new(Inner {
                authenticator,
                settings,
                second_factors,
                single_sign_on,
                identities: SealingKey::new(&secret.derive_key("web ui session identity v1")),
            }),
        }
    }

    /// The provider sign-in, when `[auth.oidc] client_id` is set.
    pub fn single_sign_on(&self) -> Option<&SingleSignOn> {
        self.inner.single_sign_on.as_ref()
    }

    /// Open a session for the provider's verified `identity` (a finished
    /// single sign-on). Its roles come from the ID token's claims, as for
    /// a bearer token; the provider's own factors apply, not moat's.
    pub async fn sign_in_identity(&self, identity: TokenIdentity) -> Result<SignedIn, AuthFailure> {
        let sealed = SealedIdentity {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            roles: identity.roles.clone(),
        };
        let json = serde_json::to_vec(&sealed).map_err(|_| AuthFailure::Unavailable)?;
        let sealed = self
            .inner
            .identities
            .seal(IDENTITY_AAD, &json)
            .map_err(|_| AuthFailure::Unavailable)?;
        let principal = self.inner.authenticator.token_principal(identity);
        self.open(principal, Vec::new(), Some(sealed)).await
    }

    /// The keys' second factors (enrollment is the operator's, by CLI).
    pub fn second_factors(&self) -> &SecondFactors {
        &self.inner.second_factors
    }

    /// With `[ui] admin_second_factor`, an administrator's or auditor's
    /// sign-in needs the current one-time code of the key's second factor.
    /// A wrong code counts as a failed authentication; a locked client
    /// address or key is refused before the code is looked at.
    async fn second_factor(
        &self,
        principal: &Principal,
        code: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<(), AuthFailure> {
        let needed = self.inner.settings.admin_second_factor
            && (principal.may(Permission::Admin) || principal.may(Permission::Audit));
        let Credential::ApiKey { id } = &principal.credential else {
            return Ok(());
        };
        if !needed {
            return Ok(());
        }
        let authenticator = &self.inner.authenticator;
        if let Some(locked) = authenticator.second_factor_locked(id, client) {
            return Err(locked);
        }
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return match self.inner.second_factors.enrolled(id).await {
                Ok(true) => Err(AuthFailure::SecondFactorRequired),
                Ok(false) => Err(AuthFailure::SecondFactorNotEnrolled),
                Err(error) => Err(unavailable(error)),
            };
        };
        match self
            .inner
            .second_factors
            .check(id, code, authenticator.now_ms())
            .await
        {
            Ok(()) => Ok(()),
            Err(CodeRefused::NotEnrolled) => Err(AuthFailure::SecondFactorNotEnrolled),
            Err(CodeRefused::Unavailable) => Err(AuthFailure::Unavailable),
            Err(CodeRefused::Invalid) => Err(authenticator.second_factor_failed(id, client).await),
        }
    }

    pub fn settings(&self) -> SessionSettings {
        self.inner.settings
    }

    /// Exchange `api_key` (from `client`) for a session. The key is
    /// checked as any bearer credential is, failures counted against the
    /// address and the key; only API keys sign in here (an OIDC user signs
    /// in through the issuer).
    pub async fn sign_in(
        &self,
        api_key: &str,
        code: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, AuthFailure> {
        let authenticator = &self.inner.authenticator;
        let principal = authenticator.authenticate(Some(api_key), client).await?;
        if !matches!(principal.credential, Credential::ApiKey { .. }) {
            return Err(AuthFailure::Unknown);
        }
        self.second_factor(&principal, code, client).await?;
        let key_hash = authenticator.hasher().hash(api_key.trim()).to_vec();
        self.open(principal, key_hash, None).await
    }

    /// A new session for `principal`: of the key stored as `key_hash`, or
    /// of the sealed single sign-on `identity`.
    async fn open(
        &self,
        principal: Arc<Principal>,
        key_hash: Vec<u8>,
        identity: Option<Vec<u8>>,
    ) -> Result<SignedIn, AuthFailure> {
        let authenticator = &self.inner.authenticator;
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = authenticator.now_ms();
        let expires_ms = now.saturating_add(millis(self.inner.settings.lifetime));
        let record = UiSessionRecord {
            token_hash: self.token_hash(&token).to_vec(),
            key_hash,
            created_ms: now,
            last_seen_ms: now,
            expires_ms,
            identity,
        };
        authenticator
            .store()
            .insert_ui_session(&record)
            .await
            .map_err(unavailable)?;
        let csrf_token = self.csrf_token(&token);
        Ok(SignedIn {
            token,
            session: Session {
                principal,
                csrf_token,
                expires_ms,
            },
        })
    }

    /// The live session of `token`, its activity recorded; an ended one is
    /// deleted and refused.
    pub async fn session(&self, token: &str) -> Result<Session, AuthFailure> {
        if !looks_like_token(token) {
            return Err(AuthFailure::SessionEnded);
        }
        let authenticator = &self.inner.authenticator;
        let store = authenticator.store();
        let hash = self.token_hash(token);
        let record = store
            .ui_session(&hash)
            .await
            .map_err(unavailable)?
            .ok_or(AuthFailure::SessionEnded)?;
        let now = authenticator.now_ms();
        let idle_until = record
            .last_seen_ms
            .saturating_add(millis(self.inner.settings.idle));
        let ended = record.expires_ms <= now || idle_until <= now;
        let principal = if ended {
            Err(AuthFailure::SessionEnded)
        } else if let Some(sealed) = &record.identity {
            self.identity(sealed)
        } else {
            authenticator.key_of_hash(&record.key_hash).await
        };
        let principal = match principal {
            Ok(principal) => principal,
            Err(AuthFailure::Unavailable) => return Err(AuthFailure::Unavailable),
            Err(_) => {
                store.delete_ui_session(&hash).await.map_err(unavailable)?;
                return Err(AuthFailure::SessionEnded);
            }
        };
        if now - record.last_seen_ms >= TOUCH_EVERY_MS {
            store
                .touch_ui_session(&hash, now)
                .await
                .map_err(unavailable)?;
        }
        Ok(Session {
            principal,
            csrf_token: self.csrf_token(token),
            expires_ms: record.expires_ms,
        })
    }

    /// The principal of a single sign-on session's sealed identity.
    fn identity(&self, sealed: &[u8]) -> Result<Arc<Principal>, AuthFailure> {
        let json = self
            .inner
            .identities
            .open(IDENTITY_AAD, sealed)
            .ok_or(AuthFailure::SessionEnded)?;
        let identity: SealedIdentity =
            serde_json::from_slice(&json).map_err(|_| AuthFailure::SessionEnded)?;
        Ok(self.inner.authenticator.token_principal(TokenIdentity {
            issuer: identity.issuer,
            subject: identity.subject,
            roles: identity.roles,
            expires_at: 0,
        }))
    }

    /// End the session of `token`; whether there was one.
    pub async fn sign_out(&self, token: &str) -> Result<bool, AuthFailure> {
        if !looks_like_token(token) {
            return Ok(false);
        }
        let store = self.inner.authenticator.store();
        store
            .delete_ui_session(&self.token_hash(token))
            .await
            .map_err(unavailable)
    }

    /// Whether `presented` is the CSRF token of the session `token`
    /// (compared in constant time).
    pub fn csrf_matches(&self, token: &str, presented: &str) -> bool {
        let expected = self.csrf_token(token);
        expected
            .as_bytes()
            .ct_eq(presented.trim().as_bytes())
            .into()
    }

    /// Delete every ended session; how many.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let authenticator = &self.inner.authenticator;
        let now = authenticator.now_ms();
        let idle_before = now.saturating_sub(millis(self.inner.settings.idle));
        authenticator
            .store()
            .delete_stale_ui_sessions(now, idle_before)
            .await
    }

    fn token_hash(&self, token: &str) -> [u8; 32] {
        self.inner
            .authenticator
            .hasher()
            .hash(&format!("ui-session\0{token}"))
    }

    fn csrf_token(&self, token: &str) -> String {
        let mac = self
            .inner
            .authenticator
            .hasher()
            .hash(&format!("ui-csrf\0{token}"));
        URL_SAFE_NO_PAD.encode(mac)
    }
}

fn unavailable(error: StoreError) -> AuthFailure {
    tracing::error!(%error, "cannot read or write web UI sessions");
    AuthFailure::Unavailable
}
