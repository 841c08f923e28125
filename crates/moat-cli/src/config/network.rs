//! The client-connection part of the configuration: the `[connections]`
//! table (timeouts, caps per client address and in all) and
//! `trusted_proxies`, each also a flag and a `MOAT_*` variable.

use std::time::Duration;

use clap::Args;
use moat_server::{ConnectionLimits, TrustedProxies};
use serde::Deserialize;

use super::Options;

/// The `[connections]` table; its defaults are [`ConnectionLimits`]'.
#[derive(Debug, Clone, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionOptions {
    /// Seconds a client has to send a request head (and to finish a TLS
    /// handshake).
    #[arg(
        long,
        env = "MOAT_HEADER_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = default_header_timeout_secs()
    )]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a whole request body.
    #[arg(
        long,
        env = "MOAT_BODY_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = default_body_timeout_secs()
    )]
    pub body_timeout_secs: u64,
    /// Seconds a connection may wait idle for its next request, or leave a
    /// response unread.
    #[arg(
        long,
        env = "MOAT_IDLE_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = default_idle_timeout_secs()
    )]
    pub idle_timeout_secs: u64,
    /// Open connections per client address (IPv6: per /64).
    #[arg(
        long = "max-connections-per-client",
        env = "MOAT_MAX_CONNECTIONS_PER_CLIENT",
        value_name = "N",
        default_value_t = ConnectionLimits::DEFAULT_MAX_PER_CLIENT
    )]
    pub max_per_client: usize,
    /// Open connections in all.
    #[arg(
        long = "max-connections",
        env = "MOAT_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = ConnectionLimits::DEFAULT_MAX_TOTAL
    )]
    pub max_total: usize,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            header_timeout_secs: default_header_timeout_secs(),
            body_timeout_secs: default_body_timeout_secs(),
            idle_timeout_secs: default_idle_timeout_secs(),
            max_per_client: ConnectionLimits::DEFAULT_MAX_PER_CLIENT,
            max_total: ConnectionLimits::DEFAULT_MAX_TOTAL,
        }
    }
}

const fn default_header_timeout_secs() -> u64 {
    ConnectionLimits::DEFAULT_HEADER_TIMEOUT.as_secs()
}
const fn default_body_timeout_secs() -> u64 {
    ConnectionLimits::DEFAULT_BODY_TIMEOUT.as_secs()
}
const fn default_idle_timeout_secs() -> u64 {
    ConnectionLimits::DEFAULT_IDLE_TIMEOUT.as_secs()
}

/// The resolved client-connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub connections: ConnectionLimits,
    pub trusted_proxies: TrustedProxies,
}

/// Checked: timeouts of 1 s to 1 day, caps of at least 1, the per-client
/// cap not above the total.
impl TryFrom<&ConnectionOptions> for ConnectionLimits {
    type Error = anyhow::Error;

    fn try_from(options: &ConnectionOptions) -> anyhow::Result<Self> {
        let timeout = |name: &str, secs: u64| {
            anyhow::ensure!(
                (1..=86_400).contains(&secs),
                "[connections] {name} must be between 1 and 86400 seconds, not {secs}"
            );
            Ok(Duration::from_secs(secs))
        };
        let limits = Self {
            header_timeout: timeout("header_timeout_secs", options.header_timeout_secs)?,
            body_timeout: timeout("body_timeout_secs", options.body_timeout_secs)?,
            idle_timeout: timeout("idle_timeout_secs", options.idle_timeout_secs)?,
            max_per_client: options.max_per_client,
            max_total: options.max_total,
        };
        anyhow::ensure!(
            limits.max_per_client >= 1 && limits.max_total >= 1,
            "[connections] max_per_client and max_total must be at least 1"
        );
        anyhow::ensure!(
            limits.max_per_client <= limits.max_total,
            "[connections] max_per_client ({}) is above max_total ({})",
            limits.max_per_client,
            limits.max_total
        );
        Ok(limits)
    }
}

/// `[connections]` and `trusted_proxies`, checked.
pub(super) fn resolve(options: &Options) -> anyhow::Result<NetworkConfig> {
    let connections = ConnectionLimits::try_from(&options.connections)?;
    let trusted_proxies = TrustedProxies::parse(&options.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
    Ok(NetworkConfig {
        connections,
        trusted_proxies,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_settings() {
        let none = resolve(&Options::default()).unwrap();
        assert_eq!(none.connections, ConnectionLimits::default());
        assert_eq!(none.trusted_proxies, TrustedProxies::default());
        let options = Options {
            connections: ConnectionOptions {
                header_timeout_secs: 2,
                max_per_client: 8,
                ..ConnectionOptions::default()
            },
            trusted_proxies: vec!["10.0.0.0/8".to_owned()],
            ..Options::default()
        };
        let both = resolve(&options).unwrap();
        assert_eq!(both.connections.header_timeout, Duration::from_secs(2));
        assert_eq!(both.connections.max_per_client, 8);
        assert_eq!(
            both.trusted_proxies,
            TrustedProxies::parse(&["10.0.0.0/8"]).unwrap()
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = |connections: ConnectionOptions, proxies: &[&str]| {
            let options = Options {
                connections,
                trusted_proxies: proxies.iter().map(|p| (*p).to_owned()).collect(),
                ..Options::default()
            };
            resolve(&options).unwrap_err().to_string()
        };
        let e = err(
            ConnectionOptions {
                body_timeout_secs: 0,
                ..ConnectionOptions::default()
            },
            &[],
        );
        assert!(e.contains("body_timeout_secs"), "{e}");
        let e = err(
            ConnectionOptions {
                max_per_client: 10,
                max_total: 5,
                ..ConnectionOptions::default()
            },
            &[],
        );
        assert!(e.contains("max_per_client"), "{e}");
        let e = err(ConnectionOptions::default(), &["10.0.0.0/33"]);
        assert!(
            e.contains("trusted_proxies") && e.contains("10.0.0.0/33"),
            "{e}"
        );
    }
}
