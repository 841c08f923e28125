//! Where a tool may connect: the host allow-list (checked on the URL and on
//! every redirect) and the address policy (checked on every resolved address).

use std::net::IpAddr;

use ipnet::IpNet;
use reqwest::Url;

/// One `allow_hosts` entry: `host`, `*.suffix`, either with an optional `:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern {
    /// Lower-case host; IPv6 literals in brackets, as `Url::host_str` gives them.
    host: String,
    /// `*.suffix`: any host strictly under `suffix`.
    wildcard: bool,
    /// `None`: the default port of the URL's scheme.
    port: Option<u16>,
}

impl HostPattern {
    pub(crate) fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim().to_ascii_lowercase();
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{entry}`: unclosed `[`"))?;
            inside
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| format!("`{entry}`: not an IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("`{entry}`: unexpected text after `]`")),
            };
            (format!("[{inside}]"), port)
        } else {
            match entry.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (entry.clone(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("`{entry}`: invalid port `{p}`"))
            })
            .transpose()?;
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix.to_owned()),
            None => (false, host),
        };
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
        let bracketed = name.starts_with('[');
        if name.is_empty() || (!bracketed && !name.chars().all(valid_char)) {
            return Err(format!("`{entry}`: not a host name"));
        }
        Ok(Self {
            host: name,
            wildcard,
            port,
        })
    }

    /// The exact host and port of `url`.
    pub(crate) fn of_url(url: &Url) -> Option<Self> {
        Some(Self {
            host: url.host_str()?.to_ascii_lowercase(),
            wildcard: false,
            port: Some(url.port_or_known_default()?),
        })
    }

    fn matches(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host_ok = if self.wildcard {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.host
        };
        host_ok && self.port.unwrap_or(default_port) == port
    }
}

/// The hosts a tool may reach.
#[derive(Debug, Clone)]
pub(crate) struct HostAllowList(Vec<HostPattern>);

impl HostAllowList {
    pub(crate) fn new(patterns: Vec<HostPattern>) -> Self {
        Self(patterns)
    }

    /// Whether `url` is http(s) with a host and port on the list.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let host = host.to_ascii_lowercase();
        self.0.iter().any(|p| p.matches(&host, port, default_port))
    }
}

/// `host:port` of a URL, for messages.
pub(crate) fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// Which resolved addresses a tool may connect to.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressPolicy {
    /// Empty: any address that is not always refused.
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    pub(crate) fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Link-local (cloud metadata), unspecified, broadcast and multicast are
    /// always refused; otherwise the address must be in `allow` when set.
    /// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    pub(crate) fn allows(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        let always_refused = match address {
            IpAddr::V4(v4) => {
                v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
            }
            IpAddr::V6(v6) => {
                (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.is_unspecified() || v6.is_multicast()
            }
        };
        if always_refused {
            return false;
        }
        self.allow.is_empty()
            || self.allow.iter().any(|net| match (net, address) {
                (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
                (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
                _ => false,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn list(entries: &[&str]) -> HostAllowList {
        HostAllowList::new(
            entries
                .iter()
                .map(|e| HostPattern::parse(e).unwrap())
                .collect(),
        )
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn exact_hosts_and_default_ports() {
        let l = list(&["orders.internal", "Stock.Internal:8080"]);
        assert!(l.allows(&url("http://orders.internal/x")));
        assert!(l.allows(&url("https://ORDERS.internal/x")));
        assert!(!l.allows(&url("http://orders.internal:8080/x")));
        assert!(l.allows(&url("http://stock.internal:8080/x")));
        assert!(!l.allows(&url("http://stock.internal/x")));
        assert!(!l.allows(&url("http://orders.internal.evil.com/x")));
        assert!(!l.allows(&url("ftp://orders.internal/x")));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let l = list(&["*.example.internal:9000"]);
        assert!(l.allows(&url("http://a.example.internal:9000/")));
        assert!(l.allows(&url("http://a.b.example.internal:9000/")));
        assert!(!l.allows(&url("http://example.internal:9000/")));
        assert!(!l.allows(&url("http://aexample.internal:9000/")));
        assert!(!l.allows(&url("http://a.example.internal:9001/")));
    }

    #[test]
    fn ip_literals() {
        let l = list(&["127.0.0.1:8080", "[::1]:8080"]);
        assert!(l.allows(&url("http://127.0.0.1:8080/")));
        assert!(l.allows(&url("http://[::1]:8080/")));
        assert!(!l.allows(&url("http://127.0.0.2:8080/")));
    }

    #[test]
    fn bad_entries() {
        for bad in [
            "",
            "*.",
            "a*b.c",
            "host:port",
            "[::1",
            "[zz]:1",
            "a/b",
            "::1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_policy() {
        let any = AddressPolicy::default();
        for refused in [
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "fe80::1",
            "::",
            "ff02::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!any.allows(refused.parse().unwrap()), "{refused}");
        }
        assert!(any.allows("127.0.0.1".parse().unwrap()));
        assert!(any.allows("10.1.2.3".parse().unwrap()));
        let ten = AddressPolicy::new(vec!["10.0.0.0/8".parse().unwrap()]);
        assert!(ten.allows("10.1.2.3".parse().unwrap()));
        assert!(ten.allows("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!ten.allows("127.0.0.1".parse().unwrap()));
        let link_local_listed = AddressPolicy::new(vec!["169.254.0.0/16".parse().unwrap()]);
        assert!(!link_local_listed.allows("169.254.169.254".parse().unwrap()));
    }
}
