//! The client-connection part of the configuration: the `[connections]`
//! table (timeouts, caps per client address and in all) and
//! `trusted_proxies`, each also a flag and a `MOAT_*` variable.

use std::time::Duration;

use clap::Args;
use moat_server::{ConnectionLimits, TrustedProxies};
use serde::Deserialize;

/// Flags (and environment) of `moat serve` for client connections.
#[derive(Debug, Default, Clone, Args)]
pub struct NetworkArgs {
    /// Seconds a client has to send a request head (and to finish a TLS
    /// handshake). Default: 10
    #[arg(long, env = "MOAT_HEADER_TIMEOUT_SECS", value_name = "SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a client has to send a whole request body. Default: 60
    #[arg(long, env = "MOAT_BODY_TIMEOUT_SECS", value_name = "SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Seconds a connection may wait idle for its next request, or leave a
    /// response unread. Default: 60
    #[arg(long, env = "MOAT_IDLE_TIMEOUT_SECS", value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Open connections per client address (IPv6: per /64). Default: 64
    #[arg(long, env = "MOAT_MAX_CONNECTIONS_PER_CLIENT", value_name = "N")]
    pub max_connections_per_client: Option<usize>,
    /// Open connections in all. Default: 1024
    #[arg(long, env = "MOAT_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Proxies (addresses or CIDRs) whose Forwarded / X-Forwarded-For
    /// headers name the client. Default: none
    #[arg(
        long,
        env = "MOAT_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
}

/// The `[connections]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsFileConfig {
    /// Seconds to send a request head (and to finish a TLS handshake). Default: 10
    pub header_timeout_secs: Option<u64>,
    /// Seconds to send a whole request body. Default: 60
    pub body_timeout_secs: Option<u64>,
    /// Seconds a connection may wait for its next request, or leave a
    /// response unread. Default: 60
    pub idle_timeout_secs: Option<u64>,
    /// Open connections per client address (IPv6: per /64). Default: 64
    pub max_per_client: Option<usize>,
    /// Open connections in all. Default: 1024
    pub max_total: Option<usize>,
}

/// The resolved client-connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub connections: ConnectionLimits,
    pub trusted_proxies: TrustedProxies,
}

/// Flags over the file, checked: timeouts of 1 s to 1 day, caps of at
/// least 1, the per-client cap not above the total.
pub(super) fn resolve(
    args: &NetworkArgs,
    file: &ConnectionsFileConfig,
    trusted_proxies: &[String],
) -> anyhow::Result<NetworkConfig> {
    let defaults = ConnectionLimits::default();
    let timeout = |name: &str, flag: Option<u64>, file: Option<u64>, default: Duration| {
        let Some(secs) = flag.or(file) else {
            return Ok(default);
        };
        anyhow::ensure!(
            (1..=86_400).contains(&secs),
            "[connections] {name} must be between 1 and 86400 seconds, not {secs}"
        );
        Ok(Duration::from_secs(secs))
    };
    let connections = ConnectionLimits {
        header_timeout: timeout(
            "header_timeout_secs",
            args.header_timeout_secs,
            file.header_timeout_secs,
            defaults.header_timeout,
        )?,
        body_timeout: timeout(
            "body_timeout_secs",
            args.body_timeout_secs,
            file.body_timeout_secs,
            defaults.body_timeout,
        )?,
        idle_timeout: timeout(
            "idle_timeout_secs",
            args.idle_timeout_secs,
            file.idle_timeout_secs,
            defaults.idle_timeout,
        )?,
        max_per_client: args
            .max_connections_per_client
            .or(file.max_per_client)
            .unwrap_or(defaults.max_per_client),
        max_total: args
            .max_connections
            .or(file.max_total)
            .unwrap_or(defaults.max_total),
    };
    anyhow::ensure!(
        connections.max_per_client >= 1 && connections.max_total >= 1,
        "[connections] max_per_client and max_total must be at least 1"
    );
    anyhow::ensure!(
        connections.max_per_client <= connections.max_total,
        "[connections] max_per_client ({}) is above max_total ({})",
        connections.max_per_client,
        connections.max_total
    );
    let proxies = if args.trusted_proxies.is_empty() {
        trusted_proxies
    } else {
        &args.trusted_proxies
    };
    let trusted_proxies =
        TrustedProxies::parse(proxies).map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
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
    fn defaults_flags_and_file() {
        let none = resolve(
            &NetworkArgs::default(),
            &ConnectionsFileConfig::default(),
            &[],
        )
        .unwrap();
        assert_eq!(none.connections, ConnectionLimits::default());
        assert_eq!(none.trusted_proxies, TrustedProxies::default());
        let file = ConnectionsFileConfig {
            header_timeout_secs: Some(3),
            max_per_client: Some(8),
            ..ConnectionsFileConfig::default()
        };
        let args = NetworkArgs {
            header_timeout_secs: Some(2),
            trusted_proxies: vec!["10.0.0.0/8".to_owned()],
            ..NetworkArgs::default()
        };
        let both = resolve(&args, &file, &["127.0.0.1".to_owned()]).unwrap();
        assert_eq!(both.connections.header_timeout, Duration::from_secs(2));
        assert_eq!(both.connections.max_per_client, 8);
        assert_eq!(
            both.trusted_proxies,
            TrustedProxies::parse(&["10.0.0.0/8"]).unwrap()
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = |args: NetworkArgs, proxies: &[String]| {
            resolve(&args, &ConnectionsFileConfig::default(), proxies)
                .unwrap_err()
                .to_string()
        };
        let e = err(
            NetworkArgs {
                body_timeout_secs: Some(0),
                ..NetworkArgs::default()
            },
            &[],
        );
        assert!(e.contains("body_timeout_secs"), "{e}");
        let e = err(
            NetworkArgs {
                max_connections_per_client: Some(10),
                max_connections: Some(5),
                ..NetworkArgs::default()
            },
            &[],
        );
        assert!(e.contains("max_per_client"), "{e}");
        let e = err(NetworkArgs::default(), &["10.0.0.0/33".to_owned()]);
        assert!(
            e.contains("trusted_proxies") && e.contains("10.0.0.0/33"),
            "{e}"
        );
    }
}
