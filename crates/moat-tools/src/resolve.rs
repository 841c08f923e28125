//! DNS resolution that only hands reqwest addresses the tool may reach, so
//! a host name that resolves to the cloud metadata address (or outside the
//! operator's CIDRs) is never connected to, even after a DNS change.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::allow::AddressPolicy;

/// Every address of `host` was refused by the policy. Travels inside
/// reqwest's error chain and becomes [`crate::ToolError::AddressNotAllowed`].
#[derive(Debug)]
pub(crate) struct AddressRefused {
    pub(crate) host: String,
    pub(crate) address: IpAddr,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolved to {}, which is not allowed",
            self.host, self.address
        )
    }
}

impl std::error::Error for AddressRefused {}

/// The resolver of one tool's HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: AddressPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The port is replaced by reqwest with the URL's port.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|addr| policy.allows(addr.ip()));
            if !refused.is_empty() {
                tracing::debug!(
                    host = %host,
                    refused = refused.len(),
                    allowed = allowed.len(),
                    "tool host resolved to refused addresses"
                );
            }
            match (allowed.is_empty(), refused.first()) {
                (true, Some(first)) => Err(Box::new(AddressRefused {
                    host,
                    address: first.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}
