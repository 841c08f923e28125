//! Opening the store and building access control from the configuration:
//! shared by `moat serve`, `moat keys` and `moat usage`.

use std::sync::Arc;

use moat_policy::apikey::{KeyHasher, ServerSecret};
use moat_policy::clock::{Clock, SystemClock};
use moat_policy::failures::FailureTracker;
use moat_policy::jwt::JwtVerifier;
use moat_policy::jwt::SingleSignOn;
use moat_policy::keys::{KeyService, NewKey};
use moat_policy::limit::{Counters, MemoryCounters, RedisCounters};
use moat_policy::usage::UsageRecorder;
use moat_policy::{Authenticator, Limiter, Roles, Sessions};
use moat_server::Access;
use moat_store::Store;

use crate::config::AccessConfig;
use crate::output::say;

/// The store, the key hasher and the roles: what key administration needs.
pub struct KeyAdmin {
    pub store: Store,
    pub hasher: KeyHasher,
    pub roles: Arc<Roles>,
    /// Seals tool calls parked for confirmation in the store; derived from
    /// the server secret, so every replica has the same one.
    pub parking_key: [u8; 32],
    /// The server secret, for what else is sealed under keys derived from
    /// it (second factors, web UI sign-ins).
    pub secret: Arc<ServerSecret>,
}

impl KeyAdmin {
    /// Open the store (created on first use) and the server secret (created
    /// with it; refused when keys exist but the secret file is gone).
    pub async fn open(config: &AccessConfig) -> anyhow::Result<Self> {
        let roles = Arc::new(config.roles()?);
        let store = Store::open(&config.store).await?;
        let has_keys = !store.keys().await?.is_empty();
        let secret = ServerSecret::load_or_create(&config.secret_file, !has_keys)?;
        Ok(Self {
            hasher: KeyHasher::new(&secret),
            roles,
            parking_key: secret.derive_key("tool confirmations"),
            store,
            secret: Arc::new(secret),
        })
    }

    /// The keys' second factors for web UI sign-in.
    pub fn second_factors(&self) -> moat_policy::totp::SecondFactors {
        moat_policy::totp::SecondFactors::new(self.store.clone(), &self.secret)
    }

    pub fn service(&self) -> KeyService {
        KeyService::new(self.store.clone(), self.hasher.clone(), self.roles.clone())
    }
}

/// Access control for `moat serve`, and the background tasks it runs.
pub struct ServingAccess {
    pub access: Access,
    pub usage: UsageRecorder,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn build(
    config: &AccessConfig,
    admin: KeyAdmin,
    audit_log: moat_audit::AuditLog,
    audit: moat_audit::AuditWriter,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<ServingAccess> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let jwt = match &config.oidc {
        Some(oidc) => {
            let verifier = JwtVerifier::new(oidc.clone())
                .await
                .map_err(|e| anyhow::anyhow!("[auth.oidc] {e}"))?;
            tracing::info!(issuer = %oidc.issuer, "accepting OIDC bearer tokens");
            Some(Arc::new(verifier))
        }
        None => None,
    };
    let single_sign_on = match (&config.oidc, &jwt) {
        (Some(oidc), Some(verifier)) => {
            let sso = SingleSignOn::new(oidc, verifier.clone(), &admin.secret)
                .await
                .map_err(|e| anyhow::anyhow!("[auth.oidc] {e}"))?;
            if sso.is_some() {
                tracing::info!(issuer = %oidc.issuer, "web UI single sign-on on");
            }
            sso
        }
        _ => None,
    };
    let (counters, seed_from): (Arc<dyn Counters>, Option<Store>) = match &config.redis_url {
        Some(url) => {
            let redis = RedisCounters::connect(url, "moat:")
                .await
                .map_err(|e| anyhow::anyhow!("redis_url: {e}"))?;
            tracing::info!("rate-limit counters in Redis");
            (Arc::new(redis), None)
        }
        None => (Arc::new(MemoryCounters::new()), Some(admin.store.clone())),
    };
    let (usage, usage_task) = UsageRecorder::spawn(admin.store.clone());
    let authenticator = Authenticator::new(
        admin.store.clone(),
        admin.hasher.clone(),
        admin.roles.clone(),
        jwt,
        FailureTracker::new(config.failures),
        clock.clone(),
    );
    authenticator.refresh().await?;
    let refresh_task = authenticator.spawn_refresh(stop);
    let limiter = Limiter::new(counters, clock, Some(usage.clone()), seed_from);
    let access = Access {
        sessions: Sessions::new(
            authenticator.clone(),
            config.sessions,
            &admin.secret,
            single_sign_on,
        ),
        authenticator,
        limiter,
        keys: admin.service(),
        store: admin.store,
        audit: Some(audit),
        audit_log: Some(audit_log),
    };
    Ok(ServingAccess {
        access,
        usage,
        tasks: vec![usage_task, refresh_task],
    })
}

/// On first start (no usable admin key), create one and print it once.
/// The key goes to stdout only, never to the logs.
pub async fn ensure_admin_key(admin: &KeyAdmin) -> anyhow::Result<()> {
    let now = SystemClock.now_ms();
    if admin.store.active_admin_exists(now).await? {
        return Ok(());
    }
    let issued = admin
        .service()
        .create(
            NewKey {
                name: "admin".to_owned(),
                roles: vec!["admin".to_owned()],
                models: None,
                expires_in: None,
            },
            now,
        )
        .await?;
    tracing::info!(key = %issued.record.id, "created the first admin key");
    say(&format!(
        "moat created the first admin key ({}); it is shown only this once, store it now:\n  {}",
        issued.record.id, issued.secret
    ));
    Ok(())
}
