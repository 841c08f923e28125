//! Access control for tests: a real SQLite store in a temporary directory,
//! the real authenticator and limiter, a clock the test moves, and keys.

use std::sync::Arc;

use moat_audit::{AuditKeys, AuditLog, WriterSettings};
use moat_policy::apikey::{KeyHasher, ServerSecret};
use moat_policy::clock::{Clock, ManualClock};
use moat_policy::failures::{FailureSettings, FailureTracker};
use moat_policy::jwt::JwtVerifier;
use moat_policy::keys::{KeyService, NewKey};
use moat_policy::limit::MemoryCounters;
use moat_policy::totp::SecondFactors;
use moat_policy::usage::UsageRecorder;
use moat_policy::{Authenticator, Limiter, RoleConfig, Roles, SessionSettings, Sessions};
use moat_server::Access;
use moat_store::Store;
use tempfile::TempDir;

/// 2026-11-24T03:30:00Z.
pub const START_MS: i64 = 1_795_491_000_000;

/// Everything a test needs to call the app as someone.
pub struct TestAccess {
    pub access: Access,
    pub clock: ManualClock,
    pub usage: UsageRecorder,
    /// A key with the built-in `admin` role.
    pub admin_key: String,
    pub dir: TempDir,
}

/// Options of [`TestAccess::build`].
#[derive(Default)]
pub struct Setup {
    /// `[[roles]]` tables, as in moat.toml.
    pub roles_toml: String,
    pub failures: Option<FailureSettings>,
    pub jwt: Option<JwtVerifier>,
    /// Web UI session settings (default: [`SessionSettings::default`]).
    pub sessions: Option<SessionSettings>,
}

/// The server secret of every test access, and its second factors over
/// `store`.
pub fn second_factors(store: &Store) -> SecondFactors {
    SecondFactors::new(store.clone(), &ServerSecret::from_bytes([7; 32]))
}

impl TestAccess {
    /// Built-in roles only.
    pub async fn new() -> Self {
        Self::build(Setup::default()).await
    }

    pub async fn build(setup: Setup) -> Self {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            roles: Vec<RoleConfig>,
        }
        let file: File = toml::from_str(&setup.roles_toml).unwrap();
        let roles = Arc::new(Roles::new(&file.roles).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("moat.db").to_str().unwrap())
            .await
            .unwrap();
        let hasher = KeyHasher::new(&ServerSecret::from_bytes([7; 32]));
        let clock = ManualClock::at(START_MS);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let authenticator = Authenticator::new(
            store.clone(),
            hasher.clone(),
            roles.clone(),
            setup.jwt.map(Arc::new),
            FailureTracker::new(setup.failures.unwrap_or_default()),
            shared.clone(),
        );
        let (usage, _task) = UsageRecorder::spawn(store.clone());
        let limiter = Limiter::new(
            Arc::new(MemoryCounters::new()),
            shared,
            Some(usage.clone()),
            Some(store.clone()),
        );
        let keys = KeyService::new(store.clone(), hasher, roles);
        // The real audit log on the same store: every in-process request
        // goes through the audit step.
        let audit_log = AuditLog::open(store.clone(), AuditKeys::from_bytes([3; 32], [4; 32]))
            .await
            .unwrap();
        let audit = audit_log.writer(WriterSettings::default());
        let access = Access {
            sessions: Sessions::new(
                authenticator.clone(),
                setup.sessions.unwrap_or_default(),
                &ServerSecret::from_bytes([7; 32]),
                None,
            ),
            authenticator,
            limiter,
            keys,
            store,
            audit: Some(audit),
            audit_log: Some(audit_log),
        };
        let mut this = Self {
            access,
            clock,
            usage,
            admin_key: String::new(),
            dir,
        };
        this.admin_key = this.key("admin", &["admin"], None).await;
        this
    }

    /// A new key with `roles` (and a key-level model list).
    pub async fn key(&self, name: &str, roles: &[&str], models: Option<&[&str]>) -> String {
        self.access
            .keys
            .create(
                NewKey {
                    name: name.to_owned(),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    models: models.map(|m| m.iter().map(|s| (*s).to_owned()).collect()),
                    expires_in: None,
                },
                self.clock.now_ms(),
            )
            .await
            .unwrap()
            .secret
    }
}

/// The server restarted on the same data directory: a new store connection,
/// new in-memory counters (seeded from the store's usage), the same roles,
/// server secret and clock.
pub struct Restarted {
    pub access: Access,
    pub usage: UsageRecorder,
}

impl TestAccess {
    /// The same store and roles as after a restart of the server.
    pub async fn restart(&self) -> Restarted {
        let store = Store::open(self.dir.path().join("moat.db").to_str().unwrap())
            .await
            .unwrap();
        // The server secret of `build`.
        let hasher = KeyHasher::new(&ServerSecret::from_bytes([7; 32]));
        let roles = self.access.authenticator.roles().clone();
        let shared: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let authenticator = Authenticator::new(
            store.clone(),
            hasher.clone(),
            roles.clone(),
            None,
            FailureTracker::new(FailureSettings::default()),
            shared.clone(),
        );
        authenticator.refresh().await.unwrap();
        let (usage, _task) = UsageRecorder::spawn(store.clone());
        let limiter = Limiter::new(
            Arc::new(MemoryCounters::new()),
            shared,
            Some(usage.clone()),
            Some(store.clone()),
        );
        let keys = KeyService::new(store.clone(), hasher, roles);
        Restarted {
            access: Access {
                sessions: Sessions::new(
                    authenticator.clone(),
                    SessionSettings::default(),
                    &ServerSecret::from_bytes([7; 32]),
                    None,
                ),
                authenticator,
                limiter,
                keys,
                store,
                audit: None,
                audit_log: None,
            },
            usage,
        }
    }

    /// A key stored with `roles` as they are, unchecked: as if the roles
    /// had been removed from the configuration after the key was made.
    /// Returns the secret.
    pub async fn key_with_stored_roles(&self, name: &str, roles: &[&str]) -> String {
        let hasher = KeyHasher::new(&ServerSecret::from_bytes([7; 32]));
        let secret = moat_policy::apikey::new_secret();
        let now = self.clock.now_ms();
        self.access
            .store
            .insert_key(&moat_store::ApiKeyRecord {
                id: moat_policy::apikey::new_key_id(),
                name: name.to_owned(),
                hint: moat_policy::apikey::hint(&secret),
                hash: hasher.hash(&secret).to_vec(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                models: None,
                created_ms: now,
                expires_ms: None,
                revoked_ms: None,
                last_used_ms: None,
                updated_ms: now,
            })
            .await
            .unwrap();
        secret
    }

    /// The id of the key named `name`.
    pub async fn key_id(&self, name: &str) -> String {
        self.access
            .keys
            .list()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("no key named {name}"))
            .id
    }
}
