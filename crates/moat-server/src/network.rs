//! The client's address and the allow-list: which proxies may say who the
//! client is (`Forwarded`, `X-Forwarded-For`), and which networks may
//! reach moat at all, checked before anything else looks at a request.

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

/// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed;
/// empty = none (the connection's address is the client's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: ClientAllowList,
}

/// The connection's own peer, when a trusted proxy named another client
/// (for logs); the request's `ConnectInfo` then holds the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The most forwarded hops looked at.
const MAX_HOPS: usize = 64;

impl TrustedProxies {
    /// Parse CIDRs or single addresses, as [`ClientAllowList::parse`].
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        ClientAllowList::parse(entries).map(|networks| Self { networks })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        !self.networks.is_empty() && self.networks.allows(ip)
    }

    /// The client of a request that came from `peer` with `headers`: the
    /// peer itself unless it is a trusted proxy; then the right-most
    /// address in the forwarded chain that is not a trusted proxy (the
    /// entries left of it could be anything the client wrote). `Forwarded`
    /// is read when present, else `X-Forwarded-For`; an entry that is not
    /// an address (`unknown`, an obfuscated name, garbage) ends the walk
    /// at the last proxy that was believed.
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers.get_all(axum::http::header::FORWARDED);
        let hops: Vec<Option<IpAddr>> = if forwarded.iter().next().is_some() {
            forwarded
                .iter()
                .flat_map(|value| value.to_str().unwrap_or("unknown").split(','))
                .map(forwarded_for)
                .collect()
        } else {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|value| value.to_str().unwrap_or("unknown").split(','))
                .map(|entry| address(entry.trim()))
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev().take(MAX_HOPS) {
            let Some(ip) = hop else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// The `for=` address of one `Forwarded` element (RFC 7239).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        address(value.trim().trim_matches('"'))
    })
}

/// An address, possibly with a port (`10.0.0.1:443`, `[::1]:443`) or in
/// brackets (`[::1]`).
fn address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Middleware (`from_fn_with_state(proxies, resolve_client)`), outermost:
/// when the connection comes from a trusted proxy, the request's
/// `ConnectInfo` becomes the client it names (port 0), so the allow-list,
/// authentication failures, logs and the audit record all see the real
/// client; the proxy's own address stays in [`PeerAddr`].
pub async fn resolve_client(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(&ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = proxies.client(peer.ip(), request.headers());
        if client != peer.ip() {
            request.extensions_mut().insert(PeerAddr(peer));
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, 0)));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn forwarded(pairs: &[(&str, &str)]) -> axum::http::HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    axum::http::HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold(axum::http::HeaderMap::new(), |mut map, (name, value)| {
                map.append(name, value);
                map
            })
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_say() {
        let none = TrustedProxies::default();
        let headers = forwarded(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(none.client(ip("10.0.0.9"), &headers), ip("10.0.0.9"));
        let some = proxies(&["10.0.0.0/8"]);
        assert_eq!(some.client(ip("192.168.1.1"), &headers), ip("192.168.1.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        // The client wrote 6.6.6.6 itself; the proxy appended what it saw.
        let headers = forwarded(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.7"));
        let lines = forwarded(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(trusted.client(ip("::1"), &lines), ip("203.0.113.7"));
        // Only proxies: the left-most of them.
        let inner = forwarded(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &inner), ip("10.1.1.1"));
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &axum::http::HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn forwarded_is_preferred_and_parsed() {
        let trusted = proxies(&["127.0.0.1"]);
        let headers = forwarded(&[
            ("x-forwarded-for", "1.1.1.1"),
            (
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8::17]:4711";proto=https;by=127.0.0.1"#,
            ),
        ]);
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &headers),
            ip("2001:db8::17")
        );
        let with_port = forwarded(&[("forwarded", r#"For="198.51.100.9:443""#)]);
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &with_port),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_believed_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for value in [
            "unknown, 10.0.0.5",
            "not-an-ip, 10.0.0.5",
            "1.2.3.4, _hidden, 10.0.0.5",
        ] {
            let headers = forwarded(&[("x-forwarded-for", value)]);
            assert_eq!(
                trusted.client(ip("10.0.0.1"), &headers),
                ip("10.0.0.5"),
                "{value}"
            );
        }
        let empty = forwarded(&[("x-forwarded-for", "")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &empty), ip("10.0.0.1"));
        let forwarded_unknown = forwarded(&[("forwarded", "for=unknown")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &forwarded_unknown),
            ip("10.0.0.1")
        );
    }

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
