//! The access-control part of the configuration: the store, the server
//! secret, roles, authentication (brute-force thresholds, OIDC), Redis,
//! the client allow-list, CORS and TLS.

use std::path::PathBuf;

use clap::Args;
use moat_policy::failures::FailureSettings;
use moat_policy::jwt::OidcConfig;
use moat_policy::{RoleConfig, Roles};
use moat_server::tls::TlsSettings;
use moat_server::ClientAllowList;
use serde::Deserialize;

use super::Options;

/// The `[store]` table: where keys and usage live; its flags are shared by
/// `serve`, `keys`, `usage` and `audit`.
#[derive(Debug, Clone, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreOptions {
    /// The store: a SQLite file or a postgres:// URL.
    #[arg(
        global = true,
        long = "store",
        env = "MOAT_STORE",
        value_name = "PATH|URL",
        default_value_t = default_store()
    )]
    pub url: String,
    /// The server secret API keys are hashed with (created on first start,
    /// kept outside the database; every replica needs the same file).
    #[arg(
        global = true,
        long,
        env = "MOAT_SECRET_FILE",
        value_name = "FILE",
        default_value_os_t = default_secret_file()
    )]
    pub secret_file: PathBuf,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            url: default_store(),
            secret_file: default_secret_file(),
        }
    }
}

/// The `[auth]` table; its defaults are [`FailureSettings`]'.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthOptions {
    /// Failed authentications from one address before answers are slowed.
    pub slow_after_failures: u32,
    /// Failed authentications from one address before it is locked out.
    pub lock_after_failures: u32,
    /// Seconds after which failures are forgotten.
    pub window_secs: u64,
    /// Seconds a locked-out address is refused.
    pub lockout_secs: u64,
    /// `[auth.oidc]`: accept bearer tokens from an OpenID Connect provider.
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthOptions {
    fn default() -> Self {
        let failures = FailureSettings::default();
        Self {
            slow_after_failures: failures.slow_after_failures,
            lock_after_failures: failures.lock_after_failures,
            window_secs: failures.window_secs,
            lockout_secs: failures.lockout_secs,
            oidc: None,
        }
    }
}

/// The brute-force thresholds, checked.
impl TryFrom<&AuthOptions> for FailureSettings {
    type Error = anyhow::Error;

    fn try_from(auth: &AuthOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(
            auth.lock_after_failures >= 1,
            "[auth] lock_after_failures must be at least 1"
        );
        Ok(Self {
            slow_after_failures: auth.slow_after_failures,
            lock_after_failures: auth.lock_after_failures,
            window_secs: auth.window_secs,
            lockout_secs: auth.lockout_secs,
        })
    }
}

/// The `[tls]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Refuse TLS 1.2. Default: false
    #[serde(default)]
    pub tls13_only: bool,
    /// Require client certificates signed by this PEM CA (mTLS).
    pub client_ca: Option<PathBuf>,
}

impl From<&TlsOptions> for TlsSettings {
    fn from(t: &TlsOptions) -> Self {
        Self {
            cert: t.cert.clone(),
            key: t.key.clone(),
            tls13_only: t.tls13_only,
            client_ca: t.client_ca.clone(),
        }
    }
}

/// The resolved, checked access configuration.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    pub store: String,
    pub secret_file: PathBuf,
    pub roles: Vec<RoleConfig>,
    pub failures: FailureSettings,
    pub oidc: Option<OidcConfig>,
    pub redis_url: Option<String>,
    pub allow_clients: ClientAllowList,
    pub cors_origins: Vec<String>,
    pub tls: Option<TlsSettings>,
    pub sessions: moat_policy::SessionSettings,
}

fn default_store() -> String {
    "data/moat.db".to_owned()
}
fn default_secret_file() -> PathBuf {
    PathBuf::from("data/moat.secret")
}

impl AccessConfig {
    /// The access parts of `options`, checked.
    pub fn resolve(options: &Options) -> anyhow::Result<Self> {
        let failures = FailureSettings::try_from(&options.auth)?;
        Roles::new(&options.roles).map_err(|e| anyhow::anyhow!("[[roles]] {e}"))?;
        let allow_clients = ClientAllowList::parse(&options.allow_clients)
            .map_err(|e| anyhow::anyhow!("allow_clients: {e}"))?;
        for origin in &options.cors_origins {
            check_origin(origin)?;
        }
        let redis_url = options
            .redis_url
            .as_deref()
            .map(check_redis_url)
            .transpose()?;
        Ok(Self {
            store: options.store.url.clone(),
            secret_file: options.store.secret_file.clone(),
            roles: options.roles.clone(),
            failures,
            oidc: options.auth.oidc.clone(),
            redis_url,
            allow_clients,
            cors_origins: options.cors_origins.clone(),
            tls: options.tls.as_ref().map(TlsSettings::from),
            sessions: options.ui.sessions()?,
        })
    }

    pub fn roles(&self) -> anyhow::Result<Roles> {
        Roles::new(&self.roles).map_err(|e| anyhow::anyhow!("[[roles]] {e}"))
    }
}

/// A `redis://` URL (TLS to Redis is not supported).
fn check_redis_url(url: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        url.starts_with("redis://"),
        "redis_url must start with redis:// (TLS to Redis is not supported yet)"
    );
    Ok(url.to_owned())
}

/// An explicit origin: scheme, host, optional port; never `*`.
fn check_origin(origin: &str) -> anyhow::Result<()> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.contains('/')
            && !r.contains('*')
            && r.chars().all(|c| c.is_ascii_graphic())
    });
    anyhow::ensure!(
        ok,
        "cors_origins: `{origin}` is not an origin; write each one in full, like \
         https://app.example.com (wildcards are not accepted)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origins_are_explicit() {
        assert!(check_origin("https://app.example.com").is_ok());
        assert!(check_origin("http://localhost:3000").is_ok());
        assert!(check_origin("*").is_err());
        assert!(check_origin("https://*.example.com").is_err());
        assert!(check_origin("https://a.example.com/path").is_err());
        assert!(check_origin("app.example.com").is_err());
    }
}
