//! IP addresses: dotted IPv4 (each octet 0-255, no leading zeros) and IPv6
//! (full and `::` forms, parsed by the standard library).

use std::net::Ipv6Addr;

use crate::text::{alnum_at, alnum_before, ascii_at, unit_at, unit_before};
use crate::token::Token;

/// An IPv4 address starting at `token`: its end and normalized value.
pub fn ipv4(bytes: &[u8], token: &Token) -> Option<(usize, String)> {
    if unit_before(bytes, token.start).is_some_and(|u| u.ascii == b'.') {
        return None;
    }
    let mut i = token.start;
    let mut value = String::with_capacity(15);
    for octet in 0..4 {
        if octet > 0 {
            let dot = unit_at(bytes, i).filter(|u| u.ascii == b'.')?;
            i += dot.width;
            value.push('.');
        }
        let mut digits = [0u8; 3];
        let mut n = 0;
        while let Some(u) = unit_at(bytes, i).filter(|u| u.ascii.is_ascii_digit()) {
            *digits.get_mut(n)? = u.ascii;
            n += 1;
            i += u.width;
        }
        let digits = digits.get(..n)?;
        let number: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
        if number > 255 || (n > 1 && digits.first() == Some(&b'0')) {
            return None;
        }
        value.push_str(std::str::from_utf8(digits).ok()?);
    }
    let continues = match unit_at(bytes, i) {
        Some(u) if u.ascii == b'.' => {
            ascii_at(bytes, i + u.width).is_some_and(|b| b.is_ascii_digit())
        }
        Some(u) => u.ascii.is_ascii_alphanumeric(),
        None => false,
    };
    (!continues).then_some((i, value))
}

/// Longest IPv6 address text (`ffff:...:255.255.255.255`).
const MAX_IPV6: usize = 45;

/// An IPv6 address around `token` (ASCII only): its start, end and value.
pub fn ipv6(bytes: &[u8], token: &Token) -> Option<(usize, usize, String)> {
    let hex_or_colon = |b: u8| b.is_ascii_hexdigit() || b == b':';
    let token_text = bytes.get(token.start..token.end)?;
    if !token_text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut start = token.start;
    while start > 0
        && token.start - start < MAX_IPV6
        && bytes.get(start - 1).is_some_and(|&b| hex_or_colon(b))
    {
        start -= 1;
    }
    let mut end = start;
    while end - start < MAX_IPV6
        && bytes
            .get(end)
            .is_some_and(|&b| hex_or_colon(b) || b == b'.')
    {
        end += 1;
    }
    // A word glued in front (`Mac:fe80::1`): the address starts after its colon.
    if alnum_before(bytes, start) {
        start += bytes
            .get(start..token.start)?
            .iter()
            .position(|&b| b == b':')?
            + 1;
    }
    while bytes.get(end - 1) == Some(&b'.') {
        end -= 1;
    }
    if bytes.get(start..end)?.starts_with(b":") && !bytes.get(start..end)?.starts_with(b"::") {
        start += 1;
    }
    if bytes.get(start..end)?.ends_with(b":") && !bytes.get(start..end)?.ends_with(b"::") {
        end -= 1;
    }
    if start > token.start || end < token.end || alnum_at(bytes, end) || alnum_before(bytes, start)
    {
        return None;
    }
    let text = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    text.parse::<Ipv6Addr>().ok()?;
    let groups = text.split(':').filter(|g| !g.is_empty()).count();
    let plausible =
        text.bytes().any(|b| b.is_ascii_digit()) && (!text.contains("::") || groups >= 2);
    plausible.then(|| (start, end, text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Option<String> {
        let at = text.find(|c: char| c.is_ascii_digit() || c == '１')?;
        ipv4(text.as_bytes(), &Token::read(text.as_bytes(), at)).map(|(_, v)| v)
    }

    fn v6(text: &str, at: &str) -> Option<String> {
        let at = text.find(at)?;
        ipv6(text.as_bytes(), &Token::read(text.as_bytes(), at))
            .map(|(s, e, _)| text[s..e].to_owned())
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(v4("地址192.168.1.20。"), Some("192.168.1.20".into()));
        assert_eq!(v4("ip 10.0.0.1."), Some("10.0.0.1".into()));
        assert_eq!(v4("１９２．１６８．０．１"), Some("192.168.0.1".into()));
        assert_eq!(v4("256.1.1.1"), None);
        assert_eq!(v4("1.2.3"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("01.2.3.4"), None);
        assert_eq!(v4("1.2.3.4a"), None);
    }

    #[test]
    fn ipv6_addresses() {
        assert_eq!(
            v6("addr 2001:db8::8a2e:370:7334 ok", "2001"),
            Some("2001:db8::8a2e:370:7334".into())
        );
        assert_eq!(
            v6("addr 2001:db8::8a2e:370:7334 ok", "370"),
            Some("2001:db8::8a2e:370:7334".into())
        );
        assert_eq!(v6("Mac:fe80::1.", "fe80"), Some("fe80::1".into()));
        assert_eq!(
            v6("full 2001:0db8:0000:0000:0000:ff00:0042:8329", "0042"),
            Some("2001:0db8:0000:0000:0000:ff00:0042:8329".into())
        );
        assert_eq!(v6("time 12:30:45", "30"), None);
        assert_eq!(
            v6("loopback ::1", "1"),
            None,
            "one group is too little to be sure"
        );
        assert_eq!(v6("mac 00:1a:2b:3c:4d:5e", "1a"), None);
    }
}
