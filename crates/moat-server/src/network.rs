//! The client-address allow-list: which networks may reach moat at all,
//! checked before anything else looks at a request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::{IpNet, Ipv4Net};
use moat_protocol::{ApiError, ErrorKind};

use crate::ErrorResponse;

/// Client addresses allowed to reach moat; empty = everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAllowList {
    networks: Vec<IpNet>,
}

impl ClientAllowList {
    /// Parse CIDRs or single addresses ("10.0.0.0/8", "192.168.1.7", "::1",
    /// "fd00::/8"); the error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let networks = entries
            .iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// No entries: every address is allowed.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `ip` may reach moat. IPv4-mapped IPv6 addresses
    /// (`::ffff:10.1.2.3`) match IPv4 entries.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let ip = ip.to_canonical();
        self.networks.iter().any(|network| network.contains(&ip))
    }
}

/// One entry: a network in CIDR notation or a single address. Host bits
/// below the prefix are dropped; IPv4-mapped IPv6 entries become IPv4
/// entries, the form [`ClientAllowList::allows`] compares against.
fn parse_entry(entry: &str) -> Result<IpNet, String> {
    let text = entry.trim();
    let network = if text.contains('/') {
        text.parse::<IpNet>()
            .map_err(|_| format!("invalid client address entry {entry:?}: expected a network like \"10.0.0.0/8\" or \"fd00::/8\""))?
    } else {
        text.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            format!("invalid client address entry {entry:?}: expected an address like \"192.168.1.7\" or \"::1\", or a network like \"10.0.0.0/8\"")
        })?
    };
    Ok(canonical(network.trunc()))
}

/// `::ffff:a.b.c.d/n` with `n >= 96` as the IPv4 network `a.b.c.d/(n-96)`.
fn canonical(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network {
        if let (Some(v4), Some(prefix)) = (
            v6.network().to_ipv4_mapped(),
            v6.prefix_len().checked_sub(96),
        ) {
            if let Ok(v4) = Ipv4Net::new(v4, prefix) {
                return IpNet::V4(v4);
            }
        }
    }
    network
}

/// Middleware (`axum::middleware::from_fn_with_state(list, check_client_address)`)
/// that refuses clients outside the allow-list with 403
/// `address_not_allowed` before anything else runs. The client address comes
/// from `ConnectInfo<SocketAddr>`; without it, a non-empty list refuses.
pub async fn check_client_address(
    State(list): State<Arc<ClientAllowList>>,
    request: Request,
    next: Next,
) -> Response {
    if list.is_empty() {
        return next.run(request).await;
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(client)) if list.allows(client.ip()) => next.run(request).await,
        Some(ConnectInfo(client)) => {
            tracing::info!(client = %client.ip(), "refused: client address not in the allow-list");
            refusal()
        }
        None => {
            tracing::info!("refused: client address unknown and an allow-list is set");
            refusal()
        }
    }
}

