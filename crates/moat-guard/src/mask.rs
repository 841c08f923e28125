//! Partial masks: enough left to recognise one's own data, not enough to use
//! someone else's (`110105********002X`, `138****5678`, `z***@example.com`).

use crate::kind::Kind;

/// The partial mask of a normalized value of `kind`.
pub fn mask(kind: &Kind, value: &str) -> String {
    match kind {
        Kind::IdCard | Kind::ForeignerId | Kind::BankCard | Kind::Uscc => keep_ends(value, 6, 4),
        Kind::Mobile => keep_ends(value, 3, 4),
        Kind::Landline => match value.split_once('-') {
            Some((area, local)) => format!("{area}-{}", keep_ends(local, 0, 4)),
            None => keep_ends(value, 0, 4),
        },
        Kind::Passport | Kind::HkMacauPermit => keep_ends(value, 1, 3),
        Kind::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => keep_ends(value, 0, 0),
        },
        Kind::Ipv4 => {
            let head: Vec<&str> = value.split('.').take(2).collect();
            format!("{}.*.*", head.join("."))
        }
        Kind::Ipv6 => {
            let head = value.split(':').next().unwrap_or_default();
            format!("{head}:****")
        }
        Kind::VehiclePlate => keep_ends(value, 2, 1),
        Kind::Custom(_) => keep_ends(value, 2, 2),
    }
}

/// `head` chars, a `*` for each char in between, `tail` chars; all stars when
/// the value is too short to keep anything.
fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let count = value.chars().count();
    if count <= head + tail {
        return "*".repeat(count);
    }
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= count - tail {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_documented_ends() {
        assert_eq!(
            mask(&Kind::IdCard, "11010519491231002X"),
            "110105********002X"
        );
        assert_eq!(mask(&Kind::Mobile, "13812345678"), "138****5678");
        assert_eq!(
            mask(&Kind::BankCard, "6222021234567890128"),
            "622202*********0128"
        );
        assert_eq!(
            mask(&Kind::Email, "zhang.san@example.com"),
            "z***@example.com"
        );
        assert_eq!(mask(&Kind::Landline, "010-12345678"), "010-****5678");
        assert_eq!(mask(&Kind::Ipv4, "192.168.1.20"), "192.168.*.*");
        assert_eq!(mask(&Kind::Ipv6, "2001:db8::1"), "2001:****");
        assert_eq!(mask(&Kind::VehiclePlate, "京A12345"), "京A****5");
        assert_eq!(mask(&Kind::Passport, "E12345678"), "E*****678");
        assert_eq!(mask(&Kind::Custom("x".into()), "abc"), "***");
    }
}
