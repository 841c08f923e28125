//! E-mail addresses: `local@domain.tld`, found from the `@` outwards.

use crate::text::{alnum_at, run_backward, run_forward, unit_at};

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// The address around the `@` (or `＠`) at byte `at`: start, end, value.
pub fn at(bytes: &[u8], at: usize) -> Option<(usize, usize, String)> {
    let sign = unit_at(bytes, at).filter(|u| u.ascii == b'@')?;
    // Local part: back from the @, leading dots dropped.
    let mut start = run_backward(bytes, at, 0, MAX_LOCAL + 1, local_char);
    let mut local = Vec::with_capacity(16);
    let local_end = run_forward(bytes, start, MAX_LOCAL + 1, &mut local, local_char);
    if local_end != at || local.len() > MAX_LOCAL {
        return None;
    }
    while local.first() == Some(&b'.') {
        local.remove(0);
        start += unit_at(bytes, start).map_or(1, |u| u.width);
    }
    if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    // Domain: labels of letters, digits and inner hyphens; a letter TLD.
    let mut domain = Vec::with_capacity(16);
    let domain_start = at + sign.width;
    let mut end = run_forward(bytes, domain_start, MAX_DOMAIN, &mut domain, domain_char);
    while matches!(domain.last(), Some(b'.' | b'-')) {
        domain.pop();
        end = run_backward(bytes, end, domain_start, 1, |_| true);
    }
    if alnum_at(bytes, end) || !valid_domain(&domain) {
        return None;
    }
    let mut value = String::from_utf8(local).ok()?;
    value.push('@');
    value.push_str(std::str::from_utf8(&domain).ok()?);
    Some((start, end, value))
}

fn valid_domain(domain: &[u8]) -> bool {
    let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.iter().all(u8::is_ascii_alphabetic));
    labels.len() >= 2
        && tld_ok
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with(b"-") && !l.ends_with(b"-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Option<&str> {
        let i = text.find('@').or_else(|| text.find('＠'))?;
        at(text.as_bytes(), i).map(|(s, e, _)| &text[s..e])
    }

    #[test]
    fn addresses() {
        assert_eq!(
            email("邮箱zhang.san@example.com谢谢"),
            Some("zhang.san@example.com")
        );
        assert_eq!(
            email("mail 13812345678@163.com."),
            Some("13812345678@163.com")
        );
        assert_eq!(
            email("a+tag@mail.example.co.uk, b"),
            Some("a+tag@mail.example.co.uk")
        );
        assert_eq!(email("见.li@x.cn"), Some("li@x.cn"));
        assert_eq!(email("ｌｉ＠ｘ．ｃｎ"), Some("ｌｉ＠ｘ．ｃｎ"));
    }

    #[test]
    fn near_misses() {
        assert_eq!(email("user@localhost"), None);
        assert_eq!(email("@example.com"), None);
        assert_eq!(email("a..b@example.com"), None);
        assert_eq!(email("a@example.c0m"), None);
        assert_eq!(email("a@-x.com"), None);
        assert_eq!(email("a@x.com中"), Some("a@x.com"));
    }
}
