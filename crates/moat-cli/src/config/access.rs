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

/// Where keys and usage live; shared by `serve`, `keys` and `usage`.
#[derive(Debug, Default, Clone, Args)]
pub struct StoreArgs {
    /// The store: a SQLite file or a postgres:// URL. Default: data/moat.db
    #[arg(global = true, long, env = "MOAT_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,
    /// The server secret API keys are hashed with (created on first start,
    /// kept outside the database; every replica needs the same file).
    /// Default: data/moat.secret
    #[arg(global = true, long, env = "MOAT_SECRET_FILE", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

/// The `[store]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFileConfig {
    /// A SQLite file path, or a postgres:// URL.
    pub url: Option<String>,
    /// The server secret file.
    pub secret_file: Option<PathBuf>,
}

/// The `[auth]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFileConfig {
    /// Failed authentications from one address before answers are slowed. Default: 5
    pub slow_after_failures: Option<u32>,
    /// Failed authentications from one address before it is locked out. Default: 20
    pub lock_after_failures: Option<u32>,
    /// Seconds after which failures are forgotten. Default: 600
    pub window_secs: Option<u64>,
    /// Seconds a locked-out address is refused. Default: 300
    pub lockout_secs: Option<u64>,
    /// `[auth.oidc]`: accept bearer tokens from an OpenID Connect provider.
    pub oidc: Option<OidcConfig>,
}

/// The `[tls]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFileConfig {
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

/// The access parts of the file, borrowed.
pub(super) struct FileAccess<'a> {
    pub allow_clients: &'a [String],
    pub cors_origins: &'a [String],
    pub redis_url: Option<&'a str>,
    pub store: &'a StoreFileConfig,
    pub auth: &'a AuthFileConfig,
    pub tls: Option<&'a TlsFileConfig>,
    pub roles: &'a [RoleConfig],
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
}

fn default_store() -> String {
    "data/moat.db".to_owned()
}
fn default_secret_file() -> PathBuf {
    PathBuf::from("data/moat.secret")
}

impl AccessConfig {
    pub(super) fn resolve(args: &StoreArgs, file: &FileAccess<'_>) -> anyhow::Result<Self> {
        let defaults = FailureSettings::default();
        let failures = FailureSettings {
            slow_after_failures: file
                .auth
                .slow_after_failures
                .unwrap_or(defaults.slow_after_failures),
            lock_after_failures: file
                .auth
                .lock_after_failures
                .unwrap_or(defaults.lock_after_failures),
            window_secs: file.auth.window_secs.unwrap_or(defaults.window_secs),
            lockout_secs: file.auth.lockout_secs.unwrap_or(defaults.lockout_secs),
        };
        anyhow::ensure!(
            failures.lock_after_failures >= 1,
            "[auth] lock_after_failures must be at least 1"
        );
        Roles::new(file.roles).map_err(|e| anyhow::anyhow!("[[roles]] {e}"))?;
        let allow_clients = ClientAllowList::parse(file.allow_clients)
            .map_err(|e| anyhow::anyhow!("allow_clients: {e}"))?;
        for origin in file.cors_origins {
            check_origin(origin)?;
        }
        let redis_url = file.redis_url.map(check_redis_url).transpose()?;
        Ok(Self {
            store: args
                .store
                .clone()
                .or_else(|| file.store.url.clone())
                .unwrap_or_else(default_store),
            secret_file: args
                .secret_file
                .clone()
                .or_else(|| file.store.secret_file.clone())
                .unwrap_or_else(default_secret_file),
            roles: file.roles.to_vec(),
            failures,
            oidc: file.auth.oidc.clone(),
            redis_url,
            allow_clients,
            cors_origins: file.cors_origins.to_vec(),
            tls: file.tls.map(|t| TlsSettings {
                cert: t.cert.clone(),
                key: t.key.clone(),
                tls13_only: t.tls13_only,
                client_ca: t.client_ca.clone(),
            }),
        })
    }

    pub fn roles(&self) -> anyhow::Result<Roles> {
        Roles::new(&self.roles).map_err(|e| anyhow::anyhow!("[[roles]] {e}"))
    }
}

/// A `redis://` URL (TLS to Redis is not supported).
pub(super) fn check_redis_url(url: &str) -> anyhow::Result<String> {
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