fn refusal() -> Response {
    ErrorResponse::from(ApiError::new(
        ErrorKind::AddressNotAllowed,
        "Requests from your address are not allowed.",
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn list(entries: &[&str]) -> ClientAllowList {
        ClientAllowList::parse(entries).unwrap()
    }

    #[test]
    fn parses_networks_and_single_addresses() {
        let parsed = list(&[
            "10.0.0.0/8",
            "192.168.1.7",
            "::1",
            "fd00::/8",
            " 172.16.0.0/12 ",
        ]);
        assert_eq!(parsed.networks.len(), 5);
        assert!(!parsed.is_empty());
        assert_eq!(
            parsed.networks[1],
            "192.168.1.7/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(parsed.networks[2], "::1/128".parse::<IpNet>().unwrap());
    }

    #[test]
    fn host_bits_are_dropped() {
        assert_eq!(list(&["10.1.2.3/8"]), list(&["10.0.0.0/8"]));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0",
            "localhost",
            "",
            "fd00::/129",
            "10.0.0.0/",
            "300.1.1.1",
        ] {
            let error = ClientAllowList::parse(&["127.0.0.1", bad]).unwrap_err();
            assert!(
                error.contains(&format!("{bad:?}")),
                "error for {bad:?} does not name it: {error}"
            );
        }
    }

    #[test]
    fn empty_list_allows_everyone() {
        let empty = ClientAllowList::parse::<&str>(&[]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty, ClientAllowList::default());
        for address in ["8.8.8.8", "127.0.0.1", "::1", "2001:db8::1"] {
            assert!(empty.allows(ip(address)), "{address}");
        }
    }

    #[test]
    fn ipv4_entries_match_ipv4_addresses() {
        let allowed = list(&["10.0.0.0/8", "192.168.1.7"]);
        assert!(allowed.allows(ip("10.0.0.1")));
        assert!(allowed.allows(ip("10.255.255.255")));
        assert!(allowed.allows(ip("192.168.1.7")));
        assert!(!allowed.allows(ip("11.0.0.1")));
        assert!(!allowed.allows(ip("192.168.1.8")));
        assert!(!allowed.allows(ip("::1")));
    }

    #[test]
    fn ipv6_entries_match_ipv6_addresses() {
        let allowed = list(&["fd00::/8", "::1"]);
        assert!(allowed.allows(ip("fd12:3456::1")));
        assert!(allowed.allows(ip("::1")));
        assert!(!allowed.allows(ip("fe80::1")));
        assert!(!allowed.allows(ip("::2")));
        assert!(!allowed.allows(ip("127.0.0.1")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_entries() {
        let allowed = list(&["10.0.0.0/8"]);
        assert!(allowed.allows(ip("::ffff:10.1.2.3")));
        assert!(!allowed.allows(ip("::ffff:11.1.2.3")));
        // Only the mapped form (::ffff:0:0/96) stands for an IPv4 address.
        assert!(!allowed.allows(ip("::10.1.2.3")));
        assert!(!allowed.allows(ip("64:ff9b::10.1.2.3")));
    }

    async fn status_for(list: &[&str], client: Option<&str>) -> axum::http::StatusCode {
        use tower::ServiceExt;

        let router = axum::Router::new()
            .route("/", axum::routing::get(|| async { "hello" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(self::list(list)),
                check_client_address,
            ));
        let mut request = Request::new(axum::body::Body::empty());
        if let Some(client) = client {
            let client: SocketAddr = client.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(client));
        }
        router.oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn middleware_checks_the_connection_address() {
        use axum::http::StatusCode;

        assert_eq!(
            status_for(&["10.0.0.0/8"], Some("10.1.2.3:5000")).await,
            StatusCode::OK
        );
        assert_eq!(
            status_for(&["10.0.0.0/8"], Some("[::ffff:10.1.2.3]:5000")).await,
            StatusCode::OK
        );
        assert_eq!(
            status_for(&["10.0.0.0/8"], Some("11.1.2.3:5000")).await,
            StatusCode::FORBIDDEN
        );
        // Unknown address: refused when a list is set, allowed when not.
        assert_eq!(
            status_for(&["10.0.0.0/8"], None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(status_for(&[], None).await, StatusCode::OK);
        assert_eq!(status_for(&[], Some("8.8.8.8:1")).await, StatusCode::OK);
    }

    #[test]
    fn ipv4_mapped_entries_match_ipv4_addresses() {
        let allowed = list(&["::ffff:10.0.0.0/104", "::ffff:192.168.1.7"]);
        assert_eq!(allowed, list(&["10.0.0.0/8", "192.168.1.7"]));
        assert!(allowed.allows(ip("10.9.8.7")));
        assert!(allowed.allows(ip("::ffff:10.9.8.7")));
        assert!(!allowed.allows(ip("11.0.0.1")));
    }
}
